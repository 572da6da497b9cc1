// sluice-control's commands and reloads, against a stats memzone in plain memory: no EAL.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "control/commands.hpp"
#include "control/reload.hpp"
#include "shared/config/loader.hpp"

namespace sluice::control {
namespace {

using namespace std::chrono_literals;

ops::Request request(const std::string& text) {
    auto parsed = ops::parse_request(text);
    if (!parsed.request) throw std::runtime_error(parsed.error);
    return *parsed.request;
}

class CommandsTest : public ::testing::Test {
protected:
    CommandsTest()
        : zone_(std::make_unique<shm::StatsZone>()),
          commands_(
              *zone_,
              [this] {
                  ++snapshots_;
                  ops::Snapshot s;
                  s.sensor = "edge";
                  return s;
              },
              [this](bool text) {
                  reloads_.push_back(text);
                  return std::string(R"({"ok":true,"reloaded":1})");
              }) {
        zone_->header.worker_count = 2;
    }

    std::string ask(const std::string& text) {
        auto reply = commands_.handle(request(text), now_);
        return reply ? *reply : "(waiting)";
    }

    // Worker w answers the top request `n` with flows of these octets.
    void answer(unsigned w, std::uint64_t n, std::initializer_list<std::uint64_t> octets) {
        shm::TopFlows& top = zone_->workers[w].top;
        top.count = 0;
        for (const std::uint64_t o : octets) {
            top.flows[top.count] = FlowRecord{};
            top.flows[top.count].octets = o;
            ++top.count;
        }
        top.answered.store(n);
    }

    std::unique_ptr<shm::StatsZone> zone_;
    Commands commands_;
    int snapshots_ = 0;
    std::vector<bool> reloads_;
    Commands::Clock::time_point now_{};
};

TEST_F(CommandsTest, AnUnknownCommandIsAnsweredWithTheListOfCommands) {
    EXPECT_EQ(ask(R"({"command": "restart"})"),
              R"({"ok":false,"error":"unknown command \"restart\"; the commands are status, )"
              R"(stats, top, collectors, spool, flush, reload"})");
}

TEST_F(CommandsTest, ArgumentsACommandDoesNotTakeAreRefused) {
    EXPECT_EQ(ask(R"({"command": "stats", "limit": 3})"),
              R"({"ok":false,"error":"\"stats\" takes no argument, not \"limit\""})");
    EXPECT_EQ(ask(R"({"command": "top", "limit": 0})"),
              R"({"ok":false,"error":"\"limit\" is a whole number from 1 to 2520"})");
    EXPECT_EQ(ask(R"({"command": "top", "count": 3})"),
              R"({"ok":false,"error":"\"top\" takes the argument \"limit\", not \"count\""})");
    EXPECT_EQ(ask(R"({"command": "status", "format": "xml"})"),
              R"({"ok":false,"error":"\"format\" is \"json\" or \"text\""})");
    EXPECT_EQ(snapshots_, 0) << "a refused request does nothing";
}

TEST_F(CommandsTest, StatusStatsAndCollectorsRenderAFreshSnapshot) {
    EXPECT_TRUE(ask(R"({"command": "status"})").starts_with(R"({"ok":true,"status":{)"));
    EXPECT_TRUE(ask(R"({"command": "stats"})").starts_with(R"({"ok":true,"stats":{)"));
    EXPECT_TRUE(ask(R"({"command": "collectors"})").starts_with(R"({"ok":true,"collectors":[)"));
    EXPECT_NE(ask(R"({"command": "stats", "format": "text"})").find("packets received"),
              std::string::npos);
    EXPECT_EQ(snapshots_, 4);
}

TEST_F(CommandsTest, FlushAsksEveryWorker) {
    EXPECT_EQ(ask(R"({"command": "flush"})"), R"({"ok":true,"flushing_workers":2})");
    EXPECT_EQ(zone_->flow_settings.flush_requests.load(), 1u);
    EXPECT_EQ(ask(R"({"command": "flush", "format": "text"})"),
              R"({"ok":true,"text":"2 workers are exporting their active flows\n"})");
    EXPECT_EQ(zone_->flow_settings.flush_requests.load(), 2u);
}

