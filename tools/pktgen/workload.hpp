// The benchmarks' workload: 64-byte IPv4 UDP frames, one per flow id, and flow ids drawn with
// Zipf or uniform popularity.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace sluice::pktgen {

inline constexpr std::uint32_t kFrameBytes = 60;  // a 64-byte packet on the wire, less its FCS
inline constexpr double kZipfExponent = 1.0;

// The frame every flow's is made from.
std::vector<std::uint8_t> base_frame();

// Writes flow `id`'s frame at `slot` (kFrameBytes): addresses and ports spread over the id.
void write_frame(std::uint8_t* slot, const std::vector<std::uint8_t>& base, std::uint64_t id);

// `n` flow ids out of `flows`: Zipf (exponent kZipfExponent, over a random ranking of the
// flows) or uniform.
std::vector<std::uint32_t> draw_flows(bool zipf, std::uint32_t flows, std::size_t n,
                                      std::mt19937_64& rng);

}  // namespace sluice::pktgen
