// Records with metadata: the bytes their extensions carry, how they travel through a
// collector's buffer and spool as one unit, and the IPFIX templates and fields they go out in.
#include "sluice/metadata.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "control/export/session.hpp"
#include "control/export/spool.hpp"
#include "control/ipfix/encoder.hpp"
#include "shared/records/record_json.hpp"
#include "tests/unit/collectors.hpp"
#include "tests/unit/ipfix_decode.hpp"

namespace sluice::control {
namespace {

using namespace collector_test;
using ipfix::Decoded;

std::string text(const std::vector<std::uint8_t>& bytes) {
    return {bytes.begin(), bytes.end()};
}

// The server name of each flow record a collector received, by its octets (record(i): 100 + i),
// "" for a record without one.
std::map<std::uint64_t, std::string> server_names(const Received& r) {
    std::map<std::uint64_t, std::string> out;
    for (const Decoded& m : r.messages)
        for (const auto& [set, fields] : m.records) {
            if (!is_flow_template(set)) continue;
            const auto sni = fields.find({294, ipfix::kCertPen});
            out[ipfix::value(fields.at({1, 0}))] = sni == fields.end() ? "" : text(sni->second);
        }
    return out;
}

std::map<std::uint64_t, std::string> expected_names(unsigned n, unsigned every) {
    std::map<std::uint64_t, std::string> out;
    for (unsigned i = 0; i < n; ++i)
        out[100 + i] = i % every == 0 ? "host-" + std::to_string(i) + ".example" : "";
    return out;
}

TEST(Metadata, FieldsWrittenIntoExtensionsReadBackWhole) {
    MetadataWriter w;
    const std::string long_name(300, 'a');  // spans three extension slots
    w.put(MetadataField::tls_server_name, long_name);
    w.put_number(MetadataField::tls_cipher, 0xc02f, 2);
    FlowRecord slots[kMaxExtensions];
    const unsigned n = write_extensions(w.bytes(), slots);
    EXPECT_EQ(n, 3u);
    for (unsigned i = 0; i < n; ++i) {
        EXPECT_TRUE(is_extension(slots[i]));
        EXPECT_EQ(unit_slots(slots[i]), 1u) << "an extension alone is a unit of one";
    }
    std::array<std::uint8_t, kMaxMetadataBytes> bytes;
    const std::size_t length = gather_extensions({slots, n}, bytes);
    MetadataReader reader({bytes.data(), length});
    MetadataReader::Field f;
    ASSERT_TRUE(reader.next(f));
    EXPECT_EQ(f.info->field, MetadataField::tls_server_name);
    EXPECT_EQ(f.text(), long_name);
    ASSERT_TRUE(reader.next(f));
    EXPECT_EQ(f.number(), 0xc02fu);
    EXPECT_FALSE(reader.next(f)) << "the zeros after the last field end them";
}

TEST(Metadata, AWriterKeepsWhatFitsAndSaysItWasFull) {
    MetadataWriter w;
    const std::string big(kMaxMetadataBytes - 3, 'x');
    EXPECT_TRUE(w.put(MetadataField::tls_server_name, big));
    EXPECT_FALSE(w.put(MetadataField::tls_alpn, "h2"));
    EXPECT_TRUE(w.full());
    EXPECT_EQ(w.bytes().size(), kMaxMetadataBytes);
}

TEST(Metadata, AReaderStopsAtAFieldItDoesNotKnowOrThatRunsPastTheEnd) {
    const std::uint8_t unknown[] = {200, 1, 0, 7};
    MetadataReader::Field f;
    EXPECT_FALSE(MetadataReader(unknown).next(f));
    const std::uint8_t past[] = {1, 10, 0, 'a', 'b'};
    EXPECT_FALSE(MetadataReader(past).next(f));
}

TEST(IpfixMessage, ARecordWithTlsMetadataGoesOutInTheTlsTemplateWithItsFields) {
    ipfix::MessageBuilder b(1, 65535, ipfix::TimePrecision::milliseconds, config::Records::biflow,
                            kAllMetadataGroups);
    b.begin(0);
    auto templates = ipfix::metadata_templates(ipfix::TimePrecision::milliseconds,
                                               config::Records::biflow, kAllMetadataGroups);
    templates.push_back(&ipfix::flow_template(4, ipfix::TimePrecision::milliseconds));
    ASSERT_TRUE(b.add_templates(templates));
    const auto unit = tls_unit(4);  // IPv4
    std::array<std::uint8_t, kMaxMetadataBytes> bytes;
    const std::size_t n = gather_extensions({unit.data() + 1, unit.size() - 1}, bytes);
    ASSERT_TRUE(b.add(unit[0], {bytes.data(), n}));
    ASSERT_TRUE(b.add(record(5)));
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.records.size(), 2u);
    EXPECT_EQ(d.records[0].first, 272) << "IPv4, milliseconds, biflow: the base 0; TLS: group 0";
    EXPECT_EQ(d.records[1].first, 256);
    const auto& f = d.records[0].second;
    EXPECT_EQ(text(f.at({294, ipfix::kCertPen})), "host-4.example");
    EXPECT_EQ(text(f.at({ipfix::ie::tlsApplicationProtocols.id, ipfix::kSluicePen})),
              "h2,http/1.1");
    EXPECT_EQ(ipfix::value(f.at({ipfix::ie::tlsClientVersion.id, ipfix::kSluicePen})), 0x0304u);
    EXPECT_EQ(ipfix::value(f.at({187, ipfix::kCertPen})), 0x1301u);
    EXPECT_EQ(text(f.at({ipfix::ie::tlsJa3.id, ipfix::kSluicePen})),
              "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(text(f.at({ipfix::ie::tlsJa4.id, ipfix::kSluicePen})), "") << "not found: empty";
    EXPECT_EQ(ipfix::value(f.at({ipfix::ie::tlsServerVersion.id, ipfix::kSluicePen})), 0u);
    EXPECT_EQ(ipfix::value(f.at({1, 0})), 104u) << "the base fields as without metadata";
}

// A TCP record's unit with TCP health (its responder's values 10 times its initiator's), and
// TLS metadata too when `tls`.
std::vector<FlowRecord> health_unit(unsigned i, bool tls) {
    std::vector<FlowRecord> out = tls ? tls_unit(i) : std::vector<FlowRecord>{record(i)};
    std::array<std::uint8_t, kMaxMetadataBytes> bytes{};
    std::size_t length = gather_extensions(std::span(out).subspan(1), bytes);
    while (length > 0 && bytes[length - 1] == 0) --length;  // the fields, not the padding
    MetadataWriter w;
    w.append({bytes.data(), length});
    w.put_number(MetadataField::tcp_syn_to_synack_us, 250, 4);
    w.put_number(MetadataField::tcp_synack_to_ack_us, 40, 4);
    for (const unsigned scale : {1u, 10u}) {
        const auto id = [&](MetadataField f) { return of_direction(f, scale != 1); };
        w.put_number(id(MetadataField::tcp_retransmitted_packets), 1 * scale, 4);
        w.put_number(id(MetadataField::tcp_retransmitted_octets), 1500 * scale, 8);
        w.put_number(id(MetadataField::tcp_out_of_order), 2 * scale, 4);
        w.put_number(id(MetadataField::tcp_zero_windows), 3 * scale, 4);
        w.put_number(id(MetadataField::tcp_largest_gap_us), 4000 * scale, 4);
    }
    out[0].protocol = 6;
    return unit_of(out[0], out[0].metadata_groups | group_bit(MetadataGroup::tcp_health), w);
}

std::vector<std::uint8_t> metadata_of(const std::vector<FlowRecord>& unit) {
    std::array<std::uint8_t, kMaxMetadataBytes> bytes;
    const std::size_t n = gather_extensions(std::span(unit).subspan(1), bytes);
    return {bytes.begin(), bytes.begin() + static_cast<long>(n)};
}

std::uint64_t own(const auto& f, ipfix::Element e) {
    return ipfix::value(f.at({e.id, ipfix::kSluicePen}));
}

TEST(IpfixMessage, TcpHealthGoesOutAloneOrBesideTheApplicationsFieldsEachDirectionApart) {
    ipfix::MessageBuilder b(1, 65535, ipfix::TimePrecision::milliseconds, config::Records::biflow,
                            kAllMetadataGroups);
    b.begin(0);
    const auto templates = ipfix::metadata_templates(ipfix::TimePrecision::milliseconds,
                                                     config::Records::biflow, kAllMetadataGroups);
    EXPECT_EQ(templates.size(), 78u)
        << "each IP version, without the header fields: 4 groups, each with or without TCP "
           "health and with or without the tunnel, and TCP health, the tunnel or both alone (19); "
           "with them, the same and the header fields alone (20)";
    ASSERT_TRUE(b.add_templates(templates));
    for (const bool tls : {false, true}) {
        const auto unit = health_unit(4, tls);
        const auto m = metadata_of(unit);
        ASSERT_TRUE(b.add(unit[0], m));
    }
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.records.size(), 2u);
    EXPECT_EQ(d.records[0].first, 272 + 4 * 4 + 2) << "no application group, TCP health";
    EXPECT_EQ(d.records[1].first, 272 + 0 * 4 + 2) << "TLS and TCP health";
    EXPECT_EQ(text(d.records[1].second.at({294, ipfix::kCertPen})), "host-4.example");
    for (const auto& [set, f] : d.records) {
        EXPECT_EQ(own(f, ipfix::ie::tcpSynToSynAckMicroseconds), 250u);
        EXPECT_EQ(own(f, ipfix::ie::tcpSynAckToAckMicroseconds), 40u);
        EXPECT_EQ(own(f, ipfix::ie::tcpRetransmittedPackets), 1u);
        EXPECT_EQ(own(f, ipfix::ie::tcpRetransmittedOctets), 1500u);
        EXPECT_EQ(own(f, ipfix::ie::tcpOutOfOrderPackets), 2u);
        EXPECT_EQ(own(f, ipfix::ie::tcpZeroWindowPackets), 3u);
        EXPECT_EQ(own(f, ipfix::ie::tcpLargestGapMicroseconds), 4000u);
        EXPECT_EQ(own(f, ipfix::ie::reverseTcpRetransmittedPackets), 10u);
        EXPECT_EQ(own(f, ipfix::ie::reverseTcpRetransmittedOctets), 15000u);
        EXPECT_EQ(own(f, ipfix::ie::reverseTcpOutOfOrderPackets), 20u);
        EXPECT_EQ(own(f, ipfix::ie::reverseTcpZeroWindowPackets), 30u);
        EXPECT_EQ(own(f, ipfix::ie::reverseTcpLargestGapMicroseconds), 40000u);
        EXPECT_EQ(ipfix::ie::reverseTcpRetransmittedPackets.id, 0x4000 | 12);
    }
}

// A UDP record's unit with the tunnel it came out of: VXLAN 5000 between 192.0.2.1 (its
// source's side) and 2001:db8::2, mirrored by ERSPAN session 7.
std::vector<FlowRecord> tunnel_unit(unsigned i) {
    const std::uint8_t source[4] = {192, 0, 2, 1};
    const std::uint8_t destination[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                          0,    0,    0,    0,    0, 0, 0, 2};
    MetadataWriter w;
    w.put(MetadataField::tunnel_technology, "vxlan");
    w.put_number(MetadataField::tunnel_id, 5000, 4);
    w.put(MetadataField::tunnel_source, std::span<const std::uint8_t>(source));
    w.put(MetadataField::tunnel_destination, std::span<const std::uint8_t>(destination));
    w.put_number(MetadataField::erspan_session, 7, 2);
    return unit_of(record(i), group_bit(MetadataGroup::tunnel), w);
}

TEST(IpfixMessage, TheTunnelGoesOutAsItsTechnologyIdEndpointsAndObservationPoint) {
    ipfix::MessageBuilder b(1, 65535, ipfix::TimePrecision::milliseconds, config::Records::biflow,
                            kAllMetadataGroups);
    b.begin(0);
    ASSERT_TRUE(b.add_templates(ipfix::metadata_templates(
        ipfix::TimePrecision::milliseconds, config::Records::biflow, kAllMetadataGroups)));
    const auto unit = tunnel_unit(4);
    ASSERT_TRUE(b.add(unit[0], metadata_of(unit)));
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.records.size(), 1u);
    EXPECT_EQ(d.records[0].first, 272 + 4 * 4 + 1) << "no application group, the tunnel alone";
    const auto& f = d.records[0].second;
    EXPECT_EQ(text(f.at({ipfix::ie::tunnelTechnology.id, 0})), "vxlan");
    EXPECT_EQ(own(f, ipfix::ie::tunnelId), 5000u);
    const std::vector<std::uint8_t> mapped = {0, 0, 0,    0,    0,   0, 0, 0,
                                              0, 0, 0xff, 0xff, 192, 0, 2, 1};
    EXPECT_EQ(f.at({ipfix::ie::tunnelSourceAddress.id, ipfix::kSluicePen}), mapped)
        << "IPv4 as IPv4-mapped IPv6";
    const auto& destination = f.at({ipfix::ie::tunnelDestinationAddress.id, ipfix::kSluicePen});
    ASSERT_EQ(destination.size(), 16u);
    EXPECT_EQ(destination[0], 0x20);
    EXPECT_EQ(destination[15], 2);
    EXPECT_EQ(ipfix::value(f.at({ipfix::ie::observationPointId.id, 0})), 7u);
}

