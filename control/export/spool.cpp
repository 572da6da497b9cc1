// The spool's files. A segment is a header, then blocks: a 48-byte header (magic, slot and
// record counts, the records' packets, octets and oldest flowStart, the payload's CRC-32 and
// the header's own) and the slots as FlowRecords, whole units only. The cursor file lists,
// for the segments whose first blocks the collector has confirmed, where reading resumes.
#include "control/export/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "shared/config/units.hpp"
#include "sluice/log.hpp"
#include "sluice/time.hpp"

namespace sluice::control {
namespace {

constexpr char kSegmentMagic[8] = {'S', 'L', 'S', 'P', 'O', 'O', 'L', '1'};
constexpr std::uint32_t kBlockMagic = 0x4b4c4253;   // "SBLK"
constexpr std::uint32_t kCursorMagic = 0x52435353;  // "SSCR"
constexpr std::uint32_t kFormat = 2;
constexpr std::size_t kBlockHeader = 48;
constexpr std::uint32_t kBlockRecords = 2048;    // the most one block holds: 256 KiB
constexpr std::uint64_t kFirstSeq = 1ull << 32;  // room below for what a stop puts in front
constexpr std::size_t kMaxCursorEntries = 64;

struct BlockHeader {
    std::uint32_t magic;
    std::uint32_t count;    // slots
    std::uint32_t records;  // of them, records (the others their extensions)
    std::uint32_t reserved;
    std::uint64_t packets;
    std::uint64_t octets;
    std::uint64_t oldest_ns;
    std::uint32_t payload_crc;
    std::uint32_t header_crc;  // of the 44 bytes before it
};
static_assert(sizeof(BlockHeader) == kBlockHeader);

RecordTotals totals_of(const BlockHeader& h) {
    return {h.records, h.packets, h.octets, h.count};
}

std::uint32_t crc(const void* data, std::size_t n) {
    return static_cast<std::uint32_t>(
        crc32(0, static_cast<const Bytef*>(data), static_cast<uInt>(n)));
}

bool valid(const BlockHeader& h) {
    return h.magic == kBlockMagic && h.count != 0 && h.count <= kBlockRecords &&
           h.records <= h.count && h.header_crc == crc(&h, offsetof(BlockHeader, header_crc));
}

std::string utc_stamp(std::uint64_t ns) {
    const std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

bool read_exact(int fd, void* out, std::size_t n, std::uint64_t at) {
    auto* p = static_cast<char*>(out);
    while (n > 0) {
        const ssize_t r = pread(fd, p, n, static_cast<off_t>(at));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
        at += static_cast<std::uint64_t>(r);
    }
    return true;
}

bool write_exact(int fd, const void* data, std::size_t n, std::uint64_t at, int& err) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = pwrite(fd, p, n, static_cast<off_t>(at));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            err = w < 0 ? errno : ENOSPC;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
        at += static_cast<std::uint64_t>(w);
    }
    return true;
}

// The totals of the first `skip` slots of the block at `at`, those its collector confirmed
// before (all of them, when they do not read).
RecordTotals confirmed(int fd, std::uint64_t at, std::uint32_t skip) {
    std::vector<FlowRecord> slots(skip);
    RecordTotals t;
    if (read_exact(fd, slots.data(), skip * sizeof(FlowRecord), at + kBlockHeader))
        for (const FlowRecord& r : slots) t.add(r);
    else
        t.slots = t.records = skip;
    return t;
}

std::uint64_t file_size(int fd) {
    struct stat st {};
    return fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

// The segment header: magic, format, record layout and size, its length, seq, creation time,
// then the sensor's and the collector's names, and its CRC; padded to 16 bytes.
std::vector<std::uint8_t> segment_header(std::uint64_t seq, std::uint64_t created_ns,
                                         const std::string& sensor, const std::string& collector) {
    std::vector<std::uint8_t> h(kSegmentMagic, kSegmentMagic + 8);
    const auto put = [&h](std::uint64_t v, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) h.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    };
    const std::size_t length = (8 + 16 + 16 + 4 + sensor.size() + collector.size() + 4 + 15) & ~15u;
    put(kFormat, 4);
    put(kRecordLayoutVersion, 4);
    put(sizeof(FlowRecord), 4);
    put(length, 4);
    put(seq, 8);
    put(created_ns, 8);
    put(sensor.size(), 2);
    put(collector.size(), 2);
    h.insert(h.end(), sensor.begin(), sensor.end());
    h.insert(h.end(), collector.begin(), collector.end());
    put(crc(h.data(), h.size()), 4);
    h.resize(length, 0);
    return h;
}

std::uint64_t get(const std::uint8_t* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return v;
}

}  // namespace

