// The control socket's JSON and the renderings of a snapshot.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "control/ops/accounting.hpp"
#include "control/ops/json.hpp"
#include "control/ops/render.hpp"

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
    s.collectors.push_back({"nfcapd", "udp 127.0.0.1:4739", "up", "", {}, "", ""});
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

// A run's end: 100 packets, 90 metered (7000 IP octets), 10 ignored (6 without an IP header,
// 4 with one: 300 IP octets), one record of 5 packets and 1000 octets that a full ring dropped.
Snapshot finished() {
    Snapshot s = example();
    MeterCounters& m = s.workers[0].meter;
    m.octets = 9000;
    m.metered_octets = 7000;
    m.ignored_packets = {};
    m.ignored_packets[static_cast<std::size_t>(IgnoreReason::non_ip)] = 6;
    m.ignored_octets[static_cast<std::size_t>(IgnoreReason::non_ip)] = 400;
    m.ignored_packets[static_cast<std::size_t>(IgnoreReason::bad_total_length)] = 4;
    m.ignored_octets[static_cast<std::size_t>(IgnoreReason::bad_total_length)] = 500;
    m.ignored_ip_octets = 300;
    shm::OutputCounters& o = s.workers[0].output;
    o.records_not_sent = 1;
    o.packets_not_sent = 5;
    o.octets_not_sent = 1000;
    control::SessionCounters& n = s.collectors[0].counters;
    n.records_sent = 4;
    n.packets_sent = 85;
    n.octets_sent = 6000;
    return s;
}

TEST(Accounting, TheStatisticsCarryTheSnapshotsTotalsAsOfItsTime) {
    const control::Reliability r = reliability(finished());
    EXPECT_EQ(r.packets, 100u);
    EXPECT_EQ(r.frame_octets, 9000u);
    EXPECT_EQ(r.metered_octets, 7000u);
    EXPECT_EQ(r.ignored_packets, 10u);
    EXPECT_EQ(r.ignored_octets, 300u) << "IP octets, of the ignored packets that had an IP header";
    EXPECT_EQ(r.ignored_frame_octets, 900u);
    EXPECT_EQ(r.records_not_sent, 1u);
    EXPECT_EQ(r.packets_not_sent, 5u);
    EXPECT_EQ(r.octets_not_sent, 1000u);
    EXPECT_EQ(r.since_ns, 1'000'000'000'000u);
    EXPECT_EQ(r.until_ns, 2'000'000'000'000u);
}

TEST(Accounting, ASampledRunCountsThePacketsSampledOutApartAndStillBalances) {
    Snapshot s = finished();
    s.workers[0].sampling = 10;
    MeterCounters& m = s.workers[0].meter;
    // Of the 90 packets it would have metered, 9 were; 81 sampled out.
    m.metered_packets = 9;
    m.sampled_out_packets = 81;
    m.sampled_out_ip_octets = 6300;
    m.metered_octets = 700;
    control::SessionCounters& n = s.collectors[0].counters;
    n.packets_sent = 9;
    n.octets_sent = 700;
    s.workers[0].output = {};
    const control::Reliability r = reliability(s);
    EXPECT_EQ(r.sampling, 10u);
    EXPECT_FALSE(r.sampling_deterministic);
    EXPECT_EQ(r.sampling_observed, 90u);
    EXPECT_EQ(r.sampling_selected, 9u);
    const std::string json = summary_json(s);
    EXPECT_NE(json.find(R"("sampled_out":{"packets":81,"ip_octets":6300,"frame_octets":0})"),
              std::string::npos)
        << json;
    EXPECT_NE(json.find(R"("balanced":true)"), std::string::npos)
        << "100 received = 9 exported + 10 ignored + 81 sampled out: " << json;
}

