// The accounting of a run, from one snapshot: the reliability statistics the collectors get, the
// lines the control logs when it stops, and the same as JSON (--summary).
#pragma once

#include <string>

#include "control/export/session.hpp"
#include "control/ops/snapshot.hpp"

namespace sluice::ops {

// The dataplane's totals as the reliability statistics carry them, as of the snapshot.
control::Reliability reliability(const Snapshot& s);

// The closing lines: per worker, the rings' accounting, the ignore reasons, and per collector
// packets received = packets in records exported + ignored + not sent.
void log_accounting(const Snapshot& s);

// The accounting as one JSON object: what was received, metered, ignored (by reason) and not
// sent, and per collector what it was sent; the figures of the last statistics records each
// collector received.
std::string summary_json(const Snapshot& s);

// Writes summary_json to `path` (replacing it whole); false with `error` set when it cannot.
bool write_summary(const std::string& path, const Snapshot& s, std::string& error);

}  // namespace sluice::ops
