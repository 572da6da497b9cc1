// A packet's bytes as the metering core takes them, from an mbuf or from a capture's buffer.
#pragma once

#include <cstdint>

namespace sluice {

// A packet as the worker hands it over: its first bytes (an mbuf's first segment), the whole
// frame's length, and its time (the burst's clock reading, or the packet's own capture time
// when replaying a trace).
struct PacketRef {
    const std::uint8_t* data;
    std::uint32_t length;        // bytes at data
    std::uint32_t frame_length;  // bytes in the frame, at least length
    std::uint64_t time_ns;
};

}  // namespace sluice
