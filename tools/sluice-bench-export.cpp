// sluice-bench-export: measures how many flow records one control core encodes as IPFIX (or
// NetFlow v9 or v5) and sends to a local UDP collector, with the collector session sluice-control
// uses. A sink thread on another CPU receives and counts the messages. Prints one JSON object per
// run.
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>
#include <x86intrin.h>

#include "control/export/session.hpp"
#include "shared/config/units.hpp"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

struct Options {
    std::uint64_t records = 20'000'000;
    unsigned mtu = 1500;
    unsigned repeat = 5;
    int cpu = 1;               // the exporter
    int sink_cpu = 0;          // the collector
    bool sink_sleeps = false;  // a sink that blocks in recvmmsg: every datagram wakes it
    bool segmentation = true;  // the collector's segmentation_offload
    config::Records shape = config::Records::biflow;
    config::Protocol protocol = config::Protocol::ipfix;
    std::string tls_to;  // a TLS collector at HOST:PORT instead of the UDP sink
    std::string ca_file;
    std::string tcp_to;  // a TCP collector at HOST:PORT instead of the UDP sink
    std::string spool;   // the TCP or TLS collector's spool folder
    std::uint64_t buffer_size = 32ull << 20;  // the collector's memory buffer
    std::string spool_rates;  // measure the spool itself in this folder, no collector
    config::Duration spool_sync = std::chrono::seconds(1);
};

void pin(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

double tsc_hz() {
    const auto t0 = Clock::now();
    const std::uint64_t c0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::uint64_t c1 = __rdtsc();
    return static_cast<double>(c1 - c0) / std::chrono::duration<double>(Clock::now() - t0).count();
}

// Records as the dataplane makes them: 70% IPv4, 30% IPv6, varied counters and times.
std::vector<FlowRecord> make_records(std::size_t n) {
    std::mt19937_64 rng(1);
    std::vector<FlowRecord> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        FlowRecord& r = out[i];
        r = FlowRecord{};
        r.ip_version = rng() % 10 < 3 ? 6 : 4;
        for (auto& b : r.source_address) b = static_cast<std::uint8_t>(rng());
        for (auto& b : r.destination_address) b = static_cast<std::uint8_t>(rng());
        r.protocol = rng() % 2 ? 6 : 17;
        r.source_port = static_cast<std::uint16_t>(rng());
        r.destination_port = static_cast<std::uint16_t>(rng() % 1024);
        r.packets = 1 + rng() % 1000;
        r.octets = r.packets * (40 + rng() % 1400);
        r.reverse_packets = rng() % 1000;
        r.reverse_octets = r.reverse_packets * (40 + rng() % 1400);
        r.first_ns = 1'700'000'000'000'000'000 + rng() % 1'000'000'000'000;
        r.last_ns = r.first_ns + rng() % 60'000'000'000;
        r.reverse_first_ns = r.reverse_packets ? r.first_ns + 1000 : 0;
        r.reverse_last_ns = r.reverse_packets ? r.last_ns : 0;
        r.tcp_flags = static_cast<std::uint8_t>(rng());
        r.minimum_ttl = 60;
        r.maximum_ttl = 64;
        r.end_reason = FlowEndReason::idle_timeout;
    }
    return out;
}

// A collector that only counts: messages, bytes, and the data records their headers say were
// sent before the last one (RFC 7011 sequence numbers).
struct Sink {
    int fd = -1;
    std::uint16_t port = 0;
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> messages{0}, bytes{0};

