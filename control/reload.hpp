// A reload of the configuration: what changes now, what needs a restart, and the reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/config/loader.hpp"
#include "sluice/config.hpp"
#include "sluice/shm.hpp"

namespace sluice::control {

struct ReloadPlan {
    // What runs after the reload: the file's configuration, with the running values of the
    // restart-only keys. None when the file has errors.
    std::optional<config::Config> next;
    std::vector<std::string> needs_restart;  // the restart-only keys the file changes
    std::string error;                       // why there is no `next`
};

// Decides a reload of `running` to what was loaded from its file.
ReloadPlan plan_reload(const config::Config& running, config::LoadResult loaded);

// What a reload that was applied did, as one line: "FILE applied (generation 2); these need a
// restart and were left as they run: [dataplane]".
std::string reload_summary(const std::string& file, std::uint64_t generation,
                           const std::vector<std::string>& needs_restart);

// The reply to a reload that was applied: JSON, or the summary for a person.
std::string reload_reply(const std::string& file, std::uint64_t generation,
                         const std::vector<std::string>& needs_restart, bool text);

}  // namespace sluice::control