std::size_t unit_length(std::span<const FlowRecord> slots) {
    std::size_t k = 1;
    if (!is_extension(slots[0]))
        while (k < unit_slots(slots[0]) && k < slots.size() && is_extension(slots[k])) ++k;
    return k;
}

std::size_t whole_units(std::span<const FlowRecord> slots, std::size_t room) {
    std::size_t n = 0;
    for (std::size_t k; n < slots.size() && n + (k = unit_length(slots.subspan(n))) <= room;)
        n += k;
    return n;
}

// A name as it may stand in a file name: letters, digits, '.', '_' and '-'; others as '_'.
std::string file_safe(const std::string& name) {
    std::string out = name;
    for (char& c : out)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
            c = '_';
    return out;
}

namespace {

// The start of the names of a collector's files in its spool's folder.
std::string prefix_of(const SpoolSettings& s) {
    return "sluice-" + file_safe(s.sensor) + "-" + file_safe(s.collector) + "-";
}

}  // namespace

Spool::Spool(SpoolSettings settings)
    : settings_(std::move(settings)),
      prefix_(prefix_of(settings_)),
      segment_size_(std::clamp<std::uint64_t>(settings_.size / 16, 1 << 20, 256 << 20)) {
    if (mkdir(settings_.folder.c_str(), 0750) != 0 && errno != EEXIST)
        SLUICE_WARN("spool %s: cannot create the folder: %s", settings_.folder.c_str(),
                    std::strerror(errno));
    // The cursor: where reading resumes in segments whose first blocks were confirmed.
    std::vector<std::uint64_t> cursor;  // seq, offset, skip, ...
    const std::string cursor_path = settings_.folder + "/" + prefix_ + "cursor";
    cursor_fd_ = ::open(cursor_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (cursor_fd_ < 0) {
        SLUICE_WARN("spool %s: cannot open %s: %s", settings_.folder.c_str(), cursor_path.c_str(),
                    std::strerror(errno));
    } else if (const std::uint64_t n = file_size(cursor_fd_); n != 0) {
        std::vector<std::uint8_t> raw(n);
        const bool ok = n >= 12 && n <= 12 + kMaxCursorEntries * 24 &&
                        read_exact(cursor_fd_, raw.data(), n, 0) &&
                        get(raw.data(), 4) == kCursorMagic && get(raw.data() + 4, 4) == kFormat &&
                        (n - 12) % 24 == 0 && get(raw.data() + n - 4, 4) == crc(raw.data(), n - 4);
        if (ok)
            for (std::size_t at = 8; at + 24 <= n - 4; at += 24)
                cursor.insert(cursor.end(),
                              {get(&raw[at], 8), get(&raw[at + 8], 8), get(&raw[at + 16], 8)});
        else
            SLUICE_WARN(
                "spool %s: %s does not read; its segments are sent from their start, "
                "some records perhaps again",
                settings_.folder.c_str(), cursor_path.c_str());
    }
    for (std::string& name : segment_files(settings_)) {
        Segment s;
        s.seq = std::stoull(name.substr(prefix_.size(), 16), nullptr, 16);
        s.path = settings_.folder + "/" + name;
        segments_.push_back(std::move(s));
    }
    std::sort(segments_.begin(), segments_.end(),
              [](const Segment& a, const Segment& b) { return a.seq < b.seq; });
    for (auto it = segments_.begin(); it != segments_.end();) {
        const int fd = ::open(it->path.c_str(), O_RDONLY | O_CLOEXEC);
        std::uint8_t fixed[44];
        bool ours = fd >= 0 && read_exact(fd, fixed, sizeof(fixed), 0) &&
                    std::memcmp(fixed, kSegmentMagic, 8) == 0;
        std::uint64_t length = ours ? get(fixed + 20, 4) : 0;
        ours = ours && length >= 48 && length <= 1024;
        if (ours) {
            std::vector<std::uint8_t> h(length);
            const std::size_t names = get(fixed + 40, 2) + get(fixed + 42, 2);
            ours = read_exact(fd, h.data(), length, 0) && 44 + names + 4 <= length &&
                   get(&h[44 + names], 4) == crc(h.data(), 44 + names) &&
                   get(fixed + 8, 4) == kFormat && get(fixed + 12, 4) == kRecordLayoutVersion &&
                   get(fixed + 16, 4) == sizeof(FlowRecord) && get(fixed + 24, 8) == it->seq &&
                   std::string(h.begin() + 44,
                               h.begin() + 44 + static_cast<long>(get(fixed + 40, 2))) ==
                       settings_.sensor &&
                   std::string(h.begin() + 44 + static_cast<long>(get(fixed + 40, 2)),
                               h.begin() + 44 + static_cast<long>(names)) == settings_.collector;
        }
        if (!ours) {
            SLUICE_WARN(
                "spool %s: %s is not a spool segment of collector \"%s\" of this version; "
                "left alone",
                settings_.folder.c_str(), it->path.c_str(), settings_.collector.c_str());
            if (fd >= 0) ::close(fd);
            it = segments_.erase(it);
            continue;
        }
        it->start = it->header = length;
        for (std::size_t i = 0; i + 3 <= cursor.size(); i += 3)
            if (cursor[i] == it->seq && cursor[i + 1] >= length) {
                it->start = cursor[i + 1];
                it->skip = static_cast<std::uint32_t>(cursor[i + 2]);
            }
        scan(*it, fd, length);
        ::close(fd);
        ++it;
    }
    for (std::size_t i = 1; i < segments_.size(); ++i)
        if (segments_[i].seq != segments_[i - 1].seq + 1) {
            state_.missing_segments += segments_[i].seq - segments_[i - 1].seq - 1;
            SLUICE_WARN(
                "spool %s: segments %016lx to %016lx of collector \"%s\" are missing; "
                "their records are lost",
                settings_.folder.c_str(), static_cast<unsigned long>(segments_[i - 1].seq + 1),
                static_cast<unsigned long>(segments_[i].seq - 1), settings_.collector.c_str());
        }
    for (const Segment& s : segments_) {
        unread_ += s.records;
        state_.bytes += s.bytes;
        opened_.add(s.totals);
    }
    if (!segments_.empty()) {
        read_seq_ = segments_.front().seq;
        read_offset_ = segments_.front().start;
    }
    if (unread_ != 0)
        SLUICE_INFO(
            "spool %s: collector \"%s\" has %lu records in %zu segments from an earlier "
            "run; they go out first",
            settings_.folder.c_str(), settings_.collector.c_str(),
            static_cast<unsigned long>(opened_.records), segments_.size());
    block_.reserve(kBlockRecords);
}

Spool::~Spool() {
    flush();
    if (tail_fd_ >= 0) ::close(tail_fd_);
    tail_fd_ = -1;
    remove_done();  // a last segment read to its end and confirmed is not kept
    write_cursor();
    for (int fd : {tail_fd_, read_fd_, cursor_fd_})
        if (fd >= 0) ::close(fd);
}

// Counts the records of the blocks from s.start on, as their headers say; a header that does
// not read is passed over to the next one that does (reading counts and logs the damage).
void Spool::scan(Segment& s, int fd, std::uint64_t data_start) {
    s.bytes = file_size(fd);
    std::uint64_t at = std::max(s.start, data_start);
    bool first = true;
    while (at + kBlockHeader <= s.bytes) {
        BlockHeader h;
        if (!read_exact(fd, &h, sizeof(h), at)) break;
        const std::uint64_t end = at + kBlockHeader + std::uint64_t{h.count} * sizeof(FlowRecord);
        if (!valid(h)) {
            at = resync(fd, at + 16, s.bytes);
            first = false;
            continue;
        }
        const std::uint32_t skip = first ? std::min(s.skip, h.count) : 0;
        s.records += h.count - skip;
        s.totals.add(totals_of(h));
        if (end > s.bytes) break;  // cut short (a power loss): held, to be counted as lost
        if (skip != 0) s.totals.subtract(confirmed(fd, at, skip));  // not held
        first = false;
        at = end;
    }
}

// The offset of the next block header that reads, from `from` on (blocks start 16 bytes
// apart at least); `end` when there is none.
std::uint64_t Spool::resync(int fd, std::uint64_t from, std::uint64_t end) {
    std::vector<std::uint8_t> buf(1 << 16);
    for (std::uint64_t at = from & ~15ull; at + kBlockHeader <= end;) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end - at));
        if (!read_exact(fd, buf.data(), n, at)) return end;
        for (std::size_t i = 0; i + kBlockHeader <= n; i += 16) {
            BlockHeader h;
            std::memcpy(&h, &buf[i], sizeof(h));
            if (valid(h)) return at + i;
        }
        if (n < kBlockHeader) return end;
        at += n - kBlockHeader + 16;
        at &= ~15ull;
    }
    return end;
}

