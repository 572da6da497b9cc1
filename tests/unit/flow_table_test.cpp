// The flow table: biflows, every end reason, eviction, sweep bounds, and the accounting
// identity (packets in = packets in records + packets ignored) after every test.
#include "dataplane/meter/flow_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <random>

#include "dataplane/meter/parser.hpp"
#include "shared/records/record_json.hpp"
#include "tools/pktgen/packet.hpp"

namespace sluice::meter {
namespace {

using namespace sluice::pktgen;
constexpr std::uint64_t kUs = 1'000;
constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000'000'000;
constexpr std::uint64_t kT0 = 1'700'000'000 * kSec;
constexpr HashKey kHashKey{{1, 2, 3, 4, 5, 6, 7, 8}};

class Table : public ::testing::Test {
protected:
    void make(std::uint32_t max_flows, std::uint64_t idle = 15 * kSec,
              std::uint64_t active = 60 * kSec, std::uint64_t grace = 2 * kSec, bool health = false,
              Decapsulation decap = {}, bool headers = false) {
        const FlowTableConfig c{max_flows, idle, active, grace, health, decap, headers};
        memory_.reset(static_cast<Bucket*>(std::aligned_alloc(64, FlowTable::memory_size(c))));
        table_ = std::make_unique<FlowTable>(c, memory_.get(), kHashKey);
    }

    void SetUp() override { make(1024); }

    // Checks the accounting identity once every flow has been flushed.
    void TearDown() override {
        flush();
        const MeterCounters& c = table_->counters();
        std::uint64_t in_records = 0, octets_in_records = 0;
        for (const auto& r : records_) {
            if (is_extension(r)) continue;
            in_records += r.packets + r.reverse_packets;
            octets_in_records += r.octets + r.reverse_octets;
        }
        EXPECT_EQ(c.packets, c.metered_packets + c.ignored_total() + c.sampled_out_packets);
        EXPECT_EQ(c.metered_packets, in_records);
        EXPECT_EQ(c.metered_octets, octets_in_records);
        EXPECT_EQ(table_->active_flows(), 0u);
    }

    void send(const std::vector<std::pair<Packet, std::uint64_t>>& burst, std::uint16_t port = 3) {
        std::vector<std::vector<std::uint8_t>> frames;
        std::vector<PacketRef> refs;
        for (const auto& [p, t] : burst) frames.push_back(build(p));
        for (std::size_t i = 0; i < burst.size(); ++i)
            refs.push_back({frames[i].data(), static_cast<std::uint32_t>(frames[i].size()),
                            static_cast<std::uint32_t>(frames[i].size()), burst[i].second});
        table_->process(refs.data(), static_cast<unsigned>(refs.size()), port, out_);
        drain();
    }
    void send(const Packet& p, std::uint64_t t) { send({{p, t}}); }
    void send_frame(const std::vector<std::uint8_t>& frame, std::uint64_t t) {
        const PacketRef ref{frame.data(), static_cast<std::uint32_t>(frame.size()),
                            static_cast<std::uint32_t>(frame.size()), t};
        table_->process(&ref, 1, 3, out_);
        drain();
    }

    void expire(std::uint64_t t) {
        table_->expire(t, out_);
        drain();
    }

    // Calls expire every 10 ms from `from` to `to`, as a worker's loop would.
    void run_clock(std::uint64_t from, std::uint64_t to) {
        for (std::uint64_t t = from; t <= to; t += 10 * kMs) expire(t);
    }

    // Ends what is left; at time 0 no timeout has fallen, so every flow is forcedEnd.
    void flush(std::uint64_t now = 0) {
        while (!table_->flush(now, out_)) drain();
        drain();
    }

    void drain() {
        records_.insert(records_.end(), out_.records, out_.records + out_.count);
        out_.count = 0;
    }

    static Packet tcp(bool from_client, std::uint8_t flags, std::uint16_t payload = 0) {
        Packet p;
        p.src = ipv4(192, 0, 2, 200);  // the client has the higher address
        p.dst = ipv4(192, 0, 2, 10);
        p.protocol = kTcp;
        p.src_port = 51000;
        p.dst_port = 22;
        p.tcp_flags = flags;
        p.payload = payload;
        p.ttl = 64;
        if (!from_client) {
            std::swap(p.src, p.dst);
            std::swap(p.src_port, p.dst_port);
            p.ttl = 50;
        }
        return p;
    }

    static Packet udp(unsigned flow) {
        Packet p;
        p.src = ipv4(10, static_cast<std::uint8_t>(flow >> 16),
                     static_cast<std::uint8_t>(flow >> 8), static_cast<std::uint8_t>(flow));
        p.dst = ipv4(172, 16, 0, 1);
        p.protocol = kUdp;
        p.src_port = 1000;
        p.dst_port = 2000;
        return p;
    }

    static Packet udp6(std::uint16_t client, std::uint16_t server, std::uint16_t subnet = 0) {
        Packet p;
        p.ip_version = 6;
        p.src = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, client);
        p.dst = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, subnet, server);
        p.protocol = kUdp;
        p.src_port = 5353;
        p.dst_port = 53;
        p.payload = 20;
        return p;
    }
    // An ICMP packet of `type` (code 0) from 192.0.2.1 to 198.51.100.1.
    static Packet icmp(std::uint16_t type) {
        Packet p;
        p.src = ipv4(192, 0, 2, 1);
        p.dst = ipv4(198, 51, 100, 1);
        p.protocol = kIcmp;
        p.src_port = type;
        return p;
    }
    static Packet reply(Packet p) {
        std::swap(p.src, p.dst);
        std::swap(p.src_port, p.dst_port);
        return p;
    }

    // The records, without their extensions.
    std::vector<FlowRecord> records() const {
        std::vector<FlowRecord> out;
        for (const FlowRecord& r : records_)
            if (!is_extension(r)) out.push_back(r);
        return out;
    }

    // The metadata fields of the n-th record, by name; numbers only.
    std::map<std::string, std::uint64_t> fields(std::size_t n) const {
        std::map<std::string, std::uint64_t> out;
        for (std::size_t i = 0; i < records_.size(); ++i) {
            if (is_extension(records_[i]) || n-- != 0) continue;
            std::array<std::uint8_t, kMaxMetadataBytes> bytes;
            const std::size_t length = gather_extensions(
                std::span(records_).subspan(i + 1, records_[i].extensions), bytes);
            const std::span<const std::uint8_t> read(bytes.data(), length);
            MetadataReader reader(read);
            for (MetadataReader::Field f; reader.next(f);)
                out[std::string(f.info->name)] = f.number();
            return out;
        }
        ADD_FAILURE() << "no record " << n;
        return out;
    }

    // The n-th record as JSON, its metadata fields too.
    std::string json(std::size_t n) const {
        for (std::size_t i = 0; i < records_.size(); ++i) {
            if (is_extension(records_[i]) || n-- != 0) continue;
            std::array<std::uint8_t, kMaxMetadataBytes> bytes;
            const std::size_t length = gather_extensions(
                std::span(records_).subspan(i + 1, records_[i].extensions), bytes);
            return control::to_json(records_[i], {bytes.data(), length});
        }
        ADD_FAILURE() << "no record " << n;
        return {};
    }

    // A TCP segment of the client's (or the server's), its sequence number and window given.
    static Packet segment(bool from_client, std::uint8_t flags, std::uint32_t seq,
                          std::uint16_t payload = 0, std::uint16_t window = 65535) {
        Packet p = tcp(from_client, flags, payload);
        p.seq = seq;
        p.window = window;
        return p;
    }

    // SYN at kT0, SYN/ACK 300 us later, the ACK 120 us after that; the client's data from
    // sequence number 1001, the server's from 5001.
    void handshake() {
        send(segment(true, tcp::syn, 1000), kT0);
        send(segment(false, tcp::syn | tcp::ack, 5000), kT0 + 300 * kUs);
        send(segment(true, tcp::ack, 1001), kT0 + 420 * kUs);
    }

    // The flow in the table, for the tests that look inside: the only one there is.
    FlowHot& only_flow() {
        for (std::uint64_t b = 0; b < table_->capacity() / Bucket::kSlots; ++b)
            for (unsigned slot = 0; slot < Bucket::kSlots; ++slot)
                if (memory_.get()[b].tag[slot] != 0) return memory_.get()[b].hot[slot];
        ADD_FAILURE() << "the table is empty";
        return memory_.get()[0].hot[0];
    }

