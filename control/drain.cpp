// Takes flow records out of the workers' rings, in bursts, as the dataplane's only consumer.
#include "control/drain.hpp"

#include <rte_ring_elem.h>

#include "sluice/log.hpp"

namespace sluice::control {

bool Drain::attach(const shm::StatsZone& zone) {
    rings_.clear();
    for (unsigned w = 0; w < zone.header.worker_count; ++w) {
        const shm::RingName name(w);
        rte_ring* ring = rte_ring_lookup(name.text);
        if (ring == nullptr) {
            SLUICE_ERROR("the dataplane announces %u workers but has no ring %s",
                         zone.header.worker_count, name.text);
            return false;
        }
        rings_.push_back(ring);
    }
    return true;
}

std::size_t Drain::poll(std::vector<FlowRecord>& out) {
    out.resize(rings_.size() * kBurst);
    std::size_t n = 0;
    for (rte_ring* ring : rings_)
        n += rte_ring_sc_dequeue_burst_elem(ring, out.data() + n, sizeof(FlowRecord), kBurst,
                                            nullptr);
    out.resize(n);
    return n;
}

std::size_t Drain::waiting() const {
    std::size_t n = 0;
    for (const rte_ring* ring : rings_) n += rte_ring_count(ring);
    return n;
}

}  // namespace sluice::control