// This collector's segments: PREFIX<16 hex digits>-<UTC time>.spool.
std::vector<std::string> Spool::segment_files(const SpoolSettings& settings) {
    const std::string prefix = prefix_of(settings);
    std::vector<std::string> out;
    if (DIR* d = opendir(settings.folder.c_str())) {
        while (const dirent* e = readdir(d)) {
            std::string name = e->d_name;
            const std::string rest = name.size() > prefix.size() ? name.substr(prefix.size()) : "";
            if (name.compare(0, prefix.size(), prefix) == 0 && rest.size() == 16 + 1 + 16 + 6 &&
                rest.compare(rest.size() - 6, 6, ".spool") == 0 &&
                rest.find_first_not_of("0123456789abcdef") == 16 && rest[16] == '-')
                out.push_back(std::move(name));
        }
        closedir(d);
    }
    return out;
}

std::string Spool::segment_path(std::uint64_t seq) const {
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016lx", static_cast<unsigned long>(seq));
    return settings_.folder + "/" + prefix_ + hex + "-" + utc_stamp(wall_clock_ns()) + ".spool";
}

// Creates segment `s` (its seq set) with its header: its file open for writing, or -1 when
// the disk refuses.
int Spool::create_segment(Segment& s) {
    s.path = segment_path(s.seq);
    const int fd = ::open(s.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        fail_write("cannot create " + s.path, errno);
        return -1;
    }
    const auto header =
        segment_header(s.seq, wall_clock_ns(), settings_.sensor, settings_.collector);
    int err = 0;
    if (!write_exact(fd, header.data(), header.size(), 0, err)) {
        ::close(fd);
        ::unlink(s.path.c_str());
        fail_write("cannot write " + s.path, err);
        return -1;
    }
    s.bytes = s.start = s.header = header.size();
    state_.bytes += header.size();
    folder_dirty_ = true;
    return fd;
}

