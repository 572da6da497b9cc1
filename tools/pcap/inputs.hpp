// What `sluice pcap` is given to read: capture files, folders of them (a rotated `tcpdump -G`
// set), or standard input; put in the order their packets were captured.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::offline {

struct Inputs {
    std::vector<std::string> files;    // in time order; "-": standard input
    std::uint64_t bytes = 0;           // their size on disk; 0 when one is a pipe
    bool compressed = false;           // one at least is gzip or zstd
    std::vector<std::string> errors;   // a file that cannot be read, or a capture it is not
    std::vector<std::string> notices;  // what a folder held that is not a capture, skipped
};

// Expands each folder to the captures in it, then orders every file by the time of its first
// packet (files joined one after the other: their packets are not merged). Standard input
// ("-"), a named pipe or a device is read only once: it must be the only input.
Inputs plan_inputs(const std::vector<std::string>& given);

}  // namespace sluice::offline
