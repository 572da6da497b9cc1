// The Prometheus endpoint: GET /metrics on [metrics] listen, served by cpp-httplib on threads of
// its own (pinned, like every thread of sluice-control, to [control] core).
#include "control/ops/metrics_server.hpp"

#include <httplib.h>

#include "shared/config/units.hpp"
#include "sluice/log.hpp"

namespace sluice::ops {

MetricsServer::MetricsServer() = default;

MetricsServer::~MetricsServer() {
    stop();
}

bool MetricsServer::start(const config::SocketAddress& address,
                          std::function<std::string()> render) {
    stop();
    server_ = std::make_unique<httplib::Server>();
    server_->Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
        res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("Sluice: the counters are at /metrics\n", "text/plain");
    });
    // A literal in brackets is an IPv6 address without them for bind().
    if (!server_->bind_to_port(address.host.c_str(), address.port)) {
        SLUICE_ERROR(
            "metrics: cannot listen on %s ([metrics] listen): the address is in use "
            "or not this host's",
            config::format_socket_address(address).c_str());
        server_.reset();
        return false;
    }
    thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
    SLUICE_INFO("metrics: http://%s/metrics", config::format_socket_address(address).c_str());
    return true;
}

void MetricsServer::stop() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
}

}  // namespace sluice::ops