    struct Free {
        void operator()(Bucket* b) const { std::free(b); }
    };
    std::unique_ptr<Bucket, Free> memory_;
    std::unique_ptr<FlowTable> table_;
    RecordBuffer out_;
    std::vector<FlowRecord> records_;
};

TEST_F(Table, BothDirectionsMeetInOneRecordWithTheInitiatorAsSource) {
    send(tcp(true, tcp::syn), kT0);
    send(tcp(false, tcp::syn | tcp::ack), kT0 + 1 * kMs);
    send(tcp(true, tcp::ack, 100), kT0 + 2 * kMs);
    flush();
    ASSERT_EQ(records_.size(), 1u);
    const FlowRecord& r = records_[0];
    EXPECT_EQ(r.source_address[3], 200);
    EXPECT_EQ(r.destination_address[3], 10);
    EXPECT_EQ(r.source_port, 51000);
    EXPECT_EQ(r.destination_port, 22);
    EXPECT_EQ(r.protocol, kTcp);
    EXPECT_EQ(r.ip_version, 4);
    EXPECT_EQ(r.packets, 2u);
    EXPECT_EQ(r.octets, 40u + 140u);
    EXPECT_EQ(r.reverse_packets, 1u);
    EXPECT_EQ(r.reverse_octets, 40u);
    EXPECT_EQ(r.first_ns, kT0);
    EXPECT_EQ(r.last_ns, kT0 + 2 * kMs);
    EXPECT_EQ(r.reverse_first_ns, kT0 + 1 * kMs);
    EXPECT_EQ(r.reverse_last_ns, kT0 + 1 * kMs);
    EXPECT_EQ(r.tcp_flags, tcp::syn | tcp::ack);
    EXPECT_EQ(r.reverse_tcp_flags, tcp::syn | tcp::ack);
    EXPECT_EQ(r.minimum_ttl, 64);
    EXPECT_EQ(r.reverse_maximum_ttl, 50);
    EXPECT_EQ(r.ingress_port, 3);
    EXPECT_EQ(r.end_reason, FlowEndReason::forced_end);
    EXPECT_EQ(table_->counters().flows_created, 1u);
}

TEST_F(Table, Ipv6FlowsApartOnlyPastTheAddressesFirstBytesAreApartAndWhole) {
    // Every address here shares its first 4 bytes (2001:db8): the flows differ in the tails.
    send(udp6(1, 2), kT0);
    send(udp6(1, 3), kT0 + kMs);
    send(reply(udp6(1, 2)), kT0 + 2 * kMs);
    send(reply(udp6(1, 3)), kT0 + 3 * kMs);
    send(reply(udp6(1, 3)), kT0 + 4 * kMs);
    flush();
    ASSERT_EQ(records_.size(), 2u);
    std::sort(records_.begin(), records_.end(), [](const FlowRecord& a, const FlowRecord& b) {
        return a.destination_address[15] < b.destination_address[15];
    });
    for (unsigned i = 0; i < 2; ++i) {
        const FlowRecord& r = records_[i];
        const Packet sent = udp6(1, static_cast<std::uint16_t>(2 + i));
        EXPECT_EQ(std::to_array(r.source_address), sent.src);
        EXPECT_EQ(std::to_array(r.destination_address), sent.dst);
        EXPECT_EQ(r.ip_version, 6);
        EXPECT_EQ(r.source_port, 5353);
        EXPECT_EQ(r.destination_port, 53);
        EXPECT_EQ(r.packets, 1u);
        EXPECT_EQ(r.reverse_packets, 1u + i);
        EXPECT_EQ(r.octets, 40u + 8u + 20u);
    }
}

// The tag the table files a packet's flow under, as it derives it: bits 32-47 of the key's
// hash, never 0.
std::uint16_t tag_of(const Packet& p) {
    const auto frame = build(p);
    FragmentMap fragments(kHashKey);
    PacketInfo info{};
    TunnelInfo tunnel{};
    parse(frame.data(), static_cast<std::uint32_t>(frame.size()),
          static_cast<std::uint32_t>(frame.size()), LinkType::ethernet, 0, fragments, {}, info,
          tunnel);
    const auto tag = static_cast<std::uint16_t>(flow_hash(info.key, kHashKey) >> 32);
    return tag == 0 ? 1 : tag;
}

TEST_F(Table, Ipv6FlowsWhoseTagsCollideAreToldApartByTheirKeysTails) {
    make(16);  // two buckets: every flow has the same two candidates
    const Packet a = udp6(1, 2);
    Packet b = udp6(1, 3);
    for (std::uint32_t n = 4; tag_of(b) != tag_of(a); ++n) {
        ASSERT_LT(n, 1u << 22) << "no colliding tag found";
        b = udp6(1, static_cast<std::uint16_t>(n), static_cast<std::uint16_t>(n >> 16));
    }
    send(a, kT0);
    send(b, kT0 + kMs);
    send(reply(b), kT0 + 2 * kMs);
    flush();
    ASSERT_EQ(records_.size(), 2u);
    for (const FlowRecord& r : records_) {
        const bool is_b = std::to_array(r.destination_address) == b.dst;
        EXPECT_EQ(std::to_array(r.destination_address), is_b ? b.dst : a.dst);
        EXPECT_EQ(r.packets, 1u);
        EXPECT_EQ(r.reverse_packets, is_b ? 1u : 0u);
    }
}

TEST_F(Table, AnIpv4RecordsAddressesEndInZeros) {
    send(udp(7), kT0);
    flush();
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(std::to_array(records_[0].source_address), ipv4(10, 0, 0, 7));
    EXPECT_EQ(std::to_array(records_[0].destination_address), ipv4(172, 16, 0, 1));
}

// The same conversation in VNI 100 and VNI 200, both directions in 100 (the other VTEP's
// entropy port), as VXLAN frames.
std::vector<std::vector<std::uint8_t>> two_tenants() {
    Packet p;
    p.src = ipv4(10, 0, 0, 1);
    p.dst = ipv4(10, 0, 0, 2);
    p.src_port = 5000;
    p.dst_port = 53;
    p.payload = 20;
    Tunnel t;
    t.id = 100;
    std::vector<std::vector<std::uint8_t>> out;
    out.push_back(encapsulate(build(p), t));
    t.id = 200;
    out.push_back(encapsulate(build(p), t));
    t.id = 100;
    std::swap(t.src, t.dst);
    t.source_port = 60000;
    std::swap(p.src, p.dst);
    std::swap(p.src_port, p.dst_port);
    out.push_back(encapsulate(build(p), t));
    return out;
}

TEST_F(Table, TenantsWithTheSameAddressesInTwoVnisStayApartAndMeterTheInnerOctets) {
    make(1024, 15 * kSec, 60 * kSec, 2 * kSec, false, decapsulation(kAllTunnels, kAllTunnels));
    const auto frames = two_tenants();
    for (std::size_t i = 0; i < frames.size(); ++i) send_frame(frames[i], kT0 + i * kMs);
    flush();
    auto r = records();
    ASSERT_EQ(r.size(), 2u);
    const std::size_t both = r[0].reverse_packets == 1 ? 0 : 1;
    EXPECT_EQ(r[both].packets, 1u);
    EXPECT_EQ(r[both].reverse_packets, 1u);
    EXPECT_EQ(r[both].octets, 20u + 8 + 20);  // the inner packet's
    EXPECT_EQ(std::to_array(r[both].source_address), ipv4(10, 0, 0, 1));
    EXPECT_EQ(r[both].destination_port, 53);
    EXPECT_EQ(r[both].metadata_groups, group_bit(MetadataGroup::tunnel));
    EXPECT_EQ(fields(both).at("tunnel_id"), 100u);
    EXPECT_EQ(r[1 - both].packets, 1u);
    EXPECT_EQ(r[1 - both].reverse_packets, 0u);
    EXPECT_EQ(fields(1 - both).at("tunnel_id"), 200u);
}

TEST_F(Table, ATunneledFlowsRecordCarriesItsTunnelAsItsFirstPacketShowedIt) {
    make(1024, 15 * kSec, 60 * kSec, 2 * kSec, false, decapsulation(kAllTunnels, kAllTunnels));
    const auto frames = two_tenants();
    // 10.0.0.2's packet through the VTEP 192.0.2.2 first: it is the initiator, and the tunnel's
    // endpoint on its side the record's tunnel source.
    send_frame(frames[2], kT0);
    send_frame(frames[0], kT0 + kMs);
    flush();
    ASSERT_EQ(records_.size(), 2u) << "a record and its extension";
    std::array<std::uint8_t, kMaxMetadataBytes> bytes;
    const std::size_t n = gather_extensions(std::span(records_).subspan(1), bytes);
    const std::string json = control::to_json(records_[0], {bytes.data(), n});
    EXPECT_NE(json.find("\"tunnel_technology\": \"vxlan\", \"tunnel_id\": 100, "
                        "\"tunnel_source\": \"192.0.2.2\", \"tunnel_destination\": \"192.0.2.1\""),
              std::string::npos)
        << json;
    EXPECT_EQ(json.find("erspan_session"), std::string::npos) << "no ERSPAN session mirrored it";
}

