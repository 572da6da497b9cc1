// Writes captures: classic pcap files with nanosecond timestamps, or pcapng files.
#include "tools/pktgen/pcap.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace sluice::pktgen {
namespace {

struct FileHeader {
    std::uint32_t magic = 0xa1b23c4d;  // nanosecond resolution
    std::uint16_t major = 2;
    std::uint16_t minor = 4;
    std::int32_t zone = 0;
    std::uint32_t sigfigs = 0;
    std::uint32_t snaplen = 65535;
    std::uint32_t linktype = 1;
};

struct RecordHeader {
    std::uint32_t seconds;
    std::uint32_t nanoseconds;
    std::uint32_t captured;
    std::uint32_t length;
};

// A pcapng block: type, total length, body padded to 4 bytes, total length again.
void write_block(std::FILE* f, std::uint32_t type, const std::vector<std::uint8_t>& body) {
    const std::uint32_t padded = static_cast<std::uint32_t>((body.size() + 3) & ~std::size_t{3});
    const std::uint32_t total = 12 + padded;
    const std::uint8_t zeros[4] = {};
    std::fwrite(&type, 4, 1, f);
    std::fwrite(&total, 4, 1, f);
    std::fwrite(body.data(), 1, body.size(), f);
    std::fwrite(zeros, 1, padded - body.size(), f);
    std::fwrite(&total, 4, 1, f);
}

template <typename T>
void append(std::vector<std::uint8_t>& out, T value) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
    out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace

PcapWriter::PcapWriter(const std::string& path, std::uint32_t linktype, CaptureFormat format)
    : file_(std::fopen(path.c_str(), "wb")), format_(format) {
    if (file_ == nullptr)
        throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    if (format == CaptureFormat::pcap) {
        FileHeader header;
        header.linktype = linktype;
        std::fwrite(&header, sizeof(header), 1, file_);
        return;
    }
    std::vector<std::uint8_t> shb;  // byte-order magic, version 1.0, section length unknown
    append<std::uint32_t>(shb, 0x1a2b3c4d);
    append<std::uint16_t>(shb, 1);
    append<std::uint16_t>(shb, 0);
    append<std::int64_t>(shb, -1);
    write_block(file_, 0x0a0d0d0a, shb);
    std::vector<std::uint8_t> idb;  // link type, reserved, snap length; if_tsresol 9 (ns)
    append<std::uint16_t>(idb, static_cast<std::uint16_t>(linktype));
    append<std::uint16_t>(idb, 0);
    append<std::uint32_t>(idb, 0);
    append<std::uint16_t>(idb, 9);
    append<std::uint16_t>(idb, 1);
    append<std::uint32_t>(idb, 9);  // the resolution byte, padded
    append<std::uint32_t>(idb, 0);  // opt_endofopt
    write_block(file_, 1, idb);
}

PcapWriter::~PcapWriter() {
    std::fclose(file_);
}

void PcapWriter::write(std::uint64_t time_ns, std::span<const std::uint8_t> frame) {
    ++packets_;
    const auto size = static_cast<std::uint32_t>(frame.size());
    if (format_ == CaptureFormat::pcap) {
        const RecordHeader r{static_cast<std::uint32_t>(time_ns / 1'000'000'000u),
                             static_cast<std::uint32_t>(time_ns % 1'000'000'000u), size, size};
        std::fwrite(&r, sizeof(r), 1, file_);
        std::fwrite(frame.data(), 1, frame.size(), file_);
        return;
    }
    std::vector<std::uint8_t> epb;  // interface 0, timestamp high and low, lengths, the frame
    append<std::uint32_t>(epb, 0);
    append<std::uint32_t>(epb, static_cast<std::uint32_t>(time_ns >> 32));
    append<std::uint32_t>(epb, static_cast<std::uint32_t>(time_ns));
    append<std::uint32_t>(epb, size);
    append<std::uint32_t>(epb, size);
    epb.insert(epb.end(), frame.begin(), frame.end());
    write_block(file_, 6, epb);
}

}  // namespace sluice::pktgen
