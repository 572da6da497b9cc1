// Fuzz target: arbitrary bytes as the first bytes of a direction's stream, read by one of the
// metadata parsers, chosen by the first input byte: 0 a TLS ClientHello (then fingerprinted),
// 1 a ServerHello, 2 an HTTP request, 3 an HTTP status line, 4 a DNS message, 5 a QUIC long
// header, 6 the frames of up to three QUIC Initial packets (protected as a client would, then
// given to an extractor, which removes the protection and gathers their CRYPTO frames).
// Whatever they hold, nothing reads out of bounds (ASan), and what a parser returns lies within
// its input.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "dataplane/l7/dns.hpp"
#include "dataplane/l7/extractor.hpp"
#include "dataplane/l7/http.hpp"
#include "dataplane/l7/quic.hpp"
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

// The bytes as the frames of Initial packets, the first byte saying how many (1 to 3) share
// them, through an extractor: its fields as a record's extensions at the end.
void quic_initials(const std::vector<std::uint8_t>& bytes) {
    static QuicCrypto crypto;
    static const sluice::config::Metadata config{.flows = 1024};
    static std::vector<std::uint8_t> memory(Extractor::memory_size(config) + 64);
    static Extractor extractor(
        config, reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(memory.data()) + 63) &
                                        ~std::uintptr_t{63}));
    if (bytes.empty()) return;
    const std::size_t packets = 1 + bytes[0] % 3;
    const std::span<const std::uint8_t> frames = std::span(bytes).subspan(1);
    const std::size_t each = (frames.size() + packets - 1) / packets;
    static const std::uint8_t id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    std::vector<std::vector<std::uint8_t>> datagrams;
    for (std::size_t k = 0; k < packets; ++k) {
        std::vector<std::uint8_t> part(frames.begin() + std::min(frames.size(), k * each),
                                       frames.begin() + std::min(frames.size(), (k + 1) * each));
        part.resize(std::max<std::size_t>(part.size(), 1200), 0);  // PADDING
        std::vector<std::uint8_t>& d = datagrams.emplace_back(part.size() + 64);
        d.resize(seal_initial(crypto, id, id, static_cast<std::uint32_t>(k), part, d));
        if (d.empty()) return;  // longer than a packet can be
    }
    std::uint32_t slot = 0;
    sluice::MeterCounters counters{};
    for (const std::vector<std::uint8_t>& d : datagrams) {
        const auto n = static_cast<std::uint32_t>(d.size());
        const sluice::meter::Payload p{d.data(), n, 17, true, false, {50000, 443}, n, 0};
        if (extractor.inspect(slot, p, counters)) break;
    }
    if (slot == 0) std::abort();  // a version 1 Initial is QUIC's
    sluice::MetadataWriter out;
    std::uint8_t groups = 0;
    extractor.emit(slot, false, out, groups, counters);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // A buffer of its own, so ASan sees a read past its end.
    const std::vector<std::uint8_t> bytes(data + 1, data + size);
    switch (data[0] % 7) {
        case 0:
        case 1: tls(bytes, data[0] % 7 == 0); break;
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
        case 5: {
            QuicLongHeader h;
            if (read_long_header(bytes, h) == Parse::complete &&
                (h.packet_length > 65535 + bytes.size() ||
                 h.destination_id.data() + h.destination_id.size() > bytes.data() + bytes.size()))
                std::abort();
            break;
        }
        case 6: quic_initials(bytes); break;
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
