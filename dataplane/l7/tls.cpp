// TLS handshake hellos and the JA3 and JA4 fingerprints of a ClientHello.
#include "dataplane/l7/tls.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace sluice::l7 {
namespace {

constexpr std::uint8_t kHandshake = 22;
constexpr std::size_t kRecordHeader = 5;
constexpr std::size_t kMaxRecord = (1 << 14) + 2048;  // TLSCiphertext's bound

// Reads big-endian fields from a span, remembering whether it ever ran past the end.
struct Reader {
    std::span<const std::uint8_t> bytes;
    std::size_t at = 0;
    bool short_ = false;

    std::size_t left() const { return bytes.size() - at; }
    std::uint32_t number(std::size_t n) {
        if (left() < n) {
            short_ = true;
            at = bytes.size();
            return 0;
        }
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v = v << 8 | bytes[at + i];
        at += n;
        return v;
    }
    std::span<const std::uint8_t> take(std::size_t n) {
        if (left() < n) {
            short_ = true;
            at = bytes.size();
            return {};
        }
        const auto out = bytes.subspan(at, n);
        at += n;
        return out;
    }
    // A vector with a length prefix of `n` bytes.
    Reader vector(std::size_t n) { return Reader{take(number(n))}; }
};

template <std::size_t N>
void read_u16s(Reader r, Values<N>& out) {
    while (r.left() >= 2) out.push(static_cast<std::uint16_t>(r.number(2)));
}

void client_extension(std::uint16_t type, Reader data, ClientHello& out) {
    switch (type) {
        case 0x0000: {  // server_name: the first host_name
            Reader list = data.vector(2);
            while (list.left() >= 3) {
                const std::uint32_t name_type = list.number(1);
                const auto name = list.take(list.number(2));
                if (name_type == 0 && !out.has_server_name) {
                    out.server_name = {reinterpret_cast<const char*>(name.data()), name.size()};
                    out.has_server_name = true;
                }
            }
            break;
        }
        case 0x0010:  // application_layer_protocol_negotiation
            out.alpn = data.vector(2).bytes;
            out.has_alpn = true;
            break;
        case 0x000a: read_u16s(data.vector(2), out.groups); break;
        case 0x000b: {
            Reader formats = data.vector(1);
            while (formats.left() >= 1)
                out.point_formats.push(static_cast<std::uint16_t>(formats.number(1)));
            break;
        }
        case 0x000d: read_u16s(data.vector(2), out.signature_algorithms); break;
        case 0x002b: read_u16s(data.vector(1), out.supported_versions); break;
        default: break;
    }
}

// Text into a buffer, as far as it has room.
struct Text {
    std::span<char> out;
    std::size_t n = 0;

    void put(char c) {
        if (n < out.size()) out[n++] = c;
    }
    void put(std::string_view s) {
        for (const char c : s) put(c);
    }
    void decimal(unsigned v) {  // by hand: snprintf costs more than the rest of a hello
        char b[10];
        int k = 0;
        do {
            b[k++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (k > 0) put(b[--k]);
    }
    void hex4(unsigned v) {
        for (int shift = 12; shift >= 0; shift -= 4) put("0123456789abcdef"[(v >> shift) & 15]);
    }
};

void decimals(Text& t, std::span<const std::uint16_t> values) {
    bool first = true;
    for (const std::uint16_t v : values) {
        if (grease(v)) continue;
        if (!first) t.put('-');
        t.decimal(v);
        first = false;
    }
}

constexpr char kHex[] = "0123456789abcdef";

void hex(const std::uint8_t* digest, std::size_t n, char* out) {
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kHex[digest[i] >> 4];
        out[2 * i + 1] = kHex[digest[i] & 15];
    }
}

// The first 12 hex digits of the SHA-256 of the comma-separated 4-digit hex values.
void hash12(Digests& d, std::span<const std::uint16_t> values, std::span<const std::uint16_t> tail,
            char* out) {
    if (values.empty()) {
        std::memset(out, '0', 12);
        return;
    }
    char text[(128 + 64) * 5];
    Text t{text};
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i != 0) t.put(',');
        t.hex4(values[i]);
    }
    for (std::size_t i = 0; i < tail.size(); ++i) {
        t.put(i == 0 ? '_' : ',');
        t.hex4(tail[i]);
    }
    std::uint8_t digest[32];
    d.sha256({reinterpret_cast<const std::uint8_t*>(text), t.n}, digest);
    hex(digest, 6, out);
}

