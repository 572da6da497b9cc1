// Parses one frame into a flow key and the fields a flow keeps, or says why it cannot.
#include "dataplane/meter/parser.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace sluice::meter {
namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86dd;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint16_t kEtherQinQ = 0x88a8;
constexpr std::uint16_t kEtherQinQOld = 0x9100;
constexpr std::uint16_t kEtherMpls = 0x8847;
constexpr std::uint16_t kEtherMplsMulticast = 0x8848;

constexpr std::uint16_t kEtherBridged = 0x6558;  // transparent Ethernet bridging (NVGRE, Geneve)
constexpr std::uint16_t kEtherErspan2 = 0x88be;  // ERSPAN type I and II
constexpr std::uint16_t kEtherErspan3 = 0x22eb;

constexpr std::uint8_t kTcp = 6, kUdp = 17, kSctp = 132, kIcmp = 1, kIcmpv6 = 58;
constexpr std::uint8_t kIpInIp = 4, kIpv6InIp = 41, kGre = 47;
constexpr std::uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kAh = 51, kDestOpts = 60;

constexpr unsigned kMaxVlanTags = 2;
constexpr unsigned kMaxMplsLabels = 8;
constexpr unsigned kMaxIpv6Extensions = 8;

using detail::be16;
using detail::be32;

constexpr ParseResult ignore(IgnoreReason r) {
    return ParseResult::ignore(r);
}

// Where a packet of a link other than Ethernet has its network layer: an EtherType (or what
// stands for one) and the offset of what it describes.
struct LinkLayer {
    std::uint16_t type;
    std::uint16_t offset;
};
constexpr LinkLayer kTruncated{0, 0xffff};  // the frame ends inside its link-layer header

// PPP's protocol numbers (RFC 1661; a compressed field is the same number in one byte) as
// EtherTypes; 0 for what is not IP or MPLS.
std::uint16_t ppp_ethertype(std::uint16_t protocol) {
    switch (protocol) {
        case 0x0021: return kEtherIpv4;
        case 0x0057: return kEtherIpv6;
        case 0x0281: return kEtherMpls;
        case 0x0283: return kEtherMplsMulticast;
        default: return 0;
    }
}

LinkLayer ppp(const std::uint8_t* data, std::uint32_t length, std::uint32_t off) {
    if (length >= off + 2 && data[off] == 0xff && data[off + 1] == 0x03) off += 2;
    if (length < off + 1) return kTruncated;
    if (data[off] & 1) return {ppp_ethertype(data[off]), static_cast<std::uint16_t>(off + 1)};
    if (length < off + 2) return kTruncated;
    return {ppp_ethertype(be16(data + off)), static_cast<std::uint16_t>(off + 2)};
}

// An address family of BSD loopback captures: AF_INET is 2 everywhere, AF_INET6 is 10 on
// Linux, 24 on NetBSD and OpenBSD, 28 on FreeBSD and 30 on macOS.
std::uint16_t family_ethertype(std::uint32_t family) {
    if (family == 2) return kEtherIpv4;
    if (family == 10 || family == 24 || family == 28 || family == 30) return kEtherIpv6;
    return 0;
}

