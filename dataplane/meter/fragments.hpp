// Remembers the ports of first fragments, so later fragments join their flow.
#pragma once

#include <cstdint>
#include <cstring>

#include "dataplane/meter/hash.hpp"

namespace sluice::meter {

// A small direct-mapped table keyed by addresses, protocol and fragment id. Bounded: a new
// first fragment overwrites whatever was in its slot. Entries older than kLifetimeNs are
// ignored, so a reused fragment id does not inherit stale ports.
class FragmentMap {
public:
    static constexpr std::uint32_t kSlots = 4096;
    static constexpr std::uint64_t kLifetimeNs = 5'000'000'000;

    struct Id {
        std::uint8_t address[2][16];  // source, destination as sent
        std::uint32_t fragment_id;
        std::uint8_t protocol;
        std::uint8_t pad[3];
    };
    static_assert(sizeof(Id) == 40);

    explicit FragmentMap(const HashKey& key) : key_(key) {}

    void remember(const Id& id, std::uint16_t src_port, std::uint16_t dst_port, std::uint64_t now) {
        Slot& s = slots_[index(id)];
        s.id = id;
        s.port[0] = src_port;
        s.port[1] = dst_port;
        s.time_ns = now;
    }

    // The ports of the first fragment of ID, when it was seen recently.
    bool find(const Id& id, std::uint64_t now, std::uint16_t& src_port,
              std::uint16_t& dst_port) const {
        const Slot& s = slots_[index(id)];
        if (s.time_ns == 0 || now - s.time_ns > kLifetimeNs ||
            std::memcmp(&s.id, &id, sizeof(Id)) != 0)
            return false;
        src_port = s.port[0];
        dst_port = s.port[1];
        return true;
    }

private:
    struct Slot {
        Id id;
        std::uint16_t port[2];
        std::uint64_t time_ns = 0;
    };

    std::uint32_t index(const Id& id) const {
        return static_cast<std::uint32_t>(hash40(&id, key_)) & (kSlots - 1);
    }

    HashKey key_;
    Slot slots_[kSlots];
};

}  // namespace sluice::meter
