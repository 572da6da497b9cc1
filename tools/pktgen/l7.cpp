// Application-layer messages as clients and servers send them.
#include "tools/pktgen/l7.hpp"

#include <algorithm>
#include <span>

#include "dataplane/l7/quic.hpp"

namespace sluice::pktgen {
namespace {

void u8(std::string& s, unsigned v) {
    s.push_back(static_cast<char>(v & 0xff));
}
void u16(std::string& s, unsigned v) {
    u8(s, v >> 8);
    u8(s, v);
}
void u24(std::string& s, unsigned v) {
    u8(s, v >> 16);
    u16(s, v);
}
// `body` behind a length of `bytes` bytes.
std::string vec(const std::string& body, unsigned bytes) {
    std::string s;
    if (bytes == 1) u8(s, static_cast<unsigned>(body.size()));
    if (bytes == 2) u16(s, static_cast<unsigned>(body.size()));
    return s + body;
}
std::string u16s(const std::vector<std::uint16_t>& v) {
    std::string s;
    for (const auto x : v) u16(s, x);
    return s;
}

std::string extension_body(const ClientHelloSpec& h, std::uint16_t type) {
    switch (type) {
        case 0x0000: {
            std::string entry;
            u8(entry, 0);
            entry += vec(h.server_name, 2);
            return vec(entry, 2);
        }
        case 0x0010: {
            std::string list;
            for (const auto& p : h.alpn) list += vec(p, 1);
            return vec(list, 2);
        }
        case 0x000a: return vec(u16s(h.groups), 2);
        case 0x000b: return vec(std::string(h.point_formats.begin(), h.point_formats.end()), 1);
        case 0x000d: return vec(u16s(h.signature_algorithms), 2);
        case 0x002b: return vec(u16s(h.supported_versions), 1);
        case 0x0015: return std::string(h.padding, '\0');
        default: return {};
    }
}

// Handshake message bytes in TLS records of at most `record` bytes each.
std::string records(const std::string& handshake, std::size_t record) {
    std::string out;
    for (std::size_t at = 0; at < handshake.size(); at += record) {
        const std::string part = handshake.substr(at, record);
        u8(out, 22);
        u16(out, 0x0301);
        out += vec(part, 2);
    }
    return out;
}

}  // namespace

ClientHelloSpec browser_hello(const std::string& server_name) {
    ClientHelloSpec h;
    h.ciphers = {0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030,
                 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
    h.extensions = {0x1a1a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d,
                    0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0x2a2a};
    h.server_name = server_name;
    h.alpn = {"h2", "http/1.1"};
    h.groups = {0x3a3a, 0x001d, 0x0017, 0x0018};
    h.point_formats = {0};
    h.signature_algorithms = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};
    h.supported_versions = {0x4a4a, 0x0304, 0x0303};
    h.padding = 100;
    return h;
}

std::string client_hello_message(const ClientHelloSpec& h) {
    std::string body;
    u16(body, h.version);
    body += std::string(32, '\x11');          // random
    body += vec(std::string(32, '\x22'), 1);  // legacy_session_id
    body += vec(u16s(h.ciphers), 2);
    body += vec(std::string(1, '\0'), 1);  // compression: null
    std::string extensions;
    for (const auto type : h.extensions) {
        u16(extensions, type);
        extensions += vec(extension_body(h, type), 2);
    }
    body += vec(extensions, 2);
    std::string handshake;
    u8(handshake, 1);
    u24(handshake, static_cast<unsigned>(body.size()));
    return handshake + body;
}

std::string tls_client_hello(const ClientHelloSpec& h, std::size_t record) {
    return records(client_hello_message(h), record);
}

std::vector<std::string> quic_client_initials(const std::string& destination_id,
                                              const std::string& hello, unsigned datagrams,
                                              unsigned frames) {
    l7::QuicCrypto crypto;
    const auto id = [](const std::string& s) {
        return std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    };
    std::vector<std::string> out;
    const std::size_t per_datagram = (hello.size() + datagrams - 1) / datagrams;
    for (unsigned d = 0; d < datagrams; ++d) {
        const std::size_t from = std::min(hello.size(), d * per_datagram);
        const std::size_t to = std::min(hello.size(), from + per_datagram);
        // The datagram's part of the hello in `frames` CRYPTO frames, the last first, a PING
        // between each two; then PADDING to the datagram's least length.
        std::string payload;
        const std::size_t per_frame = (to - from + frames - 1) / frames;
        for (unsigned f = frames; f-- > 0;) {
            const std::size_t a = std::min(to, from + f * per_frame);
            const std::size_t b = std::min(to, a + per_frame);
            if (a == b) continue;
            u8(payload, 0x06);
            u16(payload, static_cast<unsigned>(0x4000 | a));  // 2-byte variable-length integers
            u16(payload, static_cast<unsigned>(0x4000 | (b - a)));
            payload += hello.substr(a, b - a);
            u8(payload, 0x01);
        }
        // Header (5 + 1 + ids + 1 + 1 + 2 + 4) and tag (16) around the payload: 1200 in all.
        const std::size_t overhead = 14 + destination_id.size() + 8 + 16;
        if (payload.size() + overhead < 1200)
            payload.append(1200 - overhead - payload.size(), '\0');
        std::vector<std::uint8_t> packet(payload.size() + overhead + 64);
        const std::size_t n =
            l7::seal_initial(crypto, id(destination_id), id("sluice-c"), d, id(payload), packet);
        out.emplace_back(reinterpret_cast<const char*>(packet.data()), n);
    }
    return out;
}

std::string tls_server_hello(std::uint16_t version, std::uint16_t cipher, std::uint16_t selected) {
    std::string body;
    u16(body, version);
    body += std::string(32, '\x33');
    body += vec(std::string(32, '\x22'), 1);
    u16(body, cipher);
    u8(body, 0);
    std::string extensions;
    if (selected != 0) {
        u16(extensions, 0x002b);
        std::string v;
        u16(v, selected);
        extensions += vec(v, 2);
    }
    body += vec(extensions, 2);
    std::string handshake;
    u8(handshake, 2);
    u24(handshake, static_cast<unsigned>(body.size()));
    return records(handshake + body, 16384);
}

std::string http_request(const std::string& method, const std::string& target,
                         const std::string& host, const std::string& user_agent) {
    std::string r = method + " " + target + " HTTP/1.1\r\n";
    if (!host.empty()) r += "Host: " + host + "\r\n";
    if (!user_agent.empty()) r += "User-Agent: " + user_agent + "\r\n";
    return r + "Accept: */*\r\n\r\n";
}

std::string http_response(unsigned status, std::size_t body) {
    return "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Not Found") +
           "\r\nContent-Type: text/html\r\nContent-Length: " + std::to_string(body) + "\r\n\r\n" +
           std::string(body, 'x');
}