bool alphanumeric(std::uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

}  // namespace

std::uint16_t ClientHello::offered_version() const {
    std::uint16_t best = 0;
    for (const std::uint16_t v : supported_versions.view())
        if (!grease(v)) best = std::max(best, v);
    return best != 0 ? best : version;
}

Parse handshake_message(std::span<const std::uint8_t> stream, std::uint8_t type,
                        std::span<std::uint8_t> scratch, std::span<const std::uint8_t>& body) {
    if (stream.empty()) return Parse::incomplete;
    if (stream[0] != kHandshake) return Parse::other;
    if (stream.size() >= 3 && (stream[1] != 3 || stream[2] > 4)) return Parse::other;
    std::uint8_t header[4];
    std::size_t gathered = 0;  // handshake bytes: the header's 4, then the body's, in scratch
    for (std::size_t at = 0;;) {
        if (stream.size() - at < kRecordHeader) return Parse::incomplete;
        if (stream[at] != kHandshake) return Parse::malformed;  // a record between its parts
        const std::size_t length = std::size_t{stream[at + 3]} << 8 | stream[at + 4];
        if (length == 0 || length > kMaxRecord) return Parse::malformed;
        const std::size_t available = std::min(length, stream.size() - at - kRecordHeader);
        const auto fragment = stream.subspan(at + kRecordHeader, available);
        if (at == 0 && !fragment.empty() && fragment[0] != type) return Parse::other;
        if (at == 0 && fragment.size() >= 4) {  // within its first record: read in place
            const std::size_t need =
                std::size_t{fragment[1]} << 16 | std::size_t{fragment[2]} << 8 | fragment[3];
            if (4 + need <= fragment.size()) {
                body = fragment.subspan(4, need);
                return Parse::complete;
            }
        }
        for (const std::uint8_t b : fragment) {
            if (gathered < 4)
                header[gathered] = b;
            else
                scratch[gathered - 4] = b;
            ++gathered;
            if (gathered < 4) continue;
            const std::size_t need =
                std::size_t{header[1]} << 16 | std::size_t{header[2]} << 8 | header[3];
            if (need > scratch.size()) return Parse::beyond;
            if (gathered - 4 == need) {
                body = scratch.first(need);
                return Parse::complete;
            }
        }
        if (available < length) return Parse::incomplete;
        at += kRecordHeader + length;
    }
}

Parse parse_client_hello(std::span<const std::uint8_t> body, ClientHello& out) {
    Reader r{body};
    out.version = static_cast<std::uint16_t>(r.number(2));
    r.take(32);                           // random
    r.take(r.number(1));                  // legacy_session_id
    read_u16s(r.vector(2), out.ciphers);  // cipher_suites
    r.take(r.number(1));                  // legacy_compression_methods
    if (r.short_) return Parse::malformed;
    if (r.left() == 0) return Parse::complete;  // no extensions (TLS 1.0 and before may)
    Reader extensions = r.vector(2);
    if (r.short_) return Parse::malformed;
    while (extensions.left() >= 4) {
        const auto type = static_cast<std::uint16_t>(extensions.number(2));
        const Reader data{extensions.take(extensions.number(2))};
        if (extensions.short_) return Parse::malformed;
        out.extensions.push(type);
        client_extension(type, data, out);
    }
    return extensions.left() == 0 ? Parse::complete : Parse::malformed;
}

Parse parse_server_hello(std::span<const std::uint8_t> body, ServerHello& out) {
    Reader r{body};
    out.version = static_cast<std::uint16_t>(r.number(2));
    r.take(32);
    r.take(r.number(1));
    out.cipher = static_cast<std::uint16_t>(r.number(2));
    r.number(1);  // compression_method
    if (r.short_) return Parse::malformed;
    if (r.left() == 0) return Parse::complete;
    Reader extensions = r.vector(2);
    while (extensions.left() >= 4) {
        const auto type = extensions.number(2);
        Reader data{extensions.take(extensions.number(2))};
        if (type == 0x002b && data.left() >= 2)
            out.selected_version = static_cast<std::uint16_t>(data.number(2));
    }
    return r.short_ || extensions.short_ || extensions.left() != 0 ? Parse::malformed
                                                                   : Parse::complete;
}

