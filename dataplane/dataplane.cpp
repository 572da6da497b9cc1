// The primary process after EAL: ports, tables, rings, workers, the stats memzone, and the
// main lcore's loop.
#include "dataplane/dataplane.hpp"

#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <systemd/sd-daemon.h>

#include <chrono>
#include <cstdio>
#include <new>

#include "dataplane/equip.hpp"
#include "dataplane/l7/extractor.hpp"
#include "dataplane/telemetry.hpp"
#include "shared/config/loader.hpp"
#include "shared/config/units.hpp"
#include "sluice/log.hpp"
#include "sluice/record.hpp"
#include "sluice/time.hpp"
#include "sluice_version.h"

namespace sluice::dataplane {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kTick = std::chrono::milliseconds(10);
constexpr auto kAnchorEvery = std::chrono::milliseconds(100);
constexpr auto kPortsEvery = std::chrono::seconds(1);
constexpr auto kDrainStall = std::chrono::seconds(3);    // no record drained for this long
constexpr auto kDrainLimit = std::chrono::seconds(60);   // and never longer than this
constexpr auto kControlWait = std::chrono::seconds(30);  // a capture waits for a control

std::uint64_t mib(std::uint64_t bytes) {
    return (bytes + (1u << 20) - 1) >> 20;
}

std::uint64_t ring_bytes(const config::Config& c) {
    return std::uint64_t{rte_align32pow2(c.flow.record_ring_size + 1)} * sizeof(FlowRecord) + 4096;
}

std::uint64_t metadata_bytes(const config::Config& c) {
    return c.metadata.enabled ? l7::Extractor::memory_size(c.metadata) : 0;
}

// A worker's flow table with what lies beside it.
std::uint64_t flow_table_bytes(const config::Config& c) {
    return meter::FlowTable::memory_size(meter::table_config(c));
}

std::uint64_t health_bytes(const config::Config& c) {
    return meter::FlowTable::memory_size(c.flow.max_flows, c.metadata.tcp_health) -
           meter::FlowTable::memory_size(c.flow.max_flows);
}

std::uint64_t tunnel_bytes(const config::Config& c) {
    return meter::FlowTable::memory_size(c.flow.max_flows, false, c.flow.tunnels() != 0) -
           meter::FlowTable::memory_size(c.flow.max_flows);
}

std::uint64_t headers_bytes(const config::Config& c) {
    return meter::FlowTable::memory_size(c.flow.max_flows, false, false, c.metadata.headers) -
           meter::FlowTable::memory_size(c.flow.max_flows);
}

std::uint64_t table_bytes(const config::Config& c) {
    return flow_table_bytes(c) + sizeof(meter::FlowTable) + sizeof(meter::RecordBuffer) +
           sizeof(Worker) + 3 * 64 + metadata_bytes(c);
}

// The ports' deduplication sets, one a queue.
std::uint64_t dedup_bytes(const config::Config& c) {
    std::uint64_t bytes = 0;
    for (const config::Port& p : c.ports)
        if (p.deduplicate.count() > 0)
            bytes += std::uint64_t{p.rx_queues} *
                     (meter::Deduplicator::memory_size(
                          static_cast<std::uint64_t>(p.deduplicate.count())) +
                      sizeof(meter::Deduplicator) + 128);
    return bytes;
}

std::uint64_t mbuf_bytes(const config::Config& c, std::uint16_t data_room) {
    return std::uint64_t{mbufs_needed(c)} * (sizeof(rte_mbuf) + data_room + 64);
}

void* zalloc(const char* what, std::size_t bytes) {
    void* p = rte_zmalloc(what, bytes, 64);
    if (p == nullptr)
        SLUICE_ERROR("cannot allocate %llu MiB of hugepage memory for %s",
                     static_cast<unsigned long long>(mib(bytes)), what);
    return p;
}

}  // namespace

std::uint64_t memory_needed(const config::Config& c, std::uint16_t mbuf_data_room) {
    const std::uint64_t workers = c.dataplane.worker_cores.cpus.size();
    return workers * (table_bytes(c) + ring_bytes(c)) + dedup_bytes(c) +
           mbuf_bytes(c, mbuf_data_room) + sizeof(shm::StatsZone) + (64ull << 20);
}

