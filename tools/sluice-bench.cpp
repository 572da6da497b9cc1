// sluice-bench: measures the metering core (parser, flow table, expiry) on one core, on
// packets built in memory beforehand. Prints one JSON object per case.
#include <getopt.h>
#include <sched.h>
#include <sys/mman.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <x86intrin.h>
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

#include "dataplane/appid/classifier.hpp"
#include "dataplane/l7/extractor.hpp"
#include "dataplane/meter/flow_table.hpp"
#include "shared/capture/capture.hpp"
#include "shared/config/units.hpp"
#include "tools/bench/reference_meter.hpp"
#include "tools/pktgen/packet.hpp"
#include "tools/pktgen/workload.hpp"

namespace {

using namespace sluice;
using namespace sluice::meter;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kNsPerPacket = 40;  // simulated arrival gap: 25 Mpps
constexpr auto kDuplicate = static_cast<unsigned>(IgnoreReason::duplicate);

struct Options {
    bool quick = false;
    unsigned repeat = 5;
    int cpu = -1;
    std::string only;                  // run the cases whose name contains this
    std::string applications;          // a signature file: identification on
    std::string capture;               // a capture file to meter instead of the cases
    bool memory = false;               // measure the memory instead of the cases
    bool metadata = false;             // metadata extraction on, [metadata]'s defaults
    bool decapsulation = true;         // [flow]'s defaults: every tunnel taken out of
    std::uint64_t deduplicate_ns = 0;  // [[port]] deduplicate: 0, off
    bool headers = false;              // [metadata] headers
    bool reference = false;            // the rte_hash reference meter on the same packets
    unsigned workers = 0;              // cores metering at once, 1 to this many; 0: one
    std::uint64_t packets = 0;         // measured packets a run; 0: 40M (4M with --quick)
    bool instrument = false;           // callgrind counts the measured runs only
    const appid::Database* database = nullptr;
    const appid::Scratch* scratch = nullptr;
};

struct Case {
    std::string name;
    std::string distribution;  // zipf, uniform, new-flow-flood
    std::uint32_t flows;
    bool ipv6 = false;   // IPv6 frames (66 bytes on the wire) instead of IPv4 (64)
    bool tcp = false;    // TCP ACKs instead of UDP datagrams (64 bytes): what TCP health reads
    bool vxlan = false;  // each frame inside VXLAN (VNI 100; 114 bytes on the wire)
};

// With --metadata, an extractor of [metadata]'s defaults for `table`, its slots in memory of
// its own.
struct Metadata {
    std::unique_ptr<std::uint8_t, decltype(&std::free)> memory{nullptr, &std::free};
    std::unique_ptr<l7::Extractor> extractor;

    Metadata(const struct Options& o, FlowTable& table) {
        if (!o.metadata) return;
        const config::Metadata c;
        const std::size_t bytes = (l7::Extractor::memory_size(c) + 63) & ~std::size_t{63};
        memory.reset(static_cast<std::uint8_t*>(std::aligned_alloc(64, bytes)));
        extractor = std::make_unique<l7::Extractor>(c, memory.get());
        table.extract_metadata(extractor->hook());
    }
};

// The flow table of `capacity` flows: [flow]'s timeouts and tunnels (unless
// --no-decapsulation), TCP health with --metadata, the header fields with --headers.
FlowTableConfig table_config(const struct Options& o, std::uint32_t capacity) {
    return {capacity,
            15'000'000'000,
            60'000'000'000,
            2'000'000'000,
            o.metadata && config::Metadata{}.tcp_health,
            o.decapsulation ? decapsulation(config::Flow{}) : Decapsulation{},
            o.headers};
}

// With --deduplicate, the set of a port queue's recent frames for `table`.
struct Dedup {
    std::unique_ptr<void, decltype(&std::free)> memory{nullptr, &std::free};
    std::unique_ptr<Deduplicator> set;

    Dedup(const struct Options& o, FlowTable& table) {
        if (o.deduplicate_ns == 0) return;
        const std::size_t bytes = Deduplicator::memory_size(o.deduplicate_ns);
        memory.reset(std::aligned_alloc(64, bytes));
        std::memset(memory.get(), 0, bytes);
        set = std::make_unique<Deduplicator>(o.deduplicate_ns, memory.get(), random_hash_key());
        table.deduplicate(set.get());
    }
};

// Memory on 2 MB pages where the kernel has them (transparent hugepages), as the dataplane's
// tables live on hugepages: the TLB would otherwise dominate a table of a gigabyte.
template <typename T>
class HugeArray {
public:
    explicit HugeArray(std::size_t n) : bytes_((n * sizeof(T) + kHuge - 1) / kHuge * kHuge) {
        // Reserved 2 MB pages first (tools/setup reserves them), else transparent ones.
        void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        hugetlb_ = p != MAP_FAILED;
        if (!hugetlb_)
            p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            std::fprintf(stderr, "sluice-bench: out of memory for %zu bytes\n", bytes_);
            std::exit(1);
        }
        madvise(p, bytes_, MADV_HUGEPAGE);
        data_ = static_cast<T*>(p);
    }
    ~HugeArray() { munmap(data_, bytes_); }
    HugeArray(const HugeArray&) = delete;
    HugeArray& operator=(const HugeArray&) = delete;

