// The counter catalog: every counter reaches every output, under its catalog's names.
#include "sluice/counters.hpp"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <set>
#include <string>

#include "control/ops/render.hpp"

namespace sluice::ops {
namespace {

template <typename C>
constexpr bool kByReason = kIsReasonCounter<std::decay_t<C>>;

// Gives every value of `s` its own number, from `next` on (a flag is 1).
template <typename S>
void fill(S& s, std::uint64_t& next) {
    S::catalog([&](const auto& c) {
        if constexpr (kByReason<decltype(c)>) {
            for (auto& v : s.*c.member) v = next++;
        } else {
            s.*c.member = c.info.kind == CounterKind::flag ? 1 : next++;
        }
    });
}

struct Rendered {
    std::string json, metrics, text;
};

// Checks that each counter of `s` is in the JSON as "name":value, in Prometheus as its family
// with HELP and a sample of its value, and in the text as its line.
// `indent` is where the text's lines of S begin: none for the totals, two spaces for a port's.
template <typename S>
void expect_everywhere(const S& s, const Rendered& r, const std::string& indent) {
    auto has = [](const std::string& where, const std::string& what) {
        return where.find(what) != std::string::npos;
    };
    S::catalog([&](const auto& c) {
        const std::string name(c.info.name), metric(c.info.metric), text(c.info.text);
        EXPECT_TRUE(has(r.metrics, "# HELP " + metric + " " + std::string(c.info.help))) << metric;
        if constexpr (kByReason<decltype(c)>) {
            EXPECT_TRUE(has(r.json, "\"" + name + "\":{")) << name;
            std::uint64_t sum = 0;
            for (std::size_t i = c.first; i < c.reasons->size(); ++i) {
                const std::string reason((*c.reasons)[i].name);
                const std::string value = std::to_string((s.*c.member)[i]);
                sum += (s.*c.member)[i];
                EXPECT_TRUE(has(r.json, "\"" + reason + "\":" + value)) << name << " " << reason;
                EXPECT_TRUE(has(r.metrics, "reason=\"" + reason + "\"} " + value + "\n"))
                    << metric << " " << reason;
                EXPECT_TRUE(has(r.text, reason)) << name << " " << reason;
            }
            char line[128];
            std::snprintf(line, sizeof(line), "\n%s%-*s %20" PRIu64 "\n", indent.c_str(),
                          36 - static_cast<int>(indent.size()), text.c_str(), sum);
            EXPECT_TRUE(has(r.text, line)) << line;
        } else {
            const std::uint64_t v = s.*c.member;
            if (c.info.kind == CounterKind::flag)
                EXPECT_TRUE(has(r.json, "\"" + name + "\":true")) << name;
            else
                EXPECT_TRUE(has(r.json, "\"" + name + "\":" + std::to_string(v))) << name;
            EXPECT_TRUE(has(r.metrics, "\n" + metric + "{") || has(r.metrics, "\n" + metric + " "))
                << metric;
            char line[128];
            std::snprintf(line, sizeof(line), "\n%s%-*s %20" PRIu64 "\n", indent.c_str(),
                          36 - static_cast<int>(indent.size()), text.c_str(), v);
            EXPECT_TRUE(has(r.text, line)) << line;
        }
    });
}

TEST(CounterCatalog, EveryCounterReachesTheJsonThePrometheusTextAndTheTextStats) {
    std::uint64_t next = 1001;
    Snapshot s;
    s.ports.push_back({0, "net_null0", 1, {}});
    fill(s.ports[0].counters, next);
    WorkerSnapshot w;
    fill(w.meter, next);
    fill(w.output, next);
    s.workers.push_back(w);
    fill(s.taken, next);
    s.collectors.push_back({"nfcapd", "udp 127.0.0.1:4739", "up", "", {}});
    fill(s.collectors[0].counters, next);

    const Rendered r{stats_json(s), prometheus_text(s), "\n" + stats_text(s)};
    expect_everywhere(s.workers[0].meter, r, "");
    expect_everywhere(s.workers[0].output, r, "");
    expect_everywhere(s.taken, r, "");
    expect_everywhere(s.ports[0].counters, r, "  ");
    expect_everywhere(s.collectors[0].counters, r, "  ");
}

// DPDK telemetry puts the meter and output counters in one dictionary, and a port's under its
// prefix: every value needs a key of its own.
TEST(CounterCatalog, EveryCounterHasItsOwnFlatNameForTelemetry) {
    std::set<std::string> keys;
    std::size_t values = 0;
    auto collect = [&](const CounterInfo&, std::string_view prefix, std::string_view name,
                       std::string_view reason, std::uint64_t) {
        keys.insert(std::string(prefix).append(name).append(reason));
        ++values;
    };
    std::size_t expected = 0;
    auto count = [&expected](const auto& c) {
        if constexpr (kByReason<decltype(c)>)
            expected += c.reasons->size() - c.first;
        else
            ++expected;
    };
    MeterCounters::catalog(count);
    OutputCounters::catalog(count);
    PortCounters::catalog(count);
    flatten(MeterCounters{}, "", collect);
    flatten(OutputCounters{}, "", collect);
    flatten(PortCounters{}, "port0_", collect);
    EXPECT_EQ(values, expected);
    EXPECT_EQ(keys.size(), values);
    EXPECT_TRUE(keys.contains("ignored_non_ip"));
    EXPECT_TRUE(keys.contains("ignored_octets_non_ip"));
    EXPECT_TRUE(keys.contains("flows_ended_idle_timeout"));
    EXPECT_TRUE(keys.contains("fragments_matched"));
    EXPECT_TRUE(keys.contains("octets_not_sent"));
    EXPECT_TRUE(keys.contains("bursts"));
    EXPECT_TRUE(keys.contains("port0_imissed"));
}

TEST(CounterCatalog, SumsAddCountersAndKeepTheNewestTime) {
    OutputCounters a, b;
    a.records_sent = 3;
    a.last_time_ns = 50;
    b.records_sent = 4;
    b.last_time_ns = 40;
    a += b;
    EXPECT_EQ(a.records_sent, 7u);
    EXPECT_EQ(a.last_time_ns, 50u);
    MeterCounters m, n;
    m.flows_ended[static_cast<std::size_t>(FlowEndReason::idle_timeout)] = 2;
    n.flows_ended[static_cast<std::size_t>(FlowEndReason::idle_timeout)] = 5;
    m += n;
    EXPECT_EQ(m.flows_ended[static_cast<std::size_t>(FlowEndReason::idle_timeout)], 7u);
}

TEST(CounterCatalog, TheEndReasonsAreIanasFlowEndReasonValues) {
    EXPECT_EQ(kEndReasons, 6u);
    EXPECT_EQ(kEndReasonNames[static_cast<std::size_t>(FlowEndReason::idle_timeout)].name,
              "idle_timeout");
    EXPECT_EQ(kEndReasonNames[static_cast<std::size_t>(FlowEndReason::lack_of_resources)].name,
              "lack_of_resources");
    EXPECT_EQ(kEndReasonNames[0].name, "");
}

}  // namespace
}  // namespace sluice::ops
