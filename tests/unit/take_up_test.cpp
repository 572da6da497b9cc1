// A collector's store outlives its sluice-control: a session made on the store a killed one
// left (here: destroyed without close()) sends what that one held.
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "control/export/session.hpp"
#include "control/export/shared_file.hpp"
#include "tests/unit/collectors.hpp"

namespace sluice::control {
namespace {

using namespace collector_test;

// A store of /dev/shm for one test, removed after it.
struct Store {
    SessionStore store{"/dev/shm/sluice-unit-take-up-" + std::to_string(getpid()), 7};
    ~Store() { unlink(store.path.c_str()); }
};

// The sourceTransportPort of every flow record a UDP sink received, in the order received.
std::vector<std::uint64_t> received_ports(int fd) {
    std::vector<std::uint64_t> ports;
    const Received r(datagrams(fd));
    for (const Decoded& m : r.messages)
        for (const auto& [set, fields] : m.records)
            if (set >= 256 && set < 260) ports.push_back(ipfix::value(fields.at({7, 0})));
    return ports;
}

std::vector<std::uint64_t> ports_of(unsigned n) {
    std::vector<std::uint64_t> out;
    for (unsigned i = 0; i < n; ++i) out.push_back(1024 + i);
    return out;
}

void send_all(CollectorSession& s) {
    for (int i = 0; i < 100 && !s.drained(); ++i) s.service(Steady::now(), kReliability);
    EXPECT_TRUE(s.drained());
}

TEST(CollectorSession, ASessionOnAKilledOnesStoreSendsTheRecordsItHeldOnce) {
    Store st;
    Listener sink(SOCK_DGRAM);
    {
        CollectorSession killed(collector(config::Transport::udp, sink.port), 1, 1, nullptr,
                                nullptr, {}, nullptr, st.store);
        killed.offer(records(300), 1);
    }
    CollectorSession next(collector(config::Transport::udp, sink.port), 1, 1, nullptr, nullptr, {},
                          nullptr, st.store);
    EXPECT_EQ(next.batch(), 1u);
    next.offer(records(300), 1);  // the rings' last batch, offered again: passed over
    send_all(next);
    auto ports = received_ports(sink.fd);
    std::sort(ports.begin(), ports.end());
    EXPECT_EQ(ports, ports_of(300));
    EXPECT_EQ(next.counters().records_sent, 300u);
    EXPECT_EQ(next.counters().records_resent, 0u) << "nothing of it had gone out";
}

// A kill in the middle of grouping the buffer's records by IP version: the scratch holds the
// window in its new order and the buffer a part of it, overwritten. The next control copies
// the scratch in again: every record goes out once.
TEST(CollectorSession, AReorderAKillInterruptedIsFinishedFromTheScratch) {
    Store st;
    Listener sink(SOCK_DGRAM);
    const auto held = records(300);  // every third one IPv6
    {
        CollectorSession killed(collector(config::Transport::udp, sink.port), 1, 1, nullptr,
                                nullptr, {}, nullptr, st.store);
        killed.offer(held, 1);
    }
    {
        std::string error;
        auto file = SharedFile::open(st.store.path, 0, error);
        ASSERT_TRUE(file) << error;
        auto& j = *static_cast<SessionJournal*>(file->data());
        auto* scratch = reinterpret_cast<FlowRecord*>(static_cast<std::uint8_t*>(file->data()) +
                                                      SessionJournal::kBytes);
        FlowRecord* buffer = scratch + SessionJournal::kScratchRecords;
        ASSERT_EQ(j.end - j.first, 300u);
        // The first record is IPv6: the IPv6 ones first, then the IPv4 ones.
        std::vector<FlowRecord> reordered;
        for (const FlowRecord& r : held)
            if (r.ip_version == 6) reordered.push_back(r);
        for (const FlowRecord& r : held)
            if (r.ip_version == 4) reordered.push_back(r);
        std::copy(reordered.begin(), reordered.end(), scratch);
        j.reorder_at = j.first;
        j.reorder_count = reordered.size();
        std::fill_n(buffer, 150, records(1, 5000)[0]);  // half copied back, half as it was
    }
    CollectorSession next(collector(config::Transport::udp, sink.port), 1, 1, nullptr, nullptr, {},
                          nullptr, st.store);
    send_all(next);
    auto ports = received_ports(sink.fd);
    std::sort(ports.begin(), ports.end());
    EXPECT_EQ(ports, ports_of(300));
}

}  // namespace
}  // namespace sluice::control
