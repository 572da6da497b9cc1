// Writes captures: classic pcap files with nanosecond timestamps, or pcapng files.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

namespace sluice::pktgen {

enum class CaptureFormat { pcap, pcapng };

class PcapWriter {
public:
    // Throws std::runtime_error naming the path when it cannot be created. `linktype`: the pcap
    // LINKTYPE of the frames (1, Ethernet); a pcapng file has one interface of that type, with
    // nanosecond timestamps.
    explicit PcapWriter(const std::string& path, std::uint32_t linktype = 1,
                        CaptureFormat format = CaptureFormat::pcap);
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    void write(std::uint64_t time_ns, std::span<const std::uint8_t> frame);
    std::uint64_t packets() const { return packets_; }

private:
    std::FILE* file_;
    CaptureFormat format_;
    std::uint64_t packets_ = 0;
};

}  // namespace sluice::pktgen
