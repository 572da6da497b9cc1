// sluice-dataplane: the DPDK primary. Owns the ports, cores and shared memory.
#include <getopt.h>
#include <sched.h>

#include <hs/hs.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_memzone.h>
#include <rte_version.h>
#include <systemd/sd-daemon.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "eal_args.hpp"
#include "loader.hpp"
#include "sluice/eal.hpp"
#include "sluice/log.hpp"
#include "sluice/shm.hpp"
#include "sluice_version.h"

namespace {

using namespace sluice;

constexpr const char* kDefaultConfig = "/etc/sluice/sluice.toml";

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: sluice-dataplane [--config FILE]\n"
                 "  -c, --config FILE   the Sluice configuration (default %s)\n"
                 "  -V, --version       print the version and exit\n"
                 "  -h, --help          this help\n",
                 kDefaultConfig);
}

// Refuses cores the process may not run on, before EAL says it less clearly.
bool check_cores(const config::Config& c) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return true;
    std::string usable;
    for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &allowed)) usable += (usable.empty() ? "" : ",") + std::to_string(cpu);
    bool ok = true;
    auto check = [&](unsigned cpu, const char* key) {
        if (cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed)) return;
        SLUICE_ERROR(
            "%s: CPU %u in %s is not available to this process (usable CPUs: %s); "
            "change %s",
            c.file.c_str(), cpu, key, usable.c_str(), key);
        ok = false;
    };
    check(c.dataplane.main_core, "dataplane.main_core");
    for (unsigned cpu : c.dataplane.worker_cores.cpus) check(cpu, "dataplane.worker_cores");
    return ok;
}

// Prints each configured port as DPDK sees it; false when one is missing or cannot do
// what the configuration asks.
bool describe_ports(const config::Config& c) {
    bool ok = true;
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
        const auto& port = c.ports[i];
        const std::string name(port.device_name());
        std::uint16_t id = 0;
        if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
            SLUICE_ERROR(
                "port[%zu]: device \"%s\" was not found by DPDK; check the address "
                "(dpdk-devbind.py --status) or the vdev string in port[%zu].device",
                i + 1, name.c_str(), i + 1);
            ok = false;
            continue;
        }
        rte_eth_dev_info info{};
        rte_ether_addr mac{};
        rte_eth_dev_info_get(id, &info);
        rte_eth_macaddr_get(id, &mac);
        char mac_text[RTE_ETHER_ADDR_FMT_SIZE];
        rte_ether_format_addr(mac_text, sizeof(mac_text), &mac);
        SLUICE_INFO(
            "port %u: %s (driver %s, mac %s, up to %u RX queues): %u RX queues, %u "
            "descriptors, mtu %u%s",
            id, name.c_str(), info.driver_name, mac_text, info.max_rx_queues, port.rx_queues,
            port.rx_descriptors, port.mtu, port.promiscuous ? ", promiscuous" : "");
        if (port.rx_queues > info.max_rx_queues) {
            SLUICE_ERROR("port[%zu].rx_queues: %s supports at most %u RX queues, %u are configured",
                         i + 1, name.c_str(), info.max_rx_queues, port.rx_queues);
            ok = false;
        }
    }
    return ok;
}

void describe_cores() {
    std::string workers;
    unsigned lcore = 0;
    RTE_LCORE_FOREACH_WORKER(lcore) workers += (workers.empty() ? "" : ",") + std::to_string(lcore);
    SLUICE_INFO("main core %u, worker cores %s (%u workers)", rte_get_main_lcore(), workers.c_str(),
                rte_lcore_count() - 1);
}

const rte_memzone* create_stats(const config::Config& c) {
    const rte_memzone* mz = rte_memzone_reserve_aligned(shm::kStatsZone, sizeof(shm::StatsHeader),
                                                        SOCKET_ID_ANY, 0, 64);
    if (mz == nullptr) return nullptr;
    auto* h = new (mz->addr) shm::StatsHeader{};
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    h->magic = shm::kStatsMagic;
    h->layout_version = shm::kStatsLayoutVersion;
    h->dataplane_pid = getpid();
    h->port_count = static_cast<std::uint32_t>(c.ports.size());
    h->worker_count = static_cast<std::uint32_t>(c.dataplane.worker_cores.cpus.size());
    h->start_time_ns = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
                       static_cast<std::uint64_t>(now.tv_nsec);
    h->config_generation = 1;
    std::snprintf(h->sensor_name, sizeof(h->sensor_name), "%s", c.sensor.name.c_str());
    std::snprintf(h->version, sizeof(h->version), "%s", SLUICE_VERSION);
    h->state.store(static_cast<std::uint32_t>(shm::DataplaneState::running),
                   std::memory_order_release);
    return mz;
}

