// QUIC Initial packets: the long header, the Initial keys, header and packet protection.
#include "dataplane/l7/quic.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace sluice::l7 {
namespace {

// RFC 9001 section 5.2.
constexpr std::uint8_t kInitialSaltV1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34,
                                             0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                                             0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
constexpr std::size_t kTag = 16;
constexpr std::size_t kSample = 16;
constexpr std::size_t kMaxConnectionId = 20;  // in version 1

}  // namespace

bool read_varint(std::span<const std::uint8_t> bytes, std::size_t& at, std::uint64_t& out) {
    if (at >= bytes.size()) return false;
    const std::size_t n = std::size_t{1} << (bytes[at] >> 6);
    if (bytes.size() - at < n) return false;
    out = bytes[at] & 0x3f;
    for (std::size_t i = 1; i < n; ++i) out = out << 8 | bytes[at + i];
    at += n;
    return true;
}

Parse read_long_header(std::span<const std::uint8_t> d, QuicLongHeader& out) {
    if (d.size() < 7) return Parse::incomplete;
    if (!quic_long_header(d[0])) return Parse::other;
    out = {};
    out.first = d[0];
    out.version =
        std::uint32_t{d[1]} << 24 | std::uint32_t{d[2]} << 16 | std::uint32_t{d[3]} << 8 | d[4];
    std::size_t at = 5;
    const std::size_t dcid = d[at++];
    if (d.size() - at < dcid + 1) return Parse::incomplete;
    out.destination_id = d.subspan(at, dcid);
    at += dcid;
    const std::size_t scid = d[at++];
    if (d.size() - at < scid) return Parse::incomplete;
    out.source_id = d.subspan(at, scid);
    at += scid;
    if (out.version != kQuicVersion1) return Parse::complete;  // its layout beyond is its own
    if (dcid > kMaxConnectionId || scid > kMaxConnectionId) return Parse::malformed;
    const unsigned type = (out.first >> 4) & 3;
    if (type == 3) return Parse::complete;  // Retry: no packet number, no length
    std::uint64_t length = 0;
    if (type == 0) {
        std::uint64_t token = 0;
        if (!read_varint(d, at, token)) return Parse::incomplete;
        if (token > d.size() - at) return Parse::incomplete;
        out.token = d.subspan(at, static_cast<std::size_t>(token));
        at += static_cast<std::size_t>(token);
    }
    if (!read_varint(d, at, length)) return Parse::incomplete;
    if (length < 1 || length > 65535) return Parse::malformed;
    out.number_offset = at;
    out.packet_length = at + static_cast<std::size_t>(length);
    return Parse::complete;
}

QuicCrypto::QuicCrypto()
    : sha256_(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
      ctx_(EVP_MD_CTX_new()),
      salt_inner_(EVP_MD_CTX_new()),
      salt_outer_(EVP_MD_CTX_new()),
      inner_(EVP_MD_CTX_new()),
      outer_(EVP_MD_CTX_new()),
      ecb_(EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr)),
      gcm_(EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr)),
      cipher_ctx_(EVP_CIPHER_CTX_new()) {
    if (sha256_ == nullptr || ctx_ == nullptr || salt_inner_ == nullptr || salt_outer_ == nullptr ||
        inner_ == nullptr || outer_ == nullptr || ecb_ == nullptr || gcm_ == nullptr ||
        cipher_ctx_ == nullptr)
        throw std::bad_alloc();
    prepare(kInitialSaltV1, salt_inner_, salt_outer_);
}

QuicCrypto::~QuicCrypto() {
    EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(cipher_ctx_));
    EVP_CIPHER_free(static_cast<EVP_CIPHER*>(gcm_));
    EVP_CIPHER_free(static_cast<EVP_CIPHER*>(ecb_));
    for (void* c : {ctx_, salt_inner_, salt_outer_, inner_, outer_})
        EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(c));
    EVP_MD_free(static_cast<EVP_MD*>(sha256_));
}

void QuicCrypto::prepare(std::span<const std::uint8_t> key, void* inner, void* outer) {
    // Keys here are at most 32 bytes: within SHA-256's block, padded with zeros.
    std::uint8_t pad[2][64] = {};
    std::memcpy(pad[0], key.data(), std::min<std::size_t>(key.size(), 64));
    std::memcpy(pad[1], pad[0], 64);
    for (int i = 0; i < 64; ++i) {
        pad[0][i] ^= 0x36;
        pad[1][i] ^= 0x5c;
    }
    const auto* md = static_cast<const EVP_MD*>(sha256_);
    EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(inner), md, nullptr);
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(inner), pad[0], 64);
    EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(outer), md, nullptr);
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(outer), pad[1], 64);
}

