// sluice-control: the DPDK secondary. Attaches to the dataplane's shared memory and exports.
#include <getopt.h>

#include <jemalloc/jemalloc.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memzone.h>
#include <systemd/sd-daemon.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

#include "eal_args.hpp"
#include "loader.hpp"
#include "sluice/eal.hpp"
#include "sluice/log.hpp"
#include "sluice/shm.hpp"
#include "sluice_version.h"
#include "units.hpp"

namespace {

using namespace sluice;
using namespace std::chrono_literals;

constexpr const char* kDefaultConfig = "/etc/sluice/sluice.toml";

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: sluice-control [--config FILE] [--wait DURATION]\n"
                 "       sluice-control --check-config FILE\n"
                 "  -c, --config FILE        the Sluice configuration (default %s)\n"
                 "  -w, --wait DURATION      wait this long for the dataplane to start (\"10s\")\n"
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
        std::this_thread::sleep_for(200ms);
    }
    return true;
}

// Finds the dataplane's stats header and checks it speaks this layout.
const shm::StatsHeader* attach_stats(const std::string& prefix) {
    const rte_memzone* mz = rte_memzone_lookup(shm::kStatsZone);
    if (mz == nullptr) {
        SLUICE_ERROR(
            "the DPDK primary with file_prefix \"%s\" has no %s memzone: it is not a "
            "ready sluice-dataplane",
            prefix.c_str(), shm::kStatsZone);
        return nullptr;
    }
    const auto* h = static_cast<const shm::StatsHeader*>(mz->addr);
    if (h->magic != shm::kStatsMagic || h->layout_version != shm::kStatsLayoutVersion) {
        SLUICE_ERROR(
            "sluice-dataplane %.*s (pid %d) uses stats layout %u, this sluice-control "
            "%s uses layout %u: run a control of the dataplane's version",
            static_cast<int>(sizeof(h->version)), h->version, h->dataplane_pid, h->layout_version,
            SLUICE_VERSION, shm::kStatsLayoutVersion);
        return nullptr;
    }
    return h;
}

int run(const config::Config& c, config::Duration wait) {
    const std::string& prefix = c.dataplane.file_prefix;
    SLUICE_INFO("sluice %s, allocator %s", SLUICE_VERSION, allocator().c_str());
    if (!wait_for_dataplane(prefix, wait)) {
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
    const shm::StatsHeader* stats = attach_stats(prefix);
    int status = 1;
    if (stats != nullptr) {
        const auto started = static_cast<std::time_t>(stats->start_time_ns / 1'000'000'000u);
        char when[32];
        std::strftime(when, sizeof(when), "%FT%TZ", std::gmtime(&started));
        SLUICE_INFO(
            "attached to sluice-dataplane pid %d (file_prefix \"%s\", sensor \"%.*s\", "
            "%u ports, %u workers, started %s)",
            stats->dataplane_pid, prefix.c_str(), static_cast<int>(sizeof(stats->sensor_name)),
            stats->sensor_name, stats->port_count, stats->worker_count, when);
        sd_notify(0, "READY=1\nSTATUS=attached");
        status = 0;
        const timespec tick{0, 200'000'000};
        while (true) {
            const int sig = sigtimedwait(&stop, nullptr, &tick);
            if (sig > 0) {
                SLUICE_INFO("SIG%s received, stopping", sigabbrev_np(sig));
                break;
            }
            if (rte_eal_primary_proc_alive(nullptr) == 0) {
                SLUICE_INFO("sluice-dataplane has exited; stopping");
                break;
            }
        }
        sd_notify(0, "STOPPING=1");
    }
    rte_eal_cleanup();
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    log::program() = "sluice-control";
    std::string config_path = kDefaultConfig;
    config::Duration wait{0};
    enum { kCheckConfig = 256 };
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {"wait", required_argument, nullptr, 'w'},
                                     {"check-config", required_argument, nullptr, kCheckConfig},
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
                wait = *parsed.value;
                break;
            }
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
    return run(*c, wait);
}