// The link layers of captures: out of line, as Ethernet is what the worker meets at line rate.
[[gnu::noinline]] LinkLayer link_layer(const std::uint8_t* data, std::uint32_t length,
                                       LinkType link) {
    switch (link) {
        case LinkType::linux_sll:  // type, ARPHRD, address length, 8 address bytes, protocol
            if (length < 16) return kTruncated;
            return {be16(data + 14), 16};
        case LinkType::linux_sll2:  // protocol, reserved, ifindex, ARPHRD, type, address
            if (length < 20) return kTruncated;
            return {be16(data), 20};
        case LinkType::raw:  // the version decides; another one is IPv4's to refuse
            if (length < 1) return kTruncated;
            return {(data[0] >> 4) == 6 ? kEtherIpv6 : kEtherIpv4, 0};
        case LinkType::ipv4: return {kEtherIpv4, 0};
        case LinkType::ipv6: return {kEtherIpv6, 0};
        case LinkType::bsd_null:
        case LinkType::bsd_loop: {
            if (length < 4) return kTruncated;
            std::uint32_t family = be32(data);
            // bsd_null is in the capturing host's byte order: small families either way.
            if (link == LinkType::bsd_null && family > 0xffff) family = __builtin_bswap32(family);
            return {family_ethertype(family), 4};
        }
        case LinkType::ppp: return ppp(data, length, 0);
        case LinkType::ppp_hdlc:
        case LinkType::cisco_hdlc:
            // Cisco HDLC: address 0x0f (unicast) or 0x8f (broadcast), control 0, an EtherType.
            if (length >= 1 && (data[0] == 0x0f || data[0] == 0x8f)) {
                if (length < 4) return kTruncated;
                return {be16(data + 2), 4};
            }
            if (link == LinkType::cisco_hdlc) return {0, 0};
            return ppp(data, length, 0);
        case LinkType::ethernet:  // parse's own, inline
        case LinkType::unsupported: break;
    }
    return {0, 0};
}

// The key, out of line: inlined into parse_from, the compiler pairs its stores into 16-byte
// ones, which the hash's 64-bit loads cannot be forwarded from (zipf-1M: 128 cycles per packet
// instead of 107).
template <bool kV6>
[[gnu::noinline]] void write_key_apart(PacketInfo& out, const std::uint8_t* src,
                                       const std::uint8_t* dst, std::uint16_t src_port,
                                       std::uint16_t dst_port, std::uint16_t vlan,
                                       std::uint8_t protocol, bool icmp) {
    detail::write_key<kV6>(out, src, dst, src_port, dst_port, vlan, protocol, icmp);
}

// ICMP's "ports": 0 and type * 256 + code. A reply counts under its request's type, so that
// both directions meet in one flow.
std::uint16_t icmp_type_code(std::uint8_t type, std::uint8_t code, bool v6) {
    if (v6) {
        if (type == 129) type = 128;  // echo reply -> echo request
    } else if (type == 0 || type == 14 || type == 16 || type == 18) {
        type = type == 0 ? 8 : static_cast<std::uint8_t>(type - 1);  // replies -> requests
    }
    return static_cast<std::uint16_t>(type << 8 | code);
}

// What a tunnel's header says is inside it.
struct Inner {
    enum Kind : std::uint8_t { none, truncated, ethernet, ip };
    Kind kind = none;  // none: not a packet of a tunnel that is decapsulated
    TunnelType type = TunnelType::none;
    std::uint16_t vlan = 0;     // ERSPAN: the mirrored frame's VLAN, for a frame without a tag
    std::uint16_t session = 0;  // ERSPAN: the session + 1
    std::uint32_t offset = 0;   // of what is inside, from the tunnel's header
    std::uint32_t id = 0;
};
constexpr Inner kCut{Inner::truncated};

