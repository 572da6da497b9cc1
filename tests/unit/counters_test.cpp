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
    s.collectors.push_back({"nfcapd", "udp 127.0.0.1:4739", "up", "", {}, "", ""});
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
    flatten(MeterCounters{}, "", collect);
    flatten(OutputCounters{}, "", collect);
    flatten(PortCounters{}, "port0_", collect);
    EXPECT_EQ(keys.size(), values) << "no two values under one key";
    EXPECT_TRUE(keys.contains("ignored_non_ip"));
    EXPECT_TRUE(keys.contains("octets_ignored_non_ip"));
    EXPECT_TRUE(keys.contains("flows_ended_idle_timeout"));
    EXPECT_TRUE(keys.contains("fragments_matched"));
    EXPECT_TRUE(keys.contains("octets_not_sent"));
    EXPECT_TRUE(keys.contains("bursts"));
    EXPECT_TRUE(keys.contains("port0_imissed"));
    // The keys telemetry had before the catalog, which scripts may read.
    for (const char* key : {"packets",
                            "octets",
                            "metered_packets",
                            "metered_octets",
                            "ignored_ip_octets",
                            "ignored_truncated_l2",
                            "ignored_bad_total_length",
                            "flows_created",
                            "flows_active",
                            "flows_ended_idle_timeout",
                            "flows_ended_lack_of_resources",
                            "evictions",
                            "application_scans",
                            "flows_identified",
                            "records_sent",
                            "records_not_sent",
                            "packets_not_sent",
                            "ring_used",
                            "ring_capacity",
                            "port0_ipackets",
                            "port0_ibytes",
                            "port0_imissed",
                            "port0_ierrors",
                            "port0_rx_nombuf",
                            "port0_link_up"})
        EXPECT_TRUE(keys.contains(key)) << key;
    // Summed, the ignored_* keys but ignored_ip_octets are the packets ignored: one per reason.
    std::set<std::string> reasons;
    for (const std::string& key : keys)
        if (key.starts_with("ignored_") && key != "ignored_ip_octets")
            reasons.insert(key.substr(8));
    std::set<std::string> names;
    for (const auto& r : kIgnoreReasonNames) names.insert(std::string(r.name));
    EXPECT_EQ(reasons, names);
}

