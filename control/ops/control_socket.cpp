// The control socket: a UNIX stream socket (mode 0600) where each connection sends one JSON
// request line and gets one JSON reply line. Served from the control's loop without blocking.
#include "control/ops/control_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "control/ops/render.hpp"
#include "sluice/log.hpp"

namespace sluice::ops {
namespace {

constexpr auto kClientTimeout = std::chrono::seconds(5);

bool address_of(const std::string& path, sockaddr_un& a) {
    a = sockaddr_un{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof(a.sun_path)) return false;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return true;
}

}  // namespace

ControlSocket::~ControlSocket() {
    for (auto& c : clients_) close(c.fd);
    if (fd_ >= 0) {
        close(fd_);
        unlink(path_.c_str());
    }
}

bool ControlSocket::open(const std::string& path) {
    sockaddr_un a;
    if (!address_of(path, a)) {
        SLUICE_ERROR("control socket %s: the path is longer than %zu bytes", path.c_str(),
                     sizeof(a.sun_path) - 1);
        return false;
    }
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    // A socket file that nobody answers on is left by a control that died: replace it.
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(probe, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
        close(probe);
        SLUICE_ERROR(
            "control socket %s: another sluice-control answers there; give this one "
            "its own [control] socket",
            path.c_str());
        return false;
    }
    close(probe);
    unlink(path.c_str());
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const mode_t was = umask(0177);  // created 0600: the socket can flush and reload
    const int rc = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    umask(was);
    if (rc != 0 || listen(fd_, 16) != 0) {
        SLUICE_ERROR("control socket %s: %s", path.c_str(), std::strerror(errno));
        close(fd_);
        fd_ = -1;
        return false;
    }
    path_ = path;
    return true;
}

void ControlSocket::answer(Client& c, const std::string& reply) {
    c.in.clear();
    c.out = reply + "\n";
}

void ControlSocket::poll(const Handler& handle) {
    if (fd_ < 0) return;
    const auto now = std::chrono::steady_clock::now();
    while (clients_.size() < kMaxClients) {
        const int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        clients_.push_back({fd, {}, {}, now, std::nullopt});
    }
    for (auto& c : clients_) {
        if (c.waiting) {
            if (auto reply = handle(*c.waiting)) {
                answer(c, *reply);
                c.waiting.reset();
            } else if (now - c.since > kClientTimeout) {
                answer(c, error_json("no answer within 5 s"));
                c.waiting.reset();
            } else {
                continue;
            }
        }
        if (c.out.empty()) {
            char buf[1024];
            ssize_t n;
            while ((n = recv(c.fd, buf, sizeof(buf), 0)) > 0 && c.in.size() <= kMaxRequestBytes)
                c.in.append(buf, static_cast<std::size_t>(n));
            const auto newline = c.in.find('\n');
            if (newline != std::string::npos) {
                const ParsedRequest parsed =
                    parse_request(std::string_view(c.in).substr(0, newline));
                if (!parsed.request) {
                    answer(c, error_json("bad request: " + parsed.error));
                } else if (auto reply = handle(*parsed.request)) {
                    answer(c, *reply);
                } else {
                    c.waiting = parsed.request;
                    c.in.clear();
                    continue;
                }
            } else if (c.in.size() > kMaxRequestBytes) {
                answer(c, error_json("bad request: longer than " +
                                     std::to_string(kMaxRequestBytes) + " bytes"));
            } else if (n == 0) {  // the client left without a whole line: nothing to answer
                close(c.fd);
                c.fd = -1;
                continue;
            } else if (now - c.since > kClientTimeout) {
                answer(c, error_json("bad request: no whole line within 5 s"));
            }
        }
        if (!c.out.empty()) {
            const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) c.out.clear();
            if (c.out.empty() || now - c.since > 2 * kClientTimeout) {
                close(c.fd);
                c.fd = -1;
            }
        }
    }
    std::erase_if(clients_, [](const Client& c) { return c.fd < 0; });
}

}  // namespace sluice::ops
