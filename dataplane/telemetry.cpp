// DPDK telemetry commands of the primary: /sluice/stats, /sluice/ports and /sluice/worker, so
// dpdk-telemetry.py shows Sluice's counters next to DPDK's own.
#include "telemetry.hpp"

#include <rte_telemetry.h>

#include <cstdlib>
#include <string>

namespace sluice::dataplane {
namespace {

const shm::StatsZone* g_zone = nullptr;  // the telemetry thread reads it, relaxed, word by word

void add(rte_tel_data* d, const std::string& name, std::uint64_t value) {
    rte_tel_data_add_dict_u64(d, name.c_str(), value);
}

// The counters of one worker, or (worker < 0) their sums.
void meter_dict(rte_tel_data* d, int worker) {
    MeterCounters m;
    shm::OutputCounters o;
    const unsigned workers = g_zone->header.worker_count;
    for (unsigned w = 0; w < workers; ++w) {
        if (worker >= 0 && static_cast<unsigned>(worker) != w) continue;
        m += shm::snapshot(g_zone->workers[w].meter);
        o += shm::snapshot(g_zone->workers[w].output);
    }
    rte_tel_data_start_dict(d);
    add(d, "packets", m.packets);
    add(d, "octets", m.octets);
    add(d, "metered_packets", m.metered_packets);
    add(d, "metered_octets", m.metered_octets);
    add(d, "ignored_ip_octets", m.ignored_ip_octets);
    for (std::size_t r = 0; r < kIgnoreReasons; ++r)
        add(d, "ignored_" + std::string(kIgnoreReasonNames[r].name), m.ignored_packets[r]);
    add(d, "flows_created", m.flows_created);
    add(d, "flows_active", m.flows_active);
    for (std::size_t r = 1; r < kEndReasons; ++r)
        add(d, "flows_ended_" + std::string(kEndReasonNames[r]), m.flows_ended[r]);
    add(d, "evictions", m.evictions);
    add(d, "application_scans", m.application_scans);
    add(d, "flows_identified", m.flows_identified);
    add(d, "records_sent", o.records_sent);
    add(d, "records_not_sent", o.records_not_sent);
    add(d, "packets_not_sent", o.packets_not_sent);
    add(d, "ring_used", o.ring_used);
    add(d, "ring_capacity", o.ring_capacity);
}

int stats(const char*, const char*, rte_tel_data* d) {
    meter_dict(d, -1);
    add(d, "workers", g_zone->header.worker_count);
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
        const shm::PortCounters c = shm::snapshot(g_zone->ports[p].counters);
        const std::string n = "port" + std::to_string(g_zone->ports[p].port_id) + "_";
        add(d, n + "ipackets", c.ipackets);
        add(d, n + "ibytes", c.ibytes);
        add(d, n + "imissed", c.imissed);
        add(d, n + "ierrors", c.ierrors);
        add(d, n + "rx_nombuf", c.rx_nombuf);
        add(d, n + "link_up", c.link_up);
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
