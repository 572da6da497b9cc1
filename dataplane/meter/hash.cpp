// The random key of the flow hash.
#include "dataplane/meter/hash.hpp"

#include <sys/random.h>

#include <random>

namespace sluice::meter {

HashKey random_hash_key() {
    HashKey key{};
    if (getrandom(&key, sizeof(key), 0) != static_cast<ssize_t>(sizeof(key))) {
        std::random_device device;  // getrandom is missing only on very old kernels
        for (auto& word : key.k) word = (std::uint64_t{device()} << 32) ^ device();
    }
    return key;
}

}  // namespace sluice::meter
