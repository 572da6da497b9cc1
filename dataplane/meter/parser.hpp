// Parses one frame into a flow key and the fields a flow keeps, or says why it cannot.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "dataplane/meter/fragments.hpp"
#include "dataplane/meter/hash.hpp"
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

namespace detail {

inline std::uint16_t be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t be32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
inline std::uint64_t be64(const std::uint8_t* p) {
    return std::uint64_t{be32(p)} << 32 | be32(p + 4);
}

// Writes the key: the lower endpoint (address as an unsigned big-endian number, which is byte
// order; then port) first. Whole 64-bit words only, so the hash's 64-bit loads that follow
// are forwarded from these stores instead of waiting for them to reach the cache.
template <bool kV6>
inline void write_key(PacketInfo& out, const std::uint8_t* src, const std::uint8_t* dst,
                      std::uint16_t src_port, std::uint16_t dst_port, std::uint16_t vlan,
                      std::uint8_t protocol, bool icmp) {
    std::uint64_t s0, s1 = 0, d0, d1 = 0;
    bool swap;
    if constexpr (kV6) {
        s0 = load64(src), s1 = load64(src + 8), d0 = load64(dst), d1 = load64(dst + 8);
        const std::uint64_t sh = be64(src), dh = be64(dst);
        const std::uint64_t sl = be64(src + 8), dl = be64(dst + 8);
        swap = (sh > dh) | ((sh == dh) & ((sl > dl) | ((sl == dl) & (src_port > dst_port))));
    } else {
        std::uint32_t s32, d32;
        std::memcpy(&s32, src, 4);
        std::memcpy(&d32, dst, 4);
        s0 = s32, d0 = d32;
        const std::uint32_t sh = be32(src), dh = be32(dst);
        swap = (sh > dh) | ((sh == dh) & (src_port > dst_port));
    }
    // Which endpoint goes first is a coin toss per packet: select with masks, not branches.
    // a0, a1: the first endpoint's address, bytes 0-7 and 8-15 (little-endian words); b0, b1:
    // the second's.
    const std::uint64_t mask = 0 - std::uint64_t{swap};
    const std::uint64_t a0 = s0 ^ ((s0 ^ d0) & mask);
    const std::uint64_t a1 = s1 ^ ((s1 ^ d1) & mask);
    const std::uint64_t b0 = d0 ^ ((s0 ^ d0) & mask);
    const std::uint64_t b1 = d1 ^ ((s1 ^ d1) & mask);
    // ICMP keeps 0 and its type and code in that order whatever the direction.
    const std::uint32_t ports =
        icmp ? std::uint32_t{dst_port} << 16
             : (swap ? std::uint32_t{dst_port} | std::uint32_t{src_port} << 16
                     : std::uint32_t{src_port} | std::uint32_t{dst_port} << 16);
    // The words as FlowKey lays them out (little endian). Head: both addresses' first 4 bytes;
    // port[0], port[1], vlan_id (and tunneled 0), protocol, ip_version. Tail: bytes 4-15 of the
    // first address, then of the second (IPv4: zeros).
    const std::uint64_t w0 = (a0 & 0xffffffffu) | b0 << 32;
    const std::uint64_t w1 = std::uint64_t{ports} | std::uint64_t{vlan} << 32 |
                             std::uint64_t{protocol} << 48 | std::uint64_t{kV6 ? 6u : 4u} << 56;
    const std::uint64_t w2 = a0 >> 32 | a1 << 32;
    const std::uint64_t w3 = a1 >> 32 | (b0 >> 32) << 32;
    const std::uint64_t w4 = b1;
    auto* key = reinterpret_cast<std::uint8_t*>(&out.key);
    std::memcpy(key, &w0, 8);
    std::memcpy(key + 8, &w1, 8);
    std::memcpy(key + 16, &w2, 8);
    std::memcpy(key + 24, &w3, 8);
    std::memcpy(key + 32, &w4, 8);
    out.direction = swap ? 1 : 0;
}

// The packets most links carry: untagged Ethernet, IPv4 without options and not a fragment or
// IPv6 without extension headers, then TCP or UDP (not to a tunnel's port). What
// parse_every_way makes of them, in a fraction of the work, inlined where the packet is
// metered; false, and `out` untouched, for anything else.
template <bool kV6>
[[gnu::always_inline]] inline bool plain_ip(const std::uint8_t* data, std::uint32_t length,
                                            std::uint32_t frame_length, const Decapsulation& decap,
                                            PacketInfo& out) {
    constexpr std::uint32_t kL3 = 14, kIpHeader = kV6 ? 40 : 20;
    if (length < kL3 + kIpHeader || be16(data + 12) != (kV6 ? 0x86dd : 0x0800)) return false;
    const std::uint8_t* ip = data + kL3;
    std::uint32_t total;
    std::uint8_t protocol, ttl;
    if constexpr (kV6) {
        if ((ip[0] >> 4) != 6) return false;
        total = kIpHeader + be16(ip + 4);
        protocol = ip[6];  // an extension header is neither TCP nor UDP: the long way
        ttl = ip[7];
    } else {
        // Version 4, a 20-byte header, neither more fragments nor an offset.
        total = be16(ip + 2);
        if (ip[0] != 0x45 || total < kIpHeader || (be16(ip + 6) & 0x3fff) != 0) return false;
        protocol = ip[9];
        ttl = ip[8];
    }
    if (total > frame_length - kL3) return false;
    const std::uint8_t* l4p = ip + kIpHeader;
    const std::uint32_t l4_avail = std::min(total, length - kL3) - kIpHeader;
    std::uint32_t l4_header;
    if (protocol == 6) {  // TCP
        if (l4_avail < 20) return false;
        l4_header = (l4p[12] >> 4) * 4u;
        if (l4_header < 20 || l4_header > l4_avail) return false;
        out.tcp_flags = l4p[13];
        out.tcp_seq = be32(l4p + 4);
        out.tcp_window = be16(l4p + 14);
        out.tcp_header = true;
    } else if (protocol == 17) {  // UDP
        // The port's low 6 bits (its second byte's) in the mask of the tunnels' ports.
        if (l4_avail < 8 || ((decap.udp_ports >> (l4p[3] & 63)) & 1)) return false;
        l4_header = 8;
        out.tcp_flags = 0;
        out.tcp_header = false;
    } else {
        return false;
    }
    out.l3_offset = kL3;
    out.ttl = ttl;
    out.ip_length = static_cast<std::uint16_t>(std::min(total, 0xffffu));
    out.payload_offset = static_cast<std::uint16_t>(kL3 + kIpHeader + l4_header);
    out.payload_length = static_cast<std::uint16_t>(l4_avail - l4_header);
    out.wire_payload_length = static_cast<std::uint16_t>(total - kIpHeader - l4_header);
    write_key<kV6>(out, ip + (kV6 ? 8 : 12), ip + (kV6 ? 24 : 16), be16(l4p), be16(l4p + 2), 0,
                   protocol, false);
    return true;
}

// parse() without its short way for the commonest packets: every packet the long way, which
// the short way must agree with byte for byte (what the tests and the fuzzer compare).
ParseResult parse_every_way(const std::uint8_t* data, std::uint32_t length,
                            std::uint32_t frame_length, LinkType link, std::uint64_t now_ns,
                            FragmentMap& fragments, const Decapsulation& decap, PacketInfo& out,
                            TunnelInfo& tunnel);
}  // namespace detail

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
inline ParseResult parse(const std::uint8_t* data, std::uint32_t length, std::uint32_t frame_length,
                         LinkType link, std::uint64_t now_ns, FragmentMap& fragments,
                         const Decapsulation& decap, PacketInfo& out, TunnelInfo& tunnel) {
    if (link == LinkType::ethernet &&
        (detail::plain_ip<false>(data, length, frame_length, decap, out) ||
         detail::plain_ip<true>(data, length, frame_length, decap, out))) {
        out.tunnel_depth = 0;
        return ParseResult::meter(ParseResult::Fragment::none);
    }
    return detail::parse_every_way(data, length, frame_length, link, now_ns, fragments, decap, out,
                                   tunnel);
}

// The headers of a packet parse() metered, as `info` and `tunnel` describe it: the Ethernet
// header, VLAN tags and MPLS labels before its IP header (the innermost one, of a packet out of
// a tunnel), that header's class of service and flow label, and an ICMP packet's type and
// code. For a flow's first packet each way: not the per-packet path.
PacketHeaders read_headers(const std::uint8_t* data, std::uint32_t length, LinkType link,
                           const PacketInfo& info, const TunnelInfo& tunnel);

}  // namespace sluice::meter
