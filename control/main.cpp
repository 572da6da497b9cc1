// sluice-control: the DPDK secondary. Attaches to the dataplane's shared memory and exports.
#include <getopt.h>

#include <jemalloc/jemalloc.h>
#include <rte_eal.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>

#include "accounting.hpp"
#include "attach.hpp"
#include "control_socket.hpp"
#include "drain.hpp"
#include "exporter.hpp"
#include "json.hpp"
#include "loader.hpp"
#include "metrics_server.hpp"
#include "record_json.hpp"
#include "render.hpp"
#include "sluice/log.hpp"
#include "sluice/record.hpp"
#include "sluice/shm.hpp"
#include "sluice/time.hpp"
#include "sluice_version.h"
#include "snapshot.hpp"
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
                 "      --summary FILE       write the final accounting to FILE as JSON\n"
                 "      --check-config FILE  validate FILE, print the effective configuration\n"
                 "  -V, --version            print the version and exit\n"
                 "  -h, --help               this help\n",
                 kDefaultConfig);
}

std::optional<config::Config> load(const std::string& path) {
    auto loaded = config::load_file(path);
    for (const auto& e : loaded.errors) log::error_line(e.to_string().c_str());
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

struct Options {
    config::Duration wait{0};
    bool print_records = false;
    std::string summary;  // where to write the final accounting as JSON; empty: nowhere
};

// The names of the applications the dataplane identifies, for the collectors.
control::ApplicationNames application_names(const config::Config& c) {
    const std::string path = config::signatures_path(c);
    if (path.empty()) return nullptr;
    const auto loaded = config::load_signatures(path);
    if (!loaded.signatures) {
        SLUICE_WARN("application names: %s; records carry the ids only",
                    loaded.errors.at(0).to_string().c_str());
        return nullptr;
    }
    auto names = std::make_shared<std::vector<control::ApplicationName>>();
    for (const auto& a : loaded.signatures->applications)
        names->push_back({a.id, a.name, a.description});
    return names;
}

// What a reload may not change while both processes run: named, so the operator knows to restart.
std::vector<std::string> needs_restart(const config::Config& was, const config::Config& now) {
    std::vector<std::string> keys;
    auto check = [&](bool same, const char* key) {
        if (!same) keys.push_back(key);
    };
    check(was.sensor.name == now.sensor.name, "sensor.name");
    check(was.dataplane == now.dataplane, "[dataplane]");
    check(was.ports == now.ports, "[[port]]");
    check(was.flow.max_flows == now.flow.max_flows, "flow.max_flows");
    check(was.flow.record_ring_size == now.flow.record_ring_size, "flow.record_ring_size");
    check(was.control == now.control, "[control]");
    check(was.applications == now.applications, "[applications]");
    return keys;
}

// The running control: its configuration, the exporter, the operator's interfaces.
class Control {
public:
    Control(const config::Config& c, shm::StatsZone& zone, const Options& options)
        : config_(c),
          zone_(zone),
          options_(options),
          exporter_(c, application_names(c)),
          start_ns_(wall_clock_ns()) {
        refresh_snapshot();
        if (!socket_.open(c.control.socket))
            SLUICE_WARN("sluicectl cannot reach this control; records are exported all the same");
        start_metrics();
    }

    int run(const sigset_t& signals);

private:
    void refresh_snapshot() {
        ops::Snapshot s = ops::take_snapshot(zone_, exporter_, taken_,
                                             config_.dataplane.file_prefix, start_ns_, &rate_base_);
        if (s.time_ns - rate_base_.time_ns >= 1'000'000'000) rate_base_ = s;
        const std::lock_guard lock(snapshot_mutex_);
        snapshot_ = std::move(s);
    }

    ops::Snapshot snapshot() const {
        const std::lock_guard lock(snapshot_mutex_);
        return snapshot_;
    }

    void start_metrics() {
        metrics_.stop();
        if (config_.metrics.enabled)
            metrics_.start(config_.metrics.listen,
                           [this] { return ops::prometheus_text(snapshot()); });
    }

    std::optional<std::string> handle(const ops::Request& r) {
        if (r.command == "top") return top(r);
        if (r.command == "status" || r.command == "stats" || r.command == "collectors") {
            refresh_snapshot();
            const ops::Snapshot s = snapshot();
            if (r.string("format").value_or("json") == "text") {
                if (r.command == "status") return ops::text_reply(ops::status_text(s));
                if (r.command == "stats") return ops::text_reply(ops::stats_text(s));
                return ops::text_reply(ops::collectors_text(s));
            }
            if (r.command == "status") return ops::status_json(s);
            if (r.command == "stats") return ops::stats_json(s);
            return ops::collectors_json(s);
        }
        const bool text = r.string("format").value_or("json") == "text";
        if (r.command == "reload") return reload(text);
        if (r.command == "flush") {
            zone_.flow_settings.flush_requests.fetch_add(1, std::memory_order_relaxed);
            SLUICE_INFO("flush: every worker exports its active flows now (forcedEnd)");
            if (text)
                return ops::text_reply(std::to_string(zone_.header.worker_count) +
                                       " workers are exporting their active flows\n");
            ops::JsonWriter j;
            j.begin_object().field("ok", true).field("flushing_workers", zone_.header.worker_count);
            return j.end_object().text();
        }
        return ops::error_json(
            "unknown command \"" + r.command +
            "\"; the commands are status, stats, top, collectors, flush, reload");
    }

    // The largest active flows: every running worker scans its table a share per poll and
    // answers in the memzone; until all have, the request waits (the client is not blocked on).
    std::optional<std::string> top(const ops::Request& r) {
        const auto now = Steady::now();
        if (!top_request_) {
            top_request_ = zone_.flow_settings.top_requests.fetch_add(1) + 1;
            top_since_ = now;
        }
        std::vector<FlowRecord> flows;
        for (unsigned w = 0; w < zone_.header.worker_count; ++w) {
            const shm::WorkerStats& ws = zone_.workers[w];
            const bool running = ws.state.load(std::memory_order_acquire) ==
                                 static_cast<std::uint32_t>(shm::WorkerState::running);
            if (ws.top.answered.load(std::memory_order_acquire) != *top_request_) {
                if (running && now - top_since_ < std::chrono::seconds(3)) return std::nullopt;
                continue;  // a stopped (or stuck) worker has no active flows to show
            }
            flows.insert(flows.end(), ws.top.flows, ws.top.flows + ws.top.count);
        }
        top_request_.reset();
        std::sort(flows.begin(), flows.end(), [](const FlowRecord& a, const FlowRecord& b) {
            return a.octets + a.reverse_octets > b.octets + b.reverse_octets;
        });
        const auto limit = r.integer("limit").value_or(shm::kTopFlows);
        if (limit >= 0 && flows.size() > static_cast<std::size_t>(limit)) flows.resize(limit);
        if (r.string("format").value_or("json") == "text")
            return ops::text_reply(ops::top_text(flows));
        return ops::top_json(flows);
    }

    // Reads the configuration file again and applies what can change while running.
    std::string reload(bool text = false) {
        auto loaded = config::load_file(config_.file);
        if (!loaded.config) {
            std::string message = "the configuration in " + config_.file +
                                  " has errors and was not applied; the running one stays:";
            for (const auto& e : loaded.errors) message += "\n" + e.to_string();
            SLUICE_ERROR("reload: %s", message.c_str());
            return ops::error_json(message);
        }
        config::Config next = std::move(*loaded.config);
        const auto restart = needs_restart(config_, next);
        // Settings that need a restart stay as they run; the rest takes effect now.
        next.sensor.name = config_.sensor.name;
        next.dataplane = config_.dataplane;
        next.ports = config_.ports;
        next.flow.max_flows = config_.flow.max_flows;
        next.flow.record_ring_size = config_.flow.record_ring_size;
        next.control = config_.control;
        next.applications = config_.applications;
        exporter_.reconfigure(next, ops::reliability(snapshot()));
        shm::publish(zone_.flow_settings,
                     {static_cast<std::uint64_t>(next.flow.idle_timeout.count()),
                      static_cast<std::uint64_t>(next.flow.active_timeout.count()),
                      static_cast<std::uint64_t>(next.flow.tcp_end_grace.count())});
        zone_.header.config_generation =
            zone_.flow_settings.sequence.load(std::memory_order_relaxed) / 2;
        const bool metrics_changed = !(next.metrics == config_.metrics);
        config_ = std::move(next);
        if (metrics_changed) start_metrics();
        ops::JsonWriter j;
        j.begin_object()
            .field("ok", true)
            .field("config_generation", zone_.header.config_generation);
        j.key("needs_restart").begin_array();
        for (const auto& k : restart) j.value(k);
        j.end_array().end_object();
        std::string restart_text;
        for (const auto& k : restart) restart_text += (restart_text.empty() ? "" : ", ") + k;
        char applied[512];
        std::snprintf(applied, sizeof(applied), "%s applied (generation %" PRIu64 ")%s%s",
                      config_.file.c_str(), zone_.header.config_generation,
                      restart.empty() ? "" : "; these need a restart and were left as they run: ",
                      restart_text.c_str());
        SLUICE_INFO("reload: %s", applied);
        return text ? ops::text_reply(std::string(applied) + "\n") : j.text();
    }

    config::Config config_;
    shm::StatsZone& zone_;
    const Options& options_;
    control::Exporter exporter_;
    ops::ControlSocket socket_;
    ops::MetricsServer metrics_;
    std::uint64_t start_ns_;
    ops::Taken taken_;
    std::optional<std::uint64_t> top_request_;  // the "top" the workers are answering
    Steady::time_point top_since_;
    ops::Snapshot rate_base_;
    mutable std::mutex snapshot_mutex_;
    ops::Snapshot snapshot_;
};

int Control::run(const sigset_t& signals) {
    shm::StatsHeader& h = zone_.header;
    control::Drain drain;
    if (!drain.attach(zone_)) return 1;
    std::vector<FlowRecord> batch;
    control::Reliability stats = ops::reliability(snapshot());
    auto next_beat = Steady::now();
    std::optional<Steady::time_point> stop_at;  // when a stop signal leaves the dataplane running
    const timespec idle{0, 1'000'000};
    const timespec none{0, 0};
    bool primary_gone = false;
    const auto handler = [this](const ops::Request& r) { return handle(r); };
    while (true) {
        const std::size_t n = drain.poll(batch);
        exporter_.offer(batch);
        for (const FlowRecord& r : batch) {
            ++taken_.records;
            taken_.packets += r.packets + r.reverse_packets;
            taken_.octets += r.octets + r.reverse_octets;
            if (options_.print_records) std::printf("%s\n", control::to_json(r).c_str());
        }
        const auto now = Steady::now();
        const bool more = exporter_.service(now, stats);
        socket_.poll(handler);
        if (now >= next_beat) {
            refresh_snapshot();
            stats = ops::reliability(snapshot());
            h.control_heartbeat_ns.store(wall_clock_ns(), std::memory_order_release);
            next_beat = now + std::chrono::milliseconds(100);
            if (options_.print_records) std::fflush(stdout);
        }
        const int sig = sigtimedwait(&signals, nullptr, n == 0 && !more ? &idle : &none);
        if (sig == SIGHUP) {
            SLUICE_INFO("SIGHUP received: reloading %s", config_.file.c_str());
            reload();
        } else if (sig > 0 && !stop_at) {
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
    metrics_.stop();
    // The final accounting: the dataplane's counters as they are now (final once it has gone)
    // go into the last statistics records and into the closing report alike, with each
    // collector's counters as its close left them.
    refresh_snapshot();
    ops::Snapshot last = snapshot();
    exporter_.close(ops::reliability(last), std::chrono::seconds(primary_gone ? 10 : 3));
    h.control_heartbeat_ns.store(0, std::memory_order_release);
    std::fflush(stdout);
    refresh_snapshot();
    last.collectors = snapshot().collectors;
    ops::log_accounting(last);
    std::string error;
    if (!options_.summary.empty() && !ops::write_summary(options_.summary, last, error)) {
        SLUICE_ERROR("--summary: %s", error.c_str());
        return 1;
    }
    return 0;
}

int run(const config::Config& c, const Options& options) {
    const std::string& prefix = c.dataplane.file_prefix;
    SLUICE_INFO("sluice %s, allocator %s", SLUICE_VERSION, allocator().c_str());
    // Blocked in every thread, before EAL starts its own: the stop signals end any wait of
    // the attach, and then the export loop; SIGHUP reloads once attached.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigset_t signals = stop;
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    const control::Attachment attached = control::attach(c, options.wait, stop);
    if (attached.zone == nullptr) return attached.status;
    shm::StatsZone* zone = attached.zone;
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
    int status = 0;
    {
        Control control(c, *zone, options);
        sd_notify(0, "READY=1\nSTATUS=draining records");
        status = control.run(signals);
    }
    sd_notify(0, "STOPPING=1");
    // Once the dataplane has gone, a secondary's cleanup could only try to reach it (and log
    // that it cannot); the process's exit releases the mappings.
    if (rte_eal_primary_proc_alive(nullptr)) rte_eal_cleanup();
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    log::program() = "sluice-control";
    std::string config_path = kDefaultConfig;
    Options run_options;
    enum { kCheckConfig = 256, kPrintRecords, kSummary };
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {"wait", required_argument, nullptr, 'w'},
                                     {"check-config", required_argument, nullptr, kCheckConfig},
                                     {"print-records", no_argument, nullptr, kPrintRecords},
                                     {"summary", required_argument, nullptr, kSummary},
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
            case kSummary: run_options.summary = optarg; break;
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
