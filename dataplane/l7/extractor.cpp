// A worker's metadata extraction: slots and reassembly buffers, the protocols by content, the
// fields into the slot, the slot into the record's extensions.
#include "dataplane/l7/extractor.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::l7 {
namespace {

constexpr std::uint8_t kTcp = 6;

// The fields a flow keeps: two strings at max_length (most are far shorter: a flow's strings
// share the room, and one that finds none left is counted as cut) and its numbers; within what
// a record's extensions carry.
std::size_t field_bytes(const config::Metadata& c) {
    const std::size_t strings = 2 * (3 + std::size_t{c.max_length});
    const std::size_t numbers = 16 * 11;
    return std::min<std::size_t>(kMaxMetadataBytes, (strings + numbers + 63) & ~63ull);
}

// Messages split over segments are few and short-lived: a buffer for one flow in 16.
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
    return {[](void* x, std::uint32_t& slot, const meter::Payload& p, std::uint64_t t,
               MeterCounters& c) { return static_cast<Extractor*>(x)->inspect(slot, p, t, c); },
            [](void* x, std::uint32_t& slot, bool goes_on, FlowRecord* out, std::uint8_t& groups,
               MeterCounters& c) {
                return static_cast<Extractor*>(x)->emit(slot, goes_on, out, groups, c);
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

// What a flow's first message says it speaks.
Extractor::Protocol Extractor::detect(const meter::Payload& p) const {
    const std::uint8_t* d = p.data;
    if (p.protocol == kTcp && p.length >= 6 && d[0] == 22 && d[1] == 3 && d[2] <= 4 && d[5] == 1)
        return Protocol::tls;  // a handshake record that begins with a ClientHello
    return Protocol::none;
}

bool Extractor::inspect(std::uint32_t& index, const meter::Payload& p, std::uint64_t,
                        MeterCounters& c) {
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
    if (!s.stream[side].done) feed(s, side, p, c);
    return s.stream[0].done && s.stream[1].done;
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
                st.done = true;
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
            release(st);
            st.done = true;
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
                st.done = true;
            }
            return;
        case Parse::complete: break;
        case Parse::beyond: ++c.metadata_beyond_budget; break;
        case Parse::malformed:
            ++c.metadata_malformed[static_cast<std::size_t>(s.protocol) - 1];
            break;
        case Parse::other: break;
    }
    release(st);
    st.done = true;
}

Parse Extractor::parse(Slot& s, unsigned side, std::span<const std::uint8_t> bytes,
                       MeterCounters& c) {
    switch (s.protocol) {
        case Protocol::tls: return parse_tls(s, side, bytes, c);
        default: return Parse::other;
    }
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
    if (h.has_server_name)
        put_text(
            s, MetadataField::tls_server_name,
            {reinterpret_cast<const std::uint8_t*>(h.server_name.data()), h.server_name.size()}, c);
    if (h.has_alpn) {  // the protocol names, comma-separated
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
        put_text(s, MetadataField::tls_alpn, {names, n}, c);
    }
    put_number(s, MetadataField::tls_client_version, h.offered_version(), 2, c);
    char fingerprint[36];
    char ja3_hex[32];
    ja3(h, digests_, ja3_hex);
    put(s, MetadataField::tls_ja3, {reinterpret_cast<const std::uint8_t*>(ja3_hex), 32}, c);
    const std::size_t n = ja4(h, 't', digests_, fingerprint);
    put(s, MetadataField::tls_ja4, {reinterpret_cast<const std::uint8_t*>(fingerprint), n}, c);
    return Parse::complete;
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

void Extractor::put_text(Slot& s, MetadataField f, std::span<const std::uint8_t> value,
                         MeterCounters& c) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::uint8_t text[512 + 4];
    std::size_t n = 0;
    for (const std::uint8_t b : value) {
        const bool plain = b >= 0x20 && b < 0x7f && b != '\\';
        const std::size_t k = plain ? 1 : 4;
        if (n + k > config_.max_length) {
            ++c.metadata_fields_cut;
            break;
        }
        if (plain) {
            text[n++] = b;
        } else {
            text[n++] = '\\';
            text[n++] = 'x';
            text[n++] = static_cast<std::uint8_t>(kHex[b >> 4]);
            text[n++] = static_cast<std::uint8_t>(kHex[b & 15]);
        }
    }
    put(s, f, {text, n}, c);
}

unsigned Extractor::emit(std::uint32_t& index, bool goes_on, FlowRecord* out, std::uint8_t& groups,
                         MeterCounters& c) {
    Slot& s = slot(index);
    groups = s.groups;
    const unsigned n = s.groups != 0 ? write_extensions({fields(s), s.length}, out) : 0;
    if (!goes_on) {
        free_slot(index);
        index = 0;
        --c.metadata_slots_used;
    }
    return n;
}

}  // namespace sluice::l7