// A new last segment, the one appended to from now on.
bool Spool::new_tail() {
    Segment s;
    s.seq = segments_.empty() ? kFirstSeq : segments_.back().seq + 1;
    const int fd = create_segment(s);
    if (fd < 0) return false;
    if (tail_fd_ >= 0) ::close(tail_fd_);
    tail_fd_ = fd;
    const bool was_empty = segments_.empty();
    segments_.push_back(std::move(s));
    if (was_empty) {
        read_seq_ = segments_.back().seq;
        read_offset_ = segments_.back().start;
    }
    remove_done();  // the segment before, if confirmed to its end, is no longer needed
    return true;
}

// One block of at most kBlockRecords at the end of `s`; false (nothing written) when the disk
// refuses.
bool Spool::write_block(Segment& s, int fd, std::span<const FlowRecord> records) {
    BlockHeader h{};
    h.magic = kBlockMagic;
    h.count = static_cast<std::uint32_t>(records.size());
    h.oldest_ns = UINT64_MAX;
    for (const FlowRecord& r : records) {
        if (is_extension(r)) continue;
        ++h.records;
        h.packets += r.packets + r.reverse_packets;
        h.octets += r.octets + r.reverse_octets;
        h.oldest_ns = std::min(h.oldest_ns, r.first_ns);
    }
    h.payload_crc = crc(records.data(), records.size_bytes());
    h.header_crc = crc(&h, offsetof(BlockHeader, header_crc));
    int err = 0;
    if (!write_exact(fd, &h, sizeof(h), s.bytes, err) ||
        !write_exact(fd, records.data(), records.size_bytes(), s.bytes + sizeof(h), err)) {
        if (ftruncate(fd, static_cast<off_t>(s.bytes)) != 0) {
            // The file keeps a cut block at its end; reading counts it as damage.
        }
        fail_write("cannot write " + s.path, err);
        return false;
    }
    const std::uint64_t n = sizeof(h) + records.size_bytes();
    s.bytes += n;
    state_.bytes += n;
    s.records += records.size();
    s.totals.add(totals_of(h));
    unread_ += records.size();
    write_logged_ = false;
    if (settings_.sync == config::kSyncAlways)
        fdatasync(fd);
    else
        data_dirty_ = true;
    return true;
}

