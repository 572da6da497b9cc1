// `sluice pcap` in one process: a reader thread, N metering threads, and the export on the
// calling thread.
#include "tools/pcap/offline.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "control/export/exporter.hpp"
#include "control/ops/accounting.hpp"
#include "control/ops/render.hpp"
#include "control/ops/snapshot.hpp"
#include "dataplane/appid/classifier.hpp"
#include "dataplane/equip.hpp"
#include "dataplane/l7/extractor.hpp"
#include "dataplane/meter/flow_table.hpp"
#include "shared/capture/capture.hpp"
#include "shared/config/loader.hpp"
#include "shared/config/units.hpp"
#include "shared/records/record_json.hpp"
#include "sluice/log.hpp"
#include "sluice/metadata.hpp"
#include "sluice/record.hpp"
#include "sluice/shm.hpp"
#include "sluice/time.hpp"
#include "sluice_version.h"

namespace sluice::offline {
namespace {

using Steady = std::chrono::steady_clock;
using meter::FlowTable;
using meter::kMaxBurst;
using meter::RecordBuffer;

constexpr unsigned kQueueBursts = 256;          // bursts a metering thread may have waiting
constexpr unsigned kReadBuffers = 8;            // the reader's buffers, in flight or free
constexpr std::size_t kReadSize = 1u << 20;     // a buffer's read (4 MiB ones were slower)
constexpr std::uint32_t kRingSlots = 1u << 16;  // records waiting for the export, a thread's
constexpr std::size_t kExportBurst = 4096;      // records the export takes at once
constexpr auto kProgressEvery = std::chrono::milliseconds(500);
constexpr auto kSnapshotEvery = std::chrono::milliseconds(100);

std::uint64_t mib(std::uint64_t bytes) {
    return (bytes + (1u << 20) - 1) >> 20;
}

// A wait that spins a little, then yields, then sleeps: there may be fewer cores than threads.
class Backoff {
public:
    void wait() {
        if (++rounds_ < 64) {
            std::this_thread::yield();
        } else {
            usleep(50);
        }
    }
    void reset() { rounds_ = 0; }

private:
    unsigned rounds_ = 0;
};

// Anonymous memory, zeroed: on reserved 2 MB hugepages while there are free ones (the tables
// are read at random: the TLB would otherwise slow every packet), else on ordinary pages. Not
// transparent hugepages: with the kernel's default defrag, asking for them compacts memory
// first, which took seconds for a few hundred MiB on a busy machine.
class Mapping {
public:
    Mapping() = default;
    explicit Mapping(std::size_t bytes) : bytes_((bytes + kHuge - 1) / kHuge * kHuge) {
        if (bytes_ == 0) return;
        void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        huge_ = p != MAP_FAILED;
        if (!huge_)
            p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            bytes_ = 0;
            return;
        }
        data_ = p;
    }
    ~Mapping() {
        if (data_ != nullptr) munmap(data_, bytes_);
    }
    Mapping(Mapping&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), bytes_(o.bytes_), huge_(o.huge_) {}
    Mapping& operator=(Mapping&& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(bytes_, o.bytes_);
        std::swap(huge_, o.huge_);
        return *this;
    }
    void* get() const { return data_; }
    bool huge() const { return huge_; }

private:
    static constexpr std::size_t kHuge = 2u << 20;
    void* data_ = nullptr;
    std::size_t bytes_ = 0;
    bool huge_ = false;
};

// Packets for one metering thread, all of one link type, parsed by the reader (which had to,
// to choose their thread: the thread does not parse them again).
struct Burst {
    std::uint32_t n = 0;
    LinkType link = LinkType::ethernet;
    std::uint64_t clock_ns = 0;  // the newest packet time read when it was handed over
    PacketRef packets[kMaxBurst];
    meter::Parsed parsed[kMaxBurst];
};

// Bursts from the reader to one metering thread: one producer, one consumer.
class BurstQueue {
public:
    // The producer's burst being filled; null while the queue is full.
    Burst* back() {
        const std::uint64_t head = head_.load(std::memory_order_relaxed);
        if (head - tail_.load(std::memory_order_acquire) == kQueueBursts) return nullptr;
        return &bursts_[head % kQueueBursts];
    }
    void push() {
        head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    std::uint64_t pushed() const { return head_.load(std::memory_order_relaxed); }

    Burst* front() {
        const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
        if (tail == head_.load(std::memory_order_acquire)) return nullptr;
        return &bursts_[tail % kQueueBursts];
    }
    // The burst at the front is done with: its packets' buffer may go back to the reader.
    void pop() {
        tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    std::uint64_t popped() const { return tail_.load(std::memory_order_acquire); }

private:
    alignas(64) std::atomic<std::uint64_t> head_{0};
    alignas(64) std::atomic<std::uint64_t> tail_{0};
    alignas(64) std::array<Burst, kQueueBursts> bursts_;
};

// Records from one metering thread to the export, whole units at a time: one producer, one
// consumer.
class RecordRing {
public:
    RecordRing() : slots_(std::make_unique<FlowRecord[]>(kRingSlots)) {}

    // Puts the whole units at the front of `records` that fit; the slots it took.
    std::uint32_t push(const FlowRecord* records, std::uint32_t count) {
        const std::uint64_t head = head_.load(std::memory_order_relaxed);
        const auto room =
            static_cast<std::uint32_t>(kRingSlots - (head - tail_.load(std::memory_order_acquire)));
        std::uint32_t n = 0;
        while (n < count && n + unit_slots(records[n]) <= room) n += unit_slots(records[n]);
        for (std::uint32_t i = 0; i < n; ++i) slots_[(head + i) % kRingSlots] = records[i];
        head_.store(head + n, std::memory_order_release);
        return n;
    }

    // Up to `max` slots of whole units into `out`; the slots taken.
    std::size_t take(FlowRecord* out, std::size_t max) {
        const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
        const std::uint64_t there = head_.load(std::memory_order_acquire) - tail;
        std::size_t n = 0;
        while (n < there) {
            const FlowRecord& r = slots_[(tail + n) % kRingSlots];
            if (n + unit_slots(r) > max) break;
            for (unsigned k = unit_slots(r), i = 0; i < k; ++i)
                out[n + i] = slots_[(tail + n + i) % kRingSlots];
            n += unit_slots(r);
        }
        tail_.store(tail + n, std::memory_order_release);
        return n;
    }
    std::size_t waiting() const {
        return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
    }

private:
    std::unique_ptr<FlowRecord[]> slots_;
    alignas(64) std::atomic<std::uint64_t> head_{0};
    alignas(64) std::atomic<std::uint64_t> tail_{0};
};

// What the threads share.
struct Run {
    const config::Config& config;
    const Options& options;
    std::unique_ptr<shm::StatsZone> zone = std::make_unique<shm::StatsZone>();
    std::atomic<bool> stop{false};      // a stop signal: read no more
    std::atomic<bool> read_all{false};  // the reader is done: every burst has been handed over
    std::atomic<std::uint64_t> newest_ns{0};    // the newest packet time read, once read_all
    std::atomic<std::uint64_t> input_bytes{0};  // of the input files read so far
    std::atomic<std::uint64_t> packets_read{0};
    std::atomic<std::uint64_t> bytes_read{0};  // captured bytes
    std::atomic<bool> failed{false};           // an input could not be read
};

// One metering thread: its table and what it uses, its queue of bursts and its record ring.
struct alignas(64) Meter {
    unsigned index = 0;
    Mapping table_memory, metadata_memory, dedup_memory;
    std::unique_ptr<FlowTable> table;
    std::unique_ptr<meter::Deduplicator> dedup;
    dataplane::Equipment equipment;  // identification, metadata
    std::unique_ptr<RecordBuffer> out = std::make_unique<RecordBuffer>();
    std::unique_ptr<BurstQueue> queue = std::make_unique<BurstQueue>();
    RecordRing ring;
    std::function<void(Meter&)> build;  // its table and what it uses, on its memory
    shm::WorkerStats* stats = nullptr;
    shm::OutputCounters output;
    std::thread thread;

    void publish() {
        output.ring_used = ring.waiting();
        output.ring_capacity = kRingSlots;
        shm::publish(stats->meter, table->counters());
        shm::publish(stats->output, output);
    }

    // Hands the buffered records to the export, waiting for room: a capture's time is its own.
    void send() {
        RecordBuffer& o = *out;
        Backoff backoff;
        for (std::uint32_t sent = 0; sent < o.count;) {
            const std::uint32_t n = ring.push(o.records + sent, o.count - sent);
            sent += n;
            if (n == 0) backoff.wait();
        }
        for (std::uint32_t i = 0; i < o.count; ++i)
            output.records_sent += !is_extension(o.records[i]);
        o.count = 0;
    }

    void loop(Run& run) {
        pthread_setname_np(pthread_self(), ("sluice-meter-" + std::to_string(index)).c_str());
        build(*this);
        Backoff idle;
        unsigned unpublished = 0;
        while (true) {
            Burst* b = queue->front();
            if (b == nullptr) {
                if (run.read_all.load(std::memory_order_acquire) && queue->front() == nullptr)
                    break;
                if (unpublished != 0) {
                    publish();
                    unpublished = 0;
                }
                idle.wait();
                continue;
            }
            idle.reset();
            table->process(b->packets, b->parsed, b->n, 0, *out, b->link);
            output.last_time_ns = std::max(output.last_time_ns, b->clock_ns);
            queue->pop();
            ++output.bursts;
            table->expire(output.last_time_ns, *out);
            send();
            if (++unpublished == 32) {
                publish();
                unpublished = 0;
            }
        }
        // Every flow leaves as a capture's end has them leave: at the newest time read.
        output.last_time_ns =
            std::max(output.last_time_ns, run.newest_ns.load(std::memory_order_relaxed));
        for (bool done = false; !done;) {
            done = table->flush(output.last_time_ns, *out);
            send();
        }
        publish();
        stats->state.store(static_cast<std::uint32_t>(shm::WorkerState::trace_done),
                           std::memory_order_release);
    }
};

// The reader: each input in turn, its packets spread over the metering threads by the
// symmetric hash of their flow's addresses, so that both directions, and every fragment of a
// datagram, meet in one table.
class Reader {
public:
    Reader(Run& run, std::vector<std::unique_ptr<Meter>>& meters)
        : run_(run),
          meters_(meters),
          key_(meter::random_hash_key()),
          fragments_(std::make_unique<meter::FragmentMap>(key_)),
          decapsulation_(meter::decapsulation(run.config.flow)),
          open_(meters.size(), nullptr) {
        for (auto& b : buffers_) {
            b.memory = std::make_unique_for_overwrite<std::uint64_t[]>(
                (CaptureReader::buffer_size(kReadSize) + 7) / 8);
            b.needed.assign(meters.size(), 0);
        }
        reader_.lend_buffers([this] { return next_buffer(); });
    }

    void read() {
        pthread_setname_np(pthread_self(), "sluice-reader");
        std::uint64_t done_bytes = 0;
        std::uint64_t previous_last_ns = 0;
        std::string previous;
        for (const std::string& path : run_.options.inputs) {
            if (run_.stop.load(std::memory_order_relaxed)) break;
            const bool piped = path == "-";
            const bool opened =
                piped ? reader_.open_fd(dup(STDIN_FILENO), "standard input") : reader_.open(path);
            if (!opened) {
                SLUICE_ERROR("%s", reader_.error().c_str());
                run_.failed.store(true, std::memory_order_relaxed);
                continue;
            }
            const char* encoding = reader_.encoding() == ByteStream::Encoding::gzip   ? ", gzip"
                                   : reader_.encoding() == ByteStream::Encoding::zstd ? ", zstd"
                                                                                      : "";
            SLUICE_INFO("reading %s (%s%s)", piped ? "standard input" : path.c_str(),
                        reader_.describe().c_str(), encoding);
            std::uint64_t first_ns = 0, last_ns = 0;
            PacketRef packets[kMaxBurst];
            for (unsigned n; !run_.stop.load(std::memory_order_relaxed) &&
                             (n = reader_.next(packets, kMaxBurst)) != 0;) {
                if (first_ns == 0) first_ns = packets[0].time_ns;
                spread(packets, n, reader_.link());
                for (unsigned i = 0; i < n; ++i) last_ns = std::max(last_ns, packets[i].time_ns);
                run_.packets_read.store(reader_.packets() + packets_before_,
                                        std::memory_order_relaxed);
                run_.bytes_read.store(reader_.bytes() + bytes_before_, std::memory_order_relaxed);
                run_.input_bytes.store(done_bytes + reader_.consumed(), std::memory_order_relaxed);
            }
            for (const std::string& notice : reader_.notices()) SLUICE_WARN("%s", notice.c_str());
            if (!reader_.error().empty())
                SLUICE_ERROR("the capture stops early: %s; the packets before it are metered",
                             reader_.error().c_str());
            if (first_ns != 0 && first_ns < previous_last_ns)
                SLUICE_WARN(
                    "%s begins before %s ends: files are read one after the other, so their "
                    "packets are metered in that order, not merged",
                    path.c_str(), previous.c_str());
            previous_last_ns = std::max(previous_last_ns, last_ns);
            previous = path;
            done_bytes += reader_.consumed();
            packets_before_ += reader_.packets();
            bytes_before_ += reader_.bytes();
        }
        hand_over_all();
        run_.newest_ns.store(clock_ns_, std::memory_order_relaxed);
        run_.read_all.store(true, std::memory_order_release);
    }

private:
    struct Buffer {
        std::unique_ptr<std::uint64_t[]> memory;
        // The bursts each metering thread must have done before the buffer is free again.
        std::vector<std::uint64_t> needed;
    };

    // Parses the packet into `parsed` and says which thread meters it: the one the hash of its
    // flow key chooses, the ports left out (a later fragment has none); an ignored one, the
    // first (which counts it by reason).
    unsigned meter_of(const PacketRef& p, LinkType link, meter::Parsed& parsed) {
        parsed.result = meter::parse(p.data, p.length, p.frame_length, link, p.time_ns, *fragments_,
                                     decapsulation_, parsed.info, parsed.tunnel);
        const auto workers = static_cast<unsigned>(meters_.size());
        if (workers == 1 || !parsed.result.metered()) return 0;
        meter::FlowKey k = parsed.info.key;
        k.head.port[0] = k.head.port[1] = 0;
        const std::uint64_t h = meter::flow_hash(k, key_);
        return static_cast<unsigned>(((h >> 32) * workers) >> 32);
    }

    void spread(const PacketRef* packets, unsigned n, LinkType link) {
        meter::Parsed parsed;
        for (unsigned i = 0; i < n; ++i) {
            clock_ns_ = std::max(clock_ns_, packets[i].time_ns);
            const unsigned w = meter_of(packets[i], link, parsed);
            Burst* b = open_[w];
            if (b != nullptr && b->link != link) {
                hand_over(w);
                b = nullptr;
            }
            if (b == nullptr) {
                Backoff backoff;
                while ((b = meters_[w]->queue->back()) == nullptr) backoff.wait();
                b->n = 0;
                b->link = link;
                open_[w] = b;
            }
            b->parsed[b->n] = parsed;
            b->packets[b->n++] = packets[i];
            if (b->n == kMaxBurst) hand_over(w);
        }
    }

    void hand_over(unsigned w) {
        if (open_[w] == nullptr) return;
        open_[w]->clock_ns = clock_ns_;
        meters_[w]->queue->push();
        open_[w] = nullptr;
    }
    void hand_over_all() {
        for (unsigned w = 0; w < meters_.size(); ++w) hand_over(w);
    }

    // The reader moves on to another buffer: the bursts of packets in this one go now, and
    // it is free again once each has been metered.
    std::uint8_t* next_buffer() {
        hand_over_all();
        if (current_ < kReadBuffers)
            for (std::size_t w = 0; w < meters_.size(); ++w)
                buffers_[current_].needed[w] = meters_[w]->queue->pushed();
        Backoff backoff;
        while (true) {
            for (unsigned i = 0; i < kReadBuffers; ++i) {
                if (i == current_) continue;
                bool free = true;
                for (std::size_t w = 0; w < meters_.size() && free; ++w)
                    free = meters_[w]->queue->popped() >= buffers_[i].needed[w];
                if (free) {
                    current_ = i;
                    return reinterpret_cast<std::uint8_t*>(buffers_[i].memory.get());
                }
            }
            backoff.wait();
        }
    }

    Run& run_;
    std::vector<std::unique_ptr<Meter>>& meters_;
    meter::HashKey key_;
    std::unique_ptr<meter::FragmentMap> fragments_;
    meter::Decapsulation decapsulation_;
    CaptureReader reader_{kReadSize};
    std::array<Buffer, kReadBuffers> buffers_;
    unsigned current_ = kReadBuffers;  // none yet
    std::vector<Burst*> open_;         // each metering thread's burst being filled
    std::uint64_t clock_ns_ = 0;
    std::uint64_t packets_before_ = 0, bytes_before_ = 0;  // of the files before this one
};

// Where compiled signatures are kept between runs: $XDG_CACHE_HOME/sluice, or ~/.cache/sluice;
// empty (none kept) when neither can be made.
std::string cache_folder() {
    std::filesystem::path folder;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/')
        folder = std::filesystem::path(xdg) / "sluice";
    else if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/')
        folder = std::filesystem::path(home) / ".cache" / "sluice";
    else
        return {};
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec || access(folder.c_str(), W_OK) != 0) return {};
    return folder.string();
}

// The signatures compiled (or read from the cache), and the scratch each thread copies; none
// when identification is off. False (said) when they cannot be had.
struct Applications {
    std::unique_ptr<appid::Database> database;
    std::unique_ptr<appid::Scratch> prototype;
};

bool load_applications(const config::Config& c, Applications& a) {
    const std::string path = config::signatures_path(c);
    if (path.empty()) return true;
    std::vector<std::string> errors;
    const std::string cache = cache_folder();
    a.database = appid::Database::load(path, errors, cache);
    for (const auto& e : errors) SLUICE_ERROR("%s", e.c_str());
    if (!a.database) return false;
    a.prototype = std::make_unique<appid::Scratch>(*a.database);
    dataplane::log_identification(
        *a.database, path, c.applications,
        a.database->cached() ? "; compiled before, kept in " + cache : "");
    return true;
}

// The stats zone as the dataplane's would read for this run: one port (the captures), a
// worker per metering thread, a trace replay.
void describe(shm::StatsZone& zone, const config::Config& c, const Options& o, unsigned workers) {
    shm::StatsHeader& h = zone.header;
    h.layout_version = shm::kStatsLayoutVersion;
    h.record_layout_version = kRecordLayoutVersion;
    h.dataplane_pid = getpid();
    h.start_time_ns = wall_clock_ns();
    h.port_count = 1;
    h.worker_count = workers;
    h.trace_replay = 1;
    shm::publish_timeouts(zone, c.flow);
    std::snprintf(h.sensor_name, sizeof(h.sensor_name), "%s", c.sensor.name.c_str());
    std::snprintf(h.version, sizeof(h.version), "%s", SLUICE_VERSION);
    shm::PortStats& port = zone.ports[0];
    port.port_id = 0;
    port.rx_queues = static_cast<std::uint16_t>(workers);
    std::snprintf(port.device, sizeof(port.device), "%s",
                  o.inputs.size() == 1 && o.inputs[0] == "-" ? "standard input"
                                                             : c.ports.at(0).capture.c_str());
}

// The second stop signal's handler: no flush, no export.
void stop_at_once(int sig) {
    static constexpr char kSaid[] = "sluice: warning: stopping at once\n";
    [[maybe_unused]] const ssize_t n = write(STDERR_FILENO, kSaid, sizeof(kSaid) - 1);
    _exit(128 + sig);
}

// A count with thousands separated, for the progress line.
std::string grouped(std::uint64_t n) {
    std::string s = std::to_string(n);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
        s.insert(static_cast<std::size_t>(i), ",");
    return s;
}

class Progress {
public:
    Progress(const Run& run, std::uint64_t input_size)
        : run_(run), size_(input_size), start_(Steady::now()), next_(start_ + kProgressEvery) {}

