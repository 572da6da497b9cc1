// sluice-dataplane: the DPDK primary. Owns the ports, cores and shared memory.
#include <getopt.h>
#include <sched.h>

#include <hs/hs.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_version.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "dataplane/dataplane.hpp"
#include "dataplane/eal_args.hpp"
#include "shared/config/loader.hpp"
#include "sluice/eal.hpp"
#include "sluice/hugepages.hpp"
#include "sluice/log.hpp"
#include "sluice_version.h"

namespace {

using namespace sluice;

constexpr const char* kDefaultConfig = config::kDefaultPath;

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

void describe_cores(const config::Config& c) {
    std::string workers;
    for (unsigned cpu : c.dataplane.worker_cores.cpus)
        workers += (workers.empty() ? "" : ",") + std::to_string(cpu);
    SLUICE_INFO("main lcore on CPU %u, %zu workers on CPUs %s", c.dataplane.main_core,
                c.dataplane.worker_cores.cpus.size(), workers.c_str());
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

    std::vector<dataplane::Port> captures;
    if (!dataplane::open_captures(c, captures)) return 1;

    std::vector<std::string> args = dataplane::eal_args(c);
#ifdef SLUICE_SANITIZE
    // AddressSanitizer's shadow covers DPDK's default base address, so EAL would map the
    // hugepages wherever mmap puts them, and a secondary could find that place taken by its own
    // mappings. A base in the part of the address space ASan leaves to programs, and above
    // where mmap works, is free in both processes.
    args.push_back("--base-virtaddr=0x200000000000");
#endif
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
    eal::register_log_type("sluice.dataplane");
    SLUICE_INFO("sluice %s, Hyperscan %s, %s", SLUICE_VERSION, hs_version(), rte_version());
    describe_cores(c);
    int status = 1;
    {
        dataplane::Dataplane dp(c, std::move(captures));
        if (dp.start()) status = dp.run(stop);
    }
    rte_eal_cleanup();
    // EAL leaves its hugepage files behind so secondaries can map them; once this primary has
    // stopped, nothing may attach any more, and the files would pin the pages until the next
    // start with the same prefix.
    hugepages::remove_files(c.dataplane.file_prefix);
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
        for (const auto& e : loaded.errors) log::error_line(e.to_string().c_str());
        return 2;
    }
    return run(*loaded.config);
}
