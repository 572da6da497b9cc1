// Parses one frame into a flow key and the fields a flow keeps, or says why it cannot.
#pragma once

#include <cstdint>

#include "dataplane/meter/fragments.hpp"
#include "dataplane/meter/packet.hpp"
#include "shared/capture/link.hpp"
#include "sluice/config.hpp"
#include "sluice/counters.hpp"

namespace sluice::meter {

// Metered (and which kind of fragment, if one), or ignored and why: one byte, so that it
// comes back in a register.
class ParseResult {
public:
    enum class Fragment : std::uint8_t { none, first, matched, unmatched };

    static constexpr ParseResult meter(Fragment f) {
        return ParseResult(static_cast<std::uint8_t>(f));
    }
    static constexpr ParseResult ignore(IgnoreReason r) {
        return ParseResult(static_cast<std::uint8_t>(kIgnored | static_cast<std::uint8_t>(r)));
    }

    bool metered() const { return (code_ & kIgnored) == 0; }
    IgnoreReason reason() const { return static_cast<IgnoreReason>(code_ & ~kIgnored); }
    Fragment fragment() const { return metered() ? static_cast<Fragment>(code_) : Fragment::none; }

private:
    static constexpr std::uint8_t kIgnored = 0x80;
    explicit constexpr ParseResult(std::uint8_t code) : code_(code) {}
    std::uint8_t code_;
};

// Which tunnels a packet is taken out of ([flow] decapsulate), on which UDP ports, and how
// deep.
struct Decapsulation {
    std::uint8_t tunnels = 0;  // TunnelType bits; 0: none
    std::uint8_t keyed = 0;    // TunnelType bits of the tunnels whose identity keys a flow
    std::uint8_t depth = 3;
    std::uint16_t vxlan_port = 4789;
    std::uint16_t geneve_port = 6081;
    std::uint16_t gtpu_port = 2152;
    // The IP protocols (below 64) GRE and IP in IP are carried in, a bit each, and the low 6
    // bits of the UDP tunnels' ports: what the parser checks every packet against.
    // decapsulation() sets them.
    std::uint64_t protocols = 0;
    std::uint64_t udp_ports = 0;
};

// What [flow] says of tunnels, or the same given one by one.
Decapsulation decapsulation(const config::Flow& f);
Decapsulation decapsulation(std::uint8_t tunnels, std::uint8_t keyed, std::uint8_t depth = 3,
                            std::uint16_t vxlan_port = 4789, std::uint16_t geneve_port = 6081,
                            std::uint16_t gtpu_port = 2152);

// Ethernet II (or the link layer of a capture: Linux cooked, raw IP, BSD loopback, PPP, Cisco
// HDLC), up to two VLAN tags (0x8100, 0x88A8, 0x9100), up to eight MPLS labels, IPv4
// (options, fragments), IPv6 (hop-by-hop, routing, destination options, fragment and AH
// headers, up to eight), then TCP, UDP, SCTP, ICMP or ICMPv6. Reads only the first `length`
// bytes; `frame_length` (at least `length`) is the whole frame's, which the IP lengths are
// checked against (a scattered jumbo frame: the headers are in the first segment).
// First fragments are remembered in `fragments`; later ones take their ports from it.
// A packet in one of `decap`'s tunnels is the packet inside (`tunnel` says which tunnel, when
// out.tunnel_depth says it was in one), up to `decap.depth` tunnels deep; an IP fragment is
// not looked into.
// A packet ignored for a reason that carries_ip(), or inside a tunnel, has out.l3_offset set:
// where its (outermost) IP header is.
ParseResult parse(const std::uint8_t* data, std::uint32_t length, std::uint32_t frame_length,
                  LinkType link, std::uint64_t now_ns, FragmentMap& fragments,
                  const Decapsulation& decap, PacketInfo& out, TunnelInfo& tunnel);

// The headers of a packet parse() metered, as `info` and `tunnel` describe it: the Ethernet
// header, VLAN tags and MPLS labels before its IP header (the innermost one, of a packet out of
// a tunnel), that header's class of service and flow label, and an ICMP packet's type and
// code. For a flow's first packet each way: not the per-packet path.
PacketHeaders read_headers(const std::uint8_t* data, std::uint32_t length, LinkType link,
                           const PacketInfo& info, const TunnelInfo& tunnel);

}  // namespace sluice::meter
