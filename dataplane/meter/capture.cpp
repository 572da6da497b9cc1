// A pcap capture file read straight into packets for the metering core.
#include "capture.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice::meter {
namespace {

constexpr std::uint32_t kMagicMicroseconds = 0xa1b2c3d4;
constexpr std::uint32_t kMagicNanoseconds = 0xa1b23c4d;
constexpr std::uint32_t kMagicPcapng = 0x0a0d0d0a;  // a pcapng section header block
constexpr std::uint32_t kLinkEthernet = 1;
constexpr std::size_t kFileHeader = 24;
constexpr std::size_t kRecordHeader = 16;

std::uint32_t load32(const std::uint8_t* p, bool swapped) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

}  // namespace

bool CaptureReader::is_pcap(const std::uint8_t* first4) {
    const std::uint32_t magic = load32(first4, false);
    for (const std::uint32_t m : {magic, __builtin_bswap32(magic)})
        if (m == kMagicMicroseconds || m == kMagicNanoseconds) return true;
    return false;
}

CaptureReader::~CaptureReader() {
    if (fd_ >= 0) close(fd_);
}

bool CaptureReader::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        name_ = path;
        return fail(std::strerror(errno));
    }
    return open_fd(fd, path);
}

bool CaptureReader::open_fd(int fd, const std::string& name) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
    name_ = name;
    if (!buffer_) {
        capacity_ = read_size_ + kMaxRecord + kRecordHeader;
        buffer_ = std::make_unique_for_overwrite<std::uint8_t[]>(capacity_);
    }
    begin_ = end_ = 0;
    offset_ = 0;
    eof_ = false;
    done_ = false;
    packets_ = bytes_ = 0;
    error_.clear();
    posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    while (end_ < kFileHeader && refill()) {
    }
    if (!error_.empty()) return false;
    if (end_ < kFileHeader) return fail("not a pcap file: shorter than a pcap file header");
    const std::uint32_t magic = load32(&buffer_[0], false);
    if (!is_pcap(&buffer_[0]))
        return fail(magic == kMagicPcapng ? "a pcapng file; this reader takes classic pcap files"
                                          : "not a pcap file (no pcap magic number)");
    swapped_ = magic != kMagicMicroseconds && magic != kMagicNanoseconds;
    nanoseconds_ = load32(&buffer_[0], swapped_) == kMagicNanoseconds;
    const std::uint32_t link = load32(&buffer_[20], swapped_) & 0x0fffffff;  // FCS bits above
    if (link != kLinkEthernet)
        return fail("link type " + std::to_string(link) + ", not Ethernet (1)");
    begin_ = kFileHeader;
    offset_ = kFileHeader;
    return true;
}

bool CaptureReader::fail(std::string message) {
    error_ = name_ + ": " + std::move(message);
    done_ = true;
    return false;
}

bool CaptureReader::refill() {
    if (eof_ || fd_ < 0) return false;
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    const std::size_t kept = end_;
    while (end_ < capacity_) {
        const ssize_t n = read(fd_, buffer_.get() + end_, std::min(capacity_ - end_, read_size_));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::strerror(errno));
        if (n == 0) {
            eof_ = true;
            break;
        }
        end_ += static_cast<std::size_t>(n);
        if (end_ >= read_size_) break;  // enough for now: the rest on the next refill
    }
    return end_ > kept;
}

unsigned CaptureReader::next(PacketRef* out, unsigned max) {
    unsigned n = 0;
    while (n < max && !done_) {
        const std::size_t left = end_ - begin_;
        const std::uint8_t* h = &buffer_[begin_];
        const std::uint32_t caplen = left >= kRecordHeader ? load32(h + 8, swapped_) : 0;
        if (caplen > kMaxRecord) {
            fail("a record of " + std::to_string(caplen) + " bytes at offset " +
                 std::to_string(offset_) + ": the file is damaged");
            break;
        }
        if (left < kRecordHeader + caplen) {
            // More is read only before the first packet of a call: those handed out stay put.
            if (n != 0) break;
            if (refill() || !error_.empty()) continue;
            if (left == 0)
                done_ = true;
            else if (left < kRecordHeader)
                fail("ends inside a record header at offset " + std::to_string(offset_));
            else
                fail("ends inside the packet at offset " + std::to_string(offset_) + " (" +
                     std::to_string(caplen) + " bytes captured, " +
                     std::to_string(left - kRecordHeader) + " in the file)");
            continue;
        }
        const std::uint32_t length = load32(h + 12, swapped_);
        const std::uint64_t seconds = load32(h, swapped_);
        const std::uint64_t fraction = load32(h + 4, swapped_);
        out[n++] = {h + kRecordHeader, caplen, length > caplen ? length : caplen,
                    seconds * 1'000'000'000 + fraction * (nanoseconds_ ? 1 : 1000)};
        begin_ += kRecordHeader + caplen;
        offset_ += kRecordHeader + caplen;
        ++packets_;
        bytes_ += caplen;
    }
    return n;
}

}  // namespace sluice::meter
