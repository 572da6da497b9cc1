// A capture file read straight into packets for the metering core: classic pcap or pcapng.
#include "shared/capture/capture.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice {
namespace {

__extension__ typedef unsigned __int128 uint128;  // a time in units times 10^9

constexpr std::uint32_t kMagicMicroseconds = 0xa1b2c3d4;
constexpr std::uint32_t kMagicNanoseconds = 0xa1b23c4d;
constexpr std::size_t kFileHeader = 24;
constexpr std::size_t kRecordHeader = 16;
constexpr std::size_t kPrefetchAhead = 2048;  // bytes: a few records of a few hundred bytes

// pcapng (draft-ietf-opsawg-pcapng): block types, the byte-order magic, option codes.
constexpr std::uint32_t kSectionHeader = 0x0a0d0d0a;  // the same in either byte order
constexpr std::uint32_t kByteOrderMagic = 0x1a2b3c4d;
constexpr std::uint32_t kInterfaceDescription = 1;
constexpr std::uint32_t kObsoletePacket = 2;
constexpr std::uint32_t kSimplePacket = 3;
constexpr std::uint32_t kEnhancedPacket = 6;
constexpr std::uint16_t kOptionEnd = 0, kOptionTsResolution = 9, kOptionTsOffset = 14;
constexpr std::uint64_t kMaxBlock = 1u << 30;  // beyond this a block's length is damage

constexpr const char* kMetered =
    "Sluice meters Ethernet, Linux cooked captures (SLL, SLL2), raw IP, BSD loopback, PPP and "
    "Cisco HDLC";

std::uint32_t raw32(const std::uint8_t* p, bool swapped) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

}  // namespace

bool CaptureReader::is_capture(const std::uint8_t* first4) {
    const std::uint32_t magic = raw32(first4, false);
    for (const std::uint32_t m : {magic, __builtin_bswap32(magic)})
        if (m == kMagicMicroseconds || m == kMagicNanoseconds) return true;
    return magic == kSectionHeader;
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
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    name_ = name;
    capacity_ = buffer_size(read_size_);
    if (next_buffer_) {
        buffer_ = next_buffer_();
    } else {
        if (!own_) own_ = std::make_unique_for_overwrite<std::uint8_t[]>(capacity_);
        buffer_ = own_.get();
    }
    begin_ = end_ = 0;
    offset_ = skip_ = 0;
    eof_ = false;
    done_ = false;
    swapped_ = nanoseconds_ = false;
    link_ = LinkType::ethernet;
    interfaces_.clear();
    sections_ = 0;
    description_.clear();
    last_time_ns_ = packets_ = bytes_ = 0;
    error_.clear();
    notices_.clear();
    noted_.clear();
    opened_ = false;
    open_ = true;
    if (!stream_.open(fd)) return fail(stream_.error());
    while (end_ < kFileHeader && refill()) {
    }
    if (!error_.empty()) return false;
    if (end_ < 4) return fail("not a capture file: shorter than a file header");
    if (!is_capture(&buffer_[0]))
        return fail("not a pcap or pcapng file (it starts with neither's magic number)");
    return raw32(&buffer_[0], false) == kSectionHeader ? open_pcapng() : open_pcap();
}

bool CaptureReader::open_pcap() {
    format_ = Format::pcap;
    if (end_ < kFileHeader) return fail("not a pcap file: shorter than a pcap file header");
    const std::uint32_t magic = raw32(&buffer_[0], false);
    swapped_ = magic != kMagicMicroseconds && magic != kMagicNanoseconds;
    nanoseconds_ = load32(&buffer_[0]) == kMagicNanoseconds;
    Interface i;
    i.linktype = load32(&buffer_[20]) & 0xffff;  // the FCS length and flag are above
    i.link = link_type(i.linktype);
    const std::string name = link_type_name(i.linktype);
    if (i.link == LinkType::unsupported)
        return fail("link type " + name + ", which Sluice does not meter; " + kMetered);
    description_ =
        "pcap, " + name + (nanoseconds_ ? ", nanosecond timestamps" : ", microsecond timestamps");
    link_ = i.link;
    interfaces_.push_back(i);
    begin_ = kFileHeader;
    offset_ = kFileHeader;
    return true;
}

