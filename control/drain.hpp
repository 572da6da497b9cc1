// Takes flow records out of the workers' rings, in bursts, as the dataplane's only consumer.
#pragma once

#include <rte_ring.h>

#include <cstddef>
#include <vector>

#include "sluice/record.hpp"
#include "sluice/shm.hpp"

namespace sluice::control {

class Drain {
public:
    static constexpr unsigned kBurst = 256;

    // Finds the ring of every worker the header announces; false after saying which is missing.
    bool attach(const shm::StatsZone& zone);

    // Moves up to kBurst records from each ring into `out` (which it clears); returns how many.
    std::size_t poll(std::vector<FlowRecord>& out);

    // Records waiting in all rings.
    std::size_t waiting() const;

private:
    std::vector<rte_ring*> rings_;
};

}  // namespace sluice::control
