// A flow's application-layer metadata and TCP health, as the dataplane writes them into the
// RecordExtension slots after its record and the control reads them: one registry of fields,
// and the bytes they are carried in.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "sluice/record.hpp"

namespace sluice {

// The groups a collector chooses among (`fields`), a bit each in FlowRecord::metadata_groups.
// clang-format off
#define SLUICE_METADATA_GROUPS(X)                                                                \
    X(tls, 0, "TLS ClientHello and ServerHello: server name, ALPN, versions, cipher, JA3, JA4")   \
    X(http, 1, "HTTP/1.x: the first request's method, host, target and user agent; its status")   \
    X(dns, 2, "DNS: the first query's name and type, the response code, the first answers")      \
    X(quic, 3, "QUIC: the version; the Initial's ClientHello: server name, ALPN, JA4")          \
    X(tcp_health, 4, "TCP: handshake times, retransmissions, out-of-order, zero windows, gaps") \
    X(tunnel, 5, "the tunnel it came out of: its kind, id and outer endpoints; the ERSPAN session") \
    X(headers, 6, "each direction's first packet: MACs, class of service, inner VLAN, MPLS label, flow label, ICMP type")
// clang-format on

enum class MetadataGroup : std::uint8_t {
#define SLUICE_X(name, bit, help) name = bit,
    SLUICE_METADATA_GROUPS(SLUICE_X)
#undef SLUICE_X
};
inline constexpr unsigned kMetadataGroups = 0
#define SLUICE_X(name, bit, help) +1
    SLUICE_METADATA_GROUPS(SLUICE_X)
#undef SLUICE_X
    ;
inline constexpr std::uint8_t kAllMetadataGroups = (1u << kMetadataGroups) - 1;
inline constexpr std::uint8_t group_bit(MetadataGroup g) {
    return static_cast<std::uint8_t>(1u << static_cast<unsigned>(g));
}
// The application-layer groups: a flow has one of them at most.
inline constexpr std::uint8_t kApplicationGroups =
    group_bit(MetadataGroup::tls) | group_bit(MetadataGroup::http) | group_bit(MetadataGroup::dns) |
    group_bit(MetadataGroup::quic);

inline constexpr std::array<std::string_view, kMetadataGroups> kMetadataGroupNames = {
#define SLUICE_X(name, bit, help) #name,
    SLUICE_METADATA_GROUPS(SLUICE_X)
#undef SLUICE_X
};

enum class MetadataType : std::uint8_t { string, u8, u16, u32, u64, addresses, address, mac };

// Each field: its id in the bytes, its group, how its value reads, and its name in the
// record JSON. `addresses`: IPv4 and IPv6 addresses, each a length byte (4 or 16) and the
// address; `address`: one address, its 4 or 16 bytes; `mac`: a MAC address, its 6 bytes. Numbers
// are little-endian, of their type's width. Ids are for good: a field that goes keeps its id
// unused.
// clang-format off
#define SLUICE_METADATA_FIELDS(X)                                  \
    X(tls_server_name,          1, tls, string)                    \
    X(tls_alpn,                 2, tls, string)                    \
    X(tls_client_version,       3, tls, u16)                       \
    X(tls_ja3,                  4, tls, string)                    \
    X(tls_ja4,                  5, tls, string)                    \
    X(tls_server_version,       6, tls, u16)                       \
    X(tls_cipher,               7, tls, u16)                       \
    X(http_method,             32, http, string)                   \
    X(http_host,               33, http, string)                   \
    X(http_target,             34, http, string)                   \
    X(http_user_agent,         35, http, string)                   \
    X(http_status,             36, http, u16)                      \
    X(http_requests,           37, http, u16)                      \
    X(dns_query_name,          48, dns, string)                    \
    X(dns_query_type,          49, dns, u16)                       \
    X(dns_response_code,       50, dns, u8)                        \
    X(dns_answers,             51, dns, addresses)                 \
    X(dns_queries,             52, dns, u16)                      \
    X(quic_version,            64, quic, u32)                     \
    X(quic_server_name,        65, quic, string)                  \
    X(quic_alpn,               66, quic, string)                  \
    X(quic_ja4,                67, quic, string)                  \
    X(tcp_syn_to_synack_us,    80, tcp_health, u32)               \
    X(tcp_synack_to_ack_us,    81, tcp_health, u32)               \
    X(tcp_retransmitted_packets, 82, tcp_health, u32)             \
    X(tcp_retransmitted_octets, 83, tcp_health, u64)              \
    X(tcp_out_of_order,        84, tcp_health, u32)               \
    X(tcp_zero_windows,        85, tcp_health, u32)               \
    X(tcp_largest_gap_us,      86, tcp_health, u32)               \
    X(reverse_tcp_retransmitted_packets, 87, tcp_health, u32)     \
    X(reverse_tcp_retransmitted_octets, 88, tcp_health, u64)      \
    X(reverse_tcp_out_of_order, 89, tcp_health, u32)              \
    X(reverse_tcp_zero_windows, 90, tcp_health, u32)              \
    X(reverse_tcp_largest_gap_us, 91, tcp_health, u32)            \
    X(tunnel_technology,       96, tunnel, string)                \
    X(tunnel_id,               97, tunnel, u32)                   \
    X(tunnel_source,           98, tunnel, address)               \
    X(tunnel_destination,      99, tunnel, address)               \
    X(erspan_session,         100, tunnel, u16)                  \
    X(source_mac,             112, headers, mac)                 \
    X(destination_mac,        113, headers, mac)                 \
    X(class_of_service,       114, headers, u8)                  \
    X(customer_vlan,          115, headers, u16)                 \
    X(mpls_top_label,         116, headers, u32)                 \
    X(flow_label,             117, headers, u32)                 \
    X(icmp_type_code,         118, headers, u16)                 \
    X(reverse_source_mac,     119, headers, mac)                 \
    X(reverse_destination_mac, 120, headers, mac)                \
    X(reverse_class_of_service, 121, headers, u8)                \
    X(reverse_customer_vlan,  122, headers, u16)                 \
    X(reverse_mpls_top_label, 123, headers, u32)                 \
    X(reverse_flow_label,     124, headers, u32)                 \
    X(reverse_icmp_type_code, 125, headers, u16)
// clang-format on

enum class MetadataField : std::uint8_t {
#define SLUICE_X(name, id, group, type) name = id,
    SLUICE_METADATA_FIELDS(SLUICE_X)
#undef SLUICE_X
};

struct MetadataFieldInfo {
    MetadataField field;
    MetadataGroup group;
    MetadataType type;
    std::string_view name;
};

inline constexpr MetadataFieldInfo kMetadataFields[] = {
#define SLUICE_X(name, id, group, type) \
    {MetadataField::name, MetadataGroup::group, MetadataType::type, #name},
    SLUICE_METADATA_FIELDS(SLUICE_X)
#undef SLUICE_X
};

// The most bytes a record's TCP health fields take: the two handshake times (u32), and each
// direction's four u32 counts and its u64 octets.
inline constexpr std::size_t kTcpHealthBytes = 2 * (3 + 4) + 2 * (4 * (3 + 4) + 3 + 8);

// The TCP health fields of one direction: the source's (the initiator's) from
// tcp_retransmitted_packets on, the responder's as many ids further (a uniflow record of the
// responder's direction carries its own as the source's).
inline constexpr auto kTcpSourceFirst =
    static_cast<std::uint8_t>(MetadataField::tcp_retransmitted_packets);
inline constexpr std::uint8_t kTcpReverseOffset =
    static_cast<std::uint8_t>(MetadataField::reverse_tcp_retransmitted_packets) - kTcpSourceFirst;
static_assert(static_cast<std::uint8_t>(MetadataField::reverse_tcp_largest_gap_us) -
                      static_cast<std::uint8_t>(MetadataField::tcp_largest_gap_us) ==
                  kTcpReverseOffset,
              "each direction's fields in the same order");

// The header fields the same way: the initiator's first packet's from source_mac on, the
// responder's as many ids further.
inline constexpr auto kHeadersSourceFirst = static_cast<std::uint8_t>(MetadataField::source_mac);
inline constexpr std::uint8_t kHeadersReverseOffset =
    static_cast<std::uint8_t>(MetadataField::reverse_source_mac) - kHeadersSourceFirst;
static_assert(static_cast<std::uint8_t>(MetadataField::reverse_icmp_type_code) -
                      static_cast<std::uint8_t>(MetadataField::icmp_type_code) ==
                  kHeadersReverseOffset,
              "each direction's header fields in the same order");

// For `id` in a run of fields from `first` whose second half (`offset` on) is the first
// half's other direction: the field of the other half; 0 outside the run.
inline constexpr std::uint8_t other_half(std::uint8_t id, std::uint8_t first, std::uint8_t offset) {
    if (id < first || id >= first + 2 * offset) return 0;
    return static_cast<std::uint8_t>(id < first + offset ? id + offset : id - offset);
}

// The field of the other direction for a directional field; the field itself otherwise.
inline constexpr std::uint8_t reverse_field(std::uint8_t id) {
    constexpr auto source = static_cast<std::uint8_t>(MetadataField::tunnel_source);
    constexpr auto destination = static_cast<std::uint8_t>(MetadataField::tunnel_destination);
    if (id == source) return destination;
    if (id == destination) return source;
    if (const std::uint8_t other = other_half(id, kTcpSourceFirst, kTcpReverseOffset)) return other;
    if (const std::uint8_t other = other_half(id, kHeadersSourceFirst, kHeadersReverseOffset))
        return other;
    return id;
}

// A source's field as the responder's (`reverse`) or as itself.
inline constexpr MetadataField of_direction(MetadataField f, bool reverse) {
    return reverse ? static_cast<MetadataField>(reverse_field(static_cast<std::uint8_t>(f))) : f;
}

// The registry's entry of a field id; null for an id it does not have.
inline const MetadataFieldInfo* metadata_field(std::uint8_t id) {
    for (const MetadataFieldInfo& f : kMetadataFields)
        if (static_cast<std::uint8_t>(f.field) == id) return &f;
    return nullptr;
}

// The bytes: fields one after the other, each an id byte, a 16-bit little-endian length and
// the value; an id byte 0 (or the end) ends them. At most kMaxExtensions slots' worth.
inline constexpr std::size_t kMaxMetadataBytes = kMaxExtensions * RecordExtension::kData;

// Writes fields into a buffer of its own; what does not fit is left out, and said.
class MetadataWriter {
public:
    bool put(MetadataField f, std::span<const std::uint8_t> value) {
        if (length_ + 3 + value.size() > bytes_.size()) {
            full_ = true;
            return false;
        }
        bytes_[length_] = static_cast<std::uint8_t>(f);
        bytes_[length_ + 1] = static_cast<std::uint8_t>(value.size());
        bytes_[length_ + 2] = static_cast<std::uint8_t>(value.size() >> 8);
        if (!value.empty()) std::memcpy(&bytes_[length_ + 3], value.data(), value.size());
        length_ += 3 + value.size();
        return true;
    }
    bool put(MetadataField f, std::string_view s) {
        return put(f, {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
    }
    bool put_number(MetadataField f, std::uint64_t v, unsigned width) {
        std::uint8_t b[8];
        for (unsigned i = 0; i < width; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
        return put(f, {b, width});
    }
    // Fields already in these bytes' form (another writer's).
    bool append(std::span<const std::uint8_t> fields) {
        if (length_ + fields.size() > bytes_.size()) {
            full_ = true;
            return false;
        }
        if (!fields.empty()) std::memcpy(&bytes_[length_], fields.data(), fields.size());
        length_ += fields.size();
        return true;
    }
    std::span<const std::uint8_t> bytes() const { return {bytes_.data(), length_}; }
    bool full() const { return full_; }
    void clear() {
        length_ = 0;
        full_ = false;
    }

private:
    std::array<std::uint8_t, kMaxMetadataBytes> bytes_;
    std::size_t length_ = 0;
    bool full_ = false;
};

// The extension slots that carry `bytes` after their record, into `out` (room for
// kMaxExtensions); how many.
inline unsigned write_extensions(std::span<const std::uint8_t> bytes, FlowRecord* out) {
    unsigned n = 0;
    for (std::size_t at = 0; at < bytes.size() && n < kMaxExtensions;
         at += RecordExtension::kData) {
        RecordExtension e{};
        e.index = static_cast<std::uint8_t>(n);
        const std::size_t k = std::min(RecordExtension::kData, bytes.size() - at);
        std::memcpy(e.data, bytes.data() + at, k);
        std::memcpy(&out[n++], &e, sizeof(e));
    }
    return n;
}

// The metadata bytes of a record's extensions (`slots`, those that follow it) into `out`;
// how many bytes.
inline std::size_t gather_extensions(std::span<const FlowRecord> slots,
                                     std::array<std::uint8_t, kMaxMetadataBytes>& out) {
    std::size_t n = 0;
    for (const FlowRecord& slot :
         slots.first(std::min<std::size_t>(slots.size(), kMaxExtensions))) {
        if (!is_extension(slot)) break;
        const auto& e = reinterpret_cast<const RecordExtension&>(slot);
        std::memcpy(&out[n], e.data, RecordExtension::kData);
        n += RecordExtension::kData;
    }
    return n;
}

// Reads fields from metadata bytes, as far as they read: an id the registry lacks, or a
// length past the end, ends them.
class MetadataReader {
public:
    struct Field {
        const MetadataFieldInfo* info;
        std::span<const std::uint8_t> value;

        std::string_view text() const {
            return {reinterpret_cast<const char*>(value.data()), value.size()};
        }
        std::uint64_t number() const {
            std::uint64_t v = 0;
            for (std::size_t i = 0; i < std::min<std::size_t>(value.size(), 8); ++i)
                v |= std::uint64_t{value[i]} << (8 * i);
            return v;
        }
    };

    explicit MetadataReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

    bool next(Field& f) {
        if (at_ + 3 > bytes_.size() || bytes_[at_] == 0) return false;
        const std::size_t length = bytes_[at_ + 1] | std::size_t{bytes_[at_ + 2]} << 8;
        const MetadataFieldInfo* info = metadata_field(bytes_[at_]);
        if (info == nullptr || at_ + 3 + length > bytes_.size()) return false;
        f = {info, bytes_.subspan(at_ + 3, length)};
        at_ += 3 + length;
        return true;
    }

private:
    std::span<const std::uint8_t> bytes_;
    std::size_t at_ = 0;
};

// Renames each directional field of metadata bytes to the other direction's, in place: the
// fields of a responder's uniflow record.
inline void reverse_directions(std::span<std::uint8_t> bytes) {
    for (std::size_t at = 0; at + 3 <= bytes.size() && bytes[at] != 0;) {
        const std::size_t length = bytes[at + 1] | std::size_t{bytes[at + 2]} << 8;
        bytes[at] = reverse_field(bytes[at]);
        at += 3 + length;
    }
}

}  // namespace sluice
