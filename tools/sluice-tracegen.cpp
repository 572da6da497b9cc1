// sluice-tracegen: writes a pcap of realistic conversations (TCP, UDP, ICMP over IPv4 and IPv6)
// with known totals, for the demo, the tests and the benchmarks.
#include <getopt.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "shared/config/loader.hpp"
#include "shared/records/record_json.hpp"
#include "sluice/metadata.hpp"
#include "sluice/record.hpp"
#include "tools/pktgen/applications.hpp"
#include "tools/pktgen/l7.hpp"
#include "tools/pktgen/packet.hpp"
#include "tools/pktgen/pcap.hpp"

namespace {

using namespace sluice::pktgen;
using sluice::FlowEndReason;
using sluice::FlowRecord;
namespace control = sluice::control;

// Client addresses are 10.x.y.z and 2001:db8:0:1::z:x:y, from the conversation's index.
constexpr unsigned kMaxFlows = 254u << 16;

struct Options {
    std::string out;
    std::string expect;  // where to write the expected records
    unsigned flows = 1000;
    std::uint64_t seed = 1;
    std::uint64_t start_ns = 1'700'000'000ull * 1'000'000'000ull;
    std::uint64_t spread_ns = 10ull * 1'000'000'000ull;  // flow starts are spread over this
    bool long_flow = false;
    bool hostile = false;
    std::string applications;    // a signature file: add its applications' conversations
    unsigned l7 = 0;             // conversations whose metadata the records carry
    unsigned tcp_health = 0;     // TCP conversations with retransmissions, reordering, ...
    bool tunnels = false;        // the conversations sent through tunnels of every kind
    unsigned duplicates = 0;     // every Nth frame sent again, microseconds later
    bool headers = false;        // MACs, classes of service, ... of their own; expected fields
    std::uint32_t linktype = 1;  // the pcap LINKTYPE the frames are written with
    CaptureFormat format = CaptureFormat::pcap;
};

// The link layers --link writes, by the names tcpdump and Wireshark users know them by.
constexpr std::pair<const char*, std::uint32_t> kLinks[] = {
    {"ethernet", 1}, {"sll", 113}, {"sll2", 276},    {"raw", 101},   {"null", 0},
    {"loop", 108},   {"ppp", 9},   {"ppp-hdlc", 50}, {"chdlc", 104},
};

struct Event {
    std::uint64_t time_ns;
    Packet packet;
    std::vector<std::uint8_t> raw;  // a frame written as it is (--hostile), instead of packet
    int conversation = -1;          // --tunnels: the conversation of the first flows it is of
    bool copy = false;              // --duplicates: the second copy of a frame
};

// The biflow record Sluice must produce for a conversation of the trace, when no timeout ends
// it before the trace does (flowEndReason forcedEnd).
struct Expected {
    // What a TCP conversation's record says of its health (docs/export.md's definitions):
    // the times and zero windows from the packets, the retransmitted and reordered segments as
    // the conversation says it made them. By direction: [0] the source's.
    struct Health {
        std::uint64_t last_ns[2] = {};
        std::uint32_t largest_gap_us[2] = {};
        std::uint32_t retransmitted[2] = {}, out_of_order[2] = {}, zero_windows[2] = {};
        std::uint64_t retransmitted_octets[2] = {};
        std::uint64_t ack_ns = 0;  // the initiator's ACK of the SYN/ACK
    };
    enum class Segment { fresh, retransmitted, out_of_order };

    FlowRecord record{};
    sluice::MetadataWriter metadata;  // the fields its record carries
    Health health;
    Packet first[2];  // each direction's first packet: [0] the client's

    void add(const Packet& p, bool from_client, std::uint64_t t, Segment kind = Segment::fresh) {
        FlowRecord& r = record;
        const auto ip_length = build(p).size() - 14 - 4 * (p.vlans.size() + p.mpls_labels);
        if (p.protocol == kTcp) tcp(p, from_client ? 0 : 1, t, kind, ip_length);
        std::uint64_t& packets = from_client ? r.packets : r.reverse_packets;
        std::uint64_t& first = from_client ? r.first_ns : r.reverse_first_ns;
        (from_client ? r.octets : r.reverse_octets) += ip_length;
        (from_client ? r.last_ns : r.reverse_last_ns) = t;
        (from_client ? r.tcp_flags : r.reverse_tcp_flags) |= p.tcp_flags;
        (from_client ? r.minimum_ttl : r.reverse_minimum_ttl) = p.ttl;
        (from_client ? r.maximum_ttl : r.reverse_maximum_ttl) = p.ttl;
        if (packets++ == 0) {
            first = t;
            this->first[from_client ? 0 : 1] = p;
        }
    }

    void tcp(const Packet& p, unsigned d, std::uint64_t t, Segment kind, std::uint64_t ip_length) {
        Health& h = health;
        const std::uint64_t packets = d == 0 ? record.packets : record.reverse_packets;
        if (packets != 0)
            h.largest_gap_us[d] = std::max(h.largest_gap_us[d],
                                           static_cast<std::uint32_t>((t - h.last_ns[d]) / 1000));
        h.last_ns[d] = t;
        if (p.window == 0 && !(p.tcp_flags & (tcp::syn | tcp::fin | tcp::rst))) ++h.zero_windows[d];
        if (kind == Segment::retransmitted) {
            ++h.retransmitted[d];
            h.retransmitted_octets[d] += ip_length;
        }
        if (kind == Segment::out_of_order) ++h.out_of_order[d];
        if (d == 0 && h.ack_ns == 0 && (p.tcp_flags & (tcp::syn | tcp::ack)) == tcp::ack &&
            (record.tcp_flags & tcp::syn) &&
            (record.reverse_tcp_flags & (tcp::syn | tcp::ack)) == (tcp::syn | tcp::ack))
            h.ack_ns = t;
    }

    // The record's metadata after its own fields: a TCP record's health, and with `headers`
    // each direction's first packet's header fields.
    void finish(bool headers) {
        if (record.protocol == kTcp) health_fields();
        if (headers) header_fields();
    }

    void header_fields() {
        using sluice::MetadataField;
        const bool icmp = record.protocol == kIcmp || record.protocol == kIcmpv6;
        for (unsigned d = 0; d < 2; ++d) {
            if ((d == 0 ? record.packets : record.reverse_packets) == 0) continue;
            const Packet& p = first[d];
            const auto id = [d](MetadataField f) { return sluice::of_direction(f, d == 1); };
            metadata.put(id(MetadataField::source_mac), p.src_mac);
            metadata.put(id(MetadataField::destination_mac), p.dst_mac);
            metadata.put_number(id(MetadataField::class_of_service), p.tos, 1);
            if (p.vlans.size() > 1)
                metadata.put_number(id(MetadataField::customer_vlan), p.vlans[1], 2);
            // build()'s top label: 100, traffic class 0, the bottom of the stack when alone.
            if (p.mpls_labels != 0)
                metadata.put_number(id(MetadataField::mpls_top_label),
                                    100u << 4 | (p.mpls_labels == 1 ? 1u : 0u), 4);
            if (p.ip_version == 6)
                metadata.put_number(id(MetadataField::flow_label), p.flow_label, 4);
            if (icmp)
                metadata.put_number(id(MetadataField::icmp_type_code), p.src_port << 8 | p.dst_port,
                                    2);
        }
        record.metadata_groups |= sluice::group_bit(sluice::MetadataGroup::headers);
    }

