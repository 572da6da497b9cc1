// One worker's flow table: biflows keyed by canonical 5-tuple, updated a burst at a time,
// expired by an incremental sweep, exported as FlowRecords. No allocation after construction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/meter/dedup.hpp"
#include "dataplane/meter/fragments.hpp"
#include "dataplane/meter/hash.hpp"
#include "dataplane/meter/identify.hpp"
#include "dataplane/meter/packet.hpp"
#include "dataplane/meter/parser.hpp"
#include "shared/capture/link.hpp"
#include "shared/capture/packet_ref.hpp"
#include "sluice/counters.hpp"
#include "sluice/metadata.hpp"
#include "sluice/record.hpp"

namespace sluice::meter {

// Packets metered in one call: the worker gathers up to this many from rx_burst. Longer bursts
// give the pipeline's memory fetches time to arrive (measured: 64 beats 32 by ~10% at 1M flows).
inline constexpr unsigned kMaxBurst = 64;

struct FlowTableConfig {
    std::uint32_t max_flows;
    std::uint64_t idle_timeout_ns;
    std::uint64_t active_timeout_ns;
    std::uint64_t tcp_end_grace_ns;
    bool tcp_health = false;  // a TcpHealth line beside each flow, filled by its TCP packets
    // The tunnels packets are taken out of; with any, a FlowTunnel line beside each flow.
    Decapsulation decapsulation{};
    bool headers = false;  // a FlowHeaders line beside each flow: [metadata] headers
};

// What a configuration asks of each worker's table.
FlowTableConfig table_config(const config::Config& c);

// A packet parsed before it reaches its table (sluice pcap's reader parses each packet to
// choose the thread that meters it): what parse() said of it, with the table's decapsulation and
// a fragment map that saw every packet before it.
struct Parsed {
    PacketInfo info;
    TunnelInfo tunnel;
    ParseResult result = ParseResult::ignore(IgnoreReason::truncated_l2);
};

// Where the table puts the records of flows that end. The caller empties it between calls;
// each call fills at most what it documents.
struct RecordBuffer {
    // Slots: a record with metadata takes its extensions too (kMaxUnit at most).
    static constexpr std::uint32_t kCapacity = 2048;
    static constexpr std::uint32_t kMaxUnit = 1 + kMaxExtensions;
    std::uint32_t count = 0;
    FlowRecord records[kCapacity];