// A record's unit with the header fields of both directions: the initiator's first packet
// from 00:1b:21:aa:bb:01 to 00:1b:21:cc:dd:02 with class of service 42, customer VLAN 20 and
// MPLS top label 100 (bottom of stack); the responder's back with 184 and no labels.
std::vector<FlowRecord> headers_unit(unsigned i) {
    const std::uint8_t a[6] = {0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x01};
    const std::uint8_t b[6] = {0x00, 0x1b, 0x21, 0xcc, 0xdd, 0x02};
    MetadataWriter w;
    w.put(MetadataField::source_mac, std::span<const std::uint8_t>(a));
    w.put(MetadataField::destination_mac, std::span<const std::uint8_t>(b));
    w.put_number(MetadataField::class_of_service, 42, 1);
    w.put_number(MetadataField::customer_vlan, 20, 2);
    w.put_number(MetadataField::mpls_top_label, 100 << 4 | 1, 4);
    if (record(i).ip_version == 6) w.put_number(MetadataField::flow_label, 0x12345, 4);
    w.put(MetadataField::reverse_source_mac, std::span<const std::uint8_t>(b));
    w.put(MetadataField::reverse_destination_mac, std::span<const std::uint8_t>(a));
    w.put_number(MetadataField::reverse_class_of_service, 184, 1);
    return unit_of(record(i), group_bit(MetadataGroup::headers), w);
}

