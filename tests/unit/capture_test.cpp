// The capture reader: classic pcap files built byte by byte in the tests, read from memory files.
#include "capture.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace sluice::meter {
namespace {

// A pcap file under construction: a file header, then records.
struct PcapBytes {
    std::vector<std::uint8_t> bytes;
    bool big_endian;

    void put32(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) {
            const int shift = big_endian ? 24 - 8 * i : 8 * i;
            bytes.push_back(static_cast<std::uint8_t>(v >> shift));
        }
    }
    void put16(std::uint16_t v) {
        bytes.push_back(static_cast<std::uint8_t>(big_endian ? v >> 8 : v));
        bytes.push_back(static_cast<std::uint8_t>(big_endian ? v : v >> 8));
    }

    PcapBytes(std::uint32_t magic, bool big, std::uint32_t link = 1) : big_endian(big) {
        put32(magic);
        put16(2);
        put16(4);
        put32(0);
        put32(0);
        put32(65535);
        put32(link);
    }

    // A record of `captured` bytes (each its index's low byte plus `seed`) of a `length`-byte
    // frame.
    void record(std::uint32_t seconds, std::uint32_t fraction, std::uint32_t captured,
                std::uint32_t length, std::uint8_t seed = 0) {
        put32(seconds);
        put32(fraction);
        put32(captured);
        put32(length);
        for (std::uint32_t i = 0; i < captured; ++i)
            bytes.push_back(static_cast<std::uint8_t>(i + seed));
    }
};

constexpr std::uint32_t kMicro = 0xa1b2c3d4, kNano = 0xa1b23c4d;

