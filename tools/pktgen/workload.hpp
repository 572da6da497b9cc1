// The benchmarks' workload: the smallest UDP frames (64 bytes on the wire for IPv4, 66 for
// IPv6), one per flow id, and flow ids drawn with Zipf or uniform popularity.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace sluice::pktgen {

inline constexpr std::uint32_t kFrameBytes = 60;      // a 64-byte packet on the wire, less its FCS
inline constexpr std::uint32_t kFrameBytesIpv6 = 62;  // Ethernet, IPv6 and UDP headers alone
inline constexpr double kZipfExponent = 1.0;

// The frame every flow's is made from: kFrameBytes of IPv4 UDP, or kFrameBytesIpv6 of IPv6;
// `tcp`: an IPv4 TCP ACK without data, padded to kFrameBytes.
std::vector<std::uint8_t> base_frame(bool ipv6 = false, bool tcp = false);

// Writes flow `id`'s frame at `slot` (base's size): addresses and ports spread over the id, those
// of the frame at `inner` in base (a tunnel's: 0 for an unencapsulated frame).
void write_frame(std::uint8_t* slot, const std::vector<std::uint8_t>& base, std::uint64_t id,
                 std::size_t inner = 0);

// `n` flow ids out of `flows`: Zipf (exponent kZipfExponent, over a random ranking of the
// flows) or uniform.
std::vector<std::uint32_t> draw_flows(bool zipf, std::uint32_t flows, std::size_t n,
                                      std::mt19937_64& rng);

}  // namespace sluice::pktgen
