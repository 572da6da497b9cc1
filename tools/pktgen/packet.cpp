// Builds Ethernet frames byte by byte, for traces and tests.
#include "tools/pktgen/packet.hpp"

#include <algorithm>

namespace sluice::pktgen {
namespace {

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    put16(out, static_cast<std::uint16_t>(v >> 16));
    put16(out, static_cast<std::uint16_t>(v));
}

std::uint16_t checksum(const std::uint8_t* data, std::size_t len) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < len; i += 2)
        sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    if (len & 1) sum += static_cast<std::uint32_t>(data[len - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

std::size_t l4_header_size(const Packet& p) {
    if (p.fragmented && p.fragment.offset != 0) return 0;  // only the first fragment has it
    switch (p.protocol) {
        case kTcp: return 20;
        case kUdp: return 8;
        case kSctp: return 12;
        case kIcmp:
        case kIcmpv6: return 8;  // type, code, checksum, 4 bytes of body
        default: return 0;
    }
}

std::size_t extension_size(std::uint8_t type) {
    return type == kAh ? 12 : 8;
}

}  // namespace

Address ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return Address{a, b, c, d};
}

Address ipv6(std::uint16_t a, std::uint16_t b, std::uint16_t c, std::uint16_t d, std::uint16_t e,
             std::uint16_t f, std::uint16_t g, std::uint16_t h) {
    Address out{};
    const std::uint16_t words[8] = {a, b, c, d, e, f, g, h};
    for (std::size_t i = 0; i < 8; ++i) {
        out[2 * i] = static_cast<std::uint8_t>(words[i] >> 8);
        out[2 * i + 1] = static_cast<std::uint8_t>(words[i]);
    }
    return out;
}

std::vector<std::uint8_t> build(const Packet& p) {
    std::vector<std::uint8_t> f;
    f.reserve(128 + p.payload);
    f.insert(f.end(), p.dst_mac.begin(), p.dst_mac.end());
    f.insert(f.end(), p.src_mac.begin(), p.src_mac.end());
    for (std::size_t i = 0; i < p.vlans.size(); ++i) {
        put16(f, i == 0 ? p.outer_tag_type : 0x8100);
        put16(f, p.vlans[i] & 0x0fff);
    }
    put16(f, p.mpls_labels > 0 ? 0x8847 : (p.ip_version == 4 ? 0x0800 : 0x86dd));
    for (unsigned i = 0; i < p.mpls_labels; ++i)
        put32(f, (100u + i) << 12 | (i + 1 == p.mpls_labels ? 0x100u : 0u) | 64u);

    // IPv6 extension headers, then the fragment header when fragmented.
    std::vector<std::uint8_t> chain = p.ipv6_extensions;
    if (p.ip_version == 6 && p.fragmented) chain.push_back(kFragmentHeader);
    std::size_t extensions = 0;
    for (std::uint8_t type : chain) extensions += extension_size(type);

    const std::size_t l4_len = l4_header_size(p) + p.payload;
    const std::size_t ip_start = f.size();
    if (p.ip_version == 4) {
        const std::size_t header = 20 + p.ipv4_option_bytes;
        f.push_back(static_cast<std::uint8_t>(0x40 | header / 4));
        f.push_back(p.tos);
        put16(f, static_cast<std::uint16_t>(header + l4_len));
        put16(f, static_cast<std::uint16_t>(p.fragment.id));
        std::uint16_t frag = 0x4000;  // don't fragment
        if (p.fragmented)
            frag = static_cast<std::uint16_t>((p.fragment.more ? 0x2000 : 0) | p.fragment.offset);
        put16(f, frag);
        f.push_back(p.ttl);
        f.push_back(p.protocol);
        put16(f, 0);  // checksum, below
        f.insert(f.end(), p.src.begin(), p.src.begin() + 4);
        f.insert(f.end(), p.dst.begin(), p.dst.begin() + 4);
        for (unsigned i = 0; i < p.ipv4_option_bytes; ++i) f.push_back(1);  // NOP options
        const std::uint16_t sum = checksum(f.data() + ip_start, header);
        f[ip_start + 10] = static_cast<std::uint8_t>(sum >> 8);
        f[ip_start + 11] = static_cast<std::uint8_t>(sum);
    } else {
        put32(f, 0x60000000u | std::uint32_t{p.tos} << 20 | (p.flow_label & 0xfffff));
        put16(f, static_cast<std::uint16_t>(extensions + l4_len));
        f.push_back(chain.empty() ? p.protocol : chain.front());
        f.push_back(p.ttl);
        f.insert(f.end(), p.src.begin(), p.src.end());
        f.insert(f.end(), p.dst.begin(), p.dst.end());
        for (std::size_t i = 0; i < chain.size(); ++i) {
            const std::uint8_t next = i + 1 < chain.size() ? chain[i + 1] : p.protocol;
            f.push_back(next);
            if (chain[i] == kFragmentHeader) {
                f.push_back(0);
                put16(f, static_cast<std::uint16_t>(p.fragment.offset << 3 |
                                                    (p.fragment.more ? 1 : 0)));
                put32(f, p.fragment.id);
            } else if (chain[i] == kAh) {
                f.push_back(1);  // length in 4-byte units, minus 2: 12 bytes
                f.resize(f.size() + 10, 0);
            } else {
                f.push_back(0);  // length in 8-byte units, minus 1: 8 bytes
                f.resize(f.size() + 6, 1);
            }
        }
    }
    if (l4_header_size(p) != 0) {
        switch (p.protocol) {
            case kTcp:
                put16(f, p.src_port);
                put16(f, p.dst_port);
                put32(f, p.seq);
                put32(f, p.ack);
                f.push_back(0x50);  // data offset: 5 words
                f.push_back(p.tcp_flags);
                put16(f, p.window);
                put32(f, 0);  // checksum, urgent pointer
                break;
            case kUdp:
                put16(f, p.src_port);
                put16(f, p.dst_port);
                put16(f, static_cast<std::uint16_t>(l4_len));
                put16(f, 0);
                break;
            case kSctp:
                put16(f, p.src_port);
                put16(f, p.dst_port);
                put32(f, 0);  // verification tag
                put32(f, 0);  // checksum
                break;
            default:  // ICMP, ICMPv6: the "ports" are type and code
                f.push_back(static_cast<std::uint8_t>(p.src_port));
                f.push_back(static_cast<std::uint8_t>(p.dst_port));
                put16(f, 0);
                put32(f, 0);
                break;
        }
    }
    const std::size_t start = f.size();
    f.resize(start + p.payload, 0x5a);
    std::copy_n(p.content.begin(), std::min<std::size_t>(p.content.size(), p.payload),
                f.begin() + static_cast<long>(start));
    return f;
}

