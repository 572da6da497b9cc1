// A pcap capture file read straight into packets for the metering core: large reads into one
// buffer, packets handed out in place, each with its original length and its own time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "packet.hpp"

namespace sluice::meter {

class CaptureReader {
public:
    // The largest record a capture may hold (libpcap's own limit), and how much is read at once.
    static constexpr std::uint32_t kMaxRecord = 262144;
    static constexpr std::size_t kReadSize = 4u << 20;

    // `read_size`: how much one read asks for (smaller in tests, to read across records).
    explicit CaptureReader(std::size_t read_size = kReadSize) : read_size_(read_size) {}
    CaptureReader(const CaptureReader&) = delete;
    CaptureReader& operator=(const CaptureReader&) = delete;
    ~CaptureReader();

    // Whether a file whose first four bytes these are is a classic pcap file (either order).
    static bool is_pcap(const std::uint8_t* first4);

    // Opens `path` and checks its file header: a classic pcap file (microsecond or nanosecond
    // timestamps, either byte order) of Ethernet frames. False with error() saying why.
    bool open(const std::string& path);
    // The same from an open descriptor, which the reader then owns.
    bool open_fd(int fd, const std::string& name);

    // Up to `max` packets, in file order; their bytes stay valid until the next call. 0 once the
    // file is done: at its end, or at a record that breaks the format (error() says which; the
    // packets before it were handed out).
    unsigned next(PacketRef* out, unsigned max);

    bool done() const { return done_; }
    const std::string& error() const { return error_; }
    std::uint64_t packets() const { return packets_; }
    std::uint64_t bytes() const { return bytes_; }  // captured bytes of the packets handed out

private:
    // Moves what is left to the front and reads more; false when nothing more came (the end
    // of the file, or an error).
    bool refill();
    bool fail(std::string message);

    std::size_t read_size_;
    int fd_ = -1;
    std::string name_;
    std::unique_ptr<std::uint8_t[]> buffer_;  // read_size_ and room for a whole record
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;     // the next record
    std::size_t end_ = 0;       // the end of what was read
    std::uint64_t offset_ = 0;  // the file offset of buffer_[begin_]
    bool swapped_ = false;      // written in the other byte order
    bool nanoseconds_ = false;
    bool eof_ = false;
    bool done_ = true;
    std::uint64_t packets_ = 0;
    std::uint64_t bytes_ = 0;
    std::string error_;
};

}  // namespace sluice::meter
