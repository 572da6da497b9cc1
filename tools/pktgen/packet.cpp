// Builds Ethernet frames byte by byte, for traces and tests.
#include "packet.hpp"

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

std::size_t l4_header_size(std::uint8_t protocol) {
    switch (protocol) {
        case kTcp: return 20;
        case kUdp: return 8;
        case kSctp: return 12;
        default: return 8;  // ICMP and ICMPv6: type, code, checksum, 4 bytes of body
    }
}

}  // namespace

Address ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return Address{a, b, c, d};
}

Address ipv6(std::uint16_t a, std::uint16_t b, std::uint16_t c, std::uint16_t d, std::uint16_t e,
             std::uint16_t f, std::uint16_t g, std::uint16_t h) {
    Address out{};
    const std::uint16_t words[8] = {a, b, c, d, e, f, g, h};
    for (int i = 0; i < 8; ++i) {
        out[static_cast<std::size_t>(2 * i)] = static_cast<std::uint8_t>(words[i] >> 8);
        out[static_cast<std::size_t>(2 * i + 1)] = static_cast<std::uint8_t>(words[i]);
    }
    return out;
}

std::vector<std::uint8_t> build(const Packet& p) {
    std::vector<std::uint8_t> f;
    f.reserve(128 + p.payload);
    const std::uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
    const std::uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    f.insert(f.end(), dst_mac, dst_mac + 6);
    f.insert(f.end(), src_mac, src_mac + 6);
    for (std::uint16_t vlan : p.vlans) {
        put16(f, 0x8100);
        put16(f, vlan & 0x0fff);
    }
    const std::size_t l4_len = l4_header_size(p.protocol) + p.payload;
    const std::size_t ip_start = f.size() + 2;
    if (p.ip_version == 4) {
        put16(f, 0x0800);
        f.push_back(0x45);
        f.push_back(0);
        put16(f, static_cast<std::uint16_t>(20 + l4_len));
        put16(f, 0);       // identification
        put16(f, 0x4000);  // don't fragment
        f.push_back(p.ttl);
        f.push_back(p.protocol);
        put16(f, 0);  // checksum, below
        f.insert(f.end(), p.src.begin(), p.src.begin() + 4);
        f.insert(f.end(), p.dst.begin(), p.dst.begin() + 4);
        const std::uint16_t sum = checksum(f.data() + ip_start, 20);
        f[ip_start + 10] = static_cast<std::uint8_t>(sum >> 8);
        f[ip_start + 11] = static_cast<std::uint8_t>(sum);
    } else {
        put16(f, 0x86dd);
        put32(f, 0x60000000);
        put16(f, static_cast<std::uint16_t>(l4_len));
        f.push_back(p.protocol);
        f.push_back(p.ttl);
        f.insert(f.end(), p.src.begin(), p.src.end());
        f.insert(f.end(), p.dst.begin(), p.dst.end());
    }
    switch (p.protocol) {
        case kTcp:
            put16(f, p.src_port);
            put16(f, p.dst_port);
            put32(f, 1);        // sequence
            put32(f, 0);        // acknowledgement
            f.push_back(0x50);  // data offset 5 words
            f.push_back(p.tcp_flags);
            put16(f, 65535);  // window
            put32(f, 0);      // checksum, urgent pointer
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
    f.resize(f.size() + p.payload, 0x5a);
    return f;
}

}  // namespace sluice::pktgen