    void health_fields() {
        using sluice::MetadataField;
        const Health& h = health;
        const FlowRecord& r = record;
        if (h.ack_ns != 0) {
            metadata.put_number(MetadataField::tcp_syn_to_synack_us,
                                (r.reverse_first_ns - r.first_ns) / 1000, 4);
            metadata.put_number(MetadataField::tcp_synack_to_ack_us,
                                (h.ack_ns - r.reverse_first_ns) / 1000, 4);
        }
        for (unsigned d = 0; d < 2; ++d) {
            const auto id = [d](MetadataField f) { return sluice::of_direction(f, d == 1); };
            metadata.put_number(id(MetadataField::tcp_retransmitted_packets), h.retransmitted[d],
                                4);
            metadata.put_number(id(MetadataField::tcp_retransmitted_octets),
                                h.retransmitted_octets[d], 8);
            metadata.put_number(id(MetadataField::tcp_out_of_order), h.out_of_order[d], 4);
            metadata.put_number(id(MetadataField::tcp_zero_windows), h.zero_windows[d], 4);
            metadata.put_number(id(MetadataField::tcp_largest_gap_us), h.largest_gap_us[d], 4);
        }
        record.metadata_groups |= sluice::group_bit(sluice::MetadataGroup::tcp_health);
    }
};

// Sequence numbers that run on, for conversations built a packet at a time: [0] the client's.
struct TcpNumbers {
    std::uint32_t next[2];

