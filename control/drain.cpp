// Takes flow records out of the workers' rings, in bursts, as the dataplane's only consumer.
#include "control/drain.hpp"

#include <rte_ring_elem.h>
#include <rte_ring_peek.h>

#include <atomic>
#include <cstring>
#include <new>

#include "sluice/log.hpp"

namespace sluice::control {

// The last batch, with where it was in each ring: a batch is numbered once it is whole here,
// and then finished in the rings. Where the next one is in the rings goes in the other of two
// places, by the batch's parity; `copying` is the number of the batch copied over the staged
// records last, so they are the last batch's only when it is that one (every collector took
// the last one before the next is copied). The totals taken are in two slots too, the
// one in force naming the batch it includes, so that a batch is counted once.
struct Drain::Journal {
    static constexpr std::uint32_t kMagic = 0x534c4452;  // "SLDR"
    static constexpr std::uint32_t kLayout = 2 + (kRecordLayoutVersion << 16);
    struct Place {
        std::uint32_t staged;                     // slots of the batch
        std::uint32_t tail[shm::kMaxWorkers];     // each ring's consumer position before it
        std::uint32_t started[shm::kMaxWorkers];  // what it began to take of the ring
        std::uint32_t count[shm::kMaxWorkers];    // what it took: whole units
    };
    std::uint32_t magic;
    std::uint32_t layout;
    std::uint32_t workers;
    std::uint32_t reserved;
    std::uint64_t copying;
    std::uint64_t dataplane;
    std::uint64_t batch;
    Place place[2];
    TakenCounters taken[2];
    std::uint64_t taken_batch[2];
    std::uint32_t slot;
};

namespace {

constexpr std::size_t kJournalBytes = 4096;

void publish(std::uint64_t& field, std::uint64_t v) {
    std::atomic_ref<std::uint64_t>(field).store(v, std::memory_order_release);
}

// The slots of the whole units at the front of `slots`: the worker enqueues units whole, but
// a burst may end inside one, whose rest it takes next time.
unsigned complete_units(std::span<const FlowRecord> slots) {
    unsigned n = 0;
    while (n < slots.size()) {
        const unsigned want = unit_slots(slots[n]);
        unsigned k = 1;
        while (k < want && n + k < slots.size() && is_extension(slots[n + k])) ++k;
        if (k < want && n + k == slots.size()) break;
        n += k;
    }
    return n;
}

std::uint32_t consumer_tail(const rte_ring* r) {
    return __atomic_load_n(&r->cons.tail, __ATOMIC_ACQUIRE);
}

}  // namespace

bool Drain::attach(const shm::StatsZone& zone, const std::string& journal) {
    static_assert(sizeof(Journal) <= kJournalBytes);
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
    const std::size_t bytes = kJournalBytes + rings_.size() * kBurst * sizeof(FlowRecord);
    // Another size: another dataplane's workers, whose batch is of no use.
    file_ = SharedFile::open_sized(journal, bytes,
                                   "a kill of this control would lose the records it holds");
    auto* base = static_cast<std::uint8_t*>(file_->data());
    j_ = reinterpret_cast<Journal*>(base);
    staged_ = reinterpret_cast<FlowRecord*>(base + kJournalBytes);
    if (file_->found() && j_->magic == Journal::kMagic && j_->layout == Journal::kLayout &&
        j_->workers == rings_.size() && j_->dataplane == zone.header.start_time_ns)
        take_up();
    else
        start_journal(zone);
    return true;
}

void Drain::start_journal(const shm::StatsZone& zone) {
    // A start a killed control left unfinished is undone: those records are still in the ring.
    for (rte_ring* ring : rings_) rte_ring_dequeue_elem_finish(ring, 0);
    *j_ = Journal{};
    j_->layout = Journal::kLayout;
    j_->workers = static_cast<std::uint32_t>(rings_.size());
    j_->dataplane = zone.header.start_time_ns;
    std::atomic_ref<std::uint32_t>(j_->magic).store(Journal::kMagic, std::memory_order_release);
}

// The last batch is whole in the journal: whatever the rings did not finish of it, they do
// now; a start begun after it is undone. Counted in the totals taken if it was not yet, and
// offered again (each collector passes over it if it took it).
void Drain::take_up() {
    const Journal::Place& last = j_->place[j_->batch & 1];
    for (std::size_t w = 0; w < rings_.size(); ++w) {
        rte_ring* ring = rings_[w];
        const std::uint32_t tail = consumer_tail(ring);
        const bool unfinished = j_->batch != 0 && last.count[w] != 0 && tail == last.tail[w] &&
                                ring->cons.head - tail == last.started[w];
        rte_ring_dequeue_elem_finish(ring, unfinished ? last.count[w] : 0);
    }
    if (j_->batch != 0 && j_->copying == j_->batch) {
        if (j_->taken_batch[j_->slot] < j_->batch) count_taken(j_->batch);
        left_over_ = {{staged_, last.staged}, j_->batch};
    }
    SLUICE_INFO("took up the journal of an earlier sluice-control (%s): %lu records taken so far",
                file_->path().c_str(), static_cast<unsigned long>(taken().records));
}

// The staged batch joins the totals taken: added in the slot not in force, which then is.
void Drain::count_taken(std::uint64_t batch) {
    const std::uint32_t s = j_->slot;
    TakenCounters& t = j_->taken[1 - s];
    t = j_->taken[s];
    for (std::uint32_t i = 0, n = j_->place[batch & 1].staged; i < n; ++i) {
        if (is_extension(staged_[i])) continue;
        ++t.records;
        t.packets += staged_[i].packets + staged_[i].reverse_packets;
        t.octets += staged_[i].octets + staged_[i].reverse_octets;
    }
    j_->taken_batch[1 - s] = batch;
    std::atomic_ref<std::uint32_t>(j_->slot).store(1 - s, std::memory_order_release);
}

Drain::Batch Drain::poll() {
    const std::uint64_t batch = j_->batch + 1;
    Journal::Place& next = j_->place[batch & 1];
    publish(j_->copying, batch);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // before the records it announces
    std::uint32_t n = 0;
    for (std::size_t w = 0; w < rings_.size(); ++w) {
        next.tail[w] = consumer_tail(rings_[w]);
        next.started[w] = rte_ring_dequeue_burst_elem_start(rings_[w], staged_ + n,
                                                            sizeof(FlowRecord), kBurst, nullptr);
        // Whole units: one a burst cuts stays in the ring for the next.
        next.count[w] = complete_units({staged_ + n, next.started[w]});
        n += next.count[w];
    }
    if (n == 0) {
        for (rte_ring* ring : rings_) rte_ring_dequeue_elem_finish(ring, 0);
        return {};
    }
    next.staged = n;
    publish(j_->batch, batch);  // whole in the journal: it may leave the rings
    for (std::size_t w = 0; w < rings_.size(); ++w)
        rte_ring_dequeue_elem_finish(rings_[w], next.count[w]);
    count_taken(batch);
    return {{staged_, n}, batch};
}

const TakenCounters& Drain::taken() const {
    static const TakenCounters none{};
    return j_ != nullptr ? j_->taken[j_->slot] : none;
}

void Drain::remove_journal() {
    if (file_) file_->remove();
}

std::size_t Drain::waiting() const {
    std::size_t n = 0;
    for (const rte_ring* ring : rings_) n += rte_ring_count(ring);
    return n;
}

}  // namespace sluice::control
