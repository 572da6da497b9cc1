// Payloads of the applications Sluice identifies by default, as their clients and servers
// send them first: the unit tests scan them, sluice-tracegen --applications puts them in a trace.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::pktgen {

struct ApplicationSample {
    const char* name;  // as in config/applications.toml
    std::uint8_t protocol;
    std::uint16_t port;
    std::string client, server;  // empty: that side's first payload is not a signature's
};

std::vector<ApplicationSample> application_samples();

}  // namespace sluice::pktgen
