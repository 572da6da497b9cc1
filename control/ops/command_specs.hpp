// The control socket's commands, in one table: sluice-control dispatches on it, its error names
// them, and sluicectl's usage lists them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "control/ops/json.hpp"
#include "sluice/shm.hpp"

namespace sluice::ops {

struct CommandSpec {
    std::string_view name;
    std::string_view help;
    // The command's one optional argument: a whole number from 1 to argument_max, sent as
    // {"NAME": N}; empty for none.
    std::string_view argument = {};
    std::string_view argument_help = {};
    std::int64_t argument_max = 0;
};

inline constexpr CommandSpec kCommands[] = {
    {"status", "processes, version, uptime, ports, workers, rates, collectors"},
    {"stats",
     "every counter: totals (ignored packets by reason, flows by end reason, rings),\n"
     "ports, collectors"},
    {"top", "the largest active flows by octets, over all workers", "limit",
     "at most LIMIT of them (20)", shm::kTopFlows* shm::kMaxWorkers},
    {"collectors", "each collector's state, records sent and not sent, last error"},
    {"spool", "each spooled collector's spool: records, bytes, oldest record, replay rate"},
    {"flush", "have every worker export its active flows now"},
    {"reload", "read the configuration again and apply what can change live"},
};

inline const CommandSpec* find_command(std::string_view name) {
    for (const CommandSpec& c : kCommands)
        if (c.name == name) return &c;
    return nullptr;
}

// "status, stats, top, collectors, flush, reload"
inline std::string command_names() {
    std::string out;
    for (const CommandSpec& c : kCommands) out.append(out.empty() ? "" : ", ").append(c.name);
    return out;
}

// What is wrong with the arguments of a request for `spec`, if anything: each request may say
// "format" ("json" or "text"), and the command's own argument, nothing else.
inline std::optional<std::string> check_arguments(const CommandSpec& spec, const Request& r) {
    for (const auto& [key, value] : r.arguments) {
        if (key == "format") {
            const auto* format = std::get_if<std::string>(&value);
            if (format == nullptr || (*format != "json" && *format != "text"))
                return std::string("\"format\" is \"json\" or \"text\"");
            continue;
        }
        if (spec.argument.empty() || key != spec.argument)
            return "\"" + std::string(spec.name) + "\" takes " +
                   (spec.argument.empty() ? std::string("no argument")
                                          : "the argument \"" + std::string(spec.argument) + "\"") +
                   ", not \"" + key + "\"";
        const auto* n = std::get_if<std::int64_t>(&value);
        if (n == nullptr || *n < 1 || *n > spec.argument_max)
            return "\"" + std::string(spec.argument) + "\" is a whole number from 1 to " +
                   std::to_string(spec.argument_max);
    }
    return std::nullopt;
}

}  // namespace sluice::ops
