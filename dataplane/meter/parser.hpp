// Parses one frame into a flow key and the fields a flow keeps, or says why it cannot.
#pragma once

#include <cstdint>

#include "counters.hpp"
#include "fragments.hpp"
#include "packet.hpp"

namespace sluice::meter {

struct ParseResult {
    bool metered;
    IgnoreReason reason;  // when not metered
    enum class Fragment : std::uint8_t { none, first, matched, unmatched } fragment;
};

// Ethernet II, up to two VLAN tags (0x8100, 0x88A8, 0x9100), up to eight MPLS labels, IPv4
// (options, fragments), IPv6 (hop-by-hop, routing, destination options, fragment and AH
// headers, up to eight), then TCP, UDP, SCTP, ICMP or ICMPv6. Never reads past `length`.
// First fragments are remembered in `fragments`; later ones take their ports from it.
ParseResult parse(const std::uint8_t* data, std::uint32_t length, std::uint64_t now_ns,
                  FragmentMap& fragments, PacketInfo& out);

}  // namespace sluice::meter
