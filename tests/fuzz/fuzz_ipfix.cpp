// Fuzz target: arbitrary flow records through the IPFIX, NetFlow v9 and NetFlow v5 encoders. The
// input is records of 128 bytes (their fields as they fall) and a byte choosing the protocol, the
// time precision and the shape (biflows, or uniflow records made of them); every message is
// decoded back and compared field by field with its records. For NetFlow, each record's times
// come back exactly from unix_secs, sysUptime and its switched times, within 32 bits.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "control/ipfix/encoder.hpp"
#include "control/netflow/netflow.hpp"
#include "shared/config/units.hpp"

using namespace sluice;
using namespace sluice::ipfix;

namespace {

constexpr std::uint64_t kLatestNs = 4'000'000'000'000'000'000;  // 2096

std::uint64_t get(const std::uint8_t* p, unsigned bytes) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i) v = v << 8 | p[i];
    return v;
}

// A failed check says which one, then aborts: what libFuzzer reports as a crash.
void check(bool ok, int line = __builtin_LINE()) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_ipfix: the check at line %d failed\n", line);
    std::abort();
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
        case 61:  // flowDirection, with the local networks 10.0.0.0/8 and 2000::/3
            check(v == (r.ip_version == 4 ? r.source_address[0] == 10
                                          : (r.source_address[0] & 0xe0) == 0x20));
            break;
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

std::uint64_t application(std::uint32_t id) {
    return id == 0 ? 0 : (std::uint64_t{kApplicationEngine} << 24 | (id & 0xffffff));
}

// A record's times in ms, its start no more than 2^31 ms before its end.
netflow::Times expected_times(const FlowRecord& f) {
    const std::uint64_t last = f.last_ns / 1'000'000, span = std::uint64_t{1} << 31;
    return {std::max(f.first_ns / 1'000'000, last > span ? last - span : 0), last};
}

// The time a NetFlow packet gives a switched time: its boot plus the offset, in ms.
std::uint64_t boot_ms(const std::uint8_t* m) {
    const std::uint64_t uptime = get(m + 4, 4), export_ms = get(m + 8, 4) * 1000;
    check(export_ms >= uptime);
    return export_ms - uptime;
}

// Uniflow records in NetFlow v9 packets of data flowsets 256 (IPv4) and 257 (IPv6).
void check_v9(const std::vector<FlowRecord>& records, std::uint64_t now_ns) {
    netflow::V9Builder b(7, 1472);
    std::size_t next = 0;
    for (std::uint32_t sequence = 0; next < records.size(); ++sequence) {
        b.begin(sequence);
        const std::size_t first = next;
        while (next < records.size() && b.add(records[next])) ++next;
        check(next > first);
        const auto m = b.finish(now_ns);
        check(get(&m[0], 2) == 9 && get(&m[2], 2) == next - first && m.size() <= 1472);
        check(get(&m[12], 4) == sequence && get(&m[16], 4) == 7);
        const std::uint64_t boot = boot_ms(m.data()), uptime = get(&m[4], 4);
        std::size_t r = first;
        for (std::size_t at = 20; at < m.size();) {
            const auto set = get(&m[at], 2);
            const std::size_t end = at + get(&m[at + 2], 2);
            check(end <= m.size() && end > at + 4 && (end - at) % 4 == 0);
            const int version = set == netflow::kV9Ipv6Template ? 6 : 4;
            check(set == (version == 6 ? netflow::kV9Ipv6Template : netflow::kV9Ipv4Template));
            check(r < next && records[r].ip_version == version);
            const std::size_t length = b.data_template(records[r], false).length;
            const std::size_t address = version == 6 ? 16 : 4;
            std::size_t p = at + 4;
            for (; p + length <= end; p += length, ++r) {
                check(r < next && records[r].ip_version == version);
                const FlowRecord& f = records[r];
                const std::uint8_t* q = &m[p + 2 * address];
                check(std::memcmp(&m[p], f.source_address, address) == 0);
                check(std::memcmp(&m[p + address], f.destination_address, address) == 0);
                check(get(q, 2) == f.source_port && get(q + 2, 2) == f.destination_port);
                check(q[4] == f.protocol && get(q + 5, 2) == f.vlan_id);
                check(get(q + 7, 4) == f.ingress_port);
                check(get(q + 11, 8) == f.octets && get(q + 19, 8) == f.packets);
                const netflow::Times t = expected_times(f);
                check(boot + get(q + 27, 4) == t.first_ms && boot + get(q + 31, 4) == t.last_ms);
                check(get(q + 31, 4) <= uptime);  // no record ends after its export
                check(q[35] == f.tcp_flags && q[36] == f.minimum_ttl && q[37] == f.maximum_ttl);
                check(q[38] == static_cast<std::uint8_t>(f.end_reason));
                check(get(q + 39, 4) == application(f.application_id));
                const bool icmp = f.protocol == 1 || f.protocol == 58;
                check(get(q + 43, 2) == (icmp ? f.destination_port : 0));
            }
            check(end - p < 4);  // padding only
            at = end;
        }
        check(r == next);
    }
}