// Prometheus families, their types and the JSON keys as they were before the catalog: names
// that dashboards, alerts and scripts already use.
TEST(CounterCatalog, TheNamesAndTypesUsersHadAreKept) {
    Snapshot s;
    s.ports.push_back({0, "net_null0", 1, {}});
    s.workers.push_back({});
    s.collectors.push_back({"nfcapd", "udp 127.0.0.1:4739", "up", "", {}, "", ""});
    const std::string metrics = prometheus_text(s);
    const std::pair<const char*, const char*> families[] = {
        {"sluice_info", "gauge"},
        {"sluice_dataplane_start_time_seconds", "gauge"},
        {"sluice_control_start_time_seconds", "gauge"},
        {"sluice_port_received_packets_total", "counter"},
        {"sluice_port_received_bytes_total", "counter"},
        {"sluice_port_missed_packets_total", "counter"},
        {"sluice_port_errors_total", "counter"},
        {"sluice_port_no_mbuf_total", "counter"},
        {"sluice_port_link_up", "gauge"},
        {"sluice_port_link_speed_bytes_per_second", "gauge"},
        {"sluice_worker_packets_total", "counter"},
        {"sluice_worker_received_bytes_total", "counter"},
        {"sluice_worker_metered_packets_total", "counter"},
        {"sluice_worker_metered_bytes_total", "counter"},
        {"sluice_worker_ignored_ip_bytes_total", "counter"},
        {"sluice_worker_flows_created_total", "counter"},
        {"sluice_worker_flows_active", "gauge"},
        {"sluice_worker_evictions_total", "counter"},
        {"sluice_worker_fragments_matched_total", "counter"},
        {"sluice_worker_fragments_unmatched_total", "counter"},
        {"sluice_worker_application_scans_total", "counter"},
        {"sluice_worker_flows_identified_total", "counter"},
        {"sluice_worker_records_sent_total", "counter"},
        {"sluice_worker_records_not_sent_total", "counter"},
        {"sluice_worker_packets_not_sent_total", "counter"},
        {"sluice_worker_bytes_not_sent_total", "counter"},
        {"sluice_worker_ring_records", "gauge"},
        {"sluice_worker_ring_capacity_records", "gauge"},
        {"sluice_worker_ignored_packets_total", "counter"},
        {"sluice_worker_ignored_bytes_total", "counter"},
        {"sluice_worker_flows_ended_total", "counter"},
        {"sluice_control_records_taken_total", "counter"},
        {"sluice_collector_records_sent_total", "counter"},
        {"sluice_collector_packets_sent_total", "counter"},
        {"sluice_collector_records_not_sent_total", "counter"},
        {"sluice_collector_packets_not_sent_total", "counter"},
        {"sluice_collector_messages_sent_total", "counter"},
        {"sluice_collector_sent_bytes_total", "counter"},
        {"sluice_collector_template_messages_sent_total", "counter"},
        {"sluice_collector_statistics_records_sent_total", "counter"},
        {"sluice_collector_sessions_opened_total", "counter"},
        {"sluice_collector_send_failures_total", "counter"},
        {"sluice_collector_open_failures_total", "counter"},
        {"sluice_collector_buffered_records", "gauge"},
        {"sluice_collector_up", "gauge"},
    };
    for (const auto& [name, type] : families)
        EXPECT_NE(metrics.find("# TYPE " + std::string(name) + " " + type + "\n"),
                  std::string::npos)
            << name;
    const std::string json = stats_json(s);
    for (const char* key : {"\"total\":{\"packets\":",
                            "\"octets\":",
                            "\"metered_packets\":",
                            "\"metered_octets\":",
                            "\"ignored_packets\":{",
                            "\"ignored_octets\":{",
                            "\"ignored_ip_octets\":",
                            "\"flows_created\":",
                            "\"flows_active\":",
                            "\"flows_ended\":{\"idle_timeout\":",
                            "\"evictions\":",
                            "\"fragments_matched\":",
                            "\"fragments_unmatched\":",
                            "\"application_scans\":",
                            "\"flows_identified\":",
                            "\"records_sent\":",
                            "\"records_not_sent\":",
                            "\"packets_not_sent\":",
                            "\"octets_not_sent\":",
                            "\"ring_used\":",
                            "\"ring_capacity\":",
                            "\"bursts\":",
                            "\"taken\":{\"records\":0,\"packets\":0,\"octets\":0}",
                            "\"link_up\":false",
                            "\"link_speed_mbps\":",
                            "\"ipackets\":",
                            "\"rx_nombuf\":",
                            "\"packets_sent\":",
                            "\"octets_sent\":",
                            "\"messages_sent\":",
                            "\"bytes_sent\":",
                            "\"template_messages_sent\":",
                            "\"statistics_records_sent\":",
                            "\"sessions_opened\":",
                            "\"send_failures\":",
                            "\"open_failures\":",
                            "\"records_buffered\":"})
        EXPECT_NE(json.find(key), std::string::npos) << key;
}

TEST(CounterCatalog, PrometheusHasSpeedsInBytesPerSecondAndTimesInSeconds) {
    Snapshot s;
    s.ports.push_back({0, "net_null0", 1, {}});
    s.ports[0].counters.link_speed_mbps = 10'000;
    WorkerSnapshot w;
    w.output.last_time_ns = 1'700'000'000'500'000'000;
    s.workers.push_back(w);
    const std::string metrics = prometheus_text(s);
    EXPECT_NE(
        metrics.find("sluice_port_link_speed_bytes_per_second{port=\"0\",device=\"net_null0\"} "
                     "1250000000\n"),
        std::string::npos);
    EXPECT_NE(metrics.find("sluice_worker_last_packet_time_seconds{worker=\"0\",port=\"0\","
                           "queue=\"0\"} 1700000000.5\n"),
              std::string::npos)
        << metrics;
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
