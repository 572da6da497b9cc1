// The spool: records on disk in order, across restarts, within spool_size, past damage.
#include "control/export/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/collectors.hpp"

namespace sluice::control {
namespace {

using namespace std::chrono_literals;
using collector_test::record;
using collector_test::records;

constexpr std::uint32_t kBlock = 2048;                    // records per full block
constexpr std::uint64_t kBlockBytes = 48 + kBlock * 128;  // its size on disk

struct Folder {
    std::string path;
    Folder() {
        char name[] = "/tmp/sluice-spool-test.XXXXXX";
        path = mkdtemp(name);
    }
    ~Folder() { std::filesystem::remove_all(path); }
    // The segment files, in name order (their seq).
    std::vector<std::string> segments() const {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(path))
            if (e.path().extension() == ".spool") out.push_back(e.path().string());
        std::sort(out.begin(), out.end());
        return out;
    }
};

SpoolSettings settings(const Folder& f, std::uint64_t size = 64 << 20,
                       config::SpoolOverflow overflow = config::SpoolOverflow::drop_newest) {
    return {.folder = f.path,
            .sensor = "edge-1",
            .collector = "siem/10.0.0.5:4739",
            .size = size,
            .sync = std::chrono::seconds(1),
            .overflow = overflow};
}

// Every record the spool gives, until it gives none.
std::vector<FlowRecord> read_all(Spool& s) {
    std::vector<FlowRecord> out, buf(1000);
    for (std::size_t n; (n = s.read(buf)) != 0;)
        out.insert(out.end(), buf.begin(), buf.begin() + n);
    return out;
}

// The records' octets, which record(i) makes 100 + i: their identity, in order.
std::vector<std::uint64_t> ids(const std::vector<FlowRecord>& rs) {
    std::vector<std::uint64_t> out;
    for (const FlowRecord& r : rs) out.push_back(r.octets - 100);
    return out;
}
std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t i = from; i < to; ++i) out.push_back(i);
    return out;
}

RecordTotals totals(const std::vector<FlowRecord>& rs) {
    RecordTotals t;
    for (const FlowRecord& r : rs) t.add(r);
    return t;
}

void corrupt(const std::string& path, std::uint64_t at) {
    const int fd = open(path.c_str(), O_RDWR);
    char c = 0;
    ASSERT_EQ(pread(fd, &c, 1, static_cast<off_t>(at)), 1);
    c = static_cast<char>(c ^ 0x5a);
    ASSERT_EQ(pwrite(fd, &c, 1, static_cast<off_t>(at)), 1);
    close(fd);
}

std::uint64_t size_of(const std::string& path) {
    return std::filesystem::file_size(path);
}

TEST(Spool, GivesBackItsRecordsInTheOrderTheyCameAndDeletesThemOnceConfirmed) {
    Folder f;
    Spool s(settings(f));
    EXPECT_TRUE(s.empty());
    s.append(records(5000));
    s.append(records(100, 5000));
    s.append(records(3000, 5100));
    EXPECT_EQ(s.unread(), 8100u);
    EXPECT_EQ(s.state().records, 8100u);
    EXPECT_EQ(s.state().oldest_ns, 0u) << "nothing read yet";
    const auto got = read_all(s);
    EXPECT_EQ(ids(got), range(0, 8100));
    EXPECT_EQ(s.unread(), 0u);
    EXPECT_EQ(s.state().records, 8100u) << "read, not yet confirmed";
    EXPECT_EQ(s.state().oldest_ns, record(0).first_ns);
    s.release(8100);
    EXPECT_EQ(s.state().records, 0u);
    EXPECT_EQ(s.state().records_replayed, 8100u);
    ASSERT_EQ(f.segments().size(), 1u) << "the segment written to stays";
    s.append(records(10, 8100));
    EXPECT_EQ(ids(read_all(s)), range(8100, 8110));
}

TEST(Spool, ASpoolOpenedAgainResumesWhereItsCollectorStoppedConfirming) {
    Folder f;
    {
        Spool s(settings(f));
        s.append(records(10000));
        std::vector<FlowRecord> buf(4000);
        ASSERT_EQ(s.read(buf), 4000u);
        s.release(3000);  // 1000 read and sent, not confirmed: they go again
    }
    Spool again(settings(f));
    EXPECT_EQ(again.unread(), 7000u);
    EXPECT_EQ(ids(read_all(again)), range(3000, 10000));
    again.release(7000);
    EXPECT_EQ(again.state().records, 0u);
    EXPECT_TRUE(f.segments().empty()) << "confirmed to its end, and not written to: deleted";
}

