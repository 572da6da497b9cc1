// A flow record as one line of JSON, for scripts and tests (sluice-control --print-records).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "sluice/record.hpp"

namespace sluice::control {

// {"src": "10.0.0.1", "dst": "192.0.2.1", "sport": 51000, "dport": 443, "proto": 6, ...}:
// the record's fields under short names, addresses as text, times in ns since the epoch; then
// the fields of its metadata (its extensions' bytes) under their names (sluice/metadata.hpp).
std::string to_json(const FlowRecord& r, std::span<const std::uint8_t> metadata = {});

// `s` as a JSON string, quoted and escaped.
std::string json_string(std::string_view s);

}  // namespace sluice::control