// IPv4 uniflow records, split to 32-bit counts, in NetFlow v5 packets.
void check_v5(const std::vector<FlowRecord>& uniflows, std::uint64_t now_ns) {
    std::vector<FlowRecord> records;
    for (FlowRecord r : uniflows) {
        if (r.ip_version != 4) continue;
        // Counts that need a few parts, or far too many; not a million of 128 bytes each.
        const std::uint64_t parts = std::max(r.packets, r.octets) / netflow::kMaxV5Count;
        if (parts > 64 && parts <= 2 * netflow::kMaxV5Parts) {
            r.packets %= 64 * netflow::kMaxV5Count;
            r.octets %= 64 * netflow::kMaxV5Count;
        }
        const std::size_t from = records.size();
        if (!netflow::split_for_v5(r, records)) {
            check(std::max(r.packets, r.octets) / netflow::kMaxV5Count >= netflow::kMaxV5Parts);
            continue;
        }
        std::uint64_t packets = 0, octets = 0;
        for (std::size_t i = from; i < records.size(); ++i) {
            check(records[i].packets <= netflow::kMaxV5Count);
            check(records[i].octets <= netflow::kMaxV5Count);
            packets += records[i].packets;
            octets += records[i].octets;
        }
        check(packets == r.packets && octets == r.octets);
    }
    netflow::V5Builder b(0x0102, 1472);
    std::size_t next = 0;
    for (std::uint32_t sequence = 0; next < records.size();) {
        b.begin(sequence);
        const std::size_t first = next;
        while (next < records.size() && b.add(records[next])) ++next;
        check(next > first);
        const auto m = b.finish(now_ns);
        const std::size_t count = next - first;
        check(get(&m[0], 2) == 5 && get(&m[2], 2) == count && count <= 30);
        check(m.size() == 24 + 48 * count && get(&m[12], 4) == 0 && get(&m[16], 4) == sequence);
        check(m[20] == 1 && m[21] == 2);
        const std::uint64_t boot = boot_ms(m.data());
        for (std::size_t i = 0; i < count; ++i) {
            const std::uint8_t* q = &m[24 + 48 * i];
            const FlowRecord& f = records[first + i];
            check(std::memcmp(q, f.source_address, 4) == 0);
            check(std::memcmp(q + 4, f.destination_address, 4) == 0);
            check(get(q + 12, 2) == f.ingress_port);
            check(get(q + 16, 4) == f.packets && get(q + 20, 4) == f.octets);
            const netflow::Times t = expected_times(f);
            check(boot + get(q + 24, 4) == t.first_ms && boot + get(q + 28, 4) == t.last_ms);
            check(get(q + 32, 2) == f.source_port && get(q + 34, 2) == f.destination_port);
            check(q[37] == f.tcp_flags && q[38] == f.protocol);
        }
        sequence += static_cast<std::uint32_t>(count);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const unsigned protocol = (data[0] >> 2) & 3;  // 1: NetFlow v9, 2: NetFlow v5, else IPFIX
    const bool ns = data[0] & 1;
    const TimePrecision precision = ns ? TimePrecision::nanoseconds : TimePrecision::milliseconds;
    const bool netflow = protocol == 1 || protocol == 2;
    const Records shape = (data[0] & 2) || netflow ? Records::uniflow : Records::biflow;
    const bool direction = data[0] & 16;  // local networks: flowDirection in the records
    std::vector<FlowRecord> records;
    for (std::size_t at = 1; at + sizeof(FlowRecord) <= size; at += sizeof(FlowRecord)) {
        FlowRecord r;
        std::memcpy(&r, data + at, sizeof(r));
        r.ip_version = (r.ip_version & 1) ? 6 : 4;  // the dataplane makes nothing else
        // Nor times that run backwards, or past 2096 (NetFlow's unix_secs end in 2106).
        for (std::uint64_t* t : {&r.first_ns, &r.last_ns, &r.reverse_first_ns, &r.reverse_last_ns})
            *t %= kLatestNs;
        if (r.first_ns > r.last_ns) std::swap(r.first_ns, r.last_ns);
        if (r.reverse_first_ns > r.reverse_last_ns)
            std::swap(r.reverse_first_ns, r.reverse_last_ns);
        if (r.ingress_port >= kMaxInterfaces) r.ingress_port %= kMaxInterfaces;
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
    // The wall clock of the export: the first record's own bytes, so that it falls before,
    // among or after the records' times.
    std::uint64_t now_ns = 1'800'000'000'000'000'000;
    if (!records.empty()) std::memcpy(&now_ns, records[0].reserved, sizeof(records[0].reserved));
    now_ns %= kLatestNs;
    if (protocol == 1) {
        check_v9(records, now_ns);
        return 0;
    }
    if (protocol == 2) {
        check_v5(records, now_ns);
        return 0;
    }
    MessageBuilder b(7, 1472, precision, shape);
    if (direction)
        b.set_local_networks(
            {*config::parse_network("10.0.0.0/8").value, *config::parse_network("2000::/3").value});
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
                const Template& t =
                    flow_template(records[r].ip_version, precision, shape, direction);
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