bool CaptureReader::open_pcapng() {
    format_ = Format::pcapng;
    // The first section's header and interfaces, up to its first packet.
    bool waiting = false;
    to_packet_block(true, waiting);
    if (!error_.empty()) return false;
    bool metered = interfaces_.empty();
    std::string names;
    for (const Interface& i : interfaces_) {
        names += (names.empty() ? "" : ", ") + link_type_name(i.linktype);
        metered |= i.link != LinkType::unsupported;
    }
    if (!metered)
        return fail("its interfaces' link types are " + names + ", none of which Sluice meters; " +
                    kMetered);
    description_ = "pcapng, " + std::to_string(interfaces_.size()) +
                   (interfaces_.size() == 1 ? " interface: " : " interfaces: ") + names;
    opened_ = true;
    return true;
}

bool CaptureReader::fail(std::string message) {
    error_ = name_ + ": " + std::move(message);
    done_ = true;
    return false;
}

bool CaptureReader::refill() {
    if (eof_ || !open_) return false;
    // What is left goes to the front: of this buffer, or of the next one lent.
    std::uint8_t* to = next_buffer_ ? next_buffer_() : buffer_;
    std::memmove(to, buffer_ + begin_, end_ - begin_);
    buffer_ = to;
    end_ -= begin_;
    begin_ = 0;
    const std::size_t kept = end_;
    while (end_ < capacity_) {
        const std::ptrdiff_t n =
            stream_.read(buffer_ + end_, std::min(capacity_ - end_, read_size_));
        // An error after bytes: those are taken first, the error comes on the next refill.
        if (n < 0) return end_ > kept ? true : fail(stream_.error());
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
    return format_ == Format::pcap ? next_pcap(out, max) : next_pcapng(out, max);
}

unsigned CaptureReader::next_pcap(PacketRef* out, unsigned max) {
    unsigned n = 0;
    while (n < max && !done_) {
        const std::size_t left = end_ - begin_;
        const std::uint8_t* h = &buffer_[begin_];
        // The records are read in order, each found by the one before: what comes a few
        // records on is asked for now, so it is not a miss when its turn comes.
        if (left > kPrefetchAhead) __builtin_prefetch(h + kPrefetchAhead);
        const std::uint32_t caplen = left >= kRecordHeader ? load32(h + 8) : 0;
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
        const std::uint32_t length = load32(h + 12);
        const std::uint64_t seconds = load32(h);
        const std::uint64_t fraction = load32(h + 4);
        out[n++] = {h + kRecordHeader, caplen, length > caplen ? length : caplen,
                    seconds * 1'000'000'000 + fraction * (nanoseconds_ ? 1 : 1000)};
        begin_ += kRecordHeader + caplen;
        offset_ += kRecordHeader + caplen;
        ++packets_;
        bytes_ += caplen;
    }
    return n;
}

std::uint32_t CaptureReader::to_packet_block(bool may_read, bool& waiting) {
    // Reads more when what is buffered does not hold what comes next; false when the caller
    // is to stop: waiting for a burst to go, the end of the file, or an error.
    auto more = [&]() {
        if (!may_read) {
            waiting = true;
            return false;
        }
        return refill();
    };
    while (!done_) {
        if (skip_ != 0) {  // the rest of a block too large to hold, to skip
            const std::size_t drop =
                static_cast<std::size_t>(std::min<std::uint64_t>(skip_, end_ - begin_));
            begin_ += drop;
            offset_ += drop;
            skip_ -= drop;
            if (skip_ != 0 && !more()) {
                if (!waiting && error_.empty())
                    fail("ends inside a block, " + std::to_string(skip_) + " bytes short");
                return 0;
            }
            continue;
        }
        const std::size_t left = end_ - begin_;
        const std::uint8_t* h = &buffer_[begin_];
        const bool section = left >= 4 && raw32(h, false) == kSectionHeader;
        if (left < (section ? 12u : 8u)) {
            if (more()) continue;
            if (waiting || !error_.empty()) return 0;
            if (left == 0)
                done_ = true;
            else
                fail("ends inside a block header at offset " + std::to_string(offset_));
            return 0;
        }
        if (section) {
            // A section sets its own byte order, by its byte-order magic.
            const std::uint32_t order = raw32(h + 8, false);
            if (order != kByteOrderMagic && order != __builtin_bswap32(kByteOrderMagic)) {
                fail("a section header without the byte-order magic at offset " +
                     std::to_string(offset_) + ": the file is damaged");
                return 0;
            }
            swapped_ = order != kByteOrderMagic;
        }
        const std::uint32_t type = load32(h);
        const std::uint32_t length = load32(h + 4);
        const bool packet =
            type == kEnhancedPacket || type == kSimplePacket || type == kObsoletePacket;
        const bool whole = packet || section || type == kInterfaceDescription;
        if (length < 12 || length % 4 != 0 || length > kMaxBlock ||
            (whole && length > kMaxPacketBlock)) {
            fail("a block of " + std::to_string(length) + " bytes at offset " +
                 std::to_string(offset_) + ": the file is damaged");
            return 0;
        }
        if (length > left) {
            if (!whole) {  // a block this reader skips: it need not be held whole
                skip_ = length - left;
                offset_ += left;
                begin_ = end_;
                continue;
            }
            if (more()) continue;
            if (waiting || !error_.empty()) return 0;
            fail("ends inside a block at offset " + std::to_string(offset_) + " (" +
                 std::to_string(length) + " bytes, " + std::to_string(left) + " in the file)");
            return 0;
        }
        if (load32(h + length - 4) != length) {
            fail("the block at offset " + std::to_string(offset_) +
                 " ends with another length than it begins with: the file is damaged");
            return 0;
        }
        if (packet) return length;
        if (section && !section_header(h, length)) return 0;
        if (type == kInterfaceDescription && !interface_block(h, length)) return 0;
        begin_ += length;
        offset_ += length;
    }
    return 0;
}

bool CaptureReader::section_header(const std::uint8_t* block, std::uint32_t length) {
    if (length < 28)
        return fail("a section header of " + std::to_string(length) + " bytes at offset " +
                    std::to_string(offset_) + ": the file is damaged");
    const std::uint16_t major = load16(block + 12);
    if (major != 1)
        return fail("a pcapng section of version " + std::to_string(major) + "." +
                    std::to_string(load16(block + 14)) + " at offset " + std::to_string(offset_) +
                    ", which this reader does not take (1.x)");
    ++sections_;
    interfaces_.clear();  // a section's interfaces are its own
    return true;
}

bool CaptureReader::interface_block(const std::uint8_t* block, std::uint32_t length) {
    const std::string where = "the interface at offset " + std::to_string(offset_);
    if (sections_ == 0 || length < 20) return fail(where + " is damaged");
    Interface i;
    i.linktype = load16(block + 8);
    i.link = link_type(i.linktype);
    i.snap_length = load32(block + 12);
    // Options: a code, a length, the value padded to 4 bytes; up to the block's last length.
    for (std::uint32_t at = 16; at + 4 <= length - 4;) {
        const std::uint16_t code = load16(block + at);
        const std::uint16_t size = load16(block + at + 2);
        const std::uint8_t* value = block + at + 4;
        if (code == kOptionEnd) break;
        if (at + 4 + size > length - 4) return fail(where + " has an option beyond its end");
        if (code == kOptionTsResolution && size >= 1) {
            const unsigned exponent = value[0] & 0x7f;
            const bool binary = value[0] & 0x80;
            if (exponent > (binary ? 63u : 19u))
                return fail(where + " has a timestamp resolution of " + (binary ? "2^-" : "10^-") +
                            std::to_string(exponent) + " s, finer than this reader takes");
            i.units_per_second = 1;
            for (unsigned e = 0; e < exponent; ++e) i.units_per_second *= binary ? 2 : 10;
        } else if (code == kOptionTsOffset && size >= 8) {
            const std::uint64_t seconds = std::uint64_t{load32(value + (swapped_ ? 0 : 4))} << 32 |
                                          load32(value + (swapped_ ? 4 : 0));
            i.offset_ns = seconds * 1'000'000'000;  // a negative offset wraps, as it must
        }
        at += 4 + ((size + 3u) & ~3u);
    }
    i.ns_per_unit =
        1'000'000'000 % i.units_per_second == 0 ? 1'000'000'000 / i.units_per_second : 0;
    // An interface id is 32 bits, but no capture has this many: damage, or an attack on memory.
    if (interfaces_.size() >= kMaxInterfaces)
        return fail(where + " is one more than the " + std::to_string(kMaxInterfaces) +
                    " interfaces a section may have here");
    // Past the file's start, a link type not metered is said once; its packets are counted as
    // ignored.
    if (i.link == LinkType::unsupported && opened_ && noted_.insert(i.linktype).second)
        notices_.push_back(name_ + ": interface " + std::to_string(interfaces_.size()) +
                           " of section " + std::to_string(sections_) + " is " +
                           link_type_name(i.linktype) +
                           ", which Sluice does not meter: its packets are counted as ignored "
                           "(unsupported_link_type)");
    interfaces_.push_back(i);
    return true;
}

inline std::uint64_t CaptureReader::time_ns(const Interface& i, std::uint64_t units) const {
    const std::uint64_t ns = i.ns_per_unit != 0
                                 ? units * i.ns_per_unit
                                 : static_cast<std::uint64_t>(static_cast<uint128>(units) *
                                                              1'000'000'000 / i.units_per_second);
    return ns + i.offset_ns;
}

// Most blocks of a capture are enhanced packet blocks whole in the buffer: those are taken
// here, the rest (and anything odd about one) by to_packet_block.
inline std::uint32_t CaptureReader::next_packet_block(bool may_read, bool& waiting) {
    const std::size_t left = end_ - begin_;
    if (skip_ == 0 && left >= 32) {
        const std::uint8_t* h = &buffer_[begin_];
        const std::uint32_t length = load32(h + 4);
        if (load32(h) == kEnhancedPacket && length >= 32 && length % 4 == 0 && length <= left &&
            length <= kMaxPacketBlock && load32(h + length - 4) == length)
            return length;
    }
    return to_packet_block(may_read, waiting);
}

unsigned CaptureReader::next_pcapng(PacketRef* out, unsigned max) {
    unsigned n = 0;
    while (n < max && !done_) {
        bool waiting = false;
        const std::uint32_t length = next_packet_block(n == 0, waiting);
        if (length == 0) break;
        const std::uint8_t* h = &buffer_[begin_];
        const std::uint32_t type = load32(h);
        // Said on an error only: building it for every packet would cost more than the packet.
        const auto where = [this] { return " at offset " + std::to_string(offset_); };
        std::uint32_t interface = 0, captured, original;
        std::uint64_t units = 0;
        const std::uint8_t* data;
        if (type == kSimplePacket) {  // no interface id, no time: the first interface's
            if (length < 16) {
                fail("a simple packet block" + where() + " is damaged");
                break;
            }
            original = load32(h + 8);
            captured = std::min({original, length - 16, kMaxRecord});
            if (!interfaces_.empty() && interfaces_[0].snap_length != 0)
                captured = std::min(captured, interfaces_[0].snap_length);
            data = h + 12;
        } else {
            if (length < 32) {
                fail("a packet block" + where() + " is damaged");
                break;
            }
            interface = type == kObsoletePacket ? load16(h + 8) : load32(h + 8);
            units = std::uint64_t{load32(h + 12)} << 32 | load32(h + 16);
            captured = load32(h + 20);
            original = load32(h + 24);
            data = h + 28;
            if (captured > kMaxRecord || captured > length - 32) {
                fail("a packet block" + where() + " holds a packet of " + std::to_string(captured) +
                     " bytes, longer than the block: the file is damaged");
                break;
            }
        }
        if (interface >= interfaces_.size()) {
            fail("a packet of interface " + std::to_string(interface) + where() +
                 ", which its section does not describe: the file is damaged");
            break;
        }
        const Interface& i = interfaces_[interface];
        if (n != 0 && i.link != link_) break;  // a burst holds packets of one link type
        link_ = i.link;
        if (type != kSimplePacket) last_time_ns_ = time_ns(i, units);
        out[n++] = {data, captured, std::max(original, captured), last_time_ns_};
        begin_ += length;
        offset_ += length;
        ++packets_;
        bytes_ += captured;
    }
    return n;
}

}  // namespace sluice
