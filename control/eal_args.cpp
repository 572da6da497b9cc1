// The EAL command line of the secondary process, derived from [dataplane] and [control].
#include "eal_args.hpp"

namespace sluice::control {

std::vector<std::string> eal_args(const config::Config& config) {
    return {
        "sluice-control",
        "--proc-type=secondary",
        "--file-prefix=" + config.dataplane.file_prefix,
        "--lcores=" + std::to_string(kControlLcore) + "@" + std::to_string(config.control.core),
        "--main-lcore=" + std::to_string(kControlLcore),
        "--no-pci",
        "--no-telemetry",
    };
}

}  // namespace sluice::control