void QuicCrypto::hmac(void* inner, void* outer, std::span<const std::uint8_t> data,
                      std::uint8_t (&out)[32]) {
    auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
    std::uint8_t inner_hash[32];
    unsigned int n = 0;
    EVP_MD_CTX_copy_ex(ctx, static_cast<EVP_MD_CTX*>(inner));
    EVP_DigestUpdate(ctx, data.data(), data.size());
    EVP_DigestFinal_ex(ctx, inner_hash, &n);
    EVP_MD_CTX_copy_ex(ctx, static_cast<EVP_MD_CTX*>(outer));
    EVP_DigestUpdate(ctx, inner_hash, sizeof(inner_hash));
    EVP_DigestFinal_ex(ctx, out, &n);
}

void QuicCrypto::expand_label(const char* label, std::span<std::uint8_t> out) {
    // HkdfLabel: length, "tls13 " + label, an empty context; then T(1) = HMAC(secret, info | 1),
    // all the output there is up to 32 bytes.
    std::uint8_t info[2 + 1 + 6 + 32 + 1 + 1];
    const std::size_t label_length = std::strlen(label);
    std::size_t n = 0;
    info[n++] = static_cast<std::uint8_t>(out.size() >> 8);
    info[n++] = static_cast<std::uint8_t>(out.size());
    info[n++] = static_cast<std::uint8_t>(6 + label_length);
    std::memcpy(info + n, "tls13 ", 6);
    n += 6;
    std::memcpy(info + n, label, label_length);
    n += label_length;
    info[n++] = 0;  // context
    info[n++] = 1;  // the block counter
    std::uint8_t block[32];
    hmac(inner_, outer_, {info, n}, block);
    std::memcpy(out.data(), block, out.size());
}

QuicKeys QuicCrypto::initial_keys(std::span<const std::uint8_t> destination_id, bool client) {
    std::uint8_t initial[32], secret[32];
    hmac(salt_inner_, salt_outer_, destination_id, initial);  // HKDF-Extract
    prepare(initial, inner_, outer_);
    expand_label(client ? "client in" : "server in", secret);
    prepare(secret, inner_, outer_);
    QuicKeys k;
    expand_label("quic key", k.key);
    expand_label("quic iv", k.iv);
    expand_label("quic hp", k.hp);
    return k;
}

void QuicCrypto::header_mask(const QuicKeys& k, const std::uint8_t* sample,
                             std::uint8_t (&mask)[5]) {
    auto* ctx = static_cast<EVP_CIPHER_CTX*>(cipher_ctx_);
    std::uint8_t block[kSample + 16];
    int n = 0;
    EVP_EncryptInit_ex2(ctx, static_cast<EVP_CIPHER*>(ecb_), k.hp, nullptr, nullptr);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    EVP_EncryptUpdate(ctx, block, &n, sample, kSample);
    std::memcpy(mask, block, sizeof(mask));
}

void QuicCrypto::nonce(const QuicKeys& k, std::uint64_t number, std::uint8_t (&out)[12]) const {
    std::memcpy(out, k.iv, sizeof(out));
    for (int i = 0; i < 8; ++i) out[11 - i] ^= static_cast<std::uint8_t>(number >> (8 * i));
}

bool QuicCrypto::open(const QuicKeys& k, std::uint64_t number, std::span<const std::uint8_t> header,
                      std::span<const std::uint8_t> in, std::uint8_t* out) {
    if (in.size() < kTag) return false;
    auto* ctx = static_cast<EVP_CIPHER_CTX*>(cipher_ctx_);
    std::uint8_t iv[12];
    nonce(k, number, iv);
    int n = 0;
    const int body = static_cast<int>(in.size() - kTag);
    return EVP_DecryptInit_ex2(ctx, static_cast<EVP_CIPHER*>(gcm_), k.key, iv, nullptr) == 1 &&
           EVP_DecryptUpdate(ctx, nullptr, &n, header.data(), static_cast<int>(header.size())) ==
               1 &&
           EVP_DecryptUpdate(ctx, out, &n, in.data(), body) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTag,
                               const_cast<std::uint8_t*>(in.data() + body)) == 1 &&
           EVP_DecryptFinal_ex(ctx, out + n, &n) == 1;
}

