// IPFIX encoding: decoded back field by field with the templates the message itself carries.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "control/ipfix/encoder.hpp"
#include "shared/config/units.hpp"
#include "tests/unit/ipfix_decode.hpp"

namespace sluice::ipfix {
namespace {

FlowRecord record4() {
    FlowRecord r{};
    const std::uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {192, 0, 2, 7};
    std::memcpy(r.source_address, src, 4);
    std::memcpy(r.destination_address, dst, 4);
    r.source_port = 51000;
    r.destination_port = 443;
    r.protocol = 6;
    r.ip_version = 4;
    r.vlan_id = 42;
    r.packets = 10;
    r.octets = 5000;
    r.reverse_packets = 8;
    r.reverse_octets = 90000;
    r.first_ns = 1'700'000'000'123'456'789;
    r.last_ns = 1'700'000'001'000'000'000;
    r.reverse_first_ns = 1'700'000'000'200'000'000;
    r.reverse_last_ns = 1'700'000'000'900'000'000;
    r.ingress_port = 3;
    r.tcp_flags = 0x1b;
    r.reverse_tcp_flags = 0x12;
    r.minimum_ttl = 60;
    r.maximum_ttl = 64;
    r.reverse_minimum_ttl = 50;
    r.reverse_maximum_ttl = 51;
    r.end_reason = FlowEndReason::end_of_flow;
    r.biflow_direction = 1;
    return r;
}

TEST(IpfixElements, HaveIanaIdsAndAreDefinedOnce) {
    EXPECT_EQ(ie::octetDeltaCount.id, 1);
    EXPECT_EQ(ie::sourceIPv6Address.id, 27);
    EXPECT_EQ(ie::flowEndReason.id, 136);
    EXPECT_EQ(ie::flowStartMilliseconds.id, 152);
    EXPECT_EQ(ie::reverseOctetDeltaCount.pen, 29305u);
    std::set<std::pair<std::uint16_t, std::uint32_t>> seen;
    std::set<std::string_view> names;
    for (const Element& e : kAllElements) {
        EXPECT_TRUE(seen.insert({e.id, e.pen}).second) << e.name;
        EXPECT_TRUE(names.insert(e.name).second) << e.name;
    }
}

// The templates of every biflow, as a collector learns them from a first message.
std::map<std::uint16_t, std::vector<Field>> learn_templates() {
    MessageBuilder b(1, 1472);
    b.begin(0);
    const Template* t[] = {&flow_template(4, TimePrecision::milliseconds),
                           &flow_template(6, TimePrecision::milliseconds)};
    EXPECT_TRUE(b.add_templates(t));
    return Decoded(b.finish(1)).templates;
}

TEST(IpfixMessage, HeaderCarriesVersionLengthTimeSequenceAndDomain) {
    MessageBuilder b(77, 1472);
    b.begin(12345);
    const FlowRecord r = record4();
    ASSERT_TRUE(b.add(r));
    const auto m = b.finish(1'700'000'000);
    const Decoded d(m, learn_templates());
    EXPECT_EQ(d.version, 10);
    EXPECT_EQ(d.length, m.size());
    EXPECT_EQ(d.export_time, 1'700'000'000u);
    EXPECT_EQ(d.sequence, 12345u);
    EXPECT_EQ(d.domain, 77u);
    EXPECT_EQ(b.data_records(), 1u);
}

TEST(IpfixMessage, TemplatesAndRecordsDecodeFieldByField) {
    MessageBuilder b(1, 1472);
    b.begin(0);
    const Template* templates[] = {&flow_template(4, TimePrecision::milliseconds),
                                   &flow_template(6, TimePrecision::milliseconds)};
    ASSERT_TRUE(b.add_templates(templates));
    FlowRecord r4 = record4();
    FlowRecord r6 = record4();
    r6.ip_version = 6;
    for (int i = 0; i < 16; ++i) r6.source_address[i] = static_cast<std::uint8_t>(0x20 + i);
    for (int i = 0; i < 16; ++i) r6.destination_address[i] = static_cast<std::uint8_t>(0x40 + i);
    ASSERT_TRUE(b.add(r4));
    ASSERT_TRUE(b.add(r6));
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.templates.size(), 2u);
    EXPECT_EQ(d.templates.at(256).size(), 24u);
    ASSERT_EQ(d.records.size(), 2u);

    const auto& v4 = d.records[0].second;
    EXPECT_EQ(d.records[0].first, 256);
    EXPECT_EQ(v4.at({8, 0}), (std::vector<std::uint8_t>{10, 0, 0, 1}));
    EXPECT_EQ(v4.at({12, 0}), (std::vector<std::uint8_t>{192, 0, 2, 7}));
    EXPECT_EQ(value(v4.at({7, 0})), 51000u);
    EXPECT_EQ(value(v4.at({11, 0})), 443u);
    EXPECT_EQ(value(v4.at({4, 0})), 6u);
    EXPECT_EQ(value(v4.at({58, 0})), 42u);
    EXPECT_EQ(value(v4.at({10, 0})), 3u);
    EXPECT_EQ(value(v4.at({1, 0})), 5000u);
    EXPECT_EQ(value(v4.at({2, 0})), 10u);
    EXPECT_EQ(value(v4.at({1, kReversePen})), 90000u);
    EXPECT_EQ(value(v4.at({2, kReversePen})), 8u);
    EXPECT_EQ(value(v4.at({152, 0})), 1'700'000'000'123u);
    EXPECT_EQ(value(v4.at({153, 0})), 1'700'000'001'000u);
    EXPECT_EQ(value(v4.at({152, kReversePen})), 1'700'000'000'200u);
    EXPECT_EQ(value(v4.at({153, kReversePen})), 1'700'000'000'900u);
    EXPECT_EQ(value(v4.at({6, 0})), 0x1bu);
    EXPECT_EQ(value(v4.at({6, kReversePen})), 0x12u);
    EXPECT_EQ(value(v4.at({52, 0})), 60u);
    EXPECT_EQ(value(v4.at({53, 0})), 64u);
    EXPECT_EQ(value(v4.at({52, kReversePen})), 50u);
    EXPECT_EQ(value(v4.at({53, kReversePen})), 51u);
    EXPECT_EQ(value(v4.at({136, 0})), 3u);
    EXPECT_EQ(value(v4.at({239, 0})), 1u) << "biflowDirection initiator: the source sent the SYN";
    EXPECT_EQ(v4.at({95, 0}), (std::vector<std::uint8_t>{0, 0, 0, 0})) << "no application";

    const auto& v6 = d.records[1].second;
    EXPECT_EQ(d.records[1].first, 257);
    EXPECT_EQ(v6.at({27, 0})[0], 0x20);
    EXPECT_EQ(v6.at({28, 0})[15], 0x4f);
    EXPECT_EQ(value(v6.at({1, 0})), 5000u);
}

TEST(Uniflow, ABiflowIsOneRecordPerDirectionEachWithItsOwnCountersTimesFlagsAndTtls) {
    FlowRecord parts[2];
    ASSERT_EQ(to_uniflow(record4(), parts), 2u);
    const FlowRecord& f = parts[0];
    EXPECT_EQ(f.source_address[3], 1);
    EXPECT_EQ(f.source_port, 51000);
    EXPECT_EQ(f.destination_port, 443);
    EXPECT_EQ(f.packets, 10u);
    EXPECT_EQ(f.octets, 5000u);
    EXPECT_EQ(f.first_ns, 1'700'000'000'123'456'789u);
    EXPECT_EQ(f.tcp_flags, 0x1b);
    EXPECT_EQ(f.reverse_packets, 0u);
    EXPECT_EQ(f.reverse_octets, 0u);
    const FlowRecord& b = parts[1];
    EXPECT_EQ(b.source_address[0], 192);
    EXPECT_EQ(b.source_address[3], 7);
    EXPECT_EQ(b.destination_address[3], 1);
    EXPECT_EQ(b.source_port, 443);
    EXPECT_EQ(b.destination_port, 51000);
    EXPECT_EQ(b.packets, 8u);
    EXPECT_EQ(b.octets, 90000u);
    EXPECT_EQ(b.first_ns, 1'700'000'000'200'000'000u);
    EXPECT_EQ(b.last_ns, 1'700'000'000'900'000'000u);
    EXPECT_EQ(b.tcp_flags, 0x12);
    EXPECT_EQ(b.minimum_ttl, 50);
    EXPECT_EQ(b.maximum_ttl, 51);
    EXPECT_EQ(b.reverse_packets, 0u);
    for (const FlowRecord& r : parts) {
        EXPECT_EQ(r.end_reason, FlowEndReason::end_of_flow);
        EXPECT_EQ(r.protocol, 6);
        EXPECT_EQ(r.vlan_id, 42);
    }
}

TEST(Uniflow, ADirectionWithoutPacketsHasNoRecordAndAnIcmpReplyNoTypeOfItsOwn) {
    FlowRecord r = record4();
    r.reverse_packets = r.reverse_octets = 0;
    FlowRecord parts[2];
    EXPECT_EQ(to_uniflow(r, parts), 1u);
    r = record4();
    r.protocol = 1;
    r.source_port = 0;
    r.destination_port = 8 * 256;  // echo request
    ASSERT_EQ(to_uniflow(r, parts), 2u);
    EXPECT_EQ(parts[0].destination_port, 8 * 256);
    EXPECT_EQ(parts[1].source_port, 0);
    EXPECT_EQ(parts[1].destination_port, 0);
}

TEST(Uniflow, TemplatesCarryNoReverseElementAndTheRecordsDecode) {
    MessageBuilder b(1, 1472, TimePrecision::milliseconds, Records::uniflow);
    b.begin(0);
    ASSERT_TRUE(b.add_templates(flow_templates(TimePrecision::milliseconds, Records::uniflow)));
    FlowRecord parts[2];
    to_uniflow(record4(), parts);
    ASSERT_TRUE(b.add(parts[0]));
    ASSERT_TRUE(b.add(parts[1]));
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.templates.size(), 2u);
    for (const auto& [id, fields] : d.templates) {
        EXPECT_TRUE(id == 264 || id == 265) << id;
        EXPECT_EQ(fields.size(), 16u);
        for (const Field& f : fields) EXPECT_EQ(f.pen, 0u) << "a reverse element";
    }
    ASSERT_EQ(d.records.size(), 2u);
    const auto& back = d.records[1].second;
    EXPECT_EQ(d.records[1].first, 264);
    EXPECT_EQ(back.at({8, 0}), (std::vector<std::uint8_t>{192, 0, 2, 7}));
    EXPECT_EQ(value(back.at({7, 0})), 443u);
    EXPECT_EQ(value(back.at({2, 0})), 8u);
    EXPECT_EQ(value(back.at({1, 0})), 90000u);
    EXPECT_EQ(value(back.at({152, 0})), 1'700'000'000'200u);
    EXPECT_EQ(value(back.at({6, 0})), 0x12u);
    EXPECT_EQ(value(back.at({136, 0})), 3u);
    EXPECT_EQ(flow_template(6, TimePrecision::nanoseconds, Records::uniflow).id, 267);
}

// [sensor] local_networks: the local networks of record4's client 10.0.0.1 and of an IPv6 one.
std::vector<config::Network> local_networks() {
    std::vector<config::Network> out;
    for (const char* text : {"10.0.0.0/8", "2001:db8:0:2::/64"})
        out.push_back(*config::parse_network(text).value);
    return out;
}

TEST(FlowDirection, ABiflowIsEgressWhenItsInitiatorIsLocalIngressWhenNot) {
    MessageBuilder b(1, 1472);
    b.set_local_networks(local_networks());
    b.begin(0);
    ASSERT_TRUE(
        b.add_templates(flow_templates(TimePrecision::milliseconds, Records::biflow, true)));
    FlowRecord in = record4();
    const std::uint8_t outside[4] = {198, 51, 100, 1};
    std::memcpy(in.source_address, outside, 4);
    ASSERT_TRUE(b.add(record4()));
    ASSERT_TRUE(b.add(in));
    EXPECT_EQ(b.data_template(record4(), false).length,
              flow_template(4, TimePrecision::milliseconds).record_length() + 1);
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.templates.size(), 2u);
    for (const auto& [id, fields] : d.templates) {
        EXPECT_TRUE(id == 592 || id == 593) << id;
        EXPECT_EQ(fields.size(), 25u);
        EXPECT_EQ(fields.back().id, 61) << "flowDirection last";
    }
    ASSERT_EQ(d.records.size(), 2u);
    EXPECT_EQ(d.records[0].first, 592);
    EXPECT_EQ(value(d.records[0].second.at({61, 0})), 1u) << "egress: 10.0.0.1 initiated";
    EXPECT_EQ(value(d.records[1].second.at({61, 0})), 0u) << "ingress: 198.51.100.1 initiated";
    EXPECT_EQ(value(d.records[1].second.at({239, 0})), 1u) << "biflowDirection as before";
}

TEST(FlowDirection, EachUniflowRecordHasItsSendersDirection) {
    MessageBuilder b(1, 1472, TimePrecision::milliseconds, Records::uniflow);
    b.set_local_networks(local_networks());
    b.begin(0);
    ASSERT_TRUE(
        b.add_templates(flow_templates(TimePrecision::milliseconds, Records::uniflow, true)));
    FlowRecord parts[2];
    ASSERT_EQ(to_uniflow(record4(), parts), 2u);
    ASSERT_TRUE(b.add(parts[0]));
    ASSERT_TRUE(b.add(parts[1]));
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.records.size(), 2u);
    EXPECT_EQ(d.records[0].first, 596);
    EXPECT_EQ(value(d.records[0].second.at({61, 0})), 1u) << "the client's packets leave";
    EXPECT_EQ(value(d.records[1].second.at({61, 0})), 0u) << "the server's come in";
}