namespace {

std::string dns_name(const std::string& dotted) {
    std::string out;
    for (std::size_t at = 0; at < dotted.size();) {
        std::size_t end = dotted.find('.', at);
        if (end == std::string::npos) end = dotted.size();
        u8(out, static_cast<unsigned>(end - at));
        out += dotted.substr(at, end - at);
        at = end + 1;
    }
    u8(out, 0);
    return out;
}

std::string dns_header(std::uint16_t id, unsigned flags, unsigned questions, unsigned answers) {
    std::string h;
    u16(h, id);
    u16(h, flags);
    u16(h, questions);
    u16(h, answers);
    u16(h, 0);
    u16(h, 0);
    return h;
}

}  // namespace

std::string dns_query(std::uint16_t id, const std::string& name, std::uint16_t type) {
    std::string q = dns_header(id, 0x0100, 1, 0) + dns_name(name);
    u16(q, type);
    u16(q, 1);  // IN
    return q;
}

std::string dns_response(std::uint16_t id, const std::string& name, std::uint16_t type,
                         unsigned rcode, const std::vector<DnsAnswer>& answers) {
    std::string r =
        dns_header(id, 0x8180 | (rcode & 0xf), 1, static_cast<unsigned>(answers.size())) +
        dns_name(name);
    u16(r, type);
    u16(r, 1);
    for (const DnsAnswer& a : answers) {
        u16(r, 0xc00c);  // the question's name
        u16(r, a.type);
        u16(r, 1);
        u16(r, 0);
        u16(r, 300);  // TTL
        r += vec(std::string(a.data.begin(), a.data.end()), 2);
    }
    return r;
}

}  // namespace sluice::pktgen