TEST(IpfixMessage, HeaderFieldsGoOutInIanasElementsTheRespondersAsTheirReverseElements) {
    ipfix::MessageBuilder b(1, 65535, ipfix::TimePrecision::milliseconds, config::Records::biflow,
                            kAllMetadataGroups);
    b.begin(0);
    ASSERT_TRUE(b.add_templates(ipfix::metadata_templates(
        ipfix::TimePrecision::milliseconds, config::Records::biflow, kAllMetadataGroups)));
    const auto v4 = headers_unit(4), v6 = headers_unit(6);
    ASSERT_TRUE(b.add(v4[0], metadata_of(v4)));
    ASSERT_TRUE(b.add(v6[0], metadata_of(v6)));
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.records.size(), 2u);
    EXPECT_EQ(d.records[0].first, 600 + 4 * 4) << "the base's variants with the header fields";
    EXPECT_EQ(d.records[1].first, 600 + 20 + 4 * 4) << "IPv6's";
    const std::vector<std::uint8_t> a = {0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x01};
    const std::vector<std::uint8_t> c = {0x00, 0x1b, 0x21, 0xcc, 0xdd, 0x02};
    for (const auto& [set, f] : d.records) {
        EXPECT_EQ(f.at({56, 0}), a);
        EXPECT_EQ(f.at({80, 0}), c);
        EXPECT_EQ(f.at({56, ipfix::kReversePen}), c);
        EXPECT_EQ(f.at({80, ipfix::kReversePen}), a);
        EXPECT_EQ(ipfix::value(f.at({5, 0})), 42u);
        EXPECT_EQ(ipfix::value(f.at({5, ipfix::kReversePen})), 184u);
        EXPECT_EQ(ipfix::value(f.at({245, 0})), 20u);
        EXPECT_EQ(ipfix::value(f.at({245, ipfix::kReversePen})), 0u) << "none: zero";
        EXPECT_EQ(f.at({70, 0}), (std::vector<std::uint8_t>{0x00, 0x06, 0x41}))
            << "label 100, traffic class 0, bottom of stack";
        EXPECT_EQ(f.at({70, ipfix::kReversePen}), (std::vector<std::uint8_t>{0, 0, 0}));
    }
    const auto& v4f = d.records[0].second;
    const auto& v6f = d.records[1].second;
    EXPECT_TRUE(v4f.contains({32, 0}) && !v4f.contains({139, 0}) && !v4f.contains({31, 0}))
        << "IPv4: icmpTypeCodeIPv4, no flow label";
    EXPECT_TRUE(v6f.contains({139, 0}) && !v6f.contains({32, 0}));
    EXPECT_EQ(ipfix::value(v6f.at({31, 0})), 0x12345u);
    EXPECT_EQ(ipfix::value(v6f.at({31, ipfix::kReversePen})), 0u);
}

