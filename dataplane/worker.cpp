// The worker loop: one lcore per RX queue, from rx_burst to the record ring.
#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>

#include <algorithm>
#include <cstring>

#include "dataplane/worker_loop.hpp"
#include "sluice/log.hpp"

namespace sluice::dataplane {
namespace {

constexpr unsigned kRxBurst = 32;
// Two rx_bursts when the first comes back full: the metering core takes both at once.
static_assert(meter::kMaxBurst >= 2 * kRxBurst);
constexpr unsigned kTraceEndPolls = 4;  // empty polls of a replayed trace that mean its end
constexpr unsigned kHeaderBytes = 256;  // what the parser may need of a scattered frame
constexpr unsigned kScanBuckets = 256;  // buckets a "top" scan looks at per poll
static_assert(meter::LargestFlows::kFlows == shm::kTopFlows);

// A port's RX queue: up to two rx_bursts, metered, the mbufs freed. Live traffic takes the
// clock's time; a trace replayed through the port (net_pcap) takes each packet's own, and ends
// when the queue stays empty. The flow table prefetches the packets' data.
template <bool Trace>
struct QueueSource {
    static constexpr bool kTrace = Trace;
    rte_mbuf* mbufs[meter::kMaxBurst];
    PacketRef refs[meter::kMaxBurst];
    alignas(64) std::uint8_t headers[meter::kMaxBurst][kHeaderBytes];

    unsigned burst(Worker& w) {
        unsigned n = rte_eth_rx_burst(w.port_id, w.queue, mbufs, kRxBurst);
        if (n == kRxBurst) n += rte_eth_rx_burst(w.port_id, w.queue, mbufs + n, kRxBurst);
        if (n == 0) return 0;
        const std::uint64_t now = Trace ? 0 : w.clock->now_ns();
        std::uint64_t newest = now;
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* m = mbufs[i];
            const std::uint8_t* data = rte_pktmbuf_mtod(m, const std::uint8_t*);
            std::uint32_t length = m->data_len;
            if (m->nb_segs > 1 && length < kHeaderBytes) {
                // Headers split across segments: gather the first bytes.
                length = std::min<std::uint32_t>(kHeaderBytes, m->pkt_len);
                data = static_cast<const std::uint8_t*>(rte_pktmbuf_read(m, 0, length, headers[i]));
            }
            std::uint64_t t = now;
            if constexpr (Trace)
                t = (m->ol_flags & w.timestamp_flag) != 0
                        ? *RTE_MBUF_DYNFIELD(m, w.timestamp_offset, std::uint64_t*) * 1000
                        : w.output.last_time_ns;
            refs[i] = {data, length, m->pkt_len, t};
            newest = std::max(newest, t);
        }
        w.table->process(refs, n, w.port_id, *w.out);
        rte_pktmbuf_free_bulk(mbufs, n);
        w.output.last_time_ns = std::max(w.output.last_time_ns, newest);
        return n;
    }

    bool idle(Worker& w, unsigned empty_polls) {
        if constexpr (Trace) {
            // net_pcap reads the file synchronously: nothing left to read is its end.
            return empty_polls >= kTraceEndPolls;
        } else {
            w.output.last_time_ns = w.clock->now_ns();  // time goes on without packets
            return false;
        }
    }
};

// A capture the worker reads itself, straight from the reader's buffer.
struct CaptureSource {
    static constexpr bool kTrace = true;
    PacketRef refs[meter::kMaxBurst];

    unsigned burst(Worker& w) {
        const unsigned n = w.capture->next(refs, meter::kMaxBurst);
        if (!w.capture->notices().empty()) [[unlikely]] {
            for (const std::string& notice : w.capture->notices())
                SLUICE_WARN("%s", notice.c_str());
            w.capture->notices().clear();
        }
        if (n == 0) return 0;
        std::uint64_t newest = w.output.last_time_ns;
        for (unsigned i = 0; i < n; ++i) newest = std::max(newest, refs[i].time_ns);
        w.table->process(refs, n, w.port_id, *w.out, w.capture->link());
        w.output.last_time_ns = newest;
        return n;
    }

    bool idle(Worker& w, unsigned) {
        if (!w.capture->error().empty())
            SLUICE_ERROR("the capture stops early: %s; the packets before it are metered",
                         w.capture->error().c_str());
        return true;  // read synchronously: nothing now is nothing ever
    }
};

}  // namespace

