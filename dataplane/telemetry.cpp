// DPDK telemetry commands of the primary: /sluice/stats, /sluice/ports and /sluice/worker, so
// dpdk-telemetry.py shows Sluice's counters next to DPDK's own.
#include "dataplane/telemetry.hpp"

#include <rte_telemetry.h>

#include <cstdlib>
#include <string>

namespace sluice::dataplane {
namespace {

const shm::StatsZone* g_zone = nullptr;  // the telemetry thread reads it, relaxed, word by word

// Every counter of `c` into the dict, each under prefix + its flat name.
template <typename S>
void add_all(rte_tel_data* d, const S& c, std::string_view prefix = {}) {
    flatten(c, prefix,
            [d](const CounterInfo&, std::string_view p, std::string_view name,
                std::string_view reason, std::uint64_t value) {
                const std::string key = std::string(p).append(name).append(reason);
                rte_tel_data_add_dict_u64(d, key.c_str(), value);
            });
}

// The counters of one worker, or (worker < 0) their sums.
void meter_dict(rte_tel_data* d, int worker) {
    MeterCounters m;
    OutputCounters o;
    const unsigned workers = g_zone->header.worker_count;
    for (unsigned w = 0; w < workers; ++w) {
        if (worker >= 0 && static_cast<unsigned>(worker) != w) continue;
        m += shm::snapshot(g_zone->workers[w].meter);
        o += shm::snapshot(g_zone->workers[w].output);
    }
    rte_tel_data_start_dict(d);
    add_all(d, m);
    add_all(d, o);
}

int stats(const char*, const char*, rte_tel_data* d) {
    meter_dict(d, -1);
    rte_tel_data_add_dict_u64(d, "workers", g_zone->header.worker_count);
    return 0;
}

int worker(const char*, const char* params, rte_tel_data* d) {
    if (params == nullptr || *params == '\0') return -1;
    char* end = nullptr;
    const long w = std::strtol(params, &end, 10);
    if (*end != '\0' || w < 0 || w >= static_cast<long>(g_zone->header.worker_count)) return -1;
    meter_dict(d, static_cast<int>(w));
    return 0;
}

int ports(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    for (unsigned p = 0; p < g_zone->header.port_count; ++p) {
        add_all(d, shm::snapshot(g_zone->ports[p].counters),
                "port" + std::to_string(g_zone->ports[p].port_id) + "_");
    }
    return 0;
}

}  // namespace

void register_telemetry(const shm::StatsZone& zone) {
    g_zone = &zone;
    rte_telemetry_register_cmd(
        "/sluice/stats", stats,
        "Sluice's metering counters, summed over the workers. No parameters");
    rte_telemetry_register_cmd("/sluice/worker", worker,
                               "One worker's metering counters. Parameters: int worker_id");
    rte_telemetry_register_cmd("/sluice/ports", ports,
                               "Each port's device counters and link. No parameters");
}

}  // namespace sluice::dataplane