TEST_F(Table, TenantsMeetWhenTheirTunnelDoesNotKeyFlows) {
    make(1024, 15 * kSec, 60 * kSec, 2 * kSec, false, decapsulation(kAllTunnels, 0));
    const auto frames = two_tenants();
    for (std::size_t i = 0; i < frames.size(); ++i) send_frame(frames[i], kT0 + i * kMs);
    flush();
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].packets, 2u);
    EXPECT_EQ(r[0].reverse_packets, 1u);
}

TEST_F(Table, APacketIgnoredInsideATunnelCountsItsOuterIpOctets) {
    make(1024, 15 * kSec, 60 * kSec, 2 * kSec, false, decapsulation(kAllTunnels, kAllTunnels));
    auto arp = build(udp(1));
    arp[12] = 0x08, arp[13] = 0x06;
    const auto frame = encapsulate(arp, Tunnel{});
    send_frame(frame, kT0);
    const MeterCounters& c = table_->counters();
    EXPECT_EQ(c.ignored_packets[static_cast<unsigned>(IgnoreReason::non_ip)], 1u);
    EXPECT_EQ(c.ignored_ip_octets, frame.size() - 14);
}

TEST_F(Table, ASpansSecondCopyIsIgnoredAsDuplicateWithItsIpOctets) {
    std::unique_ptr<void, decltype(&std::free)> memory(
        std::aligned_alloc(64, Deduplicator::memory_size(100 * kUs)), &std::free);
    std::memset(memory.get(), 0, Deduplicator::memory_size(100 * kUs));
    Deduplicator dedup(100 * kUs, memory.get(), kHashKey);
    table_->deduplicate(&dedup);
    const auto frame = build(udp(1));
    send({{udp(1), kT0}, {udp(1), kT0 + 5 * kUs}, {udp(2), kT0 + 6 * kUs}});
    send_frame(frame, kT0 + 90 * kUs);   // a third copy
    send_frame(frame, kT0 + 300 * kUs);  // beyond the window: a packet of its own
    auto arp = frame;
    arp[12] = 0x08, arp[13] = 0x06;
    send_frame(arp, kT0 + 400 * kUs);
    send_frame(arp, kT0 + 401 * kUs);
    const MeterCounters& c = table_->counters();
    EXPECT_EQ(c.ignored_packets[static_cast<unsigned>(IgnoreReason::duplicate)], 2u);
    EXPECT_EQ(c.ignored_octets[static_cast<unsigned>(IgnoreReason::duplicate)], 2 * frame.size());
    // A frame the parser ignores is not compared: each ARP copy is non_ip, as its original.
    EXPECT_EQ(c.ignored_packets[static_cast<unsigned>(IgnoreReason::non_ip)], 2u);
    EXPECT_EQ(c.ignored_ip_octets, 2 * (frame.size() - 14));
    flush();
    const auto r = records();
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].packets + r[1].packets, 3u);
}

// The metadata fields of a JSON record from the first header field on.
std::string header_fields(const std::string& json) {
    const auto at = json.find(", \"source_mac\"");
    return at == std::string::npos ? json : json.substr(at + 2);
}

TEST_F(Table, EachDirectionsFirstPacketGivesTheRecordItsHeaderFieldsTheResponderAsReverse) {
    make(1024, 15 * kSec, 60 * kSec, 2 * kSec, false, {}, true);
    Packet client = tcp(true, tcp::syn);
    client.src_mac = {0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x01};
    client.dst_mac = {0x00, 0x1b, 0x21, 0xcc, 0xdd, 0x02};
    client.tos = 0x2a;  // DSCP AF11 (10), ECN 2
    client.vlans = {10, 20};
    client.outer_tag_type = 0x88a8;
    client.mpls_labels = 2;
    Packet server = tcp(false, tcp::syn | tcp::ack);
    server.src_mac = {0x00, 0x1b, 0x21, 0xcc, 0xdd, 0x03};  // another router's on the way back
    server.dst_mac = {0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x01};
    server.tos = 0xb8;  // EF
    server.vlans = {10, 30};
    server.outer_tag_type = 0x88a8;
    Packet later = client;
    later.tos = 0;
    later.tcp_flags = tcp::ack;
    send(client, kT0);
    send(server, kT0 + kMs);
    send(later, kT0 + 2 * kMs);
    flush();
    ASSERT_EQ(records().size(), 1u);
    EXPECT_EQ(records()[0].metadata_groups, group_bit(MetadataGroup::headers));
    // The top label stack entry's first 3 bytes: label 100, traffic class 0, not the bottom.
    EXPECT_EQ(header_fields(json(0)),
              "\"source_mac\": \"00:1b:21:aa:bb:01\", \"destination_mac\": \"00:1b:21:cc:dd:02\", "
              "\"class_of_service\": 42, \"customer_vlan\": 20, \"mpls_top_label\": 1600, "
              "\"reverse_source_mac\": \"00:1b:21:cc:dd:03\", "
              "\"reverse_destination_mac\": \"00:1b:21:aa:bb:01\", "
              "\"reverse_class_of_service\": 184, \"reverse_customer_vlan\": 30}");
}

TEST_F(Table, AnIcmpRecordSaysEachDirectionsOwnTypeWhereTheKeySaysTheRequests) {
    make(1024, 15 * kSec, 60 * kSec, 2 * kSec, false, {}, true);
    const Packet request = icmp(8);  // echo request
    Packet reply = icmp(0);          // echo reply
    std::swap(reply.src, reply.dst);
    Packet backscatter = reply;
    backscatter.dst = ipv4(192, 0, 2, 99);  // replies to what the sensor never saw asked
    send(request, kT0);
    send(reply, kT0 + kMs);
    send(backscatter, kT0 + 2 * kMs);
    flush();
    const auto r = records();
    ASSERT_EQ(r.size(), 2u);
    const std::size_t ping = r[0].reverse_packets == 1 ? 0 : 1;
    EXPECT_EQ(r[ping].destination_port, 8 * 256);
    EXPECT_EQ(fields(ping).at("icmp_type_code"), 8u * 256);
    EXPECT_EQ(fields(ping).at("reverse_icmp_type_code"), 0u);
    EXPECT_EQ(r[1 - ping].destination_port, 8 * 256) << "the key's request type";
    EXPECT_EQ(fields(1 - ping).at("icmp_type_code"), 0u) << "what was sent: echo replies";
}

TEST_F(Table, AnIpv6RecordCarriesEachDirectionsFlowLabelAndTrafficClass) {
    make(1024, 15 * kSec, 60 * kSec, 2 * kSec, false, {}, true);
    Packet query = udp6(1, 2);
    query.flow_label = 0x12345;
    query.tos = 0x20;
    Packet answer = reply(query);
    answer.flow_label = 0xfedcb;
    answer.tos = 0;
    send(query, kT0);
    send(answer, kT0 + kMs);
    flush();
    const auto f = fields(0);
    EXPECT_EQ(f.at("flow_label"), 0x12345u);
    EXPECT_EQ(f.at("class_of_service"), 0x20u);
    EXPECT_EQ(f.at("reverse_flow_label"), 0xfedcbu);
    EXPECT_EQ(f.at("reverse_class_of_service"), 0u);
    EXPECT_EQ(f.count("customer_vlan") + f.count("mpls_top_label") + f.count("icmp_type_code"), 0u)
        << "no inner tag, no labels, not ICMP";
}

TEST_F(Table, EachRecordOfALongFlowTakesItsOwnFirstPacketsHeaders) {
    make(1024, 15 * kSec, 1 * kSec, 2 * kSec, false, {}, true);
    Packet p = udp(1);
    p.tos = 0x10;
    send(p, kT0);
    p.tos = 0x48;
    send(p, kT0 + 500 * kMs);
    send(p, kT0 + 1500 * kMs);  // after the active timeout: the second record's first packet
    flush();
    ASSERT_EQ(records().size(), 2u);
    EXPECT_EQ(fields(0).at("class_of_service"), 0x10u);
    EXPECT_EQ(fields(1).at("class_of_service"), 0x48u);
    EXPECT_EQ(fields(0).count("reverse_class_of_service"), 0u) << "the responder sent nothing";
}

