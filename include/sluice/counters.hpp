// Every counter Sluice keeps, defined once: the ignore and end reasons, and the meter, output,
// port and collector counters. Each table gives the struct's fields and, through `catalog`, the
// name, help, Prometheus family and text line that every output (JSON, Prometheus, sluicectl's
// text, DPDK telemetry) is generated from.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sluice/record.hpp"

namespace sluice {

// Why a packet was not metered. Every packet is metered or counted under exactly one reason.
// The reasons up to non_ip are found before an IP header (the packet carries none, or none was
// reached; a packet taken out of a tunnel had the tunnel's); from truncated_l3 on, the packet
// had an IP header where its link layer put one.
#define SLUICE_IGNORE_REASONS(X)                                                                \
    X(truncated_l2, "the frame ends inside its link-layer, VLAN or MPLS headers")               \
    X(unsupported_link_type, "a capture's link type that Sluice does not meter (802.11, ...)")  \
    X(too_many_vlan_tags, "more than two VLAN tags")                                            \
    X(too_many_mpls_labels, "more than eight MPLS labels")                                      \
    X(non_ip,                                                                                   \
      "not IPv4 or IPv6: another EtherType (ARP, LLDP, ...), link protocol or MPLS payload")    \
    X(truncated_l3, "the frame ends inside its IP header or IPv6 extension headers")            \
    X(truncated_l4, "the frame ends inside its TCP, UDP, SCTP or ICMP header")                  \
    X(bad_ip_version, "the IP version field does not match the EtherType or link type")         \
    X(bad_header_length, "the IPv4 header length is below 20 bytes or beyond the total length") \
    X(bad_total_length, "the IP total length is beyond the frame")                              \
    X(bad_l4_header, "the TCP data offset is below 20 bytes")                                   \
    X(too_many_ipv6_extensions, "more than eight IPv6 extension headers")                       \
    X(truncated_tunnel, "the frame ends inside a GRE, ERSPAN, VXLAN, Geneve or GTP-U header")   \
    X(tunnel_too_deep, "inside more tunnels than [flow] tunnel_depth")                          \
    X(duplicate, "the same bytes as a frame the port delivered within [[port]] deduplicate")

enum class IgnoreReason : std::uint8_t {
#define SLUICE_X(name, help) name,
    SLUICE_IGNORE_REASONS(SLUICE_X)
#undef SLUICE_X
};

// Whether a packet ignored for `r` had an IP header: its octets from there on are IP octets
// the metering did not process (ignoredOctetTotalCount).
constexpr bool carries_ip(IgnoreReason r) {
    return static_cast<std::uint8_t>(r) > static_cast<std::uint8_t>(IgnoreReason::non_ip);
}

struct CounterName {
    std::string_view name;
    std::string_view help;
};

inline constexpr std::array kIgnoreReasonNames{
#define SLUICE_X(name, help) CounterName{#name, help},
    SLUICE_IGNORE_REASONS(SLUICE_X)
#undef SLUICE_X
};
inline constexpr std::size_t kIgnoreReasons = kIgnoreReasonNames.size();

// flowEndReason's values run from 1; 0 is no reason.
inline constexpr std::size_t kEndReasons = 1
#define SLUICE_X(name, value, help) +1
    SLUICE_END_REASONS(SLUICE_X)
#undef SLUICE_X
    ;

// flowEndReason's names (IANA), indexed by FlowEndReason.
inline constexpr auto kEndReasonNames = [] {
    std::array<CounterName, kEndReasons> names{};
#define SLUICE_X(name, value, help)                                    \
    static_assert(value < kEndReasons, "end reasons run from 1 to N"); \
    names[value] = {#name, help};
    SLUICE_END_REASONS(SLUICE_X)
#undef SLUICE_X
    return names;
}();

// The protocols whose messages the workers read for metadata.
inline constexpr std::array kMetadataProtocolNames{
    CounterName{"tls", "TLS ClientHello and ServerHello"},
    CounterName{"quic", "QUIC v1 Initial packets"},
    CounterName{"http", "HTTP/1.x requests and responses"},
    CounterName{"dns", "DNS messages"},
};

// What a counter's value is, for the outputs that convert it.
enum class CounterKind : std::uint8_t {
    counter,  // only grows; summed over workers
    gauge,    // a level now; summed over workers
    flag,     // 0 or 1 (JSON: false or true)
    time_ns,  // a wall-clock time; the newest over workers (Prometheus: seconds)
    mbps,     // a speed in Mbit/s (Prometheus: bytes per second)
};

struct CounterInfo {
    std::string_view name;  // the member; the key in JSON and DPDK telemetry
    CounterKind kind;
    std::string_view metric;  // the Prometheus family
    std::string_view text;    // the line in `sluicectl stats`
    std::string_view help;
};

// One 64-bit counter of struct S.
template <typename S>
struct Counter {
    CounterInfo info;
    std::uint64_t S::*member;
};

// A counter by reason: one value per name in `reasons`, from index `first` on. Prometheus has
// one family with the reason as a label; telemetry has one key each, `flat` + the reason.
template <typename S, std::size_t N>
struct ReasonCounter {
    CounterInfo info;
    std::array<std::uint64_t, N> S::*member;
    const std::array<CounterName, N>* reasons;
    std::size_t first;
    std::string_view flat;
};

// The two kinds of entry a counter table has: COUNTER(member, kind, metric, text, help) and
// REASONS(member, reasons, first, flat, metric, text, help). A struct's body is generated from
// its table by SLUICE_COUNTER_STRUCT: the fields, `catalog` (each entry to a visitor, in the
// table's order), and `operator+=`.
#define SLUICE_COUNTER_FIELD(member, kind, metric, text, help) std::uint64_t member = 0;
#define SLUICE_REASONS_FIELD(member, reasons, first, flat, metric, text, help) \
    std::array<std::uint64_t, (reasons).size()> member{};
#define SLUICE_COUNTER_ENTRY(member, kind, metric, text, help)                                \
    visit(::sluice::Counter<Self>{{#member, ::sluice::CounterKind::kind, metric, text, help}, \
                                  &Self::member});
#define SLUICE_REASONS_ENTRY(member, reasons, first, flat, metric, text, help) \
    visit(::sluice::ReasonCounter<Self, (reasons).size()>{                     \
        {#member, ::sluice::CounterKind::counter, metric, text, help},         \
        &Self::member,                                                         \
        &(reasons),                                                            \
        first,                                                                 \
        flat});
#define SLUICE_COUNTER_STRUCT(Name, TABLE)                \
    TABLE(SLUICE_COUNTER_FIELD, SLUICE_REASONS_FIELD)     \
    template <typename Visit>                             \
    static constexpr void catalog(Visit&& visit) {        \
        using Self = Name;                                \
        TABLE(SLUICE_COUNTER_ENTRY, SLUICE_REASONS_ENTRY) \
    }                                                     \
    Name& operator+=(const Name& other) {                 \
        ::sluice::add_counters(*this, other);             \
        return *this;                                     \
    }

template <typename T>
inline constexpr bool kIsReasonCounter = false;
template <typename S, std::size_t N>
inline constexpr bool kIsReasonCounter<ReasonCounter<S, N>> = true;

// Sums b into a: counters and gauges add up, times take the newest.
template <typename S>
void add_counters(S& a, const S& b) {
    S::catalog([&](const auto& c) {
        if constexpr (kIsReasonCounter<std::decay_t<decltype(c)>>) {
            for (std::size_t r = 0; r < (a.*c.member).size(); ++r)
                (a.*c.member)[r] += (b.*c.member)[r];
        } else if (c.info.kind == CounterKind::time_ns) {
            if (b.*c.member > a.*c.member) a.*c.member = b.*c.member;
        } else {
            a.*c.member += b.*c.member;
        }
    });
}

// Every value of `s` as one flat name (prefix + member, or prefix + flat + reason) and value.
template <typename S, typename Emit>
void flatten(const S& s, std::string_view prefix, Emit&& emit) {
    S::catalog([&](const auto& c) {
        if constexpr (kIsReasonCounter<std::decay_t<decltype(c)>>) {
            for (std::size_t r = c.first; r < c.reasons->size(); ++r)
                emit(c.info, prefix, c.flat, (*c.reasons)[r].name, (s.*c.member)[r]);
        } else {
            emit(c.info, prefix, c.info.name, std::string_view{}, s.*c.member);
        }
    });
}

// One worker's metering counters; only that worker writes them. The worker publishes a copy
// into the stats memzone (shm.hpp), which the control reads.
#define SLUICE_METER_COUNTERS(COUNTER, REASONS)                                                    \
    COUNTER(packets, counter, "sluice_worker_packets_total", "packets received",                   \
            "Packets the worker took from its queue.")                                             \
    COUNTER(octets, counter, "sluice_worker_received_bytes_total", "frame octets received",        \
            "Frame bytes of the packets the worker took.")                                         \
    COUNTER(metered_packets, counter, "sluice_worker_metered_packets_total", "packets metered",    \
            "Packets metered into flows.")                                                         \
    COUNTER(metered_octets, counter, "sluice_worker_metered_bytes_total", "IP octets metered",     \
            "IP bytes metered into flows, as records count them.")                                 \
    REASONS(ignored_packets, kIgnoreReasonNames, 0, "ignored_",                                    \
            "sluice_worker_ignored_packets_total", "packets ignored",                              \
            "Packets not metered, by reason (see docs/metering.md).")                              \
    REASONS(ignored_octets, kIgnoreReasonNames, 0, "octets_ignored_",                              \
            "sluice_worker_ignored_bytes_total", "frame octets ignored",                           \
            "Frame bytes of the packets not metered, by reason.")                                  \
    COUNTER(ignored_ip_octets, counter, "sluice_worker_ignored_ip_bytes_total",                    \
            "IP octets ignored",                                                                   \
            "Of the packets not metered that had an IP header, the bytes from that header on.")    \
    COUNTER(sampled_out_packets, counter, "sluice_worker_sampled_out_packets_total",               \
            "packets sampled out",                                                                 \
            "Packets the worker would have metered, left out by [[port]] sampling.")               \
    COUNTER(sampled_out_octets, counter, "sluice_worker_sampled_out_bytes_total",                  \
            "frame octets sampled out", "Frame bytes of the packets sampled out.")                 \
    COUNTER(sampled_out_ip_octets, counter, "sluice_worker_sampled_out_ip_bytes_total",            \
            "IP octets sampled out",                                                               \
            "IP bytes of the packets sampled out, as records would have counted them.")            \
    COUNTER(flows_created, counter, "sluice_worker_flows_created_total", "flows created",          \
            "Flows the worker's table created.")                                                   \
    COUNTER(flows_active, gauge, "sluice_worker_flows_active", "flows active",                     \
            "Flows in the worker's table now.")                                                    \
    REASONS(flows_ended, kEndReasonNames, 1, "flows_ended_", "sluice_worker_flows_ended_total",    \
            "flow records made", "Flow records made, by flowEndReason.")                           \
    COUNTER(evictions, counter, "sluice_worker_evictions_total", "evictions",                      \
            "Flows ended early for lack of room in the table (lackOfResources).")                  \
    COUNTER(fragments_matched, counter, "sluice_worker_fragments_matched_total",                   \
            "fragments matched", "Non-first fragments given the ports of their first fragment.")   \
    COUNTER(fragments_unmatched, counter, "sluice_worker_fragments_unmatched_total",               \
            "fragments unmatched", "Non-first fragments metered with ports 0.")                    \
    COUNTER(application_scans, counter, "sluice_worker_application_scans_total",                   \
            "application scans", "Payloads scanned for the flow's application.")                   \
    COUNTER(flows_identified, counter, "sluice_worker_flows_identified_total", "flows identified", \
            "Flows whose application a scan found.")                                               \
    COUNTER(metadata_flows, counter, "sluice_worker_metadata_flows_total", "flows with metadata",  \
            "Flows whose first payloads began a TLS, QUIC, HTTP or DNS message.")                  \
    COUNTER(metadata_slots_used, gauge, "sluice_worker_metadata_slots", "metadata slots used",     \
            "Flows whose metadata the worker keeps now ([metadata] flows at most).")               \
    COUNTER(metadata_slots_full, counter, "sluice_worker_metadata_slots_full_total",               \
            "flows without room for metadata",                                                     \
            "Flows whose metadata found no free slot ([metadata] flows): exported without it.")    \
    COUNTER(metadata_reassembly_full, counter, "sluice_worker_metadata_reassembly_full_total",     \
            "messages without room to reassemble",                                                 \
            "Messages split over segments that found no free reassembly buffer.")                  \
    COUNTER(metadata_out_of_order, counter, "sluice_worker_metadata_out_of_order_total",           \
            "messages cut by a missing segment",                                                   \
            "Messages given up because a segment was missing or came out of order.")               \
    COUNTER(metadata_beyond_budget, counter, "sluice_worker_metadata_beyond_budget_total",         \
            "messages beyond the budget",                                                          \
            "Messages longer than [metadata] bytes, or not whole within the packets inspected.")   \
    COUNTER(metadata_fields_cut, counter, "sluice_worker_metadata_fields_cut_total",               \
            "metadata fields cut", "Strings cut to [metadata] max_length.")                        \
    COUNTER(                                                                                       \
        metadata_quic_other_versions, counter, "sluice_worker_metadata_quic_other_versions_total", \
        "QUIC flows of other versions",                                                            \
        "QUIC flows of a version other than 1: their version exported, their Initials unread.")    \
    REASONS(metadata_malformed, kMetadataProtocolNames, 0, "metadata_malformed_",                  \
            "sluice_worker_metadata_malformed_total", "malformed messages",                        \
            "Messages that began as their protocol's but did not read, by protocol.")

struct MeterCounters {
    SLUICE_COUNTER_STRUCT(MeterCounters, SLUICE_METER_COUNTERS)

    std::uint64_t ignored_total() const {
        std::uint64_t sum = 0;
        for (auto n : ignored_packets) sum += n;
        return sum;
    }
    std::uint64_t ignored_octets_total() const {  // frame lengths
        std::uint64_t sum = 0;
        for (auto n : ignored_octets) sum += n;
        return sum;
    }
};

// What a worker did with its records, and how busy it was.
#define SLUICE_OUTPUT_COUNTERS(COUNTER, REASONS)                                                 \
    COUNTER(records_sent, counter, "sluice_worker_records_sent_total", "records into the rings", \
            "Records the worker put into its ring for sluice-control.")                          \
    COUNTER(records_not_sent, counter, "sluice_worker_records_not_sent_total",                   \
            "records not sent (rings full)", "Records dropped because the ring was full.")       \
    COUNTER(packets_not_sent, counter, "sluice_worker_packets_not_sent_total",                   \
            "packets not sent (rings full)",                                                     \
            "Packets in the records dropped because the ring was full.")                         \
    COUNTER(octets_not_sent, counter, "sluice_worker_bytes_not_sent_total",                      \
            "IP octets not sent (rings full)",                                                   \
            "IP bytes in the records dropped because the ring was full.")                        \
    COUNTER(ring_used, gauge, "sluice_worker_ring_records", "records waiting in the rings",      \
            "Records waiting in the worker's ring.")                                             \
    COUNTER(ring_capacity, gauge, "sluice_worker_ring_capacity_records", "ring capacity",        \
            "The size of the worker's ring.")                                                    \
    COUNTER(bursts, counter, "sluice_worker_bursts_total", "bursts",                             \
            "Polls of the worker that returned packets.")                                        \
    COUNTER(last_time_ns, time_ns, "sluice_worker_last_packet_time_seconds", "newest time (ns)", \
            "The newest packet or clock time the worker has seen, seconds since the Unix epoch.")

struct OutputCounters {
    SLUICE_COUNTER_STRUCT(OutputCounters, SLUICE_OUTPUT_COUNTERS)
};

// A port's device counters (rte_eth_stats), refreshed by the dataplane's main lcore once a second.
#define SLUICE_PORT_COUNTERS(COUNTER, REASONS)                                                 \
    COUNTER(ipackets, counter, "sluice_port_received_packets_total", "packets received",       \
            "Packets the port received (rte_eth_stats ipackets).")                             \
    COUNTER(ibytes, counter, "sluice_port_received_bytes_total", "bytes received",             \
            "Bytes the port received (rte_eth_stats ibytes).")                                 \
    COUNTER(imissed, counter, "sluice_port_missed_packets_total", "packets missed",            \
            "Packets the NIC dropped for want of a free descriptor: the workers fell behind.") \
    COUNTER(ierrors, counter, "sluice_port_errors_total", "erroneous frames",                  \
            "Erroneous frames the port received.")                                             \
    COUNTER(rx_nombuf, counter, "sluice_port_no_mbuf_total", "receives without a buffer",      \
            "Receive attempts that found no packet buffer.")                                   \
    COUNTER(link_up, flag, "sluice_port_link_up", "link up", "1 when the port's link is up.")  \
    COUNTER(link_speed_mbps, mbps, "sluice_port_link_speed_bytes_per_second",                  \
            "link speed (Mbit/s)", "The link's speed.")

struct PortCounters {
    SLUICE_COUNTER_STRUCT(PortCounters, SLUICE_PORT_COUNTERS)
};

// One collector's counters, kept by sluice-control.
#define SLUICE_SESSION_COUNTERS(COUNTER, REASONS)                                                  \
    COUNTER(records_sent, counter, "sluice_collector_records_sent_total", "records sent",          \
            "Flow records sent to the collector.")                                                 \
    COUNTER(packets_sent, counter, "sluice_collector_packets_sent_total", "packets sent",          \
            "Packets in the flow records sent to the collector.")                                  \
    COUNTER(octets_sent, counter, "sluice_collector_record_bytes_sent_total", "IP octets sent",    \
            "IP bytes in the flow records sent to the collector.")                                 \
    COUNTER(records_not_sent, counter, "sluice_collector_records_not_sent_total",                  \
            "records not sent",                                                                    \
            "Flow records lost for this collector: buffer full, send failed, connection lost.")    \
    COUNTER(packets_not_sent, counter, "sluice_collector_packets_not_sent_total",                  \
            "packets not sent", "Packets in the flow records lost for this collector.")            \
    COUNTER(octets_not_sent, counter, "sluice_collector_record_bytes_not_sent_total",              \
            "IP octets not sent", "IP bytes in the flow records lost for this collector.")         \
    COUNTER(ipv6_records_not_sent, counter, "sluice_collector_ipv6_records_not_sent_total",        \
            "IPv6 records not sent (NetFlow v5)",                                                  \
            "IPv6 flow records a NetFlow v5 collector cannot take; also in records not sent.")     \
    COUNTER(ipv6_packets_not_sent, counter, "sluice_collector_ipv6_packets_not_sent_total",        \
            "IPv6 packets not sent (NetFlow v5)",                                                  \
            "Packets in the IPv6 flow records a NetFlow v5 collector cannot take.")                \
    COUNTER(ipv6_octets_not_sent, counter, "sluice_collector_ipv6_record_bytes_not_sent_total",    \
            "IPv6 octets not sent (NetFlow v5)",                                                   \
            "IP bytes in the IPv6 flow records a NetFlow v5 collector cannot take.")               \
    COUNTER(messages_sent, counter, "sluice_collector_messages_sent_total", "messages sent",       \
            "IPFIX messages or NetFlow export packets sent.")                                      \
    COUNTER(bytes_sent, counter, "sluice_collector_sent_bytes_total", "bytes sent",                \
            "IPFIX or NetFlow bytes sent.")                                                        \
    COUNTER(template_messages_sent, counter, "sluice_collector_template_messages_sent_total",      \
            "template messages sent", "Messages carrying the templates.")                          \
    COUNTER(statistics_records_sent, counter, "sluice_collector_statistics_records_sent_total",    \
            "statistics records sent", "Reliability statistics options records sent.")             \
    COUNTER(sessions_opened, counter, "sluice_collector_sessions_opened_total", "sessions opened", \
            "Transport sessions opened: connections, files.")                                      \
    COUNTER(send_failures, counter, "sluice_collector_send_failures_total", "send failures",       \
            "Messages that failed.")                                                               \
    COUNTER(open_failures, counter, "sluice_collector_open_failures_total", "open failures",       \
            "Names not resolved, connections refused, files not created.")                         \
    COUNTER(handshake_failures, counter, "sluice_collector_tls_handshake_failures_total",          \
            "TLS handshakes failed",                                                               \
            "TLS handshakes that failed: a certificate not trusted, a protocol error, a timeout.") \
    COUNTER(records_resent, counter, "sluice_collector_records_resent_total", "records resent",    \
            "Records sent again after their connection was lost before the collector "             \
            "acknowledged them; the collector may hold some twice.")                               \
    COUNTER(records_handed_over, counter, "sluice_collector_records_handed_over_total",            \
            "records handed over",                                                                 \
            "Records passed to another member of a failover group, unsent.")                       \
    COUNTER(records_buffered, gauge, "sluice_collector_buffered_records", "records buffered",      \
            "Records waiting in the collector's buffer, and those sent but not yet acknowledged.") \
    COUNTER(spool_records, gauge, "sluice_collector_spool_records", "records spooled",             \
            "Records waiting in the collector's spool on disk.")                                   \
    COUNTER(spool_packets, gauge, "sluice_collector_spool_packets", "packets spooled",             \
            "Packets in the records waiting in the spool.")                                        \
    COUNTER(spool_octets, gauge, "sluice_collector_spool_record_bytes", "IP octets spooled",       \
            "IP bytes in the records waiting in the spool.")                                       \
    COUNTER(spool_bytes, gauge, "sluice_collector_spool_bytes", "spool bytes",                     \
            "Bytes of the spool's files on disk.")                                                 \
    COUNTER(spool_oldest_ns, time_ns, "sluice_collector_spool_oldest_record_seconds",              \
            "oldest spooled flow start", "flowStart of the oldest record read from the spool.")    \
    COUNTER(spool_replayed, counter, "sluice_collector_spool_records_replayed_total",              \
            "records replayed from the spool", "Records read back from the spool to be sent.")     \
    COUNTER(spool_damaged, counter, "sluice_collector_spool_records_damaged_total",                \
            "spooled records damaged",                                                             \
            "Records lost to damage in the spool's files (also in records not sent).")             \
    COUNTER(spool_write_failures, counter, "sluice_collector_spool_write_failures_total",          \
            "spool write failures", "Writes to the spool the disk refused: full, read-only.")      \
    COUNTER(spool_start_records, gauge, "sluice_collector_spool_earlier_records",                  \
            "records spooled by an earlier run",                                                   \
            "Records the spool held when the control started.")                                    \
    COUNTER(spool_start_packets, gauge, "sluice_collector_spool_earlier_packets",                  \
            "packets spooled by an earlier run", "Packets in those records.")                      \
    COUNTER(spool_start_octets, gauge, "sluice_collector_spool_earlier_record_bytes",              \
            "IP octets spooled by an earlier run", "IP bytes in those records.")

struct SessionCounters {
    SLUICE_COUNTER_STRUCT(SessionCounters, SLUICE_SESSION_COUNTERS)
};

// What sluice-control took from the workers' rings since it started.
#define SLUICE_TAKEN_COUNTERS(COUNTER, REASONS)                                               \
    COUNTER(records, counter, "sluice_control_records_taken_total",                           \
            "records taken by sluice-control",                                                \
            "Records sluice-control took from the rings since it started.")                   \
    COUNTER(packets, counter, "sluice_control_packets_taken_total",                           \
            "packets taken by sluice-control", "Packets in the records sluice-control took.") \
    COUNTER(octets, counter, "sluice_control_record_bytes_taken_total",                       \
            "IP octets taken by sluice-control", "IP bytes in the records sluice-control took.")

struct TakenCounters {
    SLUICE_COUNTER_STRUCT(TakenCounters, SLUICE_TAKEN_COUNTERS)
};

}  // namespace sluice