// The record rings and the stats memzone stay: sluice-control may still read the last records
// and the final counters after this process has gone. EAL releases them with the hugepages.
Dataplane::~Dataplane() {
    for (Worker* w : workers_) {
        if (w == nullptr) continue;
        if (w->table != nullptr) w->table->~FlowTable();
        rte_free(w->table);
        rte_free(w->out);
        w->~Worker();
        rte_free(w);
    }
    stop_ports(ports_);
    rte_mempool_free(pool_);
    equipment_.clear();
    for (void* m : metadata_memory_) rte_free(m);
    for (void* m : dedup_memory_) rte_free(m);
}

bool Dataplane::start() {
    const auto& c = config_;
    unsigned lcore = 0;
    RTE_LCORE_FOREACH_WORKER(lcore) lcores_.push_back(lcore);

    const std::uint16_t data_room = mbuf_data_room(c);
    const std::uint64_t need = memory_needed(c, data_room);
    if (need > c.dataplane.hugepage_memory) {
        const auto workers = lcores_.size();
        SLUICE_ERROR(
            "this configuration needs %llu MiB of hugepage memory, [dataplane] hugepage_memory "
            "gives %llu MiB: flow tables %llu MiB (%zu x %u flows, %llu MiB of it metadata, "
            "%llu MiB TCP health, %llu MiB tunnels, %llu MiB headers), record rings %llu MiB, "
            "packet buffers %llu MiB. Set hugepage_memory = \"%lluMiB\" (and reserve that many "
            "hugepages: tools/setup, SLUICE_HUGEPAGES), or lower [flow] max_flows or "
            "record_ring_size, or [metadata] flows, or set [metadata] tcp_health = false or "
            "headers = false or [flow] decapsulate = []",
            static_cast<unsigned long long>(mib(need)),
            static_cast<unsigned long long>(mib(c.dataplane.hugepage_memory)),
            static_cast<unsigned long long>(mib(workers * table_bytes(c))), workers,
            c.flow.max_flows, static_cast<unsigned long long>(mib(workers * metadata_bytes(c))),
            static_cast<unsigned long long>(mib(workers * health_bytes(c))),
            static_cast<unsigned long long>(mib(workers * tunnel_bytes(c))),
            static_cast<unsigned long long>(mib(workers * headers_bytes(c))),
            static_cast<unsigned long long>(mib(workers * ring_bytes(c))),
            static_cast<unsigned long long>(mib(mbuf_bytes(c, data_room))),
            static_cast<unsigned long long>(mib(need)));
        return false;
    }

    clock_.anchor();
    pool_ = rte_pktmbuf_pool_create("sluice_mbufs", mbufs_needed(c), 256, 0, data_room,
                                    static_cast<int>(rte_socket_id()));
    if (pool_ == nullptr) {
        SLUICE_ERROR("cannot create the packet buffer pool (%u mbufs of %u bytes): %s",
                     mbufs_needed(c), data_room, rte_strerror(rte_errno));
        return false;
    }
    stats_zone_ =
        rte_memzone_reserve_aligned(shm::kStatsZone, sizeof(shm::StatsZone), SOCKET_ID_ANY, 0, 64);
    if (stats_zone_ == nullptr) {
        SLUICE_ERROR("cannot reserve the stats memzone: %s", rte_strerror(rte_errno));
        return false;
    }
    stats_ = new (stats_zone_->addr) shm::StatsZone{};
    shm::StatsHeader& h = stats_->header;
    h.layout_version = shm::kStatsLayoutVersion;
    h.record_layout_version = kRecordLayoutVersion;
    h.dataplane_pid = getpid();
    h.start_time_ns = wall_clock_ns();
    shm::publish_timeouts(*stats_, c.flow);  // generation 1
    std::snprintf(h.sensor_name, sizeof(h.sensor_name), "%s", c.sensor.name.c_str());
    std::snprintf(h.version, sizeof(h.version), "%s", SLUICE_VERSION);
    // Last: a control that sees the magic number reads the whole header.
    std::atomic_ref<std::uint32_t>(h.magic).store(shm::kStatsMagic, std::memory_order_release);

    if (!load_applications()) return false;
    if (!start_ports(c, pool_, ports_)) return false;
    if (!allocate_workers()) return false;
    register_telemetry(*stats_);

    bool all_traces = !ports_.empty();
    for (const auto& p : ports_) all_traces &= p.trace;
    h.port_count = static_cast<std::uint32_t>(ports_.size());
    h.worker_count = static_cast<std::uint32_t>(workers_.size());
    h.trace_replay = all_traces ? 1 : 0;
    link_up_.assign(ports_.size(), 2);
    refresh_ports();

    for (std::size_t i = 0; i < workers_.size(); ++i) {
        const int rc = rte_eal_remote_launch(worker_main, workers_[i], lcores_[i]);
        if (rc != 0) {
            SLUICE_ERROR("cannot start worker %zu on lcore %u: %s", i, lcores_[i],
                         rte_strerror(-rc));
            stop_workers(true);
            return false;
        }
    }
    h.state.store(static_cast<std::uint32_t>(shm::DataplaneState::running),
                  std::memory_order_release);
    return true;
}

