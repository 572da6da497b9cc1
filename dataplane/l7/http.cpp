// HTTP/1.x request and status lines and the headers analysts search by.
#include "dataplane/l7/http.hpp"

#include <algorithm>
#include <array>

namespace sluice::l7 {
namespace {

constexpr std::array<std::string_view, 9> kMethods = {
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"};

std::string_view text(std::span<const std::uint8_t> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The line at `at` (without its CRLF, or a bare LF), and where the next begins; false when no
// line end is in the bytes yet.
bool line(std::string_view s, std::size_t& at, std::string_view& out) {
    const std::size_t end = s.find('\n', at);
    if (end == std::string_view::npos) return false;
    std::size_t stop = end;
    if (stop > at && s[stop - 1] == '\r') --stop;
    out = s.substr(at, stop - at);
    at = end + 1;
    return true;
}

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

std::string_view trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

bool version(std::string_view v) {
    return v.size() == 8 && v.substr(0, 5) == "HTTP/" && v[5] == '1' && v[6] == '.' &&
           (v[7] == '0' || v[7] == '1');
}

}  // namespace

bool http_request_start(std::span<const std::uint8_t> bytes) {
    const std::string_view s = text(bytes);
    return std::any_of(kMethods.begin(), kMethods.end(), [&](std::string_view m) {
        return s.size() > m.size() && s.substr(0, m.size()) == m && s[m.size()] == ' ';
    });
}

Parse parse_http_request(std::span<const std::uint8_t> bytes, HttpRequest& out) {
    const std::string_view s = text(bytes);
    if (!http_request_start(bytes)) return Parse::other;
    std::size_t at = 0;
    std::string_view request;
    if (!line(s, at, request)) return Parse::incomplete;
    const std::size_t first = request.find(' ');
    const std::size_t last = request.rfind(' ');
    if (first == last || !version(request.substr(last + 1))) return Parse::other;
    out.method = request.substr(0, first);
    out.target = request.substr(first + 1, last - first - 1);
    for (std::string_view header;;) {
        if (!line(s, at, header)) return Parse::incomplete;
        if (header.empty()) return Parse::complete;
        const std::size_t colon = header.find(':');
        if (colon == std::string_view::npos || colon == 0) return Parse::malformed;
        const std::string_view name = header.substr(0, colon);
        const std::string_view value = trim(header.substr(colon + 1));
        if (same_name(name, "host") && !out.has_host) {
            out.host = value;
            out.has_host = true;
        } else if (same_name(name, "user-agent") && !out.has_user_agent) {
            out.user_agent = value;
            out.has_user_agent = true;
        }
    }
}

Parse parse_http_status(std::span<const std::uint8_t> bytes, std::uint16_t& status) {
    const std::string_view s = text(bytes);
    if (s.size() < 5)
        return s == std::string_view("HTTP/").substr(0, s.size()) ? Parse::incomplete
                                                                  : Parse::other;
    if (s.substr(0, 5) != "HTTP/") return Parse::other;
    std::size_t at = 0;
    std::string_view status_line;
    if (!line(s, at, status_line)) return Parse::incomplete;
    if (status_line.size() < 12 || !version(status_line.substr(0, 8)) || status_line[8] != ' ')
        return Parse::malformed;
    std::uint16_t code = 0;
    for (std::size_t i = 9; i < 12; ++i) {
        if (status_line[i] < '0' || status_line[i] > '9') return Parse::malformed;
        code = static_cast<std::uint16_t>(code * 10 + (status_line[i] - '0'));
    }
    if (status_line.size() > 12 && status_line[12] != ' ') return Parse::malformed;
    status = code;
    return Parse::complete;
}

unsigned http_requests_in(std::span<const std::uint8_t> bytes) {
    const std::string_view s = text(bytes);
    unsigned n = http_request_start(bytes) ? 1 : 0;
    for (std::size_t at = s.find("\r\n\r\n"); at != std::string_view::npos;
         at = s.find("\r\n\r\n", at + 4))
        n += http_request_start(bytes.subspan(at + 4));
    return n;
}

}  // namespace sluice::l7
