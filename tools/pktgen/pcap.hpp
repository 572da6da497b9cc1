// Writes classic pcap files with nanosecond timestamps.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

namespace sluice::pktgen {

class PcapWriter {
public:
    // Throws std::runtime_error naming the path when it cannot be created.
    explicit PcapWriter(const std::string& path);
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    void write(std::uint64_t time_ns, std::span<const std::uint8_t> frame);
    std::uint64_t packets() const { return packets_; }

private:
    std::FILE* file_;
    std::uint64_t packets_ = 0;
};

}  // namespace sluice::pktgen