void take_settings(Worker& w) {
    const std::uint64_t flushes = w.settings->flush_requests.load(std::memory_order_relaxed);
    if (flushes != w.flush_requests) {
        w.flush_requests = flushes;
        w.flushing = true;
    }
    // A flush goes a record buffer's worth at a time, so packets keep being taken meanwhile.
    if (w.flushing) w.flushing = !w.table->flush(w.output.last_time_ns, *w.out);
    const std::uint64_t tops = w.settings->top_requests.load(std::memory_order_relaxed);
    if (tops != w.top_requests) {
        w.top_requests = tops;
        w.scanning = true;
        w.largest.count = 0;
    }
    if (w.scanning && w.table->scan_largest(kScanBuckets, w.largest)) {
        w.scanning = false;
        w.largest.sort();
        shm::TopFlows& top = w.stats->top;
        std::memcpy(top.flows, w.largest.flows, w.largest.count * sizeof(FlowRecord));
        top.count = w.largest.count;
        top.answered.store(tops, std::memory_order_release);
    }
    if (w.settings->sequence.load(std::memory_order_relaxed) == w.settings_sequence) return;
    shm::FlowTimeouts t;
    std::uint64_t sequence = 0;
    if (!shm::read(*w.settings, sequence, t)) return;  // being written: the next burst
    w.table->set_timeouts(t.idle_timeout_ns, t.active_timeout_ns, t.tcp_end_grace_ns);
    w.settings_sequence = sequence;
    w.stats->settings_sequence.store(sequence, std::memory_order_relaxed);
}

// The slots of the whole units at the front of `records` that fit in `room`.
std::uint32_t units_within(const FlowRecord* records, std::uint32_t count, std::uint32_t room) {
    std::uint32_t n = 0;
    while (n < count && n + unit_slots(records[n]) <= room) n += unit_slots(records[n]);
    return n;
}

void send_records(Worker& w, std::uint64_t wait_ns) {
    meter::RecordBuffer& out = *w.out;
    if (out.count == 0) return;  // most polls: nothing ended
    std::uint32_t sent = 0;
    const std::uint64_t deadline = wait_ns != 0 ? rte_rdtsc() + tsc_cycles(wait_ns, w.tsc_hz) : 0;
    while (true) {
        // Whole units: a record and its extensions go into the ring together. The worker is
        // the ring's only producer, so the room it sees is there.
        const std::uint32_t n =
            units_within(out.records + sent, out.count - sent, rte_ring_free_count(w.ring));
        sent += rte_ring_sp_enqueue_bulk_elem(w.ring, out.records + sent, sizeof(FlowRecord), n,
                                              nullptr);
        if (sent == out.count || wait_ns == 0 || rte_rdtsc() >= deadline ||
            w.abort.load(std::memory_order_relaxed))
            break;
        rte_delay_us_sleep(100);  // only while flushing: the control is draining
    }
    for (std::uint32_t i = 0; i < out.count; ++i) {
        const FlowRecord& r = out.records[i];
        if (is_extension(r)) continue;
        if (i < sent) {
            ++w.output.records_sent;
            continue;
        }
        ++w.output.records_not_sent;
        w.output.packets_not_sent += r.packets + r.reverse_packets;
        w.output.octets_not_sent += r.octets + r.reverse_octets;
    }
    out.count = 0;
}

void finish(Worker& w, bool ended) {
    // A flush in progress is finished first: the table's flush goes on from where it was.
    for (int round = w.flushing ? 2 : 1; round > 0; --round) {
        while (!w.abort.load(std::memory_order_relaxed)) {
            const bool done = w.table->flush(w.output.last_time_ns, *w.out);
            send_records(w, w.drain_timeout_ns);
            if (done) break;
        }
    }
    publish(w);
    w.stats->state.store(static_cast<std::uint32_t>(ended ? shm::WorkerState::trace_done
                                                          : shm::WorkerState::stopped),
                         std::memory_order_release);
}

int worker_main(void* arg) {
    Worker& w = *static_cast<Worker*>(arg);
    if (w.tsc_hz == 0) w.tsc_hz = rte_get_tsc_hz();
    if (w.capture != nullptr) {
        CaptureSource source;
        return run_worker(w, source);
    }
    if (w.trace) {
        QueueSource<true> source;
        return run_worker(w, source);
    }
    QueueSource<false> source;
    return run_worker(w, source);
}

}  // namespace sluice::dataplane