void QuicCrypto::seal(const QuicKeys& k, std::uint64_t number, std::span<const std::uint8_t> header,
                      std::span<const std::uint8_t> in, std::uint8_t* out) {
    auto* ctx = static_cast<EVP_CIPHER_CTX*>(cipher_ctx_);
    std::uint8_t iv[12];
    nonce(k, number, iv);
    int n = 0;
    EVP_EncryptInit_ex2(ctx, static_cast<EVP_CIPHER*>(gcm_), k.key, iv, nullptr);
    EVP_EncryptUpdate(ctx, nullptr, &n, header.data(), static_cast<int>(header.size()));
    EVP_EncryptUpdate(ctx, out, &n, in.data(), static_cast<int>(in.size()));
    EVP_EncryptFinal_ex(ctx, out + n, &n);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTag, out + in.size());
}

Parse open_initial(std::span<const std::uint8_t> datagram, QuicCrypto& crypto,
                   std::span<std::uint8_t> plain, QuicLongHeader& h,
                   std::span<const std::uint8_t>& frames) {
    const Parse read = read_long_header(datagram, h);
    if (read != Parse::complete) return read == Parse::incomplete ? Parse::malformed : read;
    if (h.version != kQuicVersion1 || !h.initial()) return Parse::other;
    // The sample is taken as if the packet number were 4 bytes long.
    if (h.packet_length > datagram.size() || h.packet_length < h.number_offset + 4 + kSample ||
        h.packet_length > plain.size())
        return Parse::malformed;
    const QuicKeys keys = crypto.initial_keys(h.destination_id, true);
    std::uint8_t mask[5];
    crypto.header_mask(keys, &datagram[h.number_offset + 4], mask);
    // The header unprotected, in `plain`, for the packet's associated data.
    const std::uint8_t first = static_cast<std::uint8_t>(h.first ^ (mask[0] & 0x0f));
    const std::size_t number_length = (first & 3) + 1u;
    const std::size_t header_length = h.number_offset + number_length;
    std::memcpy(plain.data(), datagram.data(), header_length);
    plain[0] = first;
    std::uint64_t number = 0;
    for (std::size_t i = 0; i < number_length; ++i) {
        plain[h.number_offset + i] ^= mask[1 + i];
        number = number << 8 | plain[h.number_offset + i];
    }
    // A client's first packets are numbered from 0: the truncated number is the number.
    const auto sealed = datagram.subspan(header_length, h.packet_length - header_length);
    if (!crypto.open(keys, number, plain.first(header_length), sealed, &plain[header_length]))
        return Parse::malformed;
    frames = plain.subspan(header_length, sealed.size() - kTag);
    return Parse::complete;
}

std::size_t seal_initial(QuicCrypto& crypto, std::span<const std::uint8_t> destination_id,
                         std::span<const std::uint8_t> source_id, std::uint32_t number,
                         std::span<const std::uint8_t> frames, std::span<std::uint8_t> out) {
    const std::size_t length = 4 + frames.size() + kTag;  // packet number, payload, tag
    const std::size_t header_length = 1 + 4 + 1 + destination_id.size() + 1 + source_id.size() + 1 +
                                      2 + 4;  // no token, a 2-byte length
    if (length > 16383 || header_length + length - 4 > out.size() ||
        destination_id.size() > kMaxConnectionId || source_id.size() > kMaxConnectionId ||
        frames.size() + 4 < kSample)
        return 0;
    std::size_t n = 0;
    out[n++] = 0xc3;  // long header, Initial, a 4-byte packet number
    for (int shift = 24; shift >= 0; shift -= 8)
        out[n++] = static_cast<std::uint8_t>(kQuicVersion1 >> shift);
    out[n++] = static_cast<std::uint8_t>(destination_id.size());
    std::copy(destination_id.begin(), destination_id.end(), &out[n]);
    n += destination_id.size();
    out[n++] = static_cast<std::uint8_t>(source_id.size());
    std::copy(source_id.begin(), source_id.end(), &out[n]);
    n += source_id.size();
    out[n++] = 0;  // token length
    out[n++] = static_cast<std::uint8_t>(0x40 | length >> 8);
    out[n++] = static_cast<std::uint8_t>(length);
    const std::size_t number_offset = n;
    for (int shift = 24; shift >= 0; shift -= 8)
        out[n++] = static_cast<std::uint8_t>(number >> shift);
    const QuicKeys keys = crypto.initial_keys(destination_id, true);
    crypto.seal(keys, number, out.first(n), frames, &out[n]);
    std::uint8_t mask[5];
    crypto.header_mask(keys, &out[number_offset + 4], mask);
    out[0] ^= mask[0] & 0x0f;
    for (int i = 0; i < 4; ++i) out[number_offset + i] ^= mask[1 + i];
    return n + frames.size() + kTag;
}

}  // namespace sluice::l7
