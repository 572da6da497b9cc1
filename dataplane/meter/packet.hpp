// What the parser makes of one packet: its canonical biflow key and the fields a flow keeps.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace sluice::meter {

// A canonical bidirectional key: the lower endpoint (address, then port) first, so both
// directions of a conversation have the same key. 40 bytes, no padding, compared with memcmp.
struct FlowKey {
    std::uint8_t address[2][16];  // network byte order; IPv4 in the first 4 bytes, then zeros
    std::uint16_t port[2];        // host byte order; ICMP: 0 and type * 256 + code
    std::uint16_t vlan_id;        // outermost VLAN id, 0 when untagged
    std::uint8_t protocol;
    std::uint8_t ip_version;

    // Five 64-bit words compared without a branch or a call: this runs for every packet.
    friend bool operator==(const FlowKey& a, const FlowKey& b) {
        std::uint64_t x[5], y[5];
        std::memcpy(x, &a, sizeof(x));
        std::memcpy(y, &b, sizeof(y));
        return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
    }
};
static_assert(sizeof(FlowKey) == 40);
static_assert(std::endian::native == std::endian::little,
              "the parser writes keys as little-endian words");

// A packet as the worker hands it over: its first bytes (an mbuf's first segment), the whole
// frame's length, and its time (the burst's clock reading, or the packet's own capture time
// when replaying a trace).
struct PacketRef {
    const std::uint8_t* data;
    std::uint32_t length;        // bytes at data
    std::uint32_t frame_length;  // bytes in the frame, at least length
    std::uint64_t time_ns;
};

// What the parser found in a packet it can meter.
struct PacketInfo {
    FlowKey key;
    std::uint8_t direction;  // 0: sent by key.address[0], 1: by key.address[1]
    std::uint8_t tcp_flags;
    std::uint8_t ttl;              // IPv4 TTL or IPv6 hop limit
    std::uint16_t ip_length;       // IPv4 total length, IPv6 payload length + 40
    std::uint16_t payload_offset;  // first byte after the L4 header
    std::uint16_t payload_length;  // bytes of L4 payload inside the frame
};

}  // namespace sluice::meter
