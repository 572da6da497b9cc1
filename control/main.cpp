// sluice-control: the DPDK secondary. Attaches to the dataplane's shared memory and exports.
#include <getopt.h>

#include <jemalloc/jemalloc.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memzone.h>
#include <systemd/sd-daemon.h>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <thread>

#include "drain.hpp"
#include "eal_args.hpp"
#include "exporter.hpp"
#include "loader.hpp"
#include "record_json.hpp"
#include "sluice/eal.hpp"
#include "sluice/log.hpp"
#include "sluice/record.hpp"
#include "sluice/shm.hpp"
#include "sluice/time.hpp"
#include "sluice_version.h"
#include "units.hpp"

namespace {

using namespace sluice;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr const char* kDefaultConfig = "/etc/sluice/sluice.toml";

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: sluice-control [--config FILE] [--wait DURATION]\n"
                 "       sluice-control --check-config FILE\n"
                 "  -c, --config FILE        the Sluice configuration (default %s)\n"
                 "  -w, --wait DURATION      wait this long for the dataplane to start (\"10s\")\n"
                 "      --print-records      write every record to stdout as a line of JSON\n"
                 "      --check-config FILE  validate FILE, print the effective configuration\n"
                 "  -V, --version            print the version and exit\n"
                 "  -h, --help               this help\n",
                 kDefaultConfig);
}

std::optional<config::Config> load(const std::string& path) {
    auto loaded = config::load_file(path);
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return std::move(loaded.config);
}

int check_config(const std::string& path) {
    const auto c = load(path);
    if (!c) return 2;
    std::fputs(config::to_toml(*c).c_str(), stdout);
    SLUICE_INFO("%s is valid", path.c_str());
    return 0;
}

std::string allocator() {
    const char* version = nullptr;
    std::size_t size = sizeof(version);
    if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr)
        return "unknown";
    return std::string("jemalloc ") + version;
}

