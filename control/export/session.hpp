// One collector: its records buffer, its IPFIX transport sessions, templates, statistics and
// counters. Never blocks: what cannot go out now waits in the buffer or is counted as not sent.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "control/export/channel.hpp"
#include "control/export/shared_file.hpp"
#include "control/export/spool.hpp"
#include "control/ipfix/encoder.hpp"
#include "control/netflow/netflow.hpp"
#include "sluice/config.hpp"
#include "sluice/counters.hpp"
#include "sluice/record.hpp"

namespace sluice::control {

// The dataplane's totals the reliability statistics report (RFC 7011 section 4), as of
// `until_ns`. With a collector's records they make the accounting a collector can check:
// packets = packets in its records + ignored_packets + packets not sent, and metered_octets =
// octets in its records + octets not sent.
struct Reliability {
    std::uint64_t packets = 0;               // received by the metering process
    std::uint64_t frame_octets = 0;          // their link-layer lengths
    std::uint64_t metered_octets = 0;        // IP octets of the packets metered
    std::uint64_t ignored_packets = 0;       // not metered, for any reason
    std::uint64_t ignored_octets = 0;        // their IP octets, from the IP header on
    std::uint64_t ignored_frame_octets = 0;  // their link-layer lengths
    std::uint64_t records_not_sent = 0;      // the workers' rings were full
    std::uint64_t packets_not_sent = 0;
    std::uint64_t octets_not_sent = 0;
    std::uint64_t since_ns = 0;  // when the dataplane started counting
    std::uint64_t until_ns = 0;  // when these totals were read; 0: now
    // [[port]] sampling: one packet in `sampling` metered (1: all), the first of each interval
    // or one at random; the packets it chose among (metered and sampled out) and those chosen.
    std::uint32_t sampling = 1;
    bool sampling_deterministic = false;
    std::uint64_t sampling_observed = 0;
    std::uint64_t sampling_selected = 0;
};

// The id -> name table of the identified applications, sent to collectors as options records.
struct ApplicationName {
    std::uint32_t id;
    std::string name;
    std::string description;
};
using ApplicationNames = std::shared_ptr<const std::vector<ApplicationName>>;

// A port as collectors see it: the ingressInterface of its records, a name and a description,
// sent as options records.
struct Interface {
    std::uint16_t port_id;  // the DPDK port id its records carry
    std::uint32_t if_index;
    std::string name;
    std::string description;
};
using Interfaces = std::shared_ptr<const std::vector<Interface>>;

enum class SessionState : std::uint8_t {
    opening,  // resolving, connecting
    up,
    failing,  // open, but sends fail (UDP: the collector's port is closed)
    down,     // waiting to retry
};

using sluice::SessionCounters;

// Where a collector's records and counters are kept: in a file of /dev/shm, so that when
// sluice-control is killed the next control takes them up, or (no path) in this process only.
struct SessionStore {
    std::string path;
    std::uint64_t dataplane = 0;  // whose records they are: the dataplane's start time

    // `path` a prefix: the store of the collector `name` among those of that prefix.
    SessionStore of(const std::string& name) const;
};

// What a collector's store holds ahead of its records: where they stand, and its counters.
// Positions count records since the store was made; a record's place in the buffer is its
// position modulo the capacity. Each position is written after what it makes true.
struct SessionJournal {
    static constexpr std::uint32_t kMagic = 0x534c4a4e;  // "SLJN"
    // The store: this journal in a page of its own, a scratch of kScratchRecords FlowRecords
    // (the most one reorder moves), then the records buffer.
    static constexpr std::size_t kBytes = 4096;
    static constexpr std::size_t kScratchRecords = 4096;
    std::uint32_t magic;
    std::uint32_t layout;  // kJournalLayout
    std::uint32_t shape;   // the protocol and record shape its records are in
    std::uint64_t capacity;
    std::uint64_t dataplane;
    std::uint64_t first;  // the oldest record not accounted for (sent, confirmed, not sent)
    std::uint64_t sent;   // the next record to go into a message
    std::uint64_t end;    // past the newest
    std::uint64_t batch;  // the last batch of the rings this collector took
    // A reorder of the buffer in progress: its records, in their new order, are in the scratch.
    std::uint64_t reorder_at, reorder_count;
    // Records read from the spool, confirmed since `unsaved_at`, whose release the spool's
    // cursor may not hold yet.
    std::uint64_t unsaved_at, unsaved;
    SessionCounters counters;
    RecordTotals spooled;      // what the spool holds that the buffer does not
    RecordTotals spool_start;  // what it held when it opened
    RecordTotals damage_seen;  // of the spool's damaged records, those counted
};

class CollectorSession {
public:
    // `exporting_process_id` scopes this collector's Exporting Process statistics;
    // `domain_name` is sent as the observation domain's observationDomainName.
    // `interfaces`, the ports, are named to collectors and give the records' ingressInterface.
    // With `local_networks`, IPFIX records carry flowDirection.
    CollectorSession(const config::Collector& collector, std::uint32_t observation_domain,
                     std::uint32_t exporting_process_id, ApplicationNames names = nullptr,
                     std::unique_ptr<Channel> channel = nullptr, std::string domain_name = {},
                     Interfaces interfaces = nullptr, const SessionStore& store = {},
                     std::vector<config::Network> local_networks = {});

