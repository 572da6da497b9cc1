// What the metadata parsers make of the bytes they are given.
#pragma once

#include <cstdint>

namespace sluice::l7 {

enum class Parse : std::uint8_t {
    complete,    // the message was read
    incomplete,  // more bytes of the stream are needed
    malformed,   // a length or a field that cannot be
    other,       // not this protocol's message
    beyond,      // longer than the bytes a flow may gather for it
};

}  // namespace sluice::l7
