// The running sluice-control: attached to its dataplane, it drains the rings into the
// exporter and serves the operator's interfaces until it is stopped or the dataplane ends.
#pragma once

#include <string>

#include "sluice/config.hpp"

namespace sluice::control {

struct Options {
    config::Duration wait{0};  // how long to wait for the dataplane to start
    bool print_records = false;
    std::string summary;  // where to write the final accounting as JSON; empty: nowhere
};

// Attaches (control/attach.hpp) and exports until stopped; the process's exit status.
int run(const config::Config& c, const Options& options);

}  // namespace sluice::control
