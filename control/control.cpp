// The running sluice-control: attached to its dataplane, it drains the rings into the
// exporter and serves the operator's interfaces until it is stopped or the dataplane ends.
#include "control/control.hpp"

#include <jemalloc/jemalloc.h>
#include <rte_eal.h>
#include <systemd/sd-daemon.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "control/attach.hpp"
#include "control/commands.hpp"
#include "control/drain.hpp"
#include "control/export/exporter.hpp"
#include "control/ops/accounting.hpp"
#include "control/ops/control_socket.hpp"
#include "control/ops/metrics_server.hpp"
#include "control/ops/render.hpp"
#include "control/ops/snapshot.hpp"
#include "control/reload.hpp"
#include "shared/config/loader.hpp"
#include "shared/records/record_json.hpp"
#include "sluice/log.hpp"
#include "sluice/metadata.hpp"
#include "sluice/record.hpp"
#include "sluice/shm.hpp"
#include "sluice/time.hpp"
#include "sluice_version.h"

namespace sluice::control {
namespace {

using Steady = std::chrono::steady_clock;

std::string allocator() {
    const char* version = nullptr;
    std::size_t size = sizeof(version);
    if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr)
        return "unknown";
    return std::string("jemalloc ") + version;
}

// The running control: its configuration, the exporter, the operator's interfaces.
class Control {
public:
    Control(const config::Config& c, shm::StatsZone& zone, const Options& options)
        : config_(c),
          zone_(zone),
          options_(options),
          exporter_(c, application_names(c), port_interfaces(c, zone),
                    {shm::control_state_prefix(c.dataplane.file_prefix) + "collector-",
                     zone.header.start_time_ns}),
          commands_(
              zone,
              [this] {
                  refresh_snapshot();
                  return snapshot();
              },
              [this](bool text) { return reload(text); }),
          start_ns_(wall_clock_ns()) {
        refresh_snapshot();
        if (!socket_.open(c.control.socket))
            SLUICE_WARN("sluicectl cannot reach this control; records are exported all the same");
        start_metrics();
    }

    int run(const sigset_t& signals);

private:
    void refresh_snapshot() {
        ops::Snapshot s = ops::take_snapshot(zone_, exporter_, drain_.taken(),
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

    // Reads the configuration file again and applies what can change while running.
    std::string reload(bool text = false) {
        ReloadPlan plan = plan_reload(config_, config::load_file(config_.file));
        if (!plan.next) {
            SLUICE_ERROR("reload: %s", plan.error.c_str());
            return ops::error_json(plan.error);
        }
        exporter_.reconfigure(*plan.next, ops::reliability(snapshot()));
        const std::uint64_t generation = shm::publish_timeouts(zone_, plan.next->flow);
        const bool metrics_changed = !(plan.next->metrics == config_.metrics);
        config_ = std::move(*plan.next);
        if (metrics_changed) start_metrics();
        SLUICE_INFO("reload: %s",
                    reload_summary(config_.file, generation, plan.needs_restart).c_str());
        return reload_reply(config_.file, generation, plan.needs_restart, text);
    }

    config::Config config_;
    shm::StatsZone& zone_;
    const Options& options_;
    Exporter exporter_;
    ops::ControlSocket socket_;
    Commands commands_;
    std::uint64_t start_ns_;
    Drain drain_;
    ops::Snapshot rate_base_;
    mutable std::mutex snapshot_mutex_;
    ops::Snapshot snapshot_;
    // Last: destroyed first, so its thread stops before the snapshot it serves goes.
    ops::MetricsServer metrics_;
};

int Control::run(const sigset_t& signals) {
    shm::StatsHeader& h = zone_.header;
    if (!drain_.attach(zone_, shm::control_state_prefix(config_.dataplane.file_prefix) + "rings"))
        return 1;
    // What a killed control had taken last, for the collectors that lack it.
    if (const Drain::Batch left = drain_.left_over(); left.number != 0)
        exporter_.offer(left.records, left.number);
    Reliability stats = ops::reliability(snapshot());
    auto next_beat = Steady::now();
    std::optional<Steady::time_point> stop_at;  // when a stop signal leaves the dataplane running
    const timespec idle{0, 1'000'000};
    const timespec none{0, 0};
    bool primary_gone = false;
    const auto handler = [this](const ops::Request& r) {
        return commands_.handle(r, Steady::now());
    };
    while (true) {
        const Drain::Batch batch = drain_.poll();
        const std::size_t n = batch.records.size();
        exporter_.offer(batch.records, batch.number);
        if (options_.print_records) ops::print_records(batch.records);
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
    // While the dataplane runs on, the counters stay for the next control; once it has gone,
    // nothing of this run is needed any more.
    exporter_.close(ops::reliability(last), std::chrono::seconds(primary_gone ? 10 : 3),
                    !primary_gone);
    if (primary_gone) drain_.remove_journal();
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

}  // namespace

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

    const Attachment attached = attach(c, options.wait, stop);
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

}  // namespace sluice::control
