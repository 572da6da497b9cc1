// The capture reader: classic pcap files built byte by byte in the tests, read from memory files.
#include "shared/capture/capture.hpp"

#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
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

// A pcapng file under construction: sections, interfaces, packets and other blocks, each
// section in its own byte order.
struct PcapngBytes {
    std::vector<std::uint8_t> bytes;
    bool big_endian = false;
    std::size_t block_start = 0;

    void put(std::uint64_t v, unsigned size) {
        for (unsigned i = 0; i < size; ++i) {
            const unsigned shift = big_endian ? 8 * (size - 1 - i) : 8 * i;
            bytes.push_back(static_cast<std::uint8_t>(v >> shift));
        }
    }
    void begin(std::uint32_t type) {
        block_start = bytes.size();
        put(type, 4);
        put(0, 4);  // the length, once known
    }
    void end() {
        while (bytes.size() % 4 != 0) bytes.push_back(0);
        const auto length = static_cast<std::uint32_t>(bytes.size() + 4 - block_start);
        put(length, 4);
        std::copy(bytes.end() - 4, bytes.end(), bytes.begin() + static_cast<long>(block_start) + 4);
    }
    void section(bool big) {
        big_endian = big;
        begin(0x0a0d0d0a);
        put(0x1a2b3c4d, 4);
        put(1, 2);
        put(0, 2);
        put(~0ull, 8);
        end();
    }
    // An interface; `resolution` the if_tsresol byte (0: none, microseconds), `offset` the
    // if_tsoffset seconds (0: none).
    void interface(std::uint16_t linktype, std::uint8_t resolution = 0, std::uint64_t offset = 0,
                   std::uint32_t snap = 0) {
        begin(1);
        put(linktype, 2);
        put(0, 2);
        put(snap, 4);
        if (resolution != 0) {
            put(9, 2);
            put(1, 2);
            bytes.push_back(resolution);
            bytes.insert(bytes.end(), 3, 0);
        }
        if (offset != 0) {
            put(14, 2);
            put(8, 2);
            put(offset, 8);
        }
        put(0, 4);  // opt_endofopt
        end();
    }
    void packet(std::uint32_t interface, std::uint64_t units, std::uint32_t captured,
                std::uint32_t original, std::uint8_t seed = 0) {
        begin(6);
        put(interface, 4);
        put(units >> 32, 4);
        put(units & 0xffffffff, 4);
        put(captured, 4);
        put(original, 4);
        for (std::uint32_t i = 0; i < captured; ++i)
            bytes.push_back(static_cast<std::uint8_t>(i + seed));
        end();
    }
    void simple_packet(std::uint32_t original, std::uint32_t in_block) {
        begin(3);
        put(original, 4);
        bytes.insert(bytes.end(), in_block, 0x42);
        end();
    }
    void other_block(std::uint32_t type, std::size_t body) {
        begin(type);
        bytes.insert(bytes.end(), body, 0x17);
        end();
    }
};

