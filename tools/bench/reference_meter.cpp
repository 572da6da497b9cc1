// A flow meter as one would first write it on DPDK: rte_hash, bulk lookups, the same updates.
#include "tools/bench/reference_meter.hpp"

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <algorithm>
#include <atomic>
#include <string>

namespace sluice::bench {
namespace {

constexpr std::uint8_t kSynSeen = 4, kInitiatorIsAddress1 = 8;
constexpr std::uint8_t kTcpSyn = 0x02, kTcpAck = 0x10;

}  // namespace

ReferenceMeter::ReferenceMeter(std::uint32_t flows, const meter::Decapsulation& decapsulation)
    : decapsulation_(decapsulation), fragments_(meter::random_hash_key()) {
    static std::atomic<unsigned> made{0};
    const std::string name = "reference" + std::to_string(made++);
    rte_hash_parameters p{};
    p.name = name.c_str();
    p.entries = std::max<std::uint32_t>(flows, 64);
    p.key_len = sizeof(meter::FlowKey);
    p.hash_func = rte_hash_crc;
    p.socket_id = 0;
    hash_ = rte_hash_create(&p);
    if (hash_ == nullptr) return;
    table_ = static_cast<Flow*>(rte_zmalloc("reference flows", sizeof(Flow) * p.entries, 64));
    if (table_ == nullptr) {
        rte_hash_free(hash_);
        hash_ = nullptr;
    }
}

ReferenceMeter::~ReferenceMeter() {
    rte_free(table_);
    rte_hash_free(hash_);
}

void ReferenceMeter::process(const PacketRef* packets, unsigned n, LinkType link) {
    const void* keys[meter::kMaxBurst];
    unsigned at[meter::kMaxBurst];  // the packet each key is of
    unsigned m = 0;
    meter::TunnelInfo tunnel;
    for (unsigned i = 0; i < n; ++i) {
        const PacketRef& p = packets[i];
        if (meter::parse(p.data, p.length, p.frame_length, link, p.time_ns, fragments_,
                         decapsulation_, info_[i], tunnel)
                .metered()) {
            keys[m] = &info_[i].key;
            at[m++] = i;
        }
    }
    std::int32_t positions[meter::kMaxBurst];
    if (m != 0) rte_hash_lookup_bulk(hash_, keys, m, positions);
    for (unsigned k = 0; k < m; ++k) {
        const meter::PacketInfo& info = info_[at[k]];
        const std::uint64_t now = packets[at[k]].time_ns;
        std::int32_t position = positions[k];
        if (position < 0) {
            // New, or added by an earlier packet of this burst (then its position comes back).
            position = rte_hash_add_key(hash_, keys[k]);
            if (position < 0) {
                ++not_held_;
                continue;
            }
        }
        Flow& f = table_[position];  // zeroed until its first packet (positions are not reused)
        if (f.state == 0) ++flows_created_;
        const unsigned d = info.direction;
        ++f.packets[d];
        if (!(f.state & (1u << d))) {
            f.state |= static_cast<std::uint8_t>(1u << d);
            f.first_ns[d] = now;
            f.min_ttl[d] = f.max_ttl[d] = info.ttl;
        } else {
            f.min_ttl[d] = std::min(f.min_ttl[d], info.ttl);
            f.max_ttl[d] = std::max(f.max_ttl[d], info.ttl);
        }
        f.octets[d] += info.ip_length;
        f.last_ns[d] = std::max(f.last_ns[d], now);
        if (info.tcp_flags != 0) {
            f.tcp_flags[d] |= info.tcp_flags;
            if ((info.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn && !(f.state & kSynSeen))
                f.state |= static_cast<std::uint8_t>(kSynSeen | (d ? kInitiatorIsAddress1 : 0));
        }
    }
}

}  // namespace sluice::bench