TEST(IpfixMessage, AUniflowRespondersRecordCarriesItsOwnHeaderFieldsAsTheSources) {
    ipfix::MessageBuilder b(1, 65535, ipfix::TimePrecision::milliseconds, config::Records::uniflow,
                            kAllMetadataGroups);
    b.begin(0);
    ASSERT_TRUE(b.add_templates(ipfix::metadata_templates(
        ipfix::TimePrecision::milliseconds, config::Records::uniflow, kAllMetadataGroups)));
    const auto unit = headers_unit(4);
    auto m = metadata_of(unit);
    reverse_directions(m);
    ASSERT_TRUE(b.add(unit[0], m));
    const Decoded d(b.finish(1));
    ASSERT_EQ(d.records.size(), 1u);
    EXPECT_EQ(d.records[0].first, 600 + 4 * 20 + 4 * 4);
    const auto& f = d.records[0].second;
    EXPECT_EQ(f.at({56, 0}), (std::vector<std::uint8_t>{0x00, 0x1b, 0x21, 0xcc, 0xdd, 0x02}));
    EXPECT_EQ(ipfix::value(f.at({5, 0})), 184u);
    EXPECT_FALSE(f.contains({56, ipfix::kReversePen})) << "a uniflow template has no reverse";
}

TEST(RecordJson, CarriesMacAddressesAsText) {
    const auto unit = headers_unit(4);
    const std::string json = to_json(unit[0], metadata_of(unit));
    EXPECT_NE(json.find("\"source_mac\": \"00:1b:21:aa:bb:01\", \"destination_mac\": "
                        "\"00:1b:21:cc:dd:02\", \"class_of_service\": 42"),
              std::string::npos)
        << json;
}