std::vector<std::uint8_t> reframe(const std::vector<std::uint8_t>& frame, std::uint32_t linktype) {
    if (linktype == 1 || frame.size() < 14) return frame;
    const auto ethertype = static_cast<std::uint16_t>(frame[12] << 8 | frame[13]);
    const bool v4 = ethertype == 0x0800, v6 = ethertype == 0x86dd;
    std::vector<std::uint8_t> out;
    switch (linktype) {
        case 113:  // packet type "to us", ARPHRD_ETHER, the source MAC padded to 8, protocol
            put16(out, 0);
            put16(out, 1);
            put16(out, 6);
            out.insert(out.end(), frame.begin() + 6, frame.begin() + 12);
            put16(out, 0);
            put16(out, ethertype);
            break;
        case 276:  // protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address
            put16(out, ethertype);
            put16(out, 0);
            put32(out, 1);
            put16(out, 1);
            out.push_back(0);
            out.push_back(6);
            out.insert(out.end(), frame.begin() + 6, frame.begin() + 12);
            put16(out, 0);
            break;
        case 101:
        case 228:
        case 229: break;
        case 0:  // the address family in the writer's byte order (little-endian), BSD numbers
        case 108: {
            const std::uint32_t family = v4 ? 2 : v6 ? 24 : 0xffff;
            if (linktype == 108) {
                put32(out, family);
            } else {
                for (unsigned i = 0; i < 4; ++i)
                    out.push_back(static_cast<std::uint8_t>(family >> (8 * i)));
            }
            break;
        }
        case 9:
        case 50:  // PPP in HDLC-like framing: address, control, protocol
            out.push_back(0xff);
            out.push_back(0x03);
            put16(out, v4 ? 0x0021 : v6 ? 0x0057 : ethertype == 0x8847 ? 0x0281 : 0xc021);
            break;
        case 104:  // unicast address, control, EtherType
            out.push_back(0x0f);
            out.push_back(0x00);
            put16(out, ethertype);
            break;
        default: return frame;
    }
    out.insert(out.end(), frame.begin() + 14, frame.end());
    return out;
}