    void number(Packet& p, bool from_client) {
        if (p.protocol != kTcp) return;
        std::uint32_t& n = next[from_client ? 0 : 1];
        p.seq = n;
        n += p.payload + ((p.tcp_flags & (tcp::syn | tcp::fin)) ? 1u : 0u);
    }
};

void usage(FILE* out) {
    std::fprintf(
        out,
        "usage: sluice-tracegen --out FILE [--flows N] [--seed N] [--spread SECONDS]\n"
        "                       [--long-flow] [--applications FILE] [--l7 N] [--hostile]\n"
        "                       [--tcp-health N] [--tunnels] [--duplicates N] [--headers]\n"
        "                       [--link NAME] [--format pcap|pcapng] [--expect FILE]\n"
        "Writes N conversations (half TCP, a third UDP, the rest ICMP echo; 30%% IPv6)\n"
        "to FILE and prints their totals as JSON: packets, ip_octets, flows. TCP\n"
        "segments carry sequence numbers that run on, as a real stack's do.\n"
        "--expect writes the record Sluice must make of each conversation, one JSON\n"
        "line each as sluice-control --print-records prints them, when no timeout ends\n"
        "a flow before the trace does.\n"
        "--long-flow adds one more conversation, UDP from 10.255.0.1:40000 to\n"
        "192.0.2.250:9999, a request and a response every 50 ms over the whole spread.\n"
        "--applications FILE adds a conversation per application Sluice identifies by\n"
        "default (and a TCP one joined mid-connection for those whose server speaks\n"
        "first), expecting the ids of the signature FILE.\n"
        "--hostile adds frames no record should show: random bytes, cut frames,\n"
        "broken headers, tunnels too deep, stray fragments, a SYN flood of 3000\n"
        "sources and 2000 packets of one key (--expect does not list them).\n"
        "--l7 N adds N conversations whose first payloads Sluice reads for metadata,\n"
        "in turn TLS (a ClientHello, every third split over two TCP segments, and a\n"
        "ServerHello), HTTP (a request, every third split, its response, and for half a\n"
        "second exchange), DNS over UDP (a query and its response, for half a second\n"
        "query) and QUIC (a client's Initial, every second one's ClientHello over two\n"
        "datagrams in scattered CRYPTO frames; the server's answer), their records\n"
        "expecting the fields (but JA3 and JA4).\n"
        "--tcp-health N adds N TCP conversations whose health records show: handshake\n"
        "times that vary, every third client's segment retransmitted 200 ms later,\n"
        "every third (others) two segments reordered, every fourth server's zero window,\n"
        "every fifth client's keep-alive (which counts as neither).\n"
        "--tunnels sends the N conversations through tunnels, each kind in turn: GRE\n"
        "with a key, NVGRE (Ethernet in GRE), ERSPAN II and III, VXLAN, Geneve, GTP-U\n"
        "and IP in IP, between endpoints 198.18.x.y (or fd00::x:y every third) and with\n"
        "an id of their own; totals and --expect are the conversations inside.\n"
        "--duplicates N sends every Nth frame again, 1 to 50 us after it, as a SPAN\n"
        "of both directions of two ports does; totals and --expect are without the\n"
        "copies, counted apart as duplicates and duplicate_ip_octets (a tunnel's: the\n"
        "outer packet's).\n"
        "--headers gives each conversation header fields of its own: the client's MAC\n"
        "(02:00 and its index) to 02:00:00:00:00:fe and back from 02:00:00:00:01:fe,\n"
        "classes of service and IPv6 flow labels from the index, every 5th in QinQ\n"
        "(VLAN 100 and an inner one), every 7th client's packets in two MPLS labels;\n"
        "--expect's records carry each direction's (sluice's [metadata] headers).\n"
        "--link writes the same packets behind another link layer: ethernet (the\n"
        "default), sll, sll2 (Linux cooked, tcpdump -i any), raw (raw IP), null, loop\n"
        "(BSD loopback), ppp, ppp-hdlc or chdlc (Cisco HDLC).\n"
        "--format pcapng writes a pcapng file (one interface, nanosecond times).\n");
}

// One conversation between a client and a server, each direction's packets in time order.
void conversation(std::mt19937_64& rng, unsigned index, std::uint64_t t, std::vector<Event>& out,
                  Expected& expected, bool headers) {
    std::uniform_int_distribution<int> percent(0, 99);
    const bool v6 = percent(rng) < 30;
    const int kind = percent(rng);
    const auto c = static_cast<std::uint16_t>(index);
    Packet req;
    req.ip_version = v6 ? 6 : 4;
    const auto high = static_cast<std::uint16_t>(index >> 16);
    req.src = v6 ? ipv6(0x2001, 0xdb8, 0, 1, 0, high, c >> 8, c & 0xff)
                 : ipv4(10, static_cast<std::uint8_t>(c >> 8), static_cast<std::uint8_t>(c),
                        static_cast<std::uint8_t>(1 + high));
    req.dst = v6 ? ipv6(0x2001, 0xdb8, 0, 2, 0, 0, 0, static_cast<std::uint16_t>(1 + index % 50))
                 : ipv4(192, 0, 2, static_cast<std::uint8_t>(1 + index % 50));
    req.src_port = static_cast<std::uint16_t>(32768 + index % 28000);
    Packet rsp = req;
    std::swap(rsp.src, rsp.dst);
    rsp.ttl = 60;
    if (headers) {
        // The client's own MAC to its gateway; back from another router. Classes of service,
        // flow labels and inner VLANs of the conversation's own, every 5th in QinQ (outer
        // VLAN 100), every 7th client's packets in two MPLS labels.
        req.src_mac = {0x02,
                       0x00,
                       static_cast<std::uint8_t>(index >> 16),
                       static_cast<std::uint8_t>(index >> 8),
                       static_cast<std::uint8_t>(index),
                       1};
        req.dst_mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0xfe};
        rsp.src_mac = {0x02, 0x00, 0x00, 0x00, 0x01, 0xfe};
        rsp.dst_mac = req.src_mac;
        req.tos = static_cast<std::uint8_t>(index % 256);
        rsp.tos = static_cast<std::uint8_t>((index * 7 + 3) % 256);
        req.flow_label = (index * 2654435761u) & 0xfffff;
        rsp.flow_label = (index * 40503u + 1) & 0xfffff;
        if (index % 5 == 0) {
            req.vlans = {100, static_cast<std::uint16_t>(200 + index % 100)};
            req.outer_tag_type = 0x88a8;
            rsp.vlans = req.vlans;
            rsp.outer_tag_type = 0x88a8;
        }
        if (index % 7 == 0) req.mpls_labels = 2;
    }
    // 0.1 to 5 ms, in whole microseconds: what a pcap reader keeps of a timestamp.
    const auto gap = [&] { return (100 + rng() % 4'900) * 1'000; };
    TcpNumbers numbers{{1000 + index * 7919, 500000 + index * 104729}};
    auto send = [&](Packet p) {
        numbers.number(p, p.src == req.src);
        expected.add(p, p.src == req.src, t);
        out.push_back({t, std::move(p), {}});
        t += gap();
    };
    if (kind < 50) {
        req.protocol = rsp.protocol = kTcp;
        req.dst_port = (index % 3 == 0) ? 443 : (index % 3 == 1 ? 80 : 22);
        rsp.src_port = req.dst_port;
        rsp.dst_port = req.src_port;
        auto with = [](Packet p, std::uint8_t flags, std::uint16_t payload) {
            p.tcp_flags = flags;
            p.payload = payload;
            return p;
        };
        send(with(req, tcp::syn, 0));
        send(with(rsp, tcp::syn | tcp::ack, 0));
        send(with(req, tcp::ack, 0));
        const unsigned exchanges = 1 + static_cast<unsigned>(rng() % 8);
        for (unsigned i = 0; i < exchanges; ++i) {
            send(with(req, tcp::psh | tcp::ack, static_cast<std::uint16_t>(40 + rng() % 400)));
            send(with(rsp, tcp::psh | tcp::ack, static_cast<std::uint16_t>(100 + rng() % 1300)));
        }
        send(with(req, tcp::fin | tcp::ack, 0));
        send(with(rsp, tcp::fin | tcp::ack, 0));
        send(with(req, tcp::ack, 0));
    } else if (kind < 85) {
        req.protocol = rsp.protocol = kUdp;
        req.dst_port = (index % 2 == 0) ? 53 : 123;
        rsp.src_port = req.dst_port;
        rsp.dst_port = req.src_port;
        const unsigned exchanges = 1 + static_cast<unsigned>(rng() % 3);
        for (unsigned i = 0; i < exchanges; ++i) {
            req.payload = static_cast<std::uint16_t>(30 + rng() % 40);
            rsp.payload = static_cast<std::uint16_t>(60 + rng() % 400);
            send(req);
            send(rsp);
        }
    } else {
        req.protocol = rsp.protocol = v6 ? kIcmpv6 : kIcmp;
        expected.record.destination_port = static_cast<std::uint16_t>((v6 ? 128 : 8) << 8);
        req.src_port = v6 ? 128 : 8;  // echo request; "ports" are type and code
        rsp.src_port = v6 ? 129 : 0;  // echo reply
        req.dst_port = rsp.dst_port = 0;
        req.payload = rsp.payload = 56;
        const unsigned pings = 1 + static_cast<unsigned>(rng() % 4);
        for (unsigned i = 0; i < pings; ++i) {
            send(req);
            send(rsp);
        }
    }
}

// A conversation that lasts the whole spread: what active timeouts cut into several records.
void long_conversation(const Options& o, std::vector<Event>& out, Expected& expected) {
    Packet req;
    req.src = ipv4(10, 255, 0, 1);
    req.dst = ipv4(192, 0, 2, 250);
    req.src_port = 40000;
    req.dst_port = 9999;
    req.payload = 100;
    Packet rsp = req;
    std::swap(rsp.src, rsp.dst);
    std::swap(rsp.src_port, rsp.dst_port);
    rsp.ttl = 60;
    rsp.payload = 900;
    constexpr std::uint64_t kStep = 50'000'000;
    for (std::uint64_t t = o.start_ns; t < o.start_ns + o.spread_ns; t += kStep) {
        expected.add(req, true, t);
        out.push_back({t, req, {}});
        expected.add(rsp, false, t + kStep / 2);
        out.push_back({t + kStep / 2, rsp, {}});
    }
}

// The record's key fields, from the flow's first packet (its sender is the initiator).
void key_of(const Packet& p, Expected& e) {
    FlowRecord& r = e.record;
    std::memcpy(r.source_address, p.src.data(), 16);
    std::memcpy(r.destination_address, p.dst.data(), 16);
    r.ip_version = static_cast<std::uint8_t>(p.ip_version);
    r.protocol = p.protocol;
    const bool icmp = p.protocol == kIcmp || p.protocol == kIcmpv6;
    r.source_port = icmp ? 0 : p.src_port;
    if (!icmp) r.destination_port = p.dst_port;
    r.vlan_id = p.vlans.empty() ? 0 : p.vlans[0];
    r.end_reason = FlowEndReason::forced_end;
    // Every TCP conversation begins with its SYN, unless the capture joined it later.
    r.biflow_direction = p.protocol == kTcp && !(p.tcp_flags & tcp::syn) ? 0 : 1;
}

// --applications: a conversation per application sample, with the ids of the signature file;
// and, for a TCP one whose server speaks a signature, one more that the capture joins
// mid-connection, its first packet the server's.
void application_conversations(const Options& o, std::vector<Event>& events,
                               std::vector<Expected>& expected) {
    const auto loaded = sluice::config::load_signatures(o.applications);
    if (!loaded.signatures) throw std::runtime_error(loaded.errors.at(0).to_string());
    auto id_of = [&](const std::string& name) {
        for (const auto& a : loaded.signatures->applications)
            if (a.name == name) return a.id;
        throw std::runtime_error("no application " + name + " in " + o.applications);
    };
    std::uint64_t t = o.start_ns + 1'000'000;
    unsigned n = 0;
    for (const ApplicationSample& sample : application_samples()) {
        for (const bool joined : {false, true}) {
            const bool tcp = sample.protocol == kTcp;
            if (joined && (!tcp || sample.server.empty())) continue;
            Packet client;
            client.protocol = sample.protocol;
            client.src =
                ipv4(10, 254, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n));
            client.dst = ipv4(192, 0, 2, static_cast<std::uint8_t>(100 + n % 100));
            client.src_port = static_cast<std::uint16_t>(40000 + n);
            client.dst_port = sample.port;
            ++n;
            Packet server = client;
            std::swap(server.src, server.dst);
            std::swap(server.src_port, server.dst_port);
            server.ttl = 60;
            auto with = [](Packet p, std::uint8_t flags, const std::string& content) {
                p.tcp_flags = flags;
                p.content = content;
                p.payload = static_cast<std::uint16_t>(content.size());
                return p;
            };
            std::vector<Packet> packets;
            if (joined) {
                packets = {with(server, tcp::psh | tcp::ack, sample.server),
                           with(client, tcp::ack, "")};
            } else if (tcp) {
                packets = {with(client, tcp::syn, ""), with(server, tcp::syn | tcp::ack, ""),
                           with(client, tcp::ack, "")};
                if (!sample.client.empty())
                    packets.push_back(with(client, tcp::psh | tcp::ack, sample.client));
                if (!sample.server.empty())
                    packets.push_back(with(server, tcp::psh | tcp::ack, sample.server));
            } else {
                if (!sample.client.empty()) packets.push_back(with(client, 0, sample.client));
                if (!sample.server.empty()) packets.push_back(with(server, 0, sample.server));
            }
            Expected e;
            TcpNumbers numbers{{1000 + n * 7919, 500000 + n * 104729}};
            for (Packet& p : packets) {
                numbers.number(p, p.src == client.src);
                e.add(p, p.src == packets[0].src, t);
                events.push_back({t, p, {}});
                t += 1'000'000;
            }
            key_of(packets[0], e);
            e.record.application_id = id_of(sample.name);
            expected.push_back(e);
        }
    }
}

