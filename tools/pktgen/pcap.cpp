// Writes classic pcap files with nanosecond timestamps.
#include "pcap.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice::pktgen {
namespace {

struct FileHeader {
    std::uint32_t magic = 0xa1b23c4d;  // nanosecond resolution
    std::uint16_t major = 2;
    std::uint16_t minor = 4;
    std::int32_t zone = 0;
    std::uint32_t sigfigs = 0;
    std::uint32_t snaplen = 65535;
    std::uint32_t linktype = 1;  // Ethernet
};

struct RecordHeader {
    std::uint32_t seconds;
    std::uint32_t nanoseconds;
    std::uint32_t captured;
    std::uint32_t length;
};

}  // namespace

PcapWriter::PcapWriter(const std::string& path) : file_(std::fopen(path.c_str(), "wb")) {
    if (file_ == nullptr)
        throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    const FileHeader header;
    std::fwrite(&header, sizeof(header), 1, file_);
}

PcapWriter::~PcapWriter() {
    std::fclose(file_);
}

void PcapWriter::write(std::uint64_t time_ns, std::span<const std::uint8_t> frame) {
    const RecordHeader r{static_cast<std::uint32_t>(time_ns / 1'000'000'000u),
                         static_cast<std::uint32_t>(time_ns % 1'000'000'000u),
                         static_cast<std::uint32_t>(frame.size()),
                         static_cast<std::uint32_t>(frame.size())};
    std::fwrite(&r, sizeof(r), 1, file_);
    std::fwrite(frame.data(), 1, frame.size(), file_);
    ++packets_;
}

}  // namespace sluice::pktgen
