// Fuzz target: arbitrary flow records through the IPFIX encoder. The input is records of 128
// bytes (their fields as they fall) and a byte choosing the time precision and the shape (biflows,
// or uniflow records made of them); every message is decoded back with the templates it announces
// and compared field by field with its records.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "control/ipfix/encoder.hpp"

using namespace sluice;
using namespace sluice::ipfix;

namespace {

std::uint64_t get(const std::uint8_t* p, unsigned bytes) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i) v = v << 8 | p[i];
    return v;
}

void check(bool ok) {
    if (!ok) std::abort();
}

// What the field `e` of record `r` must hold, worked out here independently of the encoder.
void check_field(const Element& e, const std::uint8_t* p, const FlowRecord& r, bool ns) {
    auto time = [ns](std::uint64_t t) { return ns ? ntp_timestamp(t) : t / 1'000'000; };
    auto reverse_time = [&](std::uint64_t t) { return t == 0 ? 0 : time(t); };
    const std::uint64_t v = e.length <= 8 ? get(p, e.length) : 0;
    const bool reverse = e.pen == kReversePen;
    switch (e.id) {
        case 8: check(std::memcmp(p, r.source_address, 4) == 0); break;
        case 12: check(std::memcmp(p, r.destination_address, 4) == 0); break;
        case 27: check(std::memcmp(p, r.source_address, 16) == 0); break;
        case 28: check(std::memcmp(p, r.destination_address, 16) == 0); break;
        case 7: check(v == r.source_port); break;
        case 11: check(v == r.destination_port); break;
        case 4: check(v == r.protocol); break;
        case 58: check(v == r.vlan_id); break;
        case 10: check(v == r.ingress_port); break;
        case 239: check(v == r.biflow_direction); break;
        case 1: check(v == (reverse ? r.reverse_octets : r.octets)); break;
        case 2: check(v == (reverse ? r.reverse_packets : r.packets)); break;
        case 152:
        case 156:
            check(v == (reverse ? reverse_time(r.reverse_first_ns) : time(r.first_ns)));
            break;
        case 153:
        case 157: check(v == (reverse ? reverse_time(r.reverse_last_ns) : time(r.last_ns))); break;
        case 6: check(v == (reverse ? r.reverse_tcp_flags : r.tcp_flags)); break;
        case 52: check(v == (reverse ? r.reverse_minimum_ttl : r.minimum_ttl)); break;
        case 53: check(v == (reverse ? r.reverse_maximum_ttl : r.maximum_ttl)); break;
        case 136: check(v == static_cast<std::uint8_t>(r.end_reason)); break;
        case 95:
            check(v == (r.application_id == 0 ? 0
                                              : (std::uint64_t{kApplicationEngine} << 24 |
                                                 (r.application_id & 0xffffff))));
            break;
        default: check(false);  // a field this check does not know
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const bool ns = data[0] & 1;
    const TimePrecision precision = ns ? TimePrecision::nanoseconds : TimePrecision::milliseconds;
    const Records shape = (data[0] & 2) ? Records::uniflow : Records::biflow;
    std::vector<FlowRecord> records;
    for (std::size_t at = 1; at + sizeof(FlowRecord) <= size; at += sizeof(FlowRecord)) {
        FlowRecord r;
        std::memcpy(&r, data + at, sizeof(r));
        r.ip_version = (r.ip_version & 1) ? 6 : 4;  // the dataplane makes nothing else
        if (shape == Records::biflow) {
            records.push_back(r);
            continue;
        }
        FlowRecord parts[2];
        const unsigned n = to_uniflow(r, parts);
        check(n == (r.packets != 0) + (r.reverse_packets != 0));
        for (unsigned i = 0; i < n; ++i) {
            check(parts[i].reverse_packets == 0 && parts[i].reverse_octets == 0);
            records.push_back(parts[i]);
        }
    }
    MessageBuilder b(7, 1472, precision, shape);
    std::size_t next = 0;
    std::uint32_t sequence = 0;
    while (next < records.size()) {
        b.begin(sequence);
        const std::size_t first = next;
        while (next < records.size() && b.add(records[next])) ++next;
        check(next > first);  // a record always fits in an empty message
        const auto m = b.finish(1);
        check(get(&m[0], 2) == 10 && get(&m[2], 2) == m.size() && m.size() <= 1472);
        check(get(&m[8], 4) == sequence && get(&m[12], 4) == 7);
        // Data sets in order, each record as its template says.
        std::size_t r = first;
        for (std::size_t at = 16; at < m.size();) {
            const auto set = static_cast<std::uint16_t>(get(&m[at], 2));
            const std::size_t end = at + get(&m[at + 2], 2);
            check(end <= m.size() && end > at + 4);
            std::size_t p = at + 4;
            while (p < end) {
                check(r < next);
                const Template& t = flow_template(records[r].ip_version, precision, shape);
                check(set == t.id);
                for (const Element& e : t.fields) {
                    check(p + e.length <= end);
                    check_field(e, &m[p], records[r], ns);
                    p += e.length;
                }
                ++r;
            }
            at = end;
        }
        check(r == next);
        sequence += static_cast<std::uint32_t>(next - first);
    }
    return 0;
}
