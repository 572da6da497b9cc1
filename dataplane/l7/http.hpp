// HTTP/1.x (RFC 9112): a request's method, target, Host and User-Agent, and a response's
// status code, read from the first bytes of a direction's stream. Views into those bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/l7/parse.hpp"

namespace sluice::l7 {

struct HttpRequest {
    std::string_view method;
    std::string_view target;
    std::string_view host;  // empty: no Host header
    std::string_view user_agent;
    bool has_host = false;
    bool has_user_agent = false;
};

// Whether `bytes` begin with a request line's method and a space: a request begins there.
bool http_request_start(std::span<const std::uint8_t> bytes);

// The request at the start of `bytes`: complete once its header section ends (an empty
// line), incomplete before; other when its first line is not an HTTP/1.x request line.
Parse parse_http_request(std::span<const std::uint8_t> bytes, HttpRequest& out);

// The status code of the response at the start of `bytes` ("HTTP/1.1 200 OK"), complete once
// its status line ends.
Parse parse_http_status(std::span<const std::uint8_t> bytes, std::uint16_t& status);

// The requests that begin in `bytes`, a client's payload: at its start, and after each empty
// line that ends a header section within it (pipelining).
unsigned http_requests_in(std::span<const std::uint8_t> bytes);

}  // namespace sluice::l7
