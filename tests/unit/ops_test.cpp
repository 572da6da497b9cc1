// The control socket's JSON and the renderings of a snapshot.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "json.hpp"
#include "render.hpp"

namespace sluice::ops {
namespace {

TEST(ControlRequest, ParsesAFlatObjectWithACommand) {
    const auto p =
        parse_request(R"({"command": "stats", "format": "text", "limit": -3, "all": true})");
    ASSERT_TRUE(p.request) << p.error;
    EXPECT_EQ(p.request->command, "stats");
    EXPECT_EQ(p.request->string("format"), "text");
    EXPECT_EQ(p.request->integer("limit"), -3);
    EXPECT_EQ(std::get<bool>(p.request->arguments.at("all")), true);
    EXPECT_EQ(p.request->arguments.count("command"), 0u);
}

TEST(ControlRequest, SaysWhereAndWhyABadOneFails) {
    EXPECT_EQ(parse_request("").error, "at byte 1: expected '{'");
    EXPECT_EQ(parse_request(R"({"command": "x",})").error, "at byte 17: expected a key in quotes");
    EXPECT_EQ(parse_request(R"({"format": "text"})").error, "the request has no \"command\"");
    EXPECT_EQ(parse_request(R"({"command": 7})").error, "\"command\" is a string");
    EXPECT_EQ(parse_request(R"({"command": "a", "command": "b"})").error,
              "at byte 29: \"command\" given twice");
    EXPECT_EQ(parse_request(R"({"command": {"a": 1}})").error,
              "at byte 13: values are strings, numbers or booleans, not objects");
    EXPECT_EQ(parse_request(R"({"command": "x"} trailing)").error,
              "at byte 18: unexpected text after the object");
    EXPECT_EQ(parse_request(R"({"command": "x", "n": 1.5})").error,
              "at byte 24: only whole numbers are understood");
    EXPECT_EQ(parse_request(R"({"command": "x", "n": 12345678901234567890})").error,
              "at byte 41: a number too large");
    EXPECT_EQ(parse_request("{\"command\": \"a\x01\"}").error,
              "at byte 15: a control character in a string");
    EXPECT_EQ(parse_request(std::string(kMaxRequestBytes + 1, ' ')).error,
              "longer than 4096 bytes");
}

TEST(ControlRequest, TruncatedAtEveryByteNeverParsesAndNeverReadsBeyond) {
    const std::string whole = R"({"command": "stats", "format": "te\"xt", "n": 42, "b": false})";
    ASSERT_TRUE(parse_request(whole).request);
    for (std::size_t n = 0; n < whole.size(); ++n) {
        const std::string cut = whole.substr(0, n);  // its own buffer: ASan sees an overread
        EXPECT_FALSE(parse_request(cut).request) << cut;
    }
}

TEST(JsonWriter, EscapesAndSeparates) {
    JsonWriter j;
    j.begin_object().field("a", "x\"y\n").key("list").begin_array().value(1u).value(false);
    j.end_array().field("n", std::int64_t{-2}).end_object();
    EXPECT_EQ(j.text(), R"({"a":"x\"y\n","list":[1,false],"n":-2})");
    const auto back = parse_flat_object(R"({"a":"x\"y\n","n":-2})", 100);
    ASSERT_TRUE(back.object);
    EXPECT_EQ(std::get<std::string>(back.object->at("a")), "x\"y\n");
}

Snapshot example() {
    Snapshot s;
    s.version = "0.1.0";
    s.sensor = "edge \"1\"";
    s.file_prefix = "sluice";
    s.dataplane_state = "running";
    s.time_ns = 2'000'000'000'000;
    s.dataplane_start_ns = 1'000'000'000'000;
    s.control_start_ns = 1'500'000'000'000;
    s.ports.push_back({0, "net_null0", 1, {100, 6400, 3, 0, 0, 1, 10000}});
    WorkerSnapshot w;
    w.state = "running";
    w.meter.packets = 100;
    w.meter.metered_packets = 90;
    w.meter.ignored_packets[static_cast<std::size_t>(IgnoreReason::non_ip)] = 10;
    w.meter.flows_ended[static_cast<std::size_t>(FlowEndReason::idle_timeout)] = 4;
    s.workers.push_back(w);
    s.collectors.push_back({"nfcapd", "udp 127.0.0.1:4739", "up", "", {}});
    s.collectors.back().counters.records_sent = 4;
    return s;
}

TEST(Prometheus, EveryFamilyHasHelpAndTypeAndItsSamplesFollow) {
    const std::string text = prometheus_text(example());
    std::istringstream in(text);
    std::set<std::string> typed;
    std::string current;
    std::size_t samples = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("# HELP ")) {
            current = line.substr(7, line.find(' ', 7) - 7);
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            EXPECT_EQ(line.substr(7, current.size()), current);
            typed.insert(current);
            const std::string type = line.substr(8 + current.size());
            EXPECT_TRUE(type == "counter" || type == "gauge") << line;
            if (type == "counter") {
                EXPECT_TRUE(current.ends_with("_total")) << current;
            }
            continue;
        }
        const std::string name = line.substr(0, line.find_first_of("{ "));
        EXPECT_EQ(name, current) << "a sample under its own family: " << line;
        ++samples;
    }
    EXPECT_GT(typed.size(), 30u);
    EXPECT_GT(samples, typed.size());
    EXPECT_NE(text.find("sluice_worker_ignored_packets_total{worker=\"0\",port=\"0\",queue=\"0\","
                        "reason=\"non_ip\"} 10\n"),
              std::string::npos);
    EXPECT_NE(text.find("sluice_worker_flows_ended_total{worker=\"0\",port=\"0\",queue=\"0\","
                        "reason=\"idle_timeout\"} 4\n"),
              std::string::npos);
    EXPECT_NE(text.find("sensor=\"edge \\\"1\\\"\""), std::string::npos) << "label escaping";
    EXPECT_NE(text.find("sluice_collector_up{collector=\"nfcapd\",destination=\"udp "
                        "127.0.0.1:4739\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("sluice_port_missed_packets_total{port=\"0\",device=\"net_null0\"} 3\n"),
              std::string::npos);
}

TEST(ControlReplies, CarryTheSnapshotsCounters) {
    const Snapshot s = example();
    const std::string stats = stats_json(s);
    EXPECT_TRUE(stats.starts_with(R"({"ok":true,"stats":{)"));
    EXPECT_NE(stats.find(R"("total":{"packets":100,"octets":0,"metered_packets":90)"),
              std::string::npos);
    EXPECT_NE(stats.find(R"("non_ip":10)"), std::string::npos);
    EXPECT_NE(
        status_json(s).find(R"("dataplane":{"pid":0,"state":"running","uptime_seconds":1000)"),
        std::string::npos);
    const auto text = parse_flat_object(text_reply(status_text(s)), 1 << 20);
    ASSERT_TRUE(text.object);
    EXPECT_NE(std::get<std::string>(text.object->at("text")).find("nfcapd"), std::string::npos);
}

}  // namespace
}  // namespace sluice::ops
