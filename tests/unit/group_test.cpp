// Collector groups and what a stream collector does not acknowledge: over real loopback sockets.
#include "control/export/group.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "tests/unit/collectors.hpp"

namespace sluice::control {
namespace {

using namespace collector_test;

TEST(BalanceMember, BothDirectionsAndEveryPartOfAFlowGoToOneMember) {
    std::size_t per_member[3] = {};
    for (unsigned i = 0; i < 3000; ++i) {
        FlowRecord r = record(i);
        const std::size_t m = balance_member(r, 3);
        ASSERT_LT(m, 3u);
        ++per_member[m];
        FlowRecord reverse = r;
        std::memcpy(reverse.source_address, r.destination_address, 16);
        std::memcpy(reverse.destination_address, r.source_address, 16);
        std::swap(reverse.source_port, reverse.destination_port);
        reverse.packets = 7;  // another part of it, seen from the other side
        EXPECT_EQ(balance_member(reverse, 3), m) << "flow " << i;
    }
    for (std::size_t n : per_member) EXPECT_GT(n, 800u) << "each member gets about a third";

    FlowRecord echo = record(1), reply = record(1);
    echo.protocol = reply.protocol = 1;
    echo.destination_port = 8 * 256;  // echo request
    std::memcpy(reply.source_address, echo.destination_address, 16);
    std::memcpy(reply.destination_address, echo.source_address, 16);
    reply.source_port = 0;
    reply.destination_port = 0;  // echo reply
    EXPECT_EQ(balance_member(echo, 5), balance_member(reply, 5)) << "ICMP's type is no port";
    FlowRecord tagged = echo;
    tagged.vlan_id = 10;
    std::set<std::size_t> members;
    for (std::uint16_t vlan = 1; vlan < 40; ++vlan) {
        tagged.vlan_id = vlan;
        members.insert(balance_member(tagged, 5));
    }
    EXPECT_GT(members.size(), 1u) << "the VLAN is part of the key";
}

TEST(CollectorGroup, BalanceSplitsTheRecordsOverItsMembersByFlow) {
    Listener a(SOCK_DGRAM), b(SOCK_DGRAM);
    config::Collector c = collector(config::Transport::udp, 0);
    c.address = {};
    c.addresses = {{"127.0.0.1", a.port}, {"127.0.0.1", b.port}};
    c.mode = config::GroupMode::balance;
    c.segmentation_offload = false;
    std::uint32_t next_id = 1;
    CollectorGroup g(c, 1, next_id, nullptr, "", nullptr);
    ASSERT_EQ(g.members().size(), 2u);
    EXPECT_EQ(next_id, 3u) << "each member is an exporting process of its own";
    const auto all = records(400);
    g.offer(all);
    for (int i = 0; i < 20; ++i) g.service(Steady::now(), kReliability);
    std::size_t expected[2] = {};
    for (const FlowRecord& r : all) ++expected[balance_member(r, 2)];
    EXPECT_EQ(Received(datagrams(a.fd)).flow_records, expected[0]);
    EXPECT_EQ(Received(datagrams(b.fd)).flow_records, expected[1]);
    EXPECT_EQ(g.members()[0]->counters().records_sent, expected[0]);
    EXPECT_EQ(g.members()[1]->counters().records_sent, expected[1]);
    EXPECT_EQ(g.members()[1]->name(), "test/127.0.0.1:" + std::to_string(b.port));
    g.close(kReliability);
}

TEST(CollectorGroup, FailoverSendsToTheFirstReachableMemberAndGoesBackWhenItReturns) {
    Port first, second;
    second.listen();  // the first refuses connections for now
    config::Collector c = collector(config::Transport::tcp, 0);
    c.address = {};
    c.addresses = {{"127.0.0.1", first.port}, {"127.0.0.1", second.port}};
    c.mode = config::GroupMode::failover;
    std::uint32_t next_id = 1;
    CollectorGroup g(c, 1, next_id, nullptr, "", nullptr);
    auto now = Steady::now();
    g.offer(records(100));
    const int to_second = second.accept_while([&] { g.service(now, kReliability); });
    ASSERT_GE(to_second, 0);
    for (int i = 0; i < 50 && g.members()[1]->counters().records_sent < 100; ++i) {
        std::this_thread::sleep_for(1ms);
        g.service(now, kReliability);
    }
    EXPECT_EQ(g.members()[0]->state(), SessionState::down);
    EXPECT_EQ(g.active(), 1u);
    EXPECT_EQ(g.members()[0]->counters().records_handed_over, 100u);
    EXPECT_EQ(g.members()[1]->counters().records_sent, 100u) << "acknowledged by its host";
    EXPECT_EQ(drain(to_second).flow_records, 100u);

    first.listen();  // the first returns
    now += 2s;       // past its first backoff
    const int to_first = first.accept_while([&] { g.service(now, kReliability); });
    ASSERT_GE(to_first, 0);
    for (int i = 0; i < 50 && g.active() != 0; ++i) g.service(now, kReliability);
    EXPECT_EQ(g.active(), 0u) << "back to the first";
    g.offer(records(50, 100));
    for (int i = 0; i < 50 && g.members()[0]->counters().records_sent < 50; ++i) {
        std::this_thread::sleep_for(1ms);
        g.service(now, kReliability);
    }
    EXPECT_EQ(drain(to_first).flow_records, 50u);
    EXPECT_EQ(drain(to_second).flow_records, 0u);
    EXPECT_EQ(g.members()[0]->counters().records_not_sent, 0u);
    EXPECT_EQ(g.members()[1]->counters().records_not_sent, 0u);
    g.close(kReliability);
    close(to_first);
    close(to_second);
}

TEST(CollectorSession, ARecordTheCollectorDidNotAcknowledgeIsSentAgainOnTheNextConnection) {
    Port port(4096);  // a collector that stops reading: its window shuts after a few KB
    port.listen();
    config::Collector c = collector(config::Transport::tcp, port.port);
    c.ack_timeout = std::chrono::seconds(1);
    c.buffer_size = 8 << 20;
    CollectorSession s(c, 1, 1);
    auto now = Steady::now();
    const int stalled = port.accept_while([&] { s.service(now, kReliability); });
    ASSERT_GE(stalled, 0);
    for (int i = 0; i < 100 && s.state() != SessionState::up; ++i) s.service(now, kReliability);
    constexpr unsigned kRecords = 40000;  // more than both sockets' buffers hold
    s.offer(records(kRecords));
    const auto deadline = Steady::now() + 10s;
    while (s.state() == SessionState::up && Steady::now() < deadline) {
        s.service(now, kReliability);
        std::this_thread::sleep_for(2ms);
    }
    ASSERT_EQ(s.state(), SessionState::down) << "nothing acknowledged for ack_timeout";
    const SessionCounters lost = s.counters();
    EXPECT_GT(lost.records_resent, 0u);
    EXPECT_EQ(lost.records_not_sent, 0u);
    EXPECT_EQ(lost.records_buffered, kRecords - lost.records_sent) << "what waits to go again";
    const Received first = drain(stalled);  // what its host acknowledged is all it holds
    EXPECT_EQ(first.flow_records, lost.records_sent);

    now += 2s;
    const int second = port.accept_while([&] { s.service(now, kReliability); });
    ASSERT_GE(second, 0);
    std::vector<std::uint8_t> stream;
    for (int i = 0; i < 2000 && s.counters().records_sent < kRecords; ++i) {
        s.service(now, kReliability);
        std::vector<std::uint8_t> buf(65536);
        for (ssize_t n; (n = recv(second, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;)
            stream.insert(stream.end(), buf.begin(), buf.begin() + n);
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(Received(messages(stream)).flow_records, kRecords - first.flow_records)
        << "every record exactly once over the two connections";
    EXPECT_EQ(s.counters().records_sent, kRecords);
    EXPECT_EQ(s.counters().records_not_sent, 0u);
    s.close(kReliability);
    close(stalled);
    close(second);
}

TEST(CollectorSession,
     AMemberThatHandsOverItsBacklogStillSendsAgainWhatItsCollectorDidNotAcknowledge) {
    Port port(4096);  // a collector that stops reading: its window shuts after a few KB
    port.listen();
    config::Collector c = collector(config::Transport::tcp, port.port);
    c.ack_timeout = std::chrono::seconds(1);
    c.buffer_size = 32 << 20;
    CollectorSession s(c, 1, 1);
    auto now = Steady::now();
    const int stalled = port.accept_while([&] { s.service(now, kReliability); });
    ASSERT_GE(stalled, 0);
    for (int i = 0; i < 100 && s.state() != SessionState::up; ++i) s.service(now, kReliability);
    constexpr unsigned kRecords = 200000;  // far more than both sockets' buffers hold
    s.offer(records(kRecords));
    for (int i = 0; i < 50; ++i) {  // the window shuts, well within ack_timeout
        s.service(now, kReliability);
        std::this_thread::sleep_for(2ms);
    }
    ASSERT_EQ(s.state(), SessionState::up);
    const std::size_t waiting = s.backlog();
    ASSERT_GT(waiting, 0u);
    std::vector<FlowRecord> handed;
    s.take_backlog(handed);  // as a failover group moves them to another member
    ASSERT_EQ(handed.size(), waiting);
    EXPECT_EQ(s.counters().records_handed_over, waiting);
    const std::uint64_t unconfirmed = kRecords - waiting - s.counters().records_sent;
    EXPECT_EQ(s.counters().records_buffered, unconfirmed) << "sent, not yet acknowledged";

    const auto deadline = Steady::now() + 10s;
    while (s.state() == SessionState::up && Steady::now() < deadline) {
        s.service(now, kReliability);
        std::this_thread::sleep_for(2ms);
    }
    ASSERT_EQ(s.state(), SessionState::down) << "nothing acknowledged for ack_timeout";
    const Received first = drain(stalled);
    const std::uint64_t again = kRecords - waiting - s.counters().records_sent;
    EXPECT_EQ(s.counters().records_buffered, again);
    now += 2s;
    const int second = port.accept_while([&] { s.service(now, kReliability); });
    ASSERT_GE(second, 0);
    std::vector<std::uint8_t> stream;
    for (int i = 0; i < 2000 && s.counters().records_sent < kRecords - waiting; ++i) {
        s.service(now, kReliability);
        std::vector<std::uint8_t> buf(65536);
        for (ssize_t n; (n = recv(second, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;)
            stream.insert(stream.end(), buf.begin(), buf.begin() + n);
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(s.counters().records_sent, kRecords - waiting);
    EXPECT_EQ(s.counters().records_not_sent, 0u);

    std::vector<std::uint64_t> all = octets(first);
    for (std::uint64_t o : octets(Received(messages(stream)))) all.push_back(o);
    for (const FlowRecord& r : handed) all.push_back(r.octets);
    std::sort(all.begin(), all.end());
    std::vector<std::uint64_t> expected;
    for (unsigned i = 0; i < kRecords; ++i) expected.push_back(record(i).octets);
    EXPECT_TRUE(all == expected) << all.size() << " records over the two connections and the "
                                 << "other member, not each of the " << kRecords << " once";
    s.close(kReliability);
    close(stalled);
    close(second);
}

TEST(CollectorSession, AStopCountsEveryRecordTheCollectorDidNotAcknowledgeAsNotSentWithItsOctets) {
    Port port(4096);  // a collector that stops reading
    port.listen();
    config::Collector c = collector(config::Transport::tcp, port.port);
    c.buffer_size = 32 << 20;
    CollectorSession s(c, 1, 1);
    auto now = Steady::now();
    const int stalled = port.accept_while([&] { s.service(now, kReliability); });
    ASSERT_GE(stalled, 0);
    for (int i = 0; i < 100 && s.state() != SessionState::up; ++i) s.service(now, kReliability);
    constexpr unsigned kRecords = 100000;
    const auto offered = records(kRecords);
    s.offer(offered);
    for (int i = 0; i < 20; ++i) {
        s.service(now, kReliability);
        std::this_thread::sleep_for(2ms);
    }
    ASSERT_GT(s.backlog(), 0u);
    ASSERT_GT(s.counters().records_buffered, s.backlog()) << "some sent, not acknowledged";
    s.close(kReliability);
    const SessionCounters after = s.counters();
    std::uint64_t packets = 0, octets = 0;
    for (const FlowRecord& r : offered) {
        packets += r.packets + r.reverse_packets;
        octets += r.octets + r.reverse_octets;
    }
    EXPECT_EQ(after.records_sent + after.records_not_sent, kRecords);
    EXPECT_EQ(after.packets_sent + after.packets_not_sent, packets);
    EXPECT_EQ(after.octets_sent + after.octets_not_sent, octets);
    EXPECT_EQ(after.records_buffered, 0u);
    EXPECT_EQ(after.records_resent, 0u);
    EXPECT_EQ(Received(messages([&] {
                  std::vector<std::uint8_t> stream, buf(65536);
                  for (ssize_t n; (n = recv(stalled, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;)
                      stream.insert(stream.end(), buf.begin(), buf.begin() + n);
                  return stream;
              }()))
                  .flow_records,
              after.records_sent)
        << "what its host acknowledged is what was counted as sent";
    close(stalled);
}

}  // namespace
}  // namespace sluice::control
