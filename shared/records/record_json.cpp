// A flow record as one line of JSON, for scripts and tests.
#include "shared/records/record_json.hpp"

#include <arpa/inet.h>

#include <cinttypes>
#include <cstdio>

#include "sluice/metadata.hpp"

namespace sluice::control {

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char u[8];
                    std::snprintf(u, sizeof(u), "\\u%04x", c);
                    out += u;
                } else {
                    out.push_back(c);
                }
        }
    }
    return out + "\"";
}

namespace {

// An address of `n` bytes (4: IPv4, 16: IPv6) as a JSON string.
std::string address_json(const std::uint8_t* address, std::size_t n) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(n == 4 ? AF_INET : AF_INET6, address, text, sizeof(text));
    return json_string(text);
}

// The metadata's fields as `, "name": value` each.
std::string metadata_json(std::span<const std::uint8_t> metadata) {
    std::string out;
    MetadataReader reader(metadata);
    for (MetadataReader::Field f; reader.next(f);) {
        out += ", " + json_string(f.info->name) + ": ";
        switch (f.info->type) {
            case MetadataType::string: out += json_string(f.text()); break;
            case MetadataType::addresses: {
                out += "[";
                for (std::size_t at = 0; at < f.value.size();) {
                    const std::size_t n = f.value[at];
                    if ((n != 4 && n != 16) || at + 1 + n > f.value.size()) break;
                    out += (at == 0 ? "" : ", ") + address_json(&f.value[at + 1], n);
                    at += 1 + n;
                }
                out += "]";
                break;
            }
            case MetadataType::mac: {
                char text[18] = "";
                const std::uint8_t* m = f.value.data();
                if (f.value.size() == 6)
                    std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
                                  m[2], m[3], m[4], m[5]);
                out += json_string(text);
                break;
            }
            case MetadataType::address: {
                const std::size_t n = f.value.size();
                out += n == 4 || n == 16 ? address_json(f.value.data(), n) : json_string("");
                break;
            }
            default: out += std::to_string(f.number()); break;
        }
    }
    return out;
}

}  // namespace

std::string to_json(const FlowRecord& r, std::span<const std::uint8_t> metadata) {
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    const int family = r.ip_version == 6 ? AF_INET6 : AF_INET;
    inet_ntop(family, r.source_address, src, sizeof(src));
    inet_ntop(family, r.destination_address, dst, sizeof(dst));
    char line[1024];
    std::snprintf(
        line, sizeof(line),
        "{\"src\": \"%s\", \"dst\": \"%s\", \"sport\": %u, \"dport\": %u, \"proto\": %u, "
        "\"vlan\": %u, \"packets\": %" PRIu64 ", \"octets\": %" PRIu64 ", \"rpackets\": %" PRIu64
        ", \"roctets\": %" PRIu64 ", \"first_ns\": %" PRIu64 ", \"last_ns\": %" PRIu64
        ", \"rfirst_ns\": %" PRIu64 ", \"rlast_ns\": %" PRIu64
        ", \"flags\": %u, \"rflags\": %u, \"min_ttl\": %u, \"max_ttl\": %u, \"rmin_ttl\": %u, "
        "\"rmax_ttl\": %u, \"app\": %u, \"port\": %u, \"end_reason\": %u, \"direction\": %u}",
        src, dst, r.source_port, r.destination_port, r.protocol, r.vlan_id, r.packets, r.octets,
        r.reverse_packets, r.reverse_octets, r.first_ns, r.last_ns, r.reverse_first_ns,
        r.reverse_last_ns, r.tcp_flags, r.reverse_tcp_flags, r.minimum_ttl, r.maximum_ttl,
        r.reverse_minimum_ttl, r.reverse_maximum_ttl, r.application_id, r.ingress_port,
        static_cast<unsigned>(r.end_reason), r.biflow_direction);
    if (metadata.empty()) return line;
    std::string out(line);
    out.pop_back();  // the closing brace
    return out + metadata_json(metadata) + "}";
}

}  // namespace sluice::control
