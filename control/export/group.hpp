// A configured collector: one session, or a group's, one per member, and how the members share
// the records: the first reachable one gets them (failover), or each flow goes to one member by
// its key (balance).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "control/export/session.hpp"
#include "sluice/config.hpp"

namespace sluice::control {

class CollectorGroup {
public:
    // Each member's session gets its own exporting process id, from `next_exporting_process_id`.
    CollectorGroup(const config::Collector& collector, std::uint32_t observation_domain,
                   std::uint32_t& next_exporting_process_id, const ApplicationNames& names,
                   const std::string& domain_name, const Interfaces& interfaces,
                   const SessionStore& stores = {},
                   const std::vector<config::Network>& local_networks = {});

    // `batch`: a batch of the rings, which a member that took it already passes over (in a
    // failover group, which any member took).
    void offer(std::span<const FlowRecord> records, std::uint64_t batch = 0);
    // Services every member, then moves what waits at a failover group's other members to the
    // one that takes the records now. True when a member has more to send right away.
    bool service(Steady::time_point now, const Reliability& reliability);
    // True when every member still reachable has sent all it holds; what a member away holds
    // is what close() counts as not sent.
    bool drained() const;
    void close(const Reliability& reliability, bool keep_stores = false);

    const config::Collector& config() const { return config_; }
    const std::string& name() const { return config_.name; }
    bool is_group() const { return config_.mode != config::GroupMode::single; }
    const std::vector<std::unique_ptr<CollectorSession>>& members() const { return members_; }
    // The failover member that gets the records now.
    std::size_t active() const { return active_; }

private:
    void fail_over();

    config::Collector config_;
    std::vector<std::unique_ptr<CollectorSession>> members_;
    std::size_t active_ = 0;
    std::vector<std::vector<FlowRecord>> shares_;  // balance: each member's part of a batch
    std::vector<FlowRecord> moved_;
};

// The member of `members` that gets the flow of `r`: the same for both directions of a
// conversation and every record of it, from its addresses, ports (not ICMP's), protocol and
// VLAN.
std::size_t balance_member(const FlowRecord& r, std::size_t members);

}  // namespace sluice::control
