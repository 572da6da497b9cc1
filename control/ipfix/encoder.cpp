// IPFIX (RFC 7011) messages of flow records: template sets and data sets of biflows (RFC 5103).
#include "encoder.hpp"

#include <cstring>

namespace sluice::ipfix {
namespace {

constexpr std::uint16_t kVersion = 10;
constexpr std::uint16_t kTemplateSetId = 2;
constexpr std::uint64_t kNtpEpochOffset = 2'208'988'800;  // 1900 to 1970, in seconds

// clang-format off
#define SLUICE_BIFLOW(SRC, DST, START, END, RSTART, REND)                                      \
    {ie::SRC, ie::DST, ie::sourceTransportPort, ie::destinationTransportPort,                 \
     ie::protocolIdentifier, ie::vlanId, ie::ingressInterface, ie::octetDeltaCount,           \
     ie::packetDeltaCount, ie::reverseOctetDeltaCount, ie::reversePacketDeltaCount,           \
     ie::START, ie::END, ie::RSTART, ie::REND, ie::tcpControlBits, ie::reverseTcpControlBits, \
     ie::minimumTTL, ie::maximumTTL, ie::reverseMinimumTTL, ie::reverseMaximumTTL,            \
     ie::flowEndReason}
constexpr Element kV4Ms[] = SLUICE_BIFLOW(sourceIPv4Address, destinationIPv4Address,
    flowStartMilliseconds, flowEndMilliseconds, reverseFlowStartMilliseconds, reverseFlowEndMilliseconds);
constexpr Element kV6Ms[] = SLUICE_BIFLOW(sourceIPv6Address, destinationIPv6Address,
    flowStartMilliseconds, flowEndMilliseconds, reverseFlowStartMilliseconds, reverseFlowEndMilliseconds);
constexpr Element kV4Ns[] = SLUICE_BIFLOW(sourceIPv4Address, destinationIPv4Address,
    flowStartNanoseconds, flowEndNanoseconds, reverseFlowStartNanoseconds, reverseFlowEndNanoseconds);
constexpr Element kV6Ns[] = SLUICE_BIFLOW(sourceIPv6Address, destinationIPv6Address,
    flowStartNanoseconds, flowEndNanoseconds, reverseFlowStartNanoseconds, reverseFlowEndNanoseconds);
#undef SLUICE_BIFLOW
// clang-format on

const Template kTemplates[] = {{256, kV4Ms}, {257, kV6Ms}, {258, kV4Ns}, {259, kV6Ns}};

void put(std::vector<std::uint8_t>& out, std::uint64_t value, unsigned bytes) {
    for (unsigned i = bytes; i-- > 0;) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

void patch16(std::vector<std::uint8_t>& out, std::size_t at, std::size_t value) {
    out[at] = static_cast<std::uint8_t>(value >> 8);
    out[at + 1] = static_cast<std::uint8_t>(value);
}

bool same(const Element& a, const Element& b) {
    return a.id == b.id && a.pen == b.pen;
}

// The value of one field of a record, as an unsigned number (addresses are written apart).
std::uint64_t value_of(const Element& e, const FlowRecord& r) {
    const bool ns = e.type == Type::date_time_nanoseconds;
    auto time = [ns](std::uint64_t t) { return ns ? ntp_timestamp(t) : t / 1'000'000; };
    if (same(e, ie::sourceTransportPort)) return r.source_port;
    if (same(e, ie::destinationTransportPort)) return r.destination_port;
    if (same(e, ie::protocolIdentifier)) return r.protocol;
    if (same(e, ie::vlanId)) return r.vlan_id;
    if (same(e, ie::ingressInterface)) return r.ingress_port;
    if (same(e, ie::octetDeltaCount)) return r.octets;
    if (same(e, ie::packetDeltaCount)) return r.packets;
    if (same(e, ie::reverseOctetDeltaCount)) return r.reverse_octets;
    if (same(e, ie::reversePacketDeltaCount)) return r.reverse_packets;
    if (same(e, ie::flowStartMilliseconds) || same(e, ie::flowStartNanoseconds))
        return time(r.first_ns);
    if (same(e, ie::flowEndMilliseconds) || same(e, ie::flowEndNanoseconds)) return time(r.last_ns);
    if (same(e, ie::reverseFlowStartMilliseconds) || same(e, ie::reverseFlowStartNanoseconds))
        return r.reverse_first_ns == 0 ? 0 : time(r.reverse_first_ns);
    if (same(e, ie::reverseFlowEndMilliseconds) || same(e, ie::reverseFlowEndNanoseconds))
        return r.reverse_last_ns == 0 ? 0 : time(r.reverse_last_ns);
    if (same(e, ie::tcpControlBits)) return r.tcp_flags;
    if (same(e, ie::reverseTcpControlBits)) return r.reverse_tcp_flags;
    if (same(e, ie::minimumTTL)) return r.minimum_ttl;
    if (same(e, ie::maximumTTL)) return r.maximum_ttl;
    if (same(e, ie::reverseMinimumTTL)) return r.reverse_minimum_ttl;
    if (same(e, ie::reverseMaximumTTL)) return r.reverse_maximum_ttl;
    if (same(e, ie::flowEndReason)) return static_cast<std::uint8_t>(r.end_reason);
    return 0;
}

}  // namespace

std::uint64_t ntp_timestamp(std::uint64_t unix_ns) {
    const std::uint64_t seconds = unix_ns / 1'000'000'000 + kNtpEpochOffset;
    const std::uint64_t fraction = ((unix_ns % 1'000'000'000) << 32) / 1'000'000'000;
    return seconds << 32 | fraction;
}

std::size_t Template::record_length() const {
    std::size_t n = 0;
    for (const Element& e : fields) n += e.length;
    return n;
}

const Template& biflow_template(int ip_version, TimePrecision precision) {
    const std::size_t base = precision == TimePrecision::nanoseconds ? 2 : 0;
    return kTemplates[base + (ip_version == 6 ? 1 : 0)];
}

MessageBuilder::MessageBuilder(std::uint32_t observation_domain, std::size_t max_size,
                               TimePrecision precision)
    : domain_(observation_domain), max_size_(max_size), precision_(precision) {
    buffer_.reserve(max_size);
}

void MessageBuilder::begin(std::uint32_t export_time, std::uint32_t sequence) {
    buffer_.clear();
    set_start_ = 0;
    set_id_ = 0;
    records_ = 0;
    put(buffer_, kVersion, 2);
    put(buffer_, 0, 2);  // length, at finish()
    put(buffer_, export_time, 4);
    put(buffer_, sequence, 4);
    put(buffer_, domain_, 4);
}

void MessageBuilder::close_set() {
    if (set_start_ != 0) patch16(buffer_, set_start_ + 2, buffer_.size() - set_start_);
    set_start_ = 0;
    set_id_ = 0;
}

bool MessageBuilder::add_templates(std::span<const Template* const> templates) {
    std::size_t size = 4;
    for (const Template* t : templates) {
        size += 4;
        for (const Element& e : t->fields) size += e.pen != 0 ? 8 : 4;
    }
    if (buffer_.size() + size > max_size_) return false;
    close_set();
    put(buffer_, kTemplateSetId, 2);
    put(buffer_, size, 2);
    for (const Template* t : templates) {
        put(buffer_, t->id, 2);
        put(buffer_, t->fields.size(), 2);
        for (const Element& e : t->fields) {
            put(buffer_, e.pen != 0 ? (0x8000u | e.id) : e.id, 2);  // enterprise bit
            put(buffer_, e.length, 2);
            if (e.pen != 0) put(buffer_, e.pen, 4);
        }
    }
    return true;
}

bool MessageBuilder::add(const FlowRecord& r) {
    const Template& t = biflow_template(r.ip_version, precision_);
    const bool new_set = set_id_ != t.id;
    if (buffer_.size() + (new_set ? 4 : 0) + t.record_length() > max_size_) return false;
    if (new_set) {
        close_set();
        set_start_ = buffer_.size();
        set_id_ = t.id;
        put(buffer_, t.id, 2);
        put(buffer_, 0, 2);  // length, when the set closes
    }
    for (const Element& e : t.fields) {
        if (e.type == Type::ipv4_address || e.type == Type::ipv6_address) {
            const bool source =
                e.id == ie::sourceIPv4Address.id || e.id == ie::sourceIPv6Address.id;
            const std::uint8_t* a = source ? r.source_address : r.destination_address;
            buffer_.insert(buffer_.end(), a, a + e.length);
        } else {
            put(buffer_, value_of(e, r), e.length);
        }
    }
    ++records_;
    return true;
}

std::span<const std::uint8_t> MessageBuilder::finish() {
    close_set();
    patch16(buffer_, 2, buffer_.size());
    return buffer_;
}

}  // namespace sluice::ipfix
