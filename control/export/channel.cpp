// Where a collector's messages go: a UDP, TCP or TLS socket, or an RFC 5655 file.
#include "control/export/channel.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <openssl/x509v3.h>

#include "shared/config/units.hpp"
#include "sluice/log.hpp"

namespace sluice::control {
namespace {

std::string errno_text(int err) {
    return std::strerror(err);
}

// A socket to a collector: resolves its name, then creates and connects the socket.
class SocketChannel : public Channel {
public:
    SocketChannel(const config::Collector& c, int socktype)
        : address_(c.address),
          socktype_(socktype),
          mtu_(c.mtu),
          ack_timeout_ms_(static_cast<unsigned>(
              std::chrono::duration_cast<std::chrono::milliseconds>(c.ack_timeout).count())) {}
    ~SocketChannel() override { close_socket(); }

    // Resolves the name, then tries its addresses in order until one connects; the next
    // attempt after a failure resolves the name again.
    OpenStatus open(Steady::time_point) override {
        if (fd_ >= 0 && connected_) return OpenStatus::open;
        if (fd_ < 0 && candidate_ == nullptr) {
            if (!resolving_) {
                resolver_.start(address_, socktype_);
                resolving_ = true;
            }
            const OpenStatus r = resolver_.poll();
            if (r == OpenStatus::pending) return r;
            resolving_ = false;
            if (r == OpenStatus::failed) {
                error_ = "cannot resolve \"" + address_.host + "\": " + resolver_.error();
                return r;
            }
            candidate_ = resolver_.addresses();
        }
        while (true) {
            if (fd_ < 0) {
                if (candidate_ == nullptr) return OpenStatus::failed;  // error_: the last one's
                fd_ = socket(candidate_->ai_family, socktype_ | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd_ < 0) {
                    next_candidate("cannot create a socket", errno);
                    continue;
                }
                family_ = candidate_->ai_family;
                // Data the collector does not acknowledge for ack_timeout ends the connection,
                // also when its window stays shut (Linux counts zero-window probes too).
                if (socktype_ == SOCK_STREAM)
                    setsockopt(fd_, IPPROTO_TCP, TCP_USER_TIMEOUT, &ack_timeout_ms_,
                               sizeof(ack_timeout_ms_));
                if (connect(fd_, candidate_->ai_addr, candidate_->ai_addrlen) == 0)
                    return connected();
                if (errno != EINPROGRESS) {
                    next_candidate("cannot connect", errno);
                    continue;
                }
                return OpenStatus::pending;
            }
            // A TCP connect in progress: writable once it is done, SO_ERROR says how.
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, 0) <= 0 || (p.revents & (POLLOUT | POLLERR | POLLHUP)) == 0)
                return OpenStatus::pending;
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == 0) return connected();
            next_candidate("cannot connect", err);
        }
    }

    bool is_open() const override { return fd_ >= 0 && connected_; }

    void close() override {
        close_socket();
        candidate_ = nullptr;
    }

    std::string describe() const override {
        return std::string(socktype_ == SOCK_STREAM ? "tcp " : "udp ") +
               config::format_socket_address(address_);
    }

    bool confirms() const override { return socktype_ == SOCK_STREAM; }
    std::uint64_t written() const override { return written_bytes_; }
    // What was written less what the kernel still queues unacknowledged (SIOCOUTQ, which
    // still answers once the connection has failed).
    std::uint64_t acknowledged() override {
        int queued = 0;
        if (fd_ >= 0 && socktype_ == SOCK_STREAM && ioctl(fd_, SIOCOUTQ, &queued) == 0 &&
            queued >= 0 && static_cast<std::uint64_t>(queued) <= written_bytes_)
            acked_bytes_ = written_bytes_ - static_cast<std::uint64_t>(queued);
        return acked_bytes_;
    }

