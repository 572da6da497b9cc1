// The benchmarks' workload: frames per flow id and flow ids by popularity.
#include "tools/pktgen/workload.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tools/pktgen/packet.hpp"

namespace sluice::pktgen {

// The frame of flow `id`: UDP (or TCP), addresses and ports spread over the id. IPv4 10.a.b.c to
// 172.16.d.e; IPv6 2001:db8::a:b:c to 2001:db8:1::d:e, the same bytes at an address's end.
void write_frame(std::uint8_t* slot, const std::vector<std::uint8_t>& base, std::uint64_t id,
                 std::size_t inner) {
    std::memcpy(slot, base.data(), base.size());
    std::uint8_t* ip = slot + inner + 14;
    const bool v6 = (ip[0] >> 4) == 6;
    std::uint8_t* src = v6 ? ip + 8 + 12 : ip + 12;
    std::uint8_t* dst = v6 ? ip + 24 + 12 : ip + 16;
    if (!v6) {
        src[0] = 10;
        dst[0] = 172;
        dst[1] = 16;
    }
    src[1] = static_cast<std::uint8_t>(id >> 24);
    src[2] = static_cast<std::uint8_t>(id >> 16);
    src[3] = static_cast<std::uint8_t>(id >> 8);
    dst[2] = static_cast<std::uint8_t>(id);
    dst[3] = static_cast<std::uint8_t>(id >> 32);
    const auto sport = static_cast<std::uint16_t>(1024 + id % 50000);
    std::uint8_t* udp = ip + (v6 ? 40 : 20);
    udp[0] = static_cast<std::uint8_t>(sport >> 8);
    udp[1] = static_cast<std::uint8_t>(sport);
}

std::vector<std::uint8_t> base_frame(bool v6, bool tcp) {
    Packet p;
    if (tcp) {  // an ACK without data, padded to the least Ethernet frame
        p.protocol = kTcp;
        p.tcp_flags = tcp::ack;
        p.src_port = 1024;
        p.dst_port = 443;
        auto f = build(p);
        f.resize(kFrameBytes);
        return f;
    }
    p.protocol = kUdp;
    p.src_port = 1024;
    p.dst_port = 443;
    if (v6) {
        p.ip_version = 6;
        p.src = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0);
        p.dst = ipv6(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0);
        p.payload = kFrameBytesIpv6 - 14 - 40 - 8;
    } else {
        p.payload = kFrameBytes - 14 - 20 - 8;
    }
    return build(p);
}

// Zipf by inverse CDF.
std::vector<std::uint32_t> draw_flows(bool zipf, std::uint32_t flows, std::size_t n,
                                      std::mt19937_64& rng) {
    std::vector<std::uint32_t> ids(n);
    if (!zipf) {
        std::uniform_int_distribution<std::uint32_t> u(0, flows - 1);
        for (auto& id : ids) id = u(rng);
        return ids;
    }
    std::vector<double> cdf(flows);
    double sum = 0;
    for (std::uint32_t k = 0; k < flows; ++k)
        cdf[k] = sum += 1.0 / std::pow(static_cast<double>(k + 1), kZipfExponent);
    std::vector<std::uint32_t> rank_to_flow(flows);
    for (std::uint32_t k = 0; k < flows; ++k) rank_to_flow[k] = k;
    std::shuffle(rank_to_flow.begin(), rank_to_flow.end(), rng);
    std::uniform_real_distribution<double> u(0, sum);
    for (auto& id : ids) {
        const auto rank = static_cast<std::size_t>(
            std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
        id = rank_to_flow[std::min<std::size_t>(rank, flows - 1)];
    }
    return ids;
}

}  // namespace sluice::pktgen
