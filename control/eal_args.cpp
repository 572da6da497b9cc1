// The EAL command line of the secondary process, derived from [dataplane] and [control].
#include "control/eal_args.hpp"

namespace sluice::control {

std::vector<std::string> eal_args(const config::Config& config) {
    std::vector<std::string> args{
        "sluice-control",
        "--proc-type=secondary",
        "--file-prefix=" + config.dataplane.file_prefix,
        "--lcores=" + std::to_string(kControlLcore) + "@" + std::to_string(config.control.core),
        "--main-lcore=" + std::to_string(kControlLcore),
        "--no-pci",
        "--no-telemetry",
    };
    // Log levels set for the dataplane apply to both processes.
    for (const auto& a : config.dataplane.eal_args)
        if (a.starts_with("--log-level")) args.push_back(a);
    return args;
}

}  // namespace sluice::control
