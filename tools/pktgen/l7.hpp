// Application-layer messages as clients and servers send them: TLS hellos, HTTP requests and
// responses, DNS queries and responses, for the tests of metadata extraction and
// sluice-tracegen --l7.
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

// A ClientHello as a handshake message, without a record around it (as QUIC carries it).
std::string client_hello_message(const ClientHelloSpec& spec);
// The TLS record (or records, each at most `record` bytes of the handshake) of a ClientHello.
std::string tls_client_hello(const ClientHelloSpec& spec, std::size_t record = 16384);
// A QUIC client's first datagrams, each one version 1 Initial packet numbered from 0 and
// padded to 1200 bytes: `hello` (a handshake message) split over `datagrams`, each part in
// `frames` CRYPTO frames sent last first with a PING after each, as browsers scatter them.
std::vector<std::string> quic_client_initials(const std::string& destination_id,
                                              const std::string& hello, unsigned datagrams = 1,
                                              unsigned frames = 1);
// A ServerHello choosing `cipher`, with supported_versions `selected` (0: without it).
std::string tls_server_hello(std::uint16_t version, std::uint16_t cipher, std::uint16_t selected);

// An HTTP/1.1 request with Host and User-Agent (omitted when empty) and an Accept header.
std::string http_request(const std::string& method, const std::string& target,
                         const std::string& host, const std::string& user_agent);
// An HTTP/1.1 response with `status`, its headers and a body of `body` bytes.
std::string http_response(unsigned status, std::size_t body);

struct DnsAnswer {
    std::uint16_t type;              // 1: A, 28: AAAA, 5: CNAME (data: a name)
    std::vector<std::uint8_t> data;  // 4 or 16 bytes of address
};
// A DNS query for `name` (dotted) of `type`, with ID `id`, recursion desired.
std::string dns_query(std::uint16_t id, const std::string& name, std::uint16_t type);
// Its response: the question again, `rcode`, and the answers, each naming the question by a
// compression pointer.
std::string dns_response(std::uint16_t id, const std::string& name, std::uint16_t type,
                         unsigned rcode, const std::vector<DnsAnswer>& answers);

}  // namespace sluice::pktgen