TEST(IpfixMessage, NanosecondTimestampsAreNtpFormat) {
    EXPECT_EQ(ntp_timestamp(1'700'000'000'500'000'000), (3'908'988'800ull << 32) | 0x80000000u);
    MessageBuilder b(1, 1472, TimePrecision::nanoseconds);
    b.begin(0);
    const Template* t[] = {&flow_template(4, TimePrecision::nanoseconds)};
    ASSERT_TRUE(b.add_templates(t));
    ASSERT_TRUE(b.add(record4()));
    const Decoded d(b.finish(1));
    EXPECT_EQ(value(d.records[0].second.at({156, 0})), ntp_timestamp(1'700'000'000'123'456'789));
    EXPECT_EQ(d.records[0].first, 258);
}

TEST(IpfixMessage, NeverExceedsItsSize) {
    MessageBuilder b(1, 1472);
    b.begin(0);
    unsigned added = 0;
    while (b.add(record4())) ++added;
    const auto m = b.finish(1);
    const std::size_t per = flow_template(4, TimePrecision::milliseconds).record_length();
    EXPECT_EQ(added, (1472 - 16 - 4) / per);
    EXPECT_LE(m.size(), 1472u);
    EXPECT_EQ(Decoded(m, learn_templates()).records.size(), added);
}

TEST(IpfixMessage, ApplicationIdIsEngineAndSelector) {
    FlowRecord r = record4();
    r.application_id = 0x000102;
    MessageBuilder b(1, 1472);
    ASSERT_TRUE(b.add(r));
    const Decoded d(b.finish(1), learn_templates());
    EXPECT_EQ(d.records[0].second.at({95, 0}),
              (std::vector<std::uint8_t>{kApplicationEngine, 0x00, 0x01, 0x02}));
}

TEST(IpfixMessage, BiflowDirectionIsTheRecordsOwn) {
    FlowRecord r = record4();
    r.biflow_direction = 0;  // a TCP flow whose SYN the sensor did not see
    MessageBuilder b(1, 1472);
    ASSERT_TRUE(b.add(r));
    const Decoded d(b.finish(1), learn_templates());
    EXPECT_EQ(value(d.records[0].second.at({239, 0})), 0u);
}

TEST(IpfixMessage, OptionsTemplatesAndStatisticsRecordsDecode) {
    MessageBuilder b(9, 1472);
    b.begin(5);
    const Template* t[] = {&flow_template(4, TimePrecision::milliseconds), &kMeteringStatistics,
                           &kExportingStatistics};
    ASSERT_TRUE(b.add_templates(t));
    const std::uint64_t metering[] = {
        9, 5000, 700000, 600000, 120, 8000, 9000, 1'700'000'000'000, 1'700'000'060'000};
    const std::uint64_t exporting[] = {1, 3, 30, 4500, 1'700'000'000'000, 1'700'000'060'000};
    ASSERT_TRUE(b.add(kMeteringStatistics, metering));
    ASSERT_TRUE(b.add(kExportingStatistics, exporting));
    EXPECT_FALSE(b.add(kExportingStatistics, std::span(metering))) << "wrong number of values";
    EXPECT_EQ(b.data_records(), 2u) << "options records are data records for the sequence";
    const Decoded d(b.finish(1));
    EXPECT_EQ(d.scope_fields.at(260), 1);
    EXPECT_EQ(d.scope_fields.at(261), 1);
    EXPECT_EQ(d.scope_fields.count(256), 0u) << "the data template is in a template set";
    ASSERT_EQ(d.templates.at(260).size(), 9u);
    std::vector<std::uint16_t> metering_ids;
    for (const Field& f : d.templates.at(260)) metering_ids.push_back(f.id);
    EXPECT_EQ(metering_ids, (std::vector<std::uint16_t>{149, 86, 353, 85, 164, 165, 426, 323, 323}))
        << "observationDomainId (the scope), packetTotalCount, layer2OctetTotalCount, "
           "octetTotalCount, ignoredPacketTotalCount, ignoredOctetTotalCount, "
           "ignoredLayer2OctetTotalCount, the window";
    EXPECT_EQ(d.templates.at(261)[0].id, 144);  // exportingProcessId, the scope
    EXPECT_EQ(d.templates.at(261)[3].id, 168);
    ASSERT_EQ(d.records.size(), 2u);
    EXPECT_EQ(d.ordered[0], std::vector<std::uint64_t>(std::begin(metering), std::end(metering)));
    EXPECT_EQ(d.ordered[1], std::vector<std::uint64_t>(std::begin(exporting), std::end(exporting)));
}

TEST(IpfixMessage, TheDomainsNameIsAnOptionsRecordScopedByTheDomain) {
    MessageBuilder b(7, 1472);
    const Template* t[] = {&kDomainName};
    ASSERT_TRUE(b.add_templates(t));
    ASSERT_TRUE(b.add_domain_name(7, "dc1-span-3"));
    const Decoded d(b.finish(1));
    EXPECT_EQ(d.scope_fields.at(263), 1);
    ASSERT_EQ(d.records.size(), 1u);
    EXPECT_EQ(value(d.records[0].second.at({149, 0})), 7u);
    EXPECT_EQ(d.templates.at(263)[1].id, 300) << "observationDomainName";
    const auto& name = d.records[0].second.at({300, 0});
    EXPECT_EQ(std::string(name.begin(), name.end()), "dc1-span-3");
}

TEST(IpfixMessage, ApplicationNamesAreOptionsRecordsWithVariableLengthStrings) {
    MessageBuilder b(1, 1472);
    const Template* t[] = {&kApplicationNames};
    ASSERT_TRUE(b.add_templates(t));
    const std::string long_description(300, 'd');
    ASSERT_TRUE(b.add_application(application_id(1), "http", "Hypertext Transfer Protocol"));
    ASSERT_TRUE(b.add_application(application_id(2), "tls", long_description));
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.templates.at(262).size(), 3u);
    EXPECT_EQ(d.templates.at(262)[1].id, 96);
    EXPECT_EQ(d.templates.at(262)[1].length, kVariableLength);
    EXPECT_EQ(d.scope_fields.at(262), 1);
    ASSERT_EQ(d.records.size(), 2u);
    const auto& http = d.records[0].second;
    EXPECT_EQ(http.at({95, 0}), (std::vector<std::uint8_t>{kApplicationEngine, 0, 0, 1}));
    EXPECT_EQ(std::string(http.at({96, 0}).begin(), http.at({96, 0}).end()), "http");
    EXPECT_EQ(std::string(http.at({94, 0}).begin(), http.at({94, 0}).end()),
              "Hypertext Transfer Protocol");
    const auto& tls = d.records[1].second;
    EXPECT_EQ(tls.at({94, 0}).size(), 300u) << "a length of 255 or more takes three bytes";
}

}  // namespace
}  // namespace sluice::ipfix