std::size_t ja3_string(const ClientHello& h, std::span<char> out) {
    Text t{out};
    t.decimal(h.version);
    t.put(',');
    decimals(t, h.ciphers.view());
    t.put(',');
    decimals(t, h.extensions.view());
    t.put(',');
    decimals(t, h.groups.view());
    t.put(',');
    decimals(t, h.point_formats.view());
    return t.n;
}

void ja3(const ClientHello& h, Digests& d, char (&out)[32]) {
    char text[(128 + 64 + 64 + 16) * 6 + 16];
    const std::size_t n = ja3_string(h, text);
    std::uint8_t digest[16];
    d.md5({reinterpret_cast<const std::uint8_t*>(text), n}, digest);
    hex(digest, 16, out);
}

std::size_t ja4(const ClientHello& h, char protocol, Digests& d, char (&out)[36]) {
    Text t{out};
    t.put(protocol);
    switch (h.offered_version()) {
        case 0x0304: t.put("13"); break;
        case 0x0303: t.put("12"); break;
        case 0x0302: t.put("11"); break;
        case 0x0301: t.put("10"); break;
        case 0x0300: t.put("s3"); break;
        case 0x0002: t.put("s2"); break;
        case 0xfeff: t.put("d1"); break;
        case 0xfefd: t.put("d2"); break;
        case 0xfefc: t.put("d3"); break;
        default: t.put("00"); break;
    }
    t.put(h.has_server_name ? 'd' : 'i');
    std::uint16_t ciphers[128], extensions[64];
    std::size_t nc = 0, ne = 0, counted = 0;
    for (const std::uint16_t c : h.ciphers.view())
        if (!grease(c)) ciphers[nc++] = c;
    for (const std::uint16_t e : h.extensions.view()) {
        if (grease(e)) continue;
        ++counted;
        if (e != 0x0000 && e != 0x0010) extensions[ne++] = e;
    }
    for (const std::size_t n :
         {std::min<std::size_t>(nc, 99), std::min<std::size_t>(counted, 99)}) {
        t.put(static_cast<char>('0' + n / 10));
        t.put(static_cast<char>('0' + n % 10));
    }
    // The first ALPN value's first and last characters; hex digits where not alphanumeric.
    Reader alpn{h.alpn};
    const auto first = alpn.take(alpn.number(1));
    if (!h.has_alpn || first.empty()) {
        t.put("00");
    } else if (alphanumeric(first.front()) && alphanumeric(first.back())) {
        t.put(static_cast<char>(first.front()));
        t.put(static_cast<char>(first.back()));
    } else {
        t.put(kHex[first.front() >> 4]);
        t.put(kHex[first.back() & 15]);
    }
    std::sort(ciphers, ciphers + nc);
    std::sort(extensions, extensions + ne);
    std::uint16_t algorithms[64];
    std::size_t na = 0;
    for (const std::uint16_t a : h.signature_algorithms.view())
        if (!grease(a)) algorithms[na++] = a;
    t.put('_');
    char hash[12];
    hash12(d, {ciphers, nc}, {}, hash);
    t.put(std::string_view(hash, 12));
    t.put('_');
    hash12(d, {extensions, ne}, {algorithms, na}, hash);
    t.put(std::string_view(hash, 12));
    return t.n;
}

Digests::Digests()
    : ctx_(EVP_MD_CTX_new()),
      md5_(EVP_MD_fetch(nullptr, "MD5", nullptr)),
      sha256_(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {
    if (ctx_ == nullptr || md5_ == nullptr || sha256_ == nullptr) throw std::bad_alloc();
}

Digests::~Digests() {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
    EVP_MD_free(static_cast<EVP_MD*>(md5_));
    EVP_MD_free(static_cast<EVP_MD*>(sha256_));
}

void Digests::digest(const void* md, std::span<const std::uint8_t> data, std::uint8_t* out) {
    auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
    unsigned int n = 0;
    EVP_DigestInit_ex(ctx, static_cast<const EVP_MD*>(md), nullptr);
    EVP_DigestUpdate(ctx, data.data(), data.size());
    EVP_DigestFinal_ex(ctx, out, &n);
}

void Digests::md5(std::span<const std::uint8_t> data, std::uint8_t (&out)[16]) {
    digest(md5_, data, out);
}

void Digests::sha256(std::span<const std::uint8_t> data, std::uint8_t (&out)[32]) {
    digest(sha256_, data, out);
}

}  // namespace sluice::l7
