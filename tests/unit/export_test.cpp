// Collector sessions over real loopback sockets and files: what a collector receives, decoded.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "control/export/exporter.hpp"
#include "control/export/session.hpp"
#include "tests/unit/collectors.hpp"
#include "tests/unit/ipfix_decode.hpp"
#include "tests/unit/netflow_decode.hpp"

namespace sluice::control {
namespace {

using namespace std::chrono_literals;
using ipfix::Decoded;
using namespace collector_test;
namespace fs = std::filesystem;

TEST(CollectorSession, UdpSendsTemplatesFirstThenEveryRecordInSequence) {
    Listener sink(SOCK_DGRAM);
    CollectorSession s(collector(config::Transport::udp, sink.port), 42, 1, nullptr, nullptr,
                       "sensor-a");
    s.offer(records(100));
    s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    const auto raw = datagrams(sink.fd);
    ASSERT_GE(raw.size(), 2u);
    for (const auto& m : raw) EXPECT_LE(m.size(), 1472u) << "mtu 1500 less IPv4 and UDP";
    const Received r(raw);
    EXPECT_EQ(r.messages[0].templates.size(), 5u)
        << "IPv4, IPv6, two statistics and the domain's name";
    EXPECT_EQ(r.messages[0].scope_fields.size(), 3u);
    EXPECT_EQ(r.messages[0].domain, 42u);
    EXPECT_EQ(r.flow_records, 100u);
    EXPECT_EQ(r.statistics_records, 2u);
    EXPECT_EQ(r.other_records, 1u);
    // The domain's name, then the metering statistics: what was received, metered and ignored,
    // from the dataplane's start to when the totals were read.
    const auto& name = r.messages[0].records[0];
    EXPECT_EQ(name.first, 263);
    EXPECT_EQ(ipfix::value(name.second.at({149, 0})), 42u);
    EXPECT_EQ(std::string(name.second.at({300, 0}).begin(), name.second.at({300, 0}).end()),
              "sensor-a");
    EXPECT_EQ(r.messages[0].ordered[1],
              (std::vector<std::uint64_t>{42, 1000, 90000, 80000, 7, 500, 700, 1'700'000'000'000,
                                          1'700'000'060'000}));
    EXPECT_EQ(r.messages[0].ordered[2],
              (std::vector<std::uint64_t>{1, 2, 20, 2000, 1'700'000'000'000, 1'700'000'060'000}))
        << "the exporting statistics: the dataplane's not sent and this collector's (none)";
    const SessionCounters c = s.counters();
    EXPECT_EQ(c.records_sent, 100u);
    EXPECT_EQ(c.packets_sent, 300u);
    EXPECT_EQ(c.records_not_sent, 0u);
    EXPECT_EQ(c.messages_sent, raw.size());
}

// The ids of the templates of each options template set of a message, set by set.
std::vector<std::vector<std::uint16_t>> options_template_sets(std::span<const std::uint8_t> m) {
    const auto get16 = [&](std::size_t at) {
        return static_cast<std::uint16_t>(m[at] << 8 | m[at + 1]);
    };
    std::vector<std::vector<std::uint16_t>> out;
    for (std::size_t at = 16; at + 4 <= m.size(); at += get16(at + 2)) {
        if (get16(at) != 3) continue;
        out.emplace_back();
        for (std::size_t p = at + 4; p + 6 <= at + get16(at + 2);) {
            out.back().push_back(get16(p));
            const std::uint16_t fields = get16(p + 2);
            p += 6;
            for (unsigned f = 0; f < fields; ++f) p += (get16(p) & 0x8000) ? 8 : 4;
        }
    }
    return out;
}

TEST(CollectorSession, ASampledSensorSaysItsSelectorInAnOptionsTemplateSetOfItsOwn) {
    for (const bool deterministic : {false, true}) {
        Listener sink(SOCK_DGRAM);
        CollectorSession s(collector(config::Transport::udp, sink.port), 42, 1, nullptr, nullptr,
                           "sensor-a");
        Reliability r = kReliability;
        r.sampling = 10;
        r.sampling_deterministic = deterministic;
        r.sampling_observed = 1000;
        r.sampling_selected = 100;
        s.offer(records(10));
        s.service(Steady::now(), r);
        const auto raw = datagrams(sink.fd);
        ASSERT_GE(raw.size(), 1u);
        const std::uint16_t id = deterministic ? 270 : 271;
        // nfdump 1.7 reads the first options template of a set only.
        EXPECT_EQ(options_template_sets(raw[0]).back(), std::vector<std::uint16_t>{id});
        const Received got(raw);
        const auto& records = got.messages[0].records;
        const auto at = std::find_if(records.begin(), records.end(),
                                     [&](const auto& x) { return x.first == id; });
        ASSERT_NE(at, records.end());
        const auto& values =
            got.messages[0].ordered[static_cast<std::size_t>(at - records.begin())];
        // observationDomainId, selectorAlgorithm, samplingInterval, then the algorithm's
        // parameters, then the packets observed and selected.
        EXPECT_EQ(values, deterministic
                              ? (std::vector<std::uint64_t>{42, 1, 10, 1, 9, 1000, 100})
                              : (std::vector<std::uint64_t>{42, 3, 10, 1, 10, 1, 9, 1000, 100}));
    }
}

TEST(CollectorSession, AnUnsampledSensorSendsNoSelector) {
    Listener sink(SOCK_DGRAM);
    CollectorSession s(collector(config::Transport::udp, sink.port), 42, 1, nullptr, nullptr, "a");
    s.offer(records(10));
    s.service(Steady::now(), kReliability);
    const Received got(datagrams(sink.fd));
    for (const Decoded& m : got.messages) {
        EXPECT_FALSE(m.templates.contains(270) || m.templates.contains(271));
        for (const auto& [set, fields] : m.records) EXPECT_TRUE(set != 270 && set != 271);
    }
}

TEST(CollectorSession, AUniflowCollectorGetsARecordPerDirectionAndTheSamePackets) {
    Listener sink(SOCK_DGRAM);
    config::Collector c = collector(config::Transport::udp, sink.port);
    c.records = config::Records::uniflow;
    CollectorSession s(c, 42, 1);
    auto biflows = records(100);
    biflows[0].reverse_packets = biflows[0].reverse_octets = 0;  // a direction that sent nothing
    s.offer(biflows);
    s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    const Received r(datagrams(sink.fd));
    EXPECT_EQ(r.flow_records, 199u);
    EXPECT_TRUE(r.messages[0].templates.contains(264));
    EXPECT_TRUE(r.messages[0].templates.contains(265));
    EXPECT_FALSE(r.messages[0].templates.contains(256));
    const SessionCounters n = s.counters();
    EXPECT_EQ(n.records_sent, 199u);
    EXPECT_EQ(n.packets_sent, 100u * 2 + 99u * 1) << "every packet, in one record or the other";
}

// A NetFlow v9 packet takes records within 2^31 ms of each other only: a record a month older
// than the rest ends the first packet short. The batch ends with it; the full packets go in
// the next one, every datagram one whole packet.
TEST(CollectorSession, ANetflow9PacketCutShortByTimeEndsItsBatch) {
    Listener sink(SOCK_DGRAM);
    roomy_receive_buffer(sink.fd);
    config::Collector c = collector(config::Transport::udp, sink.port);
    c.protocol = config::Protocol::netflow9;
    CollectorSession s(c, 42, 1);
    auto offered = timed_records(600);
    for (FlowRecord& r : offered) r.ip_version = 4;
    constexpr std::uint64_t kMonthNs = 30ull * 24 * 3600 * 1'000'000'000;
    for (std::uint64_t* t : {&offered[0].first_ns, &offered[0].last_ns,
                             &offered[0].reverse_first_ns, &offered[0].reverse_last_ns})
        *t -= kMonthNs;
    s.offer(offered);
    for (int i = 0; i < 10 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    const auto raw = datagrams(sink.fd);
    std::map<std::uint16_t, netflow::V9Template> known;
    std::size_t flows = 0;
    std::uint32_t sequence = 0;
    for (const auto& d : raw) {
        const netflow::V9Packet p(d, known);
        EXPECT_EQ(p.sequence, sequence++);
        for (const auto& r : p.records) flows += r.set == netflow::kV9Ipv4Template;
    }
    EXPECT_EQ(flows, 1200u) << "one record per direction";
    EXPECT_EQ(s.counters().messages_sent, raw.size());
}

TEST(CollectorSession, ANetflow9CollectorGetsUniflowRecordsInASequenceOfPackets) {
    Listener sink(SOCK_DGRAM);
    config::Collector c = collector(config::Transport::udp, sink.port);
    c.protocol = config::Protocol::netflow9;
    CollectorSession s(c, 42, 1);
    s.offer(timed_records(100));
    s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    const auto raw = datagrams(sink.fd);
    std::map<std::uint16_t, netflow::V9Template> known;
    std::size_t flows = 0, packets = 0;
    std::uint32_t sequence = 0;
    for (const auto& d : raw) {
        EXPECT_LE(d.size(), 1472u);
        const netflow::V9Packet p(d, known);
        EXPECT_EQ(p.sequence, sequence++) << "RFC 3954: export packets sent before";
        EXPECT_EQ(p.source_id, 42u);
        for (const auto& r : p.records) {
            if (r.set == netflow::kV9Ipv4Template || r.set == netflow::kV9Ipv6Template) {
                ++flows;
                packets += r.value(2);
            }
        }
    }
    EXPECT_EQ(flows, 200u) << "one record per direction";
    EXPECT_EQ(packets, 300u);
    netflow::V9Packet first(raw[0], known);
    ASSERT_GE(first.records.size(), 2u);
    EXPECT_EQ(first.records[0].set, netflow::kV9StatisticsTemplate);
    EXPECT_EQ(first.records[0].value(86), 1000u) << "packets received";
    EXPECT_EQ(first.records[0].value(166), 2u) << "the dataplane's records not sent";
    EXPECT_EQ(s.counters().messages_sent, raw.size());
}

TEST(CollectorSession, ANetflow5CollectorCountsIpv6AsNotSentUnderAReasonOfItsOwn) {
    Listener sink(SOCK_DGRAM);
    config::Collector c = collector(config::Transport::udp, sink.port);
    c.protocol = config::Protocol::netflow5;
    CollectorSession s(c, 42, 1);
    s.offer(timed_records(99));  // a third IPv6
    s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    std::uint32_t sequence = 0;
    std::size_t flows = 0;
    for (const auto& d : datagrams(sink.fd)) {
        const netflow::V5Packet p(d);
        EXPECT_EQ(p.sequence, sequence) << "flow_sequence: records sent before";
        sequence += p.count;
        flows += p.records.size();
        EXPECT_EQ(p.engine_id, 42u);
    }
    EXPECT_EQ(flows, 132u) << "both directions of the 66 IPv4 biflows, and no options record";
    const SessionCounters n = s.counters();
    EXPECT_EQ(n.records_sent, 132u);
    EXPECT_EQ(n.records_not_sent, 66u);
    EXPECT_EQ(n.ipv6_records_not_sent, 66u);
    EXPECT_EQ(n.ipv6_packets_not_sent, 99u);
    EXPECT_EQ(n.packets_sent + n.packets_not_sent, 99u * 3);
    EXPECT_EQ(n.statistics_records_sent, 0u);
    s.offer(timed_records(1));  // IPv6 only: nothing to buffer
    EXPECT_EQ(s.counters().ipv6_records_not_sent, 68u);
    EXPECT_EQ(s.counters().records_buffered, 0u);
}

TEST(CollectorSession, PortsAreNamedAndRecordsCarryTheirIfIndex) {
    Listener sink(SOCK_DGRAM);
    auto ports = std::make_shared<std::vector<Interface>>(
        std::vector<Interface>{{0, 436207616, "span-a", "0000:3b:00.0"}, {1, 1, "span-b", "x"}});
    CollectorSession s(collector(config::Transport::udp, sink.port), 42, 1, nullptr, nullptr,
                       "sensor-a", ports);
    s.offer(records(10));  // ingress port 0
    s.service(Steady::now(), kReliability);
    const Received r(datagrams(sink.fd));
    EXPECT_TRUE(r.messages[0].templates.contains(268));
    std::vector<std::string> names;
    std::size_t flows = 0;
    for (const auto& m : r.messages)
        for (const auto& [set, fields] : m.records) {
            if (set == 268) {
                names.emplace_back(fields.at({82, 0}).begin(), fields.at({82, 0}).end());
                if (names.size() == 1) {
                    EXPECT_EQ(ipfix::value(fields.at({10, 0})), 436207616u);
                }
            } else if (set == 256 || set == 257) {
                ++flows;
                EXPECT_EQ(ipfix::value(fields.at({10, 0})), 436207616u);
            }
        }
    EXPECT_EQ(names, (std::vector<std::string>{"span-a", "span-b"}));
    EXPECT_EQ(flows, 10u);
}

TEST(CollectorSession, UdpRefreshesTemplatesAndStatisticsOnTime) {
    Listener sink(SOCK_DGRAM);
    auto c = collector(config::Transport::udp, sink.port);
    c.template_refresh = 30s;
    c.statistics_interval = 10s;
    CollectorSession s(c, 1, 1);
    const auto t0 = Steady::now();
    s.service(t0, kReliability);
    s.service(t0 + 5s, kReliability);
    auto raw = datagrams(sink.fd);
    ASSERT_EQ(raw.size(), 1u) << "templates and statistics at start only";
    const auto known = Decoded(raw[0]).templates;
    s.service(t0 + 11s, kReliability);
    raw = datagrams(sink.fd);
    ASSERT_EQ(raw.size(), 1u);
    const Decoded statistics(raw[0], known);
    EXPECT_EQ(statistics.templates.size(), 5u);
    EXPECT_EQ(statistics.records.size(), 2u) << "statistics again, without templates";
    EXPECT_EQ(statistics.sequence, 3u) << "the domain's name and two statistics records before";
    s.service(t0 + 31s, kReliability);
    raw = datagrams(sink.fd);
    ASSERT_EQ(raw.size(), 1u);
    EXPECT_EQ(Decoded(raw[0]).templates.size(), 5u) << "templates again after template_refresh";
    EXPECT_EQ(s.counters().template_messages_sent, 2u);
}

TEST(CollectorSession, RecordsBeyondTheBufferAreCountedAsNotSent) {
    Listener sink(SOCK_DGRAM);
    auto c = collector(config::Transport::udp, sink.port);
    c.buffer_size = 1 << 20;  // 8192 records
    CollectorSession s(c, 1, 1);
    s.offer(records(5000));
    s.offer(records(5000, 5000));
    SessionCounters n = s.counters();
    EXPECT_EQ(n.records_buffered, 8192u);
    EXPECT_EQ(n.records_not_sent, 10000u - 8192u);
    EXPECT_EQ(n.packets_not_sent, 3u * (10000 - 8192));
    std::uint64_t octets = 0;
    for (unsigned i = 8192; i < 10000; ++i) octets += 100 + i + 50;
    EXPECT_EQ(n.octets_not_sent, octets);
    for (int i = 0; i < 100 && !s.drained(); ++i) {
        s.service(Steady::now(), kReliability);
        datagrams(sink.fd);
    }
    n = s.counters();
    EXPECT_EQ(n.records_sent, 8192u);
    EXPECT_EQ(n.records_sent + n.records_not_sent, 10000u) << "every record sent or counted";
}

TEST(CollectorSession, UdpToAClosedPortCountsWhatFailsAndNeverBlocks) {
    int port = 0;
    {
        Listener gone(SOCK_DGRAM);
        port = gone.port;
    }
    CollectorSession s(collector(config::Transport::udp, static_cast<std::uint16_t>(port)), 1, 1);
    for (unsigned i = 0; i < 20; ++i) {
        s.offer(records(50, i * 50));
        s.service(Steady::now(), kReliability);
    }
    const SessionCounters c = s.counters();
    EXPECT_TRUE(s.drained());
    EXPECT_GT(c.send_failures, 0u);
    EXPECT_GT(c.records_not_sent, 0u);
    EXPECT_EQ(c.records_sent + c.records_not_sent, 1000u);
    EXPECT_EQ(s.state(), SessionState::failing);
}

// What a collector must get: one whole message per datagram, every record once, sequence
// numbers without a gap; from batches, one data template per message.
void expect_one_message_per_datagram(const std::vector<std::vector<std::uint8_t>>& raw,
                                     std::size_t records, bool batched) {
    const Received r(raw);
    EXPECT_EQ(r.flow_records, records);
    for (std::size_t i = 0; i < raw.size(); ++i) {
        EXPECT_EQ(r.messages[i].length, raw[i].size()) << "datagram " << i;
        EXPECT_LE(raw[i].size(), 1472u) << "mtu 1500 less IPv4 and UDP";
        std::set<std::uint16_t> sets;
        for (const auto& [set, fields] : r.messages[i].records) sets.insert(set);
        if (batched && (sets.count(256) || sets.count(257))) {
            EXPECT_EQ(sets.size(), 1u) << "datagram " << i;
        }
    }
}

TEST(CollectorSession, UdpSendsBatchesThatTheKernelCutsIntoOneMessagePerDatagram) {
    Listener sink(SOCK_DGRAM);
    roomy_receive_buffer(sink.fd);
    const auto c = collector(config::Transport::udp, sink.port);
    auto channel = std::make_unique<CountedChannel>(c);
    const auto sends = channel->sends;
    const auto batches = channel->batches;
    CollectorSession s(c, 1, 1, nullptr, std::move(channel));
    s.offer(records(6000));  // a third IPv6
    for (int i = 0; i < 10 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
    const auto raw = datagrams(sink.fd);
    expect_one_message_per_datagram(raw, 6000, true);
    const SessionCounters n = s.counters();
    EXPECT_EQ(n.records_sent, 6000u);
    EXPECT_EQ(n.messages_sent, raw.size());
    // 6000 records of 13 or 11 per message: about 500 datagrams, in about 12 batches.
    EXPECT_GT(raw.size(), 400u);
    EXPECT_LT(*sends + *batches, 30) << "one system call per batch of up to 44 datagrams";
    EXPECT_EQ(*sends, 1) << "the templates and statistics";
}

TEST(CollectorSession, UdpWithoutSegmentationOffloadSendsOneDatagramPerCall) {
    Listener sink(SOCK_DGRAM);
    roomy_receive_buffer(sink.fd);
    auto c = collector(config::Transport::udp, sink.port);
    c.segmentation_offload = false;
    auto channel = std::make_unique<CountedChannel>(c);
    const auto sends = channel->sends;
    const auto batches = channel->batches;
    CollectorSession s(c, 1, 1, nullptr, std::move(channel));
    s.offer(records(600));
    for (int i = 0; i < 10 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
    const auto raw = datagrams(sink.fd);
    const Received r(raw);
    EXPECT_EQ(r.flow_records, 600u);
    EXPECT_EQ(*batches, 0);
    EXPECT_EQ(static_cast<std::size_t>(*sends), raw.size());
}

// A path whose MTU is below the collector's `mtu` refuses a batch (the kernel cannot cut it):
// in a network namespace of its own whose loopback has an MTU of 1280, the session sends the
// batch's messages one datagram each (the kernel fragments them) and every record arrives.
TEST(CollectorSession, APathThatRefusesBatchesGetsEveryMessageOneByOne) {
    std::thread isolated([] {
        if (unshare(CLONE_NEWNET) != 0) {
            ADD_FAILURE() << "unshare(CLONE_NEWNET): " << std::strerror(errno) << " (needs root)";
            return;
        }
        const int fd = socket(AF_INET, SOCK_DGRAM, 0);
        ifreq lo{};
        std::strcpy(lo.ifr_name, "lo");
        lo.ifr_mtu = 1280;
        ASSERT_EQ(ioctl(fd, SIOCSIFMTU, &lo), 0);
        ASSERT_EQ(ioctl(fd, SIOCGIFFLAGS, &lo), 0);
        lo.ifr_flags |= IFF_UP;
        ASSERT_EQ(ioctl(fd, SIOCSIFFLAGS, &lo), 0);
        close(fd);

        Listener sink(SOCK_DGRAM);
        roomy_receive_buffer(sink.fd);
        const auto c = collector(config::Transport::udp, sink.port);  // mtu 1500
        auto channel = std::make_unique<CountedChannel>(c);
        const auto batches = channel->batches;
        CollectorSession s(c, 1, 1, nullptr, std::move(channel));
        s.offer(records(2000));
        for (int i = 0; i < 10 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
        EXPECT_TRUE(s.drained());
        const auto raw = datagrams(sink.fd);
        expect_one_message_per_datagram(raw, 2000, false);
        const SessionCounters n = s.counters();
        EXPECT_EQ(n.records_sent, 2000u);
        EXPECT_EQ(n.records_not_sent, 0u);
        EXPECT_EQ(n.messages_sent, raw.size());
        EXPECT_EQ(*batches, 1) << "refused once, never tried again";
    });
    isolated.join();
}

int accept_within(int listener, CollectorSession& s, Steady::time_point now) {
    for (int i = 0; i < 100; ++i) {
        s.service(now, kReliability);
        pollfd p{listener, POLLIN, 0};
        if (poll(&p, 1, 10) == 1) {
            const int fd = accept(listener, nullptr, nullptr);
            for (int j = 0; j < 10; ++j) s.service(now, kReliability);
            return fd;
        }
    }
    return -1;
}

TEST(CollectorSession, TcpResendsTemplatesOnReconnectAndDeliversWhatWaited) {
    Listener collector_socket(SOCK_STREAM);
    CollectorSession s(collector(config::Transport::tcp, collector_socket.port), 1, 1);
    auto now = Steady::now();
    int conn = accept_within(collector_socket.fd, s, now);
    ASSERT_GE(conn, 0);
    s.offer(records(300));
    s.service(now, kReliability);
    EXPECT_EQ(s.state(), SessionState::up);
    const auto expected_size = s.counters().bytes_sent;
    Received first(messages(read_stream(conn, expected_size)));
    EXPECT_EQ(first.flow_records, 300u);
    EXPECT_EQ(first.messages[0].templates.size(), 5u);

    close(conn);  // the collector goes away
    for (int i = 0; i < 100 && s.state() == SessionState::up; ++i) {
        std::this_thread::sleep_for(1ms);
        s.service(now, kReliability);
    }
    EXPECT_EQ(s.state(), SessionState::down);
    s.offer(records(200, 300));
    EXPECT_EQ(s.counters().records_buffered, 200u) << "records wait while it is away";

    now += 2s;  // past the first backoff
    const auto sent_before = s.counters().bytes_sent;
    conn = accept_within(collector_socket.fd, s, now);
    ASSERT_GE(conn, 0);
    const Received second(messages(read_stream(conn, s.counters().bytes_sent - sent_before)));
    EXPECT_EQ(second.messages[0].templates.size(), 5u) << "templates start every connection";
    EXPECT_EQ(second.messages[0].sequence, 0u) << "a new connection is a new session";
    EXPECT_EQ(second.flow_records, 200u);
    EXPECT_EQ(s.counters().sessions_opened, 2u);
    EXPECT_EQ(s.counters().records_not_sent, 0u);
    s.close(kReliability);
    close(conn);
}

TEST(CollectorSession, TlsToAPeerThatSpeaksNoTlsFailsTheHandshakeAndRecordsWait) {
    Listener collector_socket(SOCK_STREAM);
    CollectorSession s(collector(config::Transport::tls, collector_socket.port), 1, 1);
    EXPECT_EQ(s.describe(), "tls 127.0.0.1:" + std::to_string(collector_socket.port));
    s.offer(records(50));
    auto now = Steady::now();
    const int conn = accept_within(collector_socket.fd, s, now);
    ASSERT_GE(conn, 0);
    const char answer[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
    ASSERT_EQ(write(conn, answer, sizeof(answer) - 1), static_cast<ssize_t>(sizeof(answer) - 1));
    for (int i = 0; i < 1000 && s.state() != SessionState::down; ++i) {
        std::this_thread::sleep_for(1ms);
        s.service(now, kReliability);
    }
    EXPECT_EQ(s.state(), SessionState::down);
    EXPECT_TRUE(s.last_error().starts_with("TLS handshake failed: ")) << s.last_error();
    const SessionCounters c = s.counters();
    EXPECT_EQ(c.handshake_failures, 1u);
    EXPECT_EQ(c.records_buffered, 50u) << "records wait for the next session";
    EXPECT_EQ(c.records_sent, 0u);
    EXPECT_EQ(c.records_not_sent, 0u);
    close(conn);
}

// A folder of its own for a file collector's files, removed at the end.
struct FileCollector {
    fs::path dir;
    config::Collector config;

    explicit FileCollector(const char* test)
        : dir(fs::temp_directory_path() / (std::string(test) + "-" + std::to_string(getpid()))) {
        fs::remove_all(dir);
        fs::create_directories(dir);
        config.name = "file";
        config.transport = config::Transport::file;
        config.path = (dir / "records.ipfix").string();
        config.buffer_size = 1 << 20;
        config.fields.clear();
    }
    ~FileCollector() { fs::remove_all(dir); }

    // Each file's bytes.
    std::vector<std::pair<fs::path, std::vector<std::uint8_t>>> files() const {
        std::vector<std::pair<fs::path, std::vector<std::uint8_t>>> out;
        for (const auto& entry : fs::directory_iterator(dir)) {
            std::ifstream in(entry.path(), std::ios::binary);
            out.emplace_back(entry.path(),
                             std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), {}));
        }
        return out;
    }
};

TEST(CollectorSession, FileRotatesBySizeAndEachFileStandsAlone) {
    FileCollector f("sluice-file-size");
    f.config.rotate_size = 64 * 1024;
    {
        CollectorSession s(f.config, 5, 1);
        for (unsigned i = 0; i < 4; ++i) {
            s.offer(records(1000, i * 1000));
            s.service(Steady::now(), kReliability);
        }
        s.close(kReliability);
        EXPECT_EQ(s.counters().records_sent, 4000u);
    }
    std::size_t flow_records = 0;
    const auto files = f.files();
    for (const auto& [path, bytes] : files) {
        const auto raw = messages(bytes);
        ASSERT_FALSE(raw.empty());
        const Received r(raw);  // each file decodes from its own templates, sequence from 0
        EXPECT_EQ(r.messages[0].templates.size(), 5u) << path;
        flow_records += r.flow_records;
        if (path.filename() != "records.ipfix") {
            EXPECT_GE(bytes.size(), 64u * 1024) << "rotated once at rotate_size";
            EXPECT_LT(bytes.size(), 2u * 64 * 1024) << "not later than one message beyond";
        }
    }
    EXPECT_GE(files.size(), 3u);
    EXPECT_EQ(flow_records, 4000u);
    EXPECT_TRUE(fs::exists(f.dir / "records.ipfix")) << "the last file keeps its name";
}

TEST(CollectorSession, FileRotatesOnTime) {
    FileCollector f("sluice-file-time");
    f.config.rotate_size = 0;
    f.config.rotate_interval = std::chrono::hours(1);
    const auto t0 = Steady::now();
    {
        CollectorSession s(f.config, 5, 1);
        s.offer(records(10));
        s.service(t0, kReliability);
        s.offer(records(10, 10));
        s.service(t0 + 30min, kReliability);
        s.offer(records(10, 20));
        s.service(t0 + 61min, kReliability);
        s.close(kReliability);
        EXPECT_EQ(s.counters().sessions_opened, 2u);
    }
    std::vector<std::size_t> flows;
    for (const auto& [path, bytes] : f.files())
        flows.push_back(Received(messages(bytes)).flow_records);
    std::sort(flows.begin(), flows.end());
    EXPECT_EQ(flows, (std::vector<std::size_t>{10, 20})) << "the hour's records, then the rest";
}

TEST(CollectorSession, ANameThatDoesNotResolveKeepsRecordsWaiting) {
    auto c = collector(config::Transport::udp, 4739);
    c.address.host = "no-such-collector.invalid";
    CollectorSession s(c, 1, 1);
    s.offer(records(10));
    const auto deadline = Steady::now() + 30s;
    while (s.state() != SessionState::down && Steady::now() < deadline) {
        s.service(Steady::now(), kReliability);
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(s.state(), SessionState::down);
    EXPECT_NE(s.last_error().find("cannot resolve \"no-such-collector.invalid\""),
              std::string::npos)
        << s.last_error();
    EXPECT_EQ(s.counters().records_buffered, 10u);
    EXPECT_EQ(s.counters().open_failures, 1u);
    s.close(kReliability);
    EXPECT_EQ(s.counters().records_not_sent, 10u) << "what never left is counted at the end";
}

}  // namespace
}  // namespace sluice::control

namespace sluice::control {
namespace {

TEST(Exporter, AReloadKeepsUnchangedCollectorsAndTheirBuffers) {
    Listener a(SOCK_DGRAM), b(SOCK_DGRAM);
    config::Config c;
    c.collectors = {collector(config::Transport::udp, a.port)};
    c.collectors[0].name = "a";
    Exporter e(c);
    e.offer(records(5));
    const CollectorSession* kept = e.collectors()[0]->members()[0].get();

    config::Config next = c;
    next.collectors.push_back(collector(config::Transport::udp, b.port));
    next.collectors[1].name = "b";
    e.reconfigure(next, kReliability);
    ASSERT_EQ(e.collectors().size(), 2u);
    EXPECT_EQ(e.collectors()[0]->members()[0].get(), kept) << "same settings: same session";
    EXPECT_EQ(e.collectors()[0]->members()[0]->counters().records_buffered, 5u);

    e.service(Steady::now(), kReliability);  // "a" sends its 5 records
    next.collectors.erase(next.collectors.begin());
    next.collectors[0].mtu = 9000;  // changed: a new session
    testing::internal::CaptureStderr();
    e.reconfigure(next, kReliability);
    const std::string log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("collector \"a\" (udp 127.0.0.1:" + std::to_string(a.port) +
                       "): removed, having sent 5 records (15 packets, "),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("records (0 packets) not sent"), std::string::npos) << log;
    ASSERT_EQ(e.collectors().size(), 1u);
    EXPECT_EQ(e.collectors()[0]->members()[0]->name(), "b");
    EXPECT_EQ(e.collectors()[0]->members()[0]->config().mtu, 9000);
}

TEST(Exporter, AReloadOfTheLocalNetworksSendsTheTemplatesWithFlowDirection) {
    Listener a(SOCK_DGRAM);
    config::Config c;
    c.collectors = {collector(config::Transport::udp, a.port)};
    Exporter e(c);
    e.offer(records(3));
    e.service(Steady::now(), kReliability);
    const Received before(datagrams(a.fd));
    EXPECT_EQ(before.flow_records, 3u);
    EXPECT_TRUE(before.messages.front().templates.contains(256));
    EXPECT_FALSE(before.messages.front().templates.contains(592));

    config::Config next = c;
    next.sensor.local_networks = {"10.0.0.0/8"};
    testing::internal::CaptureStderr();
    e.reconfigure(next, kReliability);
    testing::internal::GetCapturedStderr();
    datagrams(a.fd);  // the closing session's last statistics
    e.offer(records(3));
    e.service(Steady::now(), kReliability);
    const Received after(datagrams(a.fd));
    ASSERT_FALSE(after.messages.empty());
    EXPECT_TRUE(after.messages.front().templates.contains(592)) << "a new session's templates";
    std::size_t with_direction = 0;
    for (const Decoded& d : after.messages)
        for (const auto& [set, fields] : d.records) {
            EXPECT_FALSE(set == 256 || set == 257) << "a record without flowDirection";
            with_direction += (set == 592 || set == 593) && fields.contains({61, 0});
        }
    EXPECT_EQ(with_direction, 3u);
}

// The template ids an exporter of `c` announces to its one collector, `a`.
std::set<std::uint16_t> announced(const config::Config& c, Listener& a) {
    Exporter e(c);
    e.offer(records(3));
    for (int i = 0; i < 100 && e.service(Steady::now(), kReliability); ++i) {
    }
    std::set<std::uint16_t> ids;
    for (const Decoded& d : Received(datagrams(a.fd)).messages)
        for (const auto& [id, fields] : d.templates) ids.insert(id);
    return ids;
}

TEST(Exporter, AnnouncesTheTemplatesOfTheMetadataTheRecordsCarryOnly) {
    Listener a(SOCK_DGRAM);
    config::Config c;
    c.collectors = {metadata_collector(config::Transport::udp, a.port)};
    const auto by_default = announced(c, a);
    EXPECT_TRUE(by_default.contains(272)) << "TLS";
    EXPECT_TRUE(by_default.contains(290)) << "TCP health";
    EXPECT_FALSE(by_default.contains(616)) << "no header fields: [metadata] headers is off";
    c.metadata.headers = true;
    c.metadata.tcp_health = false;
    c.flow.decapsulate = {};
    const auto headers = announced(c, a);
    EXPECT_TRUE(headers.contains(616));
    EXPECT_TRUE(headers.contains(272));
    EXPECT_FALSE(headers.contains(290) || headers.contains(289) || headers.contains(618));
}

}  // namespace
}  // namespace sluice::control

namespace sluice::control {
namespace {

TEST(CollectorSession, ApplicationNamesFollowTheTemplatesOverAsManyMessagesAsNeeded) {
    Listener sink(SOCK_DGRAM);
    auto c = collector(config::Transport::udp, sink.port);
    c.mtu = 576;  // 548 bytes of IPFIX: the names take several messages
    auto names = std::make_shared<std::vector<ApplicationName>>();
    for (std::uint32_t i = 1; i <= 30; ++i)
        names->push_back({i, "app" + std::to_string(i), std::string(40, 'd')});
    CollectorSession s(c, 1, 1, names);
    s.service(Steady::now(), kReliability);
    const auto raw = datagrams(sink.fd);
    ASSERT_GE(raw.size(), 3u);
    const Received r(raw);  // checks the sequence numbers
    EXPECT_EQ(r.messages[0].templates.count(262), 1u);
    std::size_t named = 0;
    for (const auto& m : r.messages)
        for (const auto& [set, fields] : m.records)
            if (set == 262) {
                const auto& name = fields.at({96, 0});
                EXPECT_EQ(std::string(name.begin(), name.end()), "app" + std::to_string(++named));
            }
    EXPECT_EQ(named, 30u);
    for (const auto& m : raw) EXPECT_LE(m.size(), 548u);
}

}  // namespace
}  // namespace sluice::control
