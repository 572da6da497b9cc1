// Every configured collector, each getting every record: the control's export stage.
#include "exporter.hpp"

#include <thread>

namespace sluice::control {

Exporter::Exporter(const config::Config& config) {
    std::uint32_t exporting_process_id = 0;
    for (const config::Collector& c : config.collectors)
        sessions_.push_back(std::make_unique<CollectorSession>(
            c, config.sensor.observation_domain_id, ++exporting_process_id));
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
