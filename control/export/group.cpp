// A configured collector: one session, or a group's, one per member, and how the members share
// the records.
#include "control/export/group.hpp"

#include <algorithm>
#include <cstring>

#include "sluice/log.hpp"

namespace sluice::control {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
    return h;
}

}  // namespace

std::size_t balance_member(const FlowRecord& r, std::size_t members) {
    const bool icmp = r.protocol == 1 || r.protocol == 58;
    // An ICMP reply carries another type than its request: its "ports" do not match.
    const std::uint16_t source_port = icmp ? 0 : r.source_port;
    const std::uint16_t destination_port = icmp ? 0 : r.destination_port;
    const int order = std::memcmp(r.source_address, r.destination_address, 16);
    const bool source_first = order < 0 || (order == 0 && source_port <= destination_port);
    const std::uint8_t* low = source_first ? r.source_address : r.destination_address;
    const std::uint8_t* high = source_first ? r.destination_address : r.source_address;
    const std::uint16_t ports[2] = {source_first ? source_port : destination_port,
                                    source_first ? destination_port : source_port};
    std::uint64_t h = fnv1a(kFnvOffset, low, 16);
    h = fnv1a(h, high, 16);
    h = fnv1a(h, ports, sizeof(ports));
    h = fnv1a(h, &r.protocol, 1);
    h = fnv1a(h, &r.vlan_id, sizeof(r.vlan_id));
    // FNV leaves its last bytes in the low bits: mixed into the high ones, which choose.
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return static_cast<std::size_t>(((h >> 32) * members) >> 32);
}

CollectorGroup::CollectorGroup(const config::Collector& collector, std::uint32_t observation_domain,
                               std::uint32_t& next_exporting_process_id,
                               const ApplicationNames& names, const std::string& domain_name,
                               const Interfaces& interfaces, const SessionStore& stores,
                               const std::vector<config::Network>& local_networks)
    : config_(collector) {
    for (const config::Collector& m : collector.members())
        members_.push_back(std::make_unique<CollectorSession>(
            m, observation_domain, next_exporting_process_id++, names, nullptr, domain_name,
            interfaces, stores.of(m.name), local_networks));
    shares_.resize(members_.size());
}

void CollectorGroup::offer(std::span<const FlowRecord> records, std::uint64_t batch) {
    if (config_.mode != config::GroupMode::balance) {
        for (const auto& m : members_)
            if (batch != 0 && m->batch() >= batch) return;
        members_[active_]->offer(records, batch);
        return;
    }
    for (auto& share : shares_) share.clear();
    for (std::size_t i = 0, k; i < records.size(); i += k) {  // each record with its extensions
        k = unit_length(records.subspan(i));
        auto& share = shares_[balance_member(records[i], members_.size())];
        share.insert(share.end(), records.begin() + static_cast<long>(i),
                     records.begin() + static_cast<long>(i + k));
    }
    for (std::size_t i = 0; i < members_.size(); ++i)
        if (!shares_[i].empty()) members_[i]->offer(shares_[i], batch);
}

bool CollectorGroup::service(Steady::time_point now, const Reliability& reliability) {
    bool more = false;
    for (auto& m : members_) more |= m->service(now, reliability);
    if (config_.mode == config::GroupMode::failover) fail_over();
    return more;
}

// The first member up takes the records; while none is, the one that had them keeps them.
// Records waiting at another member move to it, ahead of the next ones: a member away hands
// over everything it holds (what its connection did not confirm included), one still up what
// no message has taken yet, finishing the rest itself.
void CollectorGroup::fail_over() {
    std::size_t target = active_;
    for (std::size_t i = 0; i < members_.size(); ++i)
        if (members_[i]->state() == SessionState::up) {
            target = i;
            break;
        }
    if (target != active_) {
        SLUICE_INFO("collector \"%s\": %s gets the records from now on, in place of %s",
                    name().c_str(), members_[target]->describe().c_str(),
                    members_[active_]->describe().c_str());
        active_ = target;
    }
    for (std::size_t i = 0; i < members_.size(); ++i) {
        if (i == active_ || members_[i]->backlog() == 0) continue;
        moved_.clear();
        members_[i]->take_backlog(moved_);
        members_[active_]->add_backlog(moved_);
    }
}

bool CollectorGroup::drained() const {
    return std::all_of(members_.begin(), members_.end(), [](const auto& m) {
        return m->state() == SessionState::down || m->drained();
    });
}

void CollectorGroup::close(const Reliability& reliability, bool keep_stores) {
    for (auto& m : members_) m->close(reliability, keep_stores);
}

}  // namespace sluice::control
