// IPFIX (RFC 7011) messages of flow records: template sets and data sets of biflows (RFC 5103).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "elements.hpp"
#include "sluice/record.hpp"

namespace sluice::ipfix {

enum class TimePrecision { milliseconds, nanoseconds };

// A data template: its id and its fields in order.
struct Template {
    std::uint16_t id;
    std::span<const Element> fields;

    std::size_t record_length() const;
};

// The biflow templates for IPv4 and IPv6 records, in the chosen precision.
const Template& biflow_template(int ip_version, TimePrecision precision);

// Builds one message at a time into a buffer of at most `max_size` bytes.
class MessageBuilder {
public:
    static constexpr std::size_t kHeaderSize = 16;

    MessageBuilder(std::uint32_t observation_domain, std::size_t max_size,
                   TimePrecision precision = TimePrecision::milliseconds);

    // Starts a message: export time in seconds since the epoch, sequence number = data records
    // sent before this message in the session (RFC 7011 section 3.1).
    void begin(std::uint32_t export_time, std::uint32_t sequence);

    // A template set with the given templates; false when it does not fit.
    bool add_templates(std::span<const Template* const> templates);

    // A data record, in the data set of its template; false when it does not fit.
    bool add(const FlowRecord& record);

    // Ends the message: its bytes, valid until the next begin().
    std::span<const std::uint8_t> finish();

    std::uint32_t data_records() const { return records_; }
    bool empty() const { return buffer_.size() == kHeaderSize; }

private:
    void close_set();

    std::uint32_t domain_;
    std::size_t max_size_;
    TimePrecision precision_;
    std::vector<std::uint8_t> buffer_;
    std::size_t set_start_ = 0;  // 0: no set open
    std::uint16_t set_id_ = 0;
    std::uint32_t records_ = 0;
};

// dateTimeNanoseconds: NTP format, seconds since 1900 and a 32-bit binary fraction (RFC 7011).
std::uint64_t ntp_timestamp(std::uint64_t unix_ns);

}  // namespace sluice::ipfix
