#include "dataplane/meter/dedup.hpp"

#include <algorithm>
#include <bit>

namespace sluice::meter {

std::size_t Deduplicator::memory_size(std::uint64_t window_ns) {
    const std::uint64_t frames = window_ns * (kPacketsPerSecond / 1'000'000) / 1'000;
    return std::bit_ceil(std::max<std::uint64_t>(64, frames)) * sizeof(Bucket);
}

Deduplicator::Deduplicator(std::uint64_t window_ns, void* memory, const HashKey& key)
    : buckets_(static_cast<Bucket*>(memory)),
      mask_(memory_size(window_ns) / sizeof(Bucket) - 1),
      window_ns_(window_ns),
      key_(key) {}

}  // namespace sluice::meter
