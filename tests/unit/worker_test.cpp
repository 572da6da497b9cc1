// The worker loop on bursts made here, with a record ring in plain memory: no EAL, no port.
#include <gtest/gtest.h>
#include <rte_ring_elem.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "dataplane/meter/flow_table.hpp"
#include "dataplane/worker_loop.hpp"
#include "tools/pktgen/packet.hpp"

namespace sluice::dataplane {
namespace {

using namespace sluice::pktgen;
constexpr std::uint64_t kSec = 1'000'000'000;
constexpr std::uint64_t kT0 = 1'700'000'000 * kSec;

// Bursts of UDP packets, one flow per source address; each flow's packets `gap` apart.
struct FakeSource {
    static constexpr bool kTrace = true;
    std::vector<std::vector<std::uint8_t>> frames;
    std::vector<std::vector<PacketRef>> bursts;
    std::size_t next = 0;
    unsigned polls_after_end = 0;

    FakeSource(unsigned flows, unsigned packets_each, std::uint64_t gap) {
        frames.reserve(flows);
        for (unsigned f = 0; f < flows; ++f) {
            Packet p;
            p.src = ipv4(10, 0, static_cast<std::uint8_t>(f >> 8), static_cast<std::uint8_t>(f));
            p.dst = ipv4(192, 0, 2, 1);
            p.protocol = 17;
            p.src_port = 1000;
            p.dst_port = 53;
            p.payload = 100;
            frames.push_back(build(p));
        }
        for (unsigned k = 0; k < packets_each; ++k) {
            std::vector<PacketRef> burst;
            for (unsigned f = 0; f < flows; ++f) {
                const auto& frame = frames[f];
                const auto size = static_cast<std::uint32_t>(frame.size());
                burst.push_back({frame.data(), size, size, kT0 + k * gap});
                if (burst.size() == meter::kMaxBurst || f + 1 == flows) {
                    bursts.push_back(burst);
                    burst.clear();
                }
            }
        }
    }

    unsigned burst(Worker& w) {
        if (next == bursts.size()) return 0;
        const auto& b = bursts[next++];
        w.table->process(b.data(), static_cast<unsigned>(b.size()), w.port_id, *w.out);
        for (const PacketRef& p : b)
            w.output.last_time_ns = std::max(w.output.last_time_ns, p.time_ns);
        return static_cast<unsigned>(b.size());
    }

    bool idle(Worker&, unsigned) {
        ++polls_after_end;
        return true;
    }
};

struct Free {
    void operator()(void* p) const { std::free(p); }
};

class WorkerLoop : public ::testing::Test {
protected:
    // A worker with a table of `max_flows` and a ring of `ring_size` slots (a power of two; it
    // holds one less), whose flush waits `drain_ns` for room.
    void make(std::uint32_t max_flows, unsigned ring_size, std::uint64_t drain_ns = 1'000'000) {
        table_memory_.reset(std::aligned_alloc(64, meter::FlowTable::memory_size(max_flows)));
        table_ = std::make_unique<meter::FlowTable>(
            meter::FlowTableConfig{max_flows, 15 * kSec, 60 * kSec, 2 * kSec}, table_memory_.get(),
            meter::HashKey{{1, 2, 3, 4, 5, 6, 7, 8}});
        const ssize_t bytes = rte_ring_get_memsize_elem(sizeof(FlowRecord), ring_size);
        ASSERT_GT(bytes, 0);
        ring_memory_.reset(
            std::aligned_alloc(64, (static_cast<std::size_t>(bytes) + 63) / 64 * 64));
        auto* ring = static_cast<rte_ring*>(ring_memory_.get());
        ASSERT_EQ(rte_ring_init(ring, "test_records", ring_size, RING_F_SP_ENQ | RING_F_SC_DEQ), 0);
        stats_ = std::make_unique<shm::WorkerStats>();
        settings_ = std::make_unique<shm::FlowSettings>();
        out_ = std::make_unique<meter::RecordBuffer>();
        w_.ring = ring;
        w_.table = table_.get();
        w_.out = out_.get();
        w_.stats = stats_.get();
        w_.settings = settings_.get();
        // A guess is enough: it times the flush's wait and the publishing, both loosely.
        w_.tsc_hz = 2'000'000'000;
        w_.drain_timeout_ns = drain_ns;
        w_.go.store(true);
    }

