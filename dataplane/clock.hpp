// Wall-clock time from the TSC: the main lcore publishes (wall-clock ns, TSC) anchors, and a
// worker turns its one TSC reading per burst into nanoseconds with a multiply. Readers never
// wait on the writer: a sequence counter tells them to read again when an anchor moved.
#pragma once

#include <rte_cycles.h>

#include <atomic>
#include <cstdint>
#include <ctime>

#include "sluice/time.hpp"

namespace sluice::dataplane {

class Clock {
public:
    // Main lcore: once at start, then every ~100 ms so TSC drift never accumulates.
    void anchor() {
        const std::uint64_t wall = wall_clock_ns();
        const std::uint64_t tsc = rte_rdtsc();
        if (ns_per_tick_q32_ == 0)
            ns_per_tick_q32_ = (std::uint64_t{1'000'000'000} << 32) / rte_get_tsc_hz();
        const std::uint32_t seq = seq_.load(std::memory_order_relaxed);
        seq_.store(seq + 1, std::memory_order_relaxed);  // odd: being written
        std::atomic_thread_fence(std::memory_order_release);
        wall_ns_.store(wall, std::memory_order_relaxed);
        tsc_.store(tsc, std::memory_order_relaxed);
        seq_.store(seq + 2, std::memory_order_release);
    }

    // Any lcore: now, in ns since the Unix epoch.
    std::uint64_t now_ns() const {
        std::uint64_t wall, tsc, tsc_now;
        std::uint32_t seq;
        do {
            seq = seq_.load(std::memory_order_acquire);
            wall = wall_ns_.load(std::memory_order_relaxed);
            tsc = tsc_.load(std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_acquire);
            tsc_now = rte_rdtsc();  // after the anchor, so never before it
        } while ((seq & 1) != 0 || seq != seq_.load(std::memory_order_relaxed));
        __extension__ typedef unsigned __int128 u128;
        return wall + static_cast<std::uint64_t>(
                          (static_cast<u128>(tsc_now - tsc) * ns_per_tick_q32_) >> 32);
    }

private:
    alignas(64) std::atomic<std::uint32_t> seq_{0};
    std::atomic<std::uint64_t> wall_ns_{0};
    std::atomic<std::uint64_t> tsc_{0};
    std::uint64_t ns_per_tick_q32_ = 0;  // set before workers start, then read-only
};

}  // namespace sluice::dataplane