TEST_F(CommandsTest, TopWaitsForTheRunningWorkersThenGivesTheLargestFirstUpToTheLimit) {
    EXPECT_EQ(ask(R"({"command": "top", "limit": 3})"), "(waiting)");
    EXPECT_EQ(zone_->flow_settings.top_requests.load(), 1u);
    answer(0, 1, {500, 100});
    EXPECT_EQ(ask(R"({"command": "top", "limit": 3})"), "(waiting)") << "worker 1 has not answered";
    EXPECT_EQ(zone_->flow_settings.top_requests.load(), 1u) << "asked once";
    answer(1, 1, {300, 900});
    const std::string reply = ask(R"({"command": "top", "limit": 3})");
    const auto first = reply.find(R"("octets": 900)");
    const auto second = reply.find(R"("octets": 500)");
    const auto third = reply.find(R"("octets": 300)");
    ASSERT_NE(first, std::string::npos) << reply;
    EXPECT_LT(first, second);
    EXPECT_LT(second, third);
    EXPECT_EQ(reply.find(R"("octets": 100)"), std::string::npos) << "beyond the limit";
}

TEST_F(CommandsTest, TopDoesNotWaitForAStoppedWorkerNorBeyondItsTime) {
    zone_->workers[1].state.store(static_cast<std::uint32_t>(shm::WorkerState::stopped));
    EXPECT_EQ(ask(R"({"command": "top"})"), "(waiting)");
    answer(0, 1, {42});
    EXPECT_NE(ask(R"({"command": "top"})").find(R"("octets": 42)"), std::string::npos);
    // The next request: neither worker answers, and after kTopWait the reply has none.
    zone_->workers[1].state.store(static_cast<std::uint32_t>(shm::WorkerState::running));
    EXPECT_EQ(ask(R"({"command": "top"})"), "(waiting)");
    now_ += Commands::kTopWait;
    EXPECT_EQ(ask(R"({"command": "top"})"), R"({"ok":true,"flows":[]})");
}

TEST_F(CommandsTest, ReloadRepliesWhatTheReloadSays) {
    EXPECT_EQ(ask(R"({"command": "reload"})"), R"({"ok":true,"reloaded":1})");
    ask(R"({"command": "reload", "format": "text"})");
    EXPECT_EQ(reloads_, (std::vector<bool>{false, true}));
}

constexpr const char* kRunning = R"(
[sensor]
name = "edge"
observation_domain_id = 1
[dataplane]
hugepage_memory = "256MiB"
[[port]]
device = "net_null0"
[flow]
idle_timeout = "1h"
max_flows = 65536
[[collector]]
address = "127.0.0.1:4739"
[control]
socket = "/run/sluice/control.sock"
)";

config::LoadResult load(const std::string& text) {
    return config::load_string(text, "sluice.toml");
}

std::string edit(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    if (at == std::string::npos) throw std::runtime_error("no \"" + from + "\" to edit");
    return text.replace(at, from.size(), to);
}

TEST(Reload, TimeoutsCollectorsAndTheDomainApplyNow) {
    const config::Config running = *load(kRunning).config;
    std::string text = edit(kRunning, "idle_timeout = \"1h\"", "idle_timeout = \"30m\"");
    text = edit(text, "observation_domain_id = 1", "observation_domain_id = 7");
    text += "[[collector]]\naddress = \"127.0.0.1:4740\"\n";
    const ReloadPlan plan = plan_reload(running, load(text));
    ASSERT_TRUE(plan.next);
    EXPECT_TRUE(plan.needs_restart.empty());
    EXPECT_EQ(plan.next->flow.idle_timeout, 30min);
    EXPECT_EQ(plan.next->sensor.observation_domain_id, 7u);
    EXPECT_EQ(plan.next->collectors.size(), 2u);
}