    // Takes records into the buffer (a uniflow collector's: one per direction); what does not
    // fit is counted as not sent.
    void offer(std::span<const FlowRecord> records);
    // The same, once: a batch of the rings (numbered from 1; 0: not one) this collector
    // already took, as a killed control's successor offers it again, is passed over.
    void offer(std::span<const FlowRecord> records, std::uint64_t batch);
    std::uint64_t batch() const { return j_.batch; }

    // A group's hand-over: the records waiting that no message has taken yet leave for
    // another member (appended to `out`), which buffers them as they are.
    void take_backlog(std::vector<FlowRecord>& out);
    void add_backlog(std::span<const FlowRecord> records) { buffer_records(records); }
    std::size_t backlog() const { return buffered(); }

    // Opens, reconnects, refreshes templates, sends statistics and buffered records, as far as
    // the channel accepts now and up to a bounded amount; true when it stopped at that bound
    // with more to send.
    bool service(Steady::time_point now, const Reliability& reliability);

    // True when every record offered has been sent or counted as not sent.
    bool drained() const {
        return j_.end == j_.first && !in_flight_ && (!spool_ || spool_->empty());
    }

    // Last statistics, then a clean close. Records still buffered are counted as not sent.
    // The store, which then holds counters only, stays for the next control when `keep_store`.
    void close(const Reliability& reliability, bool keep_store = false);

    const std::string& name() const { return config_.name; }
    const config::Collector& config() const { return config_; }
    std::string describe() const { return channel_->describe(); }
    SessionState state() const { return state_; }
    const std::string& last_error() const { return channel_->error(); }
    SessionCounters counters() const;

private:
    using Totals = RecordTotals;
    // A run of the buffer's records (from the oldest retained on), and whether they were read
    // from the spool, which lets them go once they are confirmed.
    struct Run {
        std::size_t records;
        bool spooled;
    };
    // What a message carries, accounted for when it is out or lost.
    struct Message {
        Totals totals;
        std::uint32_t sequence_step = 0;  // what it adds to the sequence number
        std::size_t bytes = 0;
        bool templates = false;
        bool statistics = false;
        std::size_t names_to = 0;  // the interface and application names sent up to here
    };

    // Records a stream collector's host has not acknowledged yet, by the connection's byte
    // that ends their message.
    struct Unconfirmed {
        std::uint64_t end;
        Totals totals;
    };

    enum class Outcome { done, waiting, failed };

    // The buffer's records: retained (in messages not accounted for yet), then buffered.
    std::size_t head() const { return j_.sent % capacity_; }
    std::size_t buffered() const { return j_.end - j_.sent; }
    std::size_t retained() const { return j_.sent - j_.first; }
    std::size_t oldest() const { return j_.first % capacity_; }

    static SessionJournal& map_store(const SessionStore& store, std::size_t capacity,
                                     std::unique_ptr<SharedFile>& file);
    // What a killed control left in the store: its records wait again, those it may have sent
    // counted as sent again.
    void take_up();
    void take_up_spool();

    void buffer_records(std::span<const FlowRecord> records);
    // Counts as sent what the collector acknowledged.
    void confirm();
    // The connection is gone: what it did not confirm waits to go out again, in order.
    void resend_unconfirmed();
    // The totals of `n` records of the buffer from `from` on.
    Totals totals(std::size_t from, std::size_t n) const;
    // Copies records into the buffer behind what waits there (as many as fit): runs_ says where
    // they came from.
    std::size_t append_to_buffer(std::span<const FlowRecord> records, bool spooled);
    void note_run(std::size_t records, bool spooled);
    // Into the spool, what it cannot take counted as not sent.
    void spool_records(std::span<const FlowRecord> records);
    void spooled(std::span<const FlowRecord> records, const Totals& dropped);
    // The spool's next records into the buffer, while it has room.
    void refill();
    // `n` records leave the front of the buffer (confirmed, or counted otherwise): those read
    // from the spool leave it.
    void consume_runs(std::size_t n);
    // At a stop: what the buffer holds goes to the spool, ahead of what is on disk.
    void spool_buffer();
    void spool_counters(SessionCounters& c) const;