TEST(Accounting, TheSummarySaysPerCollectorWhetherEveryPacketIsAccountedFor) {
    Snapshot s = finished();
    s.collectors.push_back(s.collectors[0]);
    s.collectors[1].name = "lossy";
    s.collectors[1].counters.packets_sent = 80;  // 5 packets neither sent nor counted
    const std::string j = summary_json(s);
    EXPECT_NE(j.find(R"("received":{"packets":100,"frame_octets":9000})"), std::string::npos) << j;
    EXPECT_NE(j.find(R"("metered":{"packets":90,"ip_octets":7000})"), std::string::npos) << j;
    EXPECT_NE(j.find(R"("ignored":{"packets":10,"ip_octets":300,"frame_octets":900,)"),
              std::string::npos)
        << j;
    EXPECT_NE(j.find(R"("non_ip":{"packets":6,"frame_octets":400})"), std::string::npos) << j;
    EXPECT_NE(j.find(R"("name":"nfcapd","destination":"udp 127.0.0.1:4739","state":"up",)"
                     R"("exported":{"records":4,"packets":85,"ip_octets":6000,"messages":0},)"
                     R"("not_sent":{"records":1,"packets":5,"ip_octets":1000},)"
                     R"("spooled":{"records":0,"packets":0,"ip_octets":0},)"
                     R"("spooled_before":{"records":0,"packets":0,"ip_octets":0},"resent":0,)"
                     R"("balanced":true})"),
              std::string::npos)
        << j;
    EXPECT_NE(j.find(R"("name":"lossy")"), std::string::npos);
    EXPECT_NE(j.find(R"("balanced":false)"), std::string::npos) << "80 + 10 + 5 is not 100";
}

TEST(Accounting, ASpoolsRecordsOfAnEarlierRunJoinTheReceivedAndThoseLeftForTheNextTheSent) {
    Snapshot s = finished();
    control::SessionCounters& n = s.collectors[0].counters;
    n.spool_start_records = 3;  // an earlier run's, sent in this one
    n.spool_start_packets = 30;
    n.spool_start_octets = 2000;
    n.spool_records = 2;  // this run's, left for the next
    n.spool_packets = 20;
    n.spool_octets = 1500;
    n.packets_sent = 85 + 30 - 20;
    n.octets_sent = 6000 + 2000 - 1500;
    const std::string j = summary_json(s);
    EXPECT_NE(j.find(R"("spooled":{"records":2,"packets":20,"ip_octets":1500},)"
                     R"("spooled_before":{"records":3,"packets":30,"ip_octets":2000},)"
                     R"("resent":0,"balanced":true})"),
              std::string::npos)
        << j;
    n.spool_packets = 0;  // the records left in the spool not counted
    EXPECT_NE(summary_json(s).find(R"("balanced":false)"), std::string::npos);
}

TEST(Render, TheSpoolCommandShowsEachSpooledCollectorsRecordsOldestRecordAndReplayRate) {
    Snapshot s = finished();
    EXPECT_NE(spool_text(s).find("no collector has a spool"), std::string::npos);
    EXPECT_EQ(spool_json(s), R"({"ok":true,"collectors":[]})");
    CollectorSnapshot& c = s.collectors[0];
    c.spool = "/var/lib/sluice/spool";
    c.counters.spool_records = 1200;
    c.counters.spool_bytes = 153648;
    c.counters.spool_oldest_ns = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z
    c.counters.spool_replayed = 5000;
    c.spool_replayed_per_second = 2500;
    const std::string text = spool_text(s);
    EXPECT_NE(text.find("2023-11-14T22:13:20Z"), std::string::npos) << text;
    EXPECT_NE(text.find("/var/lib/sluice/spool"), std::string::npos) << text;
    EXPECT_NE(text.find(" 2500 "), std::string::npos) << text;
    const std::string json = spool_json(s);
    EXPECT_NE(json.find(R"("name":"nfcapd","spool":"/var/lib/sluice/spool","records":1200,)"),
              std::string::npos)
        << json;
    EXPECT_NE(json.find(R"("oldest_record_ns":1700000000000000000,"replayed":5000,)"
                        R"("replayed_per_second":2500)"),
              std::string::npos)
        << json;
}

}  // namespace
}  // namespace sluice::ops