// What a GRE payload is: ERSPAN's frames, or IPv4, IPv6 or Ethernet.
Inner gre(const std::uint8_t* p, std::uint32_t avail, std::uint8_t tunnels) {
    if (avail < 4) return kCut;
    // C, R, K, S, strict source route, recursion; then flags and version: RFC 2784 with RFC
    // 2890's key and sequence number. Version 1 (PPTP) and source routes are not looked into.
    if ((p[0] & 0x4f) != 0 || (p[1] & 0x07) != 0) return {};
    const std::uint32_t header =
        4u + ((p[0] & 0x80) ? 4 : 0) + ((p[0] & 0x20) ? 4 : 0) + ((p[0] & 0x10) ? 4 : 0);
    const std::uint16_t protocol = be16(p + 2);
    Inner in;
    if (protocol == kEtherErspan2 || protocol == kEtherErspan3) {
        if (!(tunnels & tunnel_bit(TunnelType::erspan))) return {};
        if (avail < header) return kCut;
        in.type = TunnelType::erspan;
        in.kind = Inner::ethernet;
        if (protocol == kEtherErspan2 && !(p[0] & 0x10)) {  // type I: no sequence, no header
            in.offset = header;
            return in;
        }
        const std::uint8_t* e = p + header;
        const std::uint32_t length = protocol == kEtherErspan2 ? 8 : 12;
        if (avail < header + length) return kCut;
        const unsigned version = e[0] >> 4;
        if (version != (protocol == kEtherErspan2 ? 1u : 2u)) return {};
        in.vlan = be16(e) & 0x0fff;
        in.id = be16(e + 2) & 0x03ff;
        in.session = static_cast<std::uint16_t>(in.id + 1);
        in.offset = header + length;
        if (protocol == kEtherErspan3) {
            const unsigned frame_type = (e[10] >> 2) & 0x1f;  // 0: Ethernet, 2: IP
            if (frame_type == 2)
                in.kind = Inner::ip;
            else if (frame_type != 0)
                return {};
            if (e[11] & 0x01) in.offset += 8;  // a platform-specific subheader
            if (avail < in.offset) return kCut;
        }
        return in;
    }
    if (!(tunnels & tunnel_bit(TunnelType::gre))) return {};
    switch (protocol) {
        case kEtherIpv4:
        case kEtherIpv6: in.kind = Inner::ip; break;
        case kEtherBridged: in.kind = Inner::ethernet; break;
        default: return {};
    }
    if (avail < header) return kCut;
    in.type = TunnelType::gre;
    if (p[0] & 0x20) in.id = be32(p + ((p[0] & 0x80) ? 8 : 4));
    in.offset = header;
    return in;
}

// VXLAN (RFC 7348): flags with I (a VNI), 3 reserved bytes, the VNI, a reserved byte.
Inner vxlan(const std::uint8_t* p, std::uint32_t avail) {
    if (avail < 8) return kCut;
    if (!(p[0] & 0x08)) return {};
    return {Inner::ethernet, TunnelType::vxlan, 0, 0, 8, be32(p + 4) >> 8};
}

// Geneve (RFC 8926): version 0, options' length in 4-byte words, flags, the protocol, the
// VNI.
Inner geneve(const std::uint8_t* p, std::uint32_t avail) {
    if (avail < 8) return kCut;
    if ((p[0] >> 6) != 0) return {};
    const std::uint32_t header = 8u + (p[0] & 0x3fu) * 4;
    Inner in{Inner::none, TunnelType::geneve, 0, 0, header, be32(p + 4) >> 8};
    switch (be16(p + 2)) {
        case kEtherBridged: in.kind = Inner::ethernet; break;
        case kEtherIpv4:
        case kEtherIpv6: in.kind = Inner::ip; break;
        default: return {};
    }
    if (avail < header) return kCut;
    return in;
}

// GTP-U (3GPP TS 29.281): version 1, protocol type GTP, a G-PDU (255: a user's packet; echo
// and the other messages are the tunnel's own), the TEID; with E, S or PN a sequence number,
// an N-PDU number and the first extension header's type, then the extension headers, each
// its length in 4-byte words and its next one's type last.
Inner gtpu(const std::uint8_t* p, std::uint32_t avail) {
    constexpr unsigned kMaxExtensions = 8;
    if (avail < 8) return kCut;
    if ((p[0] & 0xf0) != 0x30 || p[1] != 255) return {};
    Inner in{Inner::ip, TunnelType::gtpu, 0, 0, 8, be32(p + 4)};
    if (p[0] & 0x07) {
        if (avail < 12) return kCut;
        std::uint8_t next = (p[0] & 0x04) ? p[11] : 0;
        in.offset = 12;
        for (unsigned n = 0; next != 0; ++n) {
            if (n == kMaxExtensions) return {};
            if (avail < in.offset + 1) return kCut;
            const std::uint32_t length = p[in.offset] * 4u;
            if (length == 0) return {};
            if (avail < in.offset + length) return kCut;
            next = p[in.offset + length - 1];
            in.offset += length;
        }
    }
    return in;
}