    std::vector<FlowRecord> taken() {
        std::vector<FlowRecord> records;
        FlowRecord r;
        while (rte_ring_sc_dequeue_elem(w_.ring, &r, sizeof(r)) == 0) records.push_back(r);
        return records;
    }

    std::unique_ptr<void, Free> table_memory_, ring_memory_;
    std::unique_ptr<meter::FlowTable> table_;
    std::unique_ptr<shm::WorkerStats> stats_;
    std::unique_ptr<shm::FlowSettings> settings_;
    std::unique_ptr<meter::RecordBuffer> out_;
    Worker w_;
};

TEST_F(WorkerLoop, AtTheEndOfATraceEveryFlowLeavesAndTheCountersAreThere) {
    make(4096, 1024);
    FakeSource source(300, 3, kSec);
    EXPECT_EQ(run_worker(w_, source), 0);
    EXPECT_EQ(source.polls_after_end, 1u) << "the source's end ends the loop";
    EXPECT_EQ(stats_->state.load(), static_cast<std::uint32_t>(shm::WorkerState::trace_done));
    const auto records = taken();
    ASSERT_EQ(records.size(), 300u);
    for (const auto& r : records) {
        EXPECT_EQ(r.packets, 3u);
        EXPECT_EQ(r.end_reason, FlowEndReason::forced_end);
    }
    const MeterCounters m = shm::snapshot(stats_->meter);
    const OutputCounters o = shm::snapshot(stats_->output);
    EXPECT_EQ(m.packets, 900u);
    EXPECT_EQ(m.metered_packets, 900u);
    EXPECT_EQ(o.records_sent, 300u);
    EXPECT_EQ(o.records_not_sent, 0u);
    EXPECT_EQ(o.bursts, source.bursts.size());
    EXPECT_EQ(o.last_time_ns, kT0 + 2 * kSec);
    EXPECT_EQ(o.ring_capacity, 1023u);
}

TEST_F(WorkerLoop, TheFinalFlushIntoAFullRingCountsWhatDoesNotFitWithItsPacketsAndOctets) {
    make(4096, 64, 1'000'000);
    FakeSource source(200, 2, kSec);
    run_worker(w_, source);
    const auto records = taken();
    const OutputCounters o = shm::snapshot(stats_->output);
    EXPECT_EQ(records.size(), 63u) << "as many as the ring holds";
    EXPECT_EQ(o.records_sent, 63u);
    EXPECT_EQ(o.records_not_sent, 200u - 63u);
    std::uint64_t octets_taken = 0;
    for (const auto& r : records) octets_taken += r.octets;
    // Every packet is in a record taken or in one counted as not sent, and so is every octet.
    const MeterCounters m = shm::snapshot(stats_->meter);
    EXPECT_EQ(o.packets_not_sent, 2u * (200u - 63u));
    EXPECT_EQ(octets_taken + o.octets_not_sent, m.metered_octets);
    EXPECT_EQ(stats_->state.load(), static_cast<std::uint32_t>(shm::WorkerState::trace_done));
}

TEST_F(WorkerLoop, AWorkerStoppedBeforeItsFirstPollSaysItWasStopped) {
    make(4096, 1024);
    FakeSource source(10, 1, kSec);
    w_.stop.store(true);
    run_worker(w_, source);
    EXPECT_EQ(source.next, 0u) << "stopped before its first poll";
    EXPECT_EQ(stats_->state.load(), static_cast<std::uint32_t>(shm::WorkerState::stopped));
}

TEST_F(WorkerLoop, NewTimeoutsAreTakenAtABurstAndTheGenerationIsSaid) {
    make(4096, 1024);
    shm::publish(*settings_, {1 * kSec, 60 * kSec, 2 * kSec});  // idle 1 s; sequence 2
    FakeSource source(5, 2, 10 * kSec);  // each flow's second packet 10 s after its first
    run_worker(w_, source);
    EXPECT_EQ(w_.settings_sequence, 2u);
    EXPECT_EQ(stats_->settings_sequence.load(), 2u);
    const auto records = taken();
    ASSERT_EQ(records.size(), 10u) << "the 1 s idle timeout split every flow in two";
    unsigned idle = 0;
    for (const auto& r : records) idle += r.end_reason == FlowEndReason::idle_timeout;
    EXPECT_EQ(idle, 5u);
}

TEST_F(WorkerLoop, TimeoutsBeingWrittenAreNotTaken) {
    make(4096, 1024);
    settings_->idle_timeout_ns = 1 * kSec;
    settings_->sequence.store(3);  // odd: the writer is between its stores
    FakeSource source(5, 2, 10 * kSec);
    run_worker(w_, source);
    EXPECT_EQ(w_.settings_sequence, 0u);
    EXPECT_EQ(taken().size(), 5u) << "the table kept its 15 s idle timeout";
}

TEST_F(WorkerLoop, AFlushRequestExportsTheActiveFlowsWhileTheTraceGoesOn) {
    make(4096, 1024);
    settings_->flush_requests.store(1);
    FakeSource source(5, 2, kSec);  // two bursts: every flow's first packet, then its second
    run_worker(w_, source);
    EXPECT_EQ(w_.flush_requests, 1u);
    const auto records = taken();
    ASSERT_EQ(records.size(), 10u) << "flushed after the first burst, again at the end";
    for (const auto& r : records) EXPECT_EQ(r.packets, 1u);
}

// Looks at the memzone's counters as each burst is taken; the third burst takes longer than
// the publishing interval.
struct WatchingSource : FakeSource {
    using FakeSource::FakeSource;
    std::vector<std::uint64_t> published;

