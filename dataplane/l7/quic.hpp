// QUIC Initial packets (RFC 9000 section 17.2.2, RFC 9001 section 5): a client's long header
// read, its protection removed with the keys its Destination Connection ID gives (HKDF-SHA256
// and AES-128-GCM, OpenSSL's libcrypto), and its CRYPTO frames, which carry the TLS
// ClientHello. Version 1 only: other versions' Initials are protected with other salts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/l7/parse.hpp"

namespace sluice::l7 {

inline constexpr std::uint32_t kQuicVersion1 = 1;
// A client's first datagram is at least this long (RFC 9000 section 14.1).
inline constexpr std::size_t kQuicMinInitialDatagram = 1200;

// A long header packet's fields, as far as its type-specific part.
struct QuicLongHeader {
    std::uint8_t first = 0;  // as sent: its low bits are protected
    std::uint32_t version = 0;
    std::span<const std::uint8_t> destination_id;
    std::span<const std::uint8_t> source_id;
    std::span<const std::uint8_t> token;  // Initial packets only
    std::size_t number_offset = 0;        // where the packet number starts
    std::size_t packet_length = 0;        // of the whole packet, from its first byte

    // Initial in version 1: type bits 00.
    bool initial() const { return ((first >> 4) & 3) == 0; }
};

// Whether a datagram's first byte says a long header (form and fixed bits set).
inline bool quic_long_header(std::uint8_t first) {
    return (first & 0xc0) == 0xc0;
}

// The long header at the start of `datagram`. Version 1 and unknown versions alike: for a
// version other than 1 the type-specific part is not read (number_offset and packet_length
// 0). Incomplete: cut before its end; malformed: its lengths cannot be.
Parse read_long_header(std::span<const std::uint8_t> datagram, QuicLongHeader& out);

// The packet protection keys of one side (RFC 9001 section 5.1).
struct QuicKeys {
    std::uint8_t key[16];
    std::uint8_t iv[12];
    std::uint8_t hp[16];
};

// HKDF, AES-128-ECB and AES-128-GCM with OpenSSL, through contexts made once (a worker's own).
class QuicCrypto {
public:
    QuicCrypto();
    ~QuicCrypto();
    QuicCrypto(const QuicCrypto&) = delete;
    QuicCrypto& operator=(const QuicCrypto&) = delete;

    // The client's (or the server's) Initial keys, from the client's first Destination
    // Connection ID.
    QuicKeys initial_keys(std::span<const std::uint8_t> destination_id, bool client);

    // The 5 mask bytes of header protection, from the 16-byte sample.
    void header_mask(const QuicKeys& k, const std::uint8_t* sample, std::uint8_t (&mask)[5]);

    // AES-128-GCM with the packet's nonce: `in` (ciphertext and its 16-byte tag) into `out`,
    // false when the tag does not match; or `in` into ciphertext and tag.
    bool open(const QuicKeys& k, std::uint64_t number, std::span<const std::uint8_t> header,
              std::span<const std::uint8_t> in, std::uint8_t* out);
    void seal(const QuicKeys& k, std::uint64_t number, std::span<const std::uint8_t> header,
              std::span<const std::uint8_t> in, std::uint8_t* out);

private:
    // HMAC-SHA256 (RFC 2104) from the key's inner and outer hash states, prepared once by
    // prepare(): a copy of each and the message hashed on, no set-up per call.
    void prepare(std::span<const std::uint8_t> key, void* inner, void* outer);
    void hmac(void* inner, void* outer, std::span<const std::uint8_t> data,
              std::uint8_t (&out)[32]);
    // HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context, `out.size()` <= 32, from
    // the secret prepared in inner_ and outer_.
    void expand_label(const char* label, std::span<std::uint8_t> out);
    void nonce(const QuicKeys& k, std::uint64_t number, std::uint8_t (&out)[12]) const;

    void* sha256_;      // EVP_MD
    void* ctx_;         // EVP_MD_CTX: the one a hash is computed in
    void* salt_inner_;  // EVP_MD_CTX: version 1's salt as an HMAC key, for HKDF-Extract
    void* salt_outer_;
    void* inner_;  // EVP_MD_CTX: the secret being expanded
    void* outer_;
    void* ecb_;  // EVP_CIPHER
    void* gcm_;
    void* cipher_ctx_;  // EVP_CIPHER_CTX
};

// A client Initial packet of version 1 at the start of `datagram`, its protection removed:
// `frames` the decrypted payload (in `plain`, which has room for the datagram), `header` its
// header. Malformed: its header does not read, or its tag does not match.
Parse open_initial(std::span<const std::uint8_t> datagram, QuicCrypto& crypto,
                   std::span<std::uint8_t> plain, QuicLongHeader& header,
                   std::span<const std::uint8_t>& frames);

// A client Initial packet of version 1 with `frames` (padded by the caller as it likes) and a
// 4-byte packet number, protected, into `out`; its length, 0 when `out` is too short.
std::size_t seal_initial(QuicCrypto& crypto, std::span<const std::uint8_t> destination_id,
                         std::span<const std::uint8_t> source_id, std::uint32_t number,
                         std::span<const std::uint8_t> frames, std::span<std::uint8_t> out);

// The frames of an Initial packet's payload: `on_crypto(offset, data)` for each CRYPTO frame.
// Malformed: a frame an Initial may not carry, or one cut short.
template <typename F>
Parse crypto_frames(std::span<const std::uint8_t> frames, F&& on_crypto);

// A variable-length integer (RFC 9000 section 16) at `at`, moved past it; false when cut.
bool read_varint(std::span<const std::uint8_t> bytes, std::size_t& at, std::uint64_t& out);

template <typename F>
Parse crypto_frames(std::span<const std::uint8_t> frames, F&& on_crypto) {
    std::size_t at = 0;
    std::uint64_t v[4];
    while (at < frames.size()) {
        const std::uint8_t type = frames[at++];
        switch (type) {
            case 0x00:  // PADDING
            case 0x01:  // PING
                break;
            case 0x02:    // ACK
            case 0x03: {  // ACK with ECN counts
                std::uint64_t ranges = 0;
                if (!read_varint(frames, at, v[0]) || !read_varint(frames, at, v[1]) ||
                    !read_varint(frames, at, ranges) || !read_varint(frames, at, v[2]))
                    return Parse::malformed;
                if (ranges > frames.size()) return Parse::malformed;
                for (std::uint64_t r = 0; r < ranges; ++r)
                    if (!read_varint(frames, at, v[0]) || !read_varint(frames, at, v[1]))
                        return Parse::malformed;
                if (type == 0x03)
                    for (int e = 0; e < 3; ++e)
                        if (!read_varint(frames, at, v[0])) return Parse::malformed;
                break;
            }
            case 0x06: {  // CRYPTO
                std::uint64_t offset = 0, length = 0;
                if (!read_varint(frames, at, offset) || !read_varint(frames, at, length) ||
                    length > frames.size() - at)
                    return Parse::malformed;
                on_crypto(offset, frames.subspan(at, static_cast<std::size_t>(length)));
                at += static_cast<std::size_t>(length);
                break;
            }
            case 0x1c: {  // CONNECTION_CLOSE
                std::uint64_t reason = 0;
                if (!read_varint(frames, at, v[0]) || !read_varint(frames, at, v[1]) ||
                    !read_varint(frames, at, reason) || reason > frames.size() - at)
                    return Parse::malformed;
                at += static_cast<std::size_t>(reason);
                break;
            }
            default: return Parse::malformed;
        }
    }
    return Parse::complete;
}

}  // namespace sluice::l7