// One side of a TCP conversation: its packets carry sequence numbers that run on.
struct TcpSide {
    Packet p;
    std::uint32_t seq;

    Packet next(std::uint8_t flags, const std::string& content) {
        Packet out = p;
        out.tcp_flags = flags;
        out.seq = seq;
        out.content = content;
        out.payload = static_cast<std::uint16_t>(content.size());
        seq +=
            static_cast<std::uint32_t>(content.size()) + ((flags & (tcp::syn | tcp::fin)) ? 1 : 0);
        return out;
    }
};

// The packets of one --l7 conversation, `j` its number among those of its kind, and the
// fields its record carries.
struct L7Conversation {
    std::vector<Packet> packets;
    sluice::MetadataWriter fields;
    std::uint8_t groups = 0;
};

L7Conversation tls_conversation(unsigned j, TcpSide client, TcpSide server) {
    using sluice::MetadataField;
    L7Conversation c;
    // The hello: ALPN h2 and http/1.1 or http/1.1 alone; a TLS 1.3 or a TLS 1.2 server.
    ClientHelloSpec spec = browser_hello("host-" + std::to_string(j) + ".example");
    if (j % 2 == 1) spec.alpn = {"http/1.1"};
    if (j % 3 == 1) spec.ciphers.pop_back();  // clients of other fingerprints
    if (j % 5 == 2) std::erase(spec.extensions, std::uint16_t{0x0015});
    const bool tls13 = j % 2 == 0;
    const std::uint16_t cipher = tls13 ? 0x1301 : 0xc02f;
    const std::string hello = tls_client_hello(spec);
    c.packets = {client.next(tcp::syn, ""), server.next(tcp::syn | tcp::ack, ""),
                 client.next(tcp::ack, "")};
    if (j % 3 == 0) {  // one record over two segments
        c.packets.push_back(client.next(tcp::ack, hello.substr(0, hello.size() / 2)));
        c.packets.push_back(client.next(tcp::psh | tcp::ack, hello.substr(hello.size() / 2)));
    } else {
        c.packets.push_back(client.next(tcp::psh | tcp::ack, hello));
    }
    c.packets.push_back(
        server.next(tcp::psh | tcp::ack, tls_server_hello(0x0303, cipher, tls13 ? 0x0304 : 0)));
    c.packets.push_back(
        client.next(tcp::psh | tcp::ack, std::string("\x17\x03\x03\x00\x05hello", 10)));
    c.packets.push_back(server.next(tcp::fin | tcp::ack, ""));
    c.packets.push_back(client.next(tcp::fin | tcp::ack, ""));
    c.packets.push_back(server.next(tcp::ack, ""));
    c.groups = sluice::group_bit(sluice::MetadataGroup::tls);
    c.fields.put(MetadataField::tls_server_name, spec.server_name);
    c.fields.put(MetadataField::tls_alpn, j % 2 == 1 ? "http/1.1" : "h2,http/1.1");
    c.fields.put_number(MetadataField::tls_client_version, 0x0304, 2);
    c.fields.put_number(MetadataField::tls_server_version, tls13 ? 0x0304 : 0x0303, 2);
    c.fields.put_number(MetadataField::tls_cipher, cipher, 2);
    return c;
}

