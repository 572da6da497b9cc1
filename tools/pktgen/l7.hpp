// Application-layer messages as clients and servers send them: TLS hellos, for the tests of
// metadata extraction and sluice-tracegen --l7.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::pktgen {

struct ClientHelloSpec {
    std::uint16_t version = 0x0303;  // legacy_version
    std::vector<std::uint16_t> ciphers;
    // Extensions in order; those below get their contents from the fields, the others are
    // empty.
    std::vector<std::uint16_t> extensions;
    std::string server_name;                          // 0x0000
    std::vector<std::string> alpn;                    // 0x0010
    std::vector<std::uint16_t> groups;                // 0x000a
    std::vector<std::uint8_t> point_formats;          // 0x000b
    std::vector<std::uint16_t> signature_algorithms;  // 0x000d
    std::vector<std::uint16_t> supported_versions;    // 0x002b
    std::size_t padding = 0;                          // 0x0015, this many zero bytes
};

// A browser's ClientHello: 15 ciphers and 16 extensions (FoxIO's JA4 example) behind GREASE
// values, with `server_name` and ALPN h2, http/1.1.
ClientHelloSpec browser_hello(const std::string& server_name);

// The TLS record (or records, each at most `record` bytes of the handshake) of a ClientHello.
std::string tls_client_hello(const ClientHelloSpec& spec, std::size_t record = 16384);
// A ServerHello choosing `cipher`, with supported_versions `selected` (0: without it).
std::string tls_server_hello(std::uint16_t version, std::uint16_t cipher, std::uint16_t selected);

}  // namespace sluice::pktgen
