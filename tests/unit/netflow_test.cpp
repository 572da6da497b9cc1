// NetFlow v9 and v5 packets, decoded as a collector reads them; the uptime clock behind their
// times.
#include "control/netflow/netflow.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "control/ipfix/encoder.hpp"
#include "tests/unit/netflow_decode.hpp"

namespace sluice::netflow {
namespace {

constexpr std::uint64_t kMs = 1'000'000;  // ns
constexpr std::uint64_t kDayMs = 24 * 3600 * 1000;
// 2027-01-15 08:00:00.400 UTC, the wall clock of the tests.
constexpr std::uint64_t kNowNs = 1'800'000'000'400 * kMs;

FlowRecord flow(int version, std::uint64_t first_ns, std::uint64_t last_ns) {
    FlowRecord r{};
    r.ip_version = static_cast<std::uint8_t>(version);
    const std::uint8_t v4_src[4] = {10, 0, 0, 1}, v4_dst[4] = {192, 0, 2, 7};
    if (version == 4) {
        std::memcpy(r.source_address, v4_src, 4);
        std::memcpy(r.destination_address, v4_dst, 4);
    } else {
        for (int i = 0; i < 16; ++i) r.source_address[i] = static_cast<std::uint8_t>(0x20 + i);
        for (int i = 0; i < 16; ++i) r.destination_address[i] = static_cast<std::uint8_t>(0x40 + i);
    }
    r.source_port = 40000;
    r.destination_port = 443;
    r.protocol = 6;
    r.vlan_id = 12;
    r.ingress_port = 3;
    r.packets = 5;
    r.octets = 700;
    r.first_ns = first_ns;
    r.last_ns = last_ns;
    r.tcp_flags = 0x1b;
    r.minimum_ttl = 60;
    r.maximum_ttl = 64;
    r.end_reason = FlowEndReason::end_of_flow;
    r.application_id = 9;
    return r;
}

TEST(UptimeClock, LiveRecordsGetTheWallClockAndADayOfUptimeBeforeThem) {
    UptimeClock clock;
    const auto s = clock.stamp(kNowNs, 1'800'000'000'400 - 10'000, 1'800'000'000'400 - 1'000);
    EXPECT_EQ(s.export_ms, 1'800'000'000'000u) << "the wall clock's second";
    EXPECT_EQ(s.boot_ms, 1'800'000'000'000u - 10'000 - kDayMs);
    // A packet of options records a minute later keeps the base.
    EXPECT_EQ(clock.stamp(kNowNs + 60'000 * kMs, 1, 0).boot_ms, s.boot_ms);
}

TEST(UptimeClock, ACaptureFromThePastRunsOnItsOwnClock) {
    UptimeClock clock;
    // Packets of 2023 metered in 2027: the export time follows the records.
    const std::uint64_t first = 1'700'000'000'123, last = 1'700'000'005'456;
    const auto s = clock.stamp(kNowNs, first, last);
    EXPECT_EQ(s.export_ms, 1'700'000'006'000u);
    EXPECT_EQ(s.boot_ms, 1'700'000'000'000u - kDayMs);
    EXPECT_LE(s.export_ms - s.boot_ms, 0xffffffffu);
    // A packet without records two seconds later is on the same clock.
    const auto options = clock.stamp(kNowNs + 2'000 * kMs, 1, 0);
    EXPECT_EQ(options.export_ms, 1'700'000'008'000u);
    EXPECT_EQ(options.boot_ms, s.boot_ms);
}

TEST(UptimeClock, RecordsAheadOfTheClockOrBeforeTheBaseMoveIt) {
    UptimeClock clock;
    const auto s = clock.stamp(kNowNs, 1'800'000'000'000, 1'800'000'000'300);
    // A record that ends within the second: the export time is never before a record's end.
    const auto within = clock.stamp(kNowNs, 1'800'000'000'000, 1'800'000'000'900);
    EXPECT_EQ(within.export_ms, 1'800'000'001'000u);
    // A record from two days ago: the base moves a day before it.
    const auto older = clock.stamp(kNowNs, 1'800'000'000'000 - 2 * kDayMs, 1'800'000'000'000);
    EXPECT_EQ(older.boot_ms, s.boot_ms - 2 * kDayMs);
}

TEST(UptimeClock, TheBaseMovesBeforeTheUptimePasses32Bits) {
    UptimeClock clock;
    const auto s = clock.stamp(kNowNs, 1'800'000'000'000, 1'800'000'000'000);
    const std::uint64_t later_ns = kNowNs + 50 * kDayMs * kMs;
    const std::uint64_t later_ms = later_ns / kMs;
    const auto later = clock.stamp(later_ns, later_ms - 5'000, later_ms - 1'000);
    EXPECT_NE(later.boot_ms, s.boot_ms);
    EXPECT_LE(later.export_ms - later.boot_ms, 0xffffffffu);
    EXPECT_LE(later.boot_ms, later_ms - 5'000);
}

TEST(V9Builder, APacketHasTemplatesThenRecordsTimedToTheMillisecond) {
    V9Builder b(77, 1472);
    b.begin(5);
    ASSERT_TRUE(b.add_templates(true, true));
    const std::uint64_t first = 1'800'000'000'000 * kMs - 3'456'789'012, last = kNowNs - 1'234'567;
    FlowRecord v4 = flow(4, first, last);
    FlowRecord v6 = flow(6, first + 5 * kMs, last);
    v6.protocol = 58;
    v6.destination_port = 0x8000;  // echo request
    v6.source_port = 0;
    ASSERT_TRUE(b.add(v4));
    ASSERT_TRUE(b.add(v6));
    EXPECT_EQ(b.sequence_step(), 1u) << "RFC 3954: the sequence counts export packets";
    const auto bytes = b.finish(kNowNs);
    std::map<std::uint16_t, V9Template> known;
    const V9Packet p(bytes, known);
    EXPECT_EQ(p.count, 8u) << "2 data and 4 options templates, 2 records";
    EXPECT_EQ(p.template_records, 6u);
    EXPECT_EQ(p.sequence, 5u);
    EXPECT_EQ(p.source_id, 77u);
    EXPECT_EQ(p.unix_secs, 1'800'000'001u) << "the next second: no record ends after its export";
    ASSERT_EQ(p.records.size(), 2u);
    const V9Record& r = p.records[0];
    EXPECT_EQ(r.set, kV9Ipv4Template);
    EXPECT_EQ(r.value(8), 0x0a000001u);
    EXPECT_EQ(r.value(12), 0xc0000207u);
    EXPECT_EQ(r.value(7), 40000u);
    EXPECT_EQ(r.value(11), 443u);
    EXPECT_EQ(r.value(4), 6u);
    EXPECT_EQ(r.value(58), 12u);
    EXPECT_EQ(r.value(10), 3u);
    EXPECT_EQ(r.value(1), 700u);
    EXPECT_EQ(r.value(2), 5u);
    EXPECT_EQ(p.boot_ms() + r.value(22), first / kMs);
    EXPECT_EQ(p.boot_ms() + r.value(21), last / kMs);
    EXPECT_EQ(r.value(6), 0x1bu);
    EXPECT_EQ(r.value(52), 60u);
    EXPECT_EQ(r.value(53), 64u);
    EXPECT_EQ(r.value(136), 3u);
    EXPECT_EQ(r.value(95), ipfix::application_id(9));
    EXPECT_EQ(r.value(32), 0u) << "no ICMP type for TCP";
    const V9Record& r6 = p.records[1];
    EXPECT_EQ(r6.set, kV9Ipv6Template);
    EXPECT_EQ(r6.fields.at(27)[0], 0x20);
    EXPECT_EQ(r6.fields.at(28)[15], 0x4f);
    EXPECT_EQ(r6.value(32), 0x8000u) << "ICMPv6 type and code where collectors read them";
    EXPECT_EQ(p.boot_ms() + r6.value(22), first / kMs + 5);
}

TEST(V9Builder, StatisticsSayWhatWasSentIgnoredAndLostAndThatEveryPacketIsMetered) {
    V9Builder b(1, 1472);
    b.begin(0);
    ASSERT_TRUE(b.add_templates(false, false));
    ASSERT_TRUE(b.add_statistics(1, {.records_sent = 10,
                                     .packets_sent = 20,
                                     .octets_sent = 3000,
                                     .packets = 27,
                                     .ignored_packets = 4,
                                     .ignored_octets = 400,
                                     .records_not_sent = 1,
                                     .packets_not_sent = 3,
                                     .octets_not_sent = 300}));
    std::map<std::uint16_t, V9Template> known;
    const V9Packet p(b.finish(kNowNs), known);
    EXPECT_FALSE(known.contains(kV9ApplicationsTemplate));
    ASSERT_EQ(p.records.size(), 2u);
    const V9Record& s = p.records[0];
    EXPECT_EQ(s.set, kV9StatisticsTemplate);
    EXPECT_EQ(s.value(1), 1u) << "scope: the system, by source id";
    EXPECT_EQ(s.value(42), 10u);
    EXPECT_EQ(s.value(41), 20u);
    EXPECT_EQ(s.value(40), 3000u);
    EXPECT_EQ(s.value(86), 27u);
    EXPECT_EQ(s.value(164), 4u);
    EXPECT_EQ(s.value(165), 400u);
    EXPECT_EQ(s.value(166), 1u);
    EXPECT_EQ(s.value(167), 3u);
    EXPECT_EQ(s.value(168), 300u);
    EXPECT_EQ(p.records[1].set, kV9SamplingTemplate);
    EXPECT_EQ(p.records[1].value(34), 1u);
}

TEST(V9Builder, ApplicationNamesAreFixedLengthStringsCutAndPadded) {
    V9Builder b(1, 1472);
    b.begin(0);
    ASSERT_TRUE(b.add_templates(true, false));
    ASSERT_TRUE(b.add_application(ipfix::application_id(4), "ssh", std::string(100, 'd')));
    std::map<std::uint16_t, V9Template> known;
    const V9Packet p(b.finish(kNowNs), known);
    ASSERT_EQ(p.records.size(), 1u);
    const V9Record& a = p.records[0];
    EXPECT_EQ(a.value(95), ipfix::application_id(4));
    EXPECT_EQ(a.fields.at(96).size(), kV9NameLength);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(a.fields.at(96).data())), "ssh");
    EXPECT_EQ(a.fields.at(94), std::vector<std::uint8_t>(kV9DescriptionLength, 'd'));
}

TEST(V9Builder, InterfacesAreNamedAndRecordsCarryTheirIfIndex) {
    V9Builder b(1, 1472);
    ipfix::InterfaceIndexes indexes = ipfix::identity_interfaces();
    indexes[3] = 436207616;  // a switch's ifIndex
    b.set_interfaces(indexes);
    b.begin(0);
    ASSERT_TRUE(b.add_templates(false, true));
    ASSERT_TRUE(b.add_interface(436207616, "span-a", "0000:3b:00.0"));
    ASSERT_TRUE(b.add(flow(4, kNowNs, kNowNs)));  // ingress port 3
    std::map<std::uint16_t, V9Template> known;
    const V9Packet p(b.finish(kNowNs), known);
    ASSERT_EQ(p.records.size(), 2u);
    EXPECT_EQ(p.records[0].set, kV9InterfacesTemplate);
    EXPECT_EQ(p.records[0].value(10), 436207616u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.records[0].fields.at(82).data())),
              "span-a");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.records[0].fields.at(83).data())),
              "0000:3b:00.0");
    EXPECT_EQ(p.records[1].value(10), 436207616u);
}

TEST(V9Builder, RecordsFillThePacketUpToItsSize) {
    V9Builder b(1, 1472);
    b.begin(0);
    unsigned n = 0;
    while (b.add(flow(n % 2 == 0 ? 4 : 6, kNowNs - 9'000 * kMs, kNowNs - 1'000 * kMs))) ++n;
    const auto bytes = b.finish(kNowNs);
    EXPECT_LE(bytes.size(), 1472u);
    EXPECT_GT(bytes.size() + b.data_template(flow(6, 0, 0), false).length + 4 + 3, 1472u)
        << "no room was left unused";
    std::map<std::uint16_t, V9Template> known;
    V9Builder t(1, 1472);
    t.begin(0);
    t.add_templates(false, false);
    const V9Packet templates(t.finish(kNowNs), known);
    const V9Packet p(bytes, known);
    EXPECT_EQ(p.records.size(), n);
    EXPECT_EQ(p.count, n);
}

TEST(V9Builder, ARecordTooFarInTimeFromTheOthersGoesInTheNextPacket) {
    V9Builder b(1, 1472);
    b.begin(0);
    ASSERT_TRUE(b.add(flow(4, kNowNs - 2'000 * kMs, kNowNs - 1'000 * kMs)));
    EXPECT_FALSE(b.add(flow(4, kNowNs - 30 * kDayMs * kMs, kNowNs - 30 * kDayMs * kMs)));
    b.begin(1);
    EXPECT_TRUE(b.add(flow(4, kNowNs - 30 * kDayMs * kMs, kNowNs - 30 * kDayMs * kMs)));
}

TEST(V5Builder, ThirtyIpv4RecordsPerPacketWithTheirTimesAndFields) {
    V5Builder b(0x0102, 1472);
    b.begin(60);
    const std::uint64_t first = kNowNs - 4'321'987'654, last = kNowNs - 12'345'678;
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(b.add(flow(4, first, last))) << i;
    EXPECT_FALSE(b.add(flow(4, first, last))) << "30 records at most";
    EXPECT_EQ(b.sequence_step(), 30u) << "flow_sequence counts records";
    const V5Packet p(b.finish(kNowNs));
    EXPECT_EQ(p.count, 30u);
    EXPECT_EQ(p.sequence, 60u);
    EXPECT_EQ(p.engine_type, 1u);
    EXPECT_EQ(p.engine_id, 2u);
    EXPECT_EQ(p.sampling, 0u);
    EXPECT_EQ(p.unix_secs, 1'800'000'001u);
    EXPECT_EQ(p.unix_nsecs, 0u);
    const V5Record& r = p.records[29];
    EXPECT_EQ(std::memcmp(r.source, "\x0a\x00\x00\x01", 4), 0);
    EXPECT_EQ(std::memcmp(r.destination, "\xc0\x00\x02\x07", 4), 0);
    EXPECT_EQ(r.input, 3u);
    EXPECT_EQ(r.packets, 5u);
    EXPECT_EQ(r.octets, 700u);
    EXPECT_EQ(p.boot_ms() + r.first, first / kMs);
    EXPECT_EQ(p.boot_ms() + r.last, last / kMs);
    EXPECT_EQ(r.source_port, 40000u);
    EXPECT_EQ(r.destination_port, 443u);
    EXPECT_EQ(r.tcp_flags, 0x1bu);
    EXPECT_EQ(r.protocol, 6u);
}

TEST(V5Builder, TakesNoIpv6AndFewerRecordsOnASmallMtu) {
    V5Builder b(1, 548);  // mtu 576
    b.begin(0);
    EXPECT_FALSE(b.add(flow(6, kNowNs, kNowNs)));
    unsigned n = 0;
    while (b.add(flow(4, kNowNs, kNowNs))) ++n;
    EXPECT_EQ(n, 10u);
    EXPECT_EQ(b.finish(kNowNs).size(), 24u + 10 * 48);
}

TEST(SplitForV5, CountersBeyond32BitsAreSharedOverRecordsThatSumExactly) {
    std::vector<FlowRecord> out;
    FlowRecord small = flow(4, kNowNs, kNowNs);
    ASSERT_TRUE(split_for_v5(small, out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(std::memcmp(&out[0], &small, sizeof(small)), 0);
    struct Case {
        std::uint64_t packets, octets;
        std::size_t parts;
    };
    for (const auto& [packets, octets, parts] :
         {Case{10'000'000'000, 10'000'000'000, 3}, Case{7'000'000, 9'000'000'000, 3},
          Case{kMaxV5Count, kMaxV5Count, 1}, Case{2, kMaxV5Count + 1, 2}}) {
        out.clear();
        FlowRecord big = flow(4, kNowNs, kNowNs);
        big.packets = packets;
        big.octets = octets;
        ASSERT_TRUE(split_for_v5(big, out));
        EXPECT_EQ(out.size(), parts);
        std::uint64_t p = 0, o = 0;
        for (const FlowRecord& r : out) {
            EXPECT_LE(r.packets, kMaxV5Count);
            EXPECT_LE(r.octets, kMaxV5Count);
            EXPECT_GE(r.packets, 1u);
            EXPECT_EQ(r.first_ns, big.first_ns);
            p += r.packets;
            o += r.octets;
        }
        EXPECT_EQ(p, packets);
        EXPECT_EQ(o, octets);
    }
    out.clear();
    FlowRecord impossible = flow(4, kNowNs, kNowNs);
    impossible.octets = ~std::uint64_t{0};
    EXPECT_FALSE(split_for_v5(impossible, out)) << "beyond 2^20 parts: counted as not sent";
    EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sluice::netflow
