// A NetFlow v9 and v5 decoder for tests: packets as a collector reads them (RFC 3954), with
// the flows' times recovered the way collectors do, from unix_secs, sysUptime and the switched
// times.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <span>
#include <vector>

namespace sluice::netflow {

inline std::uint64_t be(std::span<const std::uint8_t> b, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v << 8 | b[at + i];
    return v;
}

struct V9Field {
    std::uint16_t type, length;
};
struct V9Template {
    std::vector<V9Field> scope, fields;
};
// A record: its flowset (template) id and each field's value, by type (the first of a type).
struct V9Record {
    std::uint16_t set;
    std::map<std::uint16_t, std::vector<std::uint8_t>> fields;

    std::uint64_t value(std::uint16_t type) const {
        const auto& f = fields.at(type);
        return be(f, 0, f.size());
    }
};

struct V9Packet {
    std::uint16_t count = 0;
    std::uint32_t uptime = 0, unix_secs = 0, sequence = 0, source_id = 0;
    std::vector<V9Record> records;
    std::size_t template_records = 0;

    // The boot a collector takes: unix_secs * 1000 - sysUptime.
    std::uint64_t boot_ms() const { return std::uint64_t{unix_secs} * 1000 - uptime; }

    // Decodes `b` with the templates known so far, adding those it defines.
    V9Packet(std::span<const std::uint8_t> b, std::map<std::uint16_t, V9Template>& known) {
        EXPECT_GE(b.size(), 20u);
        EXPECT_EQ(be(b, 0, 2), 9u);
        count = static_cast<std::uint16_t>(be(b, 2, 2));
        uptime = static_cast<std::uint32_t>(be(b, 4, 4));
        unix_secs = static_cast<std::uint32_t>(be(b, 8, 4));
        sequence = static_cast<std::uint32_t>(be(b, 12, 4));
        source_id = static_cast<std::uint32_t>(be(b, 16, 4));
        for (std::size_t at = 20; at + 4 <= b.size();) {
            const auto id = static_cast<std::uint16_t>(be(b, at, 2));
            const std::size_t length = be(b, at + 2, 2);
            EXPECT_EQ(length % 4, 0u) << "RFC 3954: flowsets padded to 4 bytes";
            EXPECT_GT(length, 4u);
            EXPECT_LE(at + length, b.size());
            if (length <= 4 || at + length > b.size()) return;
            const std::size_t end = at + length;
            std::size_t p = at + 4;
            if (id == 0) {
                while (p + 4 <= end) {
                    const auto tid = static_cast<std::uint16_t>(be(b, p, 2));
                    const std::size_t n = be(b, p + 2, 2);
                    V9Template t;
                    for (std::size_t i = 0; i < n; ++i)
                        t.fields.push_back({static_cast<std::uint16_t>(be(b, p + 4 + 4 * i, 2)),
                                            static_cast<std::uint16_t>(be(b, p + 6 + 4 * i, 2))});
                    known[tid] = t;
                    ++template_records;
                    p += 4 + 4 * n;
                }
            } else if (id == 1) {
                const auto tid = static_cast<std::uint16_t>(be(b, p, 2));
                const std::size_t scopes = be(b, p + 2, 2) / 4, options = be(b, p + 4, 2) / 4;
                V9Template t;
                for (std::size_t i = 0; i < scopes + options; ++i)
                    (i < scopes ? t.scope : t.fields)
                        .push_back({static_cast<std::uint16_t>(be(b, p + 6 + 4 * i, 2)),
                                    static_cast<std::uint16_t>(be(b, p + 8 + 4 * i, 2))});
                known[tid] = t;
                ++template_records;
            } else {
                EXPECT_TRUE(known.contains(id)) << "data before its template: " << id;
                if (!known.contains(id)) return;
                const V9Template& t = known.at(id);
                std::size_t record = 0;
                for (const auto& f : t.scope) record += f.length;
                for (const auto& f : t.fields) record += f.length;
                while (p + record <= end) {
                    V9Record r{id, {}};
                    for (const auto* list : {&t.scope, &t.fields})
                        for (const V9Field& f : *list) {
                            r.fields.try_emplace(f.type, b.begin() + static_cast<long>(p),
                                                 b.begin() + static_cast<long>(p + f.length));
                            p += f.length;
                        }
                    records.push_back(std::move(r));
                }
                EXPECT_LT(end - p, 4u) << "only padding after the last record";
            }
            at = end;
        }
    }
};

struct V5Record {
    std::uint8_t source[4], destination[4];
    std::uint16_t input, source_port, destination_port;
    std::uint32_t packets, octets, first, last;
    std::uint8_t tcp_flags, protocol;
};

struct V5Packet {
    std::uint16_t count = 0;
    std::uint32_t uptime = 0, unix_secs = 0, unix_nsecs = 0, sequence = 0;
    std::uint8_t engine_type = 0, engine_id = 0;
    std::uint16_t sampling = 0;
    std::vector<V5Record> records;

    std::uint64_t boot_ms() const {
        return std::uint64_t{unix_secs} * 1000 + unix_nsecs / 1'000'000 - uptime;
    }

    explicit V5Packet(std::span<const std::uint8_t> b) {
        EXPECT_GE(b.size(), 24u);
        EXPECT_EQ(be(b, 0, 2), 5u);
        count = static_cast<std::uint16_t>(be(b, 2, 2));
        EXPECT_EQ(b.size(), 24u + 48u * count);
        uptime = static_cast<std::uint32_t>(be(b, 4, 4));
        unix_secs = static_cast<std::uint32_t>(be(b, 8, 4));
        unix_nsecs = static_cast<std::uint32_t>(be(b, 12, 4));
        sequence = static_cast<std::uint32_t>(be(b, 16, 4));
        engine_type = b[20];
        engine_id = b[21];
        sampling = static_cast<std::uint16_t>(be(b, 22, 2));
        for (std::size_t i = 0; i < count && 24 + 48 * (i + 1) <= b.size(); ++i) {
            const std::size_t p = 24 + 48 * i;
            V5Record r{};
            std::copy_n(&b[p], 4, r.source);
            std::copy_n(&b[p + 4], 4, r.destination);
            r.input = static_cast<std::uint16_t>(be(b, p + 12, 2));
            r.packets = static_cast<std::uint32_t>(be(b, p + 16, 4));
            r.octets = static_cast<std::uint32_t>(be(b, p + 20, 4));
            r.first = static_cast<std::uint32_t>(be(b, p + 24, 4));
            r.last = static_cast<std::uint32_t>(be(b, p + 28, 4));
            r.source_port = static_cast<std::uint16_t>(be(b, p + 32, 2));
            r.destination_port = static_cast<std::uint16_t>(be(b, p + 34, 2));
            r.tcp_flags = b[p + 37];
            r.protocol = b[p + 38];
            records.push_back(r);
        }
    }
};

}  // namespace sluice::netflow
