// The primary process after EAL: ports, tables, rings, workers, the stats memzone, and the
// main lcore's loop (clock, port counters, link state, trace end, signals).
#pragma once

#include <rte_mempool.h>
#include <rte_memzone.h>

#include <csignal>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/appid/classifier.hpp"
#include "dataplane/clock.hpp"
#include "dataplane/equip.hpp"
#include "dataplane/l7/extractor.hpp"
#include "dataplane/ports.hpp"
#include "dataplane/worker.hpp"
#include "sluice/config.hpp"
#include "sluice/shm.hpp"

namespace sluice::dataplane {

// Hugepage bytes the configuration needs: flow tables, record rings, mbufs, counters, and a
// margin for DPDK's own structures.
std::uint64_t memory_needed(const config::Config& c, std::uint16_t mbuf_data_room);

class Dataplane {
public:
    // `captures`: the capture ports, opened before EAL (open_captures).
    Dataplane(const config::Config& c, std::vector<Port> captures)
        : config_(c), ports_(std::move(captures)) {}
    ~Dataplane();
    Dataplane(const Dataplane&) = delete;
    Dataplane& operator=(const Dataplane&) = delete;

    // Allocates and starts everything, then launches the workers; false after printing why.
    bool start();

    // The main lcore's loop, until a stop signal or the end of every trace. `signals` are
    // blocked in every thread and taken here. Returns the exit status.
    int run(const sigset_t& signals);

private:
    bool load_applications();
    bool allocate_workers();
    void refresh_ports();
    bool all_traces_done() const;
    void stop_workers(bool abort);
    void wait_for_drain();
    bool control_alive() const;

    const config::Config& config_;
    Clock clock_;
    rte_mempool* pool_ = nullptr;
    const rte_memzone* stats_zone_ = nullptr;
    shm::StatsZone* stats_ = nullptr;
    std::vector<Port> ports_;
    std::vector<Worker*> workers_;
    std::vector<unsigned> lcores_;
    std::vector<std::uint32_t> link_up_;
    std::unique_ptr<appid::Database> applications_;  // null: identification off
    std::unique_ptr<appid::Scratch> scratch_prototype_;
    std::vector<Equipment> equipment_;    // a worker's each
    std::vector<void*> metadata_memory_;  // its extractor's slots, in hugepages
    std::vector<void*> dedup_memory_;     // each port queue's Deduplicator and its buckets
};

}  // namespace sluice::dataplane