    std::uint32_t room() const { return kCapacity - count; }
};

// A biflow's state, in three parts. What every packet reads or writes: one cache line.
struct FlowHot {
    FlowKeyHead key;          // an IPv4 key whole; an IPv6 key's tail is in Bucket::tail
    std::uint64_t octets[2];  // by direction: [0] sent by endpoint 0 of the key
    std::uint64_t last_ns[2];
    std::uint32_t packets[2];  // the low 32 bits: FlowCold::packets_high takes the carries
    std::uint8_t tcp_flags[2];
    std::uint8_t min_ttl[2];
    std::uint8_t max_ttl[2];
    std::uint8_t state;    // FlowState bits
    std::uint8_t scanned;  // payloads scanned for the application: the initiator's in the low
                           // nibble, the responder's in the high one; 0xff once identified
};
static_assert(sizeof(FlowHot) == 64);

// What is written once per direction and record, or read when the flow ends (32 bytes: two to
// a line, never across two).
struct FlowCold {
    std::uint64_t first_ns[2];
    std::uint32_t application_id;   // 0 until identified
    std::uint32_t metadata;         // the extractor's slot of its metadata; 0: none
    std::uint16_t packets_high[2];  // bits 32-47 of the record's packet counts
    std::uint16_t ingress_port;
    bool metadata_done;  // its first payloads gave the extractor what they could
    bool tunneled;       // its first packet came out of a tunnel: its FlowTunnel says which
};
static_assert(sizeof(FlowCold) == 32);

// What a TCP flow's packets say of its health, one line a flow in an array beside the buckets
// (a flow's at its slot's index): read and written by each of its TCP packets, never by
// others. By direction as the key has them ([0] endpoint 0's); the counts and largest gaps are
// the record's, the rest the flow's.
struct TcpHealth {
    std::uint32_t next_seq[2];  // after the highest byte (SYN and FIN count one) sent
    std::uint32_t largest_gap_us[2];
    std::uint32_t retransmitted_packets[2];
    std::uint32_t out_of_order[2];
    std::uint32_t zero_windows[2];
    std::uint64_t retransmitted_octets[2];
    std::uint32_t initial_rtt_ns;  // the initiator's first packet (its SYN) to its ACK of the
                                   // SYN/ACK, at most 2^32-1; 0: not seen
    std::uint8_t state;            // TcpHealthState bits
    std::uint8_t reserved[3];
};
static_assert(sizeof(TcpHealth) == 64);

// The tunnel a flow's first packet came out of, one line a flow in an array beside the buckets
// (a flow's at its slot's index): written when a flow of a tunnel is created, read by the
// packets of a flow whose key's head says `tunneled` and when its record is written.
struct FlowTunnel {
    std::uint64_t identity;  // the key's part beyond its head (TunnelInfo::identity)
    std::uint32_t id;
    std::uint16_t erspan_session;  // + 1; 0: none
    TunnelType type;
    std::uint8_t outer_ip_version;
    // By key endpoint: the outer source address of the packets endpoint d sends (IPv4 in the
    // first 4 bytes).
    std::uint8_t outer_address[2][16];
    std::uint8_t reserved[16];
};
static_assert(sizeof(FlowTunnel) == 64);

// What the first packet of each direction of the current record said in its headers, one line
// a flow in an array beside the buckets (a flow's at its slot's index): written by a
// direction's first packet of a record, read when the record is written. By key endpoint.
struct FlowHeaders {
    PacketHeaders direction[2];
    std::uint8_t reserved[8];
};
static_assert(sizeof(FlowHeaders) == 64);

// A bucket of 8 flows: the tags of its slots (0: empty), when each was last seen and when its
// active timeout or TCP end falls, all in one cache line; then the hot parts, the cold parts,
// and the tails of IPv6 keys. Lookups compare tags before touching an entry; eviction and the
// sweep read the header alone. A packet of an IPv4 flow touches the header and one line of its
// flow; of an IPv6 flow, also its key's tail. 1024 bytes: a flow costs 128 bytes, index
// included.
struct alignas(64) Bucket {
    static constexpr unsigned kSlots = 8;
    std::uint16_t tag[kSlots];
    std::uint32_t last_seen[kSlots];  // time_ns >> kSeenShift (~1 ms), wraps in 52 days
    std::uint16_t due[kSlots];        // deadline_ns >> kDueShift (~67 ms), wraps in 73 minutes
    FlowHot hot[kSlots];
    FlowCold cold[kSlots];
    FlowKeyTail tail[kSlots];  // written and read for IPv6 flows only
};
static_assert(sizeof(Bucket) == 1024);
static_assert(offsetof(Bucket, hot) % 64 == 0 && offsetof(Bucket, cold) % 32 == 0,
              "every hot part is one whole line; no cold part spans two");

// The largest active flows by octets (both directions), gathered a share of the table at a time
// without changing it: what `sluicectl top` shows. A min-heap by octets while it fills.
struct LargestFlows {
    static constexpr unsigned kFlows = 20;
    unsigned count = 0;
    FlowRecord flows[kFlows];

    // Sorted, largest first; call once the scan is done.
    void sort();
};

class FlowTable {
public:
    // Bytes of memory for max_flows: 128 per flow, rounded up to whole buckets; with TCP health,
    // tunnels and headers, 64 more a flow each.
    static std::size_t memory_size(std::uint32_t max_flows, bool tcp_health = false,
                                   bool tunnels = false, bool headers = false);
    static std::size_t memory_size(const FlowTableConfig& c) {
        return memory_size(c.max_flows, c.tcp_health, c.decapsulation.tunnels != 0, c.headers);
    }

    // `memory` is 64-byte aligned, memory_size(config) bytes, owned by the caller (hugepages in
    // the dataplane) and outlives the table. It is cleared here.
    FlowTable(const FlowTableConfig& config, void* memory, const HashKey& key);

    // Meters up to kMaxBurst packets received on `port`, each beginning with a `link` header.
    // Writes at most n records: `out` must have that much room.
    void process(const PacketRef* packets, unsigned n, std::uint16_t port, RecordBuffer& out,
                 LinkType link = LinkType::ethernet) {
        process_burst<false>(packets, nullptr, n, port, out, link);
    }
    // The same for packets parsed already, `parsed[i]` of `packets[i]`: the table does not
    // parse them again (nor remember their fragments: the parser's map did).
    void process(const PacketRef* packets, const Parsed* parsed, unsigned n, std::uint16_t port,
                 RecordBuffer& out, LinkType link = LinkType::ethernet) {
        process_burst<true>(packets, parsed, n, port, out, link);
    }