    unsigned burst(Worker& w) {
        published.push_back(shm::snapshot(w.stats->meter).packets);
        if (next == 2) rte_delay_us_sleep(5 * 1000 * kPublishMs);
        return FakeSource::burst(w);
    }
};

TEST(WorkerTime, WaitsOfSecondsAtGigahertzRatesDoNotOverflow) {
    EXPECT_EQ(tsc_cycles(10'000'000'000, 2'445'000'000), 24'450'000'000u);
    EXPECT_EQ(tsc_cycles(1'000'000, 2'000'000'000), 2'000'000u);
}

TEST_F(WorkerLoop, CountersReachTheMemzoneOnTimeNotAfterSoManyPolls) {
    make(4096, 1024);
    WatchingSource source(64, 4, kSec);  // four bursts of 64
    run_worker(w_, source);
    ASSERT_EQ(source.published.size(), 5u);
    EXPECT_EQ(source.published[1], 64u) << "the first poll publishes";
    EXPECT_EQ(source.published[3], 192u) << "a poll after the interval publishes";
}

TEST_F(WorkerLoop, CountersAreNotCopiedAtEveryPollWithinTheInterval) {
    make(4096, 1024);
    w_.tsc_hz = 2'000'000'000'000;  // a TSC so fast that the interval is seconds long
    WatchingSource source(64, 4, kSec);
    run_worker(w_, source);
    EXPECT_EQ(source.published, (std::vector<std::uint64_t>{0, 64, 64, 64, 64}))
        << "the first poll only";
    EXPECT_EQ(shm::snapshot(stats_->meter).packets, 256u) << "and at the end";
}

}  // namespace
}  // namespace sluice::dataplane
