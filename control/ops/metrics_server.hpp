// The Prometheus endpoint: GET /metrics on [metrics] listen, served by cpp-httplib on threads of
// its own (pinned, like every thread of sluice-control, to [control] core).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "sluice/config.hpp"

namespace httplib {
class Server;
}

namespace sluice::ops {

class MetricsServer {
public:
    MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;
    ~MetricsServer();

    // Listens on `address` and answers GET /metrics with `render()`; false after saying why.
    bool start(const config::SocketAddress& address, std::function<std::string()> render);
    void stop();

private:
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
};

}  // namespace sluice::ops
