// Every configured collector (a group's members share theirs), each getting every record: the
// control's export stage.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "control/export/group.hpp"
#include "sluice/config.hpp"
#include "sluice/shm.hpp"

namespace sluice::control {

// The names of the applications the signatures of `c` identify, for the collectors; null (said)
// when there are none or they cannot be read.
ApplicationNames application_names(const config::Config& c);

// The ports as collectors see them: each one's ingressInterface, name and description.
Interfaces port_interfaces(const config::Config& c, const shm::StatsZone& zone);

class Exporter {
public:
    // `stores`: the prefix of the collectors' stores (SessionStore::of), none by default.
    explicit Exporter(const config::Config& config, ApplicationNames names = nullptr,
                      Interfaces interfaces = nullptr, SessionStore stores = {});

    // A reload: collectors whose settings are unchanged keep their session, buffer and
    // counters; removed or changed ones are closed (what they held counted as not sent) and the
    // new ones open.
    void reconfigure(const config::Config& config, const Reliability& reliability,
                     ApplicationNames names = nullptr);

    // `batch` numbers a batch of the rings (see CollectorSession::offer).
    void offer(std::span<const FlowRecord> records, std::uint64_t batch = 0);
    // True when a collector has more to send right away.
    bool service(Steady::time_point now, const Reliability& reliability);
    // Sends what is buffered for at most `timeout`, then closes every session; what is left
    // is counted as not sent. `keep_stores`: their counters stay for the next control.
    void close(const Reliability& reliability, Steady::duration timeout, bool keep_stores = false);

    const std::vector<std::unique_ptr<CollectorGroup>>& collectors() const { return collectors_; }

private:
    std::unique_ptr<CollectorGroup> make(const config::Collector& c);
    // `c` with its `fields` cut to the groups the records can carry: a session announces no
    // template that no record takes.
    config::Collector taking(const config::Collector& c) const;

    std::vector<std::unique_ptr<CollectorGroup>> collectors_;
    std::uint32_t observation_domain_ = 0;
    std::vector<config::Network> local_networks_;  // [sensor] local_networks
    std::uint8_t groups_;                          // Config::metadata_groups()
    std::string domain_name_;                      // [sensor] name, which a reload does not change
    ApplicationNames names_;
    Interfaces interfaces_;  // the ports, which a reload does not change
    SessionStore stores_;
    std::uint32_t next_exporting_process_id_ = 1;  // unique for the life of this control
};

}  // namespace sluice::control
