#include "dataplane/meter/dedup.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "tools/pktgen/packet.hpp"

namespace sluice::meter {
namespace {

// A key as random as random_hash_key()'s, fixed so that runs are the same.
constexpr HashKey kKey{{0x243f6a8885a308d3, 0x13198a2e03707344, 0xa4093822299f31d0,
                        0x082efa98ec4e6c89, 0x452821e638d01377, 0xbe5466cf34e90c6c,
                        0xc0ac29b7c97c50dd, 0x3f84d5b5b5470917}};
constexpr std::uint64_t kUs = 1'000;
constexpr std::uint64_t kT0 = 1'700'000'000'000'000'000ull;

class Dedup : public ::testing::Test {
protected:
    void make(std::uint64_t window_ns) {
        const std::size_t bytes = Deduplicator::memory_size(window_ns);
        memory_.reset(std::aligned_alloc(64, bytes));
        std::memset(memory_.get(), 0, bytes);
        dedup_ = std::make_unique<Deduplicator>(window_ns, memory_.get(), kKey);
    }
    void SetUp() override { make(100 * kUs); }

    bool repeated(const std::vector<std::uint8_t>& f, std::uint64_t t) {
        return dedup_->repeated({f.data(), static_cast<std::uint32_t>(f.size()),
                                 static_cast<std::uint32_t>(f.size()), t});
    }
    static std::vector<std::uint8_t> frame(unsigned flow) {
        pktgen::Packet p;
        p.protocol = pktgen::kUdp;
        p.src_port = static_cast<std::uint16_t>(1000 + flow);
        p.dst_port = 53;
        p.payload = 30;
        return pktgen::build(p);
    }

    std::unique_ptr<void, decltype(&std::free)> memory_{nullptr, &std::free};
    std::unique_ptr<Deduplicator> dedup_;
};

TEST(DedupMemory, AsManyLinesAsTheWindowHoldsFramesAt16Mpps) {
    EXPECT_EQ(Deduplicator::memory_size(0), 64u * 64);
    EXPECT_EQ(Deduplicator::memory_size(100 * kUs), 2048u * 64);  // 1600 frames
    EXPECT_EQ(Deduplicator::memory_size(10'000 * kUs), 262144u * 64);
}

TEST_F(Dedup, TheSecondCopyWithinTheWindowIsRepeatedTheFirstIsNot) {
    const auto f = frame(1);
    EXPECT_FALSE(repeated(f, kT0));
    EXPECT_TRUE(repeated(f, kT0 + 20 * kUs));
    EXPECT_TRUE(repeated(f, kT0 + 100 * kUs));  // a third copy, at the window's edge
}

TEST_F(Dedup, ACopyBeyondTheWindowIsANewFrame) {
    const auto f = frame(1);
    EXPECT_FALSE(repeated(f, kT0));
    EXPECT_FALSE(repeated(f, kT0 + 100 * kUs + 1));
    EXPECT_TRUE(repeated(f, kT0 + 150 * kUs));  // of the one just remembered
}

TEST_F(Dedup, ACopyStampedBeforeTheFirstWithinTheWindowIsRepeated) {
    const auto f = frame(1);
    EXPECT_FALSE(repeated(f, kT0 + 30 * kUs));
    EXPECT_TRUE(repeated(f, kT0));
}

TEST_F(Dedup, FramesThatDifferInOneByteOrInLengthAreNotCopies) {
    const auto f = frame(1);
    EXPECT_FALSE(repeated(f, kT0));
    for (std::size_t i = 0; i < f.size(); ++i) {
        auto g = f;
        g[i] ^= 0x01;
        EXPECT_FALSE(repeated(g, kT0 + 1)) << "byte " << i;
    }
    auto longer = f;
    longer.push_back(0);
    EXPECT_FALSE(repeated(longer, kT0 + 1));
    // The same bytes seen, but a frame longer on the wire than captured.
    EXPECT_FALSE(dedup_->repeated({f.data(), static_cast<std::uint32_t>(f.size()),
                                   static_cast<std::uint32_t>(f.size() + 100), kT0 + 1}));
}

TEST_F(Dedup, EveryByteCountsAtEveryLength) {
    // Lengths on each side of the hash's 16- and 64-byte steps, a frame of zeros too, whose
    // shorter prefixes are the same bytes but for their length.
    std::vector<std::uint8_t> bytes(200);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 37);
    for (const std::uint8_t fill : {std::uint8_t{0}, std::uint8_t{1}}) {
        make(100 * kUs);
        for (std::size_t n = 1; n <= bytes.size(); ++n) {
            std::vector<std::uint8_t> f(bytes.begin(), bytes.begin() + static_cast<long>(n));
            if (fill == 0) std::fill(f.begin(), f.end(), 0);
            EXPECT_FALSE(repeated(f, kT0)) << n << " bytes";
            EXPECT_TRUE(repeated(f, kT0 + 1)) << n << " bytes";
            for (std::size_t i = 0; i < n; ++i) {
                auto g = f;
                g[i] ^= 0x80;
                EXPECT_FALSE(
                    dedup_->repeated(dedup_->fingerprint({g.data(), static_cast<std::uint32_t>(n),
                                                          static_cast<std::uint32_t>(n), kT0}),
                                     kT0 + 2))
                    << n << " bytes, byte " << i;
            }
        }
    }
}

TEST_F(Dedup, AtSixteenMppsEveryCopyThirtyTwoFramesLaterIsFoundAndNoOriginalIsTaken) {
    constexpr unsigned kFrames = 20'000, kLag = 32;
    constexpr std::uint64_t kGap = 62;  // ns between frames
    std::vector<std::vector<std::uint8_t>> frames;
    for (unsigned i = 0; i < kFrames; ++i) frames.push_back(frame(i));
    unsigned originals = 0, copies = 0;
    for (unsigned t = 0; t < kFrames + kLag; ++t) {
        if (t < kFrames) originals += repeated(frames[t], kT0 + 2 * t * kGap);
        if (t >= kLag) copies += repeated(frames[t - kLag], kT0 + (2 * t + 1) * kGap);
    }
    EXPECT_EQ(originals, 0u);
    EXPECT_EQ(copies, kFrames);
}

}  // namespace
}  // namespace sluice::meter