// `bytes` as gzip writes them (one member).
std::vector<std::uint8_t> gzip(const std::vector<std::uint8_t>& bytes) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::vector<std::uint8_t> out(deflateBound(&z, bytes.size()));
    z.next_in = const_cast<std::uint8_t*>(bytes.data());
    z.avail_in = static_cast<uInt>(bytes.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::vector<std::uint8_t> zstd(const std::vector<std::uint8_t>& bytes) {
    std::vector<std::uint8_t> out(ZSTD_compressBound(bytes.size()));
    const std::size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
    EXPECT_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

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

TEST(CaptureReader, RefusesWhatIsNotACaptureOfALinkTypeItMeters) {
    CaptureReader r;
    EXPECT_FALSE(open_bytes(r, {1, 2, 3}));
    EXPECT_EQ(r.error(), "test.pcap: not a capture file: shorter than a file header");
    std::vector<std::uint8_t> text(64, 'x');
    EXPECT_FALSE(open_bytes(r, text));
    EXPECT_EQ(r.error(),
              "test.pcap: not a pcap or pcapng file (it starts with neither's magic "
              "number)");
    PcapBytes radio(kMicro, false, 127);
    EXPECT_FALSE(open_bytes(r, radio.bytes));
    EXPECT_EQ(r.error().rfind("test.pcap: link type 802.11 plus radiotap header (127), which "
                              "Sluice does not meter; Sluice meters Ethernet, ",
                              0),
              0u)
        << r.error();
    EXPECT_FALSE(r.open("/nonexistent/trace.pcap"));
    EXPECT_EQ(r.error(), "/nonexistent/trace.pcap: No such file or directory");
}

TEST(CaptureReader, TakesTheLinkTypesAnalystsHold) {
    for (const LinkTypeInfo& l : kLinkTypes) {
        PcapBytes f(kMicro, false, l.value | 0x10000000);  // an FCS flag above the link type
        f.record(1, 0, 60, 60);
        CaptureReader r;
        ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
        EXPECT_EQ(read_all(r, nullptr).size(), 1u);
        EXPECT_EQ(r.link(), l.type) << l.name;
        EXPECT_EQ(r.describe(), "pcap, " + std::string(l.name) + " (" + std::to_string(l.value) +
                                    "), microsecond timestamps");
    }
}

TEST(CaptureReader, KnowsACaptureByItsFirstFourBytes) {
    EXPECT_TRUE(CaptureReader::is_capture(PcapBytes(kMicro, false).bytes.data()));
    EXPECT_TRUE(CaptureReader::is_capture(PcapBytes(kNano, true).bytes.data()));
    const std::uint8_t pcapng[4] = {0x0a, 0x0d, 0x0d, 0x0a};
    EXPECT_TRUE(CaptureReader::is_capture(pcapng));
    const std::uint8_t text[4] = {'#', ' ', 'a', 'b'};
    EXPECT_FALSE(CaptureReader::is_capture(text));
}

// Reads a capture burst by burst: each burst's link type and packets, with the first byte of
// each (a packet's bytes are valid until the next call only).
struct Burst {
    LinkType link;
    std::vector<PacketRef> packets;
    std::vector<std::uint8_t> first_bytes;
};
std::vector<Burst> bursts(CaptureReader& r) {
    std::vector<Burst> out;
    PacketRef burst[64];
    for (unsigned n; (n = r.next(burst, 64)) != 0;) {
        out.push_back({r.link(), {burst, burst + n}, {}});
        for (unsigned i = 0; i < n; ++i) out.back().first_bytes.push_back(burst[i].data[0]);
    }
    return out;
}

TEST(CaptureReader, ReadsPcapngInterfacesEachWithItsLinkTypeAndTimestampResolution) {
    PcapngBytes f;
    f.section(false);
    f.interface(1);                   // Ethernet, microseconds
    f.interface(113, 9);              // Linux cooked, nanoseconds
    f.interface(101, 0x80 | 20, 10);  // raw IP, 2^-20 s, ten seconds later
    f.packet(0, 1'700'000'000'123'456, 60, 60);
    f.packet(0, 1'700'000'000'123'457, 61, 61);
    f.packet(1, 1'700'000'000'999'999'999, 62, 62);
    f.packet(1, 1'700'000'001'000'000'000, 63, 63);
    f.packet(0, 1'700'000'002'000'000, 64, 64);
    f.packet(2, (3ull << 20) | (1u << 19), 65, 65);
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    EXPECT_EQ(r.describe(),
              "pcapng, 3 interfaces: Ethernet (1), Linux cooked capture (SLL) (113), raw IP (101)");
    const auto b = bursts(r);
    EXPECT_TRUE(r.error().empty()) << r.error();
    ASSERT_EQ(b.size(), 4u) << "a burst holds packets of one link type";
    EXPECT_EQ(b[0].link, LinkType::ethernet);
    ASSERT_EQ(b[0].packets.size(), 2u);
    EXPECT_EQ(b[0].packets[0].time_ns, 1'700'000'000'123'456'000u);
    EXPECT_EQ(b[0].packets[1].length, 61u);
    EXPECT_EQ(b[1].link, LinkType::linux_sll);
    ASSERT_EQ(b[1].packets.size(), 2u);
    EXPECT_EQ(b[1].packets[0].time_ns, 1'700'000'000'999'999'999u);
    EXPECT_EQ(b[2].link, LinkType::ethernet);
    EXPECT_EQ(b[2].packets[0].time_ns, 1'700'000'002'000'000'000u);
    EXPECT_EQ(b[3].link, LinkType::raw);
    EXPECT_EQ(b[3].packets[0].time_ns, 13'500'000'000u) << "3.5 s in 2^-20 s, plus the offset";
    EXPECT_EQ(r.packets(), 6u);
}

TEST(CaptureReader, ReadsSeveralSectionsEachWithItsOwnByteOrderAndInterfaces) {
    PcapngBytes f;
    f.section(false);
    f.interface(1, 9);
    f.packet(0, 5'000'000'000, 60, 60, 1);
    f.section(true);  // big-endian; its interface 0 is another one
    f.interface(276, 6);
    f.packet(0, 7'000'000, 70, 80, 2);
    CaptureReader r(100);
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    const auto b = bursts(r);
    EXPECT_TRUE(r.error().empty()) << r.error();
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0].link, LinkType::ethernet);
    EXPECT_EQ(b[0].packets[0].time_ns, 5'000'000'000u);
    EXPECT_EQ(b[0].first_bytes[0], 1);
    EXPECT_EQ(b[1].link, LinkType::linux_sll2);
    EXPECT_EQ(b[1].packets[0].time_ns, 7'000'000'000u);
    EXPECT_EQ(b[1].packets[0].length, 70u);
    EXPECT_EQ(b[1].packets[0].frame_length, 80u) << "the packet's length on the wire";
    EXPECT_EQ(b[1].first_bytes[0], 2);
}

TEST(CaptureReader, ReadsSimplePacketBlocksWithTheFirstInterfacesSnapLength) {
    PcapngBytes f;
    f.section(false);
    f.interface(1, 0, 0, 64);
    f.packet(0, 1'000'000, 60, 60);
    f.simple_packet(1514, 64);  // a 1514-byte frame, its first 64 bytes captured
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    const auto all = read_all(r, nullptr);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[1].length, 64u);
    EXPECT_EQ(all[1].frame_length, 1514u);
    EXPECT_EQ(all[1].time_ns, 1'000'000'000u) << "no time of its own: the last packet's";
}

TEST(CaptureReader, SkipsBlocksItDoesNotReadEvenThoseLargerThanItsBuffer) {
    PcapngBytes f;
    f.section(false);
    f.other_block(4, 40);  // a name resolution block
    f.interface(1);
    f.other_block(0x40000bad, 5000);  // a custom block, ten reads long
    f.packet(0, 1, 60, 60, 9);
    f.other_block(5, 20);  // interface statistics
    CaptureReader r(512);
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    std::vector<std::vector<std::uint8_t>> data;
    const auto all = read_all(r, &data);
    EXPECT_TRUE(r.error().empty()) << r.error();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(data[0][0], 9);
}

TEST(CaptureReader, APcapngFileCutAnywhereInItsLastBlockGivesTheWholeOnesAndSaysWhere) {
    PcapngBytes f;
    f.section(false);
    f.interface(1);
    f.packet(0, 1, 100, 100);
    const std::size_t whole = f.bytes.size();
    f.packet(0, 2, 100, 100);
    for (std::size_t cut = whole + 1; cut < f.bytes.size(); ++cut) {
        CaptureReader r(64);
        ASSERT_TRUE(open_bytes(r, {f.bytes.begin(), f.bytes.begin() + static_cast<long>(cut)}));
        const auto all = read_all(r, nullptr);
        EXPECT_EQ(all.size(), 1u) << "cut at " << cut;
        EXPECT_NE(r.error().find("test.pcap: ends inside a block"), std::string::npos) << r.error();
        EXPECT_NE(r.error().find("at offset " + std::to_string(whole)), std::string::npos)
            << r.error();
    }
}

TEST(CaptureReader, RefusesAPcapngFileOfNoLinkTypeItMeters) {
    PcapngBytes f;
    f.section(false);
    f.interface(127);
    f.interface(105);
    f.packet(0, 1, 60, 60);
    CaptureReader r;
    EXPECT_FALSE(open_bytes(r, f.bytes));
    EXPECT_EQ(r.error().rfind("test.pcap: its interfaces' link types are 802.11 plus radiotap "
                              "header (127), 802.11 (105), none of which Sluice meters",
                              0),
              0u)
        << r.error();
}

TEST(CaptureReader, AnInterfaceOfAnotherLinkTypeLaterOnIsNotedOnceAndItsPacketsComeAsSuch) {
    PcapngBytes f;
    f.section(false);
    f.interface(1);
    f.packet(0, 1, 60, 60);
    f.interface(127);  // later in the first section
    f.packet(1, 2, 60, 60);
    f.section(false);
    f.interface(127);  // and again in the next: noted once
    f.interface(105);
    f.packet(0, 3, 60, 60);
    f.packet(1, 4, 60, 60);
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    const auto b = bursts(r);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[1].link, LinkType::unsupported) << "the parser counts them as ignored";
    EXPECT_EQ(b[1].packets.size(), 3u);
    ASSERT_EQ(r.notices().size(), 2u);
    EXPECT_EQ(r.notices()[0],
              "test.pcap: interface 1 of section 1 is 802.11 plus radiotap header (127), which "
              "Sluice does not meter: its packets are counted as ignored (unsupported_link_type)");
    EXPECT_EQ(r.notices()[1].rfind("test.pcap: interface 1 of section 2 is 802.11 (105)", 0), 0u);
}

TEST(CaptureReader, ReadsObsoletePacketBlocks) {
    PcapngBytes f;
    f.section(false);
    f.interface(1, 9);
    f.begin(2);  // interface 0, no drops, the time, the lengths, the packet
    f.put(0, 2);
    f.put(0, 2);
    f.put(0, 4);
    f.put(123, 4);
    f.put(60, 4);
    f.put(1514, 4);
    f.bytes.insert(f.bytes.end(), 60, 0x33);
    f.end();
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    const auto all = read_all(r, nullptr);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].time_ns, 123u);
    EXPECT_EQ(all[0].length, 60u);
    EXPECT_EQ(all[0].frame_length, 1514u);
}

TEST(CaptureReader, ASimplePacketBlockGivesNoMoreThanACaptureMayHold) {
    PcapngBytes f;
    f.section(false);
    f.interface(1);
    f.simple_packet(400000, CaptureReader::kMaxRecord + 1000);
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    const auto all = read_all(r, nullptr);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].length, CaptureReader::kMaxRecord);
    EXPECT_EQ(all[0].frame_length, 400000u);
}

TEST(CaptureReader, ANegativeTimestampOffsetIsTakenAsIs) {
    PcapngBytes f;
    f.section(false);
    f.interface(1, 9, ~std::uint64_t{0});  // one second before what the packets say
    f.packet(0, 5'000'000'000, 60, 60);
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    const auto all = read_all(r, nullptr);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].time_ns, 4'000'000'000u);
}

TEST(CaptureReader, StopsAtDamagedPcapngBlocksAndSaysWhere) {
    auto read = [](PcapngBytes f) {
        CaptureReader r;
        if (!open_bytes(r, f.bytes)) return r.error();
        read_all(r, nullptr);
        return r.error();
    };
    PcapngBytes f;
    f.section(false);
    f.interface(1);
    const std::string at = " at offset " + std::to_string(f.bytes.size());
    PcapngBytes unknown = f;
    unknown.packet(3, 1, 60, 60);
    EXPECT_EQ(read(unknown), "test.pcap: a packet of interface 3" + at +
                                 ", which its section does not describe: the file is damaged");
    PcapngBytes odd = f;
    odd.put(6, 4);
    odd.put(30, 4);  // not a multiple of 4
    odd.bytes.insert(odd.bytes.end(), 30, 0);
    EXPECT_EQ(read(odd), "test.pcap: a block of 30 bytes" + at + ": the file is damaged");
    PcapngBytes lengths = f;
    lengths.packet(0, 1, 60, 60);
    lengths.bytes.back() ^= 1;
    EXPECT_EQ(read(lengths), "test.pcap: the block" + at +
                                 " ends with another length than it begins with: the file is "
                                 "damaged");
    PcapngBytes longer = f;
    longer.packet(0, 1, 60, 60);
    longer.bytes[longer.bytes.size() - 60 - 4 - 8] = 200;  // captured: beyond the block
    EXPECT_EQ(read(longer), "test.pcap: a packet block" + at +
                                " holds a packet of 200 bytes, longer than the block: the file is "
                                "damaged");
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

// Records of 60 to 1459 bytes, each with its own first byte and time.
PcapBytes many_records(std::uint32_t n) {
    PcapBytes f(kNano, false);
    for (std::uint32_t i = 0; i < n; ++i)
        f.record(1'700'000'000 + i, i, 60 + i * 7 % 1400, 60 + i * 7 % 1400,
                 static_cast<std::uint8_t>(i));
    return f;
}

void expect_records(const std::vector<PacketRef>& all,
                    const std::vector<std::vector<std::uint8_t>>& data, std::uint32_t n) {
    ASSERT_EQ(all.size(), n);
    for (std::uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(all[i].length, 60 + i * 7 % 1400) << i;
        ASSERT_EQ(all[i].time_ns, (1'700'000'000ull + i) * 1'000'000'000 + i) << i;
        ASSERT_EQ(data[i][0], static_cast<std::uint8_t>(i)) << i;
        ASSERT_EQ(data[i].back(), static_cast<std::uint8_t>(i + all[i].length - 1)) << i;
    }
}

TEST(CaptureReader, ReadsGzipAndZstdCapturesAsTheBytesTheyHold) {
    const PcapBytes f = many_records(20000);  // about 14 MB: several reads of each
    for (const auto& [packed, encoding] : {std::pair{gzip(f.bytes), ByteStream::Encoding::gzip},
                                           std::pair{zstd(f.bytes), ByteStream::Encoding::zstd}}) {
        CaptureReader r;
        ASSERT_TRUE(open_bytes(r, packed)) << r.error();
        EXPECT_EQ(r.encoding(), encoding);
        std::vector<std::vector<std::uint8_t>> data;
        const auto all = read_all(r, &data);
        EXPECT_EQ(r.error(), "");
        expect_records(all, data, 20000);
        EXPECT_EQ(r.consumed(), packed.size());
    }
}

TEST(CaptureReader, ReadsGzipMembersJoinedOneAfterTheOther) {
    PcapBytes f = many_records(3);
    const std::size_t first = f.bytes.size();
    f.record(1'700'000'003, 3, 81, 81, 3);
    std::vector<std::uint8_t> joined = gzip({f.bytes.begin(), f.bytes.begin() + first});
    const auto second = gzip({f.bytes.begin() + first, f.bytes.end()});
    joined.insert(joined.end(), second.begin(), second.end());  // cat a.gz b.gz
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, joined)) << r.error();
    std::vector<std::vector<std::uint8_t>> data;
    EXPECT_EQ(read_all(r, &data).size(), 4u);
    EXPECT_EQ(r.error(), "");
}

TEST(CaptureReader, ACompressedFileCutAnywhereGivesTheWholeRecordsBeforeAndSaysWhere) {
    const PcapBytes f = many_records(200);
    for (const auto& [packed, name] :
         {std::pair{gzip(f.bytes), "gzip"}, std::pair{zstd(f.bytes), "zstd"}}) {
        for (std::size_t cut = 10; cut < packed.size(); cut += 53) {
            CaptureReader r(4096);
            if (!open_bytes(r, {packed.begin(), packed.begin() + static_cast<long>(cut)})) {
                // Cut before a whole file header came out.
                EXPECT_NE(r.error().find("test.pcap: "), std::string::npos) << r.error();
                continue;
            }
            std::vector<std::vector<std::uint8_t>> data;
            const auto all = read_all(r, &data);
            ASSERT_LT(all.size(), 200u) << name << " cut at " << cut;
            for (std::size_t i = 0; i < all.size(); ++i)
                ASSERT_EQ(data[i][0], static_cast<std::uint8_t>(i)) << name << " cut at " << cut;
            const std::string expected = std::string("test.pcap: its ") + name +
                                         " data ends early, after " + std::to_string(cut) +
                                         " bytes of the file";
            EXPECT_EQ(r.error().substr(0, expected.size()), expected) << r.error();
            EXPECT_TRUE(r.done());
        }
    }
}

TEST(CaptureReader, SaysWhereCompressedDataIsDamagedAfterHandingOutWhatCameBefore) {
    const PcapBytes f = many_records(2000);
    std::vector<std::uint8_t> packed = gzip(f.bytes);
    packed[packed.size() - 8] ^= 0x5a;  // the trailer's CRC-32 of the whole
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, packed)) << r.error();
    EXPECT_EQ(read_all(r, nullptr).size(), 2000u) << "what came before the damage was found";
    // Found once the CRC is read: 4 bytes before the end (the length follows it).
    EXPECT_EQ(r.error(), "test.pcap: its gzip data is damaged after " +
                             std::to_string(packed.size() - 4) +
                             " bytes of the file: incorrect data check");
}

TEST(CaptureReader, ReadsAFileInPlaceAndItsPacketsStayUntilTheNextOpen) {
    const PcapBytes f = many_records(3000);
    CaptureReader r;
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    // Every packet is read before any is looked at: none of their bytes has moved.
    const auto all = read_all(r, nullptr);
    EXPECT_EQ(r.error(), "");
    EXPECT_EQ(r.consumed(), f.bytes.size());
    std::vector<std::vector<std::uint8_t>> data;
    for (const PacketRef& p : all) data.emplace_back(p.data, p.data + p.length);
    expect_records(all, data, 3000);
    // Cut inside its last record: the whole ones, and where it ends.
    CaptureReader cut;
    ASSERT_TRUE(open_bytes(cut, {f.bytes.begin(), f.bytes.end() - 5}));
    EXPECT_EQ(read_all(cut, nullptr).size(), 2999u);
    EXPECT_NE(cut.error().find("test.pcap: ends inside the packet at offset"), std::string::npos)
        << cut.error();
}

TEST(CaptureReader, ReadsACaptureFromAPipe) {
    const PcapBytes f = many_records(5000);
    const std::vector<std::uint8_t> packed = zstd(f.bytes);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::thread writer([&] {
        // In small writes, as a program writing to standard output would.
        for (std::size_t at = 0; at < packed.size(); at += 1000)
            ASSERT_GT(
                write(fds[1], packed.data() + at, std::min<std::size_t>(1000, packed.size() - at)),
                0);
        close(fds[1]);
    });
    CaptureReader r;
    ASSERT_TRUE(r.open_fd(fds[0], "standard input")) << r.error();
    std::vector<std::vector<std::uint8_t>> data;
    const auto all = read_all(r, &data);
    writer.join();
    EXPECT_EQ(r.error(), "");
    expect_records(all, data, 5000);
}

TEST(CaptureReader, PacketsInLentBuffersStayUntilTheirBufferIsLentAgain) {
    const PcapBytes f = many_records(3000);
    std::vector<std::unique_ptr<std::uint8_t[]>> lent;
    CaptureReader r(8192);
    r.lend_buffers([&] {
        lent.push_back(std::make_unique<std::uint8_t[]>(CaptureReader::buffer_size(8192)));
        return lent.back().get();
    });
    ASSERT_TRUE(open_bytes(r, f.bytes)) << r.error();
    // Every packet is read before any is looked at: none of their bytes has moved.
    const auto all = read_all(r, nullptr);
    EXPECT_GT(lent.size(), 100u) << "a buffer for each read";
    std::vector<std::vector<std::uint8_t>> data;
    for (const PacketRef& p : all) data.emplace_back(p.data, p.data + p.length);
    expect_records(all, data, 3000);
}

}  // namespace
}  // namespace sluice::meter
