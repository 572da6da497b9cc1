// Takes flow records out of the workers' rings, in bursts, as the dataplane's only consumer.
// A batch stays in a journal of /dev/shm until the next, and leaves the rings only once it is
// there: a control killed at any moment leaves it to the next one, which offers it to the
// collectors that had not taken it yet.
#pragma once

#include <rte_ring.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "control/export/shared_file.hpp"
#include "sluice/counters.hpp"
#include "sluice/record.hpp"
#include "sluice/shm.hpp"

namespace sluice::control {

class Drain {
public:
    static constexpr unsigned kBurst = 256;

    struct Batch {
        std::span<const FlowRecord> records;
        std::uint64_t number = 0;  // from 1; each collector takes a batch once
    };

    // Finds the ring of every worker the header announces; false after saying which is
    // missing. With `journal` (a path), the batches are kept there, and what a killed control
    // left there is taken up: then `left_over()` is its last batch.
    bool attach(const shm::StatsZone& zone, const std::string& journal = {});
    Batch left_over() const { return left_over_; }

    // Takes up to kBurst records from each ring.
    Batch poll();

    // Records waiting in all rings.
    std::size_t waiting() const;
    // What the controls of this dataplane took from its rings (with a journal, every one's).
    const TakenCounters& taken() const;
    // The dataplane has gone: the journal is of no more use.
    void remove_journal();

private:
    struct Journal;
    void start_journal(const shm::StatsZone& zone);
    void take_up();
    void count_taken(std::uint64_t batch);

    std::vector<rte_ring*> rings_;
    std::unique_ptr<SharedFile> file_;  // without a journal: this process's memory
    Journal* j_ = nullptr;
    FlowRecord* staged_ = nullptr;
    Batch left_over_;
};

}  // namespace sluice::control