TEST(RecordJson, CarriesTheTunnelsEndpointsAsAddresses) {
    const auto unit = tunnel_unit(4);
    const auto m = metadata_of(unit);
    const std::string json = to_json(unit[0], m);
    EXPECT_NE(json.find("\"tunnel_technology\": \"vxlan\", \"tunnel_id\": 5000, \"tunnel_source\": "
                        "\"192.0.2.1\", \"tunnel_destination\": \"2001:db8::2\", "
                        "\"erspan_session\": 7"),
              std::string::npos)
        << json;
}

TEST(Metadata, AUniflowRespondersTunnelEndpointsAreTheOtherWayRound) {
    auto m = metadata_of(tunnel_unit(4));
    reverse_directions(m);
    const std::string json = to_json(record(4), m);
    EXPECT_NE(json.find("\"tunnel_source\": \"2001:db8::2\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"tunnel_destination\": \"192.0.2.1\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"tunnel_id\": 5000"), std::string::npos) << json;
}

TEST(Metadata, ReversingDirectionsSwapsEachDirectionalFieldAndLeavesTheRest) {
    auto m = metadata_of(health_unit(4, true));
    reverse_directions(m);
    std::map<std::string, std::uint64_t> got;
    MetadataReader reader(m);
    for (MetadataReader::Field f; reader.next(f);)
        if (f.info->type != MetadataType::string) got[std::string(f.info->name)] = f.number();
    EXPECT_EQ(got.at("tcp_retransmitted_packets"), 10u);
    EXPECT_EQ(got.at("reverse_tcp_retransmitted_packets"), 1u);
    EXPECT_EQ(got.at("tcp_largest_gap_us"), 40000u);
    EXPECT_EQ(got.at("reverse_tcp_largest_gap_us"), 4000u);
    EXPECT_EQ(got.at("tcp_syn_to_synack_us"), 250u);
    EXPECT_EQ(got.at("tls_client_version"), 0x0304u);
}