TEST(Spool, WhatAStopPutsInFrontGoesOutFirstAcrossARestart) {
    Folder f;
    {
        Spool s(settings(f));
        s.append(records(3000, 1000));  // the spool's records, newer
        s.prepend(records(1000));       // the memory buffer's, older
    }
    Spool again(settings(f));
    EXPECT_EQ(again.unread(), 4000u);
    EXPECT_EQ(ids(read_all(again)), range(0, 4000));
}

TEST(Spool, AtItsSizeDropNewestCountsTheRecordsArrivingAsDropped) {
    Folder f;
    Spool s(settings(f, 1 << 20));
    const auto offered = records(10000);
    const RecordTotals dropped = s.append(offered);
    // 1 MiB holds the segment's header and three full blocks.
    const std::vector<FlowRecord> kept(offered.begin(), offered.begin() + 3 * kBlock);
    const std::vector<FlowRecord> lost(offered.begin() + 3 * kBlock, offered.end());
    EXPECT_EQ(dropped.records, lost.size());
    EXPECT_EQ(dropped.packets, totals(lost).packets);
    EXPECT_EQ(dropped.octets, totals(lost).octets);
    EXPECT_EQ(s.state().dropped.records, lost.size());
    EXPECT_EQ(ids(read_all(s)), ids(kept));
}

TEST(Spool, AtItsSizeDropOldestDropsTheOldestSegmentNotYetRead) {
    Folder f;
    // Segments of 1 MiB (three blocks), four of them.
    Spool s(settings(f, 4 << 20, config::SpoolOverflow::drop_oldest));
    std::uint64_t next = 0;
    while (f.segments().size() < 4 || s.state().bytes + kBlockBytes <= (4u << 20)) {
        ASSERT_EQ(s.append(records(kBlock, static_cast<unsigned>(next))).records, 0u);
        next += kBlock;
    }
    const std::string oldest = f.segments().front();
    const RecordTotals dropped = s.append(records(kBlock, static_cast<unsigned>(next)));
    EXPECT_EQ(dropped.records, 3 * kBlock) << "the oldest segment's three blocks";
    EXPECT_EQ(dropped.packets, totals(records(3 * kBlock)).packets);
    EXPECT_FALSE(std::filesystem::exists(oldest)) << "at the front, nothing keeps it";
    const auto got = read_all(s);
    EXPECT_EQ(ids(got), range(3 * kBlock, next + kBlock));
}

TEST(Spool, ABlockWhoseBytesChangedIsSkippedAndCountedWithItsPacketsTheRestIsRead) {
    Folder f;
    std::string segment;
    {
        Spool s(settings(f));
        s.append(records(3 * kBlock));
        segment = f.segments().front();
    }
    const std::uint64_t second_block = size_of(segment) - 2 * kBlockBytes;
    corrupt(segment, second_block + 48 + 1000);  // inside its records
    Spool again(settings(f));
    const auto got = read_all(again);
    std::vector<std::uint64_t> expected = range(0, kBlock);
    for (std::uint64_t i = 2 * kBlock; i < 3 * kBlock; ++i) expected.push_back(i);
    EXPECT_EQ(ids(got), expected);
    const SpoolState st = again.state();
    EXPECT_EQ(st.damaged.records, kBlock);
    const auto block = records(kBlock, kBlock);
    EXPECT_EQ(st.damaged.packets, totals(block).packets);
    EXPECT_EQ(st.damaged.octets, totals(block).octets);
    EXPECT_EQ(st.damaged_bytes, kBlockBytes);
}

TEST(Spool, AHeaderThatDoesNotReadIsPassedOverToTheNextBlock) {
    Folder f;
    std::string segment;
    {
        Spool s(settings(f));
        s.append(records(3 * kBlock));
        segment = f.segments().front();
    }
    const std::uint64_t second_block = size_of(segment) - 2 * kBlockBytes;
    corrupt(segment, second_block + 5);  // its record count
    Spool again(settings(f));
    EXPECT_EQ(again.unread(), 2 * kBlock);
    const auto got = read_all(again);
    EXPECT_EQ(got.size(), 2 * kBlock);
    EXPECT_EQ(ids(got).back(), 3 * kBlock - 1);
    EXPECT_EQ(again.state().damaged_bytes, kBlockBytes);
}

