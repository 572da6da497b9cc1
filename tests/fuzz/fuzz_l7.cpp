// Fuzz target: arbitrary bytes as the first bytes of a direction's stream, read by one of the
// metadata parsers, chosen by the first input byte: 0 a TLS ClientHello (then fingerprinted),
// 1 a ServerHello, 2 an HTTP request, 3 an HTTP status line, 4 a DNS message. Whatever they
// hold, nothing reads out of bounds (ASan), and what a parser returns lies within its input.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "dataplane/l7/dns.hpp"
#include "dataplane/l7/http.hpp"
#include "dataplane/l7/tls.hpp"

using namespace sluice::l7;

namespace {

void within(std::string_view v, const std::vector<std::uint8_t>& bytes) {
    const auto* begin = reinterpret_cast<const char*>(bytes.data());
    if (!v.empty() && (v.data() < begin || v.data() + v.size() > begin + bytes.size()))
        std::abort();  // a view outside the bytes it was read from
}

void tls(const std::vector<std::uint8_t>& stream, bool client) {
    static Digests digests;
    static std::uint8_t scratch[4096];
    std::span<const std::uint8_t> body;
    if (handshake_message(stream, client ? 1 : 2, scratch, body) != Parse::complete) return;
    if (body.data() != scratch)
        within({reinterpret_cast<const char*>(body.data()), body.size()}, stream);
    if (!client) {
        ServerHello h;
        parse_server_hello(body, h);
        return;
    }
    ClientHello h;
    if (parse_client_hello(body, h) != Parse::complete) return;
    char ja3_hex[32], ja4_text[36];
    ja3(h, digests, ja3_hex);
    if (ja4(h, 't', digests, ja4_text) != 36) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // A buffer of its own, so ASan sees a read past its end.
    const std::vector<std::uint8_t> bytes(data + 1, data + size);
    switch (data[0] % 5) {
        case 0:
        case 1: tls(bytes, data[0] % 5 == 0); break;
        case 2: {
            HttpRequest r;
            if (parse_http_request(bytes, r) == Parse::complete)
                for (const std::string_view v : {r.method, r.target, r.host, r.user_agent})
                    within(v, bytes);
            http_requests_in(bytes);
            break;
        }
        case 3: {
            std::uint16_t status = 0;
            if (parse_http_status(bytes, status) == Parse::complete && status > 999) std::abort();
            break;
        }
        default: {
            DnsMessage m;
            if (parse_dns(bytes, 16, m) == Parse::complete &&
                (m.name_length > m.name.size() || m.answers_length > m.answers.size()))
                std::abort();
            break;
        }
    }
    return 0;
}
