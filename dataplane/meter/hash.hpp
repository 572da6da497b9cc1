// A keyed hash of 40-byte keys, seeded at random each start, so that an attacker who does not
// know the seed cannot aim packets at one bucket (hash flooding).
#pragma once

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

// A flow key's hash: an IPv4 key's tail is zeros, so its head says it all.
inline std::uint64_t flow_hash(const FlowKey& k, const HashKey& key) {
    return k.head.ip_version == 4 ? hash16(&k.head, key) : hash40(&k, key);
}

}  // namespace sluice::meter
