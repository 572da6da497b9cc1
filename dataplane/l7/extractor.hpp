// A worker's metadata extraction: what its flows' first payloads say (TLS hellos, QUIC
// Initials, HTTP requests and responses, DNS messages), kept in slots of fixed memory beside
// the flow table until the flow's record takes them as extensions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/l7/quic.hpp"
#include "dataplane/l7/tls.hpp"
#include "dataplane/meter/identify.hpp"
#include "sluice/config.hpp"
#include "sluice/metadata.hpp"

namespace sluice::l7 {

class Extractor {
public:
    // Bytes of memory for `c`: the slots and the reassembly buffers.
    static std::size_t memory_size(const config::Metadata& c);

    // `memory` (memory_size(c) bytes, 64-byte aligned) outlives the extractor; it is cleared.
    Extractor(const config::Metadata& c, void* memory);
    Extractor(const Extractor&) = delete;
    Extractor& operator=(const Extractor&) = delete;

    bool inspect(std::uint32_t& slot, const meter::Payload& p, MeterCounters& counters);
    // The slot's fields into `out`, which has room for them (field_bytes plus a count).
    void emit(std::uint32_t& slot, bool goes_on, MetadataWriter& out, std::uint8_t& groups,
              MeterCounters& counters);

    // What the flow table calls.
    meter::MetadataHook hook();

    std::uint32_t slots() const { return slots_; }

private:
    enum class Protocol : std::uint8_t { none, tls, quic, http, dns };
    // One direction's bytes of a message split over TCP segments, or (QUIC) the client's
    // CRYPTO stream gathered from its Initial packets.
    struct Stream {
        std::uint32_t next_seq;  // of the byte that continues it
        std::uint32_t buffer;    // a reassembly buffer, from 1; 0: none
        std::uint16_t length;    // bytes in it; QUIC: the ranges of the stream it holds
        bool read;               // its first message is read, or given up
    };
    struct Slot {
        std::uint32_t next_free;
        Protocol protocol;
        std::uint8_t groups;       // found: MetadataGroup bits
        bool client_is_initiator;  // the initiator sent the first message (roles by content)
        std::uint8_t state;        // what of the protocol's messages is read
        Stream stream[2];          // [0] the client's, [1] the server's
        std::uint16_t length;      // of `fields`
        std::uint16_t requests;    // HTTP requests, DNS queries
        std::uint32_t reserved2;
        // Then the fields found, in metadata.hpp's bytes, up to field_bytes_.
    };

    Slot& slot(std::uint32_t i) {
        return *reinterpret_cast<Slot*>(slots_memory_ + std::size_t{i - 1} * slot_bytes_);
    }
    std::uint8_t* fields(Slot& s) { return reinterpret_cast<std::uint8_t*>(&s + 1); }
    std::uint8_t* buffer(std::uint32_t b) {
        return buffers_memory_ + std::size_t{b - 1} * config_.bytes;
    }

    Protocol detect(const meter::Payload& p) const;
    static bool counts(Protocol protocol);
    std::uint32_t take_slot();
    void free_slot(std::uint32_t i);
    void release(Stream& st);
    // Feeds one payload of side `side` to the slot's protocol.
    void feed(Slot& s, unsigned side, const meter::Payload& p, MeterCounters& c);
    void finish(Stream& st);
    void datagram(Slot& s, std::span<const std::uint8_t> message, MeterCounters& c);
    // A client datagram of a QUIC flow: its version, its Initial packets' CRYPTO frames.
    void quic_datagram(Slot& s, std::span<const std::uint8_t> datagram, MeterCounters& c);
    // Gathers CRYPTO bytes at `offset` of the stream; false when they cannot be kept.
    bool gather_crypto(Stream& st, std::uint64_t offset, std::span<const std::uint8_t> data,
                       MeterCounters& c);
    // What the CRYPTO stream holds from its start, once it holds the whole ClientHello.
    Parse quic_client_hello(Slot& s, MeterCounters& c);
    // A ClientHello's server name and ALPN (comma-separated), into the slot's fields.
    void put_hello(Slot& s, const ClientHello& h, MetadataField server_name, MetadataField alpn,
                   MeterCounters& c);
    // What a parser makes of `bytes` (a direction's stream from its first byte).
    Parse parse(Slot& s, unsigned side, std::span<const std::uint8_t> bytes, MeterCounters& c);
    Parse parse_tls(Slot& s, unsigned side, std::span<const std::uint8_t> bytes, MeterCounters& c);
    Parse parse_http(Slot& s, unsigned side, std::span<const std::uint8_t> bytes, MeterCounters& c);
    Parse parse_dns_message(Slot& s, std::span<const std::uint8_t> message, MeterCounters& c);

    // Fields into the slot: what does not fit is left out, and counted.
    void put(Slot& s, MetadataField f, std::span<const std::uint8_t> value, MeterCounters& c);
    void put_number(Slot& s, MetadataField f, std::uint64_t v, unsigned width, MeterCounters& c);
    // A string, escaped (bytes outside printable ASCII, and '\', as \xHH; `escaped`: it is
    // already) and cut to max_length, never inside an escape.
    void put_text(Slot& s, MetadataField f, std::span<const std::uint8_t> value, MeterCounters& c,
                  bool escaped = false);
    static std::size_t escape(std::uint8_t b, std::uint8_t* out);

    config::Metadata config_;
    std::uint32_t slots_;
    std::uint32_t buffers_;
    std::size_t slot_bytes_;
    std::size_t field_bytes_;
    std::uint8_t* slots_memory_;
    std::uint8_t* buffers_memory_;
    std::uint32_t* free_buffers_;
    std::uint32_t free_buffer_count_ = 0;
    std::uint32_t free_slot_ = 0;
    Digests digests_;
    QuicCrypto quic_;
    std::uint8_t scratch_[16384];  // a handshake message records split, gathered
    std::uint8_t plain_[16384];    // a QUIC packet's header and payload, unprotected
};

}  // namespace sluice::l7