    T& operator[](std::size_t i) { return data_[i]; }
    T* get() { return data_; }
    bool on_reserved_hugepages() const { return hugetlb_; }

private:
    static constexpr std::size_t kHuge = 2u << 20;
    std::size_t bytes_;
    T* data_;
    bool hugetlb_ = false;
};

double tsc_hz() {
    const auto t0 = Clock::now();
    const std::uint64_t c0 = __rdtsc();
    while (Clock::now() - t0 < std::chrono::milliseconds(200)) {
    }
    const std::uint64_t c1 = __rdtsc();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    return static_cast<double>(c1 - c0) / s;
}

// The records `out` holds, without their extensions (a tunnel's, metadata).
std::uint64_t records_in(const RecordBuffer& out) {
    std::uint64_t n = 0;
    for (std::uint32_t i = 0; i < out.count; i += unit_slots(out.records[i])) ++n;
    return n;
}

// Feeds `count` frames from `stream` (wrapping) to `meter` in bursts of kMaxBurst: the flow
// table with expiry after each burst as the worker loop does (returns the records produced), or
// the reference meter.
std::uint64_t run(FlowTable& table, std::uint8_t* stream, std::size_t stream_len,
                  std::size_t slot_bytes, std::uint32_t frame_bytes, std::uint64_t count,
                  std::uint64_t& now, std::size_t& pos, RecordBuffer& out) {
    std::uint64_t records = 0;
    PacketRef burst[kMaxBurst];
    for (std::uint64_t done = 0; done < count; done += kMaxBurst) {
        for (unsigned i = 0; i < kMaxBurst; ++i) {
            burst[i] = {stream + pos * slot_bytes, frame_bytes, frame_bytes, now};
            pos = pos + 1 == stream_len ? 0 : pos + 1;
        }
        table.process(burst, kMaxBurst, 0, out);
        table.expire(now, out);
        records += records_in(out);
        out.count = 0;
        now += kMaxBurst * kNsPerPacket;
    }
    return records;
}

void run(bench::ReferenceMeter& meter, std::uint8_t* stream, std::size_t stream_len,
         std::size_t slot_bytes, std::uint32_t frame_bytes, std::uint64_t count, std::uint64_t& now,
         std::size_t& pos) {
    PacketRef burst[kMaxBurst];
    for (std::uint64_t done = 0; done < count; done += kMaxBurst) {
        for (unsigned i = 0; i < kMaxBurst; ++i) {
            burst[i] = {stream + pos * slot_bytes, frame_bytes, frame_bytes, now};
            pos = pos + 1 == stream_len ? 0 : pos + 1;
        }
        meter.process(burst, kMaxBurst);
        now += kMaxBurst * kNsPerPacket;
    }
}

// One core's run of a case: its table warmed with every flow, and the stream it measures on
// (for the reference too, with --reference), built on the core that measures.
struct Bench {
    const Case& c;
    const Options& o;
    std::uint32_t frame_bytes = 0;
    std::size_t slot_bytes = 0;
    std::size_t stream_len = 0;
    std::uint64_t measured = 0;
    std::unique_ptr<HugeArray<std::uint8_t>> memory, stream;
    std::unique_ptr<FlowTable> table;
    std::unique_ptr<RecordBuffer> out = std::make_unique<RecordBuffer>();
    std::unique_ptr<appid::Scratch> scratch;
    std::unique_ptr<Metadata> metadata;
    std::unique_ptr<Dedup> dedup;
    std::unique_ptr<bench::ReferenceMeter> reference;
    std::uint64_t now = 1'700'000'000'000'000'000ull, reference_now = now;
    std::size_t pos = 0, reference_pos = 0;
    std::uint64_t records = 0;

