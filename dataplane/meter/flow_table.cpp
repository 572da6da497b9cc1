// One worker's flow table: lookups batched over a burst with prefetch, expiry by sweep.
#include "dataplane/meter/flow_table.hpp"

#include <emmintrin.h>

#include <algorithm>
#include <cstring>

#include "dataplane/meter/parser.hpp"

namespace sluice::meter {

FlowTableConfig table_config(const config::Config& c) {
    return {c.flow.max_flows,
            static_cast<std::uint64_t>(c.flow.idle_timeout.count()),
            static_cast<std::uint64_t>(c.flow.active_timeout.count()),
            static_cast<std::uint64_t>(c.flow.tcp_end_grace.count()),
            c.metadata.tcp_health,
            decapsulation(c.flow),
            c.metadata.headers};
}
namespace {

// FlowHot::state bits.
enum : std::uint8_t {
    kInitiatorIsAddress1 = 1,  // the initiator is endpoint 1 of the key
    kSynSeen = 2,              // the initiator is the sender of a SYN
    kFinFrom0 = 4,
    kFinFrom1 = 8,
    kEnded = 16,     // FIN both ways or RST: ends after tcp_end_grace without packets
    kCounted0 = 32,  // a packet from endpoint 0 of the key since the record began
    kCounted1 = 64,  // and from endpoint 1
};

// TcpHealth::state bits.
enum : std::uint8_t {
    kHealthSeen0 = 1,         // next_seq[0] holds; << 1 for direction 1
    kHealthAdvanced0 = 4,     // the direction's last segment with data was no retransmission
    kHandshakeInRecord = 16,  // the record saw the handshake end: it carries its times
};

// A segment below what its direction sent is out of order when it comes within the handshake's
// round trip of the one before (or this long, the round trip unseen), as tshark reckons.
constexpr std::uint64_t kOutOfOrderWithoutRtt = 3'000'000;

constexpr std::uint8_t kTcp = 6, kIcmp = 1, kIcmpv6 = 58;
constexpr std::uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpAck = 0x10;
constexpr auto kNotExpired = FlowEndReason{0};

// Nanoseconds as whole microseconds, rounded up: 0 stays for "none".
inline std::uint32_t micros_up(std::uint64_t ns) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>((ns + 999) / 1000, UINT32_MAX));
}

inline std::uint32_t range(std::uint32_t x, std::uint32_t n) {
    return static_cast<std::uint32_t>((std::uint64_t{x} * n) >> 32);
}

// Bit 2*i is set for each slot i whose tag equals `tag`.
inline unsigned match(const Bucket& b, std::uint16_t tag) {
    const __m128i tags = _mm_load_si128(reinterpret_cast<const __m128i*>(b.tag));
    const __m128i eq = _mm_cmpeq_epi16(tags, _mm_set1_epi16(static_cast<short>(tag)));
    return static_cast<unsigned>(_mm_movemask_epi8(eq)) & 0x5555u;
}

inline unsigned first_slot(unsigned mask) {
    return static_cast<unsigned>(__builtin_ctz(mask)) / 2;
}

// Fetches the line of a flow's hot part; its cold part too for a flow about to be created or
// exported, and its key's tail for an IPv6 flow.
inline void prefetch_flow(const Bucket& b, unsigned slot, bool cold, bool tail,
                          const TcpHealth* health) {
    __builtin_prefetch(&b.hot[slot]);
    if (health != nullptr) __builtin_prefetch(health);
    if (cold) __builtin_prefetch(&b.cold[slot]);
    if (tail) {
        const char* t = reinterpret_cast<const char*>(&b.tail[slot]);
        __builtin_prefetch(t);
        __builtin_prefetch(t + sizeof(FlowKeyTail) - 1);
    }
}

// Whether the current record has counted a packet.
inline bool counted(const FlowHot& h) {
    return (h.state & (kCounted0 | kCounted1)) != 0;
}
inline std::uint64_t last_ns(const FlowHot& h) {
    return std::max(h.last_ns[0], h.last_ns[1]);
}

// When the current record began: the first packet of either direction since it started.
inline std::uint64_t start_ns(const FlowHot& h, const FlowCold& c) {
    if (!(h.state & kCounted0)) return c.first_ns[1];
    if (!(h.state & kCounted1)) return c.first_ns[0];
    return std::min(c.first_ns[0], c.first_ns[1]);
}