// EAL leaves its hugepage files behind so secondaries can map them; once this primary has
// stopped, nothing may attach any more, and the files would pin the pages until the next start
// with the same prefix. Unlinking is safe while a secondary still maps them.
void release_hugepage_files(const std::string& prefix) {
    std::ifstream mounts("/proc/mounts");
    std::string device, dir, type, rest;
    const std::string stem = prefix + "map_";
    while (mounts >> device >> dir >> type && std::getline(mounts, rest)) {
        if (type != "hugetlbfs") continue;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
            if (entry.path().filename().string().starts_with(stem))
                std::filesystem::remove(entry.path(), ec);
    }
}

int run(const config::Config& c) {
    if (!check_cores(c)) return 1;
    if (hs_valid_platform() != HS_SUCCESS) {
        SLUICE_ERROR("this CPU lacks the SSSE3 instructions Hyperscan needs");
        return 1;
    }

    // Block the stop signals before EAL starts its threads, so they inherit the mask and
    // only this thread takes them, in sigtimedwait.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    std::vector<std::string> args = dataplane::eal_args(c);
    std::string line;
    for (const auto& a : args) line += " " + a;
    SLUICE_INFO("EAL arguments:%s", line.c_str());
    std::vector<char*> argv = eal::argv(args);
    if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
        SLUICE_ERROR(
            "DPDK EAL failed to start: %s. Check that hugepages are reserved and "
            "mounted (tools/setup does both), that no other sluice-dataplane runs with "
            "file_prefix \"%s\", and the EAL messages above",
            rte_strerror(rte_errno), c.dataplane.file_prefix.c_str());
        return 1;
    }
    SLUICE_INFO("sluice %s, Hyperscan %s, %s", SLUICE_VERSION, hs_version(), rte_version());
    describe_cores();
    int status = 0;
    const rte_memzone* stats = nullptr;
    if (!describe_ports(c)) {
        status = 1;
    } else if ((stats = create_stats(c)) == nullptr) {
        SLUICE_ERROR("cannot reserve the stats memzone: %s", rte_strerror(rte_errno));
        status = 1;
    } else {
        SLUICE_INFO("ready: sensor \"%s\", file_prefix \"%s\"", c.sensor.name.c_str(),
                    c.dataplane.file_prefix.c_str());
        sd_notifyf(0, "READY=1\nSTATUS=metering on %zu ports\nMAINPID=%d", c.ports.size(),
                   getpid());
        int sig = 0;
        while (sigwait(&stop, &sig) != 0) {
        }
        SLUICE_INFO("SIG%s received, stopping", sigabbrev_np(sig));
        sd_notify(0, "STOPPING=1");
        static_cast<shm::StatsHeader*>(stats->addr)
            ->state.store(static_cast<std::uint32_t>(shm::DataplaneState::stopped),
                          std::memory_order_release);
        rte_memzone_free(stats);
    }
    rte_eal_cleanup();
    release_hugepage_files(c.dataplane.file_prefix);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    log::program() = "sluice-dataplane";
    std::string config_path = kDefaultConfig;
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {"version", no_argument, nullptr, 'V'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    for (int opt; (opt = getopt_long(argc, argv, "c:Vh", options, nullptr)) != -1;) {
        switch (opt) {
            case 'c': config_path = optarg; break;
            case 'V': std::printf("sluice-dataplane %s\n", SLUICE_VERSION); return 0;
            case 'h': usage(stdout); return 0;
            default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    const auto loaded = config::load_file(config_path);
    if (!loaded.config) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        return 2;
    }
    return run(*loaded.config);
}