void Spool::fail_write(const std::string& what, int err) {
    ++state_.write_failures;
    if (!write_logged_)
        SLUICE_WARN("spool %s: %s: %s; the spool counts as full until a write succeeds",
                    settings_.folder.c_str(), what.c_str(), std::strerror(err));
    write_logged_ = true;
}

// Drops the oldest segment nothing has been read from (not the one written to): its records
// are counted as dropped, and its file keeps its header only, so that the segments' numbers
// stay without a gap. False when there is none.
bool Spool::drop_oldest(RecordTotals& dropped) {
    for (Segment& seg : segments_) {
        if (seg.loaded || is_tail(seg) || seg.records == 0) continue;
        dropped.add(seg.totals);
        unread_ -= std::min(unread_, seg.records);
        SLUICE_WARN("spool %s: full; the %lu oldest records of collector \"%s\" (%s) are dropped",
                    settings_.folder.c_str(), static_cast<unsigned long>(seg.records),
                    settings_.collector.c_str(), seg.path.c_str());
        if (truncate(seg.path.c_str(), static_cast<off_t>(seg.header)) != 0)
            SLUICE_WARN("spool %s: cannot truncate %s: %s", settings_.folder.c_str(),
                        seg.path.c_str(), std::strerror(errno));
        state_.bytes -= std::min(state_.bytes, seg.bytes - seg.header);
        seg.bytes = seg.start = seg.header;
        seg.skip = 0;
        seg.records = 0;
        seg.totals = {};
        if (seg.seq == read_seq_) read_offset_ = seg.header;
        cursor_dirty_ = true;
        return true;
    }
    return false;
}

RecordTotals Spool::append(std::span<const FlowRecord> records) {
    return store(records, false);
}

RecordTotals Spool::prepend(std::span<const FlowRecord> records) {
    return store(records, true);
}

// Writes `block` at the end of the spool (or of `ahead`, when its fd is given): false when
// the disk refuses.
bool Spool::write_at_end(std::span<const FlowRecord> block, Segment* ahead, int ahead_fd) {
    if (ahead != nullptr) return write_block(*ahead, ahead_fd, block);
    const std::uint64_t need = kBlockHeader + block.size_bytes();
    if ((tail_fd_ < 0 || segments_.back().bytes + need > segment_size_) && !new_tail())
        return false;
    return write_block(segments_.back(), tail_fd_, block);
}

