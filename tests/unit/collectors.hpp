// What the collector-session tests share: records to send, loopback sockets to receive them
// on, and what a collector makes of the messages.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "control/export/session.hpp"
#include "sluice/metadata.hpp"
#include "tests/unit/ipfix_decode.hpp"

namespace sluice::control::collector_test {

using namespace std::chrono_literals;
using ipfix::Decoded;

inline FlowRecord record(unsigned i) {
    FlowRecord r{};
    const std::uint8_t src[4] = {10, 0, static_cast<std::uint8_t>(i >> 8),
                                 static_cast<std::uint8_t>(i)};
    const std::uint8_t dst[4] = {192, 0, 2, 1};
    std::memcpy(r.source_address, src, 4);
    std::memcpy(r.destination_address, dst, 4);
    r.ip_version = (i % 3 == 0) ? 6 : 4;
    r.protocol = 17;
    r.source_port = static_cast<std::uint16_t>(1024 + i);
    r.destination_port = 53;
    r.packets = 2;
    r.octets = 100 + i;
    r.reverse_packets = 1;
    r.reverse_octets = 50;
    r.first_ns = 1'700'000'000'000'000'000 + i;
    r.last_ns = r.first_ns + 1000;
    r.end_reason = FlowEndReason::idle_timeout;
    return r;
}

inline std::vector<FlowRecord> records(unsigned n, unsigned from = 0) {
    std::vector<FlowRecord> out;
    for (unsigned i = 0; i < n; ++i) out.push_back(record(from + i));
    return out;
}

// `r` with `groups` and the extension slots that carry `w`'s fields after it: a record's unit.
inline std::vector<FlowRecord> unit_of(const FlowRecord& r, std::uint8_t groups,
                                       const MetadataWriter& w) {
    std::vector<FlowRecord> out(1 + kMaxExtensions);
    out[0] = r;
    out[0].metadata_groups = groups;
    out[0].extensions = static_cast<std::uint8_t>(write_extensions(w.bytes(), &out[1]));
    out.resize(1 + out[0].extensions);
    return out;
}

// record(i) with TLS metadata: server name "host-I.example", cipher 0x1301, version 0x0304,
// its extension slots after it.
inline std::vector<FlowRecord> tls_unit(unsigned i) {
    MetadataWriter w;
    w.put(MetadataField::tls_server_name, "host-" + std::to_string(i) + ".example");
    w.put(MetadataField::tls_alpn, "h2,http/1.1");
    w.put_number(MetadataField::tls_client_version, 0x0304, 2);
    w.put_number(MetadataField::tls_cipher, 0x1301, 2);
    w.put(MetadataField::tls_ja3, "0123456789abcdef0123456789abcdef");
    return unit_of(record(i), group_bit(MetadataGroup::tls), w);
}

// records(n, from) where every `every`-th has TLS metadata (tls_unit).
inline std::vector<FlowRecord> units(unsigned n, unsigned every, unsigned from = 0) {
    std::vector<FlowRecord> out;
    for (unsigned i = from; i < from + n; ++i) {
        const auto u = i % every == 0 ? tls_unit(i) : std::vector<FlowRecord>{record(i)};
        out.insert(out.end(), u.begin(), u.end());
    }
    return out;
}

// Records whose responders' packets have times too, as uniflow records need.
inline std::vector<FlowRecord> timed_records(unsigned n) {
    auto out = records(n);
    for (FlowRecord& r : out) {
        r.reverse_first_ns = r.first_ns + 500;
        r.reverse_last_ns = r.last_ns;
    }
    return out;
}

// Binds `fd` to a free loopback port and returns the port.
inline std::uint16_t bind_loopback(int fd) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

// A socket bound to a free loopback port.
struct Listener {
    int fd;
    std::uint16_t port = 0;

    explicit Listener(int type) : fd(socket(AF_INET, type, 0)) {
        port = bind_loopback(fd);
        if (type == SOCK_STREAM) listen(fd, 4);
    }
    ~Listener() { close(fd); }
};

inline config::Collector collector(config::Transport transport, std::uint16_t port) {
    config::Collector c;
    c.name = "test";
    c.transport = transport;
    c.address = {"127.0.0.1", port};
    c.buffer_size = 1 << 20;
    c.fields.clear();  // records without metadata fields: the tests of metadata add them
    return c;
}

// collector() whose records carry every metadata group, as by default.
inline config::Collector metadata_collector(config::Transport transport, std::uint16_t port) {
    config::Collector c = collector(transport, port);
    c.fields = config::Collector{}.fields;
    return c;
}

// The real channel of a collector, with its sends counted: how many system calls the session
// made, and how many of them were batches.
class CountedChannel final : public Channel {
public:
    explicit CountedChannel(const config::Collector& c) : inner_(make_channel(c)) {}

    OpenStatus open(Steady::time_point now) override { return inner_->open(now); }
    bool is_open() const override { return inner_->is_open(); }
    SendStatus send(std::span<const std::uint8_t> m) override {
        ++*sends;
        return inner_->send(m);
    }
    SendStatus send_batch(std::span<const std::uint8_t> m, std::size_t segment) override {
        ++*batches;
        const SendStatus s = inner_->send_batch(m, segment);
        error_ = inner_->error();
        return s;
    }
    void close() override { inner_->close(); }
    std::size_t max_message() const override { return inner_->max_message(); }
    std::size_t max_batch() const override { return inner_->max_batch(); }
    bool needs_template_refresh() const override { return inner_->needs_template_refresh(); }
    std::string describe() const override { return inner_->describe(); }

