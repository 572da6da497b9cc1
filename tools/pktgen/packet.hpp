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

inline constexpr std::uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmpv6 = 58, kSctp = 132, kGre = 47;
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
    std::uint8_t tos = 0;          // IPv4 TOS, IPv6 traffic class
    std::uint32_t flow_label = 0;  // IPv6
    std::array<std::uint8_t, 6> src_mac{0x02, 0, 0, 0, 0, 0x01};
    std::array<std::uint8_t, 6> dst_mac{0x02, 0, 0, 0, 0, 0x02};
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

// A tunnel a frame is sent through: the outer headers a sensor meets on a SPAN of an overlay,
// a mobile core, or a remote mirror session.
struct Tunnel {
    enum class Kind {
        gre,      // the frame's IP packet (or, with `ethernet`, the frame) in GRE
        erspan1,  // the frame in GRE 0x88BE, no sequence number, no ERSPAN header
        erspan2,  // in GRE 0x88BE with a sequence number and an ERSPAN type II header
        erspan3,  // in GRE 0x22EB with an ERSPAN type III header
        vxlan,    // the frame in VXLAN
        geneve,   // the frame (or, without `ethernet`, its IP packet) in Geneve
        gtpu,     // the frame's IP packet in a GTP-U G-PDU
        ipip,     // the frame's IP packet in an outer IP packet
    };
    Kind kind = Kind::vxlan;
    int ip_version = 4;  // the outer IP header's
    Address src = ipv4(192, 0, 2, 1);
    Address dst = ipv4(192, 0, 2, 2);
    std::uint32_t id = 0;    // GRE key, ERSPAN session, VNI, TEID
    bool key = false;        // GRE: a key field (id)
    bool checksum = false;   // GRE: a checksum field
    bool sequence = false;   // GRE: a sequence number field
    bool ethernet = false;   // GRE, Geneve: the whole frame (0x6558) instead of its packet
    std::uint16_t port = 0;  // UDP destination port; 0: the tunnel's well-known one
    std::uint16_t source_port = 49152;
    std::uint16_t erspan_vlan = 0;  // ERSPAN II and III: the mirrored frame's VLAN field
    bool erspan_subheader = false;  // ERSPAN III: the 8-byte platform-specific subheader
    unsigned geneve_option_words = 0;
    unsigned gtpu_extensions = 0;  // GTP-U: extension headers of 4 bytes each (and E set)
    bool gtpu_sequence = false;    // GTP-U: S set, so the optional 4 bytes are there
};

// `frame` (an Ethernet frame without VLAN tags or MPLS labels, as build() makes them) sent
// through `t`: a new Ethernet frame, the tunnel's outer IP header (TTL 64) and what it carries.
std::vector<std::uint8_t> encapsulate(const std::vector<std::uint8_t>& frame, const Tunnel& t);

// An Ethernet frame as a capture of pcap link type `linktype` holds the same packet: its
// network layer (from byte 14 on) behind that link's own header. Links with an EtherType
// (Linux cooked SLL 113 and SLL2 276, Cisco HDLC 104) keep the frame's; raw IP (101, 228, 229),
// BSD loopback (0, 108) and PPP (9, 50) carry the address family or PPP protocol of IPv4, IPv6
// (and MPLS, PPP), and one that means neither for any other EtherType.
std::vector<std::uint8_t> reframe(const std::vector<std::uint8_t>& frame, std::uint32_t linktype);

}  // namespace sluice::pktgen