TEST_F(Table, ATunneledFlowsHeaderFieldsAreTheInnerFramesOrNoneForAnInnerPacket) {
    make(1024, 15 * kSec, 60 * kSec, 2 * kSec, false, decapsulation(kAllTunnels, kAllTunnels),
         true);
    Packet p = udp(1);
    p.tos = 0x88;
    p.src_mac = {0x02, 0xaa, 0, 0, 0, 0x01};
    Tunnel vxlan_tunnel;
    vxlan_tunnel.id = 100;
    send_frame(encapsulate(build(p), vxlan_tunnel), kT0);  // VXLAN: an Ethernet frame inside
    Tunnel gtp;
    gtp.kind = Tunnel::Kind::gtpu;
    gtp.id = 7;
    send_frame(encapsulate(build(udp(2)), gtp), kT0 + kMs);  // GTP-U: an IP packet inside
    flush();
    const auto r = records();
    ASSERT_EQ(r.size(), 2u);
    const std::size_t vxlan = fields(0).at("tunnel_id") == 100 ? 0 : 1;
    EXPECT_NE(json(vxlan).find("\"source_mac\": \"02:aa:00:00:00:01\", "
                               "\"destination_mac\": \"02:00:00:00:00:02\", "
                               "\"class_of_service\": 136"),
              std::string::npos)
        << json(vxlan);
    EXPECT_EQ(json(1 - vxlan).find("source_mac"), std::string::npos) << json(1 - vxlan);
    EXPECT_EQ(fields(1 - vxlan).at("class_of_service"), 0u);
}

TEST_F(Table, DeterministicSamplingMetersTheFirstOfEachIntervalAndCountsTheRestSampledOut) {
    table_->sample(10, true, 1);
    std::uint64_t ip_octets = 0;
    for (unsigned i = 0; i < 95; ++i) {
        Packet p = udp(i);  // packet i: flow i, so the flows metered say which were
        p.payload = static_cast<std::uint16_t>(i);
        send(p, kT0 + i * kUs);
        ip_octets += 20 + 8 + i;
    }
    const MeterCounters& c = table_->counters();
    EXPECT_EQ(c.metered_packets, 10u);
    EXPECT_EQ(c.sampled_out_packets, 85u);
    EXPECT_EQ(c.metered_octets + c.sampled_out_ip_octets, ip_octets);
    EXPECT_EQ(c.sampled_out_octets, ip_octets - c.metered_octets + 85 * 14);
    flush();
    std::vector<unsigned> metered;
    for (const FlowRecord& r : records()) metered.push_back(r.source_address[3]);
    std::sort(metered.begin(), metered.end());
    EXPECT_EQ(metered, (std::vector<unsigned>{0, 10, 20, 30, 40, 50, 60, 70, 80, 90}));
}

TEST_F(Table, RandomSamplingMetersOneAtAPlaceDrawnInEachIntervalUniformly) {
    constexpr unsigned kInterval = 10, kIntervals = 10'000;
    table_->sample(kInterval, false, 12345);
    std::array<unsigned, kInterval> places{};
    std::uint64_t before = 0;
    for (unsigned block = 0; block < kIntervals; ++block) {
        for (unsigned i = 0; i < kInterval; ++i) {
            send(udp(i), kT0 + (block * kInterval + i) * kUs);
            const std::uint64_t metered = table_->counters().metered_packets;
            if (metered != before) ++places[i];
            before = metered;
        }
        ASSERT_EQ(before, block + 1u) << "exactly one packet of each interval";
    }
    // 1000 expected at each place, a standard deviation of 30: 5 of them either way.
    for (unsigned i = 0; i < kInterval; ++i)
        EXPECT_NEAR(places[i], kIntervals / kInterval, 150) << "place " << i;
    EXPECT_EQ(table_->counters().sampled_out_packets, kIntervals * (kInterval - 1));
}

TEST_F(Table, SamplingLeavesIgnoredPacketsToTheirReason) {
    table_->sample(2, true, 1);
    auto arp = build(udp(1));
    arp[12] = 0x08, arp[13] = 0x06;
    for (unsigned i = 0; i < 6; ++i) {
        send_frame(arp, kT0 + 2 * i * kUs);
        send(udp(i), kT0 + (2 * i + 1) * kUs);
    }
    const MeterCounters& c = table_->counters();
    EXPECT_EQ(c.ignored_packets[static_cast<unsigned>(IgnoreReason::non_ip)], 6u);
    EXPECT_EQ(c.metered_packets, 3u) << "one in two of the 6 it would meter";
    EXPECT_EQ(c.sampled_out_packets, 3u);
}

TEST_F(Table, TheTopLabelStackEntryKeepsItsTrafficClassAndACookedCaptureHasNoMacs) {
    make(1024, 15 * kSec, 60 * kSec, 2 * kSec, false, {}, true);
    Packet labelled = udp(1);
    labelled.mpls_labels = 1;
    auto frame = build(labelled);
    frame[16] |= 5 << 1;  // traffic class 5
    send_frame(frame, kT0);
    Packet tagged = udp(2);
    tagged.vlans = {10, 20};
    tagged.outer_tag_type = 0x88a8;
    const auto cooked = reframe(build(tagged), 113);  // Linux cooked (SLL): no MACs
    const PacketRef ref{cooked.data(), static_cast<std::uint32_t>(cooked.size()),
                        static_cast<std::uint32_t>(cooked.size()), kT0 + kMs};
    table_->process(&ref, 1, 3, out_, LinkType::linux_sll);
    drain();
    flush();
    const auto r = records();
    ASSERT_EQ(r.size(), 2u);
    const std::size_t mpls = r[0].vlan_id == 0 ? 0 : 1;
    EXPECT_EQ(fields(mpls).at("mpls_top_label"), 100u << 4 | 5u << 1 | 1u);
    EXPECT_EQ(r[1 - mpls].vlan_id, 10);
    EXPECT_EQ(fields(1 - mpls).at("customer_vlan"), 20u);
    EXPECT_EQ(json(1 - mpls).find("source_mac"), std::string::npos) << json(1 - mpls);
}

TEST_F(Table, ALaterIcmpFragmentFirstInItsRecordSaysItsKeysTypeNotAnotherPacketsType) {
    make(1024, 15 * kSec, 1 * kSec, 2 * kSec, false, {}, true);
    const Packet request = icmp(8);
    Packet reply = icmp(0);
    std::swap(reply.src, reply.dst);
    reply.payload = 1000;
    reply.fragmented = true;
    reply.fragment = {0, true, 77};
    Packet rest = reply;
    rest.fragment.offset = 126;
    rest.fragment.more = false;
    Packet other = udp(9);  // a packet between, whose parse leaves its own state behind
    send(request, kT0);
    send(reply, kT0 + 100 * kMs);
    send(other, kT0 + 1100 * kMs);
    // After the active timeout: the reply's later fragment is its direction's first packet of
    // the flow's second record.
    send({{other, kT0 + 1200 * kMs}, {rest, kT0 + 1200 * kMs}});
    flush();
    std::vector<std::map<std::string, std::uint64_t>> icmp;
    const auto r = records();
    for (std::size_t i = 0; i < r.size(); ++i)
        if (r[i].protocol == kIcmp) icmp.push_back(fields(i));
    ASSERT_EQ(icmp.size(), 2u);
    EXPECT_EQ(icmp[0].at("reverse_icmp_type_code"), 0u) << "the first fragment's own: a reply";
    EXPECT_EQ(icmp[1].count("icmp_type_code"), 0u) << "the requester sent nothing more";
    EXPECT_EQ(icmp[1].at("reverse_icmp_type_code"), 8u * 256) << "no ICMP header: the key's";
}

TEST(FlowTableMemory, HeadersTakeALineAFlow) {
    EXPECT_EQ(FlowTable::memory_size(1024, false, false, true) - FlowTable::memory_size(1024),
              1024u * 64);
    EXPECT_EQ(
        FlowTable::memory_size(1024, true, true, true) - FlowTable::memory_size(1024, true, true),
        1024u * 64);
}

TEST(FlowTableMemory, TunnelsTakeALineAFlow) {
    EXPECT_EQ(FlowTable::memory_size(1024, false, true) - FlowTable::memory_size(1024), 1024u * 64);
    EXPECT_EQ(FlowTable::memory_size(1024, true, true) - FlowTable::memory_size(1024, true),
              1024u * 64);
}

