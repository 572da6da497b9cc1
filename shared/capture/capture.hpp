// A capture file read straight into packets for the metering core: classic pcap or pcapng,
// as written or compressed with gzip or zstd, large reads into one buffer, packets handed out in
// place, each with its length on the wire, its own time and the link layer it begins with.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "shared/capture/link.hpp"
#include "shared/capture/packet_ref.hpp"
#include "shared/capture/stream.hpp"

namespace sluice {

class CaptureReader {
public:
    // The largest packet a capture may hold (libpcap's own limit), the largest pcapng block
    // that carries one (its options after it), and how much is read at once.
    static constexpr std::uint32_t kMaxRecord = 262144;
    static constexpr std::uint32_t kMaxPacketBlock = kMaxRecord + 65536;
    static constexpr std::size_t kReadSize = 4u << 20;
    static constexpr std::size_t kMaxInterfaces = 65536;  // in a pcapng section

    // `read_size`: how much one read asks for (smaller in tests, to read across records).
    // Files are read, not mapped: mapping one costs the kernel its page tables, 4 KiB at a
    // time, which took twice as long as reading it (docs/BENCHMARKS.md).
    explicit CaptureReader(std::size_t read_size = kReadSize) : read_size_(read_size) {}
    CaptureReader(const CaptureReader&) = delete;
    CaptureReader& operator=(const CaptureReader&) = delete;

    // Whether a file whose first four bytes these are is a capture this reader takes: a classic
    // pcap file (either byte order) or a pcapng file.
    static bool is_capture(const std::uint8_t* first4);

    // Opens `path` and reads its headers: a classic pcap file (microsecond or nanosecond
    // timestamps, either byte order) or a pcapng file (its sections and interfaces, each with
    // its own link type and timestamp resolution), of link types Sluice meters (link.hpp),
    // either as written or compressed (gzip, zstd). False with error() saying why: not a
    // capture, or no link type that Sluice meters.
    bool open(const std::string& path);
    // The same from an open descriptor (a pipe too), which the reader then owns.
    bool open_fd(int fd, const std::string& name);

    // The bytes a buffer lent to lend_buffers() must have.
    static std::size_t buffer_size(std::size_t read_size = kReadSize) {
        return read_size + kMaxPacketBlock + 16;
    }
    // From now on, each read moves to a buffer `next_buffer` gives (buffer_size() bytes, 8-byte
    // aligned) rather than reusing the one before: the packets handed out stay valid until
    // their buffer is given again. For a reader that hands packets to other threads; the
    // caller knows from the calls to `next_buffer` which buffer is done with.
    void lend_buffers(std::function<std::uint8_t*()> next_buffer) {
        next_buffer_ = std::move(next_buffer);
    }

    // Up to `max` packets, in file order, all of one link type (link()); their bytes stay valid
    // until the next call (with lent buffers: until their buffer is lent again). 0 once the
    // file is done: at its end, or at a record that breaks the format (error() says which, and
    // where; the packets before it were handed out).
    unsigned next(PacketRef* out, unsigned max);
    // The link layer of the packets the last next() handed out.
    LinkType link() const { return link_; }

    bool done() const { return done_; }
    const std::string& error() const { return error_; }
    std::uint64_t packets() const { return packets_; }
    std::uint64_t bytes() const { return bytes_; }  // captured bytes of the packets handed out
    // How much of the file (compressed, when it is) has been read, and how it is encoded.
    std::uint64_t consumed() const { return stream_.consumed(); }
    ByteStream::Encoding encoding() const { return stream_.encoding(); }

    // What the file is, for a log line: "pcap, Ethernet (1), nanosecond timestamps".
    std::string describe() const { return description_; }
    // Interfaces found after the start of a pcapng file (later in it, or in a later section)
    // whose link type is not metered: one line per link type, for the owner to log. Their
    // packets are ignored, counted by reason.
    std::vector<std::string>& notices() { return notices_; }

private:
    enum class Format : std::uint8_t { pcap, pcapng };

    // A pcapng interface (a pcap file has one): its link type and how its times read.
    struct Interface {
        std::uint32_t linktype = 1;
        LinkType link = LinkType::ethernet;
        std::uint64_t units_per_second = 1'000'000;  // if_tsresol
        std::uint64_t ns_per_unit = 1000;            // 0 when not a whole number
        std::uint64_t offset_ns = 0;                 // if_tsoffset (modulo 2^64: it may be < 0)
        std::uint32_t snap_length = 0;
    };

    // Moves what is left to the front and reads more; false when nothing more came (the end
    // of the file, or an error).
    bool refill();
    bool fail(std::string message);
    bool open_pcap();
    bool open_pcapng();
    unsigned next_pcap(PacketRef* out, unsigned max);
    unsigned next_pcapng(PacketRef* out, unsigned max);
    // Reads pcapng blocks up to the next packet block, taking in the section headers and
    // interfaces on the way and skipping the other blocks. Returns the packet block's length,
    // whole in the buffer at begin_; 0 at the end of the file or an error; and 0 with `waiting`
    // when a burst already handed out must go before more is read.
    std::uint32_t to_packet_block(bool may_read, bool& waiting);
    std::uint32_t next_packet_block(bool may_read, bool& waiting);
    bool section_header(const std::uint8_t* block, std::uint32_t length);
    bool interface_block(const std::uint8_t* block, std::uint32_t length);
    std::uint64_t time_ns(const Interface& i, std::uint64_t units) const;
    // A field in the file's (or section's) byte order.
    std::uint32_t load32(const std::uint8_t* p) const {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return swapped_ ? __builtin_bswap32(v) : v;
    }
    std::uint16_t load16(const std::uint8_t* p) const {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        return swapped_ ? __builtin_bswap16(v) : v;
    }

    std::size_t read_size_;
    ByteStream stream_;
    bool open_ = false;  // stream_ has a file
    std::string name_;
    std::unique_ptr<std::uint8_t[]> own_;  // read_size_ and room for a whole packet block
    std::uint8_t* buffer_ = nullptr;       // own_, or the buffer lent last
    std::function<std::uint8_t*()> next_buffer_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;     // the next record or block
    std::size_t end_ = 0;       // the end of what was read
    std::uint64_t offset_ = 0;  // the file offset of buffer_[begin_]
    std::uint64_t skip_ = 0;    // bytes of a block too large for the buffer still to skip
    Format format_ = Format::pcap;
    bool swapped_ = false;  // written in the other byte order (this section's, in pcapng)
    bool nanoseconds_ = false;
    bool eof_ = false;
    bool done_ = true;
    LinkType link_ = LinkType::ethernet;
    std::vector<Interface> interfaces_;  // of the current pcapng section; a pcap file's one
    unsigned sections_ = 0;
    std::string description_;  // what open() found, for describe()
    std::uint64_t last_time_ns_ = 0;
    std::uint64_t packets_ = 0;
    std::uint64_t bytes_ = 0;
    std::string error_;
    std::vector<std::string> notices_;
    std::set<std::uint32_t> noted_;  // link types said in notices_
    bool opened_ = false;            // open() is done: interfaces from now on are noticed
};

}  // namespace sluice