    // Advances the expiry sweep to `now_ns`: a share of the buckets proportional to the time
    // since the last call, so the whole table is visited every sweep period; at most
    // kMaxSweepBuckets buckets a call, and only while `out` has room for a bucket's records.
    void expire(std::uint64_t now_ns, RecordBuffer& out);

    // Ends every flow into `out` until it is full; true once the table is empty. Call until it
    // returns true. A flow ends as forcedEnd, unless one of its timeouts had fallen by `now`.
    bool flush(std::uint64_t now, RecordBuffer& out);

    // Looks at up to `buckets` buckets from where the last call stopped, keeping the largest
    // flows in `top` (their end_reason 0: still active); true once the whole table has been
    // seen, and the next call starts a new scan.
    bool scan_largest(std::uint32_t buckets, LargestFlows& top);

    // Identifies the applications of new flows from now on (off by default).
    void identify_applications(const Identification& id) {
        identification_ = id;
        inspecting_ = identification_.classify != nullptr || metadata_.inspect != nullptr;
    }
    // Extracts the metadata of new flows from their first payloads, within the identification's
    // budget of packets (off by default).
    void extract_metadata(const MetadataHook& hook) {
        metadata_ = hook;
        inspecting_ = identification_.classify != nullptr || metadata_.inspect != nullptr;
    }

    // Drops the second copy of a frame within `d`'s window from now on, counted as ignored
    // (`duplicate`); null: none (the default).
    void deduplicate(Deduplicator* d) { dedup_ = d; }

    // Meters one in `interval` of the packets it would meter from now on ([[port]] sampling),
    // counting the others as sampled out: one at random in each `interval` packets (random
    // n-out-of-N, from `seed`), or the first of each (`deterministic`: systematic count-based).
    // 1: every packet (the default). Duplicates are dropped before, ignored packets are not
    // sampled.
    void sample(std::uint32_t interval, bool deterministic, std::uint64_t seed);

    // New timeouts, from the next packet on (a reload).
    void set_timeouts(std::uint64_t idle_ns, std::uint64_t active_ns, std::uint64_t grace_ns);

    const MeterCounters& counters() const { return counters_; }
    std::uint64_t active_flows() const;
    std::uint64_t capacity() const { return std::uint64_t{buckets_} * Bucket::kSlots; }
    // The flows a table for `max_flows` holds: whole buckets, two at least.
    static std::uint64_t capacity(std::uint32_t max_flows);
    std::uint64_t sweep_period_ns() const { return sweep_period_ns_; }

    static constexpr unsigned kMaxSweepBuckets = 64;
    static constexpr unsigned kSeenShift = 20;
    static constexpr unsigned kDueShift = 26;

private:
    struct Slot {
        Bucket* bucket;
        unsigned index;
        FlowHot& hot() const { return bucket->hot[index]; }
        FlowCold& cold() const { return bucket->cold[index]; }
        FlowKeyTail& tail() const { return bucket->tail[index]; }
    };
    std::size_t flow_index(Slot s) const {
        return static_cast<std::size_t>(s.bucket - table_) * Bucket::kSlots + s.index;
    }
    TcpHealth& health(Slot s) const { return health_[flow_index(s)]; }
    FlowTunnel& tunnel(Slot s) const { return tunnels_[flow_index(s)]; }
    FlowHeaders& headers(Slot s) const { return headers_[flow_index(s)]; }

    // One packet of a burst on its way through the pipeline.
    struct Pending {
        PacketInfo info;
        Bucket* bucket[2];
        std::uint32_t candidates;   // tag matches: bucket[0] in bits 0-15, bucket[1] in 16-31
        std::uint64_t fingerprint;  // with deduplication: the frame's
        std::uint16_t tag;
        bool metered;
    };
    // Packets between fetching a bucket and reading it, and between fetching an entry and
    // updating it: enough work to cover a memory access (16 and 16 measured best of 4..32).
    static constexpr unsigned kLagMatch = 16;
    static constexpr unsigned kLagUpdate = 16;

