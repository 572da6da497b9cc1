// What a worker's flow table meters with beyond its own memory.
#include "dataplane/equip.hpp"

#include "sluice/log.hpp"

namespace sluice::dataplane {

Equipment equip(meter::FlowTable& table, const config::Config& c, const config::Port& port,
                const appid::Scratch* prototype, void* metadata_memory, meter::Deduplicator* dedup,
                std::uint64_t sample_seed) {
    Equipment e;
    if (prototype != nullptr) {
        e.scratch = std::make_unique<appid::Scratch>(*prototype);
        table.identify_applications(appid::identification(*e.scratch, c.applications));
    } else {  // the budget of packets and bytes a flow's metadata is looked for in
        table.identify_applications({nullptr, nullptr, c.applications.bytes,
                                     static_cast<std::uint8_t>(c.applications.packets)});
    }
    if (c.metadata.enabled) {
        e.extractor = std::make_unique<l7::Extractor>(c.metadata, metadata_memory);
        table.extract_metadata(e.extractor->hook());
    }
    if (dedup != nullptr) table.deduplicate(dedup);
    table.sample(port.sampling_interval(), port.deterministic, sample_seed);
    return e;
}

void log_identification(const appid::Database& db, const std::string& path,
                        const config::Applications& a, const std::string& suffix) {
    SLUICE_INFO(
        "application identification: %zu applications, %zu patterns from %s; %u bytes of the "
        "first %u payload packets of each direction%s",
        db.applications(), db.patterns().size(), path.c_str(), a.bytes, a.packets, suffix.c_str());
}

}  // namespace sluice::dataplane
