// A flow record as one line of JSON, for scripts and tests (sluice-control --print-records).
#pragma once

#include <string>

#include "sluice/record.hpp"

namespace sluice::control {

// {"src": "10.0.0.1", "dst": "192.0.2.1", "sport": 51000, "dport": 443, "proto": 6, ...}:
// the record's fields under short names, addresses as text, times in ns since the epoch.
std::string to_json(const FlowRecord& r);

}  // namespace sluice::control
