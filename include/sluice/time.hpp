// The wall clock, in ns since the Unix epoch: the time records and heartbeats carry.
#pragma once

#include <cstdint>
#include <ctime>

namespace sluice {

inline std::uint64_t wall_clock_ns() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace sluice
