// A worker's metadata extraction: slots and reassembly buffers, the protocols by content, the
// fields into the slot, the slot into the record's extensions.
#include "dataplane/l7/extractor.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/l7/dns.hpp"
#include "dataplane/l7/http.hpp"

namespace sluice::l7 {
namespace {

constexpr std::uint8_t kTcp = 6, kUdp = 17;
constexpr std::uint16_t kDnsPort = 53;

// Slot::state bits.
enum : std::uint8_t {
    kQueryRead = 1,     // DNS: the first query's fields are in
    kResponseRead = 2,  // DNS: the first response's
    kNamed = 4,         // DNS: the question's name and type are in
    kVersionRead = 8,   // QUIC: the version is in
};

// QUIC: the ranges of the CRYPTO stream a reassembly buffer holds, kept at its end.
struct CryptoRange {
    std::uint16_t begin, end;
};
constexpr std::size_t kMaxCryptoRanges = 16;
constexpr std::size_t kCryptoRangeBytes = kMaxCryptoRanges * sizeof(CryptoRange);

// The fields a flow keeps: two strings at max_length (most are far shorter: a flow's strings
// share the room, and one that finds none left is counted as cut), its numbers and the DNS
// answers; within what a record's extensions carry.
std::size_t field_bytes(const config::Metadata& c) {
    const std::size_t strings = 2 * (3 + std::size_t{c.max_length});
    const std::size_t answers = 3 + std::size_t{c.max_answers} * 17;
    const std::size_t numbers = 16 * 11;
    // Room for the count emit() adds, and the flow table's TCP health fields.
    constexpr std::size_t kMost = (kMaxMetadataBytes - 5 - kTcpHealthBytes) & ~63ull;
    return std::min<std::size_t>(kMost, (strings + answers + numbers + 63) & ~63ull);
}

// Messages split over segments are few and short-lived: a buffer for one flow in 16.
std::size_t malformed_index(auto protocol) {
    return static_cast<std::size_t>(protocol) - 1;  // kMetadataProtocolNames's order
}

std::size_t buffer_count(const config::Metadata& c) {
    return std::max<std::size_t>(64, c.flows / 16);
}

std::size_t slot_bytes(const config::Metadata& c) {
    return 64 + field_bytes(c);
}

}  // namespace

std::size_t Extractor::memory_size(const config::Metadata& c) {
    const std::size_t buffers = buffer_count(c);
    return std::size_t{c.flows} * slot_bytes(c) + buffers * c.bytes +
           ((buffers * sizeof(std::uint32_t) + 63) & ~std::size_t{63});
}

Extractor::Extractor(const config::Metadata& c, void* memory)
    : config_(c),
      slots_(c.flows),
      buffers_(static_cast<std::uint32_t>(buffer_count(c))),
      slot_bytes_(slot_bytes(c)),
      field_bytes_(field_bytes(c)),
      slots_memory_(static_cast<std::uint8_t*>(memory)),
      buffers_memory_(slots_memory_ + std::size_t{slots_} * slot_bytes_),
      free_buffers_(
          reinterpret_cast<std::uint32_t*>(buffers_memory_ + std::size_t{buffers_} * c.bytes)) {
    static_assert(sizeof(Slot) <= 64);
    std::memset(memory, 0, memory_size(c));
    for (std::uint32_t i = slots_; i >= 1; --i) {  // slot 1 first
        slot(i).next_free = free_slot_;
        free_slot_ = i;
    }
    for (std::uint32_t b = buffers_; b >= 1; --b) free_buffers_[free_buffer_count_++] = b;
}

meter::MetadataHook Extractor::hook() {
    return {[](void* x, std::uint32_t& slot, const meter::Payload& p, MeterCounters& c) {
                return static_cast<Extractor*>(x)->inspect(slot, p, c);
            },
            [](void* x, std::uint32_t& slot, bool goes_on, MetadataWriter& fields,
               std::uint8_t& groups, MeterCounters& c) {
                static_cast<Extractor*>(x)->emit(slot, goes_on, fields, groups, c);
            },
            this};
}

std::uint32_t Extractor::take_slot() {
    const std::uint32_t i = free_slot_;
    if (i == 0) return 0;
    Slot& s = slot(i);
    free_slot_ = s.next_free;
    std::memset(&s, 0, sizeof(Slot));
    return i;
}

void Extractor::free_slot(std::uint32_t i) {
    Slot& s = slot(i);
    for (Stream& st : s.stream) release(st);
    s.next_free = free_slot_;
    free_slot_ = i;
}

void Extractor::release(Stream& st) {
    if (st.buffer != 0) free_buffers_[free_buffer_count_++] = st.buffer;
    st.buffer = 0;
    st.length = 0;
}

// What a flow's first message says it speaks: TLS and HTTP by their first bytes, DNS by its
// port and a header that reads, QUIC by a long header in a datagram of an Initial's size.
Extractor::Protocol Extractor::detect(const meter::Payload& p) const {
    const std::span<const std::uint8_t> d(p.data, p.length);
    const bool dns_port = p.ports[0] == kDnsPort || p.ports[1] == kDnsPort;
    if (p.protocol == kUdp) {
        if (dns_port && dns_start(d)) return Protocol::dns;
        // A client's first QUIC datagram: a long header of a version (0 is Version
        // Negotiation), padded to its least length.
        if (d.size() >= 7 && quic_long_header(d[0]) && (d[1] | d[2] | d[3] | d[4]) != 0 &&
            p.wire_length >= kQuicMinInitialDatagram)
            return Protocol::quic;
        return Protocol::none;
    }
    if (p.protocol != kTcp) return Protocol::none;
    if (d.size() >= 6 && d[0] == 22 && d[1] == 3 && d[2] <= 4 && d[5] == 1)
        return Protocol::tls;  // a handshake record that begins with a ClientHello
    if (http_request_start(d)) return Protocol::http;
    // Over TCP a DNS message may begin with its length alone, its header in the next segment.
    if (dns_port && (d.size() < 2 + 12 || dns_start(d.subspan(2)))) return Protocol::dns;
    return Protocol::none;
}

// Whether the protocol's client goes on being counted (HTTP requests, DNS queries) once its
// first message is read: its payloads are looked at to the end of the budget.
bool Extractor::counts(Protocol protocol) {
    return protocol == Protocol::http || protocol == Protocol::dns;
}

bool Extractor::inspect(std::uint32_t& index, const meter::Payload& p, MeterCounters& c) {
    if (p.length == 0) return false;
    if (index == 0) {
        const Protocol protocol = detect(p);
        if (protocol == Protocol::none) return true;  // its first message is none of ours
        index = take_slot();
        if (index == 0) {
            ++c.metadata_slots_full;
            return true;
        }
        ++c.metadata_flows;
        ++c.metadata_slots_used;
        Slot& s = slot(index);
        s.protocol = protocol;
        s.client_is_initiator = p.from_client;
    }
    Slot& s = slot(index);
    const unsigned side = p.from_client == s.client_is_initiator ? 0 : 1;
    if (s.protocol == Protocol::dns && p.protocol == kUdp) {
        datagram(s, {p.data, p.length}, c);
        return false;  // its queries are counted to the end of the budget
    }
    const std::span<const std::uint8_t> payload(p.data, p.length);
    if (s.protocol == Protocol::quic) {  // the client's Initials: the server's are not read
        if (side == 1 || s.stream[0].read) return s.stream[0].read;
        if (p.length != p.wire_length) {  // cut by the frame's capture length
            ++c.metadata_beyond_budget;
            finish(s.stream[0]);
        } else {
            quic_datagram(s, payload, c);
        }
        return s.stream[0].read;
    }
    if (side == 0 && s.protocol == Protocol::http)
        s.requests = static_cast<std::uint16_t>(s.requests + http_requests_in(payload));
    // DNS over TCP: the first query as it is read, then one each client segment that begins
    // one behind its length.
    if (side == 0 && s.protocol == Protocol::dns && s.stream[0].read && payload.size() > 4 &&
        !(payload[4] & 0x80) && dns_start(payload.subspan(2)))
        ++s.requests;
    if (!s.stream[side].read) feed(s, side, p, c);
    return s.stream[0].read && s.stream[1].read && !counts(s.protocol);
}

// A DNS message over UDP, whole in its datagram: a query counted, the first query's and the
// first response's fields read.
void Extractor::datagram(Slot& s, std::span<const std::uint8_t> message, MeterCounters& c) {
    if (message.size() >= 3 && (message[2] & 0x80) == 0) ++s.requests;
    const Parse result = parse_dns_message(s, message, c);
    if (result == Parse::malformed) ++c.metadata_malformed[malformed_index(Protocol::dns)];
}

void Extractor::quic_datagram(Slot& s, std::span<const std::uint8_t> d, MeterCounters& c) {
    Stream& st = s.stream[0];
    if (!(s.state & kVersionRead) && d.size() >= 5 && quic_long_header(d[0])) {
        const std::uint32_t version =
            std::uint32_t{d[1]} << 24 | std::uint32_t{d[2]} << 16 | std::uint32_t{d[3]} << 8 | d[4];
        s.state |= kVersionRead;
        s.groups |= group_bit(MetadataGroup::quic);
        put_number(s, MetadataField::quic_version, version, 4, c);
        if (version != kQuicVersion1) {  // its Initials' keys are not version 1's
            ++c.metadata_quic_other_versions;
            finish(st);
            return;
        }
    }
    // The datagram's Initial packets, and the 0-RTT and Handshake packets coalesced with them;
    // a short header packet ends what can be read.
    for (std::size_t at = 0; at < d.size() && quic_long_header(d[at]);) {
        QuicLongHeader h;
        std::span<const std::uint8_t> frames;
        const Parse opened = open_initial(d.subspan(at), quic_, plain_, h, frames);
        if (opened == Parse::other && h.packet_length != 0) {
            at += h.packet_length;
            continue;
        }
        if (opened == Parse::other) break;  // Retry
        bool kept = true;
        const Parse walked =
            opened != Parse::complete
                ? opened
                : crypto_frames(frames, [&](std::uint64_t offset, std::span<const std::uint8_t> b) {
                      kept = kept && gather_crypto(st, offset, b, c);
                  });
        if (walked == Parse::malformed) ++c.metadata_malformed[malformed_index(Protocol::quic)];
        if (walked != Parse::complete || !kept) {
            finish(st);
            return;
        }
        at += h.packet_length;
    }
    switch (quic_client_hello(s, c)) {
        case Parse::incomplete: return;  // the rest in the client's next Initials
        case Parse::beyond: ++c.metadata_beyond_budget; break;
        case Parse::malformed: ++c.metadata_malformed[malformed_index(Protocol::quic)]; break;
        default: break;
    }
    finish(st);
}

bool Extractor::gather_crypto(Stream& st, std::uint64_t offset, std::span<const std::uint8_t> data,
                              MeterCounters& c) {
    if (data.empty()) return true;
    const std::size_t room = config_.bytes - kCryptoRangeBytes;
    if (offset + data.size() > room) {  // the ClientHello is longer than [metadata] bytes
        ++c.metadata_beyond_budget;
        return false;
    }
    if (st.buffer == 0) {
        if (free_buffer_count_ == 0) {
            ++c.metadata_reassembly_full;
            return false;
        }
        st.buffer = free_buffers_[--free_buffer_count_];
        st.length = 0;
    }
    std::uint8_t* b = buffer(st.buffer);
    std::memcpy(b + offset, data.data(), data.size());
    // The ranges held, in order and apart: the new one merged with those it touches.
    CryptoRange held[kMaxCryptoRanges], merged[kMaxCryptoRanges + 1];
    std::memcpy(held, b + room, st.length * sizeof(CryptoRange));
    CryptoRange added{static_cast<std::uint16_t>(offset),
                      static_cast<std::uint16_t>(offset + data.size())};
    std::size_t n = 0;
    bool placed = false;
    for (std::size_t i = 0; i < st.length; ++i) {
        const CryptoRange r = held[i];
        if (r.end < added.begin) {
            merged[n++] = r;
        } else if (added.end < r.begin) {
            if (!placed) merged[n++] = added, placed = true;
            merged[n++] = r;
        } else {
            added = {std::min(added.begin, r.begin), std::max(added.end, r.end)};
        }
    }
    if (!placed) merged[n++] = added;
    if (n > kMaxCryptoRanges) {  // scattered further than the buffer keeps track of
        ++c.metadata_out_of_order;
        return false;
    }
    std::memcpy(b + room, merged, n * sizeof(CryptoRange));
    st.length = static_cast<std::uint16_t>(n);
    return true;
}

Parse Extractor::quic_client_hello(Slot& s, MeterCounters& c) {
    const Stream& st = s.stream[0];
    if (st.buffer == 0) return Parse::incomplete;
    const std::uint8_t* b = buffer(st.buffer);
    const std::size_t room = config_.bytes - kCryptoRangeBytes;
    CryptoRange first;
    std::memcpy(&first, b + room, sizeof(first));
    if (first.begin != 0 || first.end < 4) return Parse::incomplete;
    if (b[0] != 1) return Parse::malformed;  // a client's Initials carry its ClientHello
    const std::size_t need = 4 + (std::size_t{b[1]} << 16 | std::size_t{b[2]} << 8 | b[3]);
    if (need > room) return Parse::beyond;
    if (first.end < need) return Parse::incomplete;
    ClientHello h;
    const Parse read = parse_client_hello({b + 4, need - 4}, h);
    if (read != Parse::complete) return read;
    put_hello(s, h, MetadataField::quic_server_name, MetadataField::quic_alpn, c);
    char fingerprint[36];
    const std::size_t n = ja4(h, 'q', digests_, fingerprint);
    put(s, MetadataField::quic_ja4, {reinterpret_cast<const std::uint8_t*>(fingerprint), n}, c);
    return Parse::complete;
}

void Extractor::feed(Slot& s, unsigned side, const meter::Payload& p, MeterCounters& c) {
    Stream& st = s.stream[side];
    const std::span<const std::uint8_t> here(p.data, p.length);
    const bool whole = p.length == p.wire_length;  // the frame held all of the payload
    Parse result;
    if (st.length == 0) {  // a message begins here: read it in place if it is whole
        st.next_seq = p.tcp_seq + p.wire_length;
        result = parse(s, side, here, c);
        if (result == Parse::incomplete && p.protocol == kTcp && whole) {
            if (free_buffer_count_ == 0) {
                ++c.metadata_reassembly_full;
                finish(st);
                return;
            }
            st.buffer = free_buffers_[--free_buffer_count_];
            const std::size_t n = std::min<std::size_t>(here.size(), config_.bytes);
            std::memcpy(buffer(st.buffer), here.data(), n);
            st.length = static_cast<std::uint16_t>(n);
            if (n < here.size()) result = Parse::beyond;
        }
    } else {  // the next segment of a message split over several
        if (p.tcp_seq != st.next_seq || !whole) {
            ++c.metadata_out_of_order;
            finish(st);
            return;
        }
        st.next_seq += p.wire_length;
        const std::size_t n = std::min<std::size_t>(here.size(), config_.bytes - st.length);
        std::memcpy(buffer(st.buffer) + st.length, here.data(), n);
        st.length = static_cast<std::uint16_t>(st.length + n);
        result = parse(s, side, {buffer(st.buffer), st.length}, c);
        if (result == Parse::incomplete && st.length == config_.bytes) result = Parse::beyond;
    }
    switch (result) {
        case Parse::incomplete:
            if (st.buffer == 0) {  // cut by the frame's capture length
                ++c.metadata_beyond_budget;
                finish(st);
            }
            return;
        case Parse::complete: break;
        case Parse::beyond: ++c.metadata_beyond_budget; break;
        case Parse::malformed: ++c.metadata_malformed[malformed_index(s.protocol)]; break;
        case Parse::other: break;
    }
    finish(st);
}

// The direction's first message is read, or given up: nothing more is gathered for it.
void Extractor::finish(Stream& st) {
    release(st);
    st.read = true;
}

Parse Extractor::parse(Slot& s, unsigned side, std::span<const std::uint8_t> bytes,
                       MeterCounters& c) {
    switch (s.protocol) {
        case Protocol::tls: return parse_tls(s, side, bytes, c);
        case Protocol::http: return parse_http(s, side, bytes, c);
        case Protocol::dns: {  // over TCP: each message behind its 2-byte length
            if (bytes.size() < 2) return Parse::incomplete;
            const std::size_t length = std::size_t{bytes[0]} << 8 | bytes[1];
            if (bytes.size() < 2 + length) return Parse::incomplete;
            const auto message = bytes.subspan(2, length);
            if (message.size() >= 3 && (message[2] & 0x80) == 0) ++s.requests;
            return parse_dns_message(s, message, c);
        }
        default: return Parse::other;
    }
}

Parse Extractor::parse_http(Slot& s, unsigned side, std::span<const std::uint8_t> bytes,
                            MeterCounters& c) {
    if (side == 1) {
        std::uint16_t status = 0;
        const Parse read = parse_http_status(bytes, status);
        if (read == Parse::complete) put_number(s, MetadataField::http_status, status, 2, c);
        return read;
    }
    HttpRequest r;
    const Parse read = parse_http_request(bytes, r);
    if (read != Parse::complete) return read;
    s.groups |= group_bit(MetadataGroup::http);
    const auto as_bytes = [](std::string_view v) {
        return std::span(reinterpret_cast<const std::uint8_t*>(v.data()), v.size());
    };
    put_text(s, MetadataField::http_method, as_bytes(r.method), c);
    if (r.has_host) put_text(s, MetadataField::http_host, as_bytes(r.host), c);
    put_text(s, MetadataField::http_target, as_bytes(r.target), c);
    if (r.has_user_agent) put_text(s, MetadataField::http_user_agent, as_bytes(r.user_agent), c);
    return Parse::complete;
}

// The first query's name and type, then the first response's code and answers (and its
// question, when the query was not seen).
Parse Extractor::parse_dns_message(Slot& s, std::span<const std::uint8_t> message,
                                   MeterCounters& c) {
    const bool response = message.size() >= 3 && (message[2] & 0x80) != 0;
    const std::uint8_t bit = response ? kResponseRead : kQueryRead;
    if (s.state & bit) return Parse::complete;
    DnsMessage m;
    const Parse read = parse_dns(message, config_.max_answers, m);
    if (read != Parse::complete) return read;
    s.state |= bit;
    s.groups |= group_bit(MetadataGroup::dns);
    if (m.has_question && !(s.state & kNamed)) {
        s.state |= kNamed;
        // The labels' bytes escaped, and a '.' within a label too: '.' only between labels.
        std::uint8_t text[256 * 4];
        std::size_t n = 0, from = 0;
        for (unsigned l = 0; l < m.labels; ++l) {
            if (l != 0) text[n++] = '.';
            for (std::size_t i = from; i < m.label_ends[l]; ++i) {
                if (m.name[i] != '.') {
                    n += escape(m.name[i], text + n);
                    continue;
                }
                std::memcpy(text + n, "\\x2e", 4);
                n += 4;
            }
            from = m.label_ends[l] + 1u;
        }
        if (m.labels == 0) text[n++] = '.';
        put_text(s, MetadataField::dns_query_name, {text, n}, c, true);
        put_number(s, MetadataField::dns_query_type, m.type, 2, c);
    }
    if (response) {
        put_number(s, MetadataField::dns_response_code, m.response_code, 1, c);
        put(s, MetadataField::dns_answers, {m.answers.data(), m.answers_length}, c);
    }
    return Parse::complete;
}

Parse Extractor::parse_tls(Slot& s, unsigned side, std::span<const std::uint8_t> bytes,
                           MeterCounters& c) {
    std::span<const std::uint8_t> body;
    const std::size_t room = std::min<std::size_t>(sizeof(scratch_), config_.bytes);
    const Parse found = handshake_message(bytes, side == 0 ? 1 : 2, {scratch_, room}, body);
    if (found != Parse::complete) return found;
    if (side == 1) {
        ServerHello h;
        const Parse read = parse_server_hello(body, h);
        if (read != Parse::complete) return read;
        put_number(s, MetadataField::tls_server_version, h.negotiated(), 2, c);
        put_number(s, MetadataField::tls_cipher, h.cipher, 2, c);
        return Parse::complete;
    }
    ClientHello h;
    const Parse read = parse_client_hello(body, h);
    if (read != Parse::complete) return read;
    s.groups |= group_bit(MetadataGroup::tls);
    put_hello(s, h, MetadataField::tls_server_name, MetadataField::tls_alpn, c);
    put_number(s, MetadataField::tls_client_version, h.offered_version(), 2, c);
    char fingerprint[36];
    char ja3_hex[32];
    ja3(h, digests_, ja3_hex);
    put(s, MetadataField::tls_ja3, {reinterpret_cast<const std::uint8_t*>(ja3_hex), 32}, c);
    const std::size_t n = ja4(h, 't', digests_, fingerprint);
    put(s, MetadataField::tls_ja4, {reinterpret_cast<const std::uint8_t*>(fingerprint), n}, c);
    return Parse::complete;
}

void Extractor::put_hello(Slot& s, const ClientHello& h, MetadataField server_name,
                          MetadataField alpn, MeterCounters& c) {
    if (h.has_server_name)
        put_text(
            s, server_name,
            {reinterpret_cast<const std::uint8_t*>(h.server_name.data()), h.server_name.size()}, c);
    if (!h.has_alpn) return;
    std::uint8_t names[512];
    std::size_t n = 0;
    for (std::size_t at = 0; at < h.alpn.size();) {
        const std::size_t k = h.alpn[at];
        if (at + 1 + k > h.alpn.size()) break;
        if (n != 0 && n < sizeof(names)) names[n++] = ',';
        const std::size_t copy = std::min(k, sizeof(names) - n);
        std::memcpy(names + n, &h.alpn[at + 1], copy);
        n += copy;
        at += 1 + k;
    }
    put_text(s, alpn, {names, n}, c);
}

void Extractor::put(Slot& s, MetadataField f, std::span<const std::uint8_t> value,
                    MeterCounters& c) {
    if (s.length + 3 + value.size() > field_bytes_) {
        ++c.metadata_fields_cut;
        return;
    }
    std::uint8_t* p = fields(s) + s.length;
    p[0] = static_cast<std::uint8_t>(f);
    p[1] = static_cast<std::uint8_t>(value.size());
    p[2] = static_cast<std::uint8_t>(value.size() >> 8);
    if (!value.empty()) std::memcpy(p + 3, value.data(), value.size());
    s.length = static_cast<std::uint16_t>(s.length + 3 + value.size());
}

void Extractor::put_number(Slot& s, MetadataField f, std::uint64_t v, unsigned width,
                           MeterCounters& c) {
    std::uint8_t b[8];
    for (unsigned i = 0; i < width; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
    put(s, f, {b, width}, c);
}

// `b` as it stands in a string: itself when printable ASCII (but '\\'), else \xHH; its length.
std::size_t Extractor::escape(std::uint8_t b, std::uint8_t* out) {
    static constexpr char kHex[] = "0123456789abcdef";
    if (b >= 0x20 && b < 0x7f && b != '\\') {
        out[0] = b;
        return 1;
    }
    out[0] = '\\';
    out[1] = 'x';
    out[2] = static_cast<std::uint8_t>(kHex[b >> 4]);
    out[3] = static_cast<std::uint8_t>(kHex[b & 15]);
    return 4;
}

void Extractor::put_text(Slot& s, MetadataField f, std::span<const std::uint8_t> value,
                         MeterCounters& c, bool escaped) {
    std::uint8_t text[512 + 4];
    std::size_t n = 0;
    for (std::size_t i = 0; i < value.size();) {
        std::uint8_t one[4];
        // An escape already written is one unit: it is kept or cut whole.
        const bool unit = escaped && value[i] == '\\' && i + 4 <= value.size();
        const std::size_t k = unit ? 4 : escaped ? 1 : escape(value[i], one);
        if (n + k > config_.max_length) {
            ++c.metadata_fields_cut;
            break;
        }
        std::memcpy(text + n, escaped ? &value[i] : one, k);
        n += k;
        i += escaped ? k : 1;
    }
    put(s, f, {text, n}, c);
}

void Extractor::emit(std::uint32_t& index, bool goes_on, MetadataWriter& out, std::uint8_t& groups,
                     MeterCounters& c) {
    Slot& s = slot(index);
    groups = s.groups;
    if (s.groups != 0) {
        out.append({fields(s), s.length});
        // The count so far, behind the fields found once.
        if (counts(s.protocol))
            out.put_number(s.protocol == Protocol::http ? MetadataField::http_requests
                                                        : MetadataField::dns_queries,
                           s.requests, 2);
    }
    if (!goes_on) {
        free_slot(index);
        index = 0;
        --c.metadata_slots_used;
    }
}

}  // namespace sluice::l7
