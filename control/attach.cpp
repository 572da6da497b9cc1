// How sluice-control attaches to its dataplane: wait for the primary, start EAL as its
// secondary, find the stats memzone, wait for the dataplane to run.
#include "control/attach.hpp"

#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memzone.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "control/eal_args.hpp"
#include "shared/config/units.hpp"
#include "sluice/eal.hpp"
#include "sluice/log.hpp"
#include "sluice_version.h"

namespace sluice::control {
namespace {

using Steady = std::chrono::steady_clock;
// How often a wait looks at the primary and at signals: for a primary to appear, and once one
// runs (attached a few ms after it is ready, which a capture's replay waits for).
constexpr timespec kPoll{0, 10'000'000};
constexpr timespec kAttachPoll{0, 1'000'000};
constexpr auto kStartTimeout = std::chrono::seconds(5);  // the least a dataplane gets to start

// One of `set`, if it arrives within `timeout`; 0 otherwise.
int take_signal(const sigset_t& set, const timespec& timeout) {
    const int sig = sigtimedwait(&set, nullptr, &timeout);
    return sig > 0 ? sig : 0;
}

void stopped_by(int sig) {
    SLUICE_INFO("SIG%s received before sluice-control attached: stopping, nothing to export",
                sigabbrev_np(sig));
}

// Leaves EAL after a failed attach. Once the primary has gone, a secondary's cleanup could
// only try to reach it (and log that it cannot); the process's exit releases the mappings.
void leave() {
    if (rte_eal_primary_proc_alive(nullptr)) rte_eal_cleanup();
}

std::string header_text(const char* field, std::size_t size) {
    return std::string(field, strnlen(field, size));
}

}  // namespace

std::optional<std::string> incompatible(const shm::StatsHeader& h) {
    if (h.magic != shm::kStatsMagic)
        return "its stats memzone does not hold a sluice-dataplane's header: the DPDK primary "
               "of this file_prefix is another program";
    const std::string version = header_text(h.version, sizeof(h.version));
    if (h.layout_version == shm::kStatsLayoutVersion &&
        h.record_layout_version == kRecordLayoutVersion && version == SLUICE_VERSION)
        return std::nullopt;
    char message[512];
    std::snprintf(message, sizeof(message),
                  "sluice-dataplane %s (pid %d; stats layout %u, record layout %u) is another "
                  "version than this sluice-control %s (%u, %u): run the sluice-control of the "
                  "dataplane's version, or restart both",
                  version.c_str(), h.dataplane_pid, h.layout_version, h.record_layout_version,
                  SLUICE_VERSION, shm::kStatsLayoutVersion, kRecordLayoutVersion);
    return message;
}

Attachment attach(const config::Config& c, config::Duration wait, const sigset_t& stop_signals) {
    const std::string& prefix = c.dataplane.file_prefix;
    const std::string config_path = eal::primary_config_path(prefix);

    // 1. A primary holds the prefix's runtime config.
    const auto deadline = Steady::now() + wait;
    for (bool said = false; rte_eal_primary_proc_alive(config_path.c_str()) == 0;) {
        if (Steady::now() >= deadline) {
            SLUICE_ERROR(
                "no sluice-dataplane is running with file_prefix \"%s\" (from %s); start it "
                "first (sluice run --config %s starts both)",
                prefix.c_str(), c.file.c_str(), c.file.c_str());
            return {nullptr, 3};
        }
        if (!said)
            SLUICE_INFO("waiting up to %s for sluice-dataplane with file_prefix \"%s\"",
                        config::format_duration(wait).c_str(), prefix.c_str());
        said = true;
        if (const int sig = take_signal(stop_signals, kPoll)) {
            stopped_by(sig);
            return {nullptr, 0};
        }
    }

    // 2. EAL as its secondary. rte_eal_init cannot be interrupted: a watcher ends the process
    // if a stop signal arrives or the primary goes while it runs.
    std::vector<std::string> args = eal_args(c);
    std::vector<char*> argv = eal::argv(args);
    std::atomic<bool> initialised{false};
    std::thread watcher([&] {
        while (!initialised.load(std::memory_order_acquire)) {
            if (const int sig = take_signal(stop_signals, kAttachPoll)) {
                stopped_by(sig);
                _exit(0);
            }
            if (rte_eal_primary_proc_alive(config_path.c_str()) == 0) {
                SLUICE_ERROR(
                    "sluice-dataplane with file_prefix \"%s\" exited while sluice-control was "
                    "attaching to it; its messages say why",
                    prefix.c_str());
                _exit(1);
            }
        }
    });
    const int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
    initialised.store(true, std::memory_order_release);
    watcher.join();
    if (rc < 0) {
        SLUICE_ERROR(
            "cannot attach to sluice-dataplane with file_prefix \"%s\": %s (see the EAL "
            "messages above)",
            prefix.c_str(), rte_strerror(rte_errno));
        return {nullptr, 1};
    }
    eal::register_log_type("sluice.control");

    // 3. Its stats memzone, its header, and its state once it runs: a primary still starting
    // gets at least kStartTimeout, and one that exits meanwhile is noticed at once.
    const auto ready_by = Steady::now() + std::max<config::Duration>(wait, kStartTimeout);
    const rte_memzone* mz = nullptr;
    shm::StatsZone* zone = nullptr;
    for (;;) {
        if (mz == nullptr) mz = rte_memzone_lookup(shm::kStatsZone);
        if (mz != nullptr) zone = static_cast<shm::StatsZone*>(mz->addr);
        const std::uint32_t magic =
            zone
                ? std::atomic_ref<std::uint32_t>(zone->header.magic).load(std::memory_order_acquire)
                : 0;
        if (magic != 0) {
            if (const auto why = incompatible(zone->header)) {
                SLUICE_ERROR("cannot attach: %s", why->c_str());
                leave();
                return {nullptr, 1};
            }
            if (zone->header.state.load(std::memory_order_acquire) !=
                static_cast<std::uint32_t>(shm::DataplaneState::starting))
                return {zone, 0};
        }
        if (rte_eal_primary_proc_alive(nullptr) == 0) {
            SLUICE_ERROR(
                "sluice-dataplane with file_prefix \"%s\" exited before it finished starting; its "
                "messages say why",
                prefix.c_str());
            return {nullptr, 1};
        }
        if (Steady::now() >= ready_by) {
            SLUICE_ERROR(
                "the DPDK primary with file_prefix \"%s\" did not finish starting within %s%s",
                prefix.c_str(),
                config::format_duration(std::max<config::Duration>(wait, kStartTimeout)).c_str(),
                mz == nullptr ? " (it has no sluice_stats memzone: is it a "
                                "sluice-dataplane?)"
                              : "");
            leave();
            return {nullptr, 1};
        }
        if (const int sig = take_signal(stop_signals, kAttachPoll)) {
            stopped_by(sig);
            leave();
            return {nullptr, 0};
        }
    }
}

}  // namespace sluice::control