TEST(Spool, ASegmentCutInsideABlockKeepsTheBlocksBeforeIt) {
    Folder f;
    std::string segment;
    {
        Spool s(settings(f));
        s.append(records(3 * kBlock));
        segment = f.segments().front();
    }
    std::filesystem::resize_file(segment, size_of(segment) - kBlockBytes / 2);  // a power loss
    Spool again(settings(f));
    EXPECT_EQ(ids(read_all(again)), range(0, 2 * kBlock));
    EXPECT_EQ(again.state().damaged.records, kBlock) << "its header says what it held";
    EXPECT_EQ(again.state().damaged_bytes, kBlockBytes - kBlockBytes / 2);
}

TEST(Spool, AMissingSegmentIsCountedAndTheOthersAreRead) {
    Folder f;
    {
        Spool s(settings(f, 64 << 20));  // segments of 4 MiB: 15 blocks
        s.append(records(40 * kBlock));
    }
    auto segments = f.segments();
    ASSERT_EQ(segments.size(), 3u);
    std::filesystem::remove(segments[1]);
    Spool again(settings(f, 64 << 20));
    EXPECT_EQ(again.state().missing_segments, 1u);
    const auto got = read_all(again);
    EXPECT_EQ(got.size(), 25 * kBlock);
    EXPECT_EQ(ids(got).front(), 0u);
    EXPECT_EQ(ids(got)[15 * kBlock - 1], 15 * kBlock - 1);
    EXPECT_EQ(ids(got)[15 * kBlock], 30 * kBlock) << "the third segment follows the first";
}

TEST(Spool, AnotherCollectorsSegmentsInTheFolderAreLeftAlone) {
    Folder f;
    {
        SpoolSettings other = settings(f);
        other.collector = "archive";
        Spool s(other);
        s.append(records(100));
    }
    Spool mine(settings(f));
    EXPECT_TRUE(mine.empty());
    mine.append(records(5));
    EXPECT_EQ(read_all(mine).size(), 5u);
    EXPECT_EQ(f.segments().size(), 2u);
}

TEST(Spool, ADiskThatRefusesAWriteCountsAsAFullSpool) {
    Folder f;
    Spool s(settings(f));
    s.append(records(kBlock));
    // The disk is full beyond a little more than this: writes past it fail (EFBIG).
    signal(SIGXFSZ, SIG_IGN);
    rlimit was{};
    getrlimit(RLIMIT_FSIZE, &was);
    const rlimit small{size_of(f.segments().front()) + kBlockBytes + 100, was.rlim_max};
    setrlimit(RLIMIT_FSIZE, &small);
    const auto offered = records(3 * kBlock, kBlock);
    const RecordTotals dropped = s.append(offered);
    setrlimit(RLIMIT_FSIZE, &was);
    EXPECT_EQ(dropped.records, 2 * kBlock);
    EXPECT_GE(s.state().write_failures, 1u);
    EXPECT_EQ(read_all(s).size(), 2 * kBlock) << "what was written before is whole";
    s.append(records(10, 9000));  // the disk has room again
    EXPECT_EQ(read_all(s).size(), 10u);
}

TEST(Spool, ABlockReadInPartIsStillWhatIsReadNext) {
    Folder f;
    Spool s(settings(f));
    s.append(records(500));
    std::vector<FlowRecord> buf(100);
    ASSERT_EQ(s.read(buf), 100u);
    EXPECT_EQ(s.unread(), 400u);
    EXPECT_FALSE(s.empty()) << "400 records of the block are not read yet";
    EXPECT_EQ(s.state().records, 500u);
    s.release(100);
    EXPECT_EQ(ids(read_all(s)), range(100, 500));
    EXPECT_TRUE(s.empty());
}