// Waits until a primary holds the prefix's runtime config, for at most `wait`.
bool wait_for_dataplane(const std::string& prefix, config::Duration wait) {
    const std::string path = eal::primary_config_path(prefix);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    bool said = false;
    while (rte_eal_primary_proc_alive(path.c_str()) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        if (!said)
            SLUICE_INFO("waiting up to %s for sluice-dataplane with file_prefix \"%s\"",
                        config::format_duration(wait).c_str(), prefix.c_str());
        said = true;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

// Finds the dataplane's stats header and checks it speaks this layout.
shm::StatsZone* attach_stats(const std::string& prefix) {
    const rte_memzone* mz = rte_memzone_lookup(shm::kStatsZone);
    if (mz == nullptr) {
        SLUICE_ERROR(
            "the DPDK primary with file_prefix \"%s\" has no %s memzone: it is not a "
            "ready sluice-dataplane",
            prefix.c_str(), shm::kStatsZone);
        return nullptr;
    }
    auto* zone = static_cast<shm::StatsZone*>(mz->addr);
    const shm::StatsHeader* h = &zone->header;
    if (h->magic != shm::kStatsMagic || h->layout_version != shm::kStatsLayoutVersion ||
        h->record_layout_version != kRecordLayoutVersion) {
        SLUICE_ERROR(
            "sluice-dataplane %.*s (pid %d) uses stats layout %u and record layout %u, this "
            "sluice-control %s uses %u and %u: run a control of the dataplane's version",
            static_cast<int>(sizeof(h->version)), h->version, h->dataplane_pid, h->layout_version,
            h->record_layout_version, SLUICE_VERSION, shm::kStatsLayoutVersion,
            kRecordLayoutVersion);
        return nullptr;
    }
    return zone;
}

struct Options {
    config::Duration wait{0};
    bool print_records = false;
};

// What this control took from the rings, for the closing accounting line.
struct Taken {
    std::uint64_t records = 0;
    std::uint64_t packets = 0;
    std::uint64_t octets = 0;
};

// The dataplane's totals, summed over its workers.
struct DataplaneTotals {
    MeterCounters meter{};
    shm::OutputCounters output{};
};

DataplaneTotals totals(const shm::StatsZone& zone) {
    DataplaneTotals t;
    for (unsigned w = 0; w < zone.header.worker_count; ++w) {
        const MeterCounters m = shm::snapshot(zone.workers[w].meter);
        const shm::OutputCounters o = shm::snapshot(zone.workers[w].output);
        t.meter.packets += m.packets;
        t.meter.octets += m.octets;
        t.meter.metered_packets += m.metered_packets;
        t.meter.metered_octets += m.metered_octets;
        for (std::size_t r = 0; r < kIgnoreReasons; ++r) {
            t.meter.ignored_packets[r] += m.ignored_packets[r];
            t.meter.ignored_octets[r] += m.ignored_octets[r];
        }
        t.output.records_not_sent += o.records_not_sent;
        t.output.packets_not_sent += o.packets_not_sent;
        t.output.octets_not_sent += o.octets_not_sent;
    }
    return t;
}

control::Reliability reliability(const shm::StatsZone& zone) {
    const DataplaneTotals t = totals(zone);
    control::Reliability r;
    r.ignored_packets = t.meter.ignored_total();
    for (auto n : t.meter.ignored_octets) r.ignored_octets += n;
    r.records_not_sent = t.output.records_not_sent;
    r.packets_not_sent = t.output.packets_not_sent;
    r.octets_not_sent = t.output.octets_not_sent;
    r.since_ns = zone.header.start_time_ns;
    return r;
}

// Prints the run's accounting from the dataplane's counters, what this control received and
// what each collector was sent: every packet is in an exported record, ignored, or not sent.
void report(const shm::StatsZone& zone, const Taken& taken, const control::Exporter& exporter) {
    const DataplaneTotals t = totals(zone);
    for (unsigned w = 0; w < zone.header.worker_count; ++w) {
        const MeterCounters m = shm::snapshot(zone.workers[w].meter);
        SLUICE_INFO("worker %u (port %u queue %u): %" PRIu64 " packets, %" PRIu64 " flows", w,
                    zone.workers[w].port_id, zone.workers[w].queue, m.packets, m.flows_created);
    }
    SLUICE_INFO("accounting: %" PRIu64 " packets received = %" PRIu64 " in %" PRIu64
                " records taken by sluice-control + %" PRIu64 " ignored + %" PRIu64 " in %" PRIu64
                " records not sent by the dataplane; %" PRIu64 " frame octets received, %" PRIu64
                " IP octets metered",
                t.meter.packets, taken.packets, taken.records, t.meter.ignored_total(),
                t.output.packets_not_sent, t.output.records_not_sent, t.meter.octets,
                t.meter.metered_octets);
    for (const auto& s : exporter.sessions()) {
        const control::SessionCounters c = s->counters();
        const std::uint64_t not_sent = t.output.packets_not_sent + c.packets_not_sent;
        SLUICE_INFO("accounting for collector \"%s\" (%s): %" PRIu64 " packets received = %" PRIu64
                    " in %" PRIu64 " records exported + %" PRIu64 " ignored + %" PRIu64
                    " in %" PRIu64 " records not sent; %" PRIu64 " of %" PRIu64
                    " metered octets exported; %" PRIu64 " messages",
                    s->name().c_str(), s->describe().c_str(), t.meter.packets, c.packets_sent,
                    c.records_sent, t.meter.ignored_total(), not_sent,
                    t.output.records_not_sent + c.records_not_sent, c.octets_sent,
                    t.meter.metered_octets, c.messages_sent);
    }
}

int run(const config::Config& c, const Options& options) {
    const std::string& prefix = c.dataplane.file_prefix;
    SLUICE_INFO("sluice %s, allocator %s", SLUICE_VERSION, allocator().c_str());
    if (!wait_for_dataplane(prefix, options.wait)) {
        SLUICE_ERROR(
            "no sluice-dataplane is running with file_prefix \"%s\" (from %s); start "
            "it first (sluice run --config %s starts both)",
            prefix.c_str(), c.file.c_str(), c.file.c_str());
        return 3;
    }

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    std::vector<std::string> args = control::eal_args(c);
    std::vector<char*> argv = eal::argv(args);
    if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
        SLUICE_ERROR(
            "cannot attach to sluice-dataplane with file_prefix \"%s\": %s (see the EAL "
            "messages above)",
            prefix.c_str(), rte_strerror(rte_errno));
        return 1;
    }
    // The primary may still be starting: its memzone appears once it is ready.
    const auto ready_by = std::chrono::steady_clock::now() +
                          std::max<config::Duration>(options.wait, std::chrono::seconds(5));
    while (rte_memzone_lookup(shm::kStatsZone) == nullptr &&
           std::chrono::steady_clock::now() < ready_by)
        std::this_thread::sleep_for(5ms);
    shm::StatsZone* zone = attach_stats(prefix);
    control::Drain drain;
    if (zone == nullptr || !drain.attach(*zone)) {
        rte_eal_cleanup();
        return 1;
    }
    shm::StatsHeader& h = zone->header;
    const auto started = static_cast<std::time_t>(h.start_time_ns / 1'000'000'000u);
    char when[32];
    std::strftime(when, sizeof(when), "%FT%TZ", std::gmtime(&started));
    SLUICE_INFO(
        "attached to sluice-dataplane pid %d (file_prefix \"%s\", sensor \"%.*s\", "
        "%u ports, %u workers, started %s)",
        h.dataplane_pid, prefix.c_str(), static_cast<int>(sizeof(h.sensor_name)), h.sensor_name,
        h.port_count, h.worker_count, when);
    h.control_pid.store(getpid(), std::memory_order_relaxed);
    h.control_heartbeat_ns.store(wall_clock_ns(), std::memory_order_release);
    sd_notify(0, "READY=1\nSTATUS=draining records");

    control::Exporter exporter(c);
    control::Reliability stats = reliability(*zone);
    std::vector<FlowRecord> batch;
    Taken taken;
    auto next_beat = Steady::now();
    std::optional<Steady::time_point> stop_at;  // when a stop signal leaves the dataplane running
    const timespec idle{0, 1'000'000};
    const timespec none{0, 0};
    bool primary_gone = false;
    while (true) {
        const std::size_t n = drain.poll(batch);
        exporter.offer(batch);
        for (const FlowRecord& r : batch) {
            ++taken.records;
            taken.packets += r.packets + r.reverse_packets;
            taken.octets += r.octets + r.reverse_octets;
            if (options.print_records) std::printf("%s\n", control::to_json(r).c_str());
        }
        const auto now = Steady::now();
        const bool more = exporter.service(now, stats);
        if (now >= next_beat) {
            stats = reliability(*zone);
            h.control_heartbeat_ns.store(wall_clock_ns(), std::memory_order_release);
            next_beat = now + std::chrono::milliseconds(100);
            if (options.print_records) std::fflush(stdout);
        }
        const int sig = sigtimedwait(&stop, nullptr, n == 0 && !more ? &idle : &none);
        if (sig > 0 && !stop_at) {
            // A dataplane that is stopping too is waited for, so its last records get out.
            SLUICE_INFO("SIG%s received: exporting what is in the rings, then stopping",
                        sigabbrev_np(sig));
            stop_at = now + std::chrono::seconds(2);
        }
        // Stopped on its own while the dataplane runs on: what the rings hold stays for the
        // next control, even if they never run empty.
        if (stop_at && now >= *stop_at &&
            h.state.load(std::memory_order_acquire) ==
                static_cast<std::uint32_t>(shm::DataplaneState::running))
            break;
        if (n != 0) continue;
        if (primary_gone) break;  // one more pass after the dataplane left: now empty
        if (rte_eal_primary_proc_alive(nullptr) == 0) {
            SLUICE_INFO("sluice-dataplane has exited; exporting the last records");
            primary_gone = true;
        }
    }
    exporter.close(reliability(*zone), std::chrono::seconds(primary_gone ? 10 : 3));
    h.control_heartbeat_ns.store(0, std::memory_order_release);
    std::fflush(stdout);
    report(*zone, taken, exporter);
    sd_notify(0, "STOPPING=1");
    rte_eal_cleanup();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    log::program() = "sluice-control";
    std::string config_path = kDefaultConfig;
    Options run_options;
    enum { kCheckConfig = 256, kPrintRecords };
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {"wait", required_argument, nullptr, 'w'},
                                     {"check-config", required_argument, nullptr, kCheckConfig},
                                     {"print-records", no_argument, nullptr, kPrintRecords},
                                     {"version", no_argument, nullptr, 'V'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    for (int opt; (opt = getopt_long(argc, argv, "c:w:Vh", options, nullptr)) != -1;) {
        switch (opt) {
            case 'c': config_path = optarg; break;
            case 'w': {
                const auto parsed = config::parse_duration(optarg);
                if (!parsed.value) {
                    SLUICE_ERROR("--wait %s: %s", optarg, parsed.error.c_str());
                    return 2;
                }
                run_options.wait = *parsed.value;
                break;
            }
            case kPrintRecords: run_options.print_records = true; break;
            case kCheckConfig: return check_config(optarg);
            case 'V': std::printf("sluice-control %s\n", SLUICE_VERSION); return 0;
            case 'h': usage(stdout); return 0;
            default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    const auto c = load(config_path);
    if (!c) return 2;
    return run(*c, run_options);
}
