// A flow record as one line of JSON, for scripts and tests.
#include "shared/records/record_json.hpp"

#include <arpa/inet.h>

#include <cinttypes>
#include <cstdio>

namespace sluice::control {

std::string to_json(const FlowRecord& r) {
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
    return line;
}

}  // namespace sluice::control
