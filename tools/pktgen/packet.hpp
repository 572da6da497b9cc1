// Builds Ethernet frames byte by byte, for traces and tests: the headers a sensor meets.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::pktgen {

using Address = std::array<std::uint8_t, 16>;  // IPv4 in the first 4 bytes

Address ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
Address ipv6(std::uint16_t a, std::uint16_t b, std::uint16_t c, std::uint16_t d, std::uint16_t e,
             std::uint16_t f, std::uint16_t g, std::uint16_t h);

namespace tcp {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
}

inline constexpr std::uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmpv6 = 58, kSctp = 132;
inline constexpr std::uint8_t kHopByHop = 0, kRouting = 43, kFragmentHeader = 44, kAh = 51,
                              kDestinationOptions = 60;

struct Fragment {
    std::uint16_t offset = 0;  // in 8-byte units; non-zero: no L4 header in this packet
    bool more = false;
    std::uint32_t id = 0;
};

struct Packet {
    int ip_version = 4;
    Address src{};
    Address dst{};
    std::uint8_t protocol = kUdp;
    std::uint16_t src_port = 0;  // ICMP: type
    std::uint16_t dst_port = 0;  // ICMP: code
    std::uint8_t tcp_flags = 0;
    std::uint32_t seq = 1, ack = 0;  // TCP
    std::uint16_t window = 65535;
    std::uint8_t ttl = 64;
    std::uint16_t payload = 0;  // bytes after the L4 header
    std::string content;        // those bytes, when they matter; the rest are 0x5a

    std::vector<std::uint16_t> vlans;           // VLAN ids, outermost first
    std::uint16_t outer_tag_type = 0x8100;      // EtherType of the outermost tag: 0x88a8 for QinQ
    unsigned mpls_labels = 0;                   // an MPLS label stack of this depth
    unsigned ipv4_option_bytes = 0;             // multiple of 4, up to 40
    std::vector<std::uint8_t> ipv6_extensions;  // next-header codes of extension headers
    bool fragmented = false;                    // IPv4 fragment fields, or an IPv6 fragment header
    Fragment fragment;
};

// The frame, with correct lengths and IPv4 header checksum.
std::vector<std::uint8_t> build(const Packet& p);

// An Ethernet frame as a capture of pcap link type `linktype` holds the same packet: its
// network layer (from byte 14 on) behind that link's own header. Links with an EtherType
// (Linux cooked SLL 113 and SLL2 276, Cisco HDLC 104) keep the frame's; raw IP (101, 228, 229),
// BSD loopback (0, 108) and PPP (9, 50) carry the address family or PPP protocol of IPv4, IPv6
// (and MPLS, PPP), and one that means neither for any other EtherType.
std::vector<std::uint8_t> reframe(const std::vector<std::uint8_t>& frame, std::uint32_t linktype);

}  // namespace sluice::pktgen