TEST_F(Table, APacketCountBeyond32BitsCarriesIntoTheRecord) {
    send(tcp(true, tcp::ack), kT0);
    // The client is endpoint 1 of the key (the higher address): its count is 2^32 - 1.
    only_flow().packets[1] = 0xffffffffu;
    send(tcp(true, tcp::ack), kT0 + kMs);
    send(tcp(true, tcp::ack), kT0 + 2 * kMs);
    send(tcp(false, tcp::ack), kT0 + 3 * kMs);
    flush();
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].packets, (std::uint64_t{1} << 32) + 1);
    EXPECT_EQ(records_[0].reverse_packets, 1u);
    // The counters saw 4 packets, not 2^32 + 2: the identity holds for a table left alone.
    records_.clear();
    make(1024);
}

TEST_F(Table, TheSynSenderIsTheInitiatorEvenWhenTheServerSpokeFirst) {
    send(tcp(false, tcp::ack, 10), kT0);  // a server packet creates the flow
    send(tcp(true, tcp::syn), kT0 + kMs);
    flush();
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].source_port, 51000);
    EXPECT_EQ(records_[0].packets, 1u);
    EXPECT_EQ(records_[0].reverse_packets, 1u);
}

TEST_F(Table, WithoutASynTheCreatorIsTheInitiator) {
    send(tcp(false, tcp::syn | tcp::ack), kT0);
    send(tcp(true, tcp::ack), kT0 + kMs);
    flush();
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].source_port, 22);
    EXPECT_EQ(records_[0].first_ns, kT0);
    EXPECT_EQ(records_[0].biflow_direction, 0) << "a TCP flow without its SYN: arbitrary";
}

TEST_F(Table, EveryRecordOfATcpFlowWhoseSynWasSeenNamesItsInitiator) {
    make(1024, 15 * kSec, 1 * kSec);
    send(tcp(true, tcp::syn), kT0);
    send(tcp(false, tcp::syn | tcp::ack), kT0 + kMs);
    for (std::uint64_t t = 100 * kMs; t < 3500 * kMs; t += 100 * kMs) {
        send(tcp(t % (200 * kMs) == 0, tcp::ack, 10), kT0 + t);
        expire(kT0 + t + kMs);
    }
    flush();
    ASSERT_GE(records_.size(), 3u) << "active timeouts cut the flow";
    for (const FlowRecord& r : records_) {
        EXPECT_EQ(r.biflow_direction, 1) << "biflowDirection initiator in every record";
        EXPECT_EQ(r.source_port, 51000);
    }
    EXPECT_EQ(records_.back().tcp_flags & tcp::syn, 0) << "the SYN is in the first record only";
}

TEST_F(Table, ARecordOfAFlowOtherThanTcpNamesItsFirstSenderTheInitiator) {
    send(udp(1), kT0);
    flush();
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].biflow_direction, 1);
}

TEST_F(Table, IdleTimeoutEndsAFlowWithinASweepPeriod) {
    send(udp(1), kT0);
    send(udp(1), kT0 + kSec);
    run_clock(kT0 + kSec, kT0 + kSec + 15 * kSec - kMs);
    EXPECT_TRUE(records_.empty());
    run_clock(kT0 + 16 * kSec, kT0 + 16 * kSec + table_->sweep_period_ns());
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].end_reason, FlowEndReason::idle_timeout);
    EXPECT_EQ(records_[0].packets, 2u);
    EXPECT_EQ(records_[0].last_ns, kT0 + kSec);
    EXPECT_EQ(table_->counters().flows_ended[1], 1u);
}

TEST_F(Table, APacketAfterTheIdleTimeoutStartsANewFlowEvenBeforeTheSweep) {
    send(udp(1), kT0);
    send(udp(1), kT0 + 20 * kSec);
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].end_reason, FlowEndReason::idle_timeout);
    EXPECT_EQ(records_[0].packets, 1u);
    flush();
    ASSERT_EQ(records_.size(), 2u);
    EXPECT_EQ(records_[1].first_ns, kT0 + 20 * kSec);
    EXPECT_EQ(table_->counters().flows_created, 2u);
}

TEST_F(Table, ALongFlowUnderAShortActiveTimeoutBecomesRecordsWhoseSumsAreTheWhole) {
    make(1024, 15 * kSec, 1 * kSec);
    std::uint64_t sent = 0, octets = 0;
    for (std::uint64_t t = 0; t < 10 * kSec; t += 100 * kMs) {
        Packet p = tcp(t % (200 * kMs) == 0, tcp::ack, 100);
        send(p, kT0 + t);
        expire(kT0 + t + kMs);
        ++sent;
        octets += 140;
    }
    flush();
    ASSERT_GE(records_.size(), 9u);
    std::uint64_t packets = 0, bytes = 0;
    for (std::size_t i = 0; i < records_.size(); ++i) {
        const FlowRecord& r = records_[i];
        packets += r.packets + r.reverse_packets;
        bytes += r.octets + r.reverse_octets;
        EXPECT_EQ(r.end_reason, i + 1 == records_.size() ? FlowEndReason::forced_end
                                                         : FlowEndReason::active_timeout);
        EXPECT_EQ(r.source_port, 51000) << "the initiator stays the initiator";
        if (i > 0) {
            EXPECT_GT(std::min(r.first_ns, r.reverse_first_ns), records_[i - 1].last_ns);
        }
    }
    EXPECT_EQ(packets, sent);
    EXPECT_EQ(bytes, octets);
    EXPECT_EQ(table_->counters().flows_created, 1u);
}

TEST_F(Table, TcpEndWaitsForTheGraceSoTheLastAckLandsInTheRecord) {
    send(tcp(true, tcp::syn), kT0);
    send(tcp(false, tcp::syn | tcp::ack), kT0 + kMs);
    send(tcp(true, tcp::fin | tcp::ack), kT0 + 2 * kMs);
    send(tcp(false, tcp::fin | tcp::ack), kT0 + 3 * kMs);
    run_clock(kT0 + 3 * kMs, kT0 + 500 * kMs);
    send(tcp(true, tcp::ack), kT0 + 500 * kMs);  // the last ACK
    run_clock(kT0 + 500 * kMs, kT0 + 2 * kSec + 400 * kMs);
    EXPECT_TRUE(records_.empty());
    run_clock(kT0 + 2500 * kMs, kT0 + 2500 * kMs + table_->sweep_period_ns());
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].end_reason, FlowEndReason::end_of_flow);
    EXPECT_EQ(records_[0].packets, 3u);
    EXPECT_EQ(records_[0].reverse_packets, 2u);
    EXPECT_EQ(records_[0].tcp_flags, tcp::syn | tcp::fin | tcp::ack);
}

TEST_F(Table, RstEndsTheFlowAfterTheGrace) {
    send(tcp(true, tcp::syn), kT0);
    send(tcp(false, tcp::rst | tcp::ack), kT0 + kMs);
    run_clock(kT0 + kMs, kT0 + 2 * kSec);  // within the grace
    EXPECT_TRUE(records_.empty());
    // A record leaves at most one sweep period after its end.
    run_clock(kT0 + 2 * kSec + kMs, kT0 + 2 * kSec + kMs + table_->sweep_period_ns());
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].end_reason, FlowEndReason::end_of_flow);
    EXPECT_EQ(records_[0].reverse_tcp_flags, tcp::rst | tcp::ack);
}

TEST_F(Table, ANewConnectionAfterTheEndIsANewFlow) {
    send(tcp(true, tcp::syn), kT0);
    send(tcp(false, tcp::rst), kT0 + kMs);
    send(tcp(true, tcp::syn), kT0 + 3 * kSec);  // after the grace, before any sweep
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].end_reason, FlowEndReason::end_of_flow);
    flush();
    ASSERT_EQ(records_.size(), 2u);
    EXPECT_EQ(records_[1].packets, 1u);
    EXPECT_EQ(records_[1].reverse_packets, 0u);
}

TEST_F(Table, FlushEndsEveryFlowAsForcedEnd) {
    for (unsigned f = 0; f < 500; ++f) send(udp(f), kT0 + f);
    flush();
    ASSERT_EQ(records_.size(), 500u);
    for (const auto& r : records_) EXPECT_EQ(r.end_reason, FlowEndReason::forced_end);
    EXPECT_EQ(table_->counters().flows_ended[4], 500u);
}

