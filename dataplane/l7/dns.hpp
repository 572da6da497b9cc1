// DNS messages (RFC 1035): the first question's name and type, the response code, and the
// addresses of the A and AAAA answers. Bounded: names by their 255 bytes, compression pointers
// by a count, answers by the caller's.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "dataplane/l7/parse.hpp"

namespace sluice::l7 {

struct DnsMessage {
    std::uint16_t id = 0;
    bool response = false;
    std::uint8_t response_code = 0;  // RCODE
    bool has_question = false;
    // The question's name as dotted text: each label's bytes as sent (the caller escapes
    // them), '.' between labels; "." for the root.
    std::array<std::uint8_t, 256> name{};
    std::uint16_t name_length = 0;
    std::array<std::uint8_t, 64> label_ends{};  // where each label of `name` ends
    std::uint8_t labels = 0;
    std::uint16_t type = 0;
    // A and AAAA answers, each a length byte (4 or 16) and the address.
    std::array<std::uint8_t, 16 * 17> answers{};
    std::uint16_t answers_length = 0;
    std::uint8_t answer_count = 0;
};

// One DNS message (a UDP payload, or a TCP message without its length prefix), keeping at most
// `max_answers` addresses.
Parse parse_dns(std::span<const std::uint8_t> message, unsigned max_answers, DnsMessage& out);

// Whether `bytes` could begin a DNS message (a header that reads: one question at most in a
// query, opcode QUERY).
bool dns_start(std::span<const std::uint8_t> bytes);

}  // namespace sluice::l7
