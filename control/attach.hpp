// How sluice-control attaches to its dataplane: wait for the primary, start EAL as its
// secondary, find the stats memzone, wait for the dataplane to run. Every step gives up when
// the primary's process has gone or a stop signal arrives.
#pragma once

#include <csignal>
#include <optional>
#include <string>

#include "sluice/config.hpp"
#include "sluice/shm.hpp"

namespace sluice::control {

struct Attachment {
    shm::StatsZone* zone = nullptr;  // set once attached to a running dataplane
    int status = 0;  // otherwise the exit status: 0 stopped by a signal, 1 failed, 3 no dataplane
};

// `stop_signals` are blocked in every thread (the caller blocks them before); one of them ends
// any wait within 10 ms. `wait`: how long to wait for a dataplane to appear.
Attachment attach(const config::Config& c, config::Duration wait, const sigset_t& stop_signals);

// Why this control cannot read a dataplane whose stats header this is (another layout, another
// record layout, another version); nothing when it can.
std::optional<std::string> incompatible(const shm::StatsHeader& h);

}  // namespace sluice::control