void to_record(const Bucket& b, unsigned slot, FlowEndReason reason, FlowRecord& r) {
    const FlowHot& h = b.hot[slot];
    const FlowCold& c = b.cold[slot];
    const unsigned i = (h.state & kInitiatorIsAddress1) ? 1 : 0;
    const unsigned o = 1 - i;
    // Every other byte is written below; the metadata, when the flow has any, after.
    r.mark = 0;
    r.extensions = 0;
    r.metadata_groups = 0;
    std::memset(r.reserved, 0, sizeof(r.reserved));
    std::memcpy(r.source_address, h.key.address[i], 4);
    std::memcpy(r.destination_address, h.key.address[o], 4);
    // An IPv4 flow has no tail: its addresses end in zeros.
    static constexpr FlowKeyTail kNoTail{};
    const FlowKeyTail& t = h.key.ip_version == 6 ? b.tail[slot] : kNoTail;
    std::memcpy(r.source_address + 4, t.address[i], 12);
    std::memcpy(r.destination_address + 4, t.address[o], 12);
    const bool icmp = h.key.protocol == kIcmp || h.key.protocol == kIcmpv6;
    r.source_port = icmp ? 0 : h.key.port[i];
    r.destination_port = icmp ? h.key.port[1] : h.key.port[o];
    r.protocol = h.key.protocol;
    r.ip_version = h.key.ip_version;
    r.vlan_id = h.key.vlan_id;
    r.packets = std::uint64_t{c.packets_high[i]} << 32 | h.packets[i];
    r.octets = h.octets[i];
    r.reverse_packets = std::uint64_t{c.packets_high[o]} << 32 | h.packets[o];
    r.reverse_octets = h.octets[o];
    r.first_ns = c.first_ns[i];
    r.last_ns = h.last_ns[i];
    r.reverse_first_ns = c.first_ns[o];
    r.reverse_last_ns = h.last_ns[o];
    r.application_id = c.application_id;
    r.ingress_port = c.ingress_port;
    r.tcp_flags = h.tcp_flags[i];
    r.reverse_tcp_flags = h.tcp_flags[o];
    r.minimum_ttl = h.min_ttl[i];
    r.maximum_ttl = h.max_ttl[i];
    r.reverse_minimum_ttl = h.min_ttl[o];
    r.reverse_maximum_ttl = h.max_ttl[o];
    r.end_reason = reason;
    r.biflow_direction = h.key.protocol == kTcp && !(h.state & kSynSeen) ? 0 : 1;
}

// Starts a fresh record in place: the flow, its initiator and its TCP state go on.
void restart_record(FlowHot& h, FlowCold& c) {
    for (unsigned d = 0; d < 2; ++d) {
        h.packets[d] = 0;
        h.octets[d] = 0;
        h.tcp_flags[d] = 0;
        h.min_ttl[d] = 0;
        h.max_ttl[d] = 0;
        c.first_ns[d] = 0;
        c.packets_high[d] = 0;
    }
    h.state &= static_cast<std::uint8_t>(~(kCounted0 | kCounted1));
}

// The same for a flow's TCP health: its counts start again, its sequence numbers go on.
void restart_health(TcpHealth& t) {
    for (unsigned d = 0; d < 2; ++d) {
        t.largest_gap_us[d] = 0;
        t.retransmitted_packets[d] = 0;
        t.out_of_order[d] = 0;
        t.zero_windows[d] = 0;
        t.retransmitted_octets[d] = 0;
    }
    t.state &= static_cast<std::uint8_t>(~kHandshakeInRecord);
}

std::uint32_t bucket_count(std::uint32_t max_flows) {
    return std::max<std::uint32_t>(2, (max_flows + Bucket::kSlots - 1) / Bucket::kSlots);
}

}  // namespace

std::uint64_t FlowTable::capacity(std::uint32_t max_flows) {
    return std::uint64_t{bucket_count(max_flows)} * Bucket::kSlots;
}

std::size_t FlowTable::memory_size(std::uint32_t max_flows, bool tcp_health, bool tunnels,
                                   bool headers) {
    const std::size_t flows = capacity(max_flows);
    return flows * (sizeof(Bucket) / Bucket::kSlots + (tcp_health ? sizeof(TcpHealth) : 0) +
                    (tunnels ? sizeof(FlowTunnel) : 0) + (headers ? sizeof(FlowHeaders) : 0));
}

FlowTable::FlowTable(const FlowTableConfig& config, void* memory, const HashKey& key)
    : config_(config),
      table_(static_cast<Bucket*>(memory)),
      health_(config.tcp_health
                  ? reinterpret_cast<TcpHealth*>(table_ + bucket_count(config.max_flows))
                  : nullptr),
      tunnels_(config.decapsulation.tunnels != 0
                   ? reinterpret_cast<FlowTunnel*>(reinterpret_cast<char*>(memory) +
                                                   memory_size(config.max_flows, config.tcp_health))
                   : nullptr),
      headers_(config.headers
                   ? reinterpret_cast<FlowHeaders*>(reinterpret_cast<char*>(memory) +
                                                    memory_size(config.max_flows, config.tcp_health,
                                                                config.decapsulation.tunnels != 0))
                   : nullptr),
      buckets_(bucket_count(config.max_flows)),
      key_(key),
      fragments_(key) {
    std::memset(memory, 0, memory_size(config));
    set_timeouts(config.idle_timeout_ns, config.active_timeout_ns, config.tcp_end_grace_ns);
}