    template <bool kParsed>
    void process_burst(const PacketRef* packets, const Parsed* parsed, unsigned n,
                       std::uint16_t port, RecordBuffer& out, LinkType link);
    // Parses the packet (or takes `parsed`'s result), then fetches its buckets.
    template <bool kParsed>
    void fetch_buckets(const PacketRef& p, const Parsed* parsed, Pending& q, TunnelInfo& tunnel,
                       const std::uint8_t* next, LinkType link);
    // With sampling: whether the packet the parser would meter is the one of its interval.
    bool sampled();
    void fetch_entries(Pending& q, std::uint64_t now);
    Slot new_flow_slot(const Pending& q, std::uint64_t now);
    // Inlined into process(), as it was before its tunnel checks made it look too big to be.
    [[gnu::always_inline]] bool meter(Pending& q, const PacketRef& p, std::uint16_t port,
                                      bool stale, RecordBuffer& out, LinkType link);
    // The tunnel packet q of the burst was taken out of, when q.info.tunnel_depth says one.
    const TunnelInfo& found(const Pending& q) const { return found_[&q - pending_]; }
    void inspect(Slot s, const PacketInfo& info, const PacketRef& p);
    // The record of a flow that ends or goes on, with its metadata's extensions.
    void write_record(Slot s, FlowEndReason reason, bool goes_on, RecordBuffer& out);
    std::uint32_t candidates(const Pending& q);

    // Inlined into process(): a call cost 20 of its ~60 instructions.
    [[gnu::always_inline]] void update(Slot s, const PacketInfo& info, std::uint64_t now);
    // What a direction's first packet of a record says in its headers, into its FlowHeaders.
    void remember_headers(Slot s, const Pending& q, const PacketRef& p, LinkType link);
    // The record's header fields, into `fields`.
    void header_fields(Slot s, MetadataWriter& fields) const;
    // What a TCP packet says of its flow's health; before `update` has counted it.
    void track_health(Slot s, const PacketInfo& info, std::uint64_t now);
    // The record's TCP health fields, into `fields`.
    void health_fields(Slot s, MetadataWriter& fields) const;
    // The record's tunnel fields (a flow whose first packet came out of one), into `fields`.
    void tunnel_fields(Slot s, MetadataWriter& fields) const;
    void create(Slot s, const PacketInfo& info, std::uint16_t tag, std::uint16_t port,
                std::uint64_t now);
    // A flow created by a packet out of a tunnel: which, into its FlowTunnel.
    void remember_tunnel(Slot s, const PacketInfo& info, const TunnelInfo& tunnel,
                         const std::uint8_t* frame);
    FlowEndReason expiry(Slot s, std::uint64_t now) const;
    void end(Slot s, FlowEndReason reason, RecordBuffer& out);
    void export_and_go_on(Slot s, RecordBuffer& out);
    void refresh_due(Slot s);
    void sweep_bucket(Bucket& b, std::uint64_t now, RecordBuffer& out);

    FlowTableConfig config_;
    Bucket* table_;
    TcpHealth* health_;     // null: TCP health off
    FlowTunnel* tunnels_;   // null: no decapsulation
    FlowHeaders* headers_;  // null: [metadata] headers off
    Deduplicator* dedup_ = nullptr;
    // Sampling: 1 in sample_interval_ (0: off); sample_skip_ packets to leave out before the
    // next one, and sample_rest_ more after it to the end of its interval.
    std::uint32_t sample_interval_ = 0;
    std::uint32_t sample_skip_ = 0;
    std::uint32_t sample_rest_ = 0;
    bool sample_deterministic_ = false;
    std::uint64_t sample_state_ = 0;  // xorshift64*
    std::uint32_t buckets_;
    HashKey key_;
    MeterCounters counters_;
    std::uint64_t sweep_period_ns_;
    std::uint64_t sweep_rate_;  // bucket visits per ns, in 1/2^48 of a bucket
    std::uint32_t idle_seen_;   // idle_timeout_ns >> kSeenShift
    std::uint32_t sweep_cursor_ = 0;
    std::uint64_t sweep_last_ns_ = 0;
    std::uint64_t sweep_credit_ = 0;  // bucket visits owed, in 1/2^16 of a bucket
    std::uint32_t flush_cursor_ = 0;
    std::uint32_t scan_cursor_ = 0;
    Identification identification_;
    MetadataHook metadata_;
    bool inspecting_ = false;  // identification or metadata
    FragmentMap fragments_;
    // The burst on its way through process(), and the tunnels its packets were taken out of
    // (beside, as most have none: a Pending's PacketInfo fills its line).
    Pending pending_[kMaxBurst];
    TunnelInfo found_[kMaxBurst];
};

}  // namespace sluice::meter