// The tunnel a packet of IP protocol `protocol` (and UDP port `port`) is in, its header at `p`
// with `avail` bytes readable; none when it is not in one that `d` decapsulates. Out of line:
// most packets are in none, and do not get this far.
[[gnu::noinline]] Inner inside_tunnel(const std::uint8_t* p, std::uint32_t avail,
                                      std::uint8_t protocol, std::uint16_t port,
                                      const Decapsulation& d) {
    switch (protocol) {
        case kGre: return gre(p, avail, d.tunnels);
        case kIpInIp:
        case kIpv6InIp:
            if (!(d.tunnels & tunnel_bit(TunnelType::ipip))) return {};
            return {Inner::ip, TunnelType::ipip};
        case kUdp: {
            Inner in;  // after the UDP header, read already
            if (port == d.vxlan_port && (d.tunnels & tunnel_bit(TunnelType::vxlan)))
                in = vxlan(p + 8, avail - 8);
            else if (port == d.geneve_port && (d.tunnels & tunnel_bit(TunnelType::geneve)))
                in = geneve(p + 8, avail - 8);
            else if (port == d.gtpu_port && (d.tunnels & tunnel_bit(TunnelType::gtpu)))
                in = gtpu(p + 8, avail - 8);
            in.offset += 8;
            return in;
        }
        default: return {};
    }
}

ParseResult decapsulate(const std::uint8_t* data, std::uint32_t outer_l3, std::uint32_t inner,
                        std::uint32_t length, std::uint32_t frame_length, const Inner& in,
                        std::uint64_t now_ns, FragmentMap& fragments, const Decapsulation& decap,
                        PacketInfo& out, TunnelInfo& tunnel);

