// `sluice pcap` in one process: no EAL, no hugepages, no root. One thread reads the captures
// and spreads their packets over N metering threads by the symmetric hash of their flow's
// addresses (as RSS spreads a NIC's), each with a flow table of its own; the calling thread
// exports their records as sluice-control would, and prints the same accounting.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/config.hpp"

namespace sluice::offline {

struct Options {
    // The captures, in the order to read them (inputs.hpp orders them); "-" is standard input.
    std::vector<std::string> inputs;
    std::uint64_t input_bytes = 0;  // their size on disk, for the progress; 0: not known
    unsigned workers = 1;
    bool print_records = false;
    bool progress = false;  // a line on stderr, redrawn twice a second
    std::string summary;    // where to write the final accounting as JSON; empty: nowhere
};

// Meters the inputs with `c` (its first port's deduplication and sampling; [flow] max_flows is
// the whole run's, shared by the threads) and exports to its collectors. The exit status: 0
// (an input that ends early or is damaged is said, and what it held before is metered), 1 when
// an input could not be opened or is not a capture Sluice meters, 2 when the configuration
// cannot be run, 130 when a stop signal ended the reading.
int run(const config::Config& c, const Options& o);

// Flows each metering thread's table is sized for when `max_flows` are shared by `workers`:
// a quarter more than an even share, as the hash spreads flows unevenly.
std::uint32_t flows_per_worker(std::uint32_t max_flows, unsigned workers);

}  // namespace sluice::offline