L7Conversation http_conversation(unsigned j, TcpSide client, TcpSide server) {
    using sluice::MetadataField;
    L7Conversation c;
    const std::string method = j % 4 == 1 ? "POST" : "GET";
    const std::string host = "web-" + std::to_string(j) + ".example";
    const std::string target = "/page/" + std::to_string(j) + "?q=" + std::to_string(j * 7);
    const std::string agent = j % 2 == 0 ? "Mozilla/5.0 (X11; Linux x86_64)" : "curl/7.88.1";
    const unsigned status = j % 5 == 3 ? 404 : 200;
    const std::string request = http_request(method, target, host, agent);
    c.packets = {client.next(tcp::syn, ""), server.next(tcp::syn | tcp::ack, ""),
                 client.next(tcp::ack, "")};
    if (j % 3 == 0) {  // the header section over two segments
        c.packets.push_back(client.next(tcp::ack, request.substr(0, request.size() / 2)));
        c.packets.push_back(client.next(tcp::psh | tcp::ack, request.substr(request.size() / 2)));
    } else {
        c.packets.push_back(client.next(tcp::psh | tcp::ack, request));
    }
    c.packets.push_back(server.next(tcp::psh | tcp::ack, http_response(status, 200 + j % 300)));
    const bool again = j % 2 == 0;  // a second request on the connection
    if (again) {
        c.packets.push_back(
            client.next(tcp::psh | tcp::ack, http_request("GET", "/favicon.ico", host, agent)));
        c.packets.push_back(server.next(tcp::psh | tcp::ack, http_response(404, 0)));
    }
    c.packets.push_back(server.next(tcp::fin | tcp::ack, ""));
    c.packets.push_back(client.next(tcp::fin | tcp::ack, ""));
    c.packets.push_back(server.next(tcp::ack, ""));
    c.groups = sluice::group_bit(sluice::MetadataGroup::http);
    c.fields.put(MetadataField::http_method, method);
    c.fields.put(MetadataField::http_host, host);
    c.fields.put(MetadataField::http_target, target);
    c.fields.put(MetadataField::http_user_agent, agent);
    c.fields.put_number(MetadataField::http_status, status, 2);
    c.fields.put_number(MetadataField::http_requests, again ? 2 : 1, 2);
    return c;
}

L7Conversation dns_conversation(unsigned j, Packet query, Packet answer) {
    using sluice::MetadataField;
    L7Conversation c;
    query.protocol = answer.protocol = kUdp;
    query.dst_port = answer.src_port = 53;
    const std::string name = "name-" + std::to_string(j) + ".example";
    const std::uint16_t type = j % 3 == 2 ? 28 : 1;
    const unsigned rcode = j % 5 == 4 ? 3 : 0;  // NXDOMAIN, no answer
    std::vector<DnsAnswer> answers;
    std::vector<std::uint8_t> listed;  // the addresses as the record carries them
    if (rcode == 0)
        for (unsigned a = 0; a < 1 + j % 2; ++a) {
            DnsAnswer x{type, {}};
            if (type == 1)
                x.data = {198, 51, 100, static_cast<std::uint8_t>(1 + (j + a) % 250)};
            else
                x.data = {0x20,
                          0x01,
                          0x0d,
                          0xb8,
                          0,
                          0,
                          0,
                          0,
                          0,
                          0,
                          0,
                          0,
                          0,
                          0,
                          static_cast<std::uint8_t>(j >> 8),
                          static_cast<std::uint8_t>(j + a)};
            listed.push_back(static_cast<std::uint8_t>(x.data.size()));
            listed.insert(listed.end(), x.data.begin(), x.data.end());
            answers.push_back(x);
        }
    const auto id = static_cast<std::uint16_t>(0x1000 + j);
    const auto with = [](Packet p, const std::string& content) {
        p.content = content;
        p.payload = static_cast<std::uint16_t>(content.size());
        return p;
    };
    c.packets = {with(query, dns_query(id, name, type)),
                 with(answer, dns_response(id, name, type, rcode, answers))};
    const bool again = j % 2 == 1;  // the client asks once more
    if (again) {
        c.packets.push_back(with(query, dns_query(static_cast<std::uint16_t>(id + 1), name, 16)));
        c.packets.push_back(
            with(answer, dns_response(static_cast<std::uint16_t>(id + 1), name, 16, 0, {})));
    }
    c.groups = sluice::group_bit(sluice::MetadataGroup::dns);
    c.fields.put(MetadataField::dns_query_name, name);
    c.fields.put_number(MetadataField::dns_query_type, type, 2);
    c.fields.put_number(MetadataField::dns_response_code, rcode, 1);
    c.fields.put(MetadataField::dns_answers, std::span<const std::uint8_t>(listed));
    c.fields.put_number(MetadataField::dns_queries, again ? 2 : 1, 2);
    return c;
}

L7Conversation quic_conversation(unsigned j, Packet client, Packet server) {
    using sluice::MetadataField;
    L7Conversation c;
    client.protocol = server.protocol = kUdp;
    ClientHelloSpec spec = browser_hello("quic-" + std::to_string(j) + ".example");
    spec.alpn = {"h3"};
    const bool split = j % 2 == 1;  // a hello as long as a post-quantum key share makes it
    if (split) spec.padding = 1400;
    std::string id(8, '\0');
    for (unsigned k = 0; k < 8; ++k) id[k] = static_cast<char>((j * 131 + k * 29) & 0xff);
    const auto with = [](Packet p, const std::string& content) {
        p.content = content;
        p.payload = static_cast<std::uint16_t>(content.size());
        return p;
    };
    for (const std::string& d :
         quic_client_initials(id, client_hello_message(spec), split ? 2 : 1, split ? 4 : 1))
        c.packets.push_back(with(client, d));
    // The server's Handshake packet (its Initial left out), and 1-RTT packets after: none of it
    // read.
    const std::string handshake = std::string("\xe0\x00\x00\x00\x01\x08sluice-c\x08", 15) + id +
                                  "\x43\xe8" + std::string(1000, 's');
    c.packets.push_back(with(server, handshake));
    c.packets.push_back(with(client, "\x40" + std::string(60, 'c')));
    c.packets.push_back(with(server, "\x40" + std::string(300 + j % 200, 's')));
    c.groups = sluice::group_bit(sluice::MetadataGroup::quic);
    c.fields.put_number(MetadataField::quic_version, 1, 4);
    c.fields.put(MetadataField::quic_server_name, spec.server_name);
    c.fields.put(MetadataField::quic_alpn, "h3");
    return c;
}

