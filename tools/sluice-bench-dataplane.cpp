// sluice-bench-dataplane: the real worker loop behind rx_burst, on a net_ring port that a
// generator lcore feeds with 64-byte packets built beforehand. Prints one JSON object per run.
#include <getopt.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "dataplane/worker.hpp"
#include "tools/pktgen/workload.hpp"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

struct Options {
    std::uint32_t flows = 1'000'000;
    std::uint64_t packets = 100'000'000;
    bool zipf = true;
    bool generator_only = false;  // measure the generator against a consumer that only frees
    std::string prefix = "sluice-bench";
};

int fail(const char* what) {
    std::fprintf(stderr, "sluice-bench-dataplane: %s: %s\n", what, rte_strerror(rte_errno));
    return 1;
}

// Frees what the generator sends, and nothing else: the generator's own ceiling.
int drain_only(void* arg) {
    auto& w = *static_cast<dataplane::Worker*>(arg);
    rte_mbuf* mbufs[64];
    while (!w.stop.load(std::memory_order_relaxed)) {
        const unsigned n = rte_eth_rx_burst(w.port_id, 0, mbufs, 64);
        rte_pktmbuf_free_bulk(mbufs, n);
        w.output.bursts += n;
    }
    return 0;
}

// Enqueues `count` packets of the ids' flows in turn, as a NIC would deliver them: each in an
// mbuf from the pool the worker frees into, its frame copied from the flow's prebuilt one.
void generate(rte_ring* rx, rte_mempool* pool, const std::uint8_t* frames,
              const std::vector<std::uint32_t>& ids, std::uint64_t count) {
    rte_mbuf* burst[32];
    std::size_t pos = 0;
    for (std::uint64_t sent = 0; sent < count;) {
        while (rte_pktmbuf_alloc_bulk(pool, burst, 32) != 0) rte_pause();
        for (unsigned i = 0; i < 32; ++i) {
            rte_mbuf* m = burst[i];
            std::memcpy(rte_pktmbuf_mtod(m, void*), frames + std::size_t{ids[pos]} * 64, 64);
            m->data_len = m->pkt_len = pktgen::kFrameBytes;
            pos = pos + 1 == ids.size() ? 0 : pos + 1;
        }
        unsigned done = 0;
        while (done < 32)
            done += rte_ring_enqueue_burst(rx, reinterpret_cast<void**>(burst + done), 32 - done,
                                           nullptr);
        sent += 32;
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    static const option options[] = {
        {"flows", required_argument, nullptr, 'f'}, {"packets", required_argument, nullptr, 'n'},
        {"uniform", no_argument, nullptr, 'u'},     {"generator-only", no_argument, nullptr, 'g'},
        {"help", no_argument, nullptr, 'h'},        {nullptr, 0, nullptr, 0}};
    for (int opt; (opt = getopt_long(argc, argv, "f:n:ugh", options, nullptr)) != -1;) {
        switch (opt) {
            case 'f':
                o.flows = static_cast<std::uint32_t>(std::strtoul(optarg, nullptr, 10));
                break;
            case 'n': o.packets = std::strtoull(optarg, nullptr, 10); break;
            case 'u': o.zipf = false; break;
            case 'g': o.generator_only = true; break;
            default:
                std::fprintf(opt == 'h' ? stdout : stderr,
                             "usage: sluice-bench-dataplane [--flows N] [--packets N] [--uniform] "
                             "[--generator-only]\nThe worker loop on lcore 1 (CPU 1) behind a "
                             "net_ring port fed by the main lcore (CPU 0). Needs ~1.5 GiB of "
                             "hugepages for 1M flows.\n");
                return opt == 'h' ? 0 : 2;
        }
    }
    std::vector<std::string> args{"sluice-bench-dataplane",
                                  "--no-pci",
                                  "--lcores=0@0,1@1",
                                  "--main-lcore=0",
                                  "-m",
                                  "1600",
                                  "--file-prefix=" + o.prefix,
                                  "--huge-unlink",  // no process attaches: nothing left behind
                                  "--log-level=warning"};
    std::vector<char*> argv_eal;
    for (auto& a : args) argv_eal.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv_eal.size()), argv_eal.data()) < 0) return fail("EAL");

    // Packets: one prebuilt 64-byte frame per flow; mbufs as a NIC's RX ring would hold.
    rte_mempool* pool =
        rte_pktmbuf_pool_create("bench_pkts", 16383, 256, 0, 2048 + RTE_PKTMBUF_HEADROOM, 0);
    if (pool == nullptr) return fail("packet pool");
    auto* frames = static_cast<std::uint8_t*>(rte_malloc("frames", std::size_t{o.flows} * 64, 64));
    if (frames == nullptr) return fail("frames");
    const auto base = pktgen::base_frame();
    for (std::uint32_t f = 0; f < o.flows; ++f)
        pktgen::write_frame(frames + std::size_t{f} * 64, base, f);
    std::mt19937_64 rng(42);
    const auto ids = pktgen::draw_flows(o.zipf, o.flows, 16'000'000, rng);
    std::vector<std::uint32_t> warm(o.flows);
    for (std::uint32_t f = 0; f < o.flows; ++f) warm[f] = f;

    // The port: a net_ring over a ring the generator fills.
    rte_ring* rx = rte_ring_create("bench_rx", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rx == nullptr) return fail("rx ring");
    const int port = rte_eth_from_ring(rx);
    if (port < 0) return fail("net_ring port");
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(static_cast<std::uint16_t>(port), 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(static_cast<std::uint16_t>(port), 0, 1024, 0, nullptr, pool) != 0 ||
        rte_eth_tx_queue_setup(static_cast<std::uint16_t>(port), 0, 1024, 0, nullptr) != 0 ||
        rte_eth_dev_start(static_cast<std::uint16_t>(port)) != 0)
        return fail("port setup");

    // The worker, as sluice-dataplane builds it: a table sized for 80% load.
    const std::uint32_t capacity = o.flows / 4 * 5;
    const shm::FlowTimeouts timeouts{15'000'000'000, 60'000'000'000, 2'000'000'000};
    void* memory = rte_zmalloc("flows", meter::FlowTable::memory_size(capacity), 64);
    auto* table = new (rte_zmalloc("table", sizeof(meter::FlowTable), 64)) meter::FlowTable(
        {capacity, timeouts.idle_timeout_ns, timeouts.active_timeout_ns, timeouts.tcp_end_grace_ns},
        memory, meter::random_hash_key());
    auto* out = new (rte_zmalloc("out", sizeof(meter::RecordBuffer), 64)) meter::RecordBuffer{};
    auto* stats = new (rte_zmalloc("stats", sizeof(shm::WorkerStats), 64)) shm::WorkerStats{};
    auto* settings =
        new (rte_zmalloc("settings", sizeof(shm::FlowSettings), 64)) shm::FlowSettings{};
    shm::publish(*settings, timeouts);
    auto* worker = new (rte_zmalloc("worker", sizeof(dataplane::Worker), 64)) dataplane::Worker{};
    dataplane::Clock clock;
    clock.anchor();
    worker->port_id = static_cast<std::uint16_t>(port);
    worker->ring = rte_ring_create_elem("bench_records", sizeof(FlowRecord), 1 << 20, 0,
                                        RING_F_SP_ENQ | RING_F_SC_DEQ);
    worker->table = table;
    worker->out = out;
    worker->stats = stats;
    worker->settings = settings;
    worker->settings_sequence = settings->sequence.load(std::memory_order_relaxed);
    worker->clock = &clock;
    worker->go.store(true);
    if (worker->ring == nullptr || memory == nullptr) return fail("worker memory");
    rte_eal_remote_launch(o.generator_only ? drain_only : dataplane::worker_main, worker, 1);

    auto processed = [&] {
        return o.generator_only ? worker->output.bursts : shm::snapshot(stats->meter).packets;
    };
    // Warm-up: every flow once, so the table holds them all; the worker publishes its counters
    // every millisecond, so wait for them to show.
    if (!o.generator_only) {
        generate(rx, pool, frames, warm, o.flows / 32 * 32);
        while (processed() < o.flows / 32 * 32 * 9 / 10) rte_delay_us_sleep(1000);
    }
    const std::uint64_t before = processed();
    const auto t0 = Clock::now();
    const std::uint64_t c0 = rte_rdtsc();
    generate(rx, pool, frames, ids, o.packets);
    while (rte_ring_count(rx) != 0) rte_pause();
    const std::uint64_t c1 = rte_rdtsc();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const std::uint64_t active = shm::snapshot(stats->meter).flows_active;
    worker->stop.store(true);
    rte_eal_wait_lcore(1);
    const double packets = static_cast<double>(o.packets);
    std::printf(
        "{\"case\": \"%s%s-%s\", \"flows\": %u, \"packet_size\": 64, \"distribution\": "
        "\"%s\", \"packets\": %llu, \"mpps\": %.2f, \"cycles_per_packet\": %.1f, "
        "\"table_active_flows\": %llu, \"worker_packets\": %llu}\n",
        o.generator_only ? "generator-only" : "worker-loop", "", o.zipf ? "zipf" : "uniform",
        o.flows, o.zipf ? "zipf" : "uniform", static_cast<unsigned long long>(o.packets),
        packets / seconds / 1e6, static_cast<double>(c1 - c0) / packets,
        static_cast<unsigned long long>(active),
        static_cast<unsigned long long>(processed() - before));
    rte_eal_cleanup();
    return 0;
}
