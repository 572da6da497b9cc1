// Network byte order stores, for the wire formats the control writes.
#pragma once

#include <cstdint>
#include <cstring>

namespace sluice {

// Stores `value` in `bytes` bytes at `p`, most significant first (its low bytes when fewer
// than 8).
inline void store_big_endian(std::uint8_t* p, std::uint64_t value, unsigned bytes) {
    switch (bytes) {
        case 1: *p = static_cast<std::uint8_t>(value); break;
        case 2: {
            const auto v = __builtin_bswap16(static_cast<std::uint16_t>(value));
            std::memcpy(p, &v, 2);
            break;
        }
        case 4: {
            const auto v = __builtin_bswap32(static_cast<std::uint32_t>(value));
            std::memcpy(p, &v, 4);
            break;
        }
        case 8: {
            const auto v = __builtin_bswap64(value);
            std::memcpy(p, &v, 8);
            break;
        }
        default:  // 3, 5, 6, 7: an octet array such as an MPLS label stack entry's first 3
            for (unsigned i = 0; i < bytes; ++i) {
                const unsigned shift = 8 * (bytes - 1 - i);  // beyond 8 bytes, leading zeros
                p[i] = shift < 64 ? static_cast<std::uint8_t>(value >> shift) : 0;
            }
            break;
    }
}

}  // namespace sluice