// --l7: conversations whose metadata their records carry, each field expected: TLS, HTTP, DNS
// and QUIC in turn.
void l7_conversations(const Options& o, std::vector<Event>& events,
                      std::vector<Expected>& expected) {
    std::uint64_t t = o.start_ns + 3'000'000;
    for (unsigned i = 0; i < o.l7; ++i) {
        const unsigned j = i / 4;
        const bool v6 = j % 4 == 3;
        Packet client;
        client.protocol = kTcp;
        client.ip_version = v6 ? 6 : 4;
        client.src =
            v6 ? ipv6(0x2001, 0xdb8, 0, 7, 0, 0, static_cast<std::uint16_t>(i >> 8),
                      static_cast<std::uint16_t>(i & 0xff))
               : ipv4(10, 253, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i));
        client.dst = v6 ? ipv6(0x2001, 0xdb8, 0, 8, 0, 0, 0, static_cast<std::uint16_t>(1 + i % 50))
                        : ipv4(192, 0, 2, static_cast<std::uint8_t>(200 + i % 50));
        client.src_port = static_cast<std::uint16_t>(20000 + i % 40000);
        client.dst_port = i % 4 == 0 || i % 4 == 3 ? 443 : 80;
        Packet server = client;
        std::swap(server.src, server.dst);
        std::swap(server.src_port, server.dst_port);
        server.ttl = 60;
        const TcpSide c{client, 1000 + i * 7919}, s{server, 500000 + i * 104729};
        const L7Conversation conversation = i % 4 == 0   ? tls_conversation(j, c, s)
                                            : i % 4 == 1 ? http_conversation(j, c, s)
                                            : i % 4 == 2 ? dns_conversation(j, client, server)
                                                         : quic_conversation(j, client, server);
        Expected e;
        for (const Packet& p : conversation.packets) {
            e.add(p, p.src == client.src, t);
            events.push_back({t, p, {}});
            t += 200'000;
        }
        key_of(conversation.packets[0], e);
        e.record.metadata_groups = conversation.groups;
        e.metadata = conversation.fields;
        expected.push_back(std::move(e));
    }
}

