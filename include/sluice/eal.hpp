// What both processes need to start EAL: argv from strings, and where a prefix's runtime files are.
#pragma once

#include <unistd.h>

#include <rte_log.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "sluice/log.hpp"

namespace sluice::eal {

// EAL keeps pointers into argv, so the strings must outlive rte_eal_init: the caller owns both.
inline std::vector<char*> argv(std::vector<std::string>& args) {
    std::vector<char*> out;
    for (auto& a : args) out.push_back(a.data());
    out.push_back(nullptr);
    return out;
}

// The file the primary holds locked while it runs, as EAL names it (eal_runtime_config_path).
inline std::string primary_config_path(const std::string& file_prefix) {
    std::string dir = "/var/run";
    if (geteuid() != 0) {
        const char* xdg = std::getenv("XDG_RUNTIME_DIR");
        dir = xdg != nullptr ? xdg : "/tmp";
    }
    return dir + "/dpdk/" + file_prefix + "/config";
}

// Sluice's own messages as a DPDK log type ("sluice.dataplane", "sluice.control"): the EAL
// argument --log-level sets their level as it does DPDK's ("--log-level=sluice.*:warning").
inline void register_log_type(const char* name) {
    const int type = rte_log_register_type_and_pick_level(name, RTE_LOG_INFO);
    if (type >= 0) log::threshold() = static_cast<int>(rte_log_get_level(type)) - 1;
}

}  // namespace sluice::eal
