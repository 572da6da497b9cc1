// Fuzz target: arbitrary bytes as a control-socket request line. It parses or gets an error
// that says where; a parsed request's values survive being written back and read again.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control/ops/json.hpp"

using namespace sluice::ops;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const ParsedRequest parsed = parse_request(text);
    if (parsed.request.has_value() == !parsed.error.empty()) std::abort();
    if (!parsed.request) return 0;
    JsonWriter j;
    j.begin_object().field("command", parsed.request->command);
    for (const auto& [key, value] : parsed.request->arguments) {
        j.key(key);
        std::visit([&j](const auto& v) { j.value(v); }, value);
    }
    j.end_object();
    const ParsedRequest again = parse_request(j.text());
    if (!again.request || again.request->command != parsed.request->command ||
        again.request->arguments != parsed.request->arguments)
        std::abort();
    return 0;
}
