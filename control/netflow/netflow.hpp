// NetFlow v9 (RFC 3954) and NetFlow v5 export packets of uniflow records, for the collectors
// that read no IPFIX.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "control/ipfix/encoder.hpp"
#include "sluice/record.hpp"

namespace sluice::netflow {

// NetFlow times a flow in milliseconds of the exporter's uptime: a packet carries its export
// time (unix_secs) and the uptime then (sysUptime), and collectors take a flow's start as
// unix_secs * 1000 - sysUptime + its FIRST_SWITCHED. The clock chooses, packet by packet, an
// export time in whole seconds and an uptime base (the "boot") that carry every record's
// times to the millisecond within 32 bits, with no wrap for a collector to guess at:
// - the export time is the wall clock's, unless the records are from another time (a capture
//   replayed from the past): then it runs on their clock, from the end of the latest record;
// - the base lies a day before the earliest record it has seen, and moves (as a reboot would)
//   only when a record starts before it or the uptime would pass 32 bits (after 48 days).
class UptimeClock {
public:
    // The widest span of record times one packet carries: older records go in another packet.
    static constexpr std::uint64_t kMaxSpanMs = std::uint64_t{1} << 31;

    struct Stamp {
        std::uint64_t export_ms;  // a whole second: unix_secs * 1000
        std::uint64_t boot_ms;    // export_ms - sysUptime
    };

    // The stamp of a packet leaving at `now_ns` that carries records from `first_ms` to
    // `last_ms` (first_ms > last_ms: no records).
    Stamp stamp(std::uint64_t now_ns, std::uint64_t first_ms, std::uint64_t last_ms);

private:
    std::int64_t offset_ms_ = 0;  // the records' clock minus the wall clock
    std::uint64_t boot_ms_ = 0;
    bool booted_ = false;
};

// A record's first and last times in milliseconds, as NetFlow carries them: a record longer
// than kMaxSpanMs (24.8 days; the dataplane ends records at active_timeout, at most 24 h) has
// its start moved up to that span before its end.
struct Times {
    std::uint64_t first_ms, last_ms;
};
Times times_of(const FlowRecord& record);

// The totals a NetFlow v9 statistics options record carries.
struct Statistics {
    std::uint64_t records_sent = 0, packets_sent = 0, octets_sent = 0;  // to this collector
    std::uint64_t packets = 0;  // received by the metering process
    std::uint64_t ignored_packets = 0, ignored_octets = 0;
    std::uint64_t records_not_sent = 0, packets_not_sent = 0, octets_not_sent = 0;
};

// The largest count a NetFlow v5 record holds.
inline constexpr std::uint64_t kMaxV5Count = 0xffffffff;

// The most records one flow record becomes in NetFlow v5: 4.5 PB, four times what a 100G link
// carries in the longest active timeout (24 h).
inline constexpr std::uint64_t kMaxV5Parts = 1 << 20;

// A record as NetFlow v5 records, whose counters are 32 bits: one, or as many parts as its
// packets or octets need, the counts shared out evenly, each part with the record's times and
// fields. Appended to `out`; false (nothing appended) beyond kMaxV5Parts.
bool split_for_v5(const FlowRecord& record, std::vector<FlowRecord>& out);

// The NetFlow v9 templates: uniflow records of IPv4 and of IPv6, and options templates for
// the statistics, the sampling (every packet: interval 1) and the application names.
inline constexpr std::uint16_t kV9Ipv4Template = 256;
inline constexpr std::uint16_t kV9Ipv6Template = 257;
inline constexpr std::uint16_t kV9StatisticsTemplate = 258;
inline constexpr std::uint16_t kV9SamplingTemplate = 259;
inline constexpr std::uint16_t kV9ApplicationsTemplate = 260;
inline constexpr std::uint16_t kV9InterfacesTemplate = 261;
// The fixed lengths of the application names' strings (NetFlow v9 has no variable length).
inline constexpr std::size_t kV9NameLength = 32;
inline constexpr std::size_t kV9DescriptionLength = 64;
inline constexpr std::size_t kV9InterfaceNameLength = 32;

// Builds one NetFlow v9 export packet at a time into a buffer of at most `max_size` bytes. The
// source id is the observation domain.
class V9Builder {
public:
    static constexpr std::size_t kHeaderSize = 20;
    static constexpr std::size_t kMaxSize = 65535;

    V9Builder(std::uint32_t source_id, std::size_t max_size);

