// A snapshot as the control socket's JSON replies and as Prometheus text.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "control/ops/snapshot.hpp"
#include "sluice/record.hpp"

namespace sluice::ops {

// {"ok": true, "status": {...}}: processes, version, uptime, ports, workers, rates.
std::string status_json(const Snapshot& s);
// {"ok": true, "stats": {...}}: every counter, per port, worker and collector.
std::string stats_json(const Snapshot& s);
// {"ok": true, "collectors": [...]}: state, records sent and not sent, last error.
std::string collectors_json(const Snapshot& s);
// The same for a person, as tables: {"ok": true, "text": "..."}.
std::string status_text(const Snapshot& s);
std::string stats_text(const Snapshot& s);
std::string collectors_text(const Snapshot& s);
// The collectors that have a spool: what it holds, its oldest record, how fast it replays.
std::string spool_json(const Snapshot& s);
std::string spool_text(const Snapshot& s);
std::string text_reply(const std::string& text);

// The largest active flows, largest first: {"ok": true, "flows": [record, ...]}, and a table.
std::string top_json(const std::vector<FlowRecord>& flows);
std::string top_text(const std::vector<FlowRecord>& flows);

// {"ok": false, "error": "..."}
std::string error_json(const std::string& message);

// The Prometheus text exposition format (version 0.0.4), HELP and TYPE for every family.
std::string prometheus_text(const Snapshot& s);

// Each record of a batch of whole units on stdout as a line of JSON, with its metadata
// (--print-records).
void print_records(std::span<const FlowRecord> slots);

}  // namespace sluice::ops
