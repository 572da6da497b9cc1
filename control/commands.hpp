// What sluice-control answers on its control socket: each command of ops::kCommands and its
// handler, against the stats memzone (which may be plain memory, as in the tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "control/ops/json.hpp"
#include "control/ops/snapshot.hpp"
#include "sluice/shm.hpp"

namespace sluice::control {

class Commands {
public:
    using Clock = std::chrono::steady_clock;
    // A snapshot taken now; a reload of the configuration, its reply as JSON or as text.
    using SnapshotFn = std::function<ops::Snapshot()>;
    using ReloadFn = std::function<std::string(bool text)>;

    // How long "top" waits for the running workers to answer.
    static constexpr std::chrono::seconds kTopWait{3};

    Commands(shm::StatsZone& zone, SnapshotFn snapshot, ReloadFn reload)
        : zone_(zone), snapshot_(std::move(snapshot)), reload_(std::move(reload)) {}

    // The reply to `r`, or nothing yet: "top" waits for the workers' answers, and is asked again.
    std::optional<std::string> handle(const ops::Request& r, Clock::time_point now);

private:
    struct Call {
        const ops::Request& request;
        bool text;  // {"format": "text"}: a table for a person
        Clock::time_point now;
    };
    std::optional<std::string> status(const Call& c);
    std::optional<std::string> stats(const Call& c);
    std::optional<std::string> top(const Call& c);
    std::optional<std::string> collectors(const Call& c);
    std::optional<std::string> spool(const Call& c);
    std::optional<std::string> flush(const Call& c);
    std::optional<std::string> reload(const Call& c);

    shm::StatsZone& zone_;
    SnapshotFn snapshot_;
    ReloadFn reload_;
    std::optional<std::uint64_t> top_request_;  // the "top" the workers are answering
    Clock::time_point top_since_;
};

}  // namespace sluice::control
