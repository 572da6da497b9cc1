// A reload of the configuration: what changes now, what needs a restart, and the reply.
#include "control/reload.hpp"

#include "control/ops/json.hpp"
#include "control/ops/render.hpp"

namespace sluice::control {

ReloadPlan plan_reload(const config::Config& running, config::LoadResult loaded) {
    ReloadPlan plan;
    if (!loaded.config) {
        plan.error = "the configuration in " + running.file +
                     " has errors and was not applied; the running one stays:";
        for (const auto& e : loaded.errors) plan.error += "\n" + e.to_string();
        return plan;
    }
    plan.next = std::move(loaded.config);
    plan.needs_restart = config::keep_restart_only(running, *plan.next);
    return plan;
}

std::string reload_summary(const std::string& file, std::uint64_t generation,
                           const std::vector<std::string>& needs_restart) {
    std::string keys;
    for (const auto& k : needs_restart) keys += (keys.empty() ? "" : ", ") + k;
    return file + " applied (generation " + std::to_string(generation) + ")" +
           (needs_restart.empty() ? "" : "; these need a restart and were left as they run: ") +
           keys;
}

std::string reload_reply(const std::string& file, std::uint64_t generation,
                         const std::vector<std::string>& needs_restart, bool text) {
    if (text) return ops::text_reply(reload_summary(file, generation, needs_restart) + "\n");
    ops::JsonWriter j;
    j.begin_object().field("ok", true).field("config_generation", generation);
    j.key("needs_restart").begin_array();
    for (const auto& k : needs_restart) j.value(k);
    return j.end_array().end_object().text();
}

}  // namespace sluice::control
