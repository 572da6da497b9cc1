// A collector's spool: the records beyond its memory buffer wait on disk, in order, and outlive
// sluice-control. Append-only segment files of checksummed blocks, and a small cursor file that
// says how far the collector has confirmed them.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "sluice/config.hpp"
#include "sluice/record.hpp"

namespace sluice::control {

// Records with their packets and octets (both directions), as the accounting counts them, and
// the slots they take with their extensions.
struct RecordTotals {
    std::uint64_t records = 0, packets = 0, octets = 0;
    std::uint64_t slots = 0;

    void add(const FlowRecord& r) {
        ++slots;
        if (is_extension(r)) return;
        ++records;
        packets += r.packets + r.reverse_packets;
        octets += r.octets + r.reverse_octets;
    }
    void add(const RecordTotals& t) {
        records += t.records;
        packets += t.packets;
        octets += t.octets;
        slots += t.slots;
    }
    void subtract(const RecordTotals& t) {
        records -= std::min(records, t.records);
        packets -= std::min(packets, t.packets);
        octets -= std::min(octets, t.octets);
        slots -= std::min(slots, t.slots);
    }
};

// The slots of the unit at the front of `slots`: its record and the extensions that follow it
// (damage may have taken some: the unit ends where they do); an extension without its record
// is a unit of one.
std::size_t unit_length(std::span<const FlowRecord> slots);
// The slots of the whole units at the front of `slots` that fit in `room` slots.
std::size_t whole_units(std::span<const FlowRecord> slots, std::size_t room);

// A name as it may stand in a file name: letters, digits, '.', '_' and '-'; others as '_'.
std::string file_safe(const std::string& name);

struct SpoolSettings {
    std::string folder;
    std::string sensor;     // the sensor's name and the collector's, in every file's name
    std::string collector;  // and header: a folder can hold several collectors' spools
    std::uint64_t size = 4ull << 30;
    config::Duration sync = std::chrono::seconds(1);  // kSyncAlways, kSyncNever or a period
    config::SpoolOverflow overflow = config::SpoolOverflow::drop_newest;
};

// What the spool holds and what it lost, for the counters and `sluicectl spool`.
struct SpoolState {
    std::uint64_t records = 0;           // slots on disk, not yet confirmed by the collector
    std::uint64_t bytes = 0;             // of the segment files
    std::uint64_t oldest_ns = 0;         // flowStart of the oldest record held; 0: none
    std::uint64_t records_replayed = 0;  // read back for the collector
    RecordTotals dropped;                // for room: the spool full, or the disk
    RecordTotals damaged;                // in blocks whose checksum failed
    std::uint64_t damaged_bytes = 0;     // skipped: cut blocks, headers that do not read
    std::uint64_t missing_segments = 0;  // a gap in the segments' numbers
    std::uint64_t write_failures = 0;    // writes the disk refused (full, read-only, ...)
};

class Spool {
public:
    // Opens the folder (creating it) and finds the segments an earlier run left there, in
    // order, from where their collector's confirmations stopped. Problems are logged and
    // counted; the spool then holds what could be read.
    explicit Spool(SpoolSettings settings);
    // The segment files of the spool `settings` names that are in its folder, by their names
    // alone (the folder is not created, no file opened).
    static std::vector<std::string> segment_files(const SpoolSettings& settings);
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    // Appends records behind everything held. What does not fit (spool_size reached, or a
    // disk that refuses the write) is dropped by the overflow policy: these records
    // (drop-newest) or the oldest segment not read yet (drop-oldest); returns what was dropped,
    // to be counted as not sent.
    RecordTotals append(std::span<const FlowRecord> records);
    // Puts records ahead of everything held: at a stop, the memory buffer's oldest records.
    // Returns what could not be written.
    RecordTotals prepend(std::span<const FlowRecord> records);

    // Reads the next records into `out`, the oldest first, each with its extensions; returns
    // how many slots. Damaged blocks are skipped, counted and logged.
    std::size_t read(std::span<FlowRecord> out);
    // The first `n` slots read and not yet released are confirmed (or counted otherwise):
    // they leave the spool.
    void release(std::uint64_t n);
    // Slots on disk not yet read.
    std::uint64_t unread() const { return unread_; }
    bool empty() const { return unread_ == 0; }

    // Syncs by the spool_sync period (call it often).
    void tick(std::chrono::steady_clock::time_point now);
    // Writes the cursor, and syncs unless spool_sync is "never".
    void flush();
    // Writes the cursor (without a sync): what was released stays released after a kill.
    void save_cursor() { write_cursor(); }
    // What the spool held when it opened: an earlier run's records.
    const RecordTotals& held_at_open() const { return opened_; }
    SpoolState state() const;
    const SpoolSettings& settings() const { return settings_; }

private:
    struct Segment {
        std::uint64_t seq;
        std::string path;
        std::uint64_t bytes = 0;    // file length
        std::uint64_t records = 0;  // slots in its blocks, as their headers say
        RecordTotals totals;        // of those records
        std::uint64_t header = 0;   // its length: where the first block begins
        std::uint64_t start = 0;    // where reading begins: the first block not confirmed
        std::uint32_t skip = 0;     // records of that block already confirmed
        bool loaded = false;        // a block of it was read in this run
    };
    // A block read and handed out, until its records are released.
    struct ReadBlock {
        std::uint64_t seq;
        std::uint64_t start, end;  // its offsets in its segment
        std::uint32_t records;     // slots it holds (less those confirmed before)
        std::uint32_t given = 0;   // handed out by read()
        std::uint32_t released = 0;
        std::uint32_t first = 0;  // records of it confirmed before this run
        std::uint64_t oldest_ns;
    };

    void scan(Segment& s, int fd, std::uint64_t data_start);
    int create_segment(Segment& s);
    bool write_block(Segment& s, int fd, std::span<const FlowRecord> records);
    bool write_at_end(std::span<const FlowRecord> block, Segment* ahead, int ahead_fd);
    bool new_tail();
    bool drop_oldest(RecordTotals& dropped);
    bool is_tail(const Segment& s) const;
    RecordTotals store(std::span<const FlowRecord> records, bool front);
    bool load_block();
    std::uint64_t resync(int fd, std::uint64_t from, std::uint64_t end);
    void remove_done();
    void write_cursor();
    void sync_now();
    void peek_oldest();
    void fail_write(const std::string& what, int err);
    std::string segment_path(std::uint64_t seq) const;

    SpoolSettings settings_;
    std::string prefix_;  // of this collector's files in the folder
    std::uint64_t segment_size_;
    std::deque<Segment> segments_;  // by seq, the oldest first
    int tail_fd_ = -1;              // the last segment, open for appending; -1: none yet
    int cursor_fd_ = -1;
    bool cursor_dirty_ = false;
    bool data_dirty_ = false;
    bool folder_dirty_ = false;
    std::uint64_t next_oldest_ns_ = 0;  // of the next block to read
    std::uint64_t peeked_seq_ = 0, peeked_offset_ = 0;
    std::chrono::steady_clock::time_point next_sync_{};

    // Reading: the segment and offset of the next block, and what is left of the last one.
    std::uint64_t read_seq_ = 0;
    std::uint64_t read_offset_ = 0;
    int read_fd_ = -1;
    std::uint64_t read_fd_seq_ = 0;
    std::vector<FlowRecord> block_;
    std::size_t block_at_ = 0;
    std::deque<ReadBlock> handed_;
    std::uint64_t unread_ = 0;

    SpoolState state_;
    RecordTotals opened_;
    bool full_logged_ = false;
    bool write_logged_ = false;
};

}  // namespace sluice::control