TEST_F(Table, AFlushGivesAFlowWhoseTimeoutFellItsReason) {
    send(udp(1), kT0);
    send(tcp(true, tcp::syn), kT0 + kSec);
    send(tcp(false, tcp::rst), kT0 + kSec + kMs);
    send(udp(2), kT0 + 14 * kSec);
    flush(kT0 + 16 * kSec);  // no sweep ran: the flush finds the timeouts
    ASSERT_EQ(records_.size(), 3u);
    std::map<std::uint16_t, FlowEndReason> reasons;
    for (const auto& r : records_) reasons[r.source_address[3]] = r.end_reason;
    EXPECT_EQ(reasons[1], FlowEndReason::idle_timeout);
    EXPECT_EQ(reasons[200], FlowEndReason::end_of_flow);
    EXPECT_EQ(reasons[2], FlowEndReason::forced_end);
}

TEST_F(Table, TheTimeoutThatFellFirstIsTheReasonHoweverLateTheSweep) {
    make(1024, 10 * kSec, 5 * kSec);
    send(udp(1), kT0);
    send(udp(1), kT0 + 4 * kSec);  // active timeout at 5 s, idle at 14 s
    expire(kT0 + 4 * kSec);
    for (unsigned i = 0; i < 4; ++i) expire(kT0 + 60 * kSec + i);  // long after both
    flush();
    ASSERT_FALSE(records_.empty());
    EXPECT_EQ(records_[0].end_reason, FlowEndReason::active_timeout);
    EXPECT_EQ(records_[0].packets, 2u);
}

TEST_F(Table, EvictsTheLeastRecentlySeenWhenBothBucketsAreFull) {
    make(16);  // two buckets: every flow's candidates are all 16 slots
    ASSERT_EQ(table_->capacity(), 16u);
    for (unsigned f = 0; f < 16; ++f) send(udp(f), kT0 + f * 10 * kMs);
    send(udp(0), kT0 + 200 * kMs);  // flow 0 is now the most recent
    EXPECT_TRUE(records_.empty());
    send(udp(16), kT0 + 300 * kMs);
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].end_reason, FlowEndReason::lack_of_resources);
    EXPECT_EQ(records_[0].source_address[3], 1);  // flow 1: seen least recently
    EXPECT_EQ(table_->counters().evictions, 1u);
    EXPECT_EQ(table_->active_flows(), 16u);
}

TEST_F(Table, AFloodOfNewFlowsEvictsAndCountsEveryOne) {
    for (unsigned f = 0; f < 5000; ++f) send(udp(f), kT0 + f * kMs);
    const MeterCounters& c = table_->counters();
    EXPECT_EQ(c.flows_created, 5000u);
    EXPECT_LE(table_->active_flows(), table_->capacity());
    EXPECT_EQ(c.evictions, 5000u - table_->active_flows());
    EXPECT_EQ(records_.size(), c.evictions);
}

TEST_F(Table, FragmentsOfOneDatagramCountInOneFlow) {
    Packet first = udp(1);
    first.fragmented = true;
    first.fragment = {0, true, 9};
    first.payload = 1472;
    Packet later = first;
    later.fragment = {185, false, 9};
    later.payload = 100;
    send({{first, kT0}, {later, kT0 + 1}});
    flush();
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].packets, 2u);
    EXPECT_EQ(records_[0].octets, 20u + 8 + 1472 + 20 + 100);
    EXPECT_EQ(table_->counters().fragments_matched, 1u);
}

TEST_F(Table, IgnoredPacketsAreCountedByReason) {
    Packet p = udp(1);
    auto frame = build(p);
    frame[12] = 0x08;
    frame[13] = 0x06;
    const PacketRef refs[2] = {{frame.data(), 13, 13, kT0}, {frame.data(), 60, 60, kT0}};
    table_->process(refs, 2, 0, out_);
    const MeterCounters& c = table_->counters();
    EXPECT_EQ(c.ignored_packets[static_cast<unsigned>(IgnoreReason::truncated_l2)], 1u);
    EXPECT_EQ(c.ignored_packets[static_cast<unsigned>(IgnoreReason::non_ip)], 1u);
    EXPECT_EQ(c.ignored_octets[static_cast<unsigned>(IgnoreReason::non_ip)], 60u);
    EXPECT_EQ(c.ignored_ip_octets, 0u) << "neither had an IP header";
    EXPECT_EQ(c.metered_packets, 0u);
    // An IP packet whose total length is beyond its frame: its IP octets are the frame's from
    // the IP header on, as the wire carried them.
    auto broken = build(p);
    broken[16] = 0x05, broken[17] = 0xdc;
    const PacketRef cut{broken.data(), static_cast<std::uint32_t>(broken.size()), 200, kT0};
    table_->process(&cut, 1, 0, out_);
    EXPECT_EQ(c.ignored_packets[static_cast<unsigned>(IgnoreReason::bad_total_length)], 1u);
    EXPECT_EQ(c.ignored_ip_octets, 200u - 14);
}

TEST_F(Table, ABurstWithTwoPacketsOfOneNewFlowCreatesItOnce) {
    send({{udp(7), kT0}, {udp(7), kT0 + 1}, {udp(8), kT0 + 2}, {udp(7), kT0 + 3}});
    EXPECT_EQ(table_->counters().flows_created, 2u);
    flush();
    ASSERT_EQ(records_.size(), 2u);
}

TEST_F(Table, TheSweepDoesBoundedWorkPerCall) {
    make(1 << 16);
    for (unsigned f = 0; f < 20000; ++f) send(udp(f), kT0);
    expire(kT0 + 1);
    expire(kT0 + 3600 * kSec);  // an hour later: every flow is idle
    EXPECT_LE(records_.size(), FlowTable::kMaxSweepBuckets * Bucket::kSlots);
    EXPECT_GT(records_.size(), 0u);
    for (int i = 0; i < 2000; ++i) expire(kT0 + 3600 * kSec + 1 + static_cast<unsigned>(i));
    EXPECT_EQ(records_.size(), 20000u);
}

// The pipeline reorders memory accesses, never outcomes: a mix of new, repeated and evicted
// flows in full bursts gives the same records as the same packets one at a time.
TEST(FlowTableBursts, MeterExactlyAsSinglePacketsDo) {
    const HashKey key{{11, 12, 13, 14, 15, 16, 17, 18}};
    auto run = [&](unsigned burst) {
        std::unique_ptr<Bucket, void (*)(void*)> memory(
            static_cast<Bucket*>(std::aligned_alloc(64, FlowTable::memory_size(64))), std::free);
        FlowTable table(FlowTableConfig{64, 15 * kSec, 60 * kSec, 2 * kSec}, memory.get(), key);
        std::vector<std::vector<std::uint8_t>> frames;
        std::mt19937 rng(5);
        for (unsigned i = 0; i < 4096; ++i) {
            Packet p;
            p.src = ipv4(10, 0, 0, static_cast<std::uint8_t>(rng() % 100));
            p.dst = ipv4(10, 0, 1, static_cast<std::uint8_t>(rng() % 3));
            p.protocol = kUdp;
            p.src_port = static_cast<std::uint16_t>(rng() % 4);
            p.dst_port = 53;
            if (rng() % 2) std::swap(p.src, p.dst), std::swap(p.src_port, p.dst_port);
            frames.push_back(build(p));
        }
        std::vector<FlowRecord> records;
        auto out = std::make_unique<RecordBuffer>();
        for (std::size_t i = 0; i < frames.size(); i += burst) {
            std::vector<PacketRef> refs;
            for (std::size_t j = i; j < i + burst && j < frames.size(); ++j)
                refs.push_back({frames[j].data(), static_cast<std::uint32_t>(frames[j].size()),
                                static_cast<std::uint32_t>(frames[j].size()), kT0 + j * kMs});
            table.process(refs.data(), static_cast<unsigned>(refs.size()), 0, *out);
            records.insert(records.end(), out->records, out->records + out->count);
            out->count = 0;
        }
        while (!table.flush(0, *out)) {
            records.insert(records.end(), out->records, out->records + out->count);
            out->count = 0;
        }
        records.insert(records.end(), out->records, out->records + out->count);
        EXPECT_GT(table.counters().evictions, 0u);
        return records;
    };
    const auto single = run(1);
    const auto bursts = run(kMaxBurst);
    ASSERT_EQ(single.size(), bursts.size());
    for (std::size_t i = 0; i < single.size(); ++i)
        EXPECT_EQ(std::memcmp(&single[i], &bursts[i], sizeof(FlowRecord)), 0) << "record " << i;
}

