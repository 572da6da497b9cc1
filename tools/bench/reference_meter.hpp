// A flow meter as one would first write it on DPDK, for sluice-bench --reference: rte_hash
// (cuckoo hashing of the 40-byte canonical key with the CPU's CRC32, a burst looked up in bulk),
// an array of counters by the key's position in the hash, and the metering core's own parser.
// Per packet it does what Sluice's table does to a flow (both directions' packets, octets,
// first and last times, TTL range, TCP flags and the initiator) and nothing more: no timeouts,
// no eviction, no records. The ratio of the two on the same packets holds across machines
// better than either figure does.
#pragma once

#include <cstdint>

#include "dataplane/meter/flow_table.hpp"

struct rte_hash;

namespace sluice::bench {

class ReferenceMeter {
public:
    // EAL must be running. `flows`: the most it holds (a flow beyond is counted as not held).
    ReferenceMeter(std::uint32_t flows, const meter::Decapsulation& decapsulation);
    ~ReferenceMeter();
    ReferenceMeter(const ReferenceMeter&) = delete;
    ReferenceMeter& operator=(const ReferenceMeter&) = delete;

    bool ready() const { return hash_ != nullptr; }
    // Up to meter::kMaxBurst packets.
    void process(const PacketRef* packets, unsigned n, LinkType link = LinkType::ethernet);

    std::uint64_t flows() const { return flows_created_; }
    std::uint64_t not_held() const { return not_held_; }  // packets of flows it had no room for

private:
    struct Flow {
        std::uint64_t octets[2];
        std::uint64_t first_ns[2];
        std::uint64_t last_ns[2];
        std::uint32_t packets[2];
        std::uint8_t tcp_flags[2];
        std::uint8_t min_ttl[2];
        std::uint8_t max_ttl[2];
        std::uint8_t state;  // bit d: direction d counted; 4: SYN seen; 8: initiator is 1
    };

    rte_hash* hash_ = nullptr;
    Flow* table_ = nullptr;
    meter::Decapsulation decapsulation_;
    meter::FragmentMap fragments_;
    std::uint64_t flows_created_ = 0;
    std::uint64_t not_held_ = 0;
    meter::PacketInfo info_[meter::kMaxBurst];
};

}  // namespace sluice::bench
