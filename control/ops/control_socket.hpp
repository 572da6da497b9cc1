// The control socket: a UNIX stream socket (mode 0600) where each connection sends one JSON
// request line and gets one JSON reply line. Served from the control's loop without blocking.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "control/ops/json.hpp"

namespace sluice::ops {

class ControlSocket {
public:
    // The reply, or nothing yet: the request is asked again at the next poll (a reply that
    // needs the workers), until it has one or the client's time runs out.
    using Handler = std::function<std::optional<std::string>(const Request&)>;

    ControlSocket() = default;
    ControlSocket(const ControlSocket&) = delete;
    ControlSocket& operator=(const ControlSocket&) = delete;
    ~ControlSocket();

    // Listens on `path`, replacing a stale socket file; false after saying why (another control
    // answers there, the folder cannot be made, ...).
    bool open(const std::string& path);

    // Accepts, reads and answers what is ready now; a request that does not parse gets an error
    // reply, one that is too long or too slow is cut off with one.
    void poll(const Handler& handle);

    static constexpr std::size_t kMaxClients = 16;

private:
    struct Client {
        int fd;
        std::string in, out;
        std::chrono::steady_clock::time_point since;
        std::optional<Request> waiting;  // asked, not answered yet
    };

    void answer(Client& c, const std::string& reply);

    int fd_ = -1;
    std::string path_;
    std::vector<Client> clients_;
};

}  // namespace sluice::ops