// The packet from `data` on, its link layer `link`: parse's work, and decapsulate's for the
// packet inside a tunnel.
[[gnu::always_inline]] inline ParseResult parse_from(const std::uint8_t* data, std::uint32_t length,
                                                     std::uint32_t frame_length, LinkType link,
                                                     std::uint64_t now_ns, FragmentMap& fragments,
                                                     const Decapsulation& decap, PacketInfo& out,
                                                     TunnelInfo& tunnel) {
    out.tcp_flags = 0;
    out.tcp_header = false;
    out.payload_offset = 0;
    out.payload_length = 0;

    // L2: the link layer (Ethernet or a capture's), VLAN tags, MPLS labels.
    std::uint32_t off;
    std::uint16_t type;
    if (link == LinkType::ethernet) [[likely]] {
        if (length < 14) return ignore(IgnoreReason::truncated_l2);
        type = be16(data + 12);
        off = 14;
    } else {
        if (link == LinkType::unsupported) return ignore(IgnoreReason::unsupported_link_type);
        const LinkLayer l = link_layer(data, length, link);
        if (l.offset == kTruncated.offset) return ignore(IgnoreReason::truncated_l2);
        type = l.type;
        off = l.offset;
    }
    unsigned tags = 0;
    std::uint16_t vlan = 0;
    while (type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld) {
        if (++tags > kMaxVlanTags) return ignore(IgnoreReason::too_many_vlan_tags);
        if (length < off + 4) return ignore(IgnoreReason::truncated_l2);
        if (tags == 1) vlan = be16(data + off) & 0x0fff;
        type = be16(data + off + 2);
        off += 4;
    }
    int ip_version = 0;
    if (type == kEtherMpls || type == kEtherMplsMulticast) {
        for (unsigned labels = 1;; ++labels) {
            if (labels > kMaxMplsLabels) return ignore(IgnoreReason::too_many_mpls_labels);
            if (length < off + 4) return ignore(IgnoreReason::truncated_l2);
            const bool bottom = data[off + 2] & 0x01;
            off += 4;
            if (bottom) break;
        }
        // What follows the labels says what it is: an IP version, or something else (a
        // pseudowire's control word, Ethernet). A frame that ends here ends where L3 begins.
        if (length < off + 1) {
            out.l3_offset = static_cast<std::uint16_t>(off);
            return ignore(IgnoreReason::truncated_l3);
        }
        ip_version = data[off] >> 4;
        if (ip_version != 4 && ip_version != 6) return ignore(IgnoreReason::non_ip);
    } else if (type == kEtherIpv4) {
        ip_version = 4;
    } else if (type == kEtherIpv6) {
        ip_version = 6;
    } else {
        return ignore(IgnoreReason::non_ip);
    }

    // L3. Where the IP header begins gives the IP octets of a packet ignored from here on (or
    // dropped as a duplicate).
    out.l3_offset = static_cast<std::uint16_t>(off);
    const std::uint8_t* ip = data + off;
    const std::uint32_t avail = length - off;              // bytes that can be read
    const std::uint32_t frame_avail = frame_length - off;  // bytes the frame carries
    std::uint8_t protocol = 0;
    std::uint32_t l4 = 0;      // offset of the L4 header from ip
    std::uint32_t ip_end = 0;  // offset from ip of the end of the IP packet
    bool later_fragment = false;
    bool first_fragment = false;
    FragmentMap::Id frag_id{};

    if (ip_version == 4) {
        if (avail < 20) return ignore(IgnoreReason::truncated_l3);
        if ((ip[0] >> 4) != 4) return ignore(IgnoreReason::bad_ip_version);
        const std::uint32_t header = (ip[0] & 0x0fu) * 4;
        const std::uint32_t total = be16(ip + 2);
        if (header < 20 || header > total) return ignore(IgnoreReason::bad_header_length);
        if (total > frame_avail) return ignore(IgnoreReason::bad_total_length);
        protocol = ip[9];
        out.ttl = ip[8];
        out.ip_length = static_cast<std::uint16_t>(total);
        const std::uint16_t frag = be16(ip + 6);
        const bool more = frag & 0x2000;
        const std::uint16_t offset = frag & 0x1fff;
        later_fragment = offset != 0;
        first_fragment = offset == 0 && more;
        if (later_fragment || first_fragment) {
            std::memcpy(frag_id.address[0], ip + 12, 4);
            std::memcpy(frag_id.address[1], ip + 16, 4);
            frag_id.fragment_id = be16(ip + 4);
            frag_id.protocol = protocol;
        }
        l4 = header;
        ip_end = total;
    } else {
        if (avail < 40) return ignore(IgnoreReason::truncated_l3);
        if ((ip[0] >> 4) != 6) return ignore(IgnoreReason::bad_ip_version);
        const std::uint32_t total = 40u + be16(ip + 4);
        if (total > frame_avail) return ignore(IgnoreReason::bad_total_length);
        out.ttl = ip[7];
        out.ip_length = static_cast<std::uint16_t>(total > 0xffff ? 0xffff : total);
        ip_end = total;
        protocol = ip[6];
        l4 = 40;
        for (unsigned n = 0; protocol == kHopByHop || protocol == kRouting ||
                             protocol == kDestOpts || protocol == kFragment || protocol == kAh;
             ++n) {
            if (n >= kMaxIpv6Extensions) return ignore(IgnoreReason::too_many_ipv6_extensions);
            if (std::min(ip_end, avail) < l4 + 8) return ignore(IgnoreReason::truncated_l3);
            const std::uint8_t next = ip[l4];
            if (protocol == kFragment) {
                const std::uint16_t frag = be16(ip + l4 + 2);
                const bool more = frag & 0x1;
                const std::uint16_t offset = frag >> 3;
                later_fragment = offset != 0;
                first_fragment = offset == 0 && more;
                std::memcpy(frag_id.address[0], ip + 8, 16);
                std::memcpy(frag_id.address[1], ip + 24, 16);
                frag_id.fragment_id = be32(ip + l4 + 4);
                frag_id.protocol = next;
                l4 += 8;
            } else if (protocol == kAh) {
                l4 += (ip[l4 + 1] + 2u) * 4;
            } else {
                l4 += (ip[l4 + 1] + 1u) * 8;
            }
            protocol = next;
            if (later_fragment) break;  // what follows is the middle of the payload
        }
        if (l4 > ip_end) return ignore(IgnoreReason::truncated_l3);
    }

    const std::uint8_t* src = ip + (ip_version == 4 ? 12 : 8);
    const std::uint8_t* dst = ip + (ip_version == 4 ? 16 : 24);

    const bool icmp = protocol == kIcmp || protocol == kIcmpv6;
    // The key; ICMP's type and code go in the second port whatever the direction, and take no
    // part in ordering the endpoints.
    auto metered = [&](std::uint16_t sport, std::uint16_t dport, ParseResult::Fragment f)
        __attribute__((always_inline)) {
        if (ip_version == 4)
            write_key_apart<false>(out, src, dst, sport, dport, vlan, protocol, icmp);
        else
            write_key_apart<true>(out, src, dst, sport, dport, vlan, protocol, icmp);
        return ParseResult::meter(f);
    };

    // A later fragment carries no L4 header: it takes its first fragment's ports.
    if (later_fragment) {
        std::uint16_t sport = 0, dport = 0;
        frag_id.protocol = protocol;
        const bool found = fragments.find(frag_id, now_ns, sport, dport);
        return metered(sport, dport,
                       found ? ParseResult::Fragment::matched : ParseResult::Fragment::unmatched);
    }

    // L4.
    // What of the L4 header and payload can be read: the IP packet, within the readable bytes.
    const std::uint8_t* l4p = ip + l4;
    const std::uint32_t limit = std::min(ip_end, avail);
    if (l4 > limit) return ignore(IgnoreReason::truncated_l4);
    const std::uint32_t l4_avail = limit - l4;
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t l4_header = 0;
    bool maybe_tunnel = false;
    switch (protocol) {
        case kTcp:
            if (l4_avail < 20) return ignore(IgnoreReason::truncated_l4);
            l4_header = (l4p[12] >> 4) * 4u;
            if (l4_header < 20) return ignore(IgnoreReason::bad_l4_header);
            if (l4_header > l4_avail) return ignore(IgnoreReason::truncated_l4);
            sport = be16(l4p);
            dport = be16(l4p + 2);
            out.tcp_flags = l4p[13];
            out.tcp_seq = be32(l4p + 4);
            out.tcp_window = be16(l4p + 14);
            out.tcp_header = true;
            break;
        case kUdp:
        case kSctp:
            l4_header = protocol == kUdp ? 8 : 12;
            if (l4_avail < l4_header) return ignore(IgnoreReason::truncated_l4);
            sport = be16(l4p);
            dport = be16(l4p + 2);
            // Its port's low 6 bits in the mask of the tunnels' ports: maybe a tunnel's.
            maybe_tunnel = protocol == kUdp && ((decap.udp_ports >> (dport & 63)) & 1);
            break;
        case kIcmp:
        case kIcmpv6:
            if (l4_avail < 4) return ignore(IgnoreReason::truncated_l4);
            l4_header = l4_avail < 8 ? l4_avail : 8;
            dport = icmp_type_code(l4p[0], l4p[1], protocol == kIcmpv6);
            out.icmp_type = l4p[0];
            break;
        default:  // other protocols: ports 0, the whole IP payload is payload
            // GRE and IP in IP: their protocol's bit in the mask of those tunnels use.
            maybe_tunnel = protocol < 64 && ((decap.protocols >> protocol) & 1);
            break;
    }
    // What may be a tunnel's is looked at whole, out of line. A fragment is not: its inner
    // headers may be in another one.
    if (maybe_tunnel && !first_fragment) [[unlikely]] {
        const Inner in = inside_tunnel(l4p, l4_avail, protocol, dport, decap);
        if (in.kind == Inner::truncated) return ignore(IgnoreReason::truncated_tunnel);
        if (in.kind != Inner::none) {
            // What is inside is read as far as the outer IP packet goes.
            const auto at = static_cast<std::uint32_t>(l4p - data);
            return decapsulate(data, off, at + in.offset, at + l4_avail,
                               std::min(frame_length, off + ip_end), in, now_ns, fragments, decap,
                               out, tunnel);
        }
    }
    out.payload_offset = static_cast<std::uint16_t>(off + l4 + l4_header);
    out.payload_length = static_cast<std::uint16_t>(l4_avail - l4_header);
    out.wire_payload_length =
        static_cast<std::uint16_t>(ip_end > l4 + l4_header ? ip_end - l4 - l4_header : 0);
    if (first_fragment) {
        fragments.remember(frag_id, sport, dport, now_ns);
        return metered(sport, dport, ParseResult::Fragment::first);
    }
    return metered(sport, dport, ParseResult::Fragment::none);
}

