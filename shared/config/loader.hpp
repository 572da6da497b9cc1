// Loads, validates and prints the TOML configuration.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/config.hpp"

namespace sluice::config {

// One thing wrong with a configuration file, where it is and what was expected.
struct ConfigError {
    std::string file;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
    std::string key;  // dotted, tables of arrays numbered from 1: "port[2].rx_queues"
    std::string message;

    // "sluice.toml:12:16: flow.idle_timeout: expected ..., found ..."
    std::string to_string() const;
};

struct LoadResult {
    std::optional<Config> config;  // set only when there is no error
    std::vector<ConfigError> errors;
    std::set<std::string> given;  // the keys the file gives, dotted: "applications.signatures"
};

// Whether a configuration must have a [[port]]: a sensor's must; settings for `sluice pcap`,
// which brings its capture as the port, need not.
enum class Ports { required, optional };

LoadResult load_file(const std::string& path, Ports ports = Ports::required);
LoadResult load_string(std::string_view text, const std::string& file_name,
                       Ports ports = Ports::required);

struct SignaturesResult {
    std::optional<Signatures> signatures;  // set only when there is no error
    std::vector<ConfigError> errors;
};

// The application signatures ([applications] signatures): names, ids, patterns and their lines.
// The patterns themselves are checked when Hyperscan compiles them.
SignaturesResult load_signatures(const std::string& path);
// Where [applications] signatures points, a relative path taken from the configuration's folder;
// empty when identification is off.
std::string signatures_path(const Config& config);
SignaturesResult load_signatures_string(std::string_view text, const std::string& file_name);

// What a reload of `running` to `next` may not change while Sluice runs (the schema's
// restart-only keys): those that differ get their running values back in `next`, and are named,
// "sensor.name", "[dataplane]", "[[port]]", in the schema's order.
std::vector<std::string> keep_restart_only(const Config& running, Config& next);

// The effective configuration, defaults filled in, as TOML that loads back to the same values.
std::string to_toml(const Config& config);

}  // namespace sluice::config
