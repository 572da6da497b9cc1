// The flow record the dataplane hands to the control: fixed size, versioned, copied by value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace sluice {

// Bumped whenever FlowRecord changes; sluice-control refuses a dataplane of another version.
inline constexpr std::uint32_t kRecordLayoutVersion = 4;

// flowEndReason, IANA IPFIX Information Element 136 (RFC 7011/5102): value, name, meaning.
#define SLUICE_END_REASONS(X)                                                           \
    X(idle_timeout, 1, "no packet for idle_timeout")                                    \
    X(active_timeout, 2, "active for active_timeout: the flow goes on in a new record") \
    X(end_of_flow, 3, "TCP FIN in both directions, or RST")                             \
    X(forced_end, 4, "a flush, the sensor's stop or the end of a trace")                \
    X(lack_of_resources, 5, "evicted for room in the flow table")

enum class FlowEndReason : std::uint8_t {
#define SLUICE_X(name, value, help) name = value,
    SLUICE_END_REASONS(SLUICE_X)
#undef SLUICE_X
};

// One biflow (RFC 5103): "source" is the initiator, the side whose packet created the flow
// (for TCP the sender of the SYN, when the SYN was seen); "reverse" fields count the
// responder's packets. Addresses are in network byte order, IPv4 in the first 4 bytes.
//
// A record whose flow has application-layer metadata (a TLS server name, an HTTP host, ...) is
// followed by `extensions` RecordExtension slots of the same size that carry it: a record and
// its extensions are one unit wherever records go (rings, buffers, spools), and only records
// are counted as records.
struct alignas(64) FlowRecord {
    std::uint8_t ip_version;  // 4 or 6; 0 marks a RecordExtension slot
    std::uint8_t protocol;
    std::uint8_t mark;          // sluice-control's own use; 0 from the dataplane, never exported
    std::uint8_t extensions;    // RecordExtension slots that follow, kMaxExtensions at most
    std::uint16_t vlan_id;      // 0: untagged
    std::uint16_t source_port;  // ICMP: 0
    std::uint16_t destination_port;  // ICMP: type * 256 + code
    std::uint16_t ingress_port;
    std::uint32_t application_id;  // 0: unknown

    std::uint8_t source_address[16];
    std::uint8_t destination_address[16];

    std::uint64_t packets;
    std::uint64_t octets;  // IP total length, as octetDeltaCount counts
    std::uint64_t reverse_packets;
    std::uint64_t reverse_octets;
    std::uint64_t first_ns;  // wall clock (or trace) time, ns since the Unix epoch
    std::uint64_t last_ns;
    std::uint64_t reverse_first_ns;  // 0 when the responder sent nothing
    std::uint64_t reverse_last_ns;

    std::uint8_t tcp_flags;  // union of the flags seen, tcpControlBits' low byte
    std::uint8_t reverse_tcp_flags;
    std::uint8_t minimum_ttl;
    std::uint8_t maximum_ttl;
    std::uint8_t reverse_minimum_ttl;
    std::uint8_t reverse_maximum_ttl;
    FlowEndReason end_reason;
    // RFC 5103 biflowDirection: 1 (initiator) when the source is the flow's initiator as far as
    // the sensor saw; 0 (arbitrary) for a TCP flow whose SYN it never saw. The same in every
    // record of a flow (active timeouts included).
    std::uint8_t biflow_direction;
    std::uint8_t metadata_groups;  // MetadataGroup bits of what the extensions carry
    std::uint8_t reserved[7];
};
static_assert(sizeof(FlowRecord) == 128);
static_assert(std::is_trivially_copyable_v<FlowRecord>);

// A slot that carries part of the metadata of the record before it (metadata.hpp says how it
// reads): in a FlowRecord's place, its first byte 0 where a record has its IP version.
struct alignas(64) RecordExtension {
    static constexpr std::size_t kData = 124;
    std::uint8_t zero;  // 0: not a record
    std::uint8_t reserved;
    std::uint8_t mark;   // as FlowRecord::mark
    std::uint8_t index;  // its place among its record's extensions, from 0
    std::uint8_t data[kData];
};
static_assert(sizeof(RecordExtension) == sizeof(FlowRecord));
static_assert(offsetof(RecordExtension, mark) == offsetof(FlowRecord, mark));

// The most extension slots a record has: its metadata is at most this many times kData bytes.
inline constexpr unsigned kMaxExtensions = 16;

inline bool is_extension(const FlowRecord& r) {
    return r.ip_version == 0;
}

// The slots of the unit `r` begins: itself and its extensions (an extension alone: 1).
inline unsigned unit_slots(const FlowRecord& r) {
    return is_extension(r) ? 1u : 1u + r.extensions;
}

}  // namespace sluice