    Bench(const Case& k, const Options& options) : c(k), o(options) {
        std::mt19937_64 rng(42);
        auto base = pktgen::base_frame(c.ipv6, c.tcp);
        std::size_t inner = 0;
        if (c.vxlan) {
            const std::size_t unencapsulated = base.size();
            base = pktgen::encapsulate(
                base, pktgen::Tunnel{.kind = pktgen::Tunnel::Kind::vxlan, .id = 100});
            inner = base.size() - unencapsulated;
        }
        frame_bytes = static_cast<std::uint32_t>(base.size());
        // One frame per cache line (two for a tunnel's), as mbufs hold them.
        slot_bytes = (frame_bytes + 63) & ~std::size_t{63};
        const bool flood = c.distribution == "new-flow-flood";
        // Room for the active flows at 80% load, so the steady cases do not evict.
        const std::uint32_t capacity = flood ? c.flows : c.flows / 4 * 5;
        measured = o.packets != 0 ? o.packets : o.quick ? 4'000'000 : 40'000'000;
        stream_len =
            flood
                ? measured + c.flows
                : std::min<std::size_t>(
                      std::max<std::size_t>(2ull * c.flows, o.packets != 0 ? o.packets : 4'000'000),
                      16'000'000);

        const FlowTableConfig config = table_config(o, capacity);
        memory = std::make_unique<HugeArray<std::uint8_t>>(FlowTable::memory_size(config));
        table = std::make_unique<FlowTable>(config, memory->get(), random_hash_key());
        if (o.database != nullptr) {
            scratch = std::make_unique<appid::Scratch>(*o.scratch);
            table->identify_applications(appid::identification(*scratch));
        }
        metadata = std::make_unique<Metadata>(o, *table);
        dedup = std::make_unique<Dedup>(o, *table);

        // Warm-up: every flow once, so the table holds c.flows active flows.
        HugeArray<std::uint8_t> warm(std::size_t{c.flows} * slot_bytes);
        for (std::uint32_t f = 0; f < c.flows; ++f)
            pktgen::write_frame(&warm[std::size_t{f} * slot_bytes], base, f, inner);
        run(*table, warm.get(), c.flows, slot_bytes, frame_bytes, c.flows, now, pos, *out);
        if (o.reference && !flood) {
            reference = std::make_unique<bench::ReferenceMeter>(
                capacity, o.decapsulation ? decapsulation(config::Flow{}) : Decapsulation{});
            if (!reference->ready()) {
                std::fprintf(stderr, "sluice-bench: rte_hash of %u flows: %s\n", capacity,
                             rte_strerror(rte_errno));
                std::exit(1);
            }
            std::size_t at = 0;
            run(*reference, warm.get(), c.flows, slot_bytes, frame_bytes, c.flows, reference_now,
                at);
        }

        // The measured stream: drawn flows, or for the flood a new flow every packet.
        stream = std::make_unique<HugeArray<std::uint8_t>>(stream_len * slot_bytes);
        HugeArray<std::uint8_t>& st = *stream;
        if (flood) {
            for (std::size_t i = 0; i < stream_len; ++i)
                pktgen::write_frame(&st[i * slot_bytes], base, std::uint64_t{c.flows} + i, inner);
        } else {
            const auto ids = pktgen::draw_flows(c.distribution == "zipf", c.flows, stream_len, rng);
            for (std::size_t i = 0; i < stream_len; ++i)
                pktgen::write_frame(&st[i * slot_bytes], base, ids[i], inner);
        }
        // Each frame's last 4 bytes (payload or padding) are its index: no two frames are the
        // same, as no two packets of a flow are on a link, and --deduplicate drops none.
        for (std::size_t i = 0; i < stream_len; ++i) {
            const auto index = static_cast<std::uint32_t>(i);
            std::memcpy(&st[i * slot_bytes + frame_bytes - 4], &index, 4);
        }
        pos = 0;
    }

    // One measured run of the table: cycles and seconds it took for `measured` packets.
    std::pair<std::uint64_t, double> measure() {
        const auto t0 = Clock::now();
        const std::uint64_t c0 = __rdtsc();
        if (o.instrument) CALLGRIND_START_INSTRUMENTATION;
        records += run(*table, stream->get(), stream_len, slot_bytes, frame_bytes, measured, now,
                       pos, *out);
        if (o.instrument) CALLGRIND_STOP_INSTRUMENTATION;
        const std::uint64_t c1 = __rdtsc();
        return {c1 - c0, std::chrono::duration<double>(Clock::now() - t0).count()};
    }
    // The same packets through the reference meter.
    std::uint64_t measure_reference() {
        const std::uint64_t c0 = __rdtsc();
        run(*reference, stream->get(), stream_len, slot_bytes, frame_bytes, measured, reference_now,
            reference_pos);
        return __rdtsc() - c0;
    }
};