protected:
    OpenStatus connected() {
        written_bytes_ = acked_bytes_ = 0;
        connected_ = true;
        candidate_ = nullptr;
        error_.clear();
        return OpenStatus::open;
    }

    // The address being tried failed: say why, and move to the next one.
    void next_candidate(const char* what, int err) {
        char host[NI_MAXHOST] = "?";
        getnameinfo(candidate_->ai_addr, candidate_->ai_addrlen, host, sizeof(host), nullptr, 0,
                    NI_NUMERICHOST);
        error_ = std::string(what) + " to " + host + ": " + errno_text(err);
        close_socket();
        candidate_ = candidate_->ai_next;
    }

    // The next close resets the connection, dropping what is queued.
    void reset_on_close() {
        const linger now{1, 0};
        if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_LINGER, &now, sizeof(now));
    }

    void close_socket() {
        if (fd_ >= 0) SocketChannel::acknowledged();  // the last figure, kept
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        connected_ = false;
    }

    config::SocketAddress address_;
    int socktype_;
    std::uint16_t mtu_;
    Resolver resolver_;
    bool resolving_ = false;
    const addrinfo* candidate_ = nullptr;  // the address being tried, in resolver_'s list
    int fd_ = -1;
    int family_ = AF_INET;
    bool connected_ = false;
    unsigned ack_timeout_ms_;
    // Bytes of this connection, as TCP sees them: written to the socket, acknowledged.
    std::uint64_t written_bytes_ = 0;
    std::uint64_t acked_bytes_ = 0;
};

class UdpChannel final : public SocketChannel {
public:
    explicit UdpChannel(const config::Collector& c)
        : SocketChannel(c, SOCK_DGRAM), segmentation_refused_(!c.segmentation_offload) {}

    OpenStatus open(Steady::time_point now) override {
        const OpenStatus s = SocketChannel::open(now);
        if (s == OpenStatus::open && !segmentation_refused_) {
            int size = 0;
            socklen_t length = sizeof(size);
            segmentation_ = getsockopt(fd_, SOL_UDP, UDP_SEGMENT, &size, &length) == 0;
        }
        return s;
    }

    SendStatus send(std::span<const std::uint8_t> m) override {
        if (::send(fd_, m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return SendStatus::sent;
        return send_error(errno);
    }

    // One sendmsg() with UDP_SEGMENT: the kernel cuts the batch into datagrams of `segment`
    // bytes, one message each, at the cost of about one datagram's send.
    SendStatus send_batch(std::span<const std::uint8_t> m, std::size_t segment) override {
        if (!segmentation_) return SendStatus::blocked;  // max_batch() fell meanwhile
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint16_t))] = {};
        iovec part{const_cast<std::uint8_t*>(m.data()), m.size()};
        msghdr h{};
        h.msg_iov = &part;
        h.msg_iovlen = 1;
        h.msg_control = control;
        h.msg_controllen = sizeof(control);
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const auto size = static_cast<std::uint16_t>(segment);
        std::memcpy(CMSG_DATA(c), &size, sizeof(size));
        if (sendmsg(fd_, &h, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return SendStatus::sent;
        const int err = errno;
        if (err == EINVAL || err == EIO || err == EMSGSIZE || err == EOPNOTSUPP) {
            // The path cannot segment (a route MTU below the collector's `mtu`, a device
            // without checksum offload): nothing went out; one datagram per send from now on.
            segmentation_ = false;
            segmentation_refused_ = true;
            error_ = "the path refused a segmented batch: " + errno_text(err);
            return SendStatus::blocked;
        }
        return send_error(err);
    }

    // The MTU less the IP and UDP headers: 1500 gives 1472 bytes of IPFIX over IPv4.
    std::size_t max_message() const override {
        const std::size_t headers = (family_ == AF_INET6 ? 40 : 20) + 8;
        return std::min<std::size_t>(mtu_ - headers, kMaxDatagram);
    }

    std::size_t max_batch() const override {
        const std::size_t message = max_message();
        if (!segmentation_) return message;
        return std::min(kMaxSegments, kMaxDatagram / message) * message;
    }
    bool needs_template_refresh() const override { return true; }

private:
    // The most a UDP datagram carries over IPv4 (IPv6 takes 20 bytes more), and the most
    // segments the kernel cuts one send into (UDP_MAX_SEGMENTS).
    static constexpr std::size_t kMaxDatagram = 65507;
    static constexpr std::size_t kMaxSegments = 64;

    SendStatus send_error(int err) {
        if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return SendStatus::blocked;
        // ECONNREFUSED: an earlier datagram met a closed port. The socket stays usable.
        error_ = errno_text(err);
        return SendStatus::failed;
    }

    bool segmentation_ = false;
    bool segmentation_refused_;  // by the configuration, or by the path
};

class TcpChannel final : public SocketChannel {
public:
    explicit TcpChannel(const config::Collector& c) : SocketChannel(c, SOCK_STREAM) {}