    std::shared_ptr<int> sends = std::make_shared<int>(0);
    std::shared_ptr<int> batches = std::make_shared<int>(0);

private:
    std::unique_ptr<Channel> inner_;
};

inline void roomy_receive_buffer(int fd) {
    const int bytes = 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes));
}

// Every datagram waiting on a UDP socket.
inline std::vector<std::vector<std::uint8_t>> datagrams(int fd) {
    std::vector<std::vector<std::uint8_t>> out;
    std::vector<std::uint8_t> buf(65536);
    ssize_t n;
    while ((n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT)) > 0)
        out.emplace_back(buf.begin(), buf.begin() + n);
    return out;
}

// A TCP stream or a file cut into its messages by their length fields.
inline std::vector<std::vector<std::uint8_t>> messages(const std::vector<std::uint8_t>& stream) {
    std::vector<std::vector<std::uint8_t>> out;
    for (std::size_t at = 0; at + 16 <= stream.size();) {
        const std::size_t length = ipfix::get(stream, at + 2, 2);
        EXPECT_GE(length, 16u);
        if (length < 16 || at + length > stream.size()) break;
        out.emplace_back(stream.begin() + static_cast<long>(at),
                         stream.begin() + static_cast<long>(at + length));
        at += length;
    }
    return out;
}

inline bool is_flow_template(std::uint16_t set) {
    return set < 260 || (set >= 264 && set < 268) || set >= 272;
}

// What a collector makes of a session's messages.
struct Received {
    std::vector<Decoded> messages;
    std::size_t flow_records = 0;        // biflow 256-259, uniflow 264-267, with metadata 272-
    std::size_t statistics_records = 0;  // metering and exporting reliability statistics
    std::size_t other_records = 0;       // the domain's name, the applications' names

    explicit Received(const std::vector<std::vector<std::uint8_t>>& raw) {
        std::map<std::uint16_t, std::vector<ipfix::Field>> known;
        std::uint32_t expected_sequence = 0;
        for (const auto& m : raw) {
            messages.emplace_back(m, known);
            const Decoded& d = messages.back();
            known = d.templates;
            EXPECT_EQ(d.sequence, expected_sequence) << "RFC 7011: data records sent before";
            expected_sequence += static_cast<std::uint32_t>(d.records.size());
            for (const auto& [set, fields] : d.records)
                (is_flow_template(set) ? flow_records
                 : set < 262           ? statistics_records
                                       : other_records) += 1;
        }
    }
};

inline const Reliability kReliability{.packets = 1000,
                                      .frame_octets = 90000,
                                      .metered_octets = 80000,
                                      .ignored_packets = 7,
                                      .ignored_octets = 500,
                                      .ignored_frame_octets = 700,
                                      .records_not_sent = 2,
                                      .packets_not_sent = 20,
                                      .octets_not_sent = 2000,
                                      .since_ns = 1'700'000'000'000'000'000,
                                      .until_ns = 1'700'000'060'000'000'000};

// What a stream brings within 5 s, until `at_least` bytes or its end.
inline std::vector<std::uint8_t> read_stream(int fd, std::size_t at_least) {
    std::vector<std::uint8_t> out;
    std::vector<std::uint8_t> buf(65536);
    const auto deadline = Steady::now() + 5s;
    while (out.size() < at_least && Steady::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        out.insert(out.end(), buf.begin(), buf.begin() + n);
    }
    return out;
}

// A TCP collector's port: bound, listening only once listen() is called (until then a
// connection is refused).
struct Port {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    std::uint16_t port = 0;

    explicit Port(int receive_buffer = 0) {
        if (receive_buffer != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
        port = bind_loopback(fd);
    }
    ~Port() { close(fd); }
    void listen() const { ::listen(fd, 4); }
    // A connection that arrives while `step` runs, or -1.
    template <typename Step>
    int accept_while(Step step) const {
        for (int i = 0; i < 200; ++i) {
            step();
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 5) == 1) return accept(fd, nullptr, nullptr);
        }
        return -1;
    }
};

// What a stream brings that is there now: complete messages only, as a collector reads them.
inline Received drain(int fd) {
    std::vector<std::uint8_t> stream, buf(65536);
    for (ssize_t n; (n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;)
        stream.insert(stream.end(), buf.begin(), buf.begin() + n);
    return Received(messages(stream));
}

// Each record's octetDeltaCount: record(i) carries 100 + i.
inline std::vector<std::uint64_t> octets(const Received& r) {
    std::vector<std::uint64_t> out;
    for (const Decoded& d : r.messages)
        for (const auto& [set, fields] : d.records)
            if (const auto f = fields.find({1, 0}); f != fields.end() && (set < 260 || set >= 264))
                out.push_back(ipfix::value(f->second));
    return out;
}

}  // namespace sluice::control::collector_test
