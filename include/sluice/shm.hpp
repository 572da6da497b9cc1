// The shared-memory contract between sluice-dataplane and sluice-control: names and layouts.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::shm {

// Bumped whenever a layout below changes; a control of another layout refuses to attach.
inline constexpr std::uint32_t kStatsLayoutVersion = 1;
inline constexpr std::uint32_t kStatsMagic = 0x534c5354;  // "SLST"

// Memzone names stay below RTE_MEMZONE_NAMESIZE (32).
inline constexpr char kStatsZone[] = "sluice_stats";

enum class DataplaneState : std::uint32_t { starting = 0, running = 1, draining = 2, stopped = 3 };

// The head of the stats memzone, written once by the dataplane at start, except `state`.
struct alignas(64) StatsHeader {
    std::uint32_t magic;
    std::uint32_t layout_version;
    std::int32_t dataplane_pid;
    std::uint32_t port_count;
    std::uint32_t worker_count;
    std::uint32_t reserved;
    std::uint64_t start_time_ns;  // wall clock, ns since the Unix epoch
    std::uint64_t config_generation;
    char sensor_name[64];
    char version[32];
    std::atomic<std::uint32_t> state;  // DataplaneState
};
static_assert(sizeof(StatsHeader) == 192);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace sluice::shm
