// The EAL command line of the secondary process, derived from [dataplane] and [control].
#pragma once

#include <string>
#include <vector>

#include "sluice/config.hpp"

namespace sluice::control {

// The lcore id the control runs as, pinned to [control] core. The dataplane's lcore ids are
// 0 to its worker count, which the loader keeps below this, so the two never share an id.
inline constexpr unsigned kControlLcore = 127;

std::vector<std::string> eal_args(const config::Config& config);

}  // namespace sluice::control
