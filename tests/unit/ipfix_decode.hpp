// A small RFC 7011 reader for tests: messages decoded with the templates they carry.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <span>
#include <vector>

namespace sluice::ipfix {

inline std::uint64_t get(std::span<const std::uint8_t> b, std::size_t at, unsigned bytes) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i) v = v << 8 | b[at + i];
    return v;
}

struct Field {
    std::uint16_t id;
    std::uint32_t pen;
    std::uint16_t length;
};

// A small RFC 7011 reader: the message header, its templates, and each data record as a map
// from "id/pen" to its bytes.
struct Decoded {
    std::uint16_t version = 0, length = 0;
    std::uint32_t export_time = 0, sequence = 0, domain = 0;
    std::map<std::uint16_t, std::vector<Field>> templates;
    std::map<std::uint16_t, std::uint16_t> scope_fields;  // of options templates
    std::vector<std::pair<std::uint16_t, std::map<std::pair<std::uint16_t, std::uint32_t>,
                                                  std::vector<std::uint8_t>>>>
        records;
    // Each record's fields in template order, as numbers (0 for fields longer than 8 bytes).
    std::vector<std::vector<std::uint64_t>> ordered;

    // `known`: templates a collector learnt from earlier messages of the session.
    explicit Decoded(std::span<const std::uint8_t> m,
                     const std::map<std::uint16_t, std::vector<Field>>& known = {})
        : templates(known) {
        version = static_cast<std::uint16_t>(get(m, 0, 2));
        length = static_cast<std::uint16_t>(get(m, 2, 2));
        export_time = static_cast<std::uint32_t>(get(m, 4, 4));
        sequence = static_cast<std::uint32_t>(get(m, 8, 4));
        domain = static_cast<std::uint32_t>(get(m, 12, 4));
        for (std::size_t at = 16; at < m.size();) {
            const auto set = static_cast<std::uint16_t>(get(m, at, 2));
            const auto set_length = get(m, at + 2, 2);
            EXPECT_GE(set_length, 4u);
            const std::size_t end = at + set_length;
            std::size_t p = at + 4;
            if (set == 2 || set == 3) {
                while (p + 4 <= end) {
                    const auto id = static_cast<std::uint16_t>(get(m, p, 2));
                    const auto count = get(m, p + 2, 2);
                    p += 4;
                    if (set == 3)
                        scope_fields[id] = static_cast<std::uint16_t>(get(m, p, 2)), p += 2;
                    auto& fields = templates[id];
                    fields.clear();
                    for (std::uint64_t i = 0; i < count; ++i) {
                        const auto raw = static_cast<std::uint16_t>(get(m, p, 2));
                        Field f{static_cast<std::uint16_t>(raw & 0x7fff), 0,
                                static_cast<std::uint16_t>(get(m, p + 2, 2))};
                        p += 4;
                        if (raw & 0x8000) f.pen = static_cast<std::uint32_t>(get(m, p, 4)), p += 4;
                        fields.push_back(f);
                    }
                }
            } else {
                const auto& fields = templates.at(set);
                std::size_t shortest = 0;  // a record's least length: variable fields take 1
                for (const Field& f : fields) shortest += f.length == 65535 ? 1 : f.length;
                while (shortest != 0 && p + shortest <= end) {
                    records.push_back({set, {}});
                    ordered.emplace_back();
                    for (const Field& f : fields) {
                        std::size_t length = f.length;
                        if (length == 65535) {  // RFC 7011 section 7: the length comes first
                            length = m[p++];
                            if (length == 255) length = get(m, p, 2), p += 2;
                        }
                        std::vector<std::uint8_t> bytes(m.begin() + static_cast<long>(p),
                                                        m.begin() + static_cast<long>(p + length));
                        records.back().second[{f.id, f.pen}] = bytes;
                        ordered.back().push_back(
                            get(bytes, 0, static_cast<unsigned>(length > 8 ? 0 : length)));
                        p += length;
                    }
                }
                EXPECT_EQ(p, end) << "a data set ends with a whole record";
            }
            at = end;
        }
    }
};

inline std::uint64_t value(const std::vector<std::uint8_t>& bytes) {
    return get(bytes, 0, static_cast<unsigned>(bytes.size()));
}

}  // namespace sluice::ipfix