    Sink() {
        fd = socket(AF_INET, SOCK_DGRAM, 0);
        const int size = 64 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
        socklen_t len = sizeof(a);
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        timeval tv{0, 100'000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~Sink() { close(fd); }

    void run(int cpu, bool sleeps) {
        pin(cpu);
        constexpr unsigned kBatch = 64;
        static std::uint8_t buffers[kBatch][65536];
        mmsghdr msgs[kBatch];
        iovec iov[kBatch];
        for (unsigned i = 0; i < kBatch; ++i) {
            iov[i] = {buffers[i], sizeof(buffers[i])};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        while (!stop.load(std::memory_order_relaxed)) {
            const int n = recvmmsg(fd, msgs, kBatch, sleeps ? 0 : MSG_DONTWAIT, nullptr);
            if (n <= 0) continue;
            std::uint64_t b = 0;
            for (int i = 0; i < n; ++i) b += msgs[i].msg_len;
            messages.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
            bytes.fetch_add(b, std::memory_order_relaxed);
        }
    }
};

struct Result {
    double seconds;
    std::uint64_t cycles;
    control::SessionCounters sent;
};

Result run_once(const Options& o, const std::vector<FlowRecord>& records, std::uint16_t port) {
    config::Collector c;
    c.name = "bench";
    c.address = {"127.0.0.1", port};
    c.mtu = static_cast<std::uint16_t>(o.mtu);
    c.segmentation_offload = o.segmentation;
    c.records = o.shape;
    c.protocol = o.protocol;
    if (!o.tls_to.empty()) {
        c.transport = config::Transport::tls;
        c.address = *config::parse_socket_address(o.tls_to).value;
        c.ca_file = o.ca_file;
    }
    if (!o.tcp_to.empty()) {
        c.transport = config::Transport::tcp;
        c.address = *config::parse_socket_address(o.tcp_to).value;
    }
    c.spool = o.spool;
    c.buffer_size = o.buffer_size;
    control::CollectorSession session(c, 1, 1);
    const control::Reliability reliability{};
    // Connected (a TLS handshake done) before the clock starts.
    for (int i = 0; i < 5000 && session.state() != control::SessionState::up; ++i) {
        session.service(Clock::now(), reliability);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // As sluice-control does: take a drain's worth of records, then let the session send.
    constexpr std::size_t kDrain = 4096;
    constexpr std::uint64_t kBacklog = 65536;  // records: well inside the 32 MiB buffer
    const auto t0 = Clock::now();
    const std::uint64_t c0 = __rdtsc();
    std::uint64_t offered = 0;
    while (offered < o.records) {
        const std::size_t at = offered % records.size();
        const std::size_t n = std::min({kDrain, records.size() - at, o.records - offered});
        // A stream takes records as fast as the collector reads them: offer what fits.
        while (session.counters().records_buffered > kBacklog)
            session.service(Clock::now(), reliability);
        session.offer(std::span(records).subspan(at, n));
        offered += n;
        session.service(Clock::now(), reliability);
    }
    while (!session.drained()) session.service(Clock::now(), reliability);
    const std::uint64_t c1 = __rdtsc();
    const auto t1 = Clock::now();
    return {std::chrono::duration<double>(t1 - t0).count(), c1 - c0, session.counters()};
}

// The spool alone: N records appended in drains of 256, as a collector away spools them, then
// read back and confirmed, as its return replays them. Records per second each way.
int spool_rates(const Options& o, const std::vector<FlowRecord>& records, double hz) {
    std::vector<double> writes, replays;
    std::vector<FlowRecord> buf(4096);
    for (unsigned i = 0; i < o.repeat; ++i) {
        const std::string folder = o.spool_rates + "/run" + std::to_string(i);
        std::uint64_t c0, c1, c2;
        double write_s, replay_s;
        std::uint64_t replayed = 0;
        {
            control::Spool spool({.folder = folder,
                                  .sensor = "bench",
                                  .collector = "bench",
                                  .size = 1ull << 40,
                                  .sync = o.spool_sync,
                                  .overflow = config::SpoolOverflow::drop_newest});
            const auto t0 = Clock::now();
            c0 = __rdtsc();
            for (std::uint64_t n = 0; n < o.records;) {
                const std::size_t at = n % records.size();
                const std::size_t k =
                    std::min<std::uint64_t>({256, records.size() - at, o.records - n});
                spool.append(std::span(records).subspan(at, k));
                spool.tick(Clock::now());
                n += k;
            }
            spool.flush();
            c1 = __rdtsc();
            const auto t1 = Clock::now();
            for (std::size_t n; (n = spool.read(buf)) != 0;) {
                replayed += n;
                spool.release(n);
                spool.tick(Clock::now());
            }
            spool.flush();
            c2 = __rdtsc();
            write_s = std::chrono::duration<double>(t1 - t0).count();
            replay_s = std::chrono::duration<double>(Clock::now() - t1).count();
            if (replayed != o.records || spool.state().dropped.records != 0) {
                std::fprintf(stderr, "sluice-bench-export: the spool gave back %llu of %llu\n",
                             static_cast<unsigned long long>(replayed),
                             static_cast<unsigned long long>(o.records));
                return 1;
            }
        }
        rmdir(folder.c_str());
        writes.push_back(static_cast<double>(o.records) / write_s);
        replays.push_back(static_cast<double>(o.records) / replay_s);
        std::printf(
            "{\"records\": %llu, \"write_mrecords_per_s\": %.2f, "
            "\"write_cycles_per_record\": %.1f, \"replay_mrecords_per_s\": %.2f, "
            "\"replay_cycles_per_record\": %.1f, \"tsc_ghz\": %.3f}\n",
            static_cast<unsigned long long>(o.records), writes.back() / 1e6,
            static_cast<double>(c1 - c0) / static_cast<double>(o.records), replays.back() / 1e6,
            static_cast<double>(c2 - c1) / static_cast<double>(o.records), hz / 1e9);
        std::fflush(stdout);
    }
    std::sort(writes.begin(), writes.end());
    std::sort(replays.begin(), replays.end());
    const std::string sync = o.spool_sync == config::kSyncAlways ? "always"
                             : o.spool_sync == config::kSyncNever
                                 ? "never"
                                 : config::format_duration(o.spool_sync);
    std::printf(
        "{\"median_write_mrecords_per_s\": %.2f, \"median_replay_mrecords_per_s\": %.2f, "
        "\"runs\": %u, \"spool_sync\": \"%s\"}\n",
        writes[writes.size() / 2] / 1e6, replays[replays.size() / 2] / 1e6, o.repeat, sync.c_str());
    return 0;
}

config::Records c_shape(const Options& o) {
    return o.protocol == config::Protocol::ipfix ? o.shape : config::Records::uniflow;
}

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: sluice-bench-export [--records N] [--mtu BYTES] [--repeat N] [--cpu N]\n"
                 "                           [--sink-cpu N] [--sink-sleeps] [--no-segmentation]\n"
                 "                           [--uniflow] [--protocol ipfix|netflow9|netflow5]\n"
                 "                           [--tls HOST:PORT --ca-file FILE] [--tcp HOST:PORT]\n"
                 "                           [--spool DIR] [--buffer SIZE] [--spool-rates DIR]\n"
                 "                           [--spool-sync always|never|DURATION]\n"
                 "Encodes N flow records (default 20000000) as IPFIX and sends them over UDP\n"
                 "to a counting sink on loopback, with sluice-control's collector session,\n"
                 "exporter on --cpu (1), sink on --sink-cpu (0). The sink polls its socket, as a\n"
                 "collector on another host costs the exporter no wake-ups; --sink-sleeps makes\n"
                 "it block instead, so the kernel wakes it for each datagram on the sender's\n"
                 "CPU. --no-segmentation sends one datagram per system call instead of batches\n"
                 "the kernel cuts (the collector's segmentation_offload = false). --uniflow\n"
                 "exports each biflow as one record per direction (records = \"uniflow\"): N\n"
                 "biflows, 2N records. --protocol netflow9 or netflow5 sends NetFlow instead, in\n"
                 "uniflow records (v5: the IPv4 ones). Prints one JSON object per run and the\n"
                 "median, in records sent. --tls sends IPFIX over TLS to a collector there\n"
                 "(openssl s_server, say) whose certificate --ca-file's CAs sign, instead;\n"
                 "--tcp sends IPFIX over TCP to a collector there. --spool gives that TCP or\n"
                 "TLS collector a spool in DIR (what it costs when the collector keeps up);\n"
                 "--buffer gives it a memory buffer of SIZE (32MiB): with 1MiB and a spool,\n"
                 "every record beyond the first 8192 goes through the spool.\n"
                 "--spool-rates measures the spool alone in DIR: N records written in drains\n"
                 "of 256, then read back and confirmed, with --spool-sync (1s).\n");
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    static const option options[] = {{"records", required_argument, nullptr, 'n'},
                                     {"mtu", required_argument, nullptr, 'm'},
                                     {"repeat", required_argument, nullptr, 'r'},
                                     {"cpu", required_argument, nullptr, 'c'},
                                     {"sink-cpu", required_argument, nullptr, 's'},
                                     {"sink-sleeps", no_argument, nullptr, 'w'},
                                     {"no-segmentation", no_argument, nullptr, 'g'},
                                     {"uniflow", no_argument, nullptr, 'u'},
                                     {"protocol", required_argument, nullptr, 'p'},
                                     {"tls", required_argument, nullptr, 't'},
                                     {"ca-file", required_argument, nullptr, 'a'},
                                     {"tcp", required_argument, nullptr, 'T'},
                                     {"spool", required_argument, nullptr, 'S'},
                                     {"spool-rates", required_argument, nullptr, 'R'},
                                     {"spool-sync", required_argument, nullptr, 'Y'},
                                     {"buffer", required_argument, nullptr, 'B'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    for (int opt; (opt = getopt_long(argc, argv, "n:m:r:c:s:wgup:t:a:T:S:R:Y:B:h", options,
                                     nullptr)) != -1;) {
        switch (opt) {
            case 'n': o.records = std::strtoull(optarg, nullptr, 10); break;
            case 'm': o.mtu = static_cast<unsigned>(std::strtoul(optarg, nullptr, 10)); break;
            case 'r': o.repeat = static_cast<unsigned>(std::strtoul(optarg, nullptr, 10)); break;
            case 'c': o.cpu = std::atoi(optarg); break;
            case 's': o.sink_cpu = std::atoi(optarg); break;
            case 'w': o.sink_sleeps = true; break;
            case 'g': o.segmentation = false; break;
            case 'u': o.shape = config::Records::uniflow; break;
            case 'p': {
                const auto p = config::choice_value(config::kProtocols, optarg);
                if (!p) {
                    usage(stderr);
                    return 2;
                }
                o.protocol = *p;
                break;
            }
            case 't': o.tls_to = optarg; break;
            case 'a': o.ca_file = optarg; break;
            case 'T': o.tcp_to = optarg; break;
            case 'S': o.spool = optarg; break;
            case 'B': {
                const auto size = config::parse_size(optarg);
                if (!size.value || *size.value < sizeof(FlowRecord)) {
                    usage(stderr);
                    return 2;
                }
                o.buffer_size = *size.value;
                break;
            }
            case 'R': o.spool_rates = optarg; break;
            case 'Y': {
                const std::string v = optarg;
                const auto d = config::parse_duration(v);
                if (v != "always" && v != "never" && !d.value) {
                    usage(stderr);
                    return 2;
                }
                o.spool_sync = v == "always"  ? config::kSyncAlways
                               : v == "never" ? config::kSyncNever
                                              : *d.value;
                break;
            }
            case 'h': usage(stdout); return 0;
            default: usage(stderr); return 2;
        }
    }
    if (o.records == 0 || o.repeat == 0 || o.mtu < 576 || o.mtu > 65535 ||
        (!o.tls_to.empty() && !config::parse_socket_address(o.tls_to).value) ||
        (!o.tcp_to.empty() && !config::parse_socket_address(o.tcp_to).value) ||
        (!o.spool.empty() && o.tls_to.empty() && o.tcp_to.empty())) {
        usage(stderr);
        return 2;
    }
    const double hz = tsc_hz();
    const auto records = make_records(1 << 20);
    if (!o.spool_rates.empty()) {
        pin(o.cpu);
        mkdir(o.spool_rates.c_str(), 0750);
        return spool_rates(o, records, hz);
    }
    Sink sink;
    std::thread receiver([&] { sink.run(o.sink_cpu, o.sink_sleeps); });
    pin(o.cpu);
    std::vector<double> rates;
    for (unsigned i = 0; i < o.repeat; ++i) {
        const std::uint64_t m0 = sink.messages.load();
        const Result r = run_once(o, records, sink.port);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the sink catches up
        const std::uint64_t received = sink.messages.load() - m0;
        const double rate = static_cast<double>(r.sent.records_sent) / r.seconds;
        rates.push_back(rate);
        std::printf(
            "{\"records\": %llu, \"mtu\": %u, \"seconds\": %.3f, \"mrecords_per_s\": %.2f, "
            "\"cycles_per_record\": %.1f, \"messages_sent\": %llu, \"messages_received\": %llu, "
            "\"records_not_sent\": %llu, \"bytes_sent\": %llu, \"tsc_ghz\": %.3f}\n",
            static_cast<unsigned long long>(r.sent.records_sent), o.mtu, r.seconds, rate / 1e6,
            static_cast<double>(r.cycles) / static_cast<double>(r.sent.records_sent),
            static_cast<unsigned long long>(r.sent.messages_sent),
            static_cast<unsigned long long>(received),
            static_cast<unsigned long long>(r.sent.records_not_sent),
            static_cast<unsigned long long>(r.sent.bytes_sent), hz / 1e9);
        std::fflush(stdout);
    }
    sink.stop = true;
    receiver.join();
    std::sort(rates.begin(), rates.end());
    std::printf(
        "{\"median_mrecords_per_s\": %.2f, \"mtu\": %u, \"runs\": %u, \"sink\": \"%s\", "
        "\"segmentation\": %s, \"records\": \"%s\", \"protocol\": \"%s\"}\n",
        rates[rates.size() / 2] / 1e6, o.mtu, o.repeat, o.sink_sleeps ? "sleeps" : "polls",
        o.segmentation ? "true" : "false",
        config::choice_name(config::kRecordShapes, c_shape(o)).data(),
        config::choice_name(config::kProtocols, o.protocol).data());
    return 0;
}