TEST(Spool, TheOldestRecordIsKnownBeforeItIsRead) {
    Folder f;
    Spool s(settings(f));
    s.append(records(10, 5));
    s.append(records(5));
    s.tick(Steady::now());
    EXPECT_EQ(s.state().oldest_ns, record(5).first_ns) << "the oldest of the first block";
    std::vector<FlowRecord> buf(10);
    ASSERT_EQ(s.read(buf), 10u);
    s.release(10);
    s.tick(Steady::now());
    EXPECT_EQ(s.state().oldest_ns, record(0).first_ns);
}

TEST(Spool, DropOldestLeavesTheSegmentBeingReadAndDropsTheNextWhole) {
    Folder f;
    Spool s(settings(f, 4 << 20, config::SpoolOverflow::drop_oldest));
    std::uint64_t next = 0;
    while (f.segments().size() < 4 || s.state().bytes + kBlockBytes <= (4u << 20)) {
        ASSERT_EQ(s.append(records(kBlock, static_cast<unsigned>(next))).records, 0u);
        next += kBlock;
    }
    std::vector<FlowRecord> buf(kBlock);
    ASSERT_EQ(s.read(buf), kBlock);  // the first block of the first segment, sent
    s.release(kBlock);               // and confirmed
    const RecordTotals dropped = s.append(records(kBlock, static_cast<unsigned>(next)));
    const std::string second = f.segments()[1];
    EXPECT_EQ(dropped.records, 3 * kBlock) << "the second segment, whole";
    EXPECT_LT(size_of(second), 200u) << "its header stays: the segments' numbers have no gap";
    EXPECT_EQ(dropped.packets, totals(records(3 * kBlock, 3 * kBlock)).packets);
    std::vector<std::uint64_t> expected = range(kBlock, 3 * kBlock);
    for (std::uint64_t i = 6 * kBlock; i < next + kBlock; ++i) expected.push_back(i);
    EXPECT_EQ(ids(read_all(s)), expected);
}

// A TCP collector with a spool in `f` and a buffer of 8192 records.
config::Collector spooled_collector(const Folder& f, std::uint16_t port) {
    config::Collector c = collector_test::collector(config::Transport::tcp, port);
    c.name = "archive";
    c.spool = f.path;
    return c;
}

// The octets of record(0) .. record(n - 1): what a collector receives of them, in order.
std::vector<std::uint64_t> first_octets(unsigned n) {
    std::vector<std::uint64_t> out;
    for (unsigned i = 0; i < n; ++i) out.push_back(record(i).octets);
    return out;
}

