// The shared-memory contract between sluice-dataplane and sluice-control: names and layouts.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>

#include "sluice/config.hpp"
#include "sluice/counters.hpp"
#include "sluice/record.hpp"

namespace sluice::shm {

// Bumped whenever a layout below changes; a control of another layout refuses to attach.
inline constexpr std::uint32_t kStatsLayoutVersion = 7;
inline constexpr std::uint32_t kStatsMagic = 0x534c5354;  // "SLST"

inline constexpr unsigned kMaxPorts = 32;
// DPDK has 128 lcore ids (RTE_MAX_LCORE): the dataplane's main lcore, its workers, and the
// control's, the last.
inline constexpr unsigned kMaxWorkers = 126;

// Names stay below RTE_MEMZONE_NAMESIZE and RTE_RING_NAMESIZE (32).
inline constexpr char kStatsZone[] = "sluice_stats";

// The ring worker `worker` writes its records to: "sluice_rec_3".
struct RingName {
    char text[32];
    explicit RingName(unsigned worker) {
        std::snprintf(text, sizeof(text), "sluice_rec_%u", worker);
    }
};

// Where sluice-control keeps what must outlive it while the dataplane of `file_prefix` runs:
// the batch of the rings in hand and each collector's records and counters.
inline std::string control_state_prefix(const std::string& file_prefix) {
    return "/dev/shm/sluice-" + file_prefix + "-";
}

enum class DataplaneState : std::uint32_t {
    starting = 0,
    running = 1,
    draining = 2,  // flows flushed; waiting for the control to empty the rings
    stopped = 3,
};

enum class WorkerState : std::uint32_t {
    running = 0,
    trace_done = 1,  // its trace port is exhausted and its flows are flushed
    stopped = 2,     // flushed on request
};

// Written once by the dataplane at start, except `state`, the control's heartbeat and
// `config_generation` (the control's, at a reload).
struct alignas(64) StatsHeader {
    std::uint32_t magic;  // written last, with release: the rest of the header is then there
    std::uint32_t layout_version;
    std::uint32_t record_layout_version;
    std::int32_t dataplane_pid;
    std::uint32_t port_count;
    std::uint32_t worker_count;
    std::uint64_t start_time_ns;  // wall clock, ns since the Unix epoch
    std::uint64_t config_generation;
    char sensor_name[64];
    char version[32];
    std::atomic<std::uint32_t> state;  // DataplaneState
    std::uint32_t trace_replay;        // 1 when every port replays a trace
    // Written by sluice-control every 100 ms while it drains the rings, so the dataplane knows
    // whether waiting for it at shutdown is worth it.
    std::atomic<std::int32_t> control_pid;
    std::atomic<std::uint64_t> control_heartbeat_ns;  // wall clock
};
static_assert(sizeof(StatsHeader) == 192);

using sluice::OutputCounters;
using sluice::PortCounters;

struct alignas(64) PortStats {
    PortCounters counters;
    std::uint16_t port_id;
    std::uint16_t rx_queues;
    std::uint8_t reserved[4];
    char device[64];
};
static_assert(sizeof(PortStats) == 128);

// A worker's answer to the latest "top" request: its largest active flows by octets, largest
// first. The worker writes the flows, then `answered` (release); sluice-control asks again only
// after reading them, so a reader never meets a half-written answer.
inline constexpr unsigned kTopFlows = 20;
struct alignas(64) TopFlows {
    std::atomic<std::uint64_t> answered;  // the top_requests value these flows answer
    std::uint64_t count;
    FlowRecord flows[kTopFlows];
};

// One worker's counters, on cache lines of their own; only that worker writes them.
struct alignas(64) WorkerStats {
    MeterCounters meter;
    OutputCounters output;
    std::uint32_t port_id;
    std::uint32_t queue;
    std::uint32_t lcore;
    std::uint32_t cpu;
    std::uint32_t sampling;       // one packet in this many metered ([[port]] sampling); 1: all
    bool sampling_deterministic;  // the first of each interval, else one at random
    std::atomic<std::uint32_t> state;  // WorkerState
    // The FlowSettings sequence whose timeouts the worker's table has taken (generation * 2).
    std::atomic<std::uint64_t> settings_sequence;
    TopFlows top;
};

// The [flow] timeouts in force. sluice-control writes them at a reload; each worker compares
// `sequence` at a burst boundary and takes the new values, without a lock: a seqlock, odd
// while being written. sequence / 2 is the configuration generation.
struct alignas(64) FlowSettings {
    std::atomic<std::uint64_t> sequence;
    std::uint64_t idle_timeout_ns;
    std::uint64_t active_timeout_ns;
    std::uint64_t tcp_end_grace_ns;
    // Raised by sluice-control to have every worker export all its flows now (forcedEnd).
    std::atomic<std::uint64_t> flush_requests;
    // Raised by sluice-control to have every worker list its largest flows (WorkerStats::top).
    std::atomic<std::uint64_t> top_requests;
};

struct FlowTimeouts {
    std::uint64_t idle_timeout_ns = 0;
    std::uint64_t active_timeout_ns = 0;
    std::uint64_t tcp_end_grace_ns = 0;
};

// The single writer (the dataplane at start, then sluice-control).
inline void publish(FlowSettings& s, const FlowTimeouts& t) {
    const std::uint64_t seq = s.sequence.load(std::memory_order_relaxed);
    s.sequence.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    std::atomic_ref<std::uint64_t>(s.idle_timeout_ns)
        .store(t.idle_timeout_ns, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(s.active_timeout_ns)
        .store(t.active_timeout_ns, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(s.tcp_end_grace_ns)
        .store(t.tcp_end_grace_ns, std::memory_order_relaxed);
    s.sequence.store(seq + 2, std::memory_order_release);
}

// A reader: true and the values when a whole, settled write was read.
inline bool read(FlowSettings& s, std::uint64_t& sequence, FlowTimeouts& t) {
    const std::uint64_t before = s.sequence.load(std::memory_order_acquire);
    if (before & 1) return false;
    t.idle_timeout_ns =
        std::atomic_ref<std::uint64_t>(s.idle_timeout_ns).load(std::memory_order_relaxed);
    t.active_timeout_ns =
        std::atomic_ref<std::uint64_t>(s.active_timeout_ns).load(std::memory_order_relaxed);
    t.tcp_end_grace_ns =
        std::atomic_ref<std::uint64_t>(s.tcp_end_grace_ns).load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.sequence.load(std::memory_order_relaxed) != before) return false;
    sequence = before;
    return true;
}

struct StatsZone {
    StatsHeader header;
    FlowSettings flow_settings;
    PortStats ports[kMaxPorts];
    WorkerStats workers[kMaxWorkers];
};

// Hands the [flow] timeouts to the workers (the dataplane at start, the control at a reload);
// returns the configuration generation they make, also in the header.
inline std::uint64_t publish_timeouts(StatsZone& zone, const config::Flow& flow) {
    publish(zone.flow_settings, {static_cast<std::uint64_t>(flow.idle_timeout.count()),
                                 static_cast<std::uint64_t>(flow.active_timeout.count()),
                                 static_cast<std::uint64_t>(flow.tcp_end_grace.count())});
    zone.header.config_generation = zone.flow_settings.sequence.load(std::memory_order_relaxed) / 2;
    return zone.header.config_generation;
}

// Copies a struct of 64-bit counters word by word with relaxed atomic stores (the writer) or
// loads (a reader in the other process): no torn words, no locks, no fences on the hot path.
template <typename T>
void publish(T& shared, const T& local) {
    static_assert(sizeof(T) % 8 == 0 && std::is_trivially_copyable_v<T>);
    auto* dst = reinterpret_cast<std::uint64_t*>(&shared);
    const auto* src = reinterpret_cast<const std::uint64_t*>(&local);
    for (std::size_t i = 0; i < sizeof(T) / 8; ++i)
        std::atomic_ref<std::uint64_t>(dst[i]).store(src[i], std::memory_order_relaxed);
}

template <typename T>
T snapshot(const T& shared) {
    static_assert(sizeof(T) % 8 == 0 && std::is_trivially_copyable_v<T>);
    T out;
    auto* dst = reinterpret_cast<std::uint64_t*>(&out);
    auto* src = const_cast<std::uint64_t*>(reinterpret_cast<const std::uint64_t*>(&shared));
    for (std::size_t i = 0; i < sizeof(T) / 8; ++i)
        dst[i] = std::atomic_ref<std::uint64_t>(src[i]).load(std::memory_order_relaxed);
    return out;
}

}  // namespace sluice::shm
