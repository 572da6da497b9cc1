// What sluice-control answers on its control socket, a handler per command of ops::kCommands.
#include "control/commands.hpp"

#include <algorithm>
#include <vector>

#include "control/ops/command_specs.hpp"
#include "control/ops/render.hpp"
#include "sluice/log.hpp"

namespace sluice::control {

std::optional<std::string> Commands::handle(const ops::Request& r, Clock::time_point now) {
    using Handler = std::optional<std::string> (*)(Commands&, const Call&);
    struct Entry {
        std::string_view name;
        Handler handler;
    };
    static constexpr Entry kHandlers[] = {
        {"status", [](Commands& c, const Call& call) { return c.status(call); }},
        {"stats", [](Commands& c, const Call& call) { return c.stats(call); }},
        {"top", [](Commands& c, const Call& call) { return c.top(call); }},
        {"collectors", [](Commands& c, const Call& call) { return c.collectors(call); }},
        {"spool", [](Commands& c, const Call& call) { return c.spool(call); }},
        {"flush", [](Commands& c, const Call& call) { return c.flush(call); }},
        {"reload", [](Commands& c, const Call& call) { return c.reload(call); }},
    };
    static_assert(std::size(kHandlers) == std::size(ops::kCommands));
    static_assert(
        [] {
            for (std::size_t i = 0; i < std::size(kHandlers); ++i)
                if (kHandlers[i].name != ops::kCommands[i].name) return false;
            return true;
        }(),
        "every command of ops::kCommands has its handler, in the table's order");

    const ops::CommandSpec* spec = ops::find_command(r.command);
    if (spec == nullptr)
        return ops::error_json("unknown command \"" + r.command + "\"; the commands are " +
                               ops::command_names());
    if (auto error = ops::check_arguments(*spec, r)) return ops::error_json(*error);
    const auto format = r.string("format").value_or("json");
    const Call call{r, format == "text", now};
    return kHandlers[spec - ops::kCommands].handler(*this, call);
}

std::optional<std::string> Commands::status(const Call& c) {
    const ops::Snapshot s = snapshot_();
    return c.text ? ops::text_reply(ops::status_text(s)) : ops::status_json(s);
}

std::optional<std::string> Commands::stats(const Call& c) {
    const ops::Snapshot s = snapshot_();
    return c.text ? ops::text_reply(ops::stats_text(s)) : ops::stats_json(s);
}

std::optional<std::string> Commands::collectors(const Call& c) {
    const ops::Snapshot s = snapshot_();
    return c.text ? ops::text_reply(ops::collectors_text(s)) : ops::collectors_json(s);
}

std::optional<std::string> Commands::spool(const Call& c) {
    const ops::Snapshot s = snapshot_();
    return c.text ? ops::text_reply(ops::spool_text(s)) : ops::spool_json(s);
}

// The largest active flows: every running worker scans its table a share per poll and answers
// in the memzone; until all have, the request waits (the client is not blocked on).
std::optional<std::string> Commands::top(const Call& c) {
    if (!top_request_) {
        top_request_ = zone_.flow_settings.top_requests.fetch_add(1) + 1;
        top_since_ = c.now;
    }
    std::vector<FlowRecord> flows;
    for (unsigned w = 0; w < zone_.header.worker_count && w < shm::kMaxWorkers; ++w) {
        const shm::WorkerStats& ws = zone_.workers[w];
        const bool running = ws.state.load(std::memory_order_acquire) ==
                             static_cast<std::uint32_t>(shm::WorkerState::running);
        if (ws.top.answered.load(std::memory_order_acquire) != *top_request_) {
            if (running && c.now - top_since_ < kTopWait) return std::nullopt;
            continue;  // a stopped (or stuck) worker has no active flows to show
        }
        const auto count = std::min<std::uint64_t>(ws.top.count, shm::kTopFlows);
        flows.insert(flows.end(), ws.top.flows, ws.top.flows + count);
    }
    top_request_.reset();
    std::sort(flows.begin(), flows.end(), [](const FlowRecord& a, const FlowRecord& b) {
        return a.octets + a.reverse_octets > b.octets + b.reverse_octets;
    });
    const auto limit =
        static_cast<std::size_t>(c.request.integer("limit").value_or(shm::kTopFlows));
    if (flows.size() > limit) flows.resize(limit);
    return c.text ? ops::text_reply(ops::top_text(flows)) : ops::top_json(flows);
}

std::optional<std::string> Commands::flush(const Call& c) {
    zone_.flow_settings.flush_requests.fetch_add(1, std::memory_order_relaxed);
    SLUICE_INFO("flush: every worker exports its active flows now (forcedEnd)");
    if (c.text)
        return ops::text_reply(std::to_string(zone_.header.worker_count) +
                               " workers are exporting their active flows\n");
    ops::JsonWriter j;
    j.begin_object().field("ok", true).field("flushing_workers", zone_.header.worker_count);
    return j.end_object().text();
}

std::optional<std::string> Commands::reload(const Call& c) {
    return reload_(c.text);
}

}  // namespace sluice::control