void pin(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

// The random-line cost the flow table's memory bound is made of, at the table's footprint
// (--memory's measure, at the size nearest above it).
double random_line_cycles(std::size_t bytes, const Options& o);

void run_case(const Case& c, const Options& o, double hz) {
    Bench b(c, o);
    struct Run {
        double mpps;
        double cycles_per_packet;
        double reference_cycles_per_packet;
    };
    std::vector<Run> runs;
    const MeterCounters before = b.table->counters();
    for (unsigned r = 0; r < o.repeat; ++r) {
        const std::uint64_t packets_before = b.table->counters().packets;
        const auto [cycles, seconds] = b.measure();
        const auto packets = static_cast<double>(b.table->counters().packets - packets_before);
        // The reference right after, on the same packets: the two see the same machine.
        const double reference =
            b.reference ? static_cast<double>(b.measure_reference()) / packets : 0;
        runs.push_back({packets / seconds / 1e6, static_cast<double>(cycles) / packets, reference});
    }
    std::sort(runs.begin(), runs.end(), [](const Run& x, const Run& y) { return x.mpps < y.mpps; });
    const Run& median = runs[runs.size() / 2];
    const MeterCounters& after = b.table->counters();
    std::string reference;
    if (b.reference) {
        std::vector<double> ratios;
        for (const Run& r : runs)
            ratios.push_back(r.reference_cycles_per_packet / r.cycles_per_packet);
        std::sort(ratios.begin(), ratios.end());
        // The bound: an IPv4 packet reads two bucket headers and its flow's line at random
        // (IPv6: and its key's tail; TCP health: and its line), each a random line's cost.
        const double lines = 3.0 + (c.ipv6 ? 1 : 0) + (c.tcp && o.metadata ? 1 : 0);
        const double line =
            random_line_cycles(FlowTable::memory_size(table_config(
                                   o, static_cast<std::uint32_t>(b.table->capacity()))),
                               o);
        char text[400];
        std::snprintf(text, sizeof(text),
                      ", \"reference_cycles_per_packet\": %.1f, \"reference_ratio\": %.2f, "
                      "\"reference_ratio_min\": %.2f, \"reference_ratio_max\": %.2f, "
                      "\"memory_lines_per_packet\": %.0f, \"random_line_cycles\": %.1f, "
                      "\"memory_bound_cycles\": %.1f, \"memory_bound_ratio\": %.2f",
                      median.reference_cycles_per_packet, ratios[ratios.size() / 2], ratios.front(),
                      ratios.back(), lines, line, lines * line,
                      median.cycles_per_packet / (lines * line));
        reference = text;
    }
    std::printf(
        "{\"case\": \"%s\", \"flows\": %u, \"packet_size\": %u, \"distribution\": \"%s\", "
        "\"packets\": %llu, \"mpps\": %.2f, \"cycles_per_packet\": %.1f, \"runs\": %zu, "
        "\"mpps_min\": %.2f, \"mpps_max\": %.2f, \"table_capacity\": %llu, \"active_flows\": %llu, "
        "\"evictions\": %llu, \"records\": %llu, \"identification\": %s, "
        "\"application_scans\": %llu, \"decapsulation\": %s, \"duplicates\": %llu, "
        "\"headers\": %s, \"tsc_ghz\": %.3f%s%s}\n",
        c.name.c_str(), c.flows, b.frame_bytes + 4, c.distribution.c_str(),
        static_cast<unsigned long long>(b.measured), median.mpps, median.cycles_per_packet,
        runs.size(), runs.front().mpps, runs.back().mpps,
        static_cast<unsigned long long>(b.table->capacity()),
        static_cast<unsigned long long>(b.table->active_flows()),
        static_cast<unsigned long long>(after.evictions - before.evictions),
        static_cast<unsigned long long>(b.records), o.database != nullptr ? "true" : "false",
        static_cast<unsigned long long>(after.application_scans - before.application_scans),
        o.decapsulation ? "true" : "false",
        static_cast<unsigned long long>(after.ignored_packets[kDuplicate] -
                                        before.ignored_packets[kDuplicate]),
        o.headers ? "true" : "false", hz / 1e9,
        c.distribution == "zipf" ? ", \"zipf_exponent\": 1.0" : "", reference.c_str());
    std::fflush(stdout);
}

// The case on 1, 2, ... `o.workers` cores at once, a table each (as the dataplane's workers,
// or sluice pcap's threads, have): the rate per core at each count. Cores share the last-level
// cache and the memory: what falls per core as cores are added is their share of those.
void run_scaling(const Case& c, const Options& o, double hz) {
    double one = 0;  // the rate of one core alone
    for (unsigned n = 1; n <= o.workers; ++n) {
        std::vector<std::unique_ptr<Bench>> benches(n);
        std::vector<std::vector<double>> mpps(n), cycles(n);
        std::barrier sync(static_cast<std::ptrdiff_t>(n));
        std::vector<std::thread> threads;
        for (unsigned i = 0; i < n; ++i)
            threads.emplace_back([&, i] {
                pin(static_cast<int>(i));
                benches[i] = std::make_unique<Bench>(c, o);  // built on its own core
                for (unsigned r = 0; r < o.repeat; ++r) {
                    sync.arrive_and_wait();  // every core starts together
                    const std::uint64_t before = benches[i]->table->counters().packets;
                    const auto [k, seconds] = benches[i]->measure();
                    const auto packets =
                        static_cast<double>(benches[i]->table->counters().packets - before);
                    mpps[i].push_back(packets / seconds / 1e6);
                    cycles[i].push_back(static_cast<double>(k) / packets);
                }
            });
        for (auto& t : threads) t.join();
        // Each run: the cores' mean rate; the median run is reported.
        std::vector<std::pair<double, double>> runs;
        for (unsigned r = 0; r < o.repeat; ++r) {
            double m = 0, k = 0;
            for (unsigned i = 0; i < n; ++i) {
                m += mpps[i][r] / n;
                k += cycles[i][r] / n;
            }
            runs.emplace_back(m, k);
        }
        std::sort(runs.begin(), runs.end());
        const auto& median = runs[runs.size() / 2];
        if (n == 1) one = median.first;
        std::printf(
            "{\"case\": \"%s\", \"workers\": %u, \"mpps_per_core\": %.2f, \"mpps_total\": %.2f, "
            "\"cycles_per_packet\": %.1f, \"per_core_vs_one\": %.2f, \"runs\": %zu, "
            "\"mpps_per_core_min\": %.2f, \"mpps_per_core_max\": %.2f, \"tsc_ghz\": %.3f}\n",
            c.name.c_str(), n, median.first, median.first * n, median.second, median.first / one,
            runs.size(), runs.front().first, runs.back().first, hz / 1e9);
        std::fflush(stdout);
    }
}

// A capture's packets in memory, one after the other, with their lengths, times and link types,
// as the worker's capture reader hands them out.
struct Capture {
    std::vector<std::uint8_t> bytes;
    std::vector<PacketRef> packets;
    std::vector<LinkType> links;
};

bool load_capture(const std::string& path, Capture& c) {
    CaptureReader reader;
    if (!reader.open(path)) {
        std::fprintf(stderr, "sluice-bench: %s\n", reader.error().c_str());
        return false;
    }
    std::vector<std::size_t> offsets;
    PacketRef burst[kMaxBurst];
    for (unsigned n; (n = reader.next(burst, kMaxBurst)) != 0;) {
        for (unsigned i = 0; i < n; ++i) {
            offsets.push_back(c.bytes.size());
            c.bytes.insert(c.bytes.end(), burst[i].data, burst[i].data + burst[i].length);
            c.packets.push_back(burst[i]);
            c.links.push_back(reader.link());
        }
    }
    if (!reader.error().empty()) std::fprintf(stderr, "sluice-bench: %s\n", reader.error().c_str());
    for (std::size_t i = 0; i < offsets.size(); ++i) c.packets[i].data = &c.bytes[offsets[i]];
    return reader.error().empty();
}

// Meters a capture as a trace replay does: its own times, expiry after each burst, every flow
// flushed at the end; the packets are in memory beforehand, so only the metering is timed.
int run_capture(const Options& o, double hz) {
    Capture capture;
    if (!load_capture(o.capture, capture)) return 1;
    if (capture.packets.empty()) {
        std::fprintf(stderr, "sluice-bench: %s holds no packet\n", o.capture.c_str());
        return 1;
    }
    const std::uint32_t capacity = config::Flow{}.max_flows;  // the dataplane's default
    const FlowTableConfig config = table_config(o, capacity);
    HugeArray<std::uint8_t> memory(FlowTable::memory_size(config));
    auto out = std::make_unique<RecordBuffer>();
    std::vector<double> mpps, cycles;
    std::uint64_t records = 0;
    MeterCounters counters;
    for (unsigned r = 0; r < o.repeat; ++r) {
        // A new table each run: the capture's flows start afresh.
        auto table = std::make_unique<FlowTable>(config, memory.get(), random_hash_key());
        if (o.database != nullptr) table->identify_applications(appid::identification(*o.scratch));
        Metadata metadata(o, *table);
        Dedup dedup(o, *table);
        records = 0;
        const auto t0 = Clock::now();
        const std::uint64_t c0 = __rdtsc();
        std::uint64_t newest = 0;
        for (std::size_t at = 0, n; at < capture.packets.size(); at += n) {
            // Bursts of one link type, as the reader hands them out.
            const LinkType link = capture.links[at];
            n = 1;
            while (n < kMaxBurst && at + n < capture.packets.size() &&
                   capture.links[at + n] == link)
                ++n;
            table->process(&capture.packets[at], static_cast<unsigned>(n), 0, *out, link);
            for (unsigned i = 0; i < n; ++i)
                newest = std::max(newest, capture.packets[at + i].time_ns);
            table->expire(newest, *out);
            records += records_in(*out);
            out->count = 0;
        }
        for (bool done = false; !done;) {
            done = table->flush(newest, *out);
            records += records_in(*out);
            out->count = 0;
        }
        const std::uint64_t c1 = __rdtsc();
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        const auto packets = static_cast<double>(capture.packets.size());
        mpps.push_back(packets / seconds / 1e6);
        cycles.push_back(static_cast<double>(c1 - c0) / packets);
        counters = table->counters();
    }
    std::vector<double> sorted = mpps;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2];
    const auto at =
        static_cast<std::size_t>(std::find(mpps.begin(), mpps.end(), median) - mpps.begin());
    std::uint64_t ignored = 0;
    for (const std::uint64_t n : counters.ignored_packets) ignored += n;
    std::printf(
        "{\"case\": \"capture\", \"file\": \"%s\", \"packets\": %zu, \"bytes\": %zu, "
        "\"ignored\": %llu, \"records\": %llu, \"mpps\": %.2f, \"cycles_per_packet\": %.1f, "
        "\"seconds\": %.3f, \"runs\": %zu, \"mpps_min\": %.2f, \"mpps_max\": %.2f, "
        "\"table_capacity\": %u, \"identification\": %s, \"metadata\": %s, "
        "\"metadata_flows\": %llu, \"decapsulation\": %s, \"tsc_ghz\": %.3f}\n",
        o.capture.c_str(), capture.packets.size(), capture.bytes.size(),
        static_cast<unsigned long long>(ignored), static_cast<unsigned long long>(records), median,
        cycles[at], static_cast<double>(capture.packets.size()) / median / 1e6, sorted.size(),
        sorted.front(), sorted.back(), capacity, o.database != nullptr ? "true" : "false",
        o.metadata ? "true" : "false", static_cast<unsigned long long>(counters.metadata_flows),
        o.decapsulation ? "true" : "false", hz / 1e9);
    return 0;
}

