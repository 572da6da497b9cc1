// DNS messages: the first question and the A and AAAA answers.
#include "dataplane/l7/dns.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::l7 {
namespace {

constexpr std::size_t kHeader = 12;
constexpr unsigned kMaxPointers = 16;  // compression pointers followed in one name
constexpr std::uint16_t kA = 1, kAaaa = 28;

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
    return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

// Reads the name at `at` (into `out` when given) and returns where the bytes after it begin,
// or 0 when it does not read: a label past the end, a pointer loop, a name over 255 bytes.
std::size_t name(std::span<const std::uint8_t> m, std::size_t at, DnsMessage* out) {
    std::size_t end = 0;  // after the name where it was met, once a pointer was followed
    unsigned pointers = 0, total = 0;
    for (;;) {
        if (at >= m.size()) return 0;
        const std::uint8_t length = m[at];
        if ((length & 0xc0) == 0xc0) {  // a pointer
            if (at + 1 >= m.size() || ++pointers > kMaxPointers) return 0;
            if (end == 0) end = at + 2;
            at = static_cast<std::size_t>((length & 0x3f) << 8 | m[at + 1]);
            continue;
        }
        if ((length & 0xc0) != 0) return 0;  // the reserved label types
        if (length == 0) {
            if (out != nullptr && out->labels == 0) {
                out->name[0] = '.';
                out->name_length = 1;
            }
            return end != 0 ? end : at + 1;
        }
        if (at + 1 + length > m.size() || (total += length + 1u) > 255) return 0;
        if (out != nullptr && out->labels < out->label_ends.size()) {
            if (out->labels != 0) out->name[out->name_length++] = '.';
            std::memcpy(&out->name[out->name_length], &m[at + 1], length);
            out->name_length = static_cast<std::uint16_t>(out->name_length + length);
            out->label_ends[out->labels++] =
                static_cast<std::uint8_t>(std::min<std::size_t>(out->name_length, 255));
        }
        at += 1 + length;
    }
}

}  // namespace

bool dns_start(std::span<const std::uint8_t> b) {
    if (b.size() < kHeader) return false;
    const unsigned opcode = (b[2] >> 3) & 0x0f;
    const bool response = (b[2] & 0x80) != 0;
    const std::uint16_t questions = be16(b, 4);
    return opcode == 0 && questions <= 1 && (response || be16(b, 6) == 0);
}

Parse parse_dns(std::span<const std::uint8_t> m, unsigned max_answers, DnsMessage& out) {
    if (m.size() < kHeader) return Parse::malformed;
    out.id = be16(m, 0);
    out.response = (m[2] & 0x80) != 0;
    out.response_code = m[3] & 0x0f;
    const std::uint16_t questions = be16(m, 4);
    const std::uint16_t answers = be16(m, 6);
    std::size_t at = kHeader;
    for (std::uint16_t q = 0; q < questions; ++q) {
        const std::size_t next = name(m, at, q == 0 ? &out : nullptr);
        if (next == 0 || next + 4 > m.size()) return Parse::malformed;
        if (q == 0) {
            out.type = be16(m, next);
            out.has_question = true;
        }
        at = next + 4;
    }
    if (!out.response) return Parse::complete;
    for (std::uint16_t a = 0; a < answers; ++a) {
        const std::size_t next = name(m, at, nullptr);
        if (next == 0 || next + 10 > m.size()) return Parse::malformed;
        const std::uint16_t type = be16(m, next);
        const std::uint16_t length = be16(m, next + 8);
        if (next + 10 + length > m.size()) return Parse::malformed;
        const bool address = (type == kA && length == 4) || (type == kAaaa && length == 16);
        if (address && out.answer_count < max_answers &&
            out.answers_length + 1u + length <= out.answers.size()) {
            out.answers[out.answers_length] = static_cast<std::uint8_t>(length);
            std::memcpy(&out.answers[out.answers_length + 1], &m[next + 10], length);
            out.answers_length = static_cast<std::uint16_t>(out.answers_length + 1 + length);
            ++out.answer_count;
        }
        at = next + 10 + length;
    }
    return Parse::complete;
}

}  // namespace sluice::l7