    void maybe_show(Steady::time_point now) {
        if (now < next_) return;
        next_ = now + kProgressEvery;
        const std::uint64_t packets = run_.packets_read.load(std::memory_order_relaxed);
        const double seconds = std::chrono::duration<double>(now - start_).count();
        char percent[32] = "";
        if (size_ != 0)
            std::snprintf(
                percent, sizeof(percent), ", %.0f%% of the input",
                100.0 * static_cast<double>(run_.input_bytes.load(std::memory_order_relaxed)) /
                    static_cast<double>(size_));
        std::fprintf(stderr, "\r\033[K%s packets, %llu MB%s, %.2f Mpps", grouped(packets).c_str(),
                     static_cast<unsigned long long>(
                         run_.bytes_read.load(std::memory_order_relaxed) / 1'000'000),
                     percent, static_cast<double>(packets) / seconds / 1e6);
        shown_ = true;
    }
    // The line goes before anything else is written.
    void clear() {
        if (shown_) std::fputs("\r\033[K", stderr);
        shown_ = false;
    }

private:
    const Run& run_;
    std::uint64_t size_;
    Steady::time_point start_, next_;
    bool shown_ = false;
};

}  // namespace

std::uint32_t flows_per_worker(std::uint32_t max_flows, unsigned workers) {
    if (workers <= 1) return max_flows;
    const std::uint64_t share =
        (std::uint64_t{max_flows} * 5 + 4ull * workers - 1) / (4ull * workers);
    return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(share, 1024, max_flows));
}