volatile std::uint64_t sink;

// A line index in [0, lines) for step i: a murmur3 finalizer, so that any step's address can be
// worked out ahead of the load, as the table's pipeline does.
inline std::size_t random_line(std::uint64_t i, std::size_t lines) {
    i ^= i >> 33;
    i *= 0xff51afd7ed558ccdull;
    i ^= i >> 33;
    return static_cast<std::size_t>((static_cast<uint128>(i) * lines) >> 64);
}

// What one footprint costs: the latency of dependent loads and the cost of a random line read
// with kAhead others in flight, in cycles.
std::pair<double, double> measure_memory(std::size_t mb, const Options& o) {
    constexpr std::size_t kLine = 64;
    constexpr unsigned kAhead = 16;
    const std::uint64_t steps = o.quick ? 1'000'000 : 4'000'000;
    std::mt19937_64 rng(42);
    const std::size_t lines = (mb << 20) / kLine;
    HugeArray<std::uint8_t> memory(mb << 20);
    // One random cycle through every line: each line holds the next one's offset.
    std::vector<std::uint32_t> order(lines);
    for (std::size_t i = 0; i < lines; ++i) order[i] = static_cast<std::uint32_t>(i);
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i = 0; i < lines; ++i) {
        const std::uint64_t next = std::uint64_t{order[(i + 1) % lines]} * kLine;
        std::memcpy(&memory[std::size_t{order[i]} * kLine], &next, sizeof(next));
    }
    std::vector<double> dependent, random;
    for (unsigned r = 0; r < o.repeat; ++r) {
        std::uint64_t at = 0;
        std::uint64_t c0 = __rdtsc();
        for (std::uint64_t i = 0; i < steps; ++i) std::memcpy(&at, &memory[at], sizeof(at));
        dependent.push_back(static_cast<double>(__rdtsc() - c0) / static_cast<double>(steps));
        std::uint64_t sum = at;
        c0 = __rdtsc();
        for (std::uint64_t i = 0; i < steps; ++i) {
            __builtin_prefetch(&memory[random_line(i + kAhead, lines) * kLine]);
            std::uint64_t v;
            std::memcpy(&v, &memory[random_line(i, lines) * kLine], sizeof(v));
            sum += v;
        }
        random.push_back(static_cast<double>(__rdtsc() - c0) / static_cast<double>(steps));
        sink = sum;  // the loads are needed
    }
    std::sort(dependent.begin(), dependent.end());
    std::sort(random.begin(), random.end());
    return {dependent[dependent.size() / 2], random[random.size() / 2]};
}