// Services `s` until it has sent `records` (or 5 s), keeping what `fd` receives.
std::vector<std::uint8_t> receive(CollectorSession& s, int fd, std::uint64_t records,
                                  Steady::time_point now) {
    std::vector<std::uint8_t> stream, buf(65536);
    const auto deadline = Steady::now() + 5s;
    while (s.counters().records_sent < records && Steady::now() < deadline) {
        s.service(now, collector_test::kReliability);
        for (ssize_t n; (n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;)
            stream.insert(stream.end(), buf.begin(), buf.begin() + n);
        std::this_thread::sleep_for(1ms);
    }
    for (ssize_t n; (n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;)
        stream.insert(stream.end(), buf.begin(), buf.begin() + n);
    return stream;
}

TEST(CollectorSession, RecordsBeyondTheBufferWaitInTheSpoolAndArriveInOrderOnceTheCollectorIsBack) {
    Folder f;
    collector_test::Port port;  // refuses until it listens
    CollectorSession s(spooled_collector(f, port.port), 1, 1);
    auto now = Steady::now();
    for (int i = 0; i < 100 && s.state() != SessionState::down; ++i) {  // refused
        s.service(now, collector_test::kReliability);
        std::this_thread::sleep_for(1ms);
    }
    for (unsigned i = 0; i < 20000; i += 250) s.offer(records(250, i));
    SessionCounters c = s.counters();
    EXPECT_EQ(c.records_buffered, 8192u);
    EXPECT_EQ(c.spool_records, 20000u - 8192u);
    EXPECT_EQ(c.spool_packets, totals(records(20000 - 8192, 8192)).packets);
    EXPECT_EQ(c.records_not_sent, 0u);
    s.offer(records(100, 20000));  // behind the spool, not in the buffer that has room again
    port.listen();
    now += 2s;
    const int fd = port.accept_while([&] { s.service(now, collector_test::kReliability); });
    ASSERT_GE(fd, 0);
    const auto stream = receive(s, fd, 20100, now);
    EXPECT_EQ(collector_test::octets(collector_test::Received(collector_test::messages(stream))),
              first_octets(20100));
    c = s.counters();
    EXPECT_EQ(c.records_sent, 20100u);
    EXPECT_EQ(c.spool_records, 0u);
    EXPECT_EQ(c.spool_replayed, 20100u - 8192u);
    EXPECT_TRUE(s.drained());
    s.close(collector_test::kReliability);
    close(fd);
}

TEST(CollectorSession, AStopLeavesWhatWaitsInTheSpoolAndTheNextSessionSendsItFirst) {
    Folder f;
    collector_test::Port port;
    {
        CollectorSession s(spooled_collector(f, port.port), 1, 1);
        s.service(Steady::now(), collector_test::kReliability);
        for (unsigned i = 0; i < 10000; i += 250) s.offer(records(250, i));
        s.close(collector_test::kReliability);
        const SessionCounters c = s.counters();
        EXPECT_EQ(c.records_not_sent, 0u);
        EXPECT_EQ(c.spool_records, 10000u) << "the buffer's records are in the spool too";
        EXPECT_EQ(c.spool_packets, totals(records(10000)).packets);
    }
    port.listen();
    auto next = std::make_unique<CollectorSession>(spooled_collector(f, port.port), 1, 1);
    EXPECT_EQ(next->counters().spool_start_records, 10000u);
    EXPECT_EQ(next->counters().spool_start_octets, totals(records(10000)).octets);
    auto now = Steady::now();
    const int fd = port.accept_while([&] { next->service(now, collector_test::kReliability); });
    ASSERT_GE(fd, 0);
    next->offer(records(5, 10000));
    const auto stream = receive(*next, fd, 10005, now);
    const auto got =
        collector_test::octets(collector_test::Received(collector_test::messages(stream)));
    ASSERT_EQ(got.size(), 10005u);
    for (unsigned i = 0; i < 10005; ++i) ASSERT_EQ(got[i], record(i).octets) << i;
    next->close(collector_test::kReliability);
    close(fd);
    next.reset();  // the spool closes with its session
    EXPECT_TRUE(f.segments().empty()) << "every record confirmed: the spool is empty";
}

TEST(CollectorSession, RecordsSpooledAsBiflowsWaitForABiflowCollectorAndAreNeverSentAsUniflows) {
    Folder f;
    collector_test::Port port;
    const config::Collector biflow = spooled_collector(f, port.port);
    config::Collector uniflow = biflow;
    uniflow.records = config::Records::uniflow;
    {
        CollectorSession s(biflow, 1, 1);
        s.service(Steady::now(), collector_test::kReliability);  // refused
        s.offer(records(30));
        s.close(collector_test::kReliability);
        EXPECT_EQ(s.counters().spool_records, 30u);
    }
    const auto spooled = f.segments();
    port.listen();
    {
        // Sent in uniflow templates, each record would lose its responder's packets.
        CollectorSession s(uniflow, 1, 1);
        EXPECT_EQ(s.counters().spool_start_records, 0u);
        auto now = Steady::now();
        const int fd = port.accept_while([&] { s.service(now, collector_test::kReliability); });
        ASSERT_GE(fd, 0);
        for (int i = 0; i < 20; ++i) s.service(now, collector_test::kReliability);
        EXPECT_EQ(s.counters().records_sent, 0u);
        s.close(collector_test::kReliability);
        close(fd);
    }
    EXPECT_EQ(f.segments(), spooled) << "left for a biflow collector";
    CollectorSession s(biflow, 1, 1);
    EXPECT_EQ(s.counters().spool_start_records, 30u);
    auto now = Steady::now();
    const int fd = port.accept_while([&] { s.service(now, collector_test::kReliability); });
    ASSERT_GE(fd, 0);
    const auto stream = receive(s, fd, 30, now);
    EXPECT_EQ(collector_test::octets(collector_test::Received(collector_test::messages(stream))),
              first_octets(30));
    EXPECT_EQ(s.counters().records_sent, 30u);
    s.close(collector_test::kReliability);
    close(fd);
}

}  // namespace
}  // namespace sluice::control