    void open(Steady::time_point now);
    bool rotate(Steady::time_point now);
    void new_session();
    void went_down(Steady::time_point now);
    void set_state(SessionState s);
    // Sends the builder's message, which carries `m`.
    Outcome send(Steady::time_point now, Message m);
    std::span<const std::uint8_t> finish_message(Message& m, std::uint64_t now_ns);
    // Flow records of one data template of fixed length, several messages in one send of the
    // channel.
    Outcome send_batch(Steady::time_point now);
    void take_records(Message& m, std::uint16_t batch_template);
    std::size_t unit_at(std::size_t i, std::size_t end) const;
    // The data template of the record at `at`, `n` records after the head, as take_records
    // adds it (none: an extension).
    ipfix::DataTemplate template_at(std::size_t at, std::uint64_t n) const;
    void group_by_template(std::uint16_t id, std::size_t window);
    // Sends `bytes` (the in-flight messages; several of `segment` bytes when a batch).
    Outcome transmit(Steady::time_point now, std::span<const std::uint8_t> bytes,
                     std::size_t segment);
    Outcome finish_in_flight(Steady::time_point now);
    Outcome all_out(Steady::time_point now);
    bool batches_refused();
    Outcome send_one_by_one(Steady::time_point now);
    void completed(Steady::time_point now, const Message& m);
    Outcome after_failure(Steady::time_point now);
    void lose_in_flight();
    void clear_in_flight();
    void forget_messages();
    Outcome send_statistics(Steady::time_point now, const Reliability& r, bool with_templates);
    Outcome send_names(Steady::time_point now);
    std::size_t names_count() const;
    std::size_t element_types() const;
    // The oldest `t.records` records of the buffer are sent (acknowledged, over a stream), or
    // lost: counted, they leave it.
    void sent(const Totals& t);
    void lost(const Totals& t);
    void not_sent(const Totals& t);
    // What a NetFlow v5 collector takes of uniflow records: IPv4, in 32-bit counts.
    std::span<const FlowRecord> for_v5(std::span<const FlowRecord> records);
    // The message format of this collector's protocol, for a channel of `max_message` bytes.
    void new_builder(std::size_t max_message);
    std::size_t max_message() const {
        return std::visit([](const auto& b) { return b.max_size(); }, builder_);
    }
    // Templates, statistics and names: all but NetFlow v5, whose packets carry records only.
    bool has_options() const { return config_.protocol != config::Protocol::netflow5; }

    config::Collector config_;
    std::uint32_t domain_;
    std::string domain_name_;
    std::vector<config::Network> local_networks_;
    std::uint32_t exporting_process_id_;
    std::unique_ptr<Channel> channel_;
    ipfix::TimePrecision precision_;
    std::variant<ipfix::MessageBuilder, netflow::V9Builder, netflow::V5Builder> builder_;

    // The store: the journal, a scratch for reorders, then the records buffer (a ring of
    // FlowRecords), allocated once, touched as it fills.
    std::unique_ptr<SharedFile> file_;  // a file of /dev/shm, or this process's memory
    std::size_t capacity_;
    SessionJournal& j_;
    FlowRecord* scratch_;
    FlowRecord* buffer_;
    std::array<bool, SessionJournal::kScratchRecords> of_batch_{};  // group_by_template's, by unit
    bool taken_up_ = false;
    std::vector<FlowRecord> uniflow_;  // what offer() makes of biflows for a uniflow collector
    std::vector<FlowRecord> v5_;       // and of those for a NetFlow v5 one
    bool ipv6_logged_ = false;
    // A stream collector's records stay in the buffer, before head(), from the message that
    // takes them until its host acknowledges them (`unconfirmed_` once written); others' until
    // their message is out or lost.
    const bool confirms_;
    std::deque<Unconfirmed> unconfirmed_;
    bool stopping_ = false;  // close() has begun: nothing goes out again
    std::unique_ptr<Spool> spool_;
    std::deque<Run> runs_;  // with a spool: the buffer's records, retained ones first
    Totals& spooled_;
    Totals& spool_start_;
    Totals& damage_seen_;

    SessionState state_ = SessionState::opening;
    SessionState logged_state_ = SessionState::opening;
    std::string logged_error_;
    Steady::time_point retry_at_{};
    Steady::time_point last_failure_{};
    Steady::duration backoff_;
    std::uint32_t sequence_ = 0;  // data records sent in this transport session
    bool templates_due_ = true;
    bool statistics_due_ = true;
    ApplicationNames names_;
    Interfaces interfaces_;
    ipfix::InterfaceIndexes if_index_ = ipfix::identity_interfaces();
    // After templates: the type records of Sluice's own elements, the flow templates with
    // metadata, the interfaces' names, then the applications', from names_sent_ on (an index
    // over all four).
    std::vector<const ipfix::Template*> metadata_templates_;
    std::uint8_t metadata_groups_ = 0;  // what this collector takes of the records' metadata
    bool names_due_ = false;
    std::size_t names_sent_ = 0;
    Steady::time_point next_templates_{};
    Steady::time_point next_statistics_{};
    // Messages the channel has not taken whole yet: `held_` when nothing of them went out
    // (several of `held_segment_` bytes each when a batch), in the channel when part did (TCP).
    bool in_flight_ = false;
    std::vector<std::uint8_t> held_;
    std::size_t held_segment_ = 0;
    std::vector<Message> in_flight_messages_;
    std::size_t attempted_ = 0;  // bytes of the last send, for the budget of a service pass
    bool refusal_logged_ = false;
    std::vector<std::uint8_t> batch_;  // a batch being built
    SessionCounters& counters_;
};

}  // namespace sluice::control