    OpenStatus open(Steady::time_point now) override {
        const OpenStatus s = SocketChannel::open(now);
        if (s == OpenStatus::open) pending_.clear();
        return s;
    }

    SendStatus send(std::span<const std::uint8_t> m) override {
        const ssize_t n = ::send(fd_, m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return SendStatus::blocked;
        if (n < 0) return lose(errno);
        written_bytes_ += static_cast<std::uint64_t>(n);
        if (static_cast<std::size_t>(n) == m.size()) return SendStatus::sent;
        pending_.assign(m.begin() + n, m.end());
        return SendStatus::partial;
    }

    SendStatus flush() override {
        if (pending_.empty()) return SendStatus::sent;
        const ssize_t n =
            ::send(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return SendStatus::partial;
        if (n < 0) return lose(errno);
        written_bytes_ += static_cast<std::uint64_t>(n);
        pending_.erase(pending_.begin(), pending_.begin() + n);
        return pending_.empty() ? SendStatus::sent : SendStatus::partial;
    }

    // A collector that closed its end makes the socket readable with nothing to read.
    bool lost() override {
        if (!is_open()) return false;
        char byte;
        const ssize_t n = recv(fd_, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return false;
        lose(n == 0 ? ECONNRESET : errno);
        error_ = n == 0 ? "the collector closed the connection" : error_;
        return true;
    }

    // Sends what is queued, then closes: the collector reads to the end of the stream.
    void close() override {
        if (is_open()) shutdown(fd_, SHUT_WR);
        pending_.clear();
        close_socket();
    }

    void abort() override {
        reset_on_close();
        pending_.clear();
        close_socket();
        candidate_ = nullptr;
    }

    std::size_t max_message() const override { return 65535; }
    bool needs_template_refresh() const override { return false; }

private:
    SendStatus lose(int err) {
        error_ = errno_text(err);
        pending_.clear();
        close_socket();
        return SendStatus::failed;
    }

    std::vector<std::uint8_t> pending_;
};

// RFC 5655: a file of IPFIX messages, each file a transport session of its own that starts with
// its templates. A finished file is renamed with the UTC time it was started, so `path` is
// always the file being written.
class FileChannel final : public Channel {
public:
    explicit FileChannel(const config::Collector& c)
        : path_(c.path), rotate_size_(c.rotate_size), rotate_interval_(c.rotate_interval) {}
    ~FileChannel() override { close(); }

    OpenStatus open(Steady::time_point now) override {
        if (fd_ >= 0) return OpenStatus::open;
        // A file left by an earlier run is a session of its own: keep it under its own name.
        struct stat st {};
        if (stat(path_.c_str(), &st) == 0 && st.st_size > 0) {
            if (!keep(st.st_mtim.tv_sec)) return OpenStatus::failed;
        }
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) {
            error_ = "cannot create " + path_ + ": " + errno_text(errno);
            return OpenStatus::failed;
        }
        started_ = std::time(nullptr);
        opened_ = now;
        written_ = 0;
        error_.clear();
        return OpenStatus::open;
    }

    bool is_open() const override { return fd_ >= 0; }

    SendStatus send(std::span<const std::uint8_t> m) override {
        // At the end of the last whole message: after a failed write, the next message
        // replaces what part of this one got in, and the file stays whole messages.
        std::size_t done = 0;
        while (done < m.size()) {
            const ssize_t n = ::pwrite(fd_, m.data() + done, m.size() - done,
                                       static_cast<off_t>(written_ + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                error_ = "cannot write " + path_ + ": " + errno_text(errno);
                if (ftruncate(fd_, static_cast<off_t>(written_)) != 0) close();
                return SendStatus::failed;
            }
            done += static_cast<std::size_t>(n);
        }
        written_ += m.size();
        return SendStatus::sent;
    }

    bool session_over(Steady::time_point now) const override {
        return fd_ >= 0 && written_ > 0 &&
               ((rotate_size_ != 0 && written_ >= rotate_size_) ||
                (rotate_interval_.count() != 0 && now - opened_ >= rotate_interval_));
    }

    void close() override {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    void rotate() override {
        close();
        keep(started_);
    }

    std::size_t max_message() const override { return 65535; }
    bool needs_template_refresh() const override { return false; }
    std::string describe() const override { return "file " + path_; }

private:
    // Renames `path` to `path.YYYYmmddTHHMMSSZ` (with .1, .2, ... when taken).
    bool keep(std::time_t started) {
        char stamp[32];
        std::tm tm{};
        gmtime_r(&started, &tm);
        std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        std::string kept = path_ + "." + stamp;
        std::error_code ec;
        for (unsigned i = 1; std::filesystem::exists(kept, ec); ++i)
            kept = path_ + "." + stamp + "." + std::to_string(i);
        if (std::rename(path_.c_str(), kept.c_str()) != 0) {
            error_ = "cannot rename " + path_ + " to " + kept + ": " + errno_text(errno);
            return false;
        }
        SLUICE_INFO("%s is complete: kept as %s", path_.c_str(), kept.c_str());
        return true;
    }

    std::string path_;
    std::uint64_t rotate_size_;
    config::Duration rotate_interval_;
    int fd_ = -1;
    std::time_t started_ = 0;
    Steady::time_point opened_{};
    std::uint64_t written_ = 0;
};

}  // namespace

Resolver::~Resolver() {
    reset();
}

void Resolver::reset() {
    if (lookup_ && gai_cancel(&lookup_->request) == EAI_NOTCANCELED) {
        // glibc's lookup thread still writes into the request: wait a little, and if it is
        // still running, leave the request to it rather than stall the exporter.
        const gaicb* list[] = {&lookup_->request};
        const timespec second{1, 0};
        if (gai_suspend(list, 1, &second) != 0) lookup_.release();
    }
    if (lookup_ && lookup_->request.ar_result != nullptr) freeaddrinfo(lookup_->request.ar_result);
    lookup_.reset();
    if (result_ != nullptr) freeaddrinfo(result_);
    result_ = nullptr;
}

void Resolver::start(const config::SocketAddress& address, int socktype) {
    reset();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
    const std::string port = std::to_string(address.port);
    // An address literal needs no lookup.
    if (getaddrinfo(address.host.c_str(), port.c_str(), &hints, &result_) == 0) return;
    result_ = nullptr;
    lookup_ = std::make_unique<Lookup>();
    lookup_->host = address.host;
    lookup_->port = port;
    lookup_->hints = hints;
    lookup_->hints.ai_flags &= ~AI_NUMERICHOST;
    lookup_->request.ar_name = lookup_->host.c_str();
    lookup_->request.ar_service = lookup_->port.c_str();
    lookup_->request.ar_request = &lookup_->hints;
    gaicb* list[] = {&lookup_->request};
    const int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr);
    error_ = rc == 0 ? "" : gai_strerror(rc);
    if (rc != 0) lookup_.reset();
}

OpenStatus Resolver::poll() {
    if (!lookup_) return result_ != nullptr ? OpenStatus::open : OpenStatus::failed;
    const int rc = gai_error(&lookup_->request);
    if (rc == EAI_INPROGRESS) return OpenStatus::pending;
    if (rc != 0) {
        error_ = rc == EAI_SYSTEM ? errno_text(errno) : gai_strerror(rc);
        lookup_.reset();
        return OpenStatus::failed;
    }
    result_ = lookup_->request.ar_result;
    lookup_->request.ar_result = nullptr;
    lookup_.reset();
    return OpenStatus::open;
}

// OpenSSL's reasons for the last failure, oldest first ("certificate verify failed").
std::string openssl_errors() {
    std::string text;
    for (unsigned long e; (e = ERR_get_error()) != 0;) {
        char line[256];
        ERR_error_string_n(e, line, sizeof(line));
        const char* reason = ERR_reason_error_string(e);
        text += (text.empty() ? "" : "; ") + std::string(reason != nullptr ? reason : line);
    }
    return text;
}

// OpenSSL writes to its socket without MSG_NOSIGNAL: while one lives, SIGPIPE is held for
// this thread, and one raised by a write to a closed connection is taken, not delivered.
class HoldSigpipe {
public:
    HoldSigpipe() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~HoldSigpipe() {
        if (!was_pending_) {
            const timespec none{0, 0};
            while (sigtimedwait(&pipe_, nullptr, &none) == SIGPIPE) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    HoldSigpipe(const HoldSigpipe&) = delete;
    HoldSigpipe& operator=(const HoldSigpipe&) = delete;

private:
    sigset_t pipe_, old_;
    bool was_pending_ = false;
};

bool is_ip_literal(const std::string& host) {
    in6_addr a;
    return inet_pton(AF_INET, host.c_str(), &a) == 1 || inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

// IPFIX over TLS over TCP (RFC 7011 section 10.4): TLS 1.2 or later, the collector's
// certificate verified against ca_file (or the system's CAs) and for server_name (or the host
// of the address), and this sensor's certificate when one is configured.
class TlsChannel final : public SocketChannel {
public:
    explicit TlsChannel(const config::Collector& c)
        : SocketChannel(c, SOCK_STREAM),
          ca_file_(c.ca_file),
          server_name_(c.server_name.empty() ? c.address.host : c.server_name),
          certificate_(c.certificate),
          private_key_(c.private_key) {}
    ~TlsChannel() override {
        drop();
        if (context_ != nullptr) SSL_CTX_free(context_);
    }

    OpenStatus open(Steady::time_point now) override {
        if (ssl_ != nullptr && handshaken_) return OpenStatus::open;
        if (ssl_ == nullptr) {
            const OpenStatus s = SocketChannel::open(now);  // the TCP connection
            if (s != OpenStatus::open) return s;
            if (!start()) {
                drop();
                return OpenStatus::failed;
            }
            deadline_ = now + kHandshakeTimeout;
        }
        return handshake(now);
    }

    bool is_open() const override { return SocketChannel::is_open() && handshaken_; }

    SendStatus send(std::span<const std::uint8_t> m) override {
        const SendStatus s = write(m);
        if (s == SendStatus::partial) pending_.assign(m.begin() + written_, m.end());
        return s;
    }

    SendStatus flush() override {
        if (pending_.empty()) return SendStatus::sent;
        const SendStatus s = write(pending_);
        if (s == SendStatus::blocked) return SendStatus::partial;
        if (s == SendStatus::partial)
            pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(written_));
        if (s == SendStatus::sent) pending_.clear();
        return s;
    }

    // A collector sends nothing but its TLS records (session tickets): read and dropped. Its
    // close_notify, or a closed connection, ends the session.
    bool lost() override {
        if (!is_open()) return false;
        // Nothing arrived, as almost always: no TLS work, and no signal mask to change.
        char byte;
        if (recv(fd_, &byte, 1, MSG_DONTWAIT | MSG_PEEK) < 0 &&
            (errno == EAGAIN || errno == EWOULDBLOCK) && SSL_pending(ssl_) == 0)
            return false;
        const HoldSigpipe hold;
        for (char buffer[4096];;) {
            ERR_clear_error();
            const int n = SSL_read(ssl_, buffer, sizeof(buffer));
            if (n > 0) continue;
            const int e = SSL_get_error(ssl_, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return false;
            lose(e, n);
            if (e == SSL_ERROR_ZERO_RETURN) error_ = "the collector closed the TLS session";
            return true;
        }
    }

    // A close_notify after what is queued, then the end of the stream.
    void close() override {
        if (is_open()) {
            const HoldSigpipe hold;
            SSL_shutdown(ssl_);
        }
        if (fd_ >= 0) shutdown(fd_, SHUT_WR);
        drop();
        candidate_ = nullptr;
    }

    void abort() override {
        reset_on_close();
        drop();
        candidate_ = nullptr;
    }

    std::size_t max_message() const override { return 65535; }
    bool needs_template_refresh() const override { return false; }
    std::string describe() const override {
        return "tls " + config::format_socket_address(address_);
    }
    std::uint64_t handshake_failures() const override { return handshake_failures_; }

private:
    static constexpr Steady::duration kHandshakeTimeout = std::chrono::seconds(10);

    // The context, once: the CAs and this sensor's certificate are read when first needed.
    bool start() {
        ERR_clear_error();
        if (context_ == nullptr && !make_context()) return false;
        ssl_ = SSL_new(context_);
        SSL_set_fd(ssl_, fd_);
        if (is_ip_literal(server_name_)) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_name_.c_str());
        } else {
            SSL_set_tlsext_host_name(ssl_, server_name_.c_str());
            SSL_set1_host(ssl_, server_name_.c_str());
        }
        SSL_set_connect_state(ssl_);
        handshaken_ = false;
        return true;
    }

    bool make_context() {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        if (c == nullptr) {
            error_ = "cannot set up TLS: " + openssl_errors();
            return false;
        }
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
        SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        const bool cas = ca_file_.empty()
                             ? SSL_CTX_set_default_verify_paths(c) == 1
                             : SSL_CTX_load_verify_locations(c, ca_file_.c_str(), nullptr) == 1;
        if (!cas) {
            error_ = "cannot read the CAs of ca_file " + ca_file_ + ": " + openssl_errors();
        } else if (!certificate_.empty() &&
                   SSL_CTX_use_certificate_chain_file(c, certificate_.c_str()) != 1) {
            error_ = "cannot read the certificate " + certificate_ + ": " + openssl_errors();
        } else if (!private_key_.empty() &&
                   (SSL_CTX_use_PrivateKey_file(c, private_key_.c_str(), SSL_FILETYPE_PEM) != 1 ||
                    SSL_CTX_check_private_key(c) != 1)) {
            error_ = "cannot use the private key " + private_key_ + ": " + openssl_errors();
        } else {
            context_ = c;
            return true;
        }
        SSL_CTX_free(c);
        return false;
    }

    OpenStatus handshake(Steady::time_point now) {
        ERR_clear_error();
        const HoldSigpipe hold;
        const int r = SSL_connect(ssl_);
        if (r == 1) {
            handshaken_ = true;
            pending_.clear();
            error_.clear();
            return OpenStatus::open;
        }
        const int e = SSL_get_error(ssl_, r);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && now < deadline_)
            return OpenStatus::pending;
        const long verified = SSL_get_verify_result(ssl_);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            error_ = "the TLS handshake did not finish within 10s";
        } else if (verified != X509_V_OK) {
            error_ = "TLS handshake failed: the collector's certificate is not trusted for \"" +
                     server_name_ + "\": " + X509_verify_cert_error_string(verified);
            ERR_clear_error();
        } else {
            lose(e, r);
            error_ = "TLS handshake failed: " + error_;
        }
        ++handshake_failures_;
        drop();
        return OpenStatus::failed;
    }

    // Writes what it can of `m`: `written_` bytes when partial.
    SendStatus write(std::span<const std::uint8_t> m) {
        ERR_clear_error();
        const HoldSigpipe hold;
        const int n = SSL_write(ssl_, m.data(), static_cast<int>(m.size()));
        note_written();
        if (n > 0) {
            written_ = static_cast<std::size_t>(n);
            return written_ == m.size() ? SendStatus::sent : SendStatus::partial;
        }
        const int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return SendStatus::blocked;
        lose(e, n);
        drop();
        return SendStatus::failed;
    }

    // Says why the session failed: OpenSSL's reasons, or the system's.
    void lose(int e, int result) {
        const int err = errno;
        const std::string reasons = openssl_errors();
        if (!reasons.empty())
            error_ = reasons;
        else if (e == SSL_ERROR_SYSCALL && result == 0)
            error_ = "the collector closed the connection";
        else if (e == SSL_ERROR_SYSCALL)
            error_ = errno_text(err);
        else
            error_ = "TLS error " + std::to_string(e);
        pending_.clear();
    }

    // The TLS records' bytes on the socket: the handshake's and the messages'.
    void note_written() { written_bytes_ = BIO_number_written(SSL_get_wbio(ssl_)); }

    void drop() {
        if (ssl_ != nullptr) note_written();
        if (ssl_ != nullptr) SSL_free(ssl_);
        ssl_ = nullptr;
        handshaken_ = false;
        pending_.clear();
        close_socket();
    }

    std::string ca_file_, server_name_, certificate_, private_key_;
    SSL_CTX* context_ = nullptr;
    SSL* ssl_ = nullptr;
    bool handshaken_ = false;
    Steady::time_point deadline_{};
    std::vector<std::uint8_t> pending_;
    std::size_t written_ = 0;
    std::uint64_t handshake_failures_ = 0;
};

std::unique_ptr<Channel> make_channel(const config::Collector& c) {
    switch (c.transport) {
        case config::Transport::udp: return std::make_unique<UdpChannel>(c);
        case config::Transport::tcp: return std::make_unique<TcpChannel>(c);
        case config::Transport::file: return std::make_unique<FileChannel>(c);
        case config::Transport::tls: return std::make_unique<TlsChannel>(c);
    }
    return nullptr;
}

}  // namespace sluice::control
