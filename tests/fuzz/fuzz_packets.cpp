// Fuzz target: arbitrary frames through the parser and the flow table, with identification,
// metadata extraction, TCP health and every tunnel's decapsulation on.
// The input is a byte choosing the link layer (Ethernet, or one of a capture's), then a
// sequence of frames, each a 2-byte length then its bytes. Whatever they hold, nothing reads
// out of bounds (ASan), every packet is metered or ignored, exactly once, every metadata slot
// taken is freed with its flow, and the parser's short way agrees with its long way.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/appid/classifier.hpp"
#include "dataplane/l7/extractor.hpp"
#include "dataplane/meter/flow_table.hpp"

using namespace sluice;

namespace {

struct World {
    std::unique_ptr<appid::Database> db;
    std::unique_ptr<appid::Scratch> scratch;
    config::Metadata metadata{.flows = 64, .bytes = 2048};
    std::vector<std::uint8_t> slots =
        std::vector<std::uint8_t>(l7::Extractor::memory_size(metadata) + 64);
    std::unique_ptr<l7::Extractor> extractor;
    World() {
        std::vector<std::string> errors;
        db = appid::Database::load(SLUICE_SOURCE_DIR "/config/applications.toml", errors);
        if (!db) std::abort();
        scratch = std::make_unique<appid::Scratch>(*db);
        extractor = std::make_unique<l7::Extractor>(
            metadata,
            reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(slots.data()) + 63) &
                                    ~std::uintptr_t{63}));
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static World world;
    constexpr std::uint32_t kFlows = 1024;
    const meter::FlowTableConfig config{kFlows,        1'000'000'000,
                                        5'000'000'000, 100'000'000,
                                        true,          meter::decapsulation(config::Flow{}),
                                        true};
    static std::vector<std::uint8_t> memory(meter::FlowTable::memory_size(config) + 64);
    void* aligned = reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(memory.data()) + 63) &
                                            ~std::uintptr_t{63});
    meter::FlowTable table(config, aligned, meter::HashKey{{1, 2, 3, 4, 5, 6, 7, 8}});
    table.identify_applications(appid::identification(*world.scratch));
    table.extract_metadata(world.extractor->hook());

    if (size == 0) return 0;
    // The first byte: the link type in its low 6 bits, sampling 1:3 with bit 7 (deterministic
    // with bit 6).
    const auto link = static_cast<LinkType>((data[0] & 0x3f) %
                                            (static_cast<unsigned>(LinkType::unsupported) + 1));
    if (data[0] & 0x80) table.sample(3, (data[0] & 0x40) != 0, data[0]);
    // Each frame in a buffer of its own, so ASan sees a read past its end.
    std::vector<std::vector<std::uint8_t>> frames;
    for (std::size_t at = 1; at + 2 <= size && frames.size() < meter::kMaxBurst;) {
        const std::size_t n = std::min<std::size_t>(data[at] | data[at + 1] << 8, size - at - 2);
        frames.emplace_back(data + at + 2, data + at + 2 + n);
        at += 2 + n;
    }
    std::vector<PacketRef> refs;
    std::uint64_t t = 1'700'000'000'000'000'000;
    for (const auto& f : frames) {
        const auto length = static_cast<std::uint32_t>(f.size());
        refs.push_back({f.data(), length, length, t});
        t += 300'000'000;
    }
    auto out = std::make_unique<meter::RecordBuffer>();
    std::uint64_t in_records = 0;
    table.process(refs.data(), static_cast<unsigned>(refs.size()), 0, *out, link);
    auto drain = [&] {
        for (std::uint32_t i = 0; i < out->count; i += unit_slots(out->records[i])) {
            const FlowRecord& r = out->records[i];
            in_records += r.packets + r.reverse_packets;
            // A TCP record carries its health, whatever its packets held.
            if (r.protocol == 6 && !(r.metadata_groups & group_bit(MetadataGroup::tcp_health)))
                std::abort();
        }
        out->count = 0;
    };
    drain();
    table.expire(t + 2'000'000'000, *out);
    drain();
    while (!table.flush(t + 3'000'000'000, *out)) drain();
    drain();
    const MeterCounters& c = table.counters();
    if (c.packets != refs.size() ||
        c.packets != c.metered_packets + c.ignored_total() + c.sampled_out_packets ||
        c.metered_packets != in_records)
        std::abort();                              // the accounting identity broke
    if (c.metadata_slots_used != 0) std::abort();  // a slot outlived its flow

    // parse()'s short way for the commonest packets says and writes what the long way does.
    static meter::FragmentMap short_fragments{meter::HashKey{{1, 2, 3, 4, 5, 6, 7, 8}}};
    static meter::FragmentMap long_fragments{meter::HashKey{{1, 2, 3, 4, 5, 6, 7, 8}}};
    for (const PacketRef& p : refs) {
        meter::PacketInfo a, b;
        meter::TunnelInfo ta, tb;
        std::memset(&a, 0xa5, sizeof(a));
        std::memset(&b, 0xa5, sizeof(b));
        std::memset(&ta, 0x5a, sizeof(ta));
        std::memset(&tb, 0x5a, sizeof(tb));
        const meter::ParseResult x = meter::parse(p.data, p.length, p.frame_length, link, p.time_ns,
                                                  short_fragments, config.decapsulation, a, ta);
        const meter::ParseResult y =
            meter::detail::parse_every_way(p.data, p.length, p.frame_length, link, p.time_ns,
                                           long_fragments, config.decapsulation, b, tb);
        if (x.metered() != y.metered() || x.fragment() != y.fragment() ||
            (!x.metered() && x.reason() != y.reason()) || std::memcmp(&a, &b, sizeof(a)) != 0 ||
            std::memcmp(&ta, &tb, sizeof(ta)) != 0)
            std::abort();
    }
    return 0;
}