RecordTotals Spool::store(std::span<const FlowRecord> records, bool front) {
    RecordTotals dropped;
    const bool drop_oldest_ok = settings_.overflow == config::SpoolOverflow::drop_oldest;
    Segment ahead;  // prepend: a segment before all the others
    int ahead_fd = -1;
    if (front && !records.empty()) {
        ahead.seq = segments_.empty() ? kFirstSeq : segments_.front().seq - 1;
        ahead_fd = create_segment(ahead);
        if (ahead_fd < 0) {
            for (const FlowRecord& r : records) dropped.add(r);
            state_.dropped.add(dropped);
            return dropped;
        }
    }
    while (!records.empty()) {
        const auto block = records.first(whole_units(records, kBlockRecords));
        const std::uint64_t need = kBlockHeader + block.size_bytes();
        bool written = false;
        bool room = false;
        // A disk that refuses a write counts as a full spool.
        do {
            room = state_.bytes + need <= settings_.size;
            while (!room && drop_oldest_ok && drop_oldest(dropped))
                room = state_.bytes + need <= settings_.size;
            if (!room) break;
            written = write_at_end(block, front ? &ahead : nullptr, ahead_fd);
        } while (!written && drop_oldest_ok && drop_oldest(dropped));
        if (!written) {
            if (!room && !full_logged_)
                SLUICE_WARN(
                    "spool %s: collector \"%s\" has %s on disk, its spool_size; "
                    "records are dropped (spool_overflow)",
                    settings_.folder.c_str(), settings_.collector.c_str(),
                    config::format_size(settings_.size).c_str());
            full_logged_ = full_logged_ || !room;
            for (const FlowRecord& r : records) dropped.add(r);  // the rest too, in order
            break;
        } else {
            full_logged_ = false;
        }
        records = records.subspan(block.size());
    }
    if (front && ahead_fd >= 0) {
        fdatasync(ahead_fd);
        ::close(ahead_fd);
        segments_.push_front(std::move(ahead));
        read_seq_ = segments_.front().seq;
        read_offset_ = segments_.front().start;
        block_.clear();
        block_at_ = 0;
        cursor_dirty_ = true;
    }
    state_.dropped.add(dropped);
    return dropped;
}

std::size_t Spool::read(std::span<FlowRecord> out) {
    std::size_t n = 0;
    while (n < out.size()) {
        if (block_at_ == block_.size() && !load_block()) break;
        // A unit never spans two blocks: what does not fit whole waits for the next read.
        const std::size_t k = whole_units(std::span(block_).subspan(block_at_), out.size() - n);
        if (k == 0) break;
        std::copy_n(block_.begin() + static_cast<long>(block_at_), k,
                    out.begin() + static_cast<long>(n));
        for (std::size_t i = 0; i < k; ++i)
            state_.records_replayed += !is_extension(block_[block_at_ + i]);
        block_at_ += k;
        handed_.back().given += static_cast<std::uint32_t>(k);
        unread_ -= std::min<std::uint64_t>(unread_, k);
        n += k;
    }
    return n;
}

