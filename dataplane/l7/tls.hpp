// TLS handshake hellos (RFC 8446, RFC 5246): what a ClientHello offers and a ServerHello
// selects, read from the first bytes of a direction's stream, and the client's JA3 and JA4
// fingerprints. Bounded arrays, no allocation: a worker calls it on its own packets.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/l7/parse.hpp"

namespace sluice::l7 {

// A list of 16-bit values of a hello, GREASE included, in order, up to its bound (what lies
// beyond is counted, not kept).
template <std::size_t N>
struct Values {
    std::array<std::uint16_t, N> values;
    std::uint16_t count = 0;
    std::uint16_t dropped = 0;

    void push(std::uint16_t v) {
        if (count < N)
            values[count++] = v;
        else
            ++dropped;
    }
    std::span<const std::uint16_t> view() const { return {values.data(), count}; }
};

struct ClientHello {
    std::uint16_t version = 0;  // legacy_version
    Values<128> ciphers;
    Values<64> extensions;
    Values<64> groups;  // supported_groups (elliptic curves)
    Values<16> point_formats;
    Values<64> signature_algorithms;
    Values<16> supported_versions;
    std::string_view server_name;  // host_name, as sent (into the parsed bytes)
    bool has_server_name = false;
    // ALPN protocol names, as sent: [length, bytes]... (into the parsed bytes).
    std::span<const std::uint8_t> alpn;
    bool has_alpn = false;

    // The highest version offered: supported_versions without GREASE, else legacy_version.
    std::uint16_t offered_version() const;
};

struct ServerHello {
    std::uint16_t version = 0;  // legacy_version
    std::uint16_t cipher = 0;
    std::uint16_t selected_version = 0;  // supported_versions; 0: none

    std::uint16_t negotiated() const { return selected_version != 0 ? selected_version : version; }
};

// RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa.
inline bool grease(std::uint16_t v) {
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

// The handshake message of `type` (1: ClientHello, 2: ServerHello) at the start of a TLS
// stream (records of content type 22): `body`, its bytes after the 4-byte header, in the
// stream itself, or gathered into `scratch` when records split it.
Parse handshake_message(std::span<const std::uint8_t> stream, std::uint8_t type,
                        std::span<std::uint8_t> scratch, std::span<const std::uint8_t>& body);

// A ClientHello's or ServerHello's body (the handshake message without its 4-byte header).
Parse parse_client_hello(std::span<const std::uint8_t> body, ClientHello& out);
Parse parse_server_hello(std::span<const std::uint8_t> body, ServerHello& out);

// The ClientHello's JA3 string (SSLVersion,Ciphers,Extensions,EllipticCurves,
// EllipticCurvePointFormats, GREASE left out) into `out`; its length.
std::size_t ja3_string(const ClientHello& h, std::span<char> out);

// MD5 and SHA-256 with OpenSSL, through contexts made once (a worker's own).
class Digests {
public:
    Digests();
    ~Digests();
    Digests(const Digests&) = delete;
    Digests& operator=(const Digests&) = delete;
    void md5(std::span<const std::uint8_t> data, std::uint8_t (&out)[16]);
    void sha256(std::span<const std::uint8_t> data, std::uint8_t (&out)[32]);

private:
    void digest(const void* md, std::span<const std::uint8_t> data, std::uint8_t* out);
    void* ctx_;  // EVP_MD_CTX
    void* md5_;  // EVP_MD
    void* sha256_;
};

// The JA3 fingerprint, MD5 of ja3_string(), as 32 lowercase hex digits into `out`.
void ja3(const ClientHello& h, Digests& d, char (&out)[32]);

// JA4 (FoxIO): `protocol` 't' for TCP, 'q' for QUIC, into `out`; its length (36).
std::size_t ja4(const ClientHello& h, char protocol, Digests& d, char (&out)[36]);

}  // namespace sluice::l7
