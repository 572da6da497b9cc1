// Fuzz target: arbitrary bytes as the first bytes of a TLS stream, read for a ClientHello (the
// first input byte even) or a ServerHello (odd), then fingerprinted. Whatever they hold,
// nothing reads out of bounds (ASan) and the parsers say complete, incomplete, malformed,
// other or beyond.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dataplane/l7/tls.hpp"

using namespace sluice::l7;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Digests digests;
    static std::uint8_t scratch[4096];
    if (size == 0) return 0;
    const bool client = data[0] % 2 == 0;
    // A buffer of its own, so ASan sees a read past its end.
    const std::vector<std::uint8_t> stream(data + 1, data + size);
    std::span<const std::uint8_t> body;
    const Parse found = handshake_message(stream, client ? 1 : 2, scratch, body);
    if (found != Parse::complete) return 0;
    if (body.data() != scratch &&
        (body.data() < stream.data() || body.data() + body.size() > stream.data() + stream.size()))
        std::abort();  // a body outside the bytes it was read from
    if (client) {
        ClientHello h;
        if (parse_client_hello(body, h) != Parse::complete) return 0;
        char ja3_hex[32], ja4_text[36];
        ja3(h, digests, ja3_hex);
        if (ja4(h, 't', digests, ja4_text) != 36) std::abort();
    } else {
        ServerHello h;
        parse_server_hello(body, h);
    }
    return 0;
}