    // Starts a packet whose sequence number counts the export packets sent before it in the
    // session (RFC 3954 section 5.1).
    void begin(std::uint32_t sequence);
    // The data templates, then the options templates; the names' templates when asked.
    bool add_templates(bool application_names, bool interface_names);
    // A uniflow record; false when it does not fit (or its times are too far from the others').
    bool add(const FlowRecord& record);
    // The statistics and the sampling options records.
    bool add_statistics(std::uint32_t source_id, const Statistics& s);
    // An application-names options record; `id` as the data records carry it.
    bool add_application(std::uint32_t id, std::string_view name, std::string_view description);
    // An interface-names options record: INPUT_SNMP, IF_NAME and IF_DESC.
    bool add_interface(std::uint32_t if_index, std::string_view name, std::string_view description);
    // What the records' INPUT_SNMP is, by their ingress port.
    void set_interfaces(const ipfix::InterfaceIndexes& indexes) { if_index_ = indexes; }
    // Ends the packet, stamped for `now_ns`: its bytes, valid until the next begin().
    std::span<const std::uint8_t> finish(std::uint64_t now_ns);

    // What the packet adds to the session's sequence: one packet.
    std::uint32_t sequence_step() const { return 1; }
    std::uint32_t records() const { return records_; }
    // Its IP version's template (v9 records carry no metadata).
    ipfix::DataTemplate data_template(const FlowRecord& record, bool) const;
    bool empty() const { return size_ == kHeaderSize; }
    std::size_t size() const { return size_; }
    std::size_t max_size() const { return max_size_; }

private:
    bool open_set(std::uint16_t set_id, std::size_t record_length);
    void close_set();
    void put(std::uint64_t value, unsigned bytes);
    void put_string(std::string_view text, std::size_t length);

    // Where a record's FIRST_SWITCHED is, and its times: written when the packet's stamp is
    // known, at finish().
    struct Timed {
        std::size_t at;
        std::uint64_t first_ms, last_ms;
    };

    std::uint32_t source_id_;
    std::size_t max_size_;
    std::vector<std::uint8_t> buffer_;
    std::size_t size_ = 0;
    std::size_t set_start_ = 0;  // 0: no set open
    std::uint16_t set_id_ = 0;
    std::uint32_t records_ = 0;
    std::vector<Timed> timed_;
    std::uint64_t first_ms_ = 0, last_ms_ = 0;
    UptimeClock clock_;
    ipfix::InterfaceIndexes if_index_ = ipfix::identity_interfaces();
};

// Builds one NetFlow v5 export packet at a time: at most 30 IPv4 records of 48 bytes. The
// engine type and id are the observation domain's second and first bytes.
class V5Builder {
public:
    static constexpr std::size_t kHeaderSize = 24;
    static constexpr std::size_t kRecordSize = 48;
    static constexpr std::uint32_t kMaxRecords = 30;

    V5Builder(std::uint32_t observation_domain, std::size_t max_size);

    // Starts a packet whose flow_sequence counts the records sent before it in the session.
    void begin(std::uint32_t sequence);
    // An IPv4 record whose counters fit 32 bits (split_for_v5's); false when the packet is full
    // (or its times are too far from the others').
    bool add(const FlowRecord& record);
    std::span<const std::uint8_t> finish(std::uint64_t now_ns);
    // What the records' input is, by their ingress port: 0 where it passes 16 bits.
    void set_interfaces(const ipfix::InterfaceIndexes& indexes) { if_index_ = indexes; }

    std::uint32_t sequence_step() const { return records_; }
    std::uint32_t records() const { return records_; }
    // v5 has no templates: every record is of one form.
    ipfix::DataTemplate data_template(const FlowRecord&, bool) const { return {5, kRecordSize}; }
    bool empty() const { return records_ == 0; }
    std::size_t size() const { return kHeaderSize + records_ * kRecordSize; }
    std::size_t max_size() const { return max_size_; }

private:
    std::uint32_t domain_;
    std::size_t max_size_;
    std::uint8_t buffer_[kHeaderSize + kMaxRecords * kRecordSize] = {};
    std::uint32_t records_ = 0;
    std::uint64_t first_ms_[kMaxRecords] = {}, last_ms_[kMaxRecords] = {};
    std::uint64_t min_first_ms_ = 0, max_last_ms_ = 0;
    UptimeClock clock_;
    ipfix::InterfaceIndexes if_index_ = ipfix::identity_interfaces();
};

}  // namespace sluice::netflow
