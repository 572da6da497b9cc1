// NetFlow v9 (RFC 3954) and NetFlow v5 export packets of uniflow records.
#include "control/netflow/netflow.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "control/ipfix/encoder.hpp"
#include "sluice/big_endian.hpp"

namespace sluice::netflow {
namespace {

constexpr std::uint64_t kSecondMs = 1000;
constexpr std::uint64_t kLeadMs = 24 * 3600 * kSecondMs;  // the base's day before the records
constexpr std::uint64_t kMaxUptimeMs = 0xffffffff;
constexpr std::uint64_t kNoFirst = std::numeric_limits<std::uint64_t>::max();

std::uint64_t floor_second(std::uint64_t ms) {
    return ms / kSecondMs * kSecondMs;
}
std::uint64_t ceil_second(std::uint64_t ms) {
    return (ms + kSecondMs - 1) / kSecondMs * kSecondMs;
}

// NetFlow v9 field types (RFC 3954 section 8; above 127, IANA's IPFIX ids, which collectors
// read in v9 as well).
enum Field : std::uint16_t {
    IN_BYTES = 1,
    IN_PKTS = 2,
    PROTOCOL = 4,
    TCP_FLAGS = 6,
    L4_SRC_PORT = 7,
    IPV4_SRC_ADDR = 8,
    INPUT_SNMP = 10,
    L4_DST_PORT = 11,
    IPV4_DST_ADDR = 12,
    LAST_SWITCHED = 21,
    FIRST_SWITCHED = 22,
    IPV6_SRC_ADDR = 27,
    IPV6_DST_ADDR = 28,
    ICMP_TYPE = 32,  // type * 256 + code, IPv4 and IPv6
    SAMPLING_INTERVAL = 34,
    SAMPLING_ALGORITHM = 35,
    TOTAL_BYTES_EXP = 40,
    TOTAL_PKTS_EXP = 41,
    TOTAL_FLOWS_EXP = 42,
    MIN_TTL = 52,
    MAX_TTL = 53,
    SRC_VLAN = 58,
    PACKETS_TOTAL = 86,  // packetTotalCount
    APPLICATION_DESCRIPTION = 94,
    APPLICATION_TAG = 95,  // applicationId, as in IPFIX (RFC 6759)
    APPLICATION_NAME = 96,
    IF_NAME = 82,
    IF_DESC = 83,
    FLOW_END_REASON = 136,
    IGNORED_PACKETS = 164,
    IGNORED_OCTETS = 165,
    NOT_SENT_FLOWS = 166,
    NOT_SENT_PACKETS = 167,
    NOT_SENT_OCTETS = 168,
};
constexpr std::uint16_t kScopeSystem = 1;  // an options record's scope: the exporter

struct FieldSpec {
    std::uint16_t type, length;
};

// clang-format off
#define SLUICE_V9_FLOW(SRC, DST, ADDRESS)                                                    \
    {{SRC, ADDRESS}, {DST, ADDRESS}, {L4_SRC_PORT, 2}, {L4_DST_PORT, 2}, {PROTOCOL, 1},      \
     {SRC_VLAN, 2}, {INPUT_SNMP, 4}, {IN_BYTES, 8}, {IN_PKTS, 8}, {FIRST_SWITCHED, 4},       \
     {LAST_SWITCHED, 4}, {TCP_FLAGS, 1}, {MIN_TTL, 1}, {MAX_TTL, 1}, {FLOW_END_REASON, 1},   \
     {APPLICATION_TAG, 4}, {ICMP_TYPE, 2}}
constexpr FieldSpec kV4Fields[] = SLUICE_V9_FLOW(IPV4_SRC_ADDR, IPV4_DST_ADDR, 4);
constexpr FieldSpec kV6Fields[] = SLUICE_V9_FLOW(IPV6_SRC_ADDR, IPV6_DST_ADDR, 16);
#undef SLUICE_V9_FLOW
// clang-format on
constexpr FieldSpec kSystemScope[] = {{kScopeSystem, 4}};
constexpr FieldSpec kStatisticsFields[] = {
    {TOTAL_FLOWS_EXP, 8}, {TOTAL_PKTS_EXP, 8},   {TOTAL_BYTES_EXP, 8},
    {PACKETS_TOTAL, 8},   {IGNORED_PACKETS, 8},  {IGNORED_OCTETS, 8},
    {NOT_SENT_FLOWS, 8},  {NOT_SENT_PACKETS, 8}, {NOT_SENT_OCTETS, 8}};
constexpr FieldSpec kSamplingFields[] = {{SAMPLING_INTERVAL, 4}, {SAMPLING_ALGORITHM, 1}};
constexpr FieldSpec kApplicationFields[] = {{APPLICATION_TAG, 4},
                                            {APPLICATION_NAME, kV9NameLength},
                                            {APPLICATION_DESCRIPTION, kV9DescriptionLength}};
constexpr FieldSpec kInterfaceFields[] = {
    {INPUT_SNMP, 4}, {IF_NAME, kV9InterfaceNameLength}, {IF_DESC, kV9DescriptionLength}};
constexpr std::uint8_t kDeterministic = 1;  // SAMPLING_ALGORITHM: every Nth packet

struct V9Template {
    std::uint16_t id;
    std::span<const FieldSpec> scope;  // empty: a data template
    std::span<const FieldSpec> fields;
};
constexpr V9Template kV4{kV9Ipv4Template, {}, kV4Fields};
constexpr V9Template kV6{kV9Ipv6Template, {}, kV6Fields};
constexpr V9Template kStatistics{kV9StatisticsTemplate, kSystemScope, kStatisticsFields};
constexpr V9Template kSampling{kV9SamplingTemplate, kSystemScope, kSamplingFields};
constexpr V9Template kApplications{kV9ApplicationsTemplate, kSystemScope, kApplicationFields};
constexpr V9Template kInterfaces{kV9InterfacesTemplate, kSystemScope, kInterfaceFields};

constexpr std::size_t length_of(std::span<const FieldSpec> fields) {
    std::size_t n = 0;
    for (const FieldSpec& f : fields) n += f.length;
    return n;
}
constexpr std::size_t record_length_of(const V9Template& t) {
    return length_of(t.scope) + length_of(t.fields);
}
constexpr std::size_t kV4Length = record_length_of(kV4);
constexpr std::size_t kV6Length = record_length_of(kV6);
// Where FIRST_SWITCHED (then LAST_SWITCHED) is in a record, after the addresses and the 23
// bytes of ports, protocol, VLAN, input and counters.
constexpr std::size_t first_switched_at(std::size_t address_length) {
    return 2 * address_length + 2 + 2 + 1 + 2 + 4 + 8 + 8;
}

constexpr std::uint16_t kV9TemplateSet = 0;
constexpr std::uint16_t kV9OptionsTemplateSet = 1;
constexpr std::uint16_t kV5Version = 5;
constexpr std::uint16_t kV9Version = 9;

std::size_t padded(std::size_t n) {
    return (n + 3) & ~std::size_t{3};
}

}  // namespace

Times times_of(const FlowRecord& r) {
    const std::uint64_t last = r.last_ns / 1'000'000;
    return {std::max(r.first_ns / 1'000'000,
                     last > UptimeClock::kMaxSpanMs ? last - UptimeClock::kMaxSpanMs : 0),
            last};
}

namespace {

// The earliest and latest times of a packet's records (first kNoFirst: none yet), widened by
// one more; false when the span would pass what one packet carries.
bool widen(std::uint64_t& first, std::uint64_t& last, const FlowRecord& r) {
    const bool none = first == kNoFirst;
    const Times t = times_of(r);
    const std::uint64_t f = std::min(first, t.first_ms);
    const std::uint64_t l = none ? t.last_ms : std::max(last, t.last_ms);
    if (!none && l - f > UptimeClock::kMaxSpanMs) return false;
    first = f;
    last = l;
    return true;
}

}  // namespace

UptimeClock::Stamp UptimeClock::stamp(std::uint64_t now_ns, std::uint64_t first_ms,
                                      std::uint64_t last_ms) {
    const bool records = first_ms <= last_ms;
    const std::int64_t wall = static_cast<std::int64_t>(now_ns / 1'000'000);
    std::uint64_t clock = static_cast<std::uint64_t>(std::max<std::int64_t>(wall + offset_ms_, 0));
    // Records more than a second ahead of the clock, or older than it can say: their own clock.
    if (records &&
        (last_ms > clock + kSecondMs || (first_ms < clock && clock - first_ms > kMaxSpanMs))) {
        clock = ceil_second(last_ms);
        offset_ms_ = static_cast<std::int64_t>(clock) - wall;
    }
    const std::uint64_t export_ms =
        std::max(floor_second(clock), records ? ceil_second(last_ms) : 0);
    const std::uint64_t earliest = records ? std::min(first_ms, export_ms) : export_ms;
    if (!booted_ || earliest < boot_ms_ || export_ms - boot_ms_ > kMaxUptimeMs) {
        const std::uint64_t base = floor_second(earliest);
        boot_ms_ = base > kLeadMs ? base - kLeadMs : 0;
        booted_ = true;
    }
    return {export_ms, boot_ms_};
}

bool split_for_v5(const FlowRecord& r, std::vector<FlowRecord>& out) {
    auto needed = [](std::uint64_t n) { return n / kMaxV5Count + (n % kMaxV5Count != 0); };
    const std::uint64_t parts = std::max({std::uint64_t{1}, needed(r.packets), needed(r.octets)});
    if (parts > kMaxV5Parts) return false;
    for (std::uint64_t i = 0; i < parts; ++i) {
        FlowRecord& part = out.emplace_back(r);
        part.packets = r.packets / parts + (i < r.packets % parts ? 1 : 0);
        part.octets = r.octets / parts + (i < r.octets % parts ? 1 : 0);
    }
    return true;
}

V9Builder::V9Builder(std::uint32_t source_id, std::size_t max_size)
    : source_id_(source_id), max_size_(std::min(max_size, kMaxSize)), buffer_(max_size_) {
    begin(0);
}

void V9Builder::put(std::uint64_t value, unsigned bytes) {
    store_big_endian(&buffer_[size_], value, bytes);
    size_ += bytes;
}

void V9Builder::begin(std::uint32_t sequence) {
    size_ = 0;
    put(kV9Version, 2);
    put(0, 2);  // count, at finish()
    put(0, 4);  // sysUptime
    put(0, 4);  // unix_secs
    put(sequence, 4);
    put(source_id_, 4);
    set_start_ = 0;
    set_id_ = 0;
    records_ = 0;
    timed_.clear();
    first_ms_ = kNoFirst;
    last_ms_ = 0;
}

// Pads the open set to 4 bytes (RFC 3954 section 5.3) and writes its length.
void V9Builder::close_set() {
    if (set_start_ == 0) return;
    while (size_ % 4 != 0) buffer_[size_++] = 0;
    store_big_endian(&buffer_[set_start_ + 2], size_ - set_start_, 2);
    set_start_ = 0;
    set_id_ = 0;
}

bool V9Builder::open_set(std::uint16_t set_id, std::size_t record_length) {
    const bool new_set = set_id_ != set_id;
    // Room for the record and the padding that may follow it.
    const std::size_t end = padded(size_) + (new_set ? 4 : 0) + record_length;
    if (padded(end) > max_size_) return false;
    if (new_set) {
        close_set();
        set_start_ = size_;
        set_id_ = set_id;
        put(set_id, 2);
        put(0, 2);  // the length, when the set closes
    }
    return true;
}

bool V9Builder::add_templates(bool application_names, bool interface_names) {
    const V9Template* all[6] = {&kV4, &kV6, &kStatistics, &kSampling};
    std::size_t n = 4;
    if (application_names) all[n++] = &kApplications;
    if (interface_names) all[n++] = &kInterfaces;
    const std::span<const V9Template* const> templates(all, n);
    std::size_t size = 0;
    for (const V9Template* t : templates)
        size += (t->scope.empty() ? 4 : 6) + 4 * (t->scope.size() + t->fields.size()) +
                (t->scope.empty() ? 0 : 4 + 3);  // an options template is a set of its own
    if (padded(size_) + 4 + size > max_size_) return false;
    close_set();
    set_start_ = size_;
    put(kV9TemplateSet, 2);
    put(0, 2);
    for (const V9Template* t : templates) {
        if (!t->scope.empty()) continue;
        put(t->id, 2);
        put(t->fields.size(), 2);
        for (const FieldSpec& f : t->fields) put(f.type, 2), put(f.length, 2);
        ++records_;
    }
    close_set();
    // Options templates (RFC 3954 section 6.1): one per set, as its padding is its own.
    for (const V9Template* t : templates) {
        if (t->scope.empty()) continue;
        set_start_ = size_;
        put(kV9OptionsTemplateSet, 2);
        put(0, 2);
        put(t->id, 2);
        put(4 * t->scope.size(), 2);
        put(4 * t->fields.size(), 2);
        for (const FieldSpec& f : t->scope) put(f.type, 2), put(f.length, 2);
        for (const FieldSpec& f : t->fields) put(f.type, 2), put(f.length, 2);
        close_set();
        ++records_;
    }
    return true;
}

ipfix::DataTemplate V9Builder::data_template(const FlowRecord& r, bool) const {
    return r.ip_version == 6 ? ipfix::DataTemplate{kV9Ipv6Template, kV6Length}
                             : ipfix::DataTemplate{kV9Ipv4Template, kV4Length};
}

bool V9Builder::add(const FlowRecord& r) {
    const bool v6 = r.ip_version == 6;
    const std::size_t length = v6 ? kV6Length : kV4Length;
    std::uint64_t first = first_ms_, last = last_ms_;
    if (!widen(first, last, r) || !open_set(v6 ? kV9Ipv6Template : kV9Ipv4Template, length))
        return false;
    first_ms_ = first;
    last_ms_ = last;
    const std::size_t address = v6 ? 16 : 4;
    std::memcpy(&buffer_[size_], r.source_address, address);
    std::memcpy(&buffer_[size_ + address], r.destination_address, address);
    const std::size_t start = size_;
    size_ += 2 * address;
    put(r.source_port, 2);
    put(r.destination_port, 2);
    put(r.protocol, 1);
    put(r.vlan_id, 2);
    put(if_index_[r.ingress_port % ipfix::kMaxInterfaces], 4);
    put(r.octets, 8);
    put(r.packets, 8);
    const Times t = times_of(r);
    timed_.push_back({start + first_switched_at(address), t.first_ms, t.last_ms});
    size_ += 8;  // FIRST_SWITCHED and LAST_SWITCHED, at finish()
    put(r.tcp_flags, 1);
    put(r.minimum_ttl, 1);
    put(r.maximum_ttl, 1);
    put(static_cast<std::uint8_t>(r.end_reason), 1);
    put(ipfix::application_id(r.application_id), 4);
    // Collectors read an ICMP flow's type and code here, not in its destination port.
    put(r.protocol == 1 || r.protocol == 58 ? r.destination_port : 0, 2);
    ++records_;
    return true;
}

bool V9Builder::add_statistics(std::uint32_t source_id, const Statistics& s) {
    const std::size_t length = record_length_of(kStatistics) + 4 + record_length_of(kSampling);
    if (padded(size_) + 2 * 4 + length + 3 > max_size_) return false;
    open_set(kV9StatisticsTemplate, record_length_of(kStatistics));
    put(source_id, 4);
    for (const std::uint64_t v :
         {s.records_sent, s.packets_sent, s.octets_sent, s.packets, s.ignored_packets,
          s.ignored_octets, s.records_not_sent, s.packets_not_sent, s.octets_not_sent})
        put(v, 8);
    open_set(kV9SamplingTemplate, record_length_of(kSampling));
    put(source_id, 4);
    put(1, 4);  // every packet is metered
    put(kDeterministic, 1);
    records_ += 2;
    return true;
}

bool V9Builder::add_application(std::uint32_t id, std::string_view name,
                                std::string_view description) {
    if (!open_set(kV9ApplicationsTemplate, record_length_of(kApplications))) return false;
    put(source_id_, 4);
    put(id, 4);
    put_string(name, kV9NameLength);
    put_string(description, kV9DescriptionLength);
    ++records_;
    return true;
}

bool V9Builder::add_interface(std::uint32_t if_index, std::string_view name,
                              std::string_view description) {
    if (!open_set(kV9InterfacesTemplate, record_length_of(kInterfaces))) return false;
    put(source_id_, 4);
    put(if_index, 4);
    put_string(name, kV9InterfaceNameLength);
    put_string(description, kV9DescriptionLength);
    ++records_;
    return true;
}

// A fixed-length string, cut to fit and padded with zero bytes.
void V9Builder::put_string(std::string_view text, std::size_t length) {
    const std::size_t n = std::min(text.size(), length);
    std::memcpy(&buffer_[size_], text.data(), n);
    std::memset(&buffer_[size_ + n], 0, length - n);
    size_ += length;
}

std::span<const std::uint8_t> V9Builder::finish(std::uint64_t now_ns) {
    close_set();
    const auto stamp = clock_.stamp(now_ns, first_ms_, last_ms_);
    for (const Timed& t : timed_) {
        store_big_endian(&buffer_[t.at], t.first_ms - stamp.boot_ms, 4);
        store_big_endian(&buffer_[t.at + 4], t.last_ms - stamp.boot_ms, 4);
    }
    store_big_endian(&buffer_[2], records_, 2);
    store_big_endian(&buffer_[4], stamp.export_ms - stamp.boot_ms, 4);
    store_big_endian(&buffer_[8], stamp.export_ms / kSecondMs, 4);
    return {buffer_.data(), size_};
}

V5Builder::V5Builder(std::uint32_t observation_domain, std::size_t max_size)
    : domain_(observation_domain),
      max_size_(std::min(max_size, kHeaderSize + kMaxRecords * kRecordSize)) {
    begin(0);
}

void V5Builder::begin(std::uint32_t sequence) {
    std::memset(buffer_, 0, kHeaderSize);
    store_big_endian(&buffer_[0], kV5Version, 2);
    store_big_endian(&buffer_[16], sequence, 4);
    buffer_[20] = static_cast<std::uint8_t>(domain_ >> 8);  // engine_type
    buffer_[21] = static_cast<std::uint8_t>(domain_);       // engine_id
    // sampling_interval 0: every packet
    records_ = 0;
    min_first_ms_ = kNoFirst;
    max_last_ms_ = 0;
}

bool V5Builder::add(const FlowRecord& r) {
    if (size() + kRecordSize > max_size_ || r.ip_version != 4) return false;
    std::uint64_t first = min_first_ms_, last = max_last_ms_;
    if (!widen(first, last, r)) return false;
    min_first_ms_ = first;
    max_last_ms_ = last;
    std::uint8_t* p = &buffer_[size()];
    std::memset(p, 0, kRecordSize);
    std::memcpy(p, r.source_address, 4);
    std::memcpy(p + 4, r.destination_address, 4);
    // nexthop 0; input the ingress interface, output 0
    const std::uint32_t input = if_index_[r.ingress_port % ipfix::kMaxInterfaces];
    store_big_endian(p + 12, input <= 0xffff ? input : 0, 2);
    store_big_endian(p + 16, std::min(r.packets, kMaxV5Count), 4);
    store_big_endian(p + 20, std::min(r.octets, kMaxV5Count), 4);
    // First and Last at finish()
    store_big_endian(p + 32, r.source_port, 2);
    store_big_endian(p + 34, r.destination_port, 2);
    p[37] = r.tcp_flags;
    p[38] = r.protocol;
    // tos, AS numbers and masks: 0
    const Times t = times_of(r);
    first_ms_[records_] = t.first_ms;
    last_ms_[records_] = t.last_ms;
    ++records_;
    return true;
}

std::span<const std::uint8_t> V5Builder::finish(std::uint64_t now_ns) {
    const auto stamp = clock_.stamp(now_ns, min_first_ms_, max_last_ms_);
    for (std::uint32_t i = 0; i < records_; ++i) {
        std::uint8_t* p = &buffer_[kHeaderSize + i * kRecordSize];
        store_big_endian(p + 24, first_ms_[i] - stamp.boot_ms, 4);
        store_big_endian(p + 28, last_ms_[i] - stamp.boot_ms, 4);
    }
    store_big_endian(&buffer_[2], records_, 2);
    store_big_endian(&buffer_[4], stamp.export_ms - stamp.boot_ms, 4);
    store_big_endian(&buffer_[8], stamp.export_ms / kSecondMs, 4);
    store_big_endian(&buffer_[12], 0, 4);  // unix_nsecs: the export time is a whole second
    return {buffer_, size()};
}

}  // namespace sluice::netflow
