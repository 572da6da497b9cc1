// What a worker's flow table meters with beyond its own memory, set up the same way by the
// dataplane's workers and sluice pcap's metering threads: application identification (a
// scratch of its own, or only the budget metadata is looked for in), metadata extraction, the
// port's deduplication and sampling. No DPDK: the caller brings the memory.
#pragma once

#include <cstdint>
#include <memory>

#include "dataplane/appid/classifier.hpp"
#include "dataplane/l7/extractor.hpp"
#include "dataplane/meter/flow_table.hpp"
#include "sluice/config.hpp"

namespace sluice::dataplane {

// What the table uses and its owner keeps for as long as the table lives.
struct Equipment {
    std::unique_ptr<appid::Scratch> scratch;   // null: identification off
    std::unique_ptr<l7::Extractor> extractor;  // null: [metadata] off
};

// Equips `table` for `c` and `port`: identification through a copy of `prototype` (null: off),
// metadata in `metadata_memory` (l7::Extractor::memory_size bytes; used when [metadata] is on),
// `dedup` (null: none), sampling seeded from `sample_seed`.
Equipment equip(meter::FlowTable& table, const config::Config& c, const config::Port& port,
                const appid::Scratch* prototype, void* metadata_memory, meter::Deduplicator* dedup,
                std::uint64_t sample_seed);

// The line that says what identification runs with: "application identification: 26
// applications, 44 patterns from PATH; ...", and `suffix` after it.
void log_identification(const appid::Database& db, const std::string& path,
                        const config::Applications& a, const std::string& suffix = {});

}  // namespace sluice::dataplane
