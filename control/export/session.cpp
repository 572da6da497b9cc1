// One collector: its records buffer, its IPFIX transport sessions, templates, statistics and
// counters. Never blocks: what cannot go out now waits in the buffer or is counted as not sent.
#include "control/export/session.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "sluice/log.hpp"
#include "sluice/metadata.hpp"
#include "sluice/time.hpp"

namespace sluice::control {
namespace {

constexpr Steady::duration kFirstBackoff = std::chrono::seconds(1);
constexpr Steady::duration kMaxBackoff = std::chrono::seconds(30);
// A UDP collector whose port is closed fails every other send (the ICMP error comes back on
// the next one): it counts as exporting again only after this long without a failure.
constexpr Steady::duration kRecovery = std::chrono::seconds(10);
// What one collector may send per pass of the control's loop before the rings get their turn.
constexpr std::size_t kBytesPerService = 1 << 20;

ipfix::TimePrecision precision_of(config::Timestamps t) {
    return t == config::Timestamps::nanoseconds ? ipfix::TimePrecision::nanoseconds
                                                : ipfix::TimePrecision::milliseconds;
}

// A message's end with its export time, now: IPFIX stamps seconds, NetFlow its uptime clock.
std::span<const std::uint8_t> finish(ipfix::MessageBuilder& b, std::uint64_t now_ns) {
    return b.finish(static_cast<std::uint32_t>(now_ns / 1'000'000'000));
}
template <typename NetFlow>
std::span<const std::uint8_t> finish(NetFlow& b, std::uint64_t now_ns) {
    return b.finish(now_ns);
}

template <typename... F>
struct Overloaded : F... {
    using F::operator()...;
};

inline constexpr std::uint32_t kJournalLayout = 1 + (kRecordLayoutVersion << 16);
constexpr std::size_t kJournalBytes = SessionJournal::kBytes;
constexpr std::size_t kScratchRecords = SessionJournal::kScratchRecords;
static_assert(sizeof(SessionJournal) <= kJournalBytes);

// A record of the buffer read from the spool carries this mark, which no encoder reads: a
// control taking up a killed one's store knows which records the spool holds too.
constexpr std::uint8_t kFromSpool = 1;
std::uint8_t& mark(FlowRecord& r) {
    return r.mark;
}
bool same_record(FlowRecord a, FlowRecord b) {
    mark(a) = mark(b) = 0;
    return std::memcmp(&a, &b, sizeof(FlowRecord)) == 0;
}

// What the buffer's records are: the collector's protocol and record shape.
std::uint32_t shape_of(const config::Collector& c) {
    return static_cast<std::uint32_t>(c.protocol) << 8 | static_cast<std::uint32_t>(c.shape());
}

// A collector's spool, of records of `shape`. A uniflow collector's records wait in a spool of
// their own (its name and " (uniflow)"): records spooled as biflows and sent in uniflow
// templates would lose their responders' packets, and uniflow records sent in biflow ones
// would each claim its sender started the flow.
SpoolSettings spool_settings(const config::Collector& c, const std::string& sensor,
                             config::Records shape) {
    return {.folder = c.spool,
            .sensor = sensor,
            .collector = shape == config::Records::uniflow ? c.name + " (uniflow)" : c.name,
            .size = c.spool_size,
            .sync = c.spool_sync,
            .overflow = c.spool_overflow};
}

// A record and its metadata into a message: IPFIX carries the metadata, NetFlow does not.
bool add_record(ipfix::MessageBuilder& b, const FlowRecord& r,
                std::span<const std::uint8_t> metadata) {
    return b.add(r, metadata);
}
template <typename NetFlow>
bool add_record(NetFlow& b, const FlowRecord& r, std::span<const std::uint8_t>) {
    return b.add(r);
}

// A position of the journal, written after what it makes true.
void publish(std::uint64_t& position, std::uint64_t value) {
    std::atomic_ref<std::uint64_t>(position).store(value, std::memory_order_release);
}

}  // namespace

CollectorSession::CollectorSession(const config::Collector& collector,
                                   std::uint32_t observation_domain,
                                   std::uint32_t exporting_process_id, ApplicationNames names,
                                   std::unique_ptr<Channel> channel, std::string domain_name,
                                   Interfaces interfaces, const SessionStore& store,
                                   std::vector<config::Network> local_networks)
    : config_(collector),
      domain_(observation_domain),
      domain_name_(std::move(domain_name)),
      local_networks_(std::move(local_networks)),
      exporting_process_id_(exporting_process_id),
      channel_(channel ? std::move(channel) : make_channel(collector)),
      precision_(precision_of(collector.timestamps)),
      builder_(std::in_place_type<netflow::V5Builder>, 0, 0),
      capacity_(std::max<std::size_t>(collector.buffer_size / sizeof(FlowRecord), 1)),
      j_(map_store(store, capacity_, file_)),
      scratch_(reinterpret_cast<FlowRecord*>(reinterpret_cast<std::uint8_t*>(&j_) + kJournalBytes)),
      buffer_(scratch_ + kScratchRecords),
      confirms_(channel_->confirms()),
      spooled_(j_.spooled),
      spool_start_(j_.spool_start),
      damage_seen_(j_.damage_seen),
      backoff_(kFirstBackoff),
      // NetFlow v5 has no options records to carry the names (config_ is set by now).
      names_(names && !names->empty() && has_options() ? std::move(names) : nullptr),
      interfaces_(interfaces && !interfaces->empty() && has_options() ? interfaces : nullptr),
      counters_(j_.counters) {
    if (file_->found()) {
        if (j_.magic == SessionJournal::kMagic && j_.layout == kJournalLayout &&
            j_.capacity == capacity_ && j_.dataplane == store.dataplane &&
            j_.shape == shape_of(collector)) {
            taken_up_ = true;
        } else {
            const std::uint64_t held = j_.magic == SessionJournal::kMagic ? j_.end - j_.first : 0;
            if (held != 0)
                SLUICE_WARN(
                    "collector \"%s\": %s was left by a sluice-control of a dataplane that has "
                    "gone, or of another record shape; its %lu records are not sent",
                    collector.name.c_str(), file_->path().c_str(),
                    static_cast<unsigned long>(held));
            j_ = SessionJournal{};
        }
    }
    if (!taken_up_) {
        j_.capacity = capacity_;
        j_.dataplane = store.dataplane;
        j_.shape = shape_of(collector);
        j_.layout = kJournalLayout;
        publish(j_.first, 0);  // a store made anew: the magic last
        j_.magic = SessionJournal::kMagic;
    }
    if (interfaces)
        for (const Interface& i : *interfaces) if_index_[i.port_id % if_index_.size()] = i.if_index;
    metadata_groups_ = config_.metadata_groups();
    if (metadata_groups_ != 0)
        metadata_templates_ = ipfix::metadata_templates(precision_, config_.shape(),
                                                        metadata_groups_, !local_networks_.empty());
    new_builder(ipfix::MessageBuilder::kMaxSize);
    if (!config_.spool.empty()) {
        const std::string sensor = domain_name_.empty() ? std::string("sluice") : domain_name_;
        const config::Records shape = config_.shape();
        spool_ = std::make_unique<Spool>(spool_settings(config_, sensor, shape));
        if (!taken_up_) spool_start_ = spooled_ = spool_->held_at_open();
        const bool uniflow = shape == config::Records::uniflow;
        const auto left = Spool::segment_files(spool_settings(
            config_, sensor, uniflow ? config::Records::biflow : config::Records::uniflow));
        const char* other = uniflow ? "biflow" : "uniflow";
        if (!left.empty())
            SLUICE_WARN(
                "collector \"%s\": spool %s holds %zu segments of its %s records, which it "
                "sends only with records = \"%s\"; they are left there",
                config_.name.c_str(), config_.spool.c_str(), left.size(), other, other);
    }
    if (taken_up_) take_up();
}

// A prefix of files, and a collector's (or member's) name: its store.
SessionStore SessionStore::of(const std::string& name) const {
    if (path.empty()) return *this;
    return {shared_file_name(path, name), dataplane};
}

SessionJournal& CollectorSession::map_store(const SessionStore& store, std::size_t capacity,
                                            std::unique_ptr<SharedFile>& file) {
    const std::size_t bytes = kJournalBytes + (kScratchRecords + capacity) * sizeof(FlowRecord);
    // Zeroed pages, touched only as records wait in them.
    file = SharedFile::open_sized(
        store.path, bytes, "this collector's records are kept in this process only",
        [](const SharedFile& f) {  // another buffer_size: begun again
            const auto& old = *static_cast<const SessionJournal*>(f.data());
            if (f.size() >= sizeof(old) && old.magic == SessionJournal::kMagic &&
                old.end != old.first)
                SLUICE_WARN("%s was left for another buffer_size; its %lu records are not sent",
                            f.path().c_str(), static_cast<unsigned long>(old.end - old.first));
        });
    if (file->found()) return *static_cast<SessionJournal*>(file->data());
    return *new (file->data()) SessionJournal{};
}

// The killed control's journal holds: a reorder it had begun is finished, what its messages
// had taken waits again (counted as sent again: the collector may have it), and the records
// read from its spool are those the spool hands out first.
void CollectorSession::take_up() {
    if (j_.reorder_count != 0) {
        for (std::size_t i = 0; i < j_.reorder_count; ++i)
            buffer_[(j_.reorder_at + i) % capacity_] = scratch_[i];
        publish(j_.reorder_count, 0);
    }
    damage_seen_ = {};  // the spool opened anew counts its damage anew
    if (spool_) take_up_spool();
    counters_.records_resent += totals(oldest(), retained()).records;
    publish(j_.sent, j_.first);
    if (buffered() != 0)
        SLUICE_INFO(
            "collector \"%s\": %lu records an earlier sluice-control had not sent wait "
            "again (%s)",
            name().c_str(), static_cast<unsigned long>(buffered()), file_->path().c_str());
}

void CollectorSession::take_up_spool() {
    std::size_t from_spool = 0;  // the buffer's records read from the spool
    for (std::uint64_t p = j_.first; p < j_.end; ++p)
        from_spool += mark(buffer_[p % capacity_]) == kFromSpool;
    const auto read_all = [this](std::span<FlowRecord> out) {
        std::size_t n = 0;
        for (std::size_t k = 1; n < out.size() && k != 0; n += k) k = spool_->read(out.subspan(n));
        return n;
    };
    // Confirmed records whose release the cursor may lack: when the spool hands out the first
    // of them, it did lack it, and they leave the spool now.
    std::size_t handed = 0;  // of the buffer's records from the spool, handed out again
    if (j_.unsaved != 0) {
        std::vector<FlowRecord> released;
        for (std::uint64_t p = j_.unsaved_at; p < j_.first; ++p)
            if (mark(buffer_[p % capacity_]) == kFromSpool)
                released.push_back(buffer_[p % capacity_]);
        // The spool's next record, with its extensions: it hands out whole units.
        FlowRecord next[1 + kMaxExtensions];
        const std::size_t k = released.empty() ? 0 : spool_->read(next);
        if (k != 0) {
            if (same_record(next[0], released[0])) {
                std::vector<FlowRecord> rest(released.size() - std::min(k, released.size()));
                spool_->release(k + read_all(rest));
            } else if (from_spool != 0) {
                handed = k;  // the buffer's first from the spool
            } else {         // the first not read yet: into the buffer, as refill() does
                Totals read;
                for (std::size_t i = 0; i < k; ++i) {
                    mark(next[i]) = kFromSpool;
                    buffer_[(j_.end + i) % capacity_] = next[i];
                    read.add(next[i]);
                }
                spooled_.subtract(read);
                publish(j_.end, j_.end + k);
            }
        }
        spool_->flush();
        publish(j_.unsaved, 0);
    }
    // The buffer's records from the spool are handed out again, to leave it as they are
    // confirmed.
    for (std::uint64_t p = j_.first; p < j_.end; ++p)
        note_run(1, mark(buffer_[p % capacity_]) == kFromSpool);
    std::vector<FlowRecord> again(from_spool - handed);
    read_all(again);
}

std::size_t CollectorSession::names_count() const {
    return metadata_templates_.size() + element_types() + (interfaces_ ? interfaces_->size() : 0) +
           (names_ ? names_->size() : 0);
}

std::size_t CollectorSession::element_types() const {
    return metadata_templates_.empty() ? 0 : std::size(ipfix::kOwnElements);
}

void CollectorSession::new_builder(std::size_t max_message) {
    switch (config_.protocol) {
        case config::Protocol::ipfix:
            builder_.emplace<ipfix::MessageBuilder>(domain_, max_message, precision_,
                                                    config_.shape(), config_.metadata_groups());
            std::get<ipfix::MessageBuilder>(builder_).set_local_networks(local_networks_);
            break;
        case config::Protocol::netflow9:
            builder_.emplace<netflow::V9Builder>(domain_, max_message);
            break;
        case config::Protocol::netflow5:
            builder_.emplace<netflow::V5Builder>(domain_, max_message);
            break;
    }
    std::visit([this](auto& b) { b.set_interfaces(if_index_); }, builder_);
}

SessionCounters CollectorSession::counters() const {
    SessionCounters c = counters_;
    c.records_buffered = j_.end - j_.first;
    c.handshake_failures = channel_->handshake_failures();
    spool_counters(c);
    return c;
}

void CollectorSession::spool_counters(SessionCounters& c) const {
    if (!spool_) return;
    const SpoolState st = spool_->state();
    c.spool_records = spooled_.records;
    c.spool_packets = spooled_.packets;
    c.spool_octets = spooled_.octets;
    c.spool_bytes = st.bytes;
    c.spool_oldest_ns = st.oldest_ns;
    c.spool_replayed = st.records_replayed;
    c.spool_write_failures = st.write_failures;
    c.spool_start_records = spool_start_.records;
    c.spool_start_packets = spool_start_.packets;
    c.spool_start_octets = spool_start_.octets;
}

void CollectorSession::offer(std::span<const FlowRecord> records, std::uint64_t batch) {
    if (batch != 0 && batch <= j_.batch) return;
    offer(records);
    if (batch != 0) publish(j_.batch, batch);
}

void CollectorSession::offer(std::span<const FlowRecord> records) {
    if (config_.shape() == config::Records::uniflow) {
        uniflow_.clear();
        FlowRecord parts[2];
        for (std::size_t i = 0, k; i < records.size(); i += k) {
            k = unit_length(records.subspan(i));
            if (is_extension(records[i])) continue;
            // Each direction's record keeps the flow's metadata; the responder's has its own
            // direction's fields as the source's.
            const auto extensions = records.subspan(i + 1, k - 1);
            for (unsigned p = 0, n = ipfix::to_uniflow(records[i], parts); p < n; ++p) {
                parts[p].extensions = static_cast<std::uint8_t>(k - 1);
                uniflow_.push_back(parts[p]);
                const bool responder = p == 1 || records[i].packets == 0;
                if (!responder || extensions.empty()) {
                    uniflow_.insert(uniflow_.end(), extensions.begin(), extensions.end());
                    continue;
                }
                std::array<std::uint8_t, kMaxMetadataBytes> bytes{};
                const std::size_t length = gather_extensions(extensions, bytes);
                reverse_directions(std::span(bytes).first(length));
                FlowRecord reversed[kMaxExtensions];
                write_extensions(std::span(bytes).first(length), reversed);
                for (std::size_t e = 0; e < extensions.size(); ++e) {
                    reversed[e].mark = extensions[e].mark;
                    uniflow_.push_back(reversed[e]);
                }
            }
        }
        records = uniflow_;
    }
    if (config_.protocol == config::Protocol::netflow5) records = for_v5(records);
    buffer_records(records);
}

void CollectorSession::buffer_records(std::span<const FlowRecord> records) {
    if (records.empty()) return;       // a batch of IPv6 only, for NetFlow v5
    if (spool_ && !spool_->empty()) {  // behind what waits on disk, in order
        spool_records(records);
        return;
    }
    const std::size_t taken = append_to_buffer(records, false);
    if (spool_) {
        spool_records(records.subspan(taken));
        return;
    }
    Totals dropped;
    for (const FlowRecord& r : records.subspan(taken)) dropped.add(r);
    not_sent(dropped);
}

std::size_t CollectorSession::append_to_buffer(std::span<const FlowRecord> records, bool spooled) {
    const std::size_t room = capacity_ - (j_.end - j_.first);
    const std::size_t taken = whole_units(records, room);
    const std::size_t tail = j_.end % capacity_;
    const std::size_t first = std::min(taken, capacity_ - tail);
    std::memcpy(&buffer_[tail], records.data(), first * sizeof(FlowRecord));
    std::memcpy(&buffer_[0], records.data() + first, (taken - first) * sizeof(FlowRecord));
    if (spool_) {
        for (std::uint64_t p = j_.end; p < j_.end + taken; ++p) mark(buffer_[p % capacity_]) = 0;
        note_run(taken, spooled);
    }
    publish(j_.end, j_.end + taken);
    return taken;
}

void CollectorSession::note_run(std::size_t records, bool spooled) {
    if (records == 0) return;
    if (!runs_.empty() && runs_.back().spooled == spooled)
        runs_.back().records += records;
    else
        runs_.push_back({records, spooled});
}

void CollectorSession::spool_records(std::span<const FlowRecord> records) {
    if (records.empty()) return;
    spooled(records, spool_->append(records));
}

// `records` went to the spool but for `dropped`, which are lost for this collector.
void CollectorSession::spooled(std::span<const FlowRecord> records, const Totals& dropped) {
    for (const FlowRecord& r : records) spooled_.add(r);
    spooled_.subtract(dropped);
    not_sent(dropped);
}

void CollectorSession::refill() {
    while (!spool_->empty()) {
        const std::size_t room = capacity_ - (j_.end - j_.first);
        if (room == 0) break;
        const std::size_t tail = j_.end % capacity_;
        std::size_t n = spool_->read({&buffer_[tail], std::min(room, capacity_ - tail)});
        if (n == 0 && room > capacity_ - tail) {
            // A record whose extensions run past the buffer's end: read whole, then wrapped
            // round as append_to_buffer() wraps units.
            FlowRecord unit[1 + kMaxExtensions];
            n = spool_->read({unit, std::min(room, std::size(unit))});
            for (std::size_t i = 0; i < n; ++i) buffer_[(tail + i) % capacity_] = unit[i];
        }
        if (n == 0) break;
        for (std::size_t i = 0; i < n; ++i) mark(buffer_[(tail + i) % capacity_]) = kFromSpool;
        const Totals read = totals(tail, n);
        spooled_.subtract(read);
        note_run(n, true);
        publish(j_.end, j_.end + n);
    }
    // What damage took from the spool is lost for this collector.
    const Totals damaged = spool_->state().damaged;
    if (damaged.records != damage_seen_.records) {
        const Totals lost{damaged.records - damage_seen_.records,
                          damaged.packets - damage_seen_.packets,
                          damaged.octets - damage_seen_.octets};
        spooled_.subtract(lost);
        counters_.spool_damaged += lost.records;
        not_sent(lost);
        damage_seen_ = damaged;
    }
}

void CollectorSession::consume_runs(std::size_t n) {
    while (n > 0 && !runs_.empty()) {
        Run& run = runs_.front();
        const std::size_t k = std::min(n, run.records);
        if (run.spooled) spool_->release(k);
        run.records -= k;
        n -= k;
        if (run.records == 0) runs_.pop_front();
    }
}

void CollectorSession::spool_buffer() {
    const std::size_t n = j_.end - j_.first;
    std::vector<FlowRecord> held(n);
    for (std::size_t i = 0, at = oldest(); i < n; ++i, at = (at + 1) % capacity_)
        held[i] = buffer_[at];
    // What was read from the spool is in `held` now, in its place.
    std::size_t from_spool = 0;
    for (const Run& run : runs_)
        if (run.spooled) from_spool += run.records;
    spool_->release(from_spool);
    runs_.clear();
    forget_messages();
    if (!held.empty()) spooled(held, spool_->prepend(held));
    publish(j_.sent, j_.end);
    publish(j_.first, j_.end);
    spool_->flush();
    if (spooled_.records != 0)
        SLUICE_INFO("collector \"%s\" (%s): %lu records wait in the spool (%s) for the next start",
                    name().c_str(), describe().c_str(),
                    static_cast<unsigned long>(spooled_.records), config_.spool.c_str());
}

// The records retained for confirmation, before head(), stay.
void CollectorSession::take_backlog(std::vector<FlowRecord>& out) {
    counters_.records_handed_over += buffered();
    for (std::size_t i = 0, at = head(), n = buffered(); i < n; ++i, at = (at + 1) % capacity_)
        out.push_back(buffer_[at]);
    publish(j_.end, j_.sent);
}

bool CollectorSession::service(Steady::time_point now, const Reliability& reliability) {
    if (spool_) spool_->tick(now);
    if (state_ == SessionState::down && now < retry_at_) return false;
    if (state_ == SessionState::down || state_ == SessionState::opening) {
        open(now);
        if (state_ != SessionState::up) return false;
    }
    if (channel_->lost()) {
        went_down(now);
        return false;
    }
    confirm();
    if (spool_) refill();
    if (in_flight_ && finish_in_flight(now) != Outcome::done) return false;
    if (has_options()) {
        if (channel_->needs_template_refresh() && now >= next_templates_) templates_due_ = true;
        if (now >= next_statistics_) statistics_due_ = true;
    }
    // A bounded share of work per call, so one collector's backlog never holds up the rings.
    for (std::size_t budget = kBytesPerService;;) {
        if (channel_->session_over(now) && !rotate(now)) return false;
        if (budget < channel_->max_batch()) return buffered() > 0;
        Outcome o;
        if (templates_due_ || statistics_due_) {
            o = send_statistics(now, reliability, templates_due_);
        } else if (names_due_) {
            o = send_names(now);
        } else if (buffered() == 0) {
            return false;
        } else if (channel_->max_batch() > max_message() && template_at(head(), 0).length != 0) {
            o = send_batch(now);
        } else {
            std::visit([this](auto& b) { b.begin(sequence_); }, builder_);
            Message m;
            take_records(m, 0);
            o = send(now, m);
        }
        budget -= std::min(budget, attempted_);
        // A UDP send that failed loses its message only: the rest are tried, never held.
        if (o == Outcome::waiting || (o == Outcome::failed && state_ != SessionState::failing))
            return false;
    }
}

void CollectorSession::close(const Reliability& reliability, bool keep_store) {
    if (!keep_store) file_->remove();
    stopping_ = true;
    const auto open = [this] {
        return state_ == SessionState::up || state_ == SessionState::failing;
    };
    // A moment for the channel to take the rest of a message begun, and for a stream's
    // collector to acknowledge what it was sent.
    auto now = Steady::now();
    const auto deadline = now + std::chrono::seconds(1);
    while (open() && (in_flight_ || !unconfirmed_.empty())) {
        if (in_flight_) finish_in_flight(now);
        confirm();
        if ((!in_flight_ && unconfirmed_.empty()) || (now = Steady::now()) >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (in_flight_ && !confirms_) lose_in_flight();
    const bool unacknowledged = retained() != 0;
    if (spool_) spool_buffer();  // what waits, and what was not acknowledged, for the next start
    if (retained() != 0) {
        const Totals unconfirmed = totals(oldest(), retained());
        lost(unconfirmed);
        SLUICE_WARN(
            "collector \"%s\" (%s): %lu records sent were not acknowledged by the collector "
            "before stopping; counted as not sent, the connection reset",
            name().c_str(), describe().c_str(), static_cast<unsigned long>(unconfirmed.records));
        forget_messages();
    }
    // What waited, and what a connection lost in the moment above gave back.
    const Totals left = totals(head(), buffered());
    publish(j_.sent, j_.end);
    lost(left);
    if (left.records != 0)
        SLUICE_WARN("collector \"%s\" (%s): %lu records could not be sent before stopping",
                    name().c_str(), describe().c_str(), static_cast<unsigned long>(left.records));
    // The records counted as not sent must not arrive after all: the connection is reset.
    if (unacknowledged) {
        channel_->abort();
        return;
    }
    // The last statistics, every record counted as sent or not sent.
    if (has_options() && open() && !in_flight_) {
        send_statistics(now, reliability, false);
        const auto until = Steady::now() + std::chrono::seconds(1);
        while (in_flight_ && open() && (now = Steady::now()) < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            finish_in_flight(now);
        }
    }
    channel_->close();
}

void CollectorSession::open(Steady::time_point now) {
    switch (channel_->open(now)) {
        case OpenStatus::pending: state_ = SessionState::opening; return;
        case OpenStatus::failed: ++counters_.open_failures; return went_down(now);
        case OpenStatus::open: break;
    }
    new_session();
    backoff_ = kFirstBackoff;
    set_state(SessionState::up);
}

// Ends a file at its size or age and starts the next; false when that failed.
bool CollectorSession::rotate(Steady::time_point now) {
    channel_->rotate();
    if (channel_->open(now) != OpenStatus::open) {
        went_down(now);
        return false;
    }
    new_session();
    return true;
}

// A new transport session (connection, file): its own sequence numbers, templates first.
void CollectorSession::new_session() {
    new_builder(channel_->max_message());
    sequence_ = 0;
    templates_due_ = statistics_due_ = has_options();
    ++counters_.sessions_opened;
}

void CollectorSession::lose_in_flight() {
    for (const Message& m : in_flight_messages_) lost(m.totals);
    clear_in_flight();
}

void CollectorSession::went_down(Steady::time_point now) {
    if (confirms_)
        resend_unconfirmed();
    else
        lose_in_flight();
    channel_->close();
    retry_at_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    set_state(SessionState::down);
}

void CollectorSession::set_state(SessionState s) {
    const SessionState was = logged_state_;
    state_ = s;
    const std::string& error = channel_->error();
    if (s == was && (s == SessionState::up || error == logged_error_)) return;
    logged_state_ = s;
    logged_error_ = error;
    const char* n = name().c_str();
    const std::string where = describe();
    switch (s) {
        case SessionState::up:
            SLUICE_INFO("collector \"%s\" (%s): %s", n, where.c_str(),
                        was == SessionState::opening ? "exporting" : "exporting again");
            break;
        case SessionState::failing:
            SLUICE_WARN("collector \"%s\" (%s): cannot send: %s; records are counted as not sent",
                        n, where.c_str(), error.c_str());
            break;
        case SessionState::down:
            SLUICE_WARN("collector \"%s\" (%s): %s; records wait in its buffer, retrying", n,
                        where.c_str(), error.c_str());
            break;
        case SessionState::opening: break;
    }
}

CollectorSession::Outcome CollectorSession::send(Steady::time_point now, Message m) {
    const auto bytes = finish_message(m, wall_clock_ns());
    in_flight_messages_.assign(1, m);
    return transmit(now, bytes, bytes.size());
}

// Ends the builder's message, stamped `now_ns`: its bytes, and what `m` must know of them.
std::span<const std::uint8_t> CollectorSession::finish_message(Message& m, std::uint64_t now_ns) {
    const auto bytes = std::visit([now_ns](auto& b) { return finish(b, now_ns); }, builder_);
    m.bytes = bytes.size();
    m.sequence_step = std::visit([](const auto& b) { return b.sequence_step(); }, builder_);
    return bytes;
}

// Flow records of the data template at the head of the buffer (one whose records all have
// one length), as many messages as one send of the channel takes. Each message holds that
// template alone, so every one but the last has the same length: what UDP segmentation needs
// to cut the batch into one datagram per message.
CollectorSession::Outcome CollectorSession::send_batch(Steady::time_point now) {
    const std::size_t limit = channel_->max_batch();
    const ipfix::DataTemplate t = template_at(head(), 0);
    group_by_template(t.id, (limit / t.length + 1) * unit_slots(buffer_[head()]));
    batch_.clear();
    in_flight_messages_.clear();
    const std::uint64_t time = wall_clock_ns();
    std::size_t segment = 0;
    std::uint32_t steps = 0;
    while (buffered() > 0 && template_at(head(), 0).id == t.id &&
           batch_.size() + max_message() <= limit) {
        std::visit([&](auto& b) { b.begin(sequence_ + steps); }, builder_);
        Message m;
        take_records(m, t.id);
        const auto bytes = finish_message(m, time);
        steps += m.sequence_step;
        batch_.insert(batch_.end(), bytes.begin(), bytes.end());
        in_flight_messages_.push_back(m);
        if (segment == 0) segment = bytes.size();
        // A message with room for another record is the last: the run of this template ended,
        // or (NetFlow) a record's times were too far from the others'. Those before it were
        // full, all of one length.
        if (bytes.size() + t.length <= max_message()) break;
    }
    return transmit(now, batch_, segment);
}

// Moves records from the head of the buffer into the builder's message while they fit (and,
// `batch_template` not 0, go out in that template: a batch's), each with its extensions,
// counting them in `m`.
// Extensions whose record damage took are passed over with the records.
void CollectorSession::take_records(Message& m, std::uint16_t batch_template) {
    std::size_t at = head();
    std::uint64_t n = 0;
    const std::uint64_t left = buffered();
    std::array<std::uint8_t, kMaxMetadataBytes> metadata;
    std::visit(
        [&](auto& b) {
            while (n < left) {
                const FlowRecord& r = buffer_[at];
                std::size_t k = 1;  // the slots of its unit
                if (!is_extension(r)) [[likely]] {
                    std::size_t bytes = 0;
                    // Its extensions, as many as follow it (damage may have taken some).
                    for (; k < unit_slots(r) && n + k < left; ++k) {
                        const FlowRecord& e = buffer_[(at + k) % capacity_];
                        if (!is_extension(e)) break;
                        std::memcpy(&metadata[bytes],
                                    reinterpret_cast<const RecordExtension&>(e).data,
                                    RecordExtension::kData);
                        bytes += RecordExtension::kData;
                    }
                    // A batch's messages are of its template alone: all but the last are of
                    // one length.
                    if (batch_template != 0 && b.data_template(r, bytes != 0).id != batch_template)
                        break;
                    if (!add_record(b, r, {metadata.data(), bytes})) break;
                }
                for (std::size_t i = 0; i < k; ++i) m.totals.add(buffer_[(at + i) % capacity_]);
                n += k;
                at = (at + k) % capacity_;
            }
        },
        builder_);
    publish(j_.sent, j_.sent + n);
}

// The slots of the whole unit at `i` that ends by `end`, 0 when `end` cuts it (an extension
// without its record is a unit of its own; a record whose extensions damage took, of its
// record and those left).
std::size_t CollectorSession::unit_at(std::size_t i, std::size_t end) const {
    const FlowRecord& r = buffer_[i];
    if (is_extension(r)) return 1;
    std::size_t k = 1;
    for (; k < unit_slots(r); ++k) {
        if (i + k >= end) return 0;
        if (!is_extension(buffer_[i + k])) break;
    }
    return k;
}

ipfix::DataTemplate CollectorSession::template_at(std::size_t at, std::uint64_t n) const {
    const FlowRecord& r = buffer_[at];
    if (is_extension(r)) return {};
    // With metadata when an extension follows it, as take_records finds.
    const bool metadata =
        unit_slots(r) > 1 && n + 1 < buffered() && is_extension(buffer_[(at + 1) % capacity_]);
    return std::visit([&](const auto& b) { return b.data_template(r, metadata); }, builder_);
}

// Brings the records of template `id` to the front of the next `window` slots (as far as the
// ring's storage runs on), keeping their order; the others follow, in theirs. The records
// from the first of another template on are put in their new order in the scratch first, then
// copied back: a kill in between loses none (the next control copies them again).
void CollectorSession::group_by_template(std::uint16_t id, std::size_t window) {
    const std::size_t head = this->head();
    std::size_t end = std::min({head + buffered(), capacity_, head + window});
    const auto of_id = [&](std::size_t i) { return template_at(i, i - head).id == id; };
    std::size_t from = head;
    for (std::size_t k; from < end && of_id(from); from += k)
        if ((k = unit_at(from, end)) == 0) return;
    if (from == end) return;
    // Whole units only: one the end of the window (or of the ring's storage) cuts stays. The
    // units are found within one bound for both passes (a unit that damage cut short, at the
    // end, would otherwise be cut by its own end).
    const std::size_t bound = std::min(end, from + kScratchRecords);
    std::size_t same = 0, last = from;
    for (std::size_t k; last < bound; last += k) {
        if ((k = unit_at(last, bound)) == 0) break;
        of_batch_[last - from] = of_id(last);
        if (of_batch_[last - from]) same += k;
    }
    end = last;
    for (std::size_t i = from, to_same = 0, to_other = same; i < end;) {
        const std::size_t k = unit_at(i, bound);
        std::size_t& to = of_batch_[i - from] ? to_same : to_other;
        std::copy_n(&buffer_[i], k, &scratch_[to]);
        to += k;
        i += k;
    }
    j_.reorder_at = j_.sent + (from - head);
    publish(j_.reorder_count, end - from);
    std::memcpy(&buffer_[from], scratch_, (end - from) * sizeof(FlowRecord));
    publish(j_.reorder_count, 0);
}

CollectorSession::Outcome CollectorSession::transmit(Steady::time_point now,
                                                     std::span<const std::uint8_t> bytes,
                                                     std::size_t segment) {
    attempted_ = bytes.size();
    const bool batch = segment < bytes.size();
    switch (batch ? channel_->send_batch(bytes, segment) : channel_->send(bytes)) {
        case SendStatus::sent: return all_out(now);
        case SendStatus::blocked:
            held_.assign(bytes.begin(), bytes.end());
            held_segment_ = segment;
            in_flight_ = true;
            return batch && batches_refused() ? send_one_by_one(now) : Outcome::waiting;
        case SendStatus::partial: in_flight_ = true; return Outcome::waiting;
        case SendStatus::failed: break;
    }
    return after_failure(now);
}

CollectorSession::Outcome CollectorSession::finish_in_flight(Steady::time_point now) {
    const bool batch = held_segment_ < held_.size();
    if (batch && batches_refused()) return send_one_by_one(now);
    const SendStatus s = held_.empty() ? channel_->flush()
                         : batch       ? channel_->send_batch(held_, held_segment_)
                                       : channel_->send(held_);
    switch (s) {
        case SendStatus::sent: return all_out(now);
        case SendStatus::partial: held_.clear(); return Outcome::waiting;
        case SendStatus::blocked:
            return batch && batches_refused() ? send_one_by_one(now) : Outcome::waiting;
        case SendStatus::failed: break;
    }
    return after_failure(now);
}

// Every message in flight is out.
CollectorSession::Outcome CollectorSession::all_out(Steady::time_point now) {
    for (const Message& m : in_flight_messages_) completed(now, m);
    clear_in_flight();
    return Outcome::done;
}

// True once the channel takes no more batches (the path refused one); says so once.
bool CollectorSession::batches_refused() {
    if (channel_->max_batch() > held_segment_) return false;
    if (!refusal_logged_)
        SLUICE_WARN("collector \"%s\" (%s): %s; one datagram per send from now on", name().c_str(),
                    describe().c_str(), channel_->error().c_str());
    refusal_logged_ = true;
    return true;
}

// A held batch the channel no longer takes whole: its messages one at a time, each accounted
// for by itself.
CollectorSession::Outcome CollectorSession::send_one_by_one(Steady::time_point now) {
    std::size_t at = 0, done = 0;
    bool failed = false;
    for (; done < in_flight_messages_.size(); ++done) {
        const Message& m = in_flight_messages_[done];
        const SendStatus s = channel_->send({held_.data() + at, m.bytes});
        if (s == SendStatus::blocked) break;
        if (s == SendStatus::sent) {
            completed(now, m);
        } else {
            ++counters_.send_failures;
            last_failure_ = now;
            lost(m.totals);
            failed = true;
        }
        at += m.bytes;
    }
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(at));
    in_flight_messages_.erase(in_flight_messages_.begin(),
                              in_flight_messages_.begin() + static_cast<std::ptrdiff_t>(done));
    in_flight_ = !in_flight_messages_.empty();
    if (!in_flight_) held_.clear();
    if (failed) set_state(SessionState::failing);
    return in_flight_ ? Outcome::waiting : failed ? Outcome::failed : Outcome::done;
}

// A message is out: its records count as sent, its sequence numbers as used, its templates and
// statistics as delivered until their next time.
void CollectorSession::completed(Steady::time_point now, const Message& m) {
    sequence_ += m.sequence_step;
    if (!confirms_) {
        sent(m.totals);
    } else if (m.totals.records != 0) {
        unconfirmed_.push_back({channel_->written(), m.totals});
    }
    ++counters_.messages_sent;
    counters_.bytes_sent += m.bytes;
    if (m.templates) {
        ++counters_.template_messages_sent;
        templates_due_ = false;
        next_templates_ = now + config_.template_refresh;
        names_due_ = names_count() != 0;  // the names follow the templates that define them
        names_sent_ = 0;
    }
    if (m.names_to != 0) {
        names_sent_ = m.names_to;
        names_due_ = names_sent_ < names_count();
    }
    if (m.statistics) {
        counters_.statistics_records_sent += 2;
        statistics_due_ = false;
        next_statistics_ = now + config_.statistics_interval;
    }
    if (state_ == SessionState::failing && now - last_failure_ >= kRecovery)
        set_state(SessionState::up);
}

// The messages in flight are lost: their records count as not sent; templates and statistics
// stay due.
CollectorSession::Outcome CollectorSession::after_failure(Steady::time_point now) {
    ++counters_.send_failures;
    last_failure_ = now;
    if (!channel_->is_open()) {
        went_down(now);
    } else {
        lose_in_flight();
        set_state(SessionState::failing);
    }
    return Outcome::failed;
}

void CollectorSession::confirm() {
    if (unconfirmed_.empty()) return;
    const std::uint64_t acknowledged = channel_->acknowledged();
    if (unconfirmed_.front().end > acknowledged) return;
    if (spool_) j_.unsaved_at = j_.first;
    for (; !unconfirmed_.empty() && unconfirmed_.front().end <= acknowledged;
         unconfirmed_.pop_front()) {
        const Totals& t = unconfirmed_.front().totals;
        if (spool_) publish(j_.unsaved, j_.unsaved + t.slots);
        sent(t);
        if (spool_) consume_runs(t.slots);
    }
    // What left the spool is in its cursor before the journal says so.
    if (spool_) {
        spool_->save_cursor();
        publish(j_.unsaved, 0);
    }
}

// A record whose message was written, even in part, may have reached the collector: sent
// again, it may be there twice (records_resent counts them).
void CollectorSession::resend_unconfirmed() {
    confirm();
    std::uint64_t again = 0;
    for (const Unconfirmed& u : unconfirmed_) again += u.totals.records;
    if (in_flight_ && held_.empty())  // the channel holds the rest of a message begun
        for (const Message& m : in_flight_messages_) again += m.totals.records;
    if (!stopping_) counters_.records_resent += again;
    publish(j_.sent, j_.first);
    forget_messages();
}

// The messages begun or awaiting acknowledgement are no longer this session's to account for.
void CollectorSession::forget_messages() {
    unconfirmed_.clear();
    clear_in_flight();
}

void CollectorSession::clear_in_flight() {
    in_flight_messages_.clear();
    in_flight_ = false;
    held_.clear();
}

CollectorSession::Totals CollectorSession::totals(std::size_t from, std::size_t n) const {
    Totals t;
    for (std::size_t i = 0, at = from; i < n; ++i, at = (at + 1) % capacity_) t.add(buffer_[at]);
    return t;
}

namespace {

const ipfix::Template& sampling_template(const Reliability& r) {
    return r.sampling_deterministic ? ipfix::kSystematicSampling : ipfix::kRandomSampling;
}

}  // namespace

CollectorSession::Outcome CollectorSession::send_statistics(Steady::time_point now,
                                                            const Reliability& r,
                                                            bool with_templates) {
    const std::uint64_t since_ms = r.since_ns / 1'000'000;
    const std::uint64_t until_ms = (r.until_ns != 0 ? r.until_ns : wall_clock_ns()) / 1'000'000;
    const std::uint64_t not_sent[] = {r.records_not_sent + counters_.records_not_sent,
                                      r.packets_not_sent + counters_.packets_not_sent,
                                      r.octets_not_sent + counters_.octets_not_sent};
    std::visit(
        Overloaded{
            [&](ipfix::MessageBuilder& b) {
                b.begin(sequence_);
                if (with_templates) {
                    const auto data = ipfix::flow_templates(precision_, config_.records,
                                                            !local_networks_.empty());
                    std::array<const ipfix::Template*, 8> all{
                        data[0], data[1], &ipfix::kMeteringStatistics, &ipfix::kExportingStatistics,
                        &ipfix::kDomainName};
                    std::size_t n = 5;
                    if (names_) all[n++] = &ipfix::kApplicationNames;
                    if (interfaces_) all[n++] = &ipfix::kInterfaceNames;
                    if (element_types() != 0) all[n++] = &ipfix::kElementTypes;
                    b.add_templates(std::span(all).first(n));
                    // In a set of its own: nfdump 1.7 reads the first options template of a
                    // set only.
                    const ipfix::Template* sampling[] = {&sampling_template(r)};
                    if (r.sampling > 1) b.add_templates(sampling);
                    // What the observation domain is called goes with the templates, so a
                    // collector that learns them learns it too.
                    b.add_domain_name(domain_, domain_name_);
                }
                const std::uint64_t metering[] = {
                    domain_,           r.packets,        r.frame_octets,         r.metered_octets,
                    r.ignored_packets, r.ignored_octets, r.ignored_frame_octets, since_ms,
                    until_ms};
                const std::uint64_t exporting[] = {exporting_process_id_, not_sent[0], not_sent[1],
                                                   not_sent[2],           since_ms,    until_ms};
                b.add(ipfix::kMeteringStatistics, metering);
                b.add(ipfix::kExportingStatistics, exporting);
                if (r.sampling > 1) {
                    const std::uint64_t n = r.sampling, seen = r.sampling_observed,
                                        chosen = r.sampling_selected;
                    if (r.sampling_deterministic) {
                        const std::uint64_t v[] = {domain_, 1, n, 1, n - 1, seen, chosen};
                        b.add(ipfix::kSystematicSampling, v);
                    } else {
                        const std::uint64_t v[] = {domain_, 3, n, 1, n, 1, n - 1, seen, chosen};
                        b.add(ipfix::kRandomSampling, v);
                    }
                }
            },
            [&](netflow::V9Builder& b) {
                b.begin(sequence_);
                if (with_templates) b.add_templates(names_ != nullptr, interfaces_ != nullptr);
                b.add_statistics(domain_, {.records_sent = counters_.records_sent,
                                           .packets_sent = counters_.packets_sent,
                                           .octets_sent = counters_.octets_sent,
                                           .packets = r.packets,
                                           .ignored_packets = r.ignored_packets,
                                           .ignored_octets = r.ignored_octets,
                                           .records_not_sent = not_sent[0],
                                           .packets_not_sent = not_sent[1],
                                           .octets_not_sent = not_sent[2]});
            },
            [](netflow::V5Builder&) {},  // never due: v5 has no options records
        },
        builder_);
    Message m;
    m.templates = with_templates;
    m.statistics = true;
    return send(now, m);
}

// As many of what follows the templates as fit in a message, from where the last message
// stopped: the type records of Sluice's own elements, the flow templates with metadata, the
// interfaces' names and the applications'. The types come before the templates that use them:
// a collector that met an element in a template first (libfixbuf's) takes it for an unknown
// one, and reads its numbers in the wrong byte order even once it has learnt its type.
CollectorSession::Outcome CollectorSession::send_names(Steady::time_point now) {
    std::size_t i = names_sent_;
    const std::size_t types = element_types();
    const std::size_t templates = types + metadata_templates_.size();
    const std::size_t ports = templates + (interfaces_ ? interfaces_->size() : 0);
    const std::size_t end = names_count();
    std::visit(
        Overloaded{[&](netflow::V5Builder&) {},  // never due: it has no names
                   [&](auto& b) {
                       b.begin(sequence_);
                       for (; i < end; ++i) {
                           if constexpr (std::is_same_v<decltype(b), ipfix::MessageBuilder&>) {
                               if (i < types) {
                                   if (!b.add_element_type(ipfix::kOwnElements[i])) break;
                                   continue;
                               }
                               if (i < templates) {
                                   if (!b.add_templates({&metadata_templates_[i - types], 1}))
                                       break;
                                   continue;
                               }
                           }
                           if (i < ports) {
                               const Interface& p = (*interfaces_)[i - templates];
                               if (!b.add_interface(p.if_index, p.name, p.description)) break;
                               continue;
                           }
                           const ApplicationName& a = (*names_)[i - ports];
                           if (!b.add_application(ipfix::application_id(a.id), a.name,
                                                  a.description))
                               break;
                       }
                   }},
        builder_);
    if (i == names_sent_) ++i;  // too long for any message of this collector: left out
    Message m;
    m.names_to = i;
    return send(now, m);
}

std::span<const FlowRecord> CollectorSession::for_v5(std::span<const FlowRecord> records) {
    v5_.clear();
    Totals ipv6, too_large;
    for (FlowRecord r : records) {
        if (is_extension(r)) continue;  // v5 has no field for them
        r.extensions = 0;
        r.metadata_groups = 0;
        if (r.ip_version != 4)
            ipv6.add(r);
        else if (!netflow::split_for_v5(r, v5_))
            too_large.add(r);
    }
    if (too_large.records != 0) {
        not_sent(too_large);
        SLUICE_WARN(
            "collector \"%s\" (%s): %lu records too large for NetFlow v5 even split "
            "into %lu parts; counted as not sent",
            name().c_str(), describe().c_str(), static_cast<unsigned long>(too_large.records),
            static_cast<unsigned long>(netflow::kMaxV5Parts));
    }
    if (ipv6.records != 0) {
        not_sent(ipv6);
        counters_.ipv6_records_not_sent += ipv6.records;
        counters_.ipv6_packets_not_sent += ipv6.packets;
        counters_.ipv6_octets_not_sent += ipv6.octets;
        if (!ipv6_logged_)
            SLUICE_WARN(
                "collector \"%s\" (%s): NetFlow v5 carries IPv4 only; IPv6 flow records are "
                "counted as not sent (ipv6_records_not_sent); use protocol = \"netflow9\" or "
                "\"ipfix\" for them",
                name().c_str(), describe().c_str());
        ipv6_logged_ = true;
    }
    return v5_;
}

void CollectorSession::sent(const Totals& t) {
    counters_.records_sent += t.records;
    counters_.packets_sent += t.packets;
    counters_.octets_sent += t.octets;
    publish(j_.first, j_.first + t.slots);
}

void CollectorSession::lost(const Totals& t) {
    not_sent(t);
    publish(j_.first, j_.first + t.slots);
}

void CollectorSession::not_sent(const Totals& t) {
    counters_.records_not_sent += t.records;
    counters_.packets_not_sent += t.packets;
    counters_.octets_not_sent += t.octets;
}

}  // namespace sluice::control
