// A keyed hash of 40-byte keys, seeded at random each start, so that an attacker who does not
// know the seed cannot aim packets at one bucket (hash flooding).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/meter/packet.hpp"

namespace sluice::meter {

// GCC and Clang's 128-bit integer, for full 64x64-bit products.
__extension__ typedef unsigned __int128 uint128;

struct HashKey {
    std::uint64_t k[8];
};

// A fresh key from the kernel's random source.
HashKey random_hash_key();

namespace detail {
// 64x64 -> 128-bit multiply, folded: the non-linear mixing step of wyhash-style hashes.
inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
    const uint128 p = static_cast<uint128>(a) * b;
    return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}
inline std::uint64_t load64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
}  // namespace detail

// Hashes exactly 40 bytes. Each 64-bit word is masked with its own secret before the
// multiplications, so collisions depend on the key.
inline std::uint64_t hash40(const void* data, const HashKey& key) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    using detail::load64;
    using detail::mix;
    const std::uint64_t a = mix(load64(p) ^ key.k[0], load64(p + 8) ^ key.k[1]);
    const std::uint64_t b = mix(load64(p + 16) ^ key.k[2], load64(p + 24) ^ key.k[3]);
    const std::uint64_t c = mix(load64(p + 32) ^ key.k[4], 40 ^ key.k[5]);
    return mix(a ^ key.k[6], b ^ c ^ key.k[7]);
}

// Hashes exactly 16 bytes, as hash40 does 40.
inline std::uint64_t hash16(const void* data, const HashKey& key) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    using detail::load64;
    using detail::mix;
    const std::uint64_t a = mix(load64(p) ^ key.k[0], load64(p + 8) ^ key.k[1]);
    return mix(a ^ key.k[6], 16 ^ key.k[7]);
}

// Hashes `n` bytes of any length and a 64-bit `seed`: four lanes of 16 bytes each step, each
// word masked with its lane's secret and folded into the lane's last result, so a 64-byte
// frame takes one step of four independent multiplications and a long one runs at their
// throughput, not their latency. Under 64 bytes left, the full 16s go to lanes 0-2 and the
// last 16 bytes, read where they end (overlapping), to lane 3; the length seeds lane 1, and
// the lanes are multiplied in pairs in the end, so the seed and length count even unstepped.
inline std::uint64_t hash_bytes(const std::uint8_t* p, std::size_t n, std::uint64_t seed,
                                const HashKey& key) {
    using detail::load64;
    using detail::mix;
    std::uint64_t l0 = key.k[4] ^ seed, l1 = key.k[5] ^ n, l2 = key.k[6], l3 = key.k[7];
    const auto step = [&key](std::uint64_t& lane, unsigned j, const std::uint8_t* at) {
        lane = mix(load64(at) ^ key.k[j], load64(at + 8) ^ lane);
    };
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        step(l0, 0, p + i);
        step(l1, 1, p + i + 16);
        step(l2, 2, p + i + 32);
        step(l3, 3, p + i + 48);
    }
    const std::size_t left = n - i;
    if (left > 16) step(l0, 0, p + i);
    if (left > 32) step(l1, 1, p + i + 16);
    if (left > 48) step(l2, 2, p + i + 32);
    if (left != 0 && n >= 16) {
        step(l3, 3, p + n - 16);
    } else if (left != 0) {
        std::uint8_t short_frame[16] = {};
        std::memcpy(short_frame, p, n);
        step(l3, 3, short_frame);
    }
    return mix(l0 ^ key.k[0], l1 ^ key.k[1]) ^ mix(l2 ^ key.k[2], l3 ^ key.k[3]);
}

// A flow key's hash: an IPv4 key's tail is zeros, so its head says it all.
inline std::uint64_t flow_hash(const FlowKey& k, const HashKey& key) {
    return k.head.ip_version == 4 ? hash16(&k.head, key) : hash40(&k, key);
}

}  // namespace sluice::meter