// --tcp-health: TCP conversations whose health is known, each direction's ACKs true to what
// the other sent. The handshake's times vary with the conversation; then the client sends three
// segments, every third conversation the third before the second (out of order) and every
// third one more the first again 200 ms later (a retransmission: the server had acknowledged
// nothing of them); the server acknowledges them, every fourth conversation first with a zero
// window and then a window update; it answers, the client acknowledges, every fifth
// conversation sends a keep-alive (neither), and both close.
void tcp_health_conversations(const Options& o, std::vector<Event>& events,
                              std::vector<Expected>& expected) {
    using Segment = Expected::Segment;
    for (unsigned j = 0; j < o.tcp_health; ++j) {
        const bool v6 = j % 4 == 3;
        Packet client;
        client.protocol = kTcp;
        client.ip_version = v6 ? 6 : 4;
        client.src =
            v6 ? ipv6(0x2001, 0xdb8, 0, 9, 0, 0, static_cast<std::uint16_t>(j >> 8),
                      static_cast<std::uint16_t>(j & 0xff))
               : ipv4(10, 252, static_cast<std::uint8_t>(j >> 8), static_cast<std::uint8_t>(j));
        client.dst =
            v6 ? ipv6(0x2001, 0xdb8, 0, 10, 0, 0, 0, static_cast<std::uint16_t>(1 + j % 50))
               : ipv4(198, 51, 100, static_cast<std::uint8_t>(1 + j % 50));
        client.src_port = static_cast<std::uint16_t>(30000 + j % 30000);
        client.dst_port = 8443;
        Packet server = client;
        std::swap(server.src, server.dst);
        std::swap(server.src_port, server.dst_port);
        server.ttl = 60;
        const std::uint32_t c0 = 7000 + j * 6151, s0 = 900000 + j * 15485863;
        const auto segment = [](Packet p, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                                std::uint16_t payload, std::uint16_t window = 65535) {
            p.tcp_flags = flags;
            p.seq = seq;
            p.ack = ack;
            p.payload = payload;
            p.window = window;
            return p;
        };
        Expected e;
        std::uint64_t t = o.start_ns + 5'000'000 + std::uint64_t{j} * 1'000'000;
        const auto send = [&](const Packet& p, std::uint64_t at, Segment kind = Segment::fresh) {
            e.add(p, p.src == client.src, at, kind);
            events.push_back({at, p, {}});
        };
        const std::uint64_t synack = t + (100 + j % 20 * 25) * 1000;
        const std::uint64_t ack = synack + (50 + j % 7 * 10) * 1000;
        const std::uint32_t c = c0 + 1, sv = s0 + 1;  // the first data bytes' numbers
        const Packet syn = segment(client, tcp::syn, c0, 0, 0);
        send(syn, t);
        send(segment(server, tcp::syn | tcp::ack, s0, c, 0), synack);
        send(segment(client, tcp::ack, c, sv, 0), ack);
        t = ack + 1'000'000;
        const bool reordered = j % 3 == 1, resent = j % 3 == 0;
        send(segment(client, tcp::ack, c, sv, 200), t);
        if (reordered) {
            send(segment(client, tcp::psh | tcp::ack, c + 400, sv, 200), t + 10'000);
            send(segment(client, tcp::ack, c + 200, sv, 200), t + 15'000, Segment::out_of_order);
        } else {
            send(segment(client, tcp::ack, c + 200, sv, 200), t + 10'000);
            send(segment(client, tcp::psh | tcp::ack, c + 400, sv, 200), t + 20'000);
        }
        if (resent) {
            t += 200'000'000;  // the client's retransmission timeout
            send(segment(client, tcp::ack, c, sv, 200), t, Segment::retransmitted);
        }
        t += 500'000;
        if (j % 4 == 2) {
            send(segment(server, tcp::ack, sv, c + 600, 0, 0), t);
            t += 100'000;
        }
        send(segment(server, tcp::ack, sv, c + 600, 0), t);
        const auto answer = static_cast<std::uint16_t>(300 + j % 500);
        send(segment(server, tcp::psh | tcp::ack, sv, c + 600, answer), t + 500'000);
        send(segment(client, tcp::ack, c + 600, sv + answer, 0), t + 600'000);
        t += 700'000;
        if (j % 5 == 4) {
            send(segment(client, tcp::ack, c + 599, sv + answer, 1), t + 1'000'000);
            t += 1'100'000;
        }
        send(segment(client, tcp::fin | tcp::ack, c + 600, sv + answer, 0), t);
        send(segment(server, tcp::fin | tcp::ack, sv + answer, c + 601, 0), t + 100'000);
        send(segment(client, tcp::ack, c + 601, sv + answer + 1, 0), t + 200'000);
        key_of(syn, e);
        expected.push_back(std::move(e));
    }
}

// --hostile: what a SPAN port of a network under attack carries, none of it a conversation a
// record should show: random bytes, frames cut short, broken IP and TCP headers, tunnels too
// deep, fragment floods, a SYN flood from many sources, a flood of one key.
void hostile_frames(const Options& o, std::vector<Event>& events) {
    std::mt19937_64 rng(o.seed * 7919);
    std::uint64_t t = o.start_ns + 2'000'000;
    auto raw = [&](std::vector<std::uint8_t> f) {
        events.push_back({t, {}, std::move(f)});
        t += 100'000;
    };
    auto packet = [&](const Packet& p) {
        events.push_back({t, p, {}});
        t += 100'000;
    };
    Packet tcp;
    tcp.protocol = kTcp;
    tcp.src = ipv4(198, 51, 100, 7);
    tcp.dst = ipv4(203, 0, 113, 9);
    tcp.src_port = 44000;
    tcp.dst_port = 443;
    tcp.tcp_flags = tcp::ack;
    tcp.payload = 100;
    Packet udp6 = tcp;
    udp6.protocol = kUdp;
    udp6.ip_version = 6;
    udp6.src = ipv6(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 1);
    udp6.dst = ipv6(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 2);
    for (unsigned i = 0; i < 200; ++i) {  // random bytes
        std::vector<std::uint8_t> f(1 + rng() % 200);
        for (auto& b : f) b = static_cast<std::uint8_t>(rng());
        raw(std::move(f));
    }
    for (unsigned i = 0; i < 200; ++i) {  // valid frames cut anywhere
        auto f = build(i % 2 ? tcp : udp6);
        f.resize(1 + rng() % (f.size() - 1));
        raw(std::move(f));
    }
    for (unsigned i = 0; i < 50; ++i) {  // broken headers
        auto ihl = build(tcp);
        ihl[14] = 0x43;  // IHL 3: below 20 bytes
        raw(std::move(ihl));
        auto version = build(tcp);
        version[14] = 0x55;  // IPv5 behind an IPv4 EtherType
        raw(std::move(version));
        auto total = build(tcp);
        total[16] = 0x05, total[17] = 0xdc;  // 1500 bytes in a shorter frame
        raw(std::move(total));
        auto offset = build(tcp);
        offset[14 + 20 + 12] = 0x30;  // a TCP header of 12 bytes
        raw(std::move(offset));
        auto short_l4 = build(tcp);
        short_l4.resize(14 + 20 + 8);  // the IP packet ends, whole, inside its TCP header
        short_l4[16] = 0, short_l4[17] = 28;
        raw(std::move(short_l4));
    }
    for (unsigned i = 0; i < 30; ++i) {  // tunnels too deep
        Packet vlans = tcp;
        vlans.vlans = {10, 20, 30};
        packet(vlans);
        Packet mpls = tcp;
        mpls.mpls_labels = 9;
        packet(mpls);
        Packet ext = udp6;
        ext.ipv6_extensions = std::vector<std::uint8_t>(9, 60);
        packet(ext);
    }
    for (unsigned i = 0; i < 500; ++i) {  // non-first fragments of datagrams never seen
        Packet f = tcp;
        f.protocol = kUdp;
        f.fragmented = true;
        f.fragment = {static_cast<std::uint16_t>(1 + rng() % 1000), rng() % 2 == 0,
                      static_cast<std::uint32_t>(rng())};
        packet(f);
    }
    for (unsigned i = 0; i < 3000; ++i) {  // a SYN flood from many sources
        Packet syn = tcp;
        syn.src = ipv4(100, 64, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i));
        syn.src_port = static_cast<std::uint16_t>(1024 + i);
        syn.tcp_flags = tcp::syn;
        syn.payload = 0;
        packet(syn);
    }
    for (unsigned i = 0; i < 2000; ++i) packet(udp6);  // one key, over and over
}

// The tunnel conversation `index` is sent through, as its client (`from_client`) or its server
// sends: each kind in turn, its own id, endpoints that swap with the direction (but ERSPAN's,
// from the mirroring switch to the sensor whichever way the mirrored packet went).
Tunnel tunnel_of(unsigned index, bool from_client) {
    using Kind = Tunnel::Kind;
    constexpr Kind kKinds[] = {Kind::gre,   Kind::gre,    Kind::erspan2, Kind::erspan3,
                               Kind::vxlan, Kind::geneve, Kind::gtpu,    Kind::ipip};
    const unsigned k = index % std::size(kKinds);
    Tunnel t;
    t.kind = kKinds[k];
    t.key = t.kind == Kind::gre;
    t.ethernet = k == 1 || t.kind == Kind::geneve;  // NVGRE; Geneve of Ethernet
    t.id = t.kind == Kind::erspan2 || t.kind == Kind::erspan3 ? index % 1024 : 1000 + index;
    const auto a = static_cast<std::uint8_t>(index >> 8), b = static_cast<std::uint8_t>(index);
    if (index % 3 == 0) {
        t.ip_version = 6;
        t.src = ipv6(0xfd00, 0, 0, 0, 0, 1, a, b);
        t.dst = ipv6(0xfd00, 0, 0, 0, 0, 2, a, b);
    } else {
        t.src = ipv4(198, 18, a, b);
        t.dst = ipv4(198, 19, a, b);
    }
    t.source_port = static_cast<std::uint16_t>(49152 + index % 16000);
    const bool mirror = t.kind == Kind::erspan2 || t.kind == Kind::erspan3;
    if (!from_client && !mirror) {
        std::swap(t.src, t.dst);
        t.source_port = static_cast<std::uint16_t>(t.source_port + 1);
    }
    return t;
}

// What the record of a conversation sent through `t` (as its client sends) says of it.
void tunnel_fields(const Tunnel& t, Expected& e) {
    using Kind = Tunnel::Kind;
    const bool erspan =
        t.kind == Kind::erspan1 || t.kind == Kind::erspan2 || t.kind == Kind::erspan3;
    const char* name = erspan                   ? "erspan"
                       : t.kind == Kind::gre    ? "gre"
                       : t.kind == Kind::vxlan  ? "vxlan"
                       : t.kind == Kind::geneve ? "geneve"
                       : t.kind == Kind::gtpu   ? "gtpu"
                                                : "ipip";
    const std::size_t bytes = t.ip_version == 6 ? 16 : 4;
    e.metadata.put(sluice::MetadataField::tunnel_technology, name);
    e.metadata.put_number(sluice::MetadataField::tunnel_id,
                          t.kind == Kind::ipip || (t.kind == Kind::gre && !t.key) ? 0 : t.id, 4);
    e.metadata.put(sluice::MetadataField::tunnel_source, {t.src.data(), bytes});
    e.metadata.put(sluice::MetadataField::tunnel_destination, {t.dst.data(), bytes});
    if (t.kind == Kind::erspan2 || t.kind == Kind::erspan3)
        e.metadata.put_number(sluice::MetadataField::erspan_session, t.id, 2);
    e.record.metadata_groups |= sluice::group_bit(sluice::MetadataGroup::tunnel);
}

int run(const Options& o) {
    std::mt19937_64 rng(o.seed);
    std::vector<Event> events;
    std::vector<Expected> expected(o.flows + (o.long_flow ? 1 : 0));
    const std::uint64_t step = o.flows > 1 ? o.spread_ns / o.flows / 1000 * 1000 : 0;
    for (unsigned i = 0; i < expected.size(); ++i) {
        const std::size_t first = events.size();
        if (i == o.flows)
            long_conversation(o, events, expected[i]);
        else
            conversation(rng, i, o.start_ns + step * i, events, expected[i], o.headers);
        key_of(events[first].packet, expected[i]);
        if (o.tunnels && i < o.flows) {
            for (std::size_t e = first; e < events.size(); ++e)
                events[e].conversation = static_cast<int>(i);
            tunnel_fields(tunnel_of(i, true), expected[i]);
        }
    }
    if (!o.applications.empty()) application_conversations(o, events, expected);
    if (o.l7 != 0) l7_conversations(o, events, expected);
    if (o.tcp_health != 0) tcp_health_conversations(o, events, expected);
    for (Expected& e : expected) e.finish(o.headers);
    if (o.hostile) hostile_frames(o, events);
    if (o.duplicates != 0) {
        const std::size_t originals = events.size();
        for (std::size_t i = o.duplicates - 1; i < originals; i += o.duplicates) {
            Event copy = events[i];
            copy.time_ns += (1 + i % 50) * 1000;
            copy.copy = true;
            events.push_back(std::move(copy));
        }
    }
    if (!o.expect.empty()) {
        std::FILE* f = std::fopen(o.expect.c_str(), "w");
        if (f == nullptr) throw std::runtime_error("cannot create " + o.expect);
        for (const auto& e : expected)
            std::fprintf(f, "%s\n", control::to_json(e.record, e.metadata.bytes()).c_str());
        std::fclose(f);
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
    PcapWriter pcap(o.out, o.linktype, o.format);
    std::uint64_t ip_octets = 0, duplicates = 0, duplicate_ip_octets = 0;
    for (const auto& e : events) {
        duplicates += e.copy;
        if (!e.raw.empty()) {
            pcap.write(e.time_ns, reframe(e.raw, o.linktype));
            continue;
        }
        const auto frame = build(e.packet);
        const std::size_t ip_length =
            frame.size() - 14 - 4 * (e.packet.vlans.size() + e.packet.mpls_labels);
        if (e.conversation < 0) {
            (e.copy ? duplicate_ip_octets : ip_octets) += ip_length;
            pcap.write(e.time_ns, reframe(frame, o.linktype));
            continue;
        }
        const auto& client = expected[static_cast<unsigned>(e.conversation)].record;
        const bool from_client =
            std::equal(e.packet.src.begin(), e.packet.src.end(), std::begin(client.source_address));
        const auto outer =
            encapsulate(frame, tunnel_of(static_cast<unsigned>(e.conversation), from_client));
        // A copy is ignored before it is metered: its IP octets are the outer packet's.
        if (e.copy)
            duplicate_ip_octets += outer.size() - 14;
        else
            ip_octets += ip_length;
        pcap.write(e.time_ns, reframe(outer, o.linktype));
    }
    std::printf("{\"file\": \"%s\", \"packets\": %llu, \"ip_octets\": %llu, \"flows\": %u",
                o.out.c_str(), static_cast<unsigned long long>(pcap.packets() - duplicates),
                static_cast<unsigned long long>(ip_octets), static_cast<unsigned>(expected.size()));
    if (o.duplicates != 0)
        std::printf(", \"duplicates\": %llu, \"duplicate_ip_octets\": %llu",
                    static_cast<unsigned long long>(duplicates),
                    static_cast<unsigned long long>(duplicate_ip_octets));
    std::printf("}\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    static const option options[] = {{"out", required_argument, nullptr, 'o'},
                                     {"flows", required_argument, nullptr, 'n'},
                                     {"seed", required_argument, nullptr, 's'},
                                     {"spread", required_argument, nullptr, 'd'},
                                     {"expect", required_argument, nullptr, 'e'},
                                     {"long-flow", no_argument, nullptr, 'l'},
                                     {"applications", required_argument, nullptr, 'a'},
                                     {"hostile", no_argument, nullptr, 'H'},
                                     {"l7", required_argument, nullptr, '7'},
                                     {"tcp-health", required_argument, nullptr, 'T'},
                                     {"tunnels", no_argument, nullptr, 'U'},
                                     {"duplicates", required_argument, nullptr, 'D'},
                                     {"headers", no_argument, nullptr, 'M'},
                                     {"link", required_argument, nullptr, 'L'},
                                     {"format", required_argument, nullptr, 'F'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    for (int opt;
         (opt = getopt_long(argc, argv, "o:n:s:d:e:la:7:T:UD:MHL:F:h", options, nullptr)) != -1;) {
        switch (opt) {
            case 'o': o.out = optarg; break;
            case 'n': o.flows = static_cast<unsigned>(std::strtoul(optarg, nullptr, 10)); break;
            case 's': o.seed = std::strtoull(optarg, nullptr, 10); break;
            case 'd': o.spread_ns = std::strtoull(optarg, nullptr, 10) * 1'000'000'000ull; break;
            case 'e': o.expect = optarg; break;
            case 'l': o.long_flow = true; break;
            case 'a': o.applications = optarg; break;
            case 'H': o.hostile = true; break;
            case 'U': o.tunnels = true; break;
            case 'M': o.headers = true; break;
            case 'D':
                o.duplicates = static_cast<unsigned>(std::strtoul(optarg, nullptr, 10));
                break;
            case '7': o.l7 = static_cast<unsigned>(std::strtoul(optarg, nullptr, 10)); break;
            case 'T':
                o.tcp_health = static_cast<unsigned>(std::strtoul(optarg, nullptr, 10));
                break;
            case 'L': {
                const auto* link =
                    std::find_if(std::begin(kLinks), std::end(kLinks),
                                 [](const auto& l) { return l.first == std::string(optarg); });
                if (link == std::end(kLinks)) {
                    std::fprintf(stderr, "sluice-tracegen: --link %s: unknown link\n", optarg);
                    return 2;
                }
                o.linktype = link->second;
                break;
            }
            case 'F':
                if (std::string(optarg) != "pcap" && std::string(optarg) != "pcapng") {
                    std::fprintf(stderr, "sluice-tracegen: --format %s: pcap or pcapng\n", optarg);
                    return 2;
                }
                o.format =
                    std::string(optarg) == "pcap" ? CaptureFormat::pcap : CaptureFormat::pcapng;
                break;
            case 'h': usage(stdout); return 0;
            default: usage(stderr); return 2;
        }
    }
    if (o.out.empty() || o.flows == 0 || o.flows > kMaxFlows) {
        usage(stderr);
        return 2;
    }
    if (o.headers && (o.tunnels || o.linktype != 1)) {
        std::fprintf(stderr,
                     "sluice-tracegen: --headers writes Ethernet frames of their own, with VLAN "
                     "tags and MPLS labels: not with --tunnels or --link\n");
        return 2;
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluice-tracegen: %s\n", e.what());
        return 1;
    }
}
