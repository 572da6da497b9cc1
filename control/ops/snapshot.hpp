// What sluice-control knows at one moment: the dataplane's counters from the stats memzone and
// its own collectors'. The control socket and the metrics endpoint both render from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/export/exporter.hpp"
#include "sluice/counters.hpp"
#include "sluice/shm.hpp"

namespace sluice::ops {

struct PortSnapshot {
    unsigned id = 0;
    std::string device;
    unsigned rx_queues = 0;
    shm::PortCounters counters;
};

struct WorkerSnapshot {
    unsigned id = 0, port = 0, queue = 0, lcore = 0, cpu = 0;
    unsigned sampling = 1;  // [[port]] sampling's N
    bool sampling_deterministic = false;
    std::string state;                    // running, trace_done, stopped
    std::uint64_t config_generation = 0;  // of the flow timeouts the worker has taken
    MeterCounters meter;
    shm::OutputCounters output;
};

struct CollectorSnapshot {
    std::string name;
    std::string destination;  // "udp 127.0.0.1:4739"
    std::string state;        // opening, up, failing, down
    std::string last_error;
    control::SessionCounters counters;
    std::string group;  // the collector this one is a member of; empty: not a group's
    std::string spool;  // its spool's folder; empty: none
    double spool_replayed_per_second = 0;  // over the last snapshot or so
};

using Taken = TakenCounters;

struct Snapshot {
    std::uint64_t time_ns = 0;  // wall clock of this snapshot
    std::string version;        // the dataplane's
    std::string sensor;
    std::string file_prefix;
    std::string dataplane_state;  // starting, running, draining, stopped
    int dataplane_pid = 0;
    bool one_process = false;  // `sluice pcap`'s: metering and export in one process
    int control_pid = 0;
    std::uint64_t dataplane_start_ns = 0;
    std::uint64_t control_start_ns = 0;
    std::uint64_t config_generation = 0;
    std::vector<PortSnapshot> ports;
    std::vector<WorkerSnapshot> workers;
    std::vector<CollectorSnapshot> collectors;
    Taken taken;
    // Over the last second or so: packets the workers received and flows they created.
    double packets_per_second = 0;
    double flows_per_second = 0;

    MeterCounters meter_total() const;
    shm::OutputCounters output_total() const;
};

const char* state_name(control::SessionState s);

// Reads the memzone and the exporter; `previous` (may be empty) gives the rates.
Snapshot take_snapshot(const shm::StatsZone& zone, const control::Exporter& exporter,
                       const Taken& taken, const std::string& file_prefix,
                       std::uint64_t control_start_ns, const Snapshot* previous);

}  // namespace sluice::ops