// The packet inside the tunnel of `in`, from `inner` on, `length` bytes of it readable and
// `frame_length` its outer packet's end; `outer_l3`: the tunnel's outer IP header. Every offset
// it gives is from `data`'s start. Out of line: most packets are in no tunnel.
[[gnu::noinline]] ParseResult decapsulate(const std::uint8_t* data, std::uint32_t outer_l3,
                                          std::uint32_t inner, std::uint32_t length,
                                          std::uint32_t frame_length, const Inner& in,
                                          std::uint64_t now_ns, FragmentMap& fragments,
                                          const Decapsulation& decap, PacketInfo& out,
                                          TunnelInfo& tunnel) {
    const unsigned depth = out.tunnel_depth;
    if (depth == decap.depth) {
        out.l3_offset = static_cast<std::uint16_t>(outer_l3);
        return ParseResult::ignore(IgnoreReason::tunnel_too_deep);
    }
    out.tunnel_depth = static_cast<std::uint8_t>(depth + 1);
    tunnel.type = in.type;
    tunnel.id = in.id;
    tunnel.outer_offset = static_cast<std::uint16_t>(outer_l3);
    tunnel.inner_offset = static_cast<std::uint16_t>(inner);
    tunnel.inner_ethernet = in.kind == Inner::ethernet;
    if (in.session != 0)
        tunnel.erspan_session = in.session;
    else if (depth == 0)
        tunnel.erspan_session = 0;
    const std::uint8_t* p = data + inner;
    length -= inner;
    frame_length -= inner;
    ParseResult r = ParseResult::ignore(IgnoreReason::truncated_l3);
    if (in.kind == Inner::ethernet) {
        r = parse_from(p, length, frame_length, LinkType::ethernet, now_ns, fragments, decap, out,
                       tunnel);
    } else if (length >= 1) {
        const unsigned v = p[0] >> 4;
        r = v == 4 || v == 6
                ? parse_from(p, length, frame_length, v == 4 ? LinkType::ipv4 : LinkType::ipv6,
                             now_ns, fragments, decap, out, tunnel)
                : ParseResult::ignore(IgnoreReason::non_ip);
    }
    const bool innermost = out.tunnel_depth == depth + 1;
    if (r.metered()) {
        out.payload_offset = static_cast<std::uint16_t>(out.payload_offset + inner);
        // ERSPAN's VLAN field: the mirrored frame's, when the frame carries no tag.
        if (innermost && in.vlan != 0 && out.key.head.vlan_id == 0) out.key.head.vlan_id = in.vlan;
    }
    if (!innermost) {  // a deeper tunnel's offsets, from where this one's inner packet began
        tunnel.outer_offset = static_cast<std::uint16_t>(tunnel.outer_offset + inner);
        tunnel.inner_offset = static_cast<std::uint16_t>(tunnel.inner_offset + inner);
    }
    if (depth == 0) {
        // An ignored packet is counted with its outermost IP header's octets.
        out.l3_offset = static_cast<std::uint16_t>(outer_l3);
        tunnel.identity =
            ((decap.keyed & tunnel_bit(tunnel.type))
                 ? std::uint64_t{static_cast<std::uint8_t>(tunnel.type)} << 48 | tunnel.id
                 : 0) |
            ((decap.keyed & tunnel_bit(TunnelType::erspan))
                 ? std::uint64_t{tunnel.erspan_session} << 32
                 : 0);
        if (r.metered()) out.key.head.tunneled = tunnel.identity != 0;
    }
    return r;
}

}  // namespace

