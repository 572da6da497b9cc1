// Where a collector's messages go: a UDP, TCP or TLS socket, or an RFC 5655 file.
#pragma once

#include <netdb.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sluice/config.hpp"

namespace sluice::control {

using Steady = std::chrono::steady_clock;

enum class OpenStatus { open, pending, failed };

enum class SendStatus {
    sent,     // the whole message is out
    partial,  // part is out, the channel holds the rest: flush() until sent
    blocked,  // nothing went out (a full socket buffer): try again later
    failed,   // the message is lost; error() says why
};

// A name resolved without blocking the exporter (getaddrinfo_a).
class Resolver {
public:
    Resolver() = default;
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;
    ~Resolver();

    void start(const config::SocketAddress& address, int socktype);
    // pending while the lookup runs; then open with addresses(), or failed with error().
    OpenStatus poll();
    const addrinfo* addresses() const { return result_; }
    const std::string& error() const { return error_; }

private:
    // A lookup in flight: glibc's thread writes into it until it is done or cancelled.
    struct Lookup {
        std::string host, port;
        addrinfo hints{};
        gaicb request{};
    };

    void reset();

    std::unique_ptr<Lookup> lookup_;
    addrinfo* result_ = nullptr;
    std::string error_;
};

class Channel {
public:
    virtual ~Channel() = default;

    // Starts or continues opening: resolving, connecting, creating the file, at `now`.
    virtual OpenStatus open(Steady::time_point now) = 0;
    virtual bool is_open() const = 0;
    virtual SendStatus send(std::span<const std::uint8_t> message) = 0;
    // Messages of `segment` bytes back to back, the last one possibly shorter, in one go: each
    // leaves as a datagram of its own. Only for a channel whose max_batch() exceeds
    // max_message(); all of them go or none (never `partial`).
    virtual SendStatus send_batch(std::span<const std::uint8_t> messages, std::size_t segment) {
        (void)segment;
        return send(messages);
    }
    // Writes what a partial send left; `sent` when nothing is left.
    virtual SendStatus flush() { return SendStatus::sent; }
    // True when an open stream was closed by the peer (its next send would fail).
    virtual bool lost() { return false; }
    // True when the next message should start a new transport session (a file's rotation).
    virtual bool session_over(Steady::time_point) const { return false; }
    // A clean close; a file is kept under its name.
    virtual void close() = 0;
    // Closes at once, dropping what the kernel still queues (a stream is reset): what a stop
    // counted as not sent does not reach the collector after all.
    virtual void abort() { close(); }
    // Ends a session that session_over() reported: a file is renamed and a new one is opened.
    virtual void rotate() { close(); }

    // The largest message this channel carries.
    virtual std::size_t max_message() const = 0;
    // The most bytes of messages one send_batch() takes: more than max_message() only where
    // the kernel cuts a batch into datagrams (UDP segmentation offload). It can fall to
    // max_message() after a send_batch() the path refused.
    virtual std::size_t max_batch() const { return max_message(); }
    // A stream (TCP, a file) learns the templates once; UDP needs them again periodically.
    virtual bool needs_template_refresh() const = 0;
    // What is at the other end, for logs: "udp 127.0.0.1:4739".
    virtual std::string describe() const = 0;
    // TLS handshakes that failed (a certificate not trusted, a protocol error, a timeout).
    virtual std::uint64_t handshake_failures() const { return 0; }
    // A stream's collector host acknowledges what it receives: confirms() says so, written()
    // counts the bytes written on this connection and acknowledged() those acknowledged, both
    // from its start (a closed connection keeps its last figures until the next one opens).
    virtual bool confirms() const { return false; }
    virtual std::uint64_t written() const { return 0; }
    virtual std::uint64_t acknowledged() { return 0; }
    const std::string& error() const { return error_; }

protected:
    std::string error_;
};

std::unique_ptr<Channel> make_channel(const config::Collector& collector);

}  // namespace sluice::control
