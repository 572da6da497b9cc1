// Fuzz target: arbitrary text as the configuration file and as the signature file. Either
// loads, or says why with a position; a loaded configuration prints as TOML that loads back to
// the same configuration.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "shared/config/loader.hpp"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto loaded = config::load_string(text, "fuzz.toml");
    if (loaded.config.has_value() == !loaded.errors.empty()) std::abort();
    for (const auto& e : loaded.errors)
        if (e.message.empty()) std::abort();
    if (loaded.config) {
        const std::string printed = config::to_toml(*loaded.config);
        const auto again = config::load_string(printed, "fuzz.toml");
        if (!again.config || config::to_toml(*again.config) != printed) std::abort();
    }
    const auto signatures = config::load_signatures_string(text, "fuzz.toml");
    if (signatures.signatures.has_value() == !signatures.errors.empty()) std::abort();
    return 0;
}