namespace detail {
ParseResult parse_every_way(const std::uint8_t* data, std::uint32_t length,
                            std::uint32_t frame_length, LinkType link, std::uint64_t now_ns,
                            FragmentMap& fragments, const Decapsulation& decap, PacketInfo& out,
                            TunnelInfo& tunnel) {
    out.tunnel_depth = 0;
    return parse_from(data, length, frame_length, link, now_ns, fragments, decap, out, tunnel);
}
}  // namespace detail

PacketHeaders read_headers(const std::uint8_t* data, std::uint32_t length, LinkType link,
                           const PacketInfo& info, const TunnelInfo& tunnel) {
    PacketHeaders h{};
    const std::uint8_t protocol = info.key.head.protocol;
    // A later fragment has no ICMP header (and no payload offset): it says what its first
    // fragment's key says.
    if (protocol == kIcmp || protocol == kIcmpv6)
        h.icmp_type_code =
            info.payload_offset == 0
                ? info.key.head.port[1]
                : static_cast<std::uint16_t>(info.icmp_type << 8 | (info.key.head.port[1] & 0xff));
    std::uint32_t off = 0;
    if (info.tunnel_depth != 0) {
        off = tunnel.inner_offset;
        link = tunnel.inner_ethernet ? LinkType::ethernet : LinkType::raw;
    }
    std::uint16_t type;
    if (link == LinkType::ethernet) {
        if (length < off + 14) return h;
        std::memcpy(h.destination_mac, data + off, 6);
        std::memcpy(h.source_mac, data + off + 6, 6);
        h.ethernet = true;
        type = be16(data + off + 12);
        off += 14;
    } else {
        const LinkLayer l = link_layer(data + off, length - off, link);
        type = l.type;
        off += l.offset;
    }
    for (unsigned tags = 0;
         tags < kMaxVlanTags && (type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld);
         ++tags) {
        if (length < off + 4) return h;
        if (tags == 1) h.customer_vlan = be16(data + off) & 0x0fff;
        type = be16(data + off + 2);
        off += 4;
    }
    if (type == kEtherMpls || type == kEtherMplsMulticast) {
        if (length < off + 4) return h;
        h.mpls = true;
        h.mpls_top_label = be32(data + off) >> 8;
        for (unsigned labels = 0; labels < kMaxMplsLabels && length >= off + 4; ++labels) {
            const bool bottom = data[off + 2] & 0x01;
            off += 4;
            if (bottom) break;
        }
    }
    if (length < off + 4) return h;
    const std::uint8_t* ip = data + off;
    if ((ip[0] >> 4) == 6) {
        h.class_of_service = static_cast<std::uint8_t>((ip[0] & 0x0f) << 4 | ip[1] >> 4);
        h.flow_label = be32(ip) & 0xfffff;
    } else {
        h.class_of_service = ip[1];
    }
    return h;
}

