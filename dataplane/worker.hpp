// The worker loop: one lcore per RX queue, from rx_burst to the record ring.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>

#include "dataplane/clock.hpp"
#include "dataplane/meter/flow_table.hpp"
#include "shared/capture/capture.hpp"
#include "sluice/shm.hpp"

namespace sluice::dataplane {

// Everything a worker reads, built before it starts; only the worker writes what is below
// "its own". Cache-aligned, one per worker.
struct alignas(64) Worker {
    std::uint16_t port_id = 0;
    std::uint16_t queue = 0;
    bool trace = false;         // a trace replay: packet times come from the capture
    std::uint64_t tsc_hz = 0;   // the TSC's rate, for the waits and publishing; 0: DPDK's
    int timestamp_offset = -1;  // the mbuf dynfield of capture times, microseconds
    std::uint64_t timestamp_flag = 0;
    rte_ring* ring = nullptr;
    CaptureReader* capture = nullptr;  // read instead of the port's queue
    meter::FlowTable* table = nullptr;
    meter::RecordBuffer* out = nullptr;
    shm::WorkerStats* stats = nullptr;
    shm::FlowSettings* settings = nullptr;  // the timeouts a reload changes
    const Clock* clock = nullptr;
    std::uint64_t drain_timeout_ns = 10'000'000'000;  // how long a flush waits for ring room

    // Set by the main lcore: start polling (a trace waits for a control to take its records);
    // flush every flow and return; or return at once.
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    std::atomic<bool> abort{false};

    // Its own.
    shm::OutputCounters output;
    std::uint64_t settings_sequence = 0;  // of the timeouts its table has
    std::uint64_t flush_requests = 0;     // flushes asked for and begun
    bool flushing = false;                // a flush in progress, a share per burst
    std::uint64_t top_requests = 0;       // "top" requests begun
    bool scanning = false;                // a scan for the largest flows in progress
    meter::LargestFlows largest;
};

// How often a worker copies its counters to the stats memzone, in TSC time.
inline constexpr unsigned kPublishMs = 1;

// `ns` in cycles of a TSC of `hz`, without overflowing for waits of seconds at GHz rates.
constexpr std::uint64_t tsc_cycles(std::uint64_t ns, std::uint64_t hz) {
    __extension__ typedef unsigned __int128 u128;
    return static_cast<std::uint64_t>(static_cast<u128>(ns) * hz / 1'000'000'000);
}

// The lcore function: picks the worker's packet source, meters until stopped (or until the
// source ends), then flushes (worker_loop.hpp).
int worker_main(void* worker);

// The end of the run or of the source: every flow leaves (forcedEnd, or the timeout that had
// already fallen), waiting for room in the ring as long as the control is draining it; then
// the last counters and the worker's state (`ended`: trace_done, otherwise stopped).
void finish(Worker& w, bool ended);

// Hands the buffered records to the ring. A record that does not fit is counted as not sent,
// with its packets and octets, once `wait_ns` has passed without the control making room (0:
// at once, as a live worker must; a trace replay or a flush waits).
void send_records(Worker& w, std::uint64_t wait_ns);

}  // namespace sluice::dataplane
