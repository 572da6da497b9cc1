// Duplicate frames: a SPAN session that mirrors both directions of two ports delivers each
// packet twice, microseconds apart. The second copy (the same bytes within the window) is
// dropped before it is metered, and counted as ignored (`duplicate`).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/meter/hash.hpp"
#include "shared/capture/packet_ref.hpp"

namespace sluice::meter {

// The frames of one port queue's last `window_ns`, by a keyed 64-bit hash of their bytes and
// length: a set of 4-way buckets of one cache line each, the oldest of a bucket replaced. As many
// buckets as a window holds frames at 16 Mpps: a copy is missed only when four other frames fall
// into its bucket between the two copies (microseconds apart on a SPAN), and two different
// frames are taken for each other only when their 63-bit hashes are equal.
class Deduplicator {
public:
    static constexpr std::uint64_t kPacketsPerSecond = 16'000'000;
    static constexpr unsigned kWays = 4;

    // The bytes a window's buckets take: a power of two of 64-byte lines, 64 at least (100us:
    // 128 KiB; 10ms: 16 MiB).
    static std::size_t memory_size(std::uint64_t window_ns);

    // `memory`: memory_size(window_ns) bytes, 64-byte aligned, zeroed.
    Deduplicator(std::uint64_t window_ns, void* memory, const HashKey& key);

    // The frame's fingerprint: a hash of its bytes (those at data: of a frame in several
    // buffers, its first ones) and its length on the wire. Its bucket starts to be fetched.
    std::uint64_t fingerprint(const PacketRef& p) const;

    // Whether a frame of this fingerprint was seen at most window_ns before or after
    // `time_ns`; remembers it if not.
    bool repeated(std::uint64_t fingerprint, std::uint64_t time_ns);
    bool repeated(const PacketRef& p) { return repeated(fingerprint(p), p.time_ns); }

private:
    struct alignas(64) Bucket {
        std::uint64_t hash[kWays];  // bit 0 set: 0 is an empty way
        std::uint64_t time_ns[kWays];
    };
    static_assert(sizeof(Bucket) == 64);

    Bucket* buckets_;
    std::uint64_t mask_;
    std::uint64_t window_ns_;
    HashKey key_;
};

inline std::uint64_t Deduplicator::fingerprint(const PacketRef& p) const {
    const std::uint64_t h = hash_bytes(p.data, p.length, p.frame_length, key_) | 1;
    __builtin_prefetch(&buckets_[(h >> 32) & mask_]);
    return h;
}

inline bool Deduplicator::repeated(std::uint64_t fingerprint, std::uint64_t time_ns) {
    Bucket& b = buckets_[(fingerprint >> 32) & mask_];
    unsigned same = 0;
    for (unsigned w = 0; w < kWays; ++w) same |= unsigned{b.hash[w] == fingerprint} << w;
    for (; same != 0; same &= same - 1) {  // almost always none
        const std::uint64_t t = b.time_ns[__builtin_ctz(same)];
        if ((time_ns >= t ? time_ns - t : t - time_ns) <= window_ns_) return true;
    }
    const unsigned a = b.time_ns[1] < b.time_ns[0] ? 1 : 0;
    const unsigned c = b.time_ns[3] < b.time_ns[2] ? 3 : 2;
    const unsigned oldest = b.time_ns[c] < b.time_ns[a] ? c : a;
    b.hash[oldest] = fingerprint;
    b.time_ns[oldest] = time_ns;
    return false;
}

}  // namespace sluice::meter