// sluice pcap's reader parses each packet to choose its thread, and hands the table what it
// found: the table then meters exactly as if it had parsed the packets itself (fragments
// matched by the reader's map, tunnels, ICMP, IPv6, ignored frames), records and counters.
TEST(FlowTableBursts, MeterPacketsParsedBeforeExactlyAsTheyMeterTheirOwn) {
    const HashKey key{{21, 22, 23, 24, 25, 26, 27, 28}};
    const Decapsulation decap = decapsulation(config::Flow{});
    std::vector<std::vector<std::uint8_t>> frames;
    std::mt19937 rng(9);
    for (unsigned i = 0; i < 3000; ++i) {
        Packet p;
        const unsigned kind = rng() % 6;
        p.ip_version = kind == 4 ? 6 : 4;
        p.src = p.ip_version == 4 ? ipv4(10, 0, 0, static_cast<std::uint8_t>(rng() % 50))
                                  : ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, rng() % 50);
        p.dst = p.ip_version == 4 ? ipv4(10, 0, 1, static_cast<std::uint8_t>(rng() % 4))
                                  : ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 1, rng() % 4);
        p.protocol = kind == 1 ? kTcp : kind == 2 ? kIcmp : kUdp;
        p.src_port = static_cast<std::uint16_t>(p.protocol == kIcmp ? 8 : 1000 + rng() % 8);
        p.dst_port = static_cast<std::uint16_t>(p.protocol == kIcmp ? 0 : 53);
        p.tcp_flags = p.protocol == kTcp ? 0x10 : 0;
        p.payload = static_cast<std::uint16_t>(rng() % 200);
        if (kind == 3) {  // a datagram in two fragments, the later one first every other time
            p.fragmented = true;
            p.payload = 64;
            p.fragment = {0, true, i};
            Packet later = p;
            later.fragment = {4, false, i};
            if (i % 2) frames.push_back(build(later));
            frames.push_back(build(p));
            if (i % 2 == 0) frames.push_back(build(later));
            continue;
        }
        if (rng() % 2) std::swap(p.src, p.dst), std::swap(p.src_port, p.dst_port);
        std::vector<std::uint8_t> frame = build(p);
        if (kind == 5)
            frame = pktgen::encapsulate(
                frame, pktgen::Tunnel{.kind = pktgen::Tunnel::Kind::vxlan, .id = 7 + i % 3});
        if (rng() % 97 == 0) frame.resize(20);  // cut: ignored
        frames.push_back(std::move(frame));
    }
    struct Run {
        std::vector<FlowRecord> records;
        MeterCounters counters;
    };
    auto run = [&](bool parsed_before) {
        const FlowTableConfig c{256, 15 * kSec, 60 * kSec, 2 * kSec, true, decap, true};
        std::unique_ptr<Bucket, void (*)(void*)> memory(
            static_cast<Bucket*>(std::aligned_alloc(64, FlowTable::memory_size(c))), std::free);
        FlowTable table(c, memory.get(), key);
        FragmentMap fragments(key);
        Run r;
        auto out = std::make_unique<RecordBuffer>();
        for (std::size_t i = 0; i < frames.size(); i += kMaxBurst) {
            std::vector<PacketRef> refs;
            std::vector<Parsed> parsed;
            for (std::size_t j = i; j < i + kMaxBurst && j < frames.size(); ++j) {
                refs.push_back({frames[j].data(), static_cast<std::uint32_t>(frames[j].size()),
                                static_cast<std::uint32_t>(frames[j].size()), kT0 + j * kMs});
                Parsed& q = parsed.emplace_back();
                q.result = parse(refs.back().data, refs.back().length, refs.back().frame_length,
                                 LinkType::ethernet, refs.back().time_ns, fragments, decap, q.info,
                                 q.tunnel);
            }
            const auto n = static_cast<unsigned>(refs.size());
            if (parsed_before)
                table.process(refs.data(), parsed.data(), n, 0, *out);
            else
                table.process(refs.data(), n, 0, *out);
            r.records.insert(r.records.end(), out->records, out->records + out->count);
            out->count = 0;
        }
        while (!table.flush(0, *out)) {
            r.records.insert(r.records.end(), out->records, out->records + out->count);
            out->count = 0;
        }
        r.records.insert(r.records.end(), out->records, out->records + out->count);
        r.counters = table.counters();
        return r;
    };
    const Run own = run(false);
    const Run before = run(true);
    EXPECT_GT(own.counters.fragments_matched, 100u);
    EXPECT_GT(own.counters.ignored_total(), 0u);
    EXPECT_EQ(std::memcmp(&own.counters, &before.counters, sizeof(MeterCounters)), 0);
    ASSERT_EQ(own.records.size(), before.records.size());
    for (std::size_t i = 0; i < own.records.size(); ++i)
        EXPECT_EQ(std::memcmp(&own.records[i], &before.records[i], sizeof(FlowRecord)), 0)
            << "record " << i;
}

TEST(FlowTableMemory, IsOneHundredAndTwentyEightBytesPerFlowIndexIncluded) {
    EXPECT_EQ(FlowTable::memory_size(1 << 20), std::size_t{128} << 20);
    EXPECT_EQ(FlowTable::memory_size(1000), 125u * 1024);
}

TEST(FlowTableMemory, TcpHealthAddsSixtyFourBytesPerFlow) {
    EXPECT_EQ(FlowTable::memory_size(1 << 20, true), std::size_t{192} << 20);
    EXPECT_EQ(FlowTable::memory_size(1000, true), 125u * 1024 + 1000u * 64);
}

// TCP health: what each direction's segments say, by the sensor's definitions (docs/export.md).
class Health : public Table {
protected:
    void SetUp() override { make(1024, 15 * kSec, 60 * kSec, 2 * kSec, true); }
};

TEST_F(Health, TheHandshakeSplitsAtTheSynAckAndEachDirectionsLargestGapIsKept) {
    handshake();
    send(segment(true, tcp::psh | tcp::ack, 1001, 100), kT0 + 2000 * kUs);
    send(segment(false, tcp::psh | tcp::ack, 5001, 300), kT0 + 2500 * kUs);
    flush();
    ASSERT_EQ(records().size(), 1u);
    EXPECT_EQ(records()[0].metadata_groups, group_bit(MetadataGroup::tcp_health));
    const std::map<std::string, std::uint64_t> expected{
        {"tcp_syn_to_synack_us", 300},
        {"tcp_synack_to_ack_us", 120},
        {"tcp_retransmitted_packets", 0},
        {"tcp_retransmitted_octets", 0},
        {"tcp_out_of_order", 0},
        {"tcp_zero_windows", 0},
        {"tcp_largest_gap_us", 1580},
        {"reverse_tcp_retransmitted_packets", 0},
        {"reverse_tcp_retransmitted_octets", 0},
        {"reverse_tcp_out_of_order", 0},
        {"reverse_tcp_zero_windows", 0},
        {"reverse_tcp_largest_gap_us", 2200},
    };
    EXPECT_EQ(fields(0), expected);
}

TEST_F(Health, ASegmentResentAfterTheRoundTripIsARetransmissionWithItsOctets) {
    handshake();
    send(segment(true, tcp::ack, 1001, 100), kT0 + 1 * kMs);
    send(segment(true, tcp::ack, 1101, 100), kT0 + 1 * kMs + 10 * kUs);
    send(segment(true, tcp::ack, 1001, 100), kT0 + 201 * kMs);  // after a 200 ms timeout
    flush();
    const auto f = fields(0);
    EXPECT_EQ(f.at("tcp_retransmitted_packets"), 1u);
    EXPECT_EQ(f.at("tcp_retransmitted_octets"), 140u) << "IP octets, as octetDeltaCount";
    EXPECT_EQ(f.at("tcp_out_of_order"), 0u);
    EXPECT_EQ(f.at("reverse_tcp_retransmitted_packets"), 0u);
}

TEST_F(Health, ASegmentOvertakenWithinTheRoundTripIsOutOfOrderNotResent) {
    handshake();
    send(segment(true, tcp::ack, 1101, 100), kT0 + 1 * kMs);  // the second segment first
    send(segment(true, tcp::ack, 1001, 100), kT0 + 1 * kMs + 50 * kUs);
    send(segment(true, tcp::ack, 1201, 100), kT0 + 1 * kMs + 60 * kUs);
    flush();
    const auto f = fields(0);
    EXPECT_EQ(f.at("tcp_out_of_order"), 1u);
    EXPECT_EQ(f.at("tcp_retransmitted_packets"), 0u);
}

TEST_F(Health, TheSameLateSegmentPastTheRoundTripIsARetransmission) {
    handshake();
    send(segment(true, tcp::ack, 1101, 100), kT0 + 1 * kMs);
    send(segment(true, tcp::ack, 1001, 100), kT0 + 1 * kMs + 500 * kUs);  // iRTT is 420 us
    flush();
    EXPECT_EQ(fields(0).at("tcp_retransmitted_packets"), 1u);
    EXPECT_EQ(fields(0).at("tcp_out_of_order"), 0u);
}