TEST(IpfixMessage, ACollectorThatTakesNoTlsGetsTheRecordInTheBaseTemplate) {
    ipfix::MessageBuilder b(1, 65535, ipfix::TimePrecision::milliseconds, config::Records::biflow,
                            0);
    b.begin(0);
    const auto unit = tls_unit(4);
    std::array<std::uint8_t, kMaxMetadataBytes> bytes;
    const std::size_t n = gather_extensions({unit.data() + 1, unit.size() - 1}, bytes);
    ASSERT_TRUE(b.add(unit[0], {bytes.data(), n}));
    const Decoded d(b.finish(1), [] {
        ipfix::MessageBuilder t(1, 65535);
        t.begin(0);
        const ipfix::Template* base[] = {
            &ipfix::flow_template(4, ipfix::TimePrecision::milliseconds)};
        t.add_templates(base);
        return Decoded(t.finish(1)).templates;
    }());
    ASSERT_EQ(d.records.size(), 1u);
    EXPECT_EQ(d.records[0].first, 256);
    EXPECT_TRUE(
        ipfix::metadata_templates(ipfix::TimePrecision::milliseconds, config::Records::biflow, 0)
            .empty());
}

TEST(CollectorSession, RecordsWithMetadataGoOutWithTheirFieldsAfterTheTemplatesAndTypes) {
    Listener sink(SOCK_DGRAM);
    CollectorSession s(metadata_collector(config::Transport::udp, sink.port), 42, 1);
    s.offer(units(300, 4));  // IPv4 and IPv6, every fourth with TLS metadata
    for (int i = 0; i < 10 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    const Received r(datagrams(sink.fd));
    EXPECT_EQ(r.flow_records, 300u);
    EXPECT_EQ(server_names(r), expected_names(300, 4))
        << "each record with its own metadata, the IP versions grouped apart";
    std::size_t types = 0;
    for (const Decoded& m : r.messages)
        for (const auto& [set, fields] : m.records)
            if (set == 269) {
                ++types;
                EXPECT_EQ(ipfix::value(fields.at({346, 0})), ipfix::kSluicePen);
            }
    EXPECT_EQ(types, std::size(ipfix::kOwnElements));
    // The type records before the templates that use their elements, in the messages' order.
    std::size_t last_type = 0, first_template = r.messages.size();
    for (std::size_t i = 0; i < r.messages.size(); ++i) {
        for (const auto& [set, fields] : r.messages[i].records)
            if (set == 269) last_type = i;
        if (first_template == r.messages.size() &&
            r.messages[i].templates.lower_bound(272) != r.messages[i].templates.end())
            first_template = i;
    }
    EXPECT_LE(last_type, first_template);
    const SessionCounters c = s.counters();
    EXPECT_EQ(c.records_sent, 300u) << "records, not their extensions";
    EXPECT_EQ(c.packets_sent, 900u);
}

TEST(CollectorSession, AUniflowCollectorGivesEachDirectionTheFlowsMetadata) {
    Listener sink(SOCK_DGRAM);
    config::Collector c = metadata_collector(config::Transport::udp, sink.port);
    c.records = config::Records::uniflow;
    CollectorSession s(c, 42, 1);
    s.offer(tls_unit(4));
    s.service(Steady::now(), kReliability);
    const Received r(datagrams(sink.fd));
    EXPECT_EQ(r.flow_records, 2u);
    std::size_t named = 0;
    for (const Decoded& m : r.messages)
        for (const auto& [set, fields] : m.records)
            if (is_flow_template(set))
                named += text(fields.at({294, ipfix::kCertPen})) == "host-4.example";
    EXPECT_EQ(named, 2u);
}

TEST(CollectorSession, AUniflowCollectorGivesTheRespondersRecordItsOwnTcpHealth) {
    Listener sink(SOCK_DGRAM);
    config::Collector c = metadata_collector(config::Transport::udp, sink.port);
    c.records = config::Records::uniflow;
    CollectorSession s(c, 42, 1);
    s.offer(health_unit(4, false));
    s.service(Steady::now(), kReliability);
    const Received r(datagrams(sink.fd));
    ASSERT_EQ(r.flow_records, 2u);
    std::map<std::uint64_t, std::uint64_t> retransmitted;  // by packets
    for (const Decoded& m : r.messages)
        for (const auto& [set, fields] : m.records) {
            if (!is_flow_template(set)) continue;
            EXPECT_EQ(
                fields.count({ipfix::ie::reverseTcpRetransmittedPackets.id, ipfix::kSluicePen}), 0u)
                << "a uniflow record has no reverse fields";
            retransmitted[ipfix::value(fields.at({2, 0}))] =
                own(fields, ipfix::ie::tcpRetransmittedPackets);
        }
    const FlowRecord f = record(4);
    EXPECT_EQ(retransmitted,
              (std::map<std::uint64_t, std::uint64_t>{{f.packets, 1}, {f.reverse_packets, 10}}));
}

// TCP health's fields are all of fixed length: records with it go out in batches of equal
// messages, as plain ones do, which the kernel cuts into datagrams; only a record with an
// application's strings (TLS) goes in a message apart. Every record arrives with its own fields.
TEST(CollectorSession, RecordsWithTcpHealthGoOutInBatchesAsPlainOnesDo) {
    Listener sink(SOCK_DGRAM);
    roomy_receive_buffer(sink.fd);
    const config::Collector c = metadata_collector(config::Transport::udp, sink.port);
    auto channel = std::make_unique<CountedChannel>(c);
    const auto sends = channel->sends;
    const auto batches = channel->batches;
    CollectorSession s(c, 42, 1, nullptr, std::move(channel));
    // Of 3000 (a third IPv6): every hundredth with TLS, the other even ones with TCP health.
    std::vector<FlowRecord> offered;
    for (unsigned i = 0; i < 3000; ++i) {
        const auto u = i % 100 == 0 ? tls_unit(i)
                       : i % 2 == 0 ? health_unit(i, false)
                                    : std::vector<FlowRecord>{record(i)};
        offered.insert(offered.end(), u.begin(), u.end());
    }
    s.offer(offered);
    for (int i = 0; i < 20 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    const auto raw = datagrams(sink.fd);
    const Received r(raw);  // checks the sequence numbers
    EXPECT_EQ(r.flow_records, 3000u);
    std::size_t health = 0, named = 0;
    for (const Decoded& m : r.messages)
        for (const auto& [set, fields] : m.records) {
            if (!is_flow_template(set)) continue;
            named += fields.count({294, ipfix::kCertPen});
            if (!fields.contains({ipfix::ie::tcpRetransmittedPackets.id, ipfix::kSluicePen}))
                continue;
            ++health;
            EXPECT_EQ(own(fields, ipfix::ie::tcpRetransmittedPackets), 1u);
            EXPECT_EQ(own(fields, ipfix::ie::reverseTcpRetransmittedPackets), 10u);
        }
    EXPECT_EQ(health, 1470u);
    EXPECT_EQ(named, 30u);
    EXPECT_EQ(s.counters().messages_sent, raw.size());
    // About 300 datagrams: the batches' (up to 44 messages each), one per TLS record, and the
    // templates'. Sent a message at a time, they would take about 320 calls.
    EXPECT_GT(raw.size(), 250u);
    EXPECT_LE(*sends, 40) << "the templates, statistics and types, and the TLS records";
    EXPECT_LE(*batches, 25);
}

// A unit that damage cut short (its record counts an extension more than follow it) just before
// the end of the ring's storage, where the unit after it is cut, is grouped with the others
// and sent: the session neither stalls on it nor loses a record.
TEST(CollectorSession, AUnitCutShortByDamageBeforeTheRingsEndIsSent) {
    Listener sink(SOCK_DGRAM);
    roomy_receive_buffer(sink.fd);
    config::Collector c = metadata_collector(config::Transport::udp, sink.port);
    c.buffer_size = 1 << 20;  // 8192 slots
    CollectorSession s(c, 42, 1);
    std::vector<FlowRecord> before;
    for (unsigned i = 1; before.size() < 8187; ++i)
        if (record(i).ip_version == 4) before.push_back(record(i));
    s.offer(before);  // the head then 5 slots before the storage's end
    for (int i = 0; i < 100 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
    ASSERT_TRUE(s.drained());
    auto raw = datagrams(sink.fd);
    MetadataWriter w;
    w.put_number(MetadataField::tcp_syn_to_synack_us, 250, 4);
    auto damaged = unit_of(record(2), group_bit(MetadataGroup::tcp_health), w);
    const auto whole = unit_of(record(4), group_bit(MetadataGroup::tcp_health), w);
    ASSERT_EQ(damaged.size(), 2u);
    ++damaged[0].extensions;
    // An IPv4 record, an IPv6 one (so the batch groups), the damaged unit, then one that wraps.
    std::vector<FlowRecord> after = {record(1),  record(3), damaged[0],
                                     damaged[1], whole[0],  whole[1]};
    s.offer(after);
    for (int i = 0; i < 10 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    for (auto& d : datagrams(sink.fd)) raw.push_back(std::move(d));
    EXPECT_EQ(Received(raw).flow_records, 8187u + 4u);
}

TEST(CollectorSession, ANetflow9CollectorGetsTheRecordsWithoutTheirMetadata) {
    Listener sink(SOCK_DGRAM);
    config::Collector c = metadata_collector(config::Transport::udp, sink.port);
    c.protocol = config::Protocol::netflow9;
    CollectorSession s(c, 42, 1);
    s.offer(units(30, 3));
    for (int i = 0; i < 10 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    const SessionCounters n = s.counters();
    EXPECT_EQ(n.records_sent, 60u) << "30 biflows, two directions each";
    EXPECT_EQ(n.records_not_sent, 0u);
}

TEST(CollectorSession, ABufferTooFullForARecordAndItsExtensionsCountsTheRecordOnce) {
    Listener sink(SOCK_DGRAM);
    config::Collector c = metadata_collector(config::Transport::udp, sink.port);
    c.buffer_size = 1 << 20;  // 8192 slots
    CollectorSession s(c, 42, 1);
    const auto unit = tls_unit(9000);
    ASSERT_GE(unit.size(), 2u);
    s.offer(records(static_cast<unsigned>(8192 - unit.size() + 1)));  // room for all but one
    s.offer(unit);
    const SessionCounters n = s.counters();
    EXPECT_EQ(n.records_not_sent, 1u);
    EXPECT_EQ(n.packets_not_sent, 3u);
}

struct Folder {
    std::string path;
    Folder() {
        char name[] = "/tmp/sluice-metadata-test.XXXXXX";
        path = mkdtemp(name);
    }
    ~Folder() { std::filesystem::remove_all(path); }
};

TEST(Spool, KeepsEachRecordWithItsExtensionsAndReadsWholeUnits) {
    Folder f;
    Spool s({.folder = f.path, .sensor = "edge-1", .collector = "siem"});
    const auto in = units(5000, 2);  // 7500 slots: blocks cut between units
    EXPECT_EQ(s.append(in).records, 0u);
    EXPECT_EQ(s.state().dropped.records, 0u);
    std::vector<FlowRecord> out, buf(7);
    for (std::size_t n; (n = s.read(buf)) != 0;) {
        EXPECT_FALSE(is_extension(buf[0])) << "a read begins with a record";
        EXPECT_EQ(whole_units({buf.data(), n}, n), n) << "and ends with its last extension";
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(n));
    }
    ASSERT_EQ(out.size(), in.size());
    EXPECT_TRUE(
        std::equal(in.begin(), in.end(), out.begin(), [](const FlowRecord& a, const FlowRecord& b) {
            return std::memcmp(&a, &b, sizeof(a)) == 0;
        }));
    EXPECT_EQ(s.state().records_replayed, 5000u) << "records, not slots";
}

TEST(RecordJson, CarriesTheMetadataFieldsUnderTheirNames) {
    const auto unit = tls_unit(4);
    std::array<std::uint8_t, kMaxMetadataBytes> bytes;
    const std::size_t n = gather_extensions({unit.data() + 1, unit.size() - 1}, bytes);
    const std::string json = to_json(unit[0], {bytes.data(), n});
    EXPECT_NE(json.find("\"tls_server_name\": \"host-4.example\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"tls_cipher\": 4865"), std::string::npos) << json;
    EXPECT_EQ(json.back(), '}');
}

}  // namespace
}  // namespace sluice::control