// A reader of `bytes`, through a memory file.
bool open_bytes(CaptureReader& r, const std::vector<std::uint8_t>& bytes) {
    const int fd = memfd_create("capture", MFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    lseek(fd, 0, SEEK_SET);
    return r.open_fd(fd, "test.pcap");
}

std::vector<PacketRef> read_all(CaptureReader& r, std::vector<std::vector<std::uint8_t>>* data) {
    std::vector<PacketRef> all;
    PacketRef burst[64];
    for (unsigned n; (n = r.next(burst, 64)) != 0;) {
        for (unsigned i = 0; i < n; ++i) {
            all.push_back(burst[i]);
            if (data) data->emplace_back(burst[i].data, burst[i].data + burst[i].length);
        }
    }
    return all;
}

TEST(CaptureReader, ReadsNanosecondRecordsInOrderAcrossManyReads) {
    PcapBytes f(kNano, false);
    // 40000 records of 200 to 399 bytes: about 12 MB, three reads of the buffer and more.
    for (std::uint32_t i = 0; i < 40000; ++i)
        f.record(1'700'000'000 + i / 1000, i * 7, 200 + i % 200, 200 + i % 200,
                 static_cast<std::uint8_t>(i));
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    std::vector<std::vector<std::uint8_t>> data;
    const auto all = read_all(r, &data);
    EXPECT_TRUE(r.error().empty()) << r.error();
    ASSERT_EQ(all.size(), 40000u);
    for (std::uint32_t i = 0; i < 40000; ++i) {
        ASSERT_EQ(all[i].length, 200 + i % 200) << i;
        EXPECT_EQ(all[i].frame_length, 200 + i % 200);
        EXPECT_EQ(all[i].time_ns, (1'700'000'000ull + i / 1000) * 1'000'000'000 + i * 7);
        EXPECT_EQ(data[i][0], static_cast<std::uint8_t>(i));
        EXPECT_EQ(data[i].back(), static_cast<std::uint8_t>(i + all[i].length - 1));
    }
    EXPECT_EQ(r.packets(), 40000u);
    EXPECT_TRUE(r.done());
}

TEST(CaptureReader, ReadsRecordsLargerThanOneRead) {
    PcapBytes f(kNano, false);
    for (std::uint32_t i = 0; i < 50; ++i)
        f.record(1, i, 9000 + i, 9000 + i, static_cast<std::uint8_t>(i));
    CaptureReader r(1000);
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    std::vector<std::vector<std::uint8_t>> data;
    const auto all = read_all(r, &data);
    EXPECT_TRUE(r.error().empty()) << r.error();
    ASSERT_EQ(all.size(), 50u);
    for (std::uint32_t i = 0; i < 50; ++i) {
        EXPECT_EQ(all[i].length, 9000 + i);
        EXPECT_EQ(data[i][100], static_cast<std::uint8_t>(100 + i));
    }
}

TEST(CaptureReader, ReadsBigEndianMicrosecondFiles) {
    PcapBytes f(kMicro, true);
    f.record(10, 250'000, 60, 60);
    f.record(11, 999'999, 64, 64);
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    const auto all = read_all(r, nullptr);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].time_ns, 10'250'000'000u);
    EXPECT_EQ(all[1].time_ns, 11'999'999'000u);
    EXPECT_EQ(all[1].length, 64u);
}

TEST(CaptureReader, ASnapLengthCaptureKeepsEachFramesOriginalLength) {
    PcapBytes f(kMicro, false);
    f.record(1, 0, 96, 1514);
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    const auto all = read_all(r, nullptr);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].length, 96u) << "the bytes there are";
    EXPECT_EQ(all[0].frame_length, 1514u) << "the frame on the wire";
}

TEST(CaptureReader, AFileCutAnywhereInItsLastRecordGivesTheWholeOnesAndSaysWhere) {
    PcapBytes f(kNano, false);
    f.record(1, 0, 100, 100);
    f.record(2, 0, 100, 100);
    const std::size_t whole = 24 + 116;
    for (std::size_t cut = whole + 1; cut < f.bytes.size(); ++cut) {
        CaptureReader r(64);
        ASSERT_TRUE(open_bytes(r, {f.bytes.begin(), f.bytes.begin() + static_cast<long>(cut)}));
        const auto all = read_all(r, nullptr);
        EXPECT_EQ(all.size(), 1u) << "cut at " << cut;
        EXPECT_NE(r.error().find("test.pcap: ends inside"), std::string::npos) << r.error();
        EXPECT_NE(r.error().find("at offset 140"), std::string::npos) << r.error();
        EXPECT_TRUE(r.done());
    }
}

TEST(CaptureReader, RefusesWhatIsNotAClassicPcapOfEthernetFrames) {
    CaptureReader r;
    EXPECT_FALSE(open_bytes(r, {1, 2, 3}));
    EXPECT_EQ(r.error(), "test.pcap: not a pcap file: shorter than a pcap file header");
    std::vector<std::uint8_t> text(64, 'x');
    EXPECT_FALSE(open_bytes(r, text));
    EXPECT_EQ(r.error(), "test.pcap: not a pcap file (no pcap magic number)");
    PcapBytes ng(0x0a0d0d0a, false);
    EXPECT_FALSE(open_bytes(r, ng.bytes));
    EXPECT_EQ(r.error(), "test.pcap: a pcapng file; this reader takes classic pcap files");
    PcapBytes cooked(kMicro, false, 113);  // Linux cooked capture (tcpdump -i any)
    EXPECT_FALSE(open_bytes(r, cooked.bytes));
    EXPECT_EQ(r.error(), "test.pcap: link type 113, not Ethernet (1)");
    EXPECT_FALSE(r.open("/nonexistent/trace.pcap"));
    EXPECT_EQ(r.error(), "/nonexistent/trace.pcap: No such file or directory");
}

TEST(CaptureReader, KnowsAPcapFileByItsFirstFourBytes) {
    EXPECT_TRUE(CaptureReader::is_pcap(PcapBytes(kMicro, false).bytes.data()));
    EXPECT_TRUE(CaptureReader::is_pcap(PcapBytes(kNano, true).bytes.data()));
    EXPECT_FALSE(CaptureReader::is_pcap(PcapBytes(0x0a0d0d0a, false).bytes.data()));
}

TEST(CaptureReader, SaysWhyAFileCannotBeRead) {
    CaptureReader r;
    EXPECT_FALSE(r.open("/"));
    EXPECT_EQ(r.error(), "/: Is a directory");
}

TEST(CaptureReader, StopsAtARecordLongerThanAnyCaptureHolds) {
    PcapBytes f(kMicro, false);
    f.record(1, 0, 60, 60);
    f.put32(2);
    f.put32(0);
    f.put32(0x7fffffff);  // captured length
    f.put32(60);
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes));
    EXPECT_EQ(read_all(r, nullptr).size(), 1u);
    EXPECT_EQ(r.error(),
              "test.pcap: a record of 2147483647 bytes at offset 100: the file is damaged");
}

}  // namespace
}  // namespace sluice::meter
