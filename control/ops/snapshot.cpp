// What sluice-control knows at one moment: the dataplane's counters from the stats memzone and
// its own collectors'. The control socket and the metrics endpoint both render from it.
#include "control/ops/snapshot.hpp"

#include <unistd.h>

#include <cstring>

#include "sluice/time.hpp"

namespace sluice::ops {
namespace {

std::string text(const char* field, std::size_t size) {
    return std::string(field, strnlen(field, size));
}

const char* dataplane_state(std::uint32_t s) {
    switch (static_cast<shm::DataplaneState>(s)) {
        case shm::DataplaneState::starting: return "starting";
        case shm::DataplaneState::running: return "running";
        case shm::DataplaneState::draining: return "draining";
        case shm::DataplaneState::stopped: return "stopped";
    }
    return "unknown";
}

const char* worker_state(std::uint32_t s) {
    switch (static_cast<shm::WorkerState>(s)) {
        case shm::WorkerState::running: return "running";
        case shm::WorkerState::trace_done: return "trace_done";
        case shm::WorkerState::stopped: return "stopped";
    }
    return "unknown";
}

}  // namespace

const char* state_name(control::SessionState s) {
    switch (s) {
        case control::SessionState::opening: return "opening";
        case control::SessionState::up: return "up";
        case control::SessionState::failing: return "failing";
        case control::SessionState::down: return "down";
    }
    return "unknown";
}

MeterCounters Snapshot::meter_total() const {
    MeterCounters t;
    for (const auto& w : workers) t += w.meter;
    return t;
}

shm::OutputCounters Snapshot::output_total() const {
    shm::OutputCounters t;
    for (const auto& w : workers) t += w.output;
    return t;
}

Snapshot take_snapshot(const shm::StatsZone& zone, const control::Exporter& exporter,
                       const Taken& taken, const std::string& file_prefix,
                       std::uint64_t control_start_ns, const Snapshot* previous) {
    const shm::StatsHeader& h = zone.header;
    Snapshot s;
    s.time_ns = wall_clock_ns();
    s.version = text(h.version, sizeof(h.version));
    s.sensor = text(h.sensor_name, sizeof(h.sensor_name));
    s.file_prefix = file_prefix;
    s.dataplane_state = dataplane_state(h.state.load(std::memory_order_acquire));
    s.dataplane_pid = h.dataplane_pid;
    s.control_pid = getpid();
    s.dataplane_start_ns = h.start_time_ns;
    s.control_start_ns = control_start_ns;
    s.config_generation = h.config_generation;
    for (unsigned p = 0; p < h.port_count && p < shm::kMaxPorts; ++p) {
        const shm::PortStats& ps = zone.ports[p];
        s.ports.push_back({ps.port_id, text(ps.device, sizeof(ps.device)), ps.rx_queues,
                           shm::snapshot(ps.counters)});
    }
    for (unsigned w = 0; w < h.worker_count && w < shm::kMaxWorkers; ++w) {
        const shm::WorkerStats& ws = zone.workers[w];
        WorkerSnapshot x;
        x.id = w;
        x.port = ws.port_id;
        x.queue = ws.queue;
        x.lcore = ws.lcore;
        x.cpu = ws.cpu;
        x.sampling = ws.sampling;
        x.sampling_deterministic = ws.sampling_deterministic;
        x.state = worker_state(ws.state.load(std::memory_order_relaxed));
        x.config_generation = ws.settings_sequence.load(std::memory_order_relaxed) / 2;
        x.meter = shm::snapshot(ws.meter);
        x.output = shm::snapshot(ws.output);
        s.workers.push_back(x);
    }
    for (const auto& g : exporter.collectors())
        for (const auto& m : g->members())
            s.collectors.push_back({m->name(), m->describe(), state_name(m->state()),
                                    m->last_error(), m->counters(),
                                    g->is_group() ? g->name() : std::string(), m->config().spool});
    s.taken = taken;
    if (previous != nullptr && s.time_ns > previous->time_ns) {
        const double seconds = static_cast<double>(s.time_ns - previous->time_ns) / 1e9;
        const MeterCounters now = s.meter_total(), before = previous->meter_total();
        s.packets_per_second = static_cast<double>(now.packets - before.packets) / seconds;
        s.flows_per_second =
            static_cast<double>(now.flows_created - before.flows_created) / seconds;
        for (CollectorSnapshot& c : s.collectors)
            for (const CollectorSnapshot& p : previous->collectors)
                if (p.name == c.name && c.counters.spool_replayed >= p.counters.spool_replayed)
                    c.spool_replayed_per_second =
                        static_cast<double>(c.counters.spool_replayed - p.counters.spool_replayed) /
                        seconds;
    }
    return s;
}

}  // namespace sluice::ops
