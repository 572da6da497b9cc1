// The metering counters both processes know: why packets were ignored, what happened to flows.
// Each list is defined once here and gives both the enum and the names operators see.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "sluice/record.hpp"

namespace sluice {

// Why a packet was not metered. Every packet is metered or counted under exactly one reason.
// The reasons up to non_ip are found before an IP header (the packet carries none, or none was
// reached); from truncated_l3 on, the packet had an IP header where its link layer put one.
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
    X(too_many_ipv6_extensions, "more than eight IPv6 extension headers")

enum class IgnoreReason : std::uint8_t {
#define SLUICE_X(name, help) name,
    SLUICE_IGNORE_REASONS(SLUICE_X)
#undef SLUICE_X
};

inline constexpr std::size_t kIgnoreReasons = 0
#define SLUICE_X(name, help) +1
    SLUICE_IGNORE_REASONS(SLUICE_X)
#undef SLUICE_X
    ;

// Whether a packet ignored for `r` had an IP header: its octets from there on are IP octets
// the metering did not process (ignoredOctetTotalCount).
constexpr bool carries_ip(IgnoreReason r) {
    return static_cast<std::uint8_t>(r) > static_cast<std::uint8_t>(IgnoreReason::non_ip);
}

struct CounterName {
    std::string_view name;
    std::string_view help;
};

inline constexpr std::array<CounterName, kIgnoreReasons> kIgnoreReasonNames{{
#define SLUICE_X(name, help) {#name, help},
    SLUICE_IGNORE_REASONS(SLUICE_X)
#undef SLUICE_X
}};

inline constexpr std::size_t kEndReasons = 6;  // indexed by FlowEndReason, 0 unused

// flowEndReason's names (IANA), indexed by FlowEndReason.
inline constexpr std::array<std::string_view, kEndReasons> kEndReasonNames{
    "", "idle_timeout", "active_timeout", "end_of_flow", "forced_end", "lack_of_resources"};

// One worker's metering counters; only that worker writes them. Plain 64-bit fields: the
// worker publishes a copy into the stats memzone (stats.hpp), which the control reads.
struct MeterCounters {
    std::uint64_t packets = 0;  // every packet handed to the metering core
    std::uint64_t octets = 0;   // their frame lengths
    std::uint64_t metered_packets = 0;
    std::uint64_t metered_octets = 0;  // IP total lengths, as records count them
    std::array<std::uint64_t, kIgnoreReasons> ignored_packets{};
    std::array<std::uint64_t, kIgnoreReasons> ignored_octets{};  // frame lengths
    // Of the ignored packets that had an IP header, the octets from that header to the end of
    // the frame on the wire.
    std::uint64_t ignored_ip_octets = 0;
    std::uint64_t flows_created = 0;                       // new entries in the table
    std::uint64_t flows_active = 0;                        // entries in the table now
    std::array<std::uint64_t, kEndReasons> flows_ended{};  // records, by FlowEndReason
    std::uint64_t evictions = 0;            // flows ended for lack of room (also in flows_ended[5])
    std::uint64_t fragments_matched = 0;    // non-first fragments given their first's ports
    std::uint64_t fragments_unmatched = 0;  // non-first fragments metered with ports 0
    std::uint64_t application_scans = 0;    // payloads scanned for the flow's application
    std::uint64_t flows_identified = 0;     // flows whose application a scan found

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

    // Sums workers' counters.
    MeterCounters& operator+=(const MeterCounters& m) {
        packets += m.packets;
        octets += m.octets;
        metered_packets += m.metered_packets;
        metered_octets += m.metered_octets;
        for (std::size_t r = 0; r < kIgnoreReasons; ++r) {
            ignored_packets[r] += m.ignored_packets[r];
            ignored_octets[r] += m.ignored_octets[r];
        }
        ignored_ip_octets += m.ignored_ip_octets;
        flows_created += m.flows_created;
        flows_active += m.flows_active;
        for (std::size_t r = 0; r < kEndReasons; ++r) flows_ended[r] += m.flows_ended[r];
        evictions += m.evictions;
        fragments_matched += m.fragments_matched;
        fragments_unmatched += m.fragments_unmatched;
        application_scans += m.application_scans;
        flows_identified += m.flows_identified;
        return *this;
    }
};

}  // namespace sluice