Decapsulation decapsulation(std::uint8_t tunnels, std::uint8_t keyed, std::uint8_t depth,
                            std::uint16_t vxlan_port, std::uint16_t geneve_port,
                            std::uint16_t gtpu_port) {
    Decapsulation d{tunnels, keyed, depth, vxlan_port, geneve_port, gtpu_port};
    const auto on = [tunnels](TunnelType t) { return (tunnels & tunnel_bit(t)) != 0; };
    if (on(TunnelType::gre) || on(TunnelType::erspan)) d.protocols |= std::uint64_t{1} << kGre;
    if (on(TunnelType::ipip))
        d.protocols |= std::uint64_t{1} << kIpInIp | std::uint64_t{1} << kIpv6InIp;
    const std::pair<TunnelType, std::uint16_t> udp[] = {{TunnelType::vxlan, vxlan_port},
                                                        {TunnelType::geneve, geneve_port},
                                                        {TunnelType::gtpu, gtpu_port}};
    for (const auto& [t, port] : udp)
        if (on(t)) d.udp_ports |= std::uint64_t{1} << (port & 63);
    return d;
}

Decapsulation decapsulation(const config::Flow& f) {
    return decapsulation(f.tunnels(), f.keyed_tunnels(), static_cast<std::uint8_t>(f.tunnel_depth),
                         f.vxlan_port, f.geneve_port, f.gtpu_port);
}

}  // namespace sluice::meter
