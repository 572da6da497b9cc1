// Parses one frame into a flow key and the fields a flow keeps, or says why it cannot.
#include "dataplane/meter/parser.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::meter {
namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86dd;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint16_t kEtherQinQ = 0x88a8;
constexpr std::uint16_t kEtherQinQOld = 0x9100;
constexpr std::uint16_t kEtherMpls = 0x8847;
constexpr std::uint16_t kEtherMplsMulticast = 0x8848;

constexpr std::uint8_t kTcp = 6, kUdp = 17, kSctp = 132, kIcmp = 1, kIcmpv6 = 58;
constexpr std::uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kAh = 51, kDestOpts = 60;

constexpr unsigned kMaxVlanTags = 2;
constexpr unsigned kMaxMplsLabels = 8;
constexpr unsigned kMaxIpv6Extensions = 8;

inline std::uint16_t be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t be32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}

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

inline std::uint64_t be64(const std::uint8_t* p) {
    return std::uint64_t{be32(p)} << 32 | be32(p + 4);
}

inline std::uint64_t load64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// Writes the key: the lower endpoint (address as an unsigned big-endian number, which is byte
// order; then port) first. Whole 64-bit words only, so the hash's 64-bit loads that follow
// are forwarded from these stores instead of waiting for them to reach the cache. Not inlined:
// inlined into parse, the compiler pairs the stores into 16-byte ones, which the 64-bit loads
// cannot be forwarded from (zipf-1M: 128 cycles per packet instead of 107).
template <bool kV6>
[[gnu::noinline]] void write_key(PacketInfo& out, const std::uint8_t* src, const std::uint8_t* dst,
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
    // port[0], port[1], vlan_id, protocol, ip_version. Tail: bytes 4-15 of the first address,
    // then of the second (IPv4: zeros).
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

}  // namespace

ParseResult parse(const std::uint8_t* data, std::uint32_t length, std::uint32_t frame_length,
                  LinkType link, std::uint64_t now_ns, FragmentMap& fragments, PacketInfo& out) {
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

    // L3. An ignored packet from here on had an IP header: where it began gives its IP octets.
    const auto ignore_ip = [&out, off](IgnoreReason r) {
        out.l3_offset = static_cast<std::uint16_t>(off);
        return ignore(r);
    };
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
        if (avail < 20) return ignore_ip(IgnoreReason::truncated_l3);
        if ((ip[0] >> 4) != 4) return ignore_ip(IgnoreReason::bad_ip_version);
        const std::uint32_t header = (ip[0] & 0x0fu) * 4;
        const std::uint32_t total = be16(ip + 2);
        if (header < 20 || header > total) return ignore_ip(IgnoreReason::bad_header_length);
        if (total > frame_avail) return ignore_ip(IgnoreReason::bad_total_length);
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
        if (avail < 40) return ignore_ip(IgnoreReason::truncated_l3);
        if ((ip[0] >> 4) != 6) return ignore_ip(IgnoreReason::bad_ip_version);
        const std::uint32_t total = 40u + be16(ip + 4);
        if (total > frame_avail) return ignore_ip(IgnoreReason::bad_total_length);
        out.ttl = ip[7];
        out.ip_length = static_cast<std::uint16_t>(total > 0xffff ? 0xffff : total);
        ip_end = total;
        protocol = ip[6];
        l4 = 40;
        for (unsigned n = 0; protocol == kHopByHop || protocol == kRouting ||
                             protocol == kDestOpts || protocol == kFragment || protocol == kAh;
             ++n) {
            if (n >= kMaxIpv6Extensions) return ignore_ip(IgnoreReason::too_many_ipv6_extensions);
            if (std::min(ip_end, avail) < l4 + 8) return ignore_ip(IgnoreReason::truncated_l3);
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
        if (l4 > ip_end) return ignore_ip(IgnoreReason::truncated_l3);
    }

    const std::uint8_t* src = ip + (ip_version == 4 ? 12 : 8);
    const std::uint8_t* dst = ip + (ip_version == 4 ? 16 : 24);

    const bool icmp = protocol == kIcmp || protocol == kIcmpv6;
    // The key; ICMP's type and code go in the second port whatever the direction, and take no
    // part in ordering the endpoints.
    auto metered = [&](std::uint16_t sport, std::uint16_t dport, ParseResult::Fragment f)
        __attribute__((always_inline)) {
        if (ip_version == 4)
            write_key<false>(out, src, dst, sport, dport, vlan, protocol, icmp);
        else
            write_key<true>(out, src, dst, sport, dport, vlan, protocol, icmp);
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
    if (l4 > limit) return ignore_ip(IgnoreReason::truncated_l4);
    const std::uint32_t l4_avail = limit - l4;
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t l4_header = 0;
    switch (protocol) {
        case kTcp:
            if (l4_avail < 20) return ignore_ip(IgnoreReason::truncated_l4);
            l4_header = (l4p[12] >> 4) * 4u;
            if (l4_header < 20) return ignore_ip(IgnoreReason::bad_l4_header);
            if (l4_header > l4_avail) return ignore_ip(IgnoreReason::truncated_l4);
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
            if (l4_avail < l4_header) return ignore_ip(IgnoreReason::truncated_l4);
            sport = be16(l4p);
            dport = be16(l4p + 2);
            break;
        case kIcmp:
        case kIcmpv6:
            if (l4_avail < 4) return ignore_ip(IgnoreReason::truncated_l4);
            l4_header = l4_avail < 8 ? l4_avail : 8;
            dport = icmp_type_code(l4p[0], l4p[1], protocol == kIcmpv6);
            break;
        default: break;  // other protocols: ports 0, the whole IP payload is payload
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

}  // namespace sluice::meter
