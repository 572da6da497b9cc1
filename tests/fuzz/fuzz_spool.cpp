// Fuzz target: arbitrary bytes as a spool's segment after a valid header (the first byte even),
// or as its cursor file beside a valid segment (odd). Whatever they hold, opening and reading the
// spool never crashes nor reads out of bounds, hands out no more records than the bytes could
// hold (a last block cut short may claim more, and is counted as lost), and ends empty.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "control/export/spool.hpp"

using namespace sluice;
using namespace sluice::control;

namespace {

SpoolSettings settings(const std::string& folder) {
    return {.folder = folder,
            .sensor = "fuzz",
            .collector = "fuzz",
            .size = 1ull << 30,
            .sync = config::kSyncNever,
            .overflow = config::SpoolOverflow::drop_newest};
}

struct Fixture {
    std::string folder, segment, cursor;
    std::vector<char> header, valid;  // a segment's header, and a whole segment of 3 blocks

    Fixture() {
        char name[] = "/tmp/sluice-fuzz-spool.XXXXXX";
        folder = mkdtemp(name);
        static std::string removed;
        removed = folder;
        std::atexit([] { std::filesystem::remove_all(removed); });
        {
            Spool s(settings(folder));
            std::vector<FlowRecord> records(300);
            for (std::size_t i = 0; i < records.size(); ++i) records[i].packets = i + 1;
            for (int b = 0; b < 3; ++b) s.append(std::span(records).first(100 * (b + 1) / 3 + 1));
        }
        for (const auto& e : std::filesystem::directory_iterator(folder)) {
            if (e.path().extension() == ".spool")
                segment = e.path().string();
            else
                cursor = e.path().string();
        }
        std::ifstream in(segment, std::ios::binary);
        valid.assign(std::istreambuf_iterator<char>(in), {});
        const std::size_t length =
            static_cast<unsigned char>(valid[20]) | static_cast<unsigned char>(valid[21]) << 8;
        header.assign(valid.begin(), valid.begin() + static_cast<long>(length));
    }
};

void write(const std::string& path, const char* data, std::size_t n) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data, static_cast<std::streamsize>(n));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture f;
    if (size == 0) return 0;
    const auto* body = reinterpret_cast<const char*>(data + 1);
    const std::size_t n = size - 1;
    std::uint64_t most;     // records the files could hold
    std::uint64_t claimed;  // and their block headers could claim (a block cut short)
    if (data[0] % 2 == 0) {
        std::vector<char> segment = f.header;
        segment.insert(segment.end(), body, body + n);
        write(f.segment, segment.data(), segment.size());
        write(f.cursor, "", 0);
        most = n / sizeof(FlowRecord);
        claimed = most + 2048;
    } else {
        write(f.segment, f.valid.data(), f.valid.size());
        write(f.cursor, body, n);
        most = claimed = f.valid.size() / sizeof(FlowRecord);
    }
    std::uint64_t handed = 0;
    {
        Spool s(settings(f.folder));
        if (s.unread() > claimed) std::abort();
        std::vector<FlowRecord> out(97);
        for (std::size_t k; (k = s.read(out)) != 0;) {
            handed += k;
            s.release(k);
            if (handed > most) std::abort();
        }
        if (!s.empty() || s.state().records != 0) std::abort();
    }
    return 0;
}
