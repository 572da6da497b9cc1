// The EAL command line of the primary process, derived from [dataplane] and [[port]].
#include "dataplane/eal_args.hpp"

namespace sluice::dataplane {

std::vector<std::string> eal_args(const config::Config& config) {
    const auto& dp = config.dataplane;
    // Lcore 0 is the main lcore, lcores 1 to N the workers, each pinned to its CPU; the ids
    // never depend on the CPU numbers, so they stay below the control's (127).
    std::string lcores = "0@" + std::to_string(dp.main_core);
    unsigned id = 1;
    for (unsigned cpu : dp.worker_cores.cpus)
        lcores += "," + std::to_string(id++) + "@" + std::to_string(cpu);

    std::vector<std::string> args{
        "sluice-dataplane",
        "--proc-type=primary",
        "--file-prefix=" + dp.file_prefix,
        "--lcores=" + lcores,
        "--main-lcore=0",
        // EAL takes megabytes; round up so the configured amount is always there.
        "-m",
        std::to_string((dp.hugepage_memory + (1u << 20) - 1) >> 20),
    };
    bool any_pci = false;
    for (const auto& port : config.ports) {
        if (port.device.empty()) continue;  // a capture, read without a DPDK device
        any_pci |= port.is_pci();
        args.push_back((port.is_pci() ? "--allow=" : "--vdev=") + port.device);
    }
    if (!any_pci) args.push_back("--no-pci");
    args.insert(args.end(), dp.eal_args.begin(), dp.eal_args.end());
    return args;
}

}  // namespace sluice::dataplane