int run(const config::Config& c, const Options& o) {
    const unsigned workers = o.workers;
    if (workers == 0 || workers > shm::kMaxWorkers) {
        SLUICE_ERROR("--workers %u: from 1 to %u", workers, shm::kMaxWorkers);
        return 2;
    }
    // Stop signals are taken by this thread alone: the others are made with them blocked.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    Run run{c, o};
    const config::Port& port = c.ports.at(0);
    config::Config per_worker = c;
    per_worker.flow.max_flows = flows_per_worker(c.flow.max_flows, workers);
    const meter::FlowTableConfig table = meter::table_config(per_worker);

    // Application identification: the signatures compiled once, a scratch each.
    Applications applications;
    if (!load_applications(c, applications)) return 2;

    shm::StatsZone& zone = *run.zone;
    shm::StatsHeader& h = zone.header;
    describe(zone, c, o, workers);

    const meter::HashKey key = meter::random_hash_key();
    const auto window = static_cast<std::uint64_t>(port.deduplicate.count());
    const std::uint32_t sampling = port.sampling_interval();
    std::vector<std::unique_ptr<Meter>> meters;
    std::uint64_t bytes = 0;
    // The memory is mapped here, where a failure is said before anything starts; each thread
    // builds its parts on it (clearing it: the threads do that at once, beside the reading).
    const auto map = [&bytes](Mapping& m, std::size_t size, const char* what) {
        m = Mapping(size);
        if (m.get() == nullptr)
            SLUICE_ERROR("cannot allocate %llu MiB for %s: lower --max-flows",
                         static_cast<unsigned long long>(mib(size)), what);
        bytes += size;
        return m.get() != nullptr;
    };
    for (unsigned i = 0; i < workers; ++i) {
        auto m = std::make_unique<Meter>();
        m->index = i;
        if (!map(m->table_memory, FlowTable::memory_size(table), "a flow table")) return 2;
        if (c.metadata.enabled &&
            !map(m->metadata_memory, l7::Extractor::memory_size(c.metadata), "metadata"))
            return 2;
        if (window != 0 &&
            !map(m->dedup_memory, meter::Deduplicator::memory_size(window), "deduplication"))
            return 2;
        m->build = [&c, &port, &table, &key, &applications, window, i](Meter& self) {
            self.table = std::make_unique<FlowTable>(table, self.table_memory.get(), key);
            if (window != 0)
                self.dedup =
                    std::make_unique<meter::Deduplicator>(window, self.dedup_memory.get(), key);
            self.equipment =
                dataplane::equip(*self.table, c, port, applications.prototype.get(),
                                 self.metadata_memory.get(), self.dedup.get(), key.k[4] + i);
        };
        shm::WorkerStats& s = zone.workers[i];
        m->stats = &s;
        s.port_id = 0;
        s.queue = i;
        s.lcore = i;
        s.cpu = i;
        s.sampling = sampling;
        s.sampling_deterministic = port.deterministic;
        meters.push_back(std::move(m));
    }
    std::string options;
    if (window != 0)
        options += "; a frame repeated within " + config::format_duration(port.deduplicate) +
                   " ignored (duplicate)";
    if (sampling > 1)
        options += "; one packet in " + std::to_string(sampling) + " metered (" +
                   (port.deterministic ? "the first" : "one at random") + " of each " +
                   std::to_string(sampling) + (workers > 1 ? ", in each thread's share)" : ")");
    bool huge = true;
    for (const auto& m : meters) huge = huge && m->table_memory.huge();
    SLUICE_INFO(
        "metering on %u %s: %s flows each, %llu MiB of tables%s on %s%s", workers,
        workers == 1 ? "thread" : "threads", grouped(FlowTable::capacity(table.max_flows)).c_str(),
        static_cast<unsigned long long>(mib(bytes)), c.metadata.enabled ? " and metadata" : "",
        huge ? "2 MB hugepages" : "4 KiB pages", options.c_str());

    control::Exporter exporter(c, control::application_names(c), control::port_interfaces(c, zone));
    h.state.store(static_cast<std::uint32_t>(shm::DataplaneState::running),
                  std::memory_order_release);
    for (auto& m : meters) m->thread = std::thread([&run, &m = *m] { m.loop(run); });
    Reader reader(run, meters);
    std::thread reading([&reader] { reader.read(); });

    // The export, as sluice-control's: records offered in batches, the collectors serviced,
    // the counters taken every 100 ms for the statistics records.
    const std::uint64_t start_ns = wall_clock_ns();
    TakenCounters taken;
    const auto snapshot = [&] {
        MeterCounters read;
        for (const auto& m : meters) read += shm::snapshot(m->stats->meter);
        shm::publish(zone.ports[0].counters,
                     shm::PortCounters{read.packets, read.octets, 0, 0, 0, 1, 0});
        ops::Snapshot s =
            ops::take_snapshot(zone, exporter, taken, c.dataplane.file_prefix, start_ns, nullptr);
        s.one_process = true;
        return s;
    };
    control::Reliability stats = ops::reliability(snapshot());
    std::optional<Progress> progress;
    if (o.progress) progress.emplace(run, o.input_bytes);
    auto staging = std::make_unique<FlowRecord[]>(kExportBurst);
    std::uint64_t batch = 0;
    auto next_snapshot = Steady::now() + kSnapshotEvery;
    const timespec idle{0, 1'000'000};
    const timespec none{0, 0};
    bool stopped = false;
    while (true) {
        std::size_t n = 0;
        for (auto& m : meters) n += m->ring.take(staging.get() + n, kExportBurst - n);
        const std::span<const FlowRecord> records{staging.get(), n};
        if (n != 0) {
            for (const FlowRecord& r : records) {
                if (is_extension(r)) continue;
                ++taken.records;
                taken.packets += r.packets + r.reverse_packets;
                taken.octets += r.octets + r.reverse_octets;
            }
            exporter.offer(records, ++batch);
            if (o.print_records) ops::print_records(records);
        }
        const auto now = Steady::now();
        const bool more = exporter.service(now, stats);
        if (now >= next_snapshot) {
            stats = ops::reliability(snapshot());
            next_snapshot = now + kSnapshotEvery;
            if (o.print_records) std::fflush(stdout);
        }
        if (progress) progress->maybe_show(now);
        // Once stopping, the signals are no longer waited for here: a second one goes to its
        // handler (stop_at_once).
        const timespec* wait = n == 0 && !more ? &idle : &none;
        const int sig =
            stopped ? (nanosleep(wait, nullptr), 0) : sigtimedwait(&signals, nullptr, wait);
        if (sig > 0) {
            if (progress) progress->clear();
            SLUICE_INFO(
                "SIG%s received: reading no more; exporting the records of what was read (a "
                "second signal stops at once)",
                sigabbrev_np(sig));
            run.stop.store(true, std::memory_order_relaxed);
            stopped = true;
            // A second one ends the process wherever it comes: a reader waiting on an idle
            // pipe, or a collector that takes its time to close.
            struct sigaction at_once {};
            at_once.sa_handler = stop_at_once;
            sigaction(SIGINT, &at_once, nullptr);
            sigaction(SIGTERM, &at_once, nullptr);
            pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
        }
        if (n != 0) continue;
        bool finished = run.read_all.load(std::memory_order_acquire);
        for (const auto& m : meters)
            finished = finished && m->stats->state.load(std::memory_order_acquire) ==
                                       static_cast<std::uint32_t>(shm::WorkerState::trace_done);
        bool empty = true;
        for (const auto& m : meters) empty = empty && m->ring.waiting() == 0;
        if (finished && empty) break;
    }
    reading.join();
    for (auto& m : meters) m->thread.join();
    if (progress) progress->clear();
    h.state.store(static_cast<std::uint32_t>(shm::DataplaneState::stopped),
                  std::memory_order_release);
    // The final accounting, as sluice-control's: into the last statistics records and the
    // closing lines alike, with each collector's counters as its close left them.
    ops::Snapshot last = snapshot();
    exporter.close(ops::reliability(last), std::chrono::seconds(10));
    std::fflush(stdout);
    last.collectors = snapshot().collectors;
    ops::log_accounting(last);
    if (!o.summary.empty()) {
        std::string error;
        if (!ops::write_summary(o.summary, last, error)) {
            SLUICE_ERROR("--summary: %s", error.c_str());
            return 1;
        }
    }
    if (stopped) return 130;
    return run.failed.load() ? 1 : 0;
}

}  // namespace sluice::offline