void FlowTable::set_timeouts(std::uint64_t idle_ns, std::uint64_t active_ns,
                             std::uint64_t grace_ns) {
    config_.idle_timeout_ns = idle_ns;
    config_.active_timeout_ns = active_ns;
    config_.tcp_end_grace_ns = grace_ns;
    // Every flow is looked at once a period: records leave at most that late.
    sweep_period_ns_ =
        std::clamp<std::uint64_t>(std::min(idle_ns, active_ns) / 8, 100'000'000, 2'000'000'000);
    idle_seen_ = static_cast<std::uint32_t>(idle_ns >> kSeenShift);
    // Rounded up, so that a whole period always earns a whole table.
    sweep_rate_ = static_cast<std::uint64_t>(((uint128{buckets_} << 48) + sweep_period_ns_ - 1) /
                                             sweep_period_ns_);
}

std::uint64_t FlowTable::active_flows() const {
    return counters_.flows_active;
}

// The timeout that fell first, if any has by `now`: the answer does not depend on when the
// question is asked, so records are the same whatever the sweep's progress.
FlowEndReason FlowTable::expiry(Slot s, std::uint64_t now) const {
    const FlowHot& e = s.hot();
    const std::uint64_t last = last_ns(e);
    FlowEndReason reason = kNotExpired;
    std::uint64_t first_deadline = now;
    auto consider = [&](std::uint64_t deadline, FlowEndReason r) {
        if (deadline <= first_deadline && (reason == kNotExpired || deadline < first_deadline)) {
            first_deadline = deadline;
            reason = r;
        }
    };
    if (e.state & kEnded) consider(last + config_.tcp_end_grace_ns, FlowEndReason::end_of_flow);
    consider(last + config_.idle_timeout_ns, FlowEndReason::idle_timeout);
    if (counted(e))
        consider(start_ns(e, s.cold()) + config_.active_timeout_ns, FlowEndReason::active_timeout);
    return reason;
}

void FlowTable::refresh_due(Slot s) {
    const FlowHot& e = s.hot();
    std::uint64_t deadline = counted(e) ? start_ns(e, s.cold()) + config_.active_timeout_ns
                                        : last_ns(e) + config_.idle_timeout_ns;
    if (e.state & kEnded) deadline = std::min(deadline, last_ns(e) + config_.tcp_end_grace_ns);
    s.bucket->due[s.index] = static_cast<std::uint16_t>(deadline >> kDueShift);
}

void FlowTable::write_record(Slot s, FlowEndReason reason, bool goes_on, RecordBuffer& out) {
    FlowRecord& r = out.records[out.count++];
    to_record(*s.bucket, s.index, reason, r);
    ++counters_.flows_ended[static_cast<unsigned>(reason)];
    const bool health = health_ != nullptr && s.hot().key.protocol == kTcp;
    if (s.cold().metadata == 0 && !health && !s.cold().tunneled && headers_ == nullptr) return;
    MetadataWriter fields;
    std::uint8_t groups = 0;
    if (s.cold().metadata != 0)
        metadata_.emit(metadata_.context, s.cold().metadata, goes_on, fields, groups, counters_);
    if (health) {
        health_fields(s, fields);
        groups |= group_bit(MetadataGroup::tcp_health);
    }
    if (s.cold().tunneled) [[unlikely]] {
        tunnel_fields(s, fields);
        groups |= group_bit(MetadataGroup::tunnel);
    }
    if (headers_ != nullptr) {
        header_fields(s, fields);
        if (!fields.full()) groups |= group_bit(MetadataGroup::headers);  // else not all of them
    }
    r.metadata_groups = groups;
    r.extensions =
        static_cast<std::uint8_t>(write_extensions(fields.bytes(), &out.records[out.count]));
    out.count += r.extensions;
}

void FlowTable::tunnel_fields(Slot s, MetadataWriter& fields) const {
    const FlowTunnel& t = tunnel(s);
    const unsigned i = (s.hot().state & kInitiatorIsAddress1) ? 1 : 0;
    const unsigned bytes = t.outer_ip_version == 6 ? 16 : 4;
    fields.put(MetadataField::tunnel_technology, tunnel_name(t.type));
    fields.put_number(MetadataField::tunnel_id, t.id, 4);
    fields.put(MetadataField::tunnel_source, {t.outer_address[i], bytes});
    fields.put(MetadataField::tunnel_destination, {t.outer_address[1 - i], bytes});
    if (t.erspan_session != 0)
        fields.put_number(MetadataField::erspan_session, t.erspan_session - 1u, 2);
}

// Each direction's that sent packets in the record: a field a packet had (MACs, an inner VLAN,
// MPLS labels, a flow label, an ICMP header) or one every packet has (the class of service).
void FlowTable::header_fields(Slot s, MetadataWriter& fields) const {
    const FlowHot& h = s.hot();
    const unsigned i = (h.state & kInitiatorIsAddress1) ? 1 : 0;
    const bool icmp = h.key.protocol == kIcmp || h.key.protocol == kIcmpv6;
    for (const unsigned d : {i, 1 - i}) {
        if (!(h.state & (kCounted0 << d))) continue;
        const PacketHeaders& p = headers(s).direction[d];
        const auto id = [&](MetadataField f) { return of_direction(f, d != i); };
        if (p.ethernet) {
            fields.put(id(MetadataField::source_mac), p.source_mac);
            fields.put(id(MetadataField::destination_mac), p.destination_mac);
        }
        fields.put_number(id(MetadataField::class_of_service), p.class_of_service, 1);
        if (p.customer_vlan != 0)
            fields.put_number(id(MetadataField::customer_vlan), p.customer_vlan, 2);
        if (p.mpls) fields.put_number(id(MetadataField::mpls_top_label), p.mpls_top_label, 4);
        if (h.key.ip_version == 6)
            fields.put_number(id(MetadataField::flow_label), p.flow_label, 4);
        if (icmp) fields.put_number(id(MetadataField::icmp_type_code), p.icmp_type_code, 2);
    }
}

void FlowTable::health_fields(Slot s, MetadataWriter& fields) const {
    const TcpHealth& t = health(s);
    const FlowCold& c = s.cold();
    const unsigned i = (s.hot().state & kInitiatorIsAddress1) ? 1 : 0;
    const unsigned o = 1 - i;
    // The SYN/ACK is the responder's first packet: the handshake's time splits there.
    if (t.state & kHandshakeInRecord) {
        const std::uint64_t to_synack = c.first_ns[o] - c.first_ns[i];
        if (c.first_ns[o] >= c.first_ns[i] && to_synack <= t.initial_rtt_ns) {
            fields.put_number(MetadataField::tcp_syn_to_synack_us, micros_up(to_synack), 4);
            fields.put_number(MetadataField::tcp_synack_to_ack_us,
                              micros_up(t.initial_rtt_ns - to_synack), 4);
        }
    }
    for (const unsigned d : {i, o}) {
        const auto id = [&](MetadataField f) { return of_direction(f, d != i); };
        fields.put_number(id(MetadataField::tcp_retransmitted_packets), t.retransmitted_packets[d],
                          4);
        fields.put_number(id(MetadataField::tcp_retransmitted_octets), t.retransmitted_octets[d],
                          8);
        fields.put_number(id(MetadataField::tcp_out_of_order), t.out_of_order[d], 4);
        fields.put_number(id(MetadataField::tcp_zero_windows), t.zero_windows[d], 4);
        fields.put_number(id(MetadataField::tcp_largest_gap_us), t.largest_gap_us[d], 4);
    }
}

// Writes the record of the slot's flow and frees the slot. A flow with no packet since its
// last record (after an active timeout) has nothing to report.
void FlowTable::end(Slot s, FlowEndReason reason, RecordBuffer& out) {
    if (counted(s.hot())) {
        write_record(s, reason, false, out);
    } else if (s.cold().metadata != 0) {  // its metadata went with its last record
        MetadataWriter none;
        std::uint8_t groups;
        metadata_.emit(metadata_.context, s.cold().metadata, false, none, groups, counters_);
    }
    s.bucket->tag[s.index] = 0;
    --counters_.flows_active;
}

// An active timeout: the record so far leaves, and the flow is metered on with fresh counters.
void FlowTable::export_and_go_on(Slot s, RecordBuffer& out) {
    write_record(s, FlowEndReason::active_timeout, true, out);
    restart_record(s.hot(), s.cold());
    if (health_ != nullptr) restart_health(health(s));
}

// Sequence numbers are compared as RFC 1982 serial numbers: they wrap.
inline void FlowTable::track_health(Slot s, const PacketInfo& info, std::uint64_t now) {
    TcpHealth& t = health(s);
    const FlowHot& h = s.hot();
    const unsigned d = info.direction;
    const std::uint8_t f = info.tcp_flags;
    const std::uint64_t since = now > h.last_ns[d] ? now - h.last_ns[d] : 0;
    if (h.state & (kCounted0 << d))
        t.largest_gap_us[d] =
            std::max(t.largest_gap_us[d],
                     static_cast<std::uint32_t>(std::min<std::uint64_t>(since / 1000, UINT32_MAX)));
    if (info.tcp_window == 0 && !(f & (kTcpSyn | kTcpFin | kTcpRst))) ++t.zero_windows[d];
    const std::uint32_t length =
        info.wire_payload_length + ((f & kTcpSyn) ? 1u : 0u) + ((f & kTcpFin) ? 1u : 0u);
    const std::uint32_t end = info.tcp_seq + length;
    const auto seen = static_cast<std::uint8_t>(kHealthSeen0 << d);
    const auto advanced = static_cast<std::uint8_t>(kHealthAdvanced0 << d);
    if (!(t.state & seen)) {
        t.state |= seen | (length != 0 ? advanced : 0);
        t.next_seq[d] = end;
    } else if (length != 0) {
        const std::uint32_t next = t.next_seq[d];
        // A keep-alive: one byte (or none) below what was sent, to draw an ACK.
        const bool keep_alive =
            length == 1 && info.tcp_seq == next - 1 && !(f & (kTcpSyn | kTcpFin | kTcpRst));
        if (static_cast<std::int32_t>(info.tcp_seq - next) < 0 && !keep_alive) [[unlikely]] {
            const std::uint64_t soon =
                t.initial_rtt_ns != 0 ? t.initial_rtt_ns : kOutOfOrderWithoutRtt;
            if ((t.state & advanced) && since < soon && end != next) {
                ++t.out_of_order[d];
            } else {
                ++t.retransmitted_packets[d];
                t.retransmitted_octets[d] += info.ip_length;
                t.state &= static_cast<std::uint8_t>(~advanced);
            }
        }
        if (static_cast<std::int32_t>(end - next) > 0) {
            t.next_seq[d] = end;
            t.state |= advanced;
        }
    }
    // The initiator's ACK of the responder's SYN/ACK ends the handshake.
    if (t.initial_rtt_ns == 0 && (f & (kTcpSyn | kTcpAck)) == kTcpAck && (h.state & kSynSeen)) {
        const unsigned i = (h.state & kInitiatorIsAddress1) ? 1 : 0;
        if (d == i && (h.tcp_flags[i] & kTcpSyn) &&
            (h.tcp_flags[1 - i] & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck)) {
            const std::uint64_t first = s.cold().first_ns[i];
            t.initial_rtt_ns = static_cast<std::uint32_t>(
                std::clamp<std::uint64_t>(now > first ? now - first : 0, 1, UINT32_MAX));
            t.state |= kHandshakeInRecord;
        }
    }
}

inline void FlowTable::update(Slot s, const PacketInfo& info, std::uint64_t now) {
    if (health_ != nullptr && info.tcp_header) track_health(s, info, now);
    FlowHot& e = s.hot();
    const unsigned d = info.direction;
    const auto counted_d = static_cast<std::uint8_t>(kCounted0 << d);
    if (++e.packets[d] == 0) [[unlikely]]
        ++s.cold().packets_high[d];
    if (!(e.state & counted_d)) {
        e.state |= counted_d;
        s.cold().first_ns[d] = now;
        e.min_ttl[d] = e.max_ttl[d] = info.ttl;
    } else {
        e.min_ttl[d] = std::min(e.min_ttl[d], info.ttl);
        e.max_ttl[d] = std::max(e.max_ttl[d], info.ttl);
    }
    e.octets[d] += info.ip_length;
    if (now > e.last_ns[d]) e.last_ns[d] = now;
    s.bucket->last_seen[s.index] = static_cast<std::uint32_t>(now >> kSeenShift);
    if (info.tcp_flags != 0 && info.key.head.protocol == kTcp) {
        const std::uint8_t f = info.tcp_flags;
        e.tcp_flags[d] |= f;
        if ((f & (kTcpSyn | kTcpAck)) == kTcpSyn && !(e.state & kSynSeen)) {
            e.state = static_cast<std::uint8_t>((e.state & ~kInitiatorIsAddress1) | kSynSeen |
                                                (d ? kInitiatorIsAddress1 : 0));
        }
        if (f & kTcpFin) e.state |= d ? kFinFrom1 : kFinFrom0;
        if ((f & kTcpRst) || (e.state & (kFinFrom0 | kFinFrom1)) == (kFinFrom0 | kFinFrom1))
            e.state |= kEnded;
    }
    if (e.state & kEnded) refresh_due(s);
}

[[gnu::noinline]] void FlowTable::remember_headers(Slot s, const Pending& q, const PacketRef& p,
                                                   LinkType link) {
    headers(s).direction[q.info.direction] = read_headers(p.data, p.length, link, q.info, found(q));
}

[[gnu::noinline]] void FlowTable::remember_tunnel(Slot s, const PacketInfo& info,
                                                  const TunnelInfo& tunnel,
                                                  const std::uint8_t* frame) {
    s.cold().tunneled = true;
    FlowTunnel& t = this->tunnel(s);
    t = FlowTunnel{};
    t.identity = tunnel.identity;
    t.id = tunnel.id;
    t.erspan_session = tunnel.erspan_session;
    t.type = tunnel.type;
    const std::uint8_t* outer = frame + tunnel.outer_offset;
    t.outer_ip_version = outer[0] >> 4;
    const unsigned bytes = t.outer_ip_version == 6 ? 16 : 4;
    const unsigned at = t.outer_ip_version == 6 ? 8 : 12;
    const unsigned d = info.direction;
    std::memcpy(t.outer_address[d], outer + at, bytes);
    std::memcpy(t.outer_address[1 - d], outer + at + bytes, bytes);
}

void FlowTable::create(Slot s, const PacketInfo& info, std::uint16_t tag, std::uint16_t port,
                       std::uint64_t now) {
    FlowHot& e = s.hot();
    std::memset(&e, 0, sizeof(e));
    s.cold() = FlowCold{};
    if (health_ != nullptr && info.key.head.protocol == kTcp) health(s) = TcpHealth{};
    e.key = info.key.head;
    if (info.key.head.ip_version == 6) s.tail() = info.key.tail;
    s.cold().ingress_port = port;
    e.state = info.direction ? kInitiatorIsAddress1 : 0;
    s.bucket->tag[s.index] = tag;
    ++counters_.flows_created;
    ++counters_.flows_active;
    update(s, info, now);
    refresh_due(s);
}

template <bool kParsed>
void FlowTable::process_burst(const PacketRef* packets, const Parsed* parsed, unsigned n,
                              std::uint16_t port, RecordBuffer& out, LinkType link) {
    Pending* pending = pending_;
    bool changed = false;
    // The burst's totals, added to the counters once: kept in registers, where the counters
    // themselves would be loaded and stored for every packet.
    std::uint64_t octets = 0, metered = 0, metered_octets = 0;
    for (unsigned i = 0; i < n; ++i) octets += packets[i].frame_length;
    // The burst's fingerprints first, independent of each other, their buckets fetched while
    // the pipeline runs; each frame is compared in order as it is parsed.
    if (dedup_ != nullptr) [[unlikely]]
        for (unsigned i = 0; i < n; ++i) pending[i].fingerprint = dedup_->fingerprint(packets[i]);
    // A software pipeline over the burst: packet t is parsed and its buckets fetched while
    // packet t - kLagMatch has its tags matched and entry fetched, and packet
    // t - kLagMatch - kLagUpdate is updated, so each fetch has time to arrive before its use.
    for (unsigned t = 0; t < n + kLagMatch + kLagUpdate; ++t) {
        if (t < n)
            fetch_buckets<kParsed>(packets[t], kParsed ? &parsed[t] : nullptr, pending[t],
                                   found_[t], t + 2 < n ? packets[t + 2].data : nullptr, link);
        if (t >= kLagMatch && t - kLagMatch < n)
            fetch_entries(pending[t - kLagMatch], packets[t - kLagMatch].time_ns);
        if (t >= kLagMatch + kLagUpdate) {
            const unsigned i = t - kLagMatch - kLagUpdate;  // below n, as t is below n + both
            if (pending[i].metered) {
                ++metered;
                metered_octets += pending[i].info.ip_length;
                changed |= meter(pending[i], packets[i], port, changed, out, link);
            }
        }
    }
    counters_.packets += n;
    counters_.octets += octets;
    counters_.metered_packets += metered;
    counters_.metered_octets += metered_octets;
}

template <bool kParsed>
inline void FlowTable::fetch_buckets(const PacketRef& p, const Parsed* parsed, Pending& q,
                                     TunnelInfo& tunnel, [[maybe_unused]] const std::uint8_t* next,
                                     [[maybe_unused]] LinkType link) {
    ParseResult r = ParseResult::ignore(IgnoreReason::truncated_l2);
    if constexpr (kParsed) {
        q.info = parsed->info;
        tunnel = parsed->tunnel;
        r = parsed->result;
    } else {
        if (next != nullptr) __builtin_prefetch(next + 14);
        r = parse(p.data, p.length, p.frame_length, link, p.time_ns, fragments_,
                  config_.decapsulation, q.info, tunnel);
    }
    const bool repeated =
        r.metered() && dedup_ != nullptr && dedup_->repeated(q.fingerprint, p.time_ns);
    q.metered = r.metered() && !repeated;
    if (q.metered && sample_interval_ != 0 && !sampled()) {
        q.metered = false;
        ++counters_.sampled_out_packets;
        counters_.sampled_out_octets += p.frame_length;
        counters_.sampled_out_ip_octets += q.info.ip_length;
        return;
    }
    if (!q.metered) {
        const auto reason = static_cast<unsigned>(repeated ? IgnoreReason::duplicate : r.reason());
        ++counters_.ignored_packets[reason];
        counters_.ignored_octets[reason] += p.frame_length;
        if (r.metered() || carries_ip(r.reason()) || q.info.tunnel_depth != 0)
            counters_.ignored_ip_octets += p.frame_length - q.info.l3_offset;
        return;
    }
    if (r.fragment() == ParseResult::Fragment::matched) ++counters_.fragments_matched;
    if (r.fragment() == ParseResult::Fragment::unmatched) ++counters_.fragments_unmatched;
    std::uint64_t h = flow_hash(q.info.key, key_);
    if (q.info.key.head.tunneled) [[unlikely]]
        h ^= detail::mix(tunnel.identity ^ key_.k[2], key_.k[3]);
    q.tag = static_cast<std::uint16_t>(h >> 32);
    q.tag += q.tag == 0;
    const std::uint32_t b1 = range(static_cast<std::uint32_t>(h), buckets_);
    std::uint32_t b2 = range(static_cast<std::uint32_t>(h >> 32) * 0x9e3779b1u, buckets_);
    if (b2 == b1) b2 = b1 + 1 == buckets_ ? 0 : b1 + 1;
    q.bucket[0] = &table_[b1];
    q.bucket[1] = &table_[b2];
    __builtin_prefetch(q.bucket[0]);
    __builtin_prefetch(q.bucket[1]);
}

void FlowTable::sample(std::uint32_t interval, bool deterministic, std::uint64_t seed) {
    sample_interval_ = interval > 1 ? interval : 0;
    sample_deterministic_ = deterministic;
    sample_state_ = seed | 1;  // xorshift's state is never 0
    sample_skip_ = sample_rest_ = 0;
    if (sample_interval_ != 0) sampled();  // the first interval's place
}

// Each interval of sample_interval_ packets has one metered: at a place drawn anew for each
// (0 when deterministic). Called for a packet whose skip has run out: it is metered, and the
// skip is to the next interval's place.
bool FlowTable::sampled() {
    if (sample_skip_ != 0) {
        --sample_skip_;
        return false;
    }
    std::uint32_t place = 0;
    if (!sample_deterministic_) {
        sample_state_ ^= sample_state_ >> 12;
        sample_state_ ^= sample_state_ << 25;
        sample_state_ ^= sample_state_ >> 27;
        place = range(static_cast<std::uint32_t>((sample_state_ * 0x2545f4914f6cdd1dull) >> 32),
                      sample_interval_);
    }
    sample_skip_ = sample_rest_ + place;
    sample_rest_ = sample_interval_ - 1 - place;
    return true;
}

inline std::uint32_t FlowTable::candidates(const Pending& q) {
    return match(*q.bucket[0], q.tag) | match(*q.bucket[1], q.tag) << 16;
}

// Starts fetching the entries whose tags match: usually exactly one. With none, the flow is
// most likely new: fetch the slot it will take, and the flow it will evict.
inline void FlowTable::fetch_entries(Pending& q, std::uint64_t now) {
    if (!q.metered) return;
    q.candidates = candidates(q);
    const bool v6 = q.info.key.head.ip_version == 6;
    const bool tcp = health_ != nullptr && q.info.key.head.protocol == kTcp;
    if (q.candidates == 0) {
        const Slot s = new_flow_slot(q, now);
        prefetch_flow(*s.bucket, s.index, true, v6, tcp ? &health(s) : nullptr);
        if (q.info.tunnel_depth != 0) [[unlikely]]
            __builtin_prefetch(&tunnel(s));
        if (headers_ != nullptr) __builtin_prefetch(&headers(s));
    }
    for (std::uint32_t m = q.candidates; m != 0; m &= m - 1) {
        const auto bit = static_cast<unsigned>(__builtin_ctz(m));
        const Slot s{q.bucket[bit >> 4], (bit & 15) >> 1};
        prefetch_flow(*s.bucket, s.index, false, v6, tcp ? &health(s) : nullptr);
        if (q.info.key.head.tunneled) [[unlikely]]
            __builtin_prefetch(&tunnel(s));
    }
}

// Updates the packet's flow, or creates it, evicting the least recently seen of the 16
// candidates when both buckets are full. True when it created or ended a flow: from then on
// the burst's candidates found earlier may be stale (`stale`) and are matched again.
inline bool FlowTable::meter(Pending& q, const PacketRef& p, std::uint16_t port, bool stale,
                             RecordBuffer& out, LinkType link) {
    const std::uint64_t now = p.time_ns;
    if (stale) q.candidates = candidates(q);
    // A payload the flow's application or metadata may show in: looked at only while
    // identification or extraction runs.
    const bool scan = inspecting_ && q.info.payload_length != 0;
    for (std::uint32_t m = q.candidates; m != 0; m &= m - 1) {
        const auto bit = static_cast<unsigned>(__builtin_ctz(m));
        const Slot s{q.bucket[bit >> 4], (bit & 15) >> 1};
        if (!(s.hot().key == q.info.key.head)) continue;
        if (q.info.key.head.ip_version == 6 && !(s.tail() == q.info.key.tail)) continue;
        if (q.info.key.head.tunneled) [[unlikely]] {
            if (tunnel(s).identity != found(q).identity) continue;
        }
        // The header says whether a timeout may have passed; only then is it worked out.
        const bool maybe =
            static_cast<std::uint32_t>(now >> kSeenShift) - s.bucket->last_seen[s.index] >=
                idle_seen_ ||
            static_cast<std::int16_t>(static_cast<std::uint16_t>(now >> kDueShift) -
                                      s.bucket->due[s.index]) >= 0;
        const FlowEndReason reason = maybe ? expiry(s, now) : kNotExpired;
        if (reason == kNotExpired) [[likely]] {
            // The first packet of its direction in the record gives the direction's headers.
            const bool first =
                headers_ != nullptr && !(s.hot().state & (kCounted0 << q.info.direction));
            update(s, q.info, now);
            if (first) [[unlikely]]
                remember_headers(s, q, p, link);
            if (scan) [[unlikely]]
                inspect(s, q.info, p);
            return false;
        }
        if (reason == FlowEndReason::active_timeout) {
            export_and_go_on(s, out);
            update(s, q.info, now);
            if (headers_ != nullptr) remember_headers(s, q, p, link);
            refresh_due(s);
            if (scan) inspect(s, q.info, p);
            return false;
        }
        end(s, reason, out);
        create(s, q.info, q.tag, port, now);
        if (q.info.tunnel_depth != 0) [[unlikely]]
            remember_tunnel(s, q.info, found(q), p.data);
        if (headers_ != nullptr) remember_headers(s, q, p, link);
        if (scan) inspect(s, q.info, p);
        return true;
    }

    const Slot free = new_flow_slot(q, now);
    if (free.bucket->tag[free.index] != 0) {
        ++counters_.evictions;
        end(free, FlowEndReason::lack_of_resources, out);
    }
    create(free, q.info, q.tag, port, now);
    if (q.info.tunnel_depth != 0) [[unlikely]]
        remember_tunnel(free, q.info, found(q), p.data);
    if (headers_ != nullptr) remember_headers(free, q, p, link);
    if (scan) inspect(free, q.info, p);
    return true;
}

// Looks at the payload of one of the first packets of each direction until the flow's
// application is known and its metadata extracted, or the direction's budget is spent.
void FlowTable::inspect(Slot s, const PacketInfo& info, const PacketRef& p) {
    static_assert(config::Applications::kMaxPackets <= 15, "a direction's scans fit a nibble");
    // Only the hot part is read until a look is due: most packets stop here.
    FlowHot& h = s.hot();
    const unsigned initiator = (h.state & kInitiatorIsAddress1) ? 1 : 0;
    const bool from_client = info.direction == initiator;
    const unsigned shift = from_client ? 0 : 4;
    const unsigned scanned = (h.scanned >> shift) & 0xf;
    if (scanned >= identification_.packets) return;
    h.scanned = static_cast<std::uint8_t>(h.scanned + (1u << shift));
    // Only what the first segment holds: the rest of a scattered frame is not gathered.
    const std::uint32_t held = p.length > info.payload_offset ? p.length - info.payload_offset : 0;
    const std::uint32_t length = std::min(std::uint32_t{info.payload_length}, held);
    if (length == 0) return;
    const unsigned d = info.direction;
    Payload payload{p.data + info.payload_offset,
                    std::min(length, identification_.bytes),
                    h.key.protocol,
                    from_client,
                    (h.state & kSynSeen) != 0,
                    {h.key.port[d], h.key.port[1 - d]},
                    info.wire_payload_length,
                    info.tcp_seq};
    FlowCold& c = s.cold();
    if (identification_.classify != nullptr && c.application_id == 0) {
        ++counters_.application_scans;
        if (const std::uint32_t id = identification_.classify(identification_.context, payload)) {
            c.application_id = id;
            ++counters_.flows_identified;
        }
    }
    if (metadata_.inspect != nullptr && !c.metadata_done) {
        payload.length = length;
        c.metadata_done = metadata_.inspect(metadata_.context, c.metadata, payload, counters_);
    }
    const bool identified = identification_.classify == nullptr || c.application_id != 0;
    if (identified && (metadata_.inspect == nullptr || c.metadata_done))
        h.scanned = 0xff;  // nothing more to look for
}

// Where a new flow goes: a free slot in the emptier of its two buckets, which keeps both from
// filling until the whole table is nearly full; or, both full, the least recently seen slot.
inline FlowTable::Slot FlowTable::new_flow_slot(const Pending& q, std::uint64_t now) {
    const unsigned empty0 = match(*q.bucket[0], 0);
    const unsigned empty1 = match(*q.bucket[1], 0);
    if (empty0 != 0 || empty1 != 0) {
        const bool second = __builtin_popcount(empty1) > __builtin_popcount(empty0);
        return {q.bucket[second], first_slot(second ? empty1 : empty0)};
    }
    const auto seen = static_cast<std::uint32_t>(now >> kSeenShift);
    std::uint32_t oldest_age = 0;
    Slot oldest{q.bucket[0], 0};
    for (Bucket* b : q.bucket)
        for (unsigned slot = 0; slot < Bucket::kSlots; ++slot)
            if (const std::uint32_t age = seen - b->last_seen[slot]; age >= oldest_age) {
                oldest_age = age;
                oldest = {b, slot};
            }
    return oldest;
}

void FlowTable::sweep_bucket(Bucket& b, std::uint64_t now, RecordBuffer& out) {
    const auto seen = static_cast<std::uint32_t>(now >> kSeenShift);
    const auto due = static_cast<std::uint16_t>(now >> kDueShift);
    const auto idle = static_cast<std::uint32_t>(config_.idle_timeout_ns >> kSeenShift);
    for (unsigned slot = 0; slot < Bucket::kSlots; ++slot) {
        if (b.tag[slot] == 0) continue;
        // The header decides whether the entry needs a look; it never misses a due flow.
        const bool idle_due = seen - b.last_seen[slot] >= idle;
        const bool deadline_due = static_cast<std::int16_t>(due - b.due[slot]) >= 0;
        if (!idle_due && !deadline_due) continue;
        const Slot s{&b, slot};
        const FlowEndReason reason = expiry(s, now);
        if (reason == kNotExpired) {
            refresh_due(s);
        } else if (reason == FlowEndReason::active_timeout) {
            export_and_go_on(s, out);
            refresh_due(s);
        } else {
            end(s, reason, out);
        }
    }
}

void FlowTable::expire(std::uint64_t now, RecordBuffer& out) {
    if (sweep_last_ns_ == 0 || now < sweep_last_ns_) {
        sweep_last_ns_ = now;
        return;
    }
    // Credit for bucket visits accrues with time, in 1/65536 of a bucket; at most one whole
    // table is owed, however long the pause. Fixed point: no division per call.
    const std::uint64_t elapsed = std::min(now - sweep_last_ns_, sweep_period_ns_);
    sweep_last_ns_ = now;
    const auto earned = static_cast<std::uint64_t>((uint128{elapsed} * sweep_rate_) >> 32);
    sweep_credit_ = std::min(sweep_credit_ + earned, std::uint64_t{buckets_} * 65536u);
    for (unsigned visits = 0; visits < kMaxSweepBuckets && sweep_credit_ >= 65536u &&
                              out.room() >= Bucket::kSlots * RecordBuffer::kMaxUnit;
         ++visits) {
        Bucket& b = table_[sweep_cursor_];
        sweep_cursor_ = sweep_cursor_ + 1 == buckets_ ? 0 : sweep_cursor_ + 1;
        __builtin_prefetch(&table_[sweep_cursor_]);
        sweep_bucket(b, now, out);
        sweep_credit_ -= 65536u;
    }
}

bool FlowTable::flush(std::uint64_t now, RecordBuffer& out) {
    for (; flush_cursor_ < buckets_; ++flush_cursor_) {
        Bucket& b = table_[flush_cursor_];
        for (unsigned slot = 0; slot < Bucket::kSlots; ++slot) {
            if (b.tag[slot] == 0) continue;
            if (out.room() < RecordBuffer::kMaxUnit) return false;
            // A flow whose timeout already fell, which the sweep had not reached, ends as such.
            const FlowEndReason reason = expiry({&b, slot}, now);
            end({&b, slot}, reason == kNotExpired ? FlowEndReason::forced_end : reason, out);
        }
    }
    flush_cursor_ = 0;
    return true;
}

namespace {

bool smaller(const FlowRecord& a, const FlowRecord& b) {
    return a.octets + a.reverse_octets > b.octets + b.reverse_octets;  // a min-heap's order
}

}  // namespace

bool FlowTable::scan_largest(std::uint32_t buckets, LargestFlows& top) {
    const std::uint32_t end = std::min(buckets_, scan_cursor_ + buckets);
    for (; scan_cursor_ < end; ++scan_cursor_) {
        const Bucket& b = table_[scan_cursor_];
        for (unsigned slot = 0; slot < Bucket::kSlots; ++slot) {
            if (b.tag[slot] == 0) continue;
            const FlowHot& h = b.hot[slot];
            const std::uint64_t octets = h.octets[0] + h.octets[1];
            FlowRecord* heap = top.flows;
            if (top.count == LargestFlows::kFlows) {
                if (octets <= heap[0].octets + heap[0].reverse_octets) continue;
                std::pop_heap(heap, heap + top.count--, smaller);
            }
            to_record(b, slot, FlowEndReason{}, heap[top.count++]);
            std::push_heap(heap, heap + top.count, smaller);
        }
    }
    if (scan_cursor_ < buckets_) return false;
    scan_cursor_ = 0;
    return true;
}

void LargestFlows::sort() {
    std::sort(flows, flows + count, smaller);
}

template void FlowTable::process_burst<false>(const PacketRef*, const Parsed*, unsigned,
                                              std::uint16_t, RecordBuffer&, LinkType);
template void FlowTable::process_burst<true>(const PacketRef*, const Parsed*, unsigned,
                                             std::uint16_t, RecordBuffer&, LinkType);

}  // namespace sluice::meter
