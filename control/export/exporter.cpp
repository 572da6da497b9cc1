// Every configured collector (a group's members share theirs), each getting every record: the
// control's export stage.
#include "control/export/exporter.hpp"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "shared/config/loader.hpp"
#include "sluice/log.hpp"

namespace sluice::control {

ApplicationNames application_names(const config::Config& c) {
    const std::string path = config::signatures_path(c);
    if (path.empty()) return nullptr;
    const auto loaded = config::load_signatures(path);
    if (!loaded.signatures) {
        SLUICE_WARN("application names: %s; records carry the ids only",
                    loaded.errors.at(0).to_string().c_str());
        return nullptr;
    }
    auto names = std::make_shared<std::vector<ApplicationName>>();
    for (const auto& a : loaded.signatures->applications)
        names->push_back({a.id, a.name, a.description});
    return names;
}

Interfaces port_interfaces(const config::Config& c, const shm::StatsZone& zone) {
    static_assert(ipfix::kMaxInterfaces == shm::kMaxPorts);
    auto out = std::make_shared<std::vector<Interface>>();
    const std::size_t n = std::min<std::size_t>(c.ports.size(), zone.header.port_count);
    for (std::size_t i = 0; i < n; ++i) {
        const config::Port& p = c.ports[i];
        const std::uint16_t id = zone.ports[i].port_id;
        const std::string description = p.capture.empty() ? p.device : p.capture;
        std::string name = p.name;
        if (name.empty())
            name = p.capture.empty() ? std::string(p.device_name())
                                     : std::filesystem::path(p.capture).filename().string();
        out->push_back({id, p.if_index != 0 ? p.if_index : id, name, description});
    }
    return out;
}

Exporter::Exporter(const config::Config& config, ApplicationNames names, Interfaces interfaces,
                   SessionStore stores)
    : observation_domain_(config.sensor.observation_domain_id),
      local_networks_(config.sensor.networks()),
      groups_(config.metadata_groups()),
      domain_name_(config.sensor.name),
      names_(std::move(names)),
      interfaces_(std::move(interfaces)),
      stores_(std::move(stores)) {
    for (const config::Collector& c : config.collectors) collectors_.push_back(make(c));
}

config::Collector Exporter::taking(const config::Collector& c) const {
    config::Collector out = c;
    std::erase_if(out.fields, [&](const std::string& f) {
        const auto* g = std::find(kMetadataGroupNames.begin(), kMetadataGroupNames.end(), f);
        return g == kMetadataGroupNames.end() ||
               !(groups_ >> (g - kMetadataGroupNames.begin()) & 1);
    });
    return out;
}

std::unique_ptr<CollectorGroup> Exporter::make(const config::Collector& c) {
    return std::make_unique<CollectorGroup>(taking(c), observation_domain_,
                                            next_exporting_process_id_, names_, domain_name_,
                                            interfaces_, stores_, local_networks_);
}

void Exporter::reconfigure(const config::Config& config, const Reliability& reliability,
                           ApplicationNames names) {
    // New names go out with new sessions; the signatures themselves change only at a restart.
    // A session of another domain or other local networks (other templates) is made anew.
    std::vector<config::Network> networks = config.sensor.networks();
    const bool same_domain_and_networks =
        config.sensor.observation_domain_id == observation_domain_ && networks == local_networks_;
    observation_domain_ = config.sensor.observation_domain_id;
    local_networks_ = std::move(networks);
    groups_ = config.metadata_groups();
    if (names) names_ = std::move(names);
    std::vector<std::unique_ptr<CollectorGroup>> next(config.collectors.size());
    for (std::size_t i = 0; i < config.collectors.size(); ++i) {
        auto kept = std::find_if(collectors_.begin(), collectors_.end(), [&](const auto& g) {
            return g != nullptr && same_domain_and_networks &&
                   g->config() == taking(config.collectors[i]);
        });
        if (kept != collectors_.end()) next[i] = std::move(*kept);
    }
    // The others close first: a changed collector's spool is written before its new session
    // opens it.
    for (auto& g : collectors_) {
        if (g == nullptr) continue;
        g->close(reliability);
        // Its totals leave with it: the closing report covers the collectors configured then.
        for (const auto& s : g->members()) {
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
        g.reset();
    }
    for (std::size_t i = 0; i < config.collectors.size(); ++i) {
        if (next[i] != nullptr) continue;
        next[i] = make(config.collectors[i]);
        for (const auto& m : next[i]->members())
            SLUICE_INFO("collector \"%s\" (%s): added", m->name().c_str(), m->describe().c_str());
    }
    collectors_ = std::move(next);
}

void Exporter::offer(std::span<const FlowRecord> records, std::uint64_t batch) {
    if (records.empty()) return;
    for (auto& g : collectors_) g->offer(records, batch);
}

bool Exporter::service(Steady::time_point now, const Reliability& reliability) {
    bool more = false;
    for (auto& g : collectors_) more |= g->service(now, reliability);
    return more;
}

void Exporter::close(const Reliability& reliability, Steady::duration timeout, bool keep_stores) {
    const auto deadline = Steady::now() + timeout;
    while (Steady::now() < deadline) {
        bool drained = true;
        for (auto& g : collectors_) {
            // A member that is down gets no more attempts: what it holds is what is lost.
            if (g->drained()) continue;
            g->service(Steady::now(), reliability);
            drained &= g->drained();
        }
        if (drained) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (auto& g : collectors_) g->close(reliability, keep_stores);
}

}  // namespace sluice::control