// The next block at the read position into block_, past what is damaged; false when nothing is
// left to read now.
bool Spool::load_block() {
    for (;;) {
        auto seg = std::find_if(segments_.begin(), segments_.end(),
                                [&](const Segment& s) { return s.seq >= read_seq_; });
        if (seg == segments_.end()) return false;
        if (seg->seq != read_seq_) {
            read_seq_ = seg->seq;
            read_offset_ = seg->start;
        }
        if (read_offset_ + kBlockHeader > seg->bytes) {
            if (is_tail(*seg)) return false;  // what is written next is read next
            if (read_offset_ < seg->bytes) {
                state_.damaged_bytes += seg->bytes - read_offset_;
                SLUICE_WARN("spool %s: %s ends inside a block at offset %lu; %lu bytes skipped",
                            settings_.folder.c_str(), seg->path.c_str(),
                            static_cast<unsigned long>(read_offset_),
                            static_cast<unsigned long>(seg->bytes - read_offset_));
            }
            read_offset_ = seg->bytes;
            if (std::next(seg) == segments_.end()) {
                remove_done();  // read to its end: it goes once what was handed out is confirmed
                return false;
            }
            read_seq_ = std::next(seg)->seq;
            read_offset_ = std::next(seg)->start;
            remove_done();
            continue;
        }
        if (read_fd_ < 0 || read_fd_seq_ != seg->seq) {
            if (read_fd_ >= 0) ::close(read_fd_);
            read_fd_ = ::open(seg->path.c_str(), O_RDONLY | O_CLOEXEC);
            read_fd_seq_ = seg->seq;
            if (read_fd_ < 0) {
                SLUICE_WARN("spool %s: cannot open %s: %s; its records are lost",
                            settings_.folder.c_str(), seg->path.c_str(), std::strerror(errno));
                state_.damaged.add(seg->totals);
                unread_ -= std::min(unread_, seg->records);
                seg->records = 0;
                seg->loaded = true;
                read_offset_ = seg->bytes;
                continue;
            }
        }
        const std::uint64_t at = read_offset_;
        BlockHeader h;
        const bool header = read_exact(read_fd_, &h, sizeof(h), at) && valid(h);
        if (!header) {
            const std::uint64_t next = resync(read_fd_, at + 16, seg->bytes);
            state_.damaged_bytes += next - at;
            SLUICE_WARN(
                "spool %s: %s: a block header that does not read at offset %lu; %lu "
                "bytes skipped",
                settings_.folder.c_str(), seg->path.c_str(), static_cast<unsigned long>(at),
                static_cast<unsigned long>(next - at));
            read_offset_ = next;
            continue;
        }
        seg->loaded = true;
        const std::uint64_t end = at + kBlockHeader + std::uint64_t{h.count} * sizeof(FlowRecord);
        const std::uint32_t skip = (at == seg->start) ? std::min(seg->skip, h.count) : 0;
        const std::uint32_t held = h.count - skip;
        seg->records -= std::min<std::uint64_t>(seg->records, held);
        if (end > seg->bytes) {  // cut short: the end of a file a power loss interrupted
            unread_ -= std::min<std::uint64_t>(unread_, held);
            RecordTotals lost = totals_of(h);
            if (skip != 0) lost.subtract(confirmed(read_fd_, at, skip));
            state_.damaged.add(lost);
            state_.damaged_bytes += seg->bytes - at;
            SLUICE_WARN("spool %s: %s: a block cut short at offset %lu; its %lu records are lost",
                        settings_.folder.c_str(), seg->path.c_str(), static_cast<unsigned long>(at),
                        static_cast<unsigned long>(lost.records));
            read_offset_ = seg->bytes;
            handed_.push_back({seg->seq, at, seg->bytes, 0, 0, 0, skip, 0});
            release(0);
            continue;
        }
        block_.resize(h.count);
        const bool read =
            read_exact(read_fd_, block_.data(), h.count * sizeof(FlowRecord), at + kBlockHeader);
        read_offset_ = end;
        if (!read || crc(block_.data(), h.count * sizeof(FlowRecord)) != h.payload_crc) {
            // Its header's totals, less those of the records confirmed before (as scan() took
            // them off).
            RecordTotals lost = totals_of(h);
            if (skip != 0) lost.subtract(confirmed(read_fd_, at, skip));
            unread_ -= std::min<std::uint64_t>(unread_, held);
            state_.damaged.add(lost);
            state_.damaged_bytes += end - at;
            SLUICE_WARN(
                "spool %s: %s: the block at offset %lu does not match its checksum; its "
                "%lu records are lost",
                settings_.folder.c_str(), seg->path.c_str(), static_cast<unsigned long>(at),
                static_cast<unsigned long>(lost.records));
            block_.clear();
            block_at_ = 0;
            handed_.push_back({seg->seq, at, end, 0, 0, 0, skip, 0});
            release(0);
            continue;
        }
        block_.erase(block_.begin(), block_.begin() + skip);
        block_at_ = 0;
        handed_.push_back({seg->seq, at, end, held, 0, 0, skip, h.oldest_ns});
        return true;
    }
}

void Spool::release(std::uint64_t n) {
    while (!handed_.empty()) {
        ReadBlock& b = handed_.front();
        const std::uint64_t k = std::min<std::uint64_t>(n, b.given - b.released);
        b.released += static_cast<std::uint32_t>(k);
        n -= k;
        auto seg = std::find_if(segments_.begin(), segments_.end(),
                                [&](const Segment& s) { return s.seq == b.seq; });
        if (b.released < b.records) {
            if (seg != segments_.end() && k != 0) {
                seg->start = b.start;
                seg->skip = b.first + b.released;
                cursor_dirty_ = true;
            }
            break;
        }
        if (seg != segments_.end()) {
            seg->start = b.end;
            seg->skip = 0;
            // Read to its end, and not the one being written: the segment is done.
            cursor_dirty_ = true;
        }
        handed_.pop_front();
    }
    remove_done();
}

