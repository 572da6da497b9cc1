// The worker loop over a packet source chosen once, at start: a device queue, a trace replayed
// through one, or a capture read straight from memory. A header, so tests run it on bursts of
// their own, without EAL.
#pragma once

#include <rte_cycles.h>
#include <rte_ring.h>

#include <cstring>
#include <type_traits>

#include "dataplane/worker.hpp"

namespace sluice::dataplane {

// A packet source S meters one burst with `unsigned S::burst(Worker&)` (the packets it took;
// 0: none), says after a poll without packets whether it has ended with `bool S::idle(Worker&,
// unsigned empty_polls)`, and says with S::kTrace whether its records wait for room in the ring
// (a trace, whose time is its own) or are counted as not sent at once (live traffic).

inline void publish(Worker& w) {
    w.output.ring_used = rte_ring_count(w.ring);
    w.output.ring_capacity = rte_ring_get_capacity(w.ring);
    shm::publish(w.stats->meter, w.table->counters());
    shm::publish(w.stats->output, w.output);
}

// New timeouts from a reload, flush and "top" requests, taken between bursts: relaxed loads of a
// line that is written once in a long while.
void take_settings(Worker& w);

template <typename Source>
int run_worker(Worker& w, Source& source) {
    static_assert(std::is_same_v<decltype(Source::kTrace), const bool>);
    while (!w.go.load(std::memory_order_acquire) && !w.stop.load(std::memory_order_relaxed))
        rte_delay_us_sleep(1000);
    const std::uint64_t publish_every = tsc_cycles(kPublishMs * 1'000'000ull, w.tsc_hz);
    std::uint64_t next_publish = 0;
    unsigned empty_polls = 0;
    bool ended = false;
    while (!w.stop.load(std::memory_order_relaxed)) {
        if (const unsigned n = source.burst(w); n != 0) {
            ++w.output.bursts;
            empty_polls = 0;
        } else if (source.idle(w, ++empty_polls)) {
            ended = true;
            break;
        }
        take_settings(w);
        w.table->expire(w.output.last_time_ns, *w.out);
        send_records(w, Source::kTrace ? w.drain_timeout_ns : 0);
        if (const std::uint64_t now = rte_rdtsc(); now >= next_publish) {
            publish(w);
            next_publish = now + publish_every;
        }
    }
    finish(w, ended);
    return 0;
}

}  // namespace sluice::dataplane
