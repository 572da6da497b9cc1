// DPDK telemetry commands of the primary: /sluice/stats, /sluice/ports and /sluice/worker, so
// dpdk-telemetry.py shows Sluice's counters next to DPDK's own.
#pragma once

#include "sluice/shm.hpp"

namespace sluice::dataplane {

// Registers the commands; they read `zone` (the stats memzone) until the process exits.
void register_telemetry(const shm::StatsZone& zone);

}  // namespace sluice::dataplane