// The signatures compiled once for every worker; each worker gets a scratch of its own.
bool Dataplane::load_applications() {
    const auto& a = config_.applications;
    const std::string path = config::signatures_path(config_);
    if (path.empty()) return true;
    std::vector<std::string> errors;
    applications_ = appid::Database::load(path, errors);
    for (const auto& e : errors) SLUICE_ERROR("%s", e.c_str());
    if (!applications_) return false;
    scratch_prototype_ = std::make_unique<appid::Scratch>(*applications_);
    log_identification(*applications_, path, a);
    return true;
}

bool Dataplane::allocate_workers() {
    const auto& c = config_;
    const meter::HashKey key = meter::random_hash_key();
    std::size_t index = 0;
    for (const Port& port : ports_) {
        for (std::uint16_t q = 0; q < port.config->rx_queues; ++q, ++index) {
            if (index >= lcores_.size() || index >= shm::kMaxWorkers) {
                SLUICE_ERROR("the ports have more RX queues than there are worker cores");
                return false;
            }
            auto* w = new (zalloc("a worker", sizeof(Worker))) Worker{};
            workers_.push_back(w);
            w->port_id = port.id;
            w->queue = q;
            w->trace = port.trace;
            w->capture = port.capture.get();
            w->timestamp_offset = port.timestamp_offset;
            w->timestamp_flag = port.timestamp_flag;
            w->clock = &clock_;
            void* memory = zalloc("a flow table", flow_table_bytes(c));
            void* table = zalloc("a flow table", sizeof(meter::FlowTable));
            void* out = zalloc("a record buffer", sizeof(meter::RecordBuffer));
            if (memory == nullptr || table == nullptr || out == nullptr) return false;
            w->table = new (table) meter::FlowTable(meter::table_config(c), memory, key);
            void* slots = nullptr;
            if (c.metadata.enabled) {
                slots = zalloc("metadata", l7::Extractor::memory_size(c.metadata));
                if (slots == nullptr) return false;
                metadata_memory_.push_back(slots);
            }
            meter::Deduplicator* dedup = nullptr;
            if (const auto window = static_cast<std::uint64_t>(port.config->deduplicate.count());
                window != 0) {
                void* buckets = zalloc("deduplication", meter::Deduplicator::memory_size(window));
                void* set = zalloc("deduplication", sizeof(meter::Deduplicator));
                dedup_memory_.push_back(buckets);
                dedup_memory_.push_back(set);
                if (buckets == nullptr || set == nullptr) return false;
                dedup = new (set) meter::Deduplicator(window, buckets, key);
            }
            equipment_.push_back(equip(*w->table, c, *port.config, scratch_prototype_.get(), slots,
                                       dedup, key.k[4] + index));
            const std::uint32_t sampling = port.config->sampling_interval();
            w->out = new (out) meter::RecordBuffer{};
            const shm::RingName name(static_cast<unsigned>(index));
            w->ring = rte_ring_create_elem(name.text, sizeof(FlowRecord), c.flow.record_ring_size,
                                           SOCKET_ID_ANY,
                                           RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
            if (w->ring == nullptr) {
                SLUICE_ERROR("cannot create the record ring %s (%u records): %s", name.text,
                             c.flow.record_ring_size, rte_strerror(rte_errno));
                return false;
            }
            shm::WorkerStats& s = stats_->workers[index];
            w->stats = &s;
            w->settings = &stats_->flow_settings;
            w->settings_sequence = stats_->flow_settings.sequence.load(std::memory_order_relaxed);
            s.settings_sequence.store(w->settings_sequence, std::memory_order_relaxed);
            w->flush_requests =
                stats_->flow_settings.flush_requests.load(std::memory_order_relaxed);
            s.port_id = port.id;
            s.queue = q;
            s.lcore = lcores_[index];
            s.cpu = c.dataplane.worker_cores.cpus[index];
            s.sampling = sampling;
            s.sampling_deterministic = port.config->deterministic;
            const config::Duration window = port.config->deduplicate;
            std::string options;
            if (window.count() != 0)
                options += ", a frame repeated within " + config::format_duration(window) +
                           " ignored (duplicate)";
            if (sampling > 1)
                options += ", one packet in " + std::to_string(sampling) + " metered (" +
                           (port.config->deterministic ? "the first" : "one at random") +
                           " of each " + std::to_string(sampling) + ")";
            SLUICE_INFO(
                "worker %zu: lcore %u on CPU %u, port %u queue %u, %llu flows (%llu MiB), "
                "ring of %u records%s",
                index, s.lcore, s.cpu, port.id, q,
                static_cast<unsigned long long>(w->table->capacity()),
                static_cast<unsigned long long>(mib(flow_table_bytes(c))), c.flow.record_ring_size,
                options.c_str());
        }
    }
    return true;
}

void Dataplane::refresh_ports() {
    for (std::size_t i = 0; i < ports_.size() && i < shm::kMaxPorts; ++i) {
        const Port& p = ports_[i];
        rte_eth_stats st{};
        rte_eth_link link{};
        if (p.capture) {
            // A capture has no device: what its worker read is what the port received. Its
            // worker is the one of the same index (captures only, one queue each).
            const MeterCounters read = shm::snapshot(stats_->workers[i].meter);
            st.ipackets = read.packets;
            st.ibytes = read.octets;
            link.link_status = 1;
        } else {
            rte_eth_stats_get(p.id, &st);
            rte_eth_link_get_nowait(p.id, &link);
        }
        shm::PortStats& ps = stats_->ports[i];
        shm::publish(ps.counters,
                     shm::PortCounters{st.ipackets, st.ibytes, st.imissed, st.ierrors, st.rx_nombuf,
                                       link.link_status, link.link_speed});
        ps.port_id = p.id;
        ps.rx_queues = p.config->rx_queues;
        std::snprintf(ps.device, sizeof(ps.device), "%s", p.name.c_str());
        if (link_up_[i] != 2 && link_up_[i] != link.link_status) {
            SLUICE_INFO("port %u (%s): %s", p.id, p.name.c_str(), link_text(link).c_str());
        }
        link_up_[i] = link.link_status;
    }
}

bool Dataplane::all_traces_done() const {
    if (stats_->header.trace_replay == 0) return false;
    for (const Worker* w : workers_)
        if (w->stats->state.load(std::memory_order_acquire) ==
            static_cast<std::uint32_t>(shm::WorkerState::running))
            return false;
    return true;
}

void Dataplane::stop_workers(bool abort) {
    for (Worker* w : workers_) {
        if (abort) w->abort.store(true, std::memory_order_relaxed);
        w->stop.store(true, std::memory_order_relaxed);
    }
}

int Dataplane::run(const sigset_t& signals) {
    SLUICE_INFO("ready: sensor \"%s\", file_prefix \"%s\", %zu workers",
                config_.sensor.name.c_str(), config_.dataplane.file_prefix.c_str(),
                workers_.size());
    sd_notifyf(0, "READY=1\nSTATUS=metering on %zu ports with %zu workers\nMAINPID=%d",
               ports_.size(), workers_.size(), getpid());
    auto next_anchor = SteadyClock::now() + kAnchorEvery;
    auto next_ports = SteadyClock::now() + kPortsEvery;
    const timespec tick{0, std::chrono::nanoseconds(kTick).count()};
    bool stopping = false;
    bool aborted = false;
    // A live port is read at once. A capture waits for sluice-control (up to kControlWait), so
    // none of its records is lost for want of a reader.
    const bool trace = stats_->header.trace_replay != 0;
    const auto go_deadline = SteadyClock::now() + kControlWait;
    bool going = false;

    // Runs until every worker has flushed: after a stop signal, or when the traces end.
    while (true) {
        const int sig = sigtimedwait(&signals, nullptr, &tick);
        if (sig > 0) {
            if (!stopping) {
                SLUICE_INFO(
                    "SIG%s received: flushing every flow to sluice-control (a second "
                    "signal stops at once)",
                    sigabbrev_np(sig));
                sd_notify(0, "STOPPING=1");
                stopping = true;
                stop_workers(false);
            } else {
                SLUICE_WARN(
                    "SIG%s received again: stopping at once; flows and records not yet "
                    "exported are lost",
                    sigabbrev_np(sig));
                aborted = true;
                stop_workers(true);
            }
        }
        const auto now = SteadyClock::now();
        if (!going && (!trace || control_alive() || now >= go_deadline)) {
            if (trace && !control_alive())
                SLUICE_WARN(
                    "no sluice-control attached within %lld s: replaying the capture "
                    "anyway; its records will be counted as not sent",
                    static_cast<long long>(
                        std::chrono::duration_cast<std::chrono::seconds>(kControlWait).count()));
            for (Worker* w : workers_) w->go.store(true, std::memory_order_release);
            going = true;
        }
        if (now >= next_anchor) {
            clock_.anchor();
            next_anchor = now + kAnchorEvery;
        }
        if (now >= next_ports) {
            refresh_ports();
            next_ports = now + kPortsEvery;
        }
        if (!stopping && all_traces_done()) {
            SLUICE_INFO("every capture has been replayed and its flows flushed");
            stopping = true;
            stop_workers(false);
        }
        bool finished = true;
        for (const Worker* w : workers_)
            finished &= w->stats->state.load(std::memory_order_acquire) !=
                        static_cast<std::uint32_t>(shm::WorkerState::running);
        if (stopping && finished) break;
    }
    rte_eal_mp_wait_lcore();
    stats_->header.state.store(static_cast<std::uint32_t>(shm::DataplaneState::draining),
                               std::memory_order_release);
    if (!aborted) wait_for_drain();
    refresh_ports();
    stats_->header.state.store(static_cast<std::uint32_t>(shm::DataplaneState::stopped),
                               std::memory_order_release);
    return aborted ? 1 : 0;
}

// Gives a running sluice-control time to take the last records; what is left is reported and
// counted as not sent.
bool Dataplane::control_alive() const {
    const std::uint64_t beat = stats_->header.control_heartbeat_ns.load(std::memory_order_acquire);
    return beat != 0 && wall_clock_ns() - beat < 1'000'000'000;
}

void Dataplane::wait_for_drain() {
    const auto start = SteadyClock::now();
    auto last_progress = start;
    std::uint64_t left = ~0ull;
    while (true) {
        std::uint64_t now_left = 0;
        for (const Worker* w : workers_) now_left += rte_ring_count(w->ring);
        if (now_left == 0) return;
        const auto now = SteadyClock::now();
        if (now_left < left) last_progress = now;
        left = now_left;
        if (!control_alive() || now - last_progress > kDrainStall || now - start > kDrainLimit)
            break;
        rte_delay_us_sleep(10'000);
    }
    if (control_alive()) {
        SLUICE_WARN("sluice-control stopped draining: %llu records stay in the rings",
                    static_cast<unsigned long long>(left));
        return;  // never dequeue under a consumer that may still be running
    }
    SLUICE_WARN(
        "%llu records were left in the rings with no sluice-control to export them; "
        "they are counted as not sent",
        static_cast<unsigned long long>(left));
    for (Worker* w : workers_) {
        FlowRecord r;
        while (rte_ring_sc_dequeue_elem(w->ring, &r, sizeof(r)) == 0) {
            --w->output.records_sent;
            ++w->output.records_not_sent;
            w->output.packets_not_sent += r.packets + r.reverse_packets;
            w->output.octets_not_sent += r.octets + r.reverse_octets;
        }
        shm::publish(w->stats->output, w->output);
    }
}

}  // namespace sluice::dataplane
