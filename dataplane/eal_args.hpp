// The EAL command line of the primary process, derived from [dataplane] and [[port]].
#pragma once

#include <string>
#include <vector>

#include "sluice/config.hpp"

namespace sluice::dataplane {

std::vector<std::string> eal_args(const config::Config& config);

}  // namespace sluice::dataplane