TEST(Reload, RestartOnlyKeysKeepTheirRunningValuesAndAreNamedInTheSchemasOrder) {
    const config::Config running = *load(kRunning).config;
    std::string text = edit(kRunning, "name = \"edge\"", "name = \"core\"");
    text = edit(text, "hugepage_memory = \"256MiB\"", "hugepage_memory = \"512MiB\"");
    text = edit(text, "device = \"net_null0\"", "device = \"net_null1\"");
    text = edit(text, "max_flows = 65536", "max_flows = 131072");
    text = edit(text, "idle_timeout = \"1h\"", "idle_timeout = \"2h\"");
    text = edit(text, "control.sock", "other.sock");
    text += "[applications]\nsignatures = \"apps.toml\"\n";
    const ReloadPlan plan = plan_reload(running, load(text));
    ASSERT_TRUE(plan.next);
    EXPECT_EQ(plan.needs_restart,
              (std::vector<std::string>{"sensor.name", "[dataplane]", "[[port]]", "flow.max_flows",
                                        "[applications]", "[control]"}));
    EXPECT_EQ(plan.next->sensor.name, "edge");
    EXPECT_EQ(plan.next->dataplane, running.dataplane);
    EXPECT_EQ(plan.next->ports, running.ports);
    EXPECT_EQ(plan.next->flow.max_flows, 65536u);
    EXPECT_EQ(plan.next->flow.idle_timeout, 2h) << "a live key beside them still applies";
    EXPECT_EQ(plan.next->applications, running.applications);
    EXPECT_EQ(plan.next->control, running.control);
}

TEST(Reload, AFileWithErrorsIsNotAppliedAndSaysWhere) {
    const config::Config running = *load(kRunning).config;
    const ReloadPlan plan =
        plan_reload(running, load(edit(kRunning, "idle_timeout = \"1h\"", "idle_timeout = 3")));
    EXPECT_FALSE(plan.next);
    EXPECT_NE(plan.error.find("has errors and was not applied; the running one stays:\n"
                              "sluice.toml:10:16: flow.idle_timeout:"),
              std::string::npos)
        << plan.error;
}

TEST(Reload, TheTimeoutsReachTheWorkersSeqlockUnderANewGeneration) {
    auto zone = std::make_unique<shm::StatsZone>();
    config::Flow flow;
    flow.idle_timeout = 30s;
    flow.active_timeout = 60s;
    flow.tcp_end_grace = 2s;
    EXPECT_EQ(shm::publish_timeouts(*zone, flow), 1u);
    EXPECT_EQ(shm::publish_timeouts(*zone, flow), 2u);
    EXPECT_EQ(zone->header.config_generation, 2u);
    std::uint64_t sequence = 0;
    shm::FlowTimeouts t;
    ASSERT_TRUE(shm::read(zone->flow_settings, sequence, t));
    EXPECT_EQ(sequence, 4u);
    EXPECT_EQ(t.idle_timeout_ns, 30'000'000'000u);
    EXPECT_EQ(t.active_timeout_ns, 60'000'000'000u);
    EXPECT_EQ(t.tcp_end_grace_ns, 2'000'000'000u);
}

TEST(Reload, TheReplyNamesTheGenerationAndWhatNeedsARestart) {
    EXPECT_EQ(reload_reply("/etc/sluice/sluice.toml", 3, {"[dataplane]"}, false),
              R"({"ok":true,"config_generation":3,"needs_restart":["[dataplane]"]})");
    EXPECT_EQ(reload_summary("/etc/sluice/sluice.toml", 3, {"[dataplane]", "[[port]]"}),
              "/etc/sluice/sluice.toml applied (generation 3); these need a restart and were "
              "left as they run: [dataplane], [[port]]");
}

}  // namespace
}  // namespace sluice::control
