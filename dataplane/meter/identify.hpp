// How the flow table asks for a flow's application: a plain function and its context, so the
// metering core builds and is tested without Hyperscan (dataplane/appid gives the real one).
#pragma once

#include <cstdint>

#include "sluice/config.hpp"

namespace sluice::meter {

// What the flow says about a payload: which side sent it, and how sure the table is of that.
struct Payload {
    const std::uint8_t* data;
    std::uint32_t length;
    std::uint8_t protocol;
    bool from_client;  // sent by the initiator
    bool roles_known;  // TCP with its SYN seen: "client" and "server" patterns apply as written
    std::uint16_t ports[2];  // the packet's source and destination ports, for hints
};

// Set at start; `classify` returns the application the payload identifies, or 0.
struct Identification {
    using Classify = std::uint32_t (*)(const void* context, const Payload& payload);
    Classify classify = nullptr;  // null: identification off
    const void* context = nullptr;
    std::uint32_t bytes = config::Applications{}.bytes;  // scanned of each payload
    // Payload packets scanned per direction; a nibble of FlowHot::scanned counts them.
    std::uint8_t packets = config::Applications{}.packets;
};

}  // namespace sluice::meter
