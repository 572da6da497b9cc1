// What the parser makes of one packet: its canonical biflow key and the fields a flow keeps.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "sluice/tunnel.hpp"

namespace sluice::meter {

// A canonical bidirectional key: the lower endpoint (address, then port) first, so both
// directions of a conversation have the same key. 40 bytes in two parts: the head is an IPv4
// flow's key whole (the flow table keeps it in the one cache line every packet touches), the
// tail holds the rest of IPv6 addresses. Each part is compared a 64-bit word at a time, without
// a branch or a call: this runs for every packet.
struct FlowKeyHead {
    std::uint8_t address[2][4];  // network byte order: an address's first 4 bytes (IPv4: all)
    std::uint16_t port[2];       // host byte order; ICMP: 0 and type * 256 + code
    std::uint16_t vlan_id : 12;  // outermost VLAN id, 0 when untagged
    // Its packets came out of a tunnel whose identity keys the flow too (TunnelInfo::identity,
    // which the flow table keeps beside the key). Beside the VLAN id, whose 12 bits leave
    // room, so that the IP version is a whole byte where every packet reads it.
    std::uint16_t tunneled : 1;
    std::uint16_t unused : 3;
    std::uint8_t protocol;
    std::uint8_t ip_version;

    friend bool operator==(const FlowKeyHead& a, const FlowKeyHead& b) {
        std::uint64_t x[2], y[2];
        std::memcpy(x, &a, sizeof(x));
        std::memcpy(y, &b, sizeof(y));
        return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
    }
};
static_assert(sizeof(FlowKeyHead) == 16);

struct FlowKeyTail {
    std::uint8_t address[2][12];  // the last 12 bytes of IPv6 addresses; zeros for IPv4

    friend bool operator==(const FlowKeyTail& a, const FlowKeyTail& b) {
        std::uint64_t x[3], y[3];
        std::memcpy(x, &a, sizeof(x));
        std::memcpy(y, &b, sizeof(y));
        return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2])) == 0;
    }
};
static_assert(sizeof(FlowKeyTail) == 24);

struct FlowKey {
    FlowKeyHead head;
    FlowKeyTail tail;

    // Endpoint `side`'s address in network byte order, IPv4 in the first 4 bytes, then zeros.
    std::array<std::uint8_t, 16> address(unsigned side) const {
        std::array<std::uint8_t, 16> a;
        std::memcpy(a.data(), head.address[side], 4);
        std::memcpy(a.data() + 4, tail.address[side], 12);
        return a;
    }

    friend bool operator==(const FlowKey& a, const FlowKey& b) {
        return a.head == b.head && a.tail == b.tail;
    }
};
static_assert(sizeof(FlowKey) == 40);
static_assert(std::endian::native == std::endian::little,
              "the parser writes keys as little-endian words");

// The tunnels a packet was taken out of (PacketInfo::tunnel_depth of them): the innermost
// one's, and the ERSPAN session that mirrored it, if one did. Beside the PacketInfo, which it
// would not fit in a line with, and written only for a packet out of a tunnel.
struct TunnelInfo {
    // What keys the flow beside the inner key when the key's head says `tunneled`: the
    // innermost tunnel's type (bits 48-55) and id (0-31) when [flow] tunnel_key has its type,
    // and the ERSPAN session + 1 (32-47) when it has "erspan".
    std::uint64_t identity;
    std::uint32_t id;              // VNI, TEID, GRE key or ERSPAN session; 0: none
    std::uint16_t outer_offset;    // where the innermost tunnel's outer IP header begins
    std::uint16_t erspan_session;  // the session + 1; 0: not mirrored by ERSPAN
    std::uint16_t inner_offset;    // where what the innermost tunnel carries begins
    TunnelType type;
    bool inner_ethernet;  // what it carries is an Ethernet frame (else an IP packet)
};

// What the parser found in a packet it can meter.
struct PacketInfo {
    FlowKey key;
    std::uint8_t direction;  // 0: sent by endpoint 0 of the key, 1: by endpoint 1
    std::uint8_t tcp_flags;
    std::uint8_t ttl;                   // IPv4 TTL or IPv6 hop limit
    std::uint8_t tunnel_depth;          // tunnels it was taken out of (TunnelInfo says which)
    std::uint16_t ip_length;            // IPv4 total length, IPv6 payload length + 40
    std::uint16_t payload_offset;       // first byte after the L4 header
    std::uint16_t payload_length;       // bytes of L4 payload inside the frame
    std::uint16_t l3_offset;            // where its (outermost) IP header begins
    std::uint16_t wire_payload_length;  // of the L4 payload as sent (a capture may cut it)
    std::uint32_t tcp_seq;              // TCP: the sequence number of its first byte
    std::uint16_t tcp_window;           // TCP: the window it advertises (unscaled)
    bool tcp_header;                    // a TCP header was read (not a later fragment)
    std::uint8_t icmp_type;             // ICMP: its type as sent (the key has the request's)
};
static_assert(sizeof(PacketInfo) == 64, "one cache line a packet of the burst");

// What the headers of a flow's first packet each way say beyond its key: read once a direction
// and record (read_headers), when [metadata] headers is on.
struct PacketHeaders {
    std::uint8_t source_mac[6];       // of the Ethernet header that carried the IP packet;
    std::uint8_t destination_mac[6];  // zeros when none did (another link, a tunnel of IP)
    std::uint16_t customer_vlan;      // the inner (second) VLAN tag's id; 0: none
    std::uint16_t icmp_type_code;     // ICMP: type * 256 + code as sent (a reply's own type)
    std::uint32_t mpls_top_label;     // the top label stack entry's first 3 bytes
    std::uint32_t flow_label;         // IPv6
    std::uint8_t class_of_service;    // IPv4 TOS, IPv6 traffic class
    bool ethernet;                    // the MACs were read
    bool mpls;                        // the packet had MPLS labels
};
static_assert(sizeof(PacketHeaders) == 28);

}  // namespace sluice::meter