// Deletes the segments from the front that are read to their end and confirmed (or counted as
// lost), except the one written to.
void Spool::remove_done() {
    while (!segments_.empty()) {
        const Segment& s = segments_.front();
        const bool passed =
            s.seq < read_seq_ || (s.seq == read_seq_ && read_offset_ + kBlockHeader > s.bytes);
        const bool handed = std::any_of(handed_.begin(), handed_.end(),
                                        [&](const ReadBlock& b) { return b.seq == s.seq; });
        if (is_tail(s) || handed || !passed) break;
        ::unlink(s.path.c_str());
        state_.bytes -= std::min(state_.bytes, s.bytes);
        segments_.pop_front();
        cursor_dirty_ = true;
        write_cursor();  // its entry goes at once: a later segment may take its number
    }
}

bool Spool::is_tail(const Segment& s) const {
    return tail_fd_ >= 0 && &s == &segments_.back();
}

void Spool::write_cursor() {
    if (!cursor_dirty_ || cursor_fd_ < 0) return;
    cursor_dirty_ = false;
    std::vector<std::uint8_t> raw;
    const auto put = [&raw](std::uint64_t v, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) raw.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    };
    put(kCursorMagic, 4);
    put(kFormat, 4);
    std::size_t entries = 0;
    for (const Segment& s : segments_) {
        if (entries == kMaxCursorEntries) break;
        if (s.start == s.header && s.skip == 0) continue;
        put(s.seq, 8);
        put(s.start, 8);
        put(s.skip, 8);
        ++entries;
    }
    put(crc(raw.data(), raw.size()), 4);
    int err = 0;
    if (!write_exact(cursor_fd_, raw.data(), raw.size(), 0, err) ||
        ftruncate(cursor_fd_, static_cast<off_t>(raw.size())) != 0)
        fail_write("cannot write the cursor", err != 0 ? err : errno);
    if (settings_.sync == config::kSyncAlways) fdatasync(cursor_fd_);
}

void Spool::sync_now() {
    if (data_dirty_ && tail_fd_ >= 0) fdatasync(tail_fd_);
    if (cursor_fd_ >= 0) fdatasync(cursor_fd_);
    data_dirty_ = false;
    if (folder_dirty_) {  // the segments created since: their names
        const int fd = ::open(settings_.folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) fsync(fd);
        if (fd >= 0) ::close(fd);
        folder_dirty_ = false;
    }
}

// The oldest flowStart of the next block to read, from its header, when it changed.
void Spool::peek_oldest() {
    if (unread_ == 0 || (peeked_seq_ == read_seq_ && peeked_offset_ == read_offset_)) return;
    peeked_seq_ = read_seq_;
    peeked_offset_ = read_offset_;
    for (const Segment& seg : segments_) {
        if (seg.seq < read_seq_) continue;
        const std::uint64_t at = seg.seq == read_seq_ ? read_offset_ : seg.start;
        if (at + kBlockHeader > seg.bytes) continue;
        const int fd = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
        BlockHeader h;
        const bool ok = fd >= 0 && read_exact(fd, &h, sizeof(h), at) && valid(h);
        if (fd >= 0) ::close(fd);
        if (ok) next_oldest_ns_ = h.oldest_ns;
        return;
    }
}

void Spool::flush() {
    write_cursor();
    if (settings_.sync != config::kSyncNever) sync_now();
}

void Spool::tick(std::chrono::steady_clock::time_point now) {
    write_cursor();
    peek_oldest();
    if (settings_.sync == config::kSyncAlways || settings_.sync == config::kSyncNever) return;
    if (now < next_sync_) return;
    next_sync_ = now + settings_.sync;
    sync_now();
}

SpoolState Spool::state() const {
    SpoolState s = state_;
    s.records = unread_;
    for (const ReadBlock& b : handed_) s.records += b.given - b.released;
    s.oldest_ns = unread_ != 0 ? next_oldest_ns_ : 0;
    for (const ReadBlock& b : handed_)
        if (b.records != b.released) {
            s.oldest_ns = b.oldest_ns;
            break;
        }
    return s;
}

}  // namespace sluice::control
