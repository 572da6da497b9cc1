// Every configured collector, each getting every record: the control's export stage.
#include "control/export/exporter.hpp"

#include <algorithm>
#include <thread>

#include "sluice/log.hpp"

namespace sluice::control {

Exporter::Exporter(const config::Config& config, ApplicationNames names, Interfaces interfaces)
    : observation_domain_(config.sensor.observation_domain_id),
      domain_name_(config.sensor.name),
      names_(std::move(names)),
      interfaces_(std::move(interfaces)) {
    for (const config::Collector& c : config.collectors)
        sessions_.push_back(std::make_unique<CollectorSession>(c, observation_domain_,
                                                               next_exporting_process_id_++, names_,
                                                               nullptr, domain_name_, interfaces_));
}

void Exporter::reconfigure(const config::Config& config, const Reliability& reliability,
                           ApplicationNames names) {
    // New names go out with new sessions; the signatures themselves change only at a restart.
    const bool same_domain = config.sensor.observation_domain_id == observation_domain_;
    observation_domain_ = config.sensor.observation_domain_id;
    if (names) names_ = std::move(names);
    std::vector<std::unique_ptr<CollectorSession>> next;
    for (const config::Collector& c : config.collectors) {
        auto kept = std::find_if(sessions_.begin(), sessions_.end(), [&](const auto& s) {
            return s != nullptr && same_domain && s->config() == c;
        });
        if (kept != sessions_.end()) {
            next.push_back(std::move(*kept));
        } else {
            next.push_back(std::make_unique<CollectorSession>(c, observation_domain_,
                                                              next_exporting_process_id_++, names_,
                                                              nullptr, domain_name_, interfaces_));
            SLUICE_INFO("collector \"%s\" (%s): added", c.name.c_str(),
                        next.back()->describe().c_str());
        }
    }
    for (auto& s : sessions_) {
        if (s == nullptr) continue;
        s->close(reliability);
        // Its totals leave with it: the closing report covers the collectors configured then.
        const SessionCounters n = s->counters();
        SLUICE_INFO(
            "collector \"%s\" (%s): removed, having sent %llu records (%llu packets, %llu "
            "octets) in %llu messages; %llu records (%llu packets) not sent",
            s->name().c_str(), s->describe().c_str(),
            static_cast<unsigned long long>(n.records_sent),
            static_cast<unsigned long long>(n.packets_sent),
            static_cast<unsigned long long>(n.octets_sent),
            static_cast<unsigned long long>(n.messages_sent),
            static_cast<unsigned long long>(n.records_not_sent),
            static_cast<unsigned long long>(n.packets_not_sent));
    }
    sessions_ = std::move(next);
}

void Exporter::offer(std::span<const FlowRecord> records) {
    if (records.empty()) return;
    for (auto& s : sessions_) s->offer(records);
}

bool Exporter::service(Steady::time_point now, const Reliability& reliability) {
    bool more = false;
    for (auto& s : sessions_) more |= s->service(now, reliability);
    return more;
}

void Exporter::close(const Reliability& reliability, Steady::duration timeout) {
    const auto deadline = Steady::now() + timeout;
    while (Steady::now() < deadline) {
        bool drained = true;
        for (auto& s : sessions_) {
            // A collector that is down gets no more attempts: its buffer is what is lost.
            if (s->state() == SessionState::down) continue;
            s->service(Steady::now(), reliability);
            drained &= s->drained();
        }
        if (drained) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (auto& s : sessions_) s->close(reliability);
}

}  // namespace sluice::control