TEST_F(Health, SegmentsResentTogetherAfterATimeoutAreAllRetransmissions) {
    handshake();
    for (std::uint32_t k = 0; k < 3; ++k)
        send(segment(true, tcp::ack, 1001 + 100 * k, 100), kT0 + 1 * kMs + k * 10 * kUs);
    for (std::uint32_t k = 0; k < 3; ++k)  // go-back-N: each close after the one before
        send(segment(true, tcp::ack, 1001 + 100 * k, 100), kT0 + 300 * kMs + k * 10 * kUs);
    flush();
    EXPECT_EQ(fields(0).at("tcp_retransmitted_packets"), 3u);
    EXPECT_EQ(fields(0).at("tcp_retransmitted_octets"), 3u * 140);
    EXPECT_EQ(fields(0).at("tcp_out_of_order"), 0u);
}

TEST_F(Health, KeepAlivesAndPureAcksAreNeitherResentNorOutOfOrder) {
    handshake();
    send(segment(true, tcp::ack, 1001, 100), kT0 + 1 * kMs);
    send(segment(true, tcp::ack, 1100, 1), kT0 + 5 * kSec);   // keep-alive: next - 1, one byte
    send(segment(true, tcp::ack, 1100, 0), kT0 + 10 * kSec);  // keep-alive without the byte
    send(segment(true, tcp::ack, 1101, 0), kT0 + 11 * kSec);
    flush();
    EXPECT_EQ(fields(0).at("tcp_retransmitted_packets"), 0u);
    EXPECT_EQ(fields(0).at("tcp_out_of_order"), 0u);
    EXPECT_EQ(fields(0).at("tcp_largest_gap_us"), 5'000'000u);
}

TEST_F(Health, ZeroWindowsAreCountedByTheDirectionThatAdvertisesThemNotOnResets) {
    handshake();
    send(segment(false, tcp::ack, 5001, 0, 0), kT0 + 1 * kMs);
    send(segment(false, tcp::ack, 5001, 0, 0), kT0 + 2 * kMs);
    send(segment(false, tcp::ack, 5001, 0, 512), kT0 + 3 * kMs);
    send(segment(true, tcp::rst, 1001, 0, 0), kT0 + 4 * kMs);
    flush();
    EXPECT_EQ(fields(0).at("reverse_tcp_zero_windows"), 2u);
    EXPECT_EQ(fields(0).at("tcp_zero_windows"), 0u);
}

TEST_F(Health, SequenceNumbersThatWrapAreNotRetransmissions) {
    send(segment(true, tcp::syn, 0xffffff00), kT0);
    send(segment(false, tcp::syn | tcp::ack, 7), kT0 + 100 * kUs);
    send(segment(true, tcp::ack, 0xffffff01, 200), kT0 + 200 * kUs);
    send(segment(true, tcp::ack, 0xffffff01 + 200, 200), kT0 + 300 * kUs);  // past 2^32
    send(segment(true, tcp::ack, 0xffffff01, 200), kT0 + 900 * kMs);        // before it
    flush();
    EXPECT_EQ(fields(0).at("tcp_retransmitted_packets"), 1u);
    EXPECT_EQ(fields(0).at("tcp_out_of_order"), 0u);
}

TEST_F(Health, AFlowJoinedMidwayHasNoHandshakeTimesAndStartsFromItsFirstSegment) {
    send(segment(false, tcp::ack, 9000, 500), kT0);
    send(segment(false, tcp::ack, 9500, 500), kT0 + 1 * kMs);
    flush();
    const auto f = fields(0);
    EXPECT_EQ(f.count("tcp_syn_to_synack_us"), 0u);
    EXPECT_EQ(f.count("tcp_synack_to_ack_us"), 0u);
    EXPECT_EQ(f.at("tcp_retransmitted_packets"), 0u);
    EXPECT_EQ(f.at("tcp_largest_gap_us"), 1000u) << "the creator is the source";
}

TEST_F(Health, EachRecordCountsItsOwnWhileTheSequenceAndHandshakeGoOn) {
    make(1024, 15 * kSec, 1 * kSec, 2 * kSec, true);
    handshake();
    send(segment(true, tcp::ack, 1001, 100), kT0 + 10 * kMs);
    send(segment(true, tcp::ack, 1001, 100), kT0 + 500 * kMs);  // resent, first record
    expire(kT0 + 1100 * kMs);                                   // the active timeout
    send(segment(true, tcp::ack, 1101, 100), kT0 + 1200 * kMs);
    send(segment(true, tcp::ack, 1101, 100), kT0 + 1500 * kMs);  // resent, second record
    send(segment(true, tcp::ack, 1101, 100), kT0 + 1800 * kMs);  // and again
    flush();
    ASSERT_EQ(records().size(), 2u);
    EXPECT_EQ(fields(0).at("tcp_retransmitted_packets"), 1u);
    EXPECT_EQ(fields(0).at("tcp_syn_to_synack_us"), 300u);
    EXPECT_EQ(fields(1).at("tcp_retransmitted_packets"), 2u);
    EXPECT_EQ(fields(1).count("tcp_syn_to_synack_us"), 0u) << "the handshake is the first's";
    EXPECT_EQ(fields(1).at("tcp_largest_gap_us"), 300'000u);
}

TEST_F(Health, FlowsOtherThanTcpCarryNoHealth) {
    send(udp(1), kT0);
    send(reply(udp(1)), kT0 + kMs);
    flush();
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].extensions, 0u);
    EXPECT_EQ(records_[0].metadata_groups, 0u);
}

}  // namespace
TEST_F(Table, ScanFindsTheLargestFlowsAShareAtATimeWithoutChangingThem) {
    // Flow i carries i packets of the same size: the largest are the last ones.
    for (unsigned i = 1; i <= 100; ++i)
        for (unsigned k = 0; k < i; ++k) send(udp(i), kT0 + k);
    LargestFlows top;
    unsigned calls = 1;
    while (!table_->scan_largest(16, top)) ++calls;
    EXPECT_EQ(calls, 1024 / Bucket::kSlots / 16) << "16 of the 128 buckets per call";
    top.sort();
    ASSERT_EQ(top.count, LargestFlows::kFlows);
    for (unsigned j = 0; j < top.count; ++j) {
        EXPECT_EQ(top.flows[j].packets, 100u - j);
        EXPECT_EQ(static_cast<unsigned>(top.flows[j].end_reason), 0u) << "still active";
    }
    EXPECT_EQ(table_->active_flows(), 100u);
    EXPECT_TRUE(records_.empty());
}

namespace {

// The table asks identification through its interface only: a plain function given here,
// called for the first payload packets of each direction until it names the application.
struct Scans {
    unsigned calls = 0;
    unsigned from_client = 0;
    std::uint32_t answer_on_call = 0;  // the call that names application 7
};

std::uint32_t count_and_answer(const void* context, const Payload& p) {
    auto& s = *static_cast<Scans*>(const_cast<void*>(context));
    ++s.calls;
    if (p.from_client) ++s.from_client;
    return s.calls == s.answer_on_call ? 7 : 0;
}

TEST_F(Table, IdentificationIsAskedForTheFirstPayloadsOfEachDirectionWithinItsBudget) {
    Scans scans;
    table_->identify_applications({count_and_answer, &scans, 512, 2});
    for (int i = 0; i < 4; ++i) {
        send(tcp(true, tcp::ack, 100), kT0 + i * kMs);
        send(tcp(false, tcp::ack, 100), kT0 + i * kMs);
    }
    flush();
    EXPECT_EQ(scans.calls, 4u) << "two payload packets of each direction";
    EXPECT_EQ(scans.from_client, 2u);
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].application_id, 0u);
    EXPECT_EQ(table_->counters().application_scans, 4u);
    EXPECT_EQ(table_->counters().flows_identified, 0u);
}

TEST_F(Table, AFlowOnceIdentifiedIsNotScannedAgainAndItsRecordCarriesTheApplication) {
    Scans scans;
    scans.answer_on_call = 2;
    table_->identify_applications({count_and_answer, &scans, 512, 4});
    for (int i = 0; i < 4; ++i) send(tcp(true, tcp::ack, 100), kT0 + i * kMs);
    flush();
    EXPECT_EQ(scans.calls, 2u);
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(records_[0].application_id, 7u);
    EXPECT_EQ(table_->counters().flows_identified, 1u);
}

}  // namespace
}  // namespace sluice::meter