constexpr std::size_t kFootprintsMb[] = {1, 4, 8, 16, 64, 256, 1024};

double random_line_cycles(std::size_t bytes, const Options& o) {
    std::size_t mb = kFootprintsMb[std::size(kFootprintsMb) - 1];
    for (const std::size_t f : kFootprintsMb)
        if (f << 20 >= bytes) {
            mb = f;
            break;
        }
    return measure_memory(mb, o).second;
}

// The memory the flow table lives in, as this core sees it, over footprints from cache-sized
// to far beyond: the latency of a load that depends on the previous one, and the cost of a
// random line read while others are in flight (each prefetched 16 reads ahead, the table's
// pipeline distance). The second bounds what a packet costs per line it misses.
void run_memory(const Options& o, double hz) {
    for (const std::size_t mb : kFootprintsMb) {
        const auto [dependent, random] = measure_memory(mb, o);
        std::printf(
            "{\"case\": \"memory\", \"footprint_mb\": %zu, \"dependent_load_cycles\": %.1f, "
            "\"random_line_cycles\": %.1f, \"runs\": %u, \"tsc_ghz\": %.3f}\n",
            mb, dependent, random, o.repeat, hz / 1e9);
        std::fflush(stdout);
    }
}

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: sluice-bench [--quick] [--cpu N] [--repeat N] [--case NAME]\n"
                 "                    [--applications FILE] [--metadata] [--capture FILE]\n"
                 "                    [--memory] [--no-decapsulation] [--deduplicate WINDOW]\n"
                 "                    [--headers] [--reference] [--workers N] [--packets N]\n"
                 "                    [--instrument]\n"
                 "Measures parser + flow table + expiry on one core with 64-byte packets built in\n"
                 "memory: Zipf and uniform popularity over 1K, 1M and 8M active flows, and a\n"
                 "new-flow flood; then Zipf over 1M IPv6 flows (66-byte packets), over 1M TCP\n"
                 "flows (ACKs, what --metadata's TCP health reads) and over 1M flows inside\n"
                 "VXLAN (114-byte packets, what decapsulation costs). Each case runs\n"
                 "--repeat times (5; 3 with --quick) and reports the median. --quick runs each\n"
                 "case briefly (under a minute in all). --case NAME runs the case of that name,\n"
                 "or every case whose name holds NAME.\n"
                 "--applications FILE turns application identification on with the signatures\n"
                 "of FILE (512 bytes of the first 4 payload packets of each direction).\n"
                 "--metadata turns metadata extraction on ([metadata]'s defaults: TLS, QUIC, HTTP\n"
                 "and DNS in the first 4 payload packets of each direction, and TCP health).\n"
                 "--no-decapsulation takes no packet out of a tunnel ([flow] decapsulate = []);\n"
                 "by default every tunnel is, as [flow]'s defaults say.\n"
                 "--deduplicate WINDOW compares every packet with those of the last WINDOW\n"
                 "(\"100us\"), as [[port]] deduplicate does; the built-in cases repeat none.\n"
                 "--headers keeps each direction's first packet's header fields, as [metadata]\n"
                 "headers does.\n"
                 "--capture FILE meters the packets of a capture (pcap or pcapng) instead, read\n"
                 "into memory first, in their own time, with a table of 1M flows and a flush at\n"
                 "the end, as sluice pcap's worker would without reading the file.\n"
                 "--memory measures this core's memory instead, from 1 MB to 1 GB: the latency\n"
                 "of dependent loads, and the cost of random line reads with 16 in flight (the\n"
                 "flow table's pattern), in cycles.\n"
                 "--reference meters the same packets in the same run with a straightforward\n"
                 "DPDK flow table (rte_hash: cuckoo, CRC32, bulk lookups; the same parser and\n"
                 "per-packet updates, no expiry) and reports its cycles per packet and the ratio\n"
                 "to Sluice's; and the memory bound: the random lines a packet reads times\n"
                 "--memory's cost of one at the table's footprint, and Sluice's ratio to it.\n"
                 "--workers N runs each case on 1, 2, ... N cores at once, a table each, and\n"
                 "reports the rate per core at each count (cores 0 to N-1).\n"
                 "--packets N measures N packets a run (default 40M; 4M with --quick).\n"
                 "--instrument has callgrind count the measured runs only (valgrind\n"
                 "--tool=callgrind --instr-atstart=no): the regression guard's measure.\n");
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    static const option options[] = {{"quick", no_argument, nullptr, 'q'},
                                     {"cpu", required_argument, nullptr, 'c'},
                                     {"repeat", required_argument, nullptr, 'r'},
                                     {"case", required_argument, nullptr, 'k'},
                                     {"applications", required_argument, nullptr, 'a'},
                                     {"capture", required_argument, nullptr, 'p'},
                                     {"memory", no_argument, nullptr, 'm'},
                                     {"metadata", no_argument, nullptr, 'M'},
                                     {"no-decapsulation", no_argument, nullptr, 'D'},
                                     {"deduplicate", required_argument, nullptr, 'u'},
                                     {"headers", no_argument, nullptr, 'H'},
                                     {"reference", no_argument, nullptr, 'R'},
                                     {"workers", required_argument, nullptr, 'w'},
                                     {"packets", required_argument, nullptr, 'n'},
                                     {"instrument", no_argument, nullptr, 'I'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    for (int opt;
         (opt = getopt_long(argc, argv, "qc:r:k:a:p:mMDu:HRw:n:Ih", options, nullptr)) != -1;) {
        switch (opt) {
            case 'q': o.quick = true; break;
            case 'c': o.cpu = std::atoi(optarg); break;
            case 'r': o.repeat = static_cast<unsigned>(std::max(1, std::atoi(optarg))); break;
            case 'k': o.only = optarg; break;
            case 'a': o.applications = optarg; break;
            case 'p': o.capture = optarg; break;
            case 'm': o.memory = true; break;
            case 'M': o.metadata = true; break;
            case 'D': o.decapsulation = false; break;
            case 'H': o.headers = true; break;
            case 'R': o.reference = true; break;
            case 'I': o.instrument = true; break;
            case 'w': {
                const int n = std::atoi(optarg);
                const auto cpus = std::thread::hardware_concurrency();
                if (n < 1 || static_cast<unsigned>(n) > cpus) {
                    std::fprintf(stderr, "sluice-bench: --workers %s: from 1 to %u (the cores)\n",
                                 optarg, cpus);
                    return 2;
                }
                o.workers = static_cast<unsigned>(n);
                break;
            }
            case 'n': {
                const long long n = std::atoll(optarg);
                if (n < kMaxBurst) {
                    std::fprintf(stderr, "sluice-bench: --packets %s: at least %u\n", optarg,
                                 kMaxBurst);
                    return 2;
                }
                o.packets = static_cast<std::uint64_t>(n);
                break;
            }
            case 'u': {
                const auto window = config::parse_duration(optarg);
                if (!window.value || window.value->count() <= 0 ||
                    *window.value > config::Port::kMaxDeduplicate) {
                    std::fprintf(stderr, "sluice-bench: --deduplicate %s: from 1ns to 10ms\n",
                                 optarg);
                    return 2;
                }
                o.deduplicate_ns = static_cast<std::uint64_t>(window.value->count());
                break;
            }
            case 'h': usage(stdout); return 0;
            default: usage(stderr); return 2;
        }
    }
    if (o.quick && o.repeat == 5) o.repeat = 3;
    if (o.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0) {
            std::perror("sluice-bench: --cpu");
            return 1;
        }
    }
    const double hz = tsc_hz();
    std::unique_ptr<appid::Database> database;
    std::unique_ptr<appid::Scratch> scratch;
    if (!o.applications.empty()) {
        std::vector<std::string> errors;
        database = appid::Database::load(o.applications, errors);
        for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
        if (!database) return 2;
        scratch = std::make_unique<appid::Scratch>(*database);
        o.database = database.get();
        o.scratch = scratch.get();
    }
    if (o.reference) {
        // The reference's rte_hash lives in EAL's memory: hugepages where there are, no files.
        std::string cpu = std::to_string(std::max(o.cpu, 0));
        const char* eal[] = {"sluice-bench", "--no-pci",  "--in-memory", "--no-telemetry",
                             "-l",           cpu.c_str(), "--log-level", "lib.eal:warning"};
        if (rte_eal_init(static_cast<int>(std::size(eal)), const_cast<char**>(eal)) < 0) {
            std::fprintf(stderr, "sluice-bench: --reference: EAL: %s\n", rte_strerror(rte_errno));
            return 1;
        }
    }
    if (!o.capture.empty()) return run_capture(o, hz);
    if (o.memory) {
        run_memory(o, hz);
        return 0;
    }
    const std::vector<Case> cases = {
        {"zipf-1K", "zipf", 1'000},
        {"zipf-1M", "zipf", 1'000'000},
        {"zipf-8M", "zipf", 8'000'000},
        {"uniform-1K", "uniform", 1'000},
        {"uniform-1M", "uniform", 1'000'000},
        {"uniform-8M", "uniform", 8'000'000},
        {"new-flow-flood-1M", "new-flow-flood", 1'000'000},
        {"zipf-1M-ipv6", "zipf", 1'000'000, true},
        {"zipf-1M-tcp", "zipf", 1'000'000, false, true},
        {"zipf-1M-vxlan", "zipf", 1'000'000, false, false, true},
    };
    // A case named exactly, or every case whose name holds the substring.
    const bool exact = std::any_of(std::begin(cases), std::end(cases),
                                   [&](const Case& c) { return c.name == o.only; });
    for (const auto& c : cases)
        if (exact ? c.name == o.only : c.name.find(o.only) != std::string::npos) {
            if (o.workers != 0)
                run_scaling(c, o, hz);
            else
                run_case(c, o, hz);
        }
    return 0;
}
