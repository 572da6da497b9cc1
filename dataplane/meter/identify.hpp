// How the flow table asks for a flow's application and its metadata: plain functions and their
// context, so the metering core builds and is tested without Hyperscan or OpenSSL
// (dataplane/appid and dataplane/l7 give the real ones).
#pragma once

#include <cstdint>

#include "sluice/config.hpp"
#include "sluice/counters.hpp"
#include "sluice/metadata.hpp"
#include "sluice/record.hpp"

namespace sluice::meter {

// What the flow says about a payload: which side sent it, and how sure the table is of that.
struct Payload {
    const std::uint8_t* data;
    std::uint32_t length;
    std::uint8_t protocol;
    bool from_client;  // sent by the initiator
    bool roles_known;  // TCP with its SYN seen: "client" and "server" patterns apply as written
    std::uint16_t ports[2];         // the packet's source and destination ports, for hints
    std::uint32_t wire_length = 0;  // of the whole payload, of which `length` bytes are here
    std::uint32_t tcp_seq = 0;      // of its first byte
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

// Set at start; off when `inspect` is null. A flow's metadata lives in a slot of the
// extractor's, numbered from 1 (0: none), which the flow table keeps for it.
struct MetadataHook {
    // One of the first payloads of a flow (within Identification::packets per direction):
    // true once the flow needs no more of them.
    using Inspect = bool (*)(void* context, std::uint32_t& slot, const Payload& payload,
                             MeterCounters& counters);
    // The fields of the flow's record into `fields`, and the groups they carry. The slot is
    // freed unless the flow goes on (`goes_on`).
    using Emit = void (*)(void* context, std::uint32_t& slot, bool goes_on, MetadataWriter& fields,
                          std::uint8_t& groups, MeterCounters& counters);
    Inspect inspect = nullptr;
    Emit emit = nullptr;
    void* context = nullptr;
};

}  // namespace sluice::meter