std::vector<std::uint8_t> encapsulate(const std::vector<std::uint8_t>& frame, const Tunnel& t) {
    using Kind = Tunnel::Kind;
    const bool whole = t.kind == Kind::erspan1 || t.kind == Kind::erspan2 ||
                       t.kind == Kind::erspan3 || t.kind == Kind::vxlan ||
                       ((t.kind == Kind::gre || t.kind == Kind::geneve) && t.ethernet);
    const std::vector<std::uint8_t> inner(whole ? frame.begin() : frame.begin() + 14, frame.end());
    const std::uint16_t inner_type =
        whole ? 0x6558 : static_cast<std::uint16_t>((inner[0] >> 4) == 6 ? 0x86dd : 0x0800);
    // The tunnel's own header, and what carries it: UDP, GRE or nothing.
    std::vector<std::uint8_t> h;
    std::uint8_t protocol = kGre;
    std::uint16_t port = 0;
    switch (t.kind) {
        case Kind::gre:
        case Kind::erspan1:
        case Kind::erspan2:
        case Kind::erspan3: {
            const bool seq = t.sequence || t.kind == Kind::erspan2 || t.kind == Kind::erspan3;
            const bool key = t.key && t.kind == Kind::gre;
            h.push_back(static_cast<std::uint8_t>((t.checksum ? 0x80 : 0) | (key ? 0x20 : 0) |
                                                  (seq ? 0x10 : 0)));
            h.push_back(0);
            put16(h, t.kind == Kind::gre ? inner_type : t.kind == Kind::erspan3 ? 0x22eb : 0x88be);
            if (t.checksum) put32(h, 0);  // checksum and reserved: not checked by a sensor
            if (key) put32(h, t.id);
            if (seq) put32(h, 7);
            if (t.kind == Kind::erspan2 || t.kind == Kind::erspan3) {
                const unsigned version = t.kind == Kind::erspan2 ? 1 : 2;
                put16(h, static_cast<std::uint16_t>(version << 12 | (t.erspan_vlan & 0x0fff)));
                put16(h, static_cast<std::uint16_t>(t.id & 0x03ff));
                if (t.kind == Kind::erspan2) {
                    put32(h, 0);  // reserved, index
                } else {
                    put32(h, 0x12345678);  // timestamp
                    put16(h, 0);           // security group tag
                    h.push_back(0);        // P, frame type 0 (Ethernet), hardware id
                    h.push_back(t.erspan_subheader ? 1 : 0);
                    if (t.erspan_subheader) put32(h, 0), put32(h, 0);
                }
            }
            break;
        }
        case Kind::vxlan:
            protocol = kUdp;
            port = t.port != 0 ? t.port : 4789;
            put32(h, 0x08000000);
            put32(h, t.id << 8);
            break;
        case Kind::geneve:
            protocol = kUdp;
            port = t.port != 0 ? t.port : 6081;
            h.push_back(static_cast<std::uint8_t>(t.geneve_option_words & 0x3f));
            h.push_back(0);
            put16(h, inner_type);
            put32(h, t.id << 8);
            for (unsigned i = 0; i < t.geneve_option_words; ++i) put32(h, 0x01020304);
            break;
        case Kind::gtpu: {
            protocol = kUdp;
            port = t.port != 0 ? t.port : 2152;
            const bool more = t.gtpu_sequence || t.gtpu_extensions > 0;
            h.push_back(static_cast<std::uint8_t>(0x30 | (t.gtpu_extensions > 0 ? 0x04 : 0) |
                                                  (t.gtpu_sequence ? 0x02 : 0)));
            h.push_back(255);
            const std::size_t extra = (more ? 4 : 0) + 4 * t.gtpu_extensions;
            put16(h, static_cast<std::uint16_t>(extra + inner.size()));
            put32(h, t.id);
            if (more) {
                put16(h, 1);  // sequence number
                h.push_back(0);
                h.push_back(t.gtpu_extensions > 0 ? 0x85 : 0);  // PDU session container
            }
            for (unsigned i = 0; i < t.gtpu_extensions; ++i) {
                h.push_back(1);  // 4 bytes
                h.push_back(0);
                h.push_back(0x09);  // a QFI
                h.push_back(i + 1 < t.gtpu_extensions ? 0x85 : 0);
            }
            break;
        }
        case Kind::ipip: protocol = (inner[0] >> 4) == 6 ? 41 : 4; break;
    }
    std::vector<std::uint8_t> payload;
    if (protocol == kUdp) {
        put16(payload, t.source_port);
        put16(payload, port);
        put16(payload, static_cast<std::uint16_t>(8 + h.size() + inner.size()));
        put16(payload, 0);  // no checksum
    }
    payload.insert(payload.end(), h.begin(), h.end());
    payload.insert(payload.end(), inner.begin(), inner.end());

    std::vector<std::uint8_t> f;
    const std::uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x12, 0x02, 0, 0, 0, 0, 0x11};
    f.insert(f.end(), macs, macs + 12);
    put16(f, t.ip_version == 6 ? 0x86dd : 0x0800);
    const std::size_t ip = f.size();
    if (t.ip_version == 4) {
        f.push_back(0x45);
        f.push_back(0);
        put16(f, static_cast<std::uint16_t>(20 + payload.size()));
        put32(f, 0);  // id, no fragment
        f.push_back(64);
        f.push_back(protocol);
        put16(f, 0);
        f.insert(f.end(), t.src.begin(), t.src.begin() + 4);
        f.insert(f.end(), t.dst.begin(), t.dst.begin() + 4);
        const std::uint16_t sum = checksum(f.data() + ip, 20);
        f[ip + 10] = static_cast<std::uint8_t>(sum >> 8);
        f[ip + 11] = static_cast<std::uint8_t>(sum);
    } else {
        put32(f, 0x60000000);
        put16(f, static_cast<std::uint16_t>(payload.size()));
        f.push_back(protocol);
        f.push_back(64);
        f.insert(f.end(), t.src.begin(), t.src.end());
        f.insert(f.end(), t.dst.begin(), t.dst.end());
    }
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
}

}  // namespace sluice::pktgen
