// What `sluice pcap` is given to read, in the order its packets were captured.
#include "tools/pcap/inputs.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <tuple>

#include "shared/capture/capture.hpp"

namespace sluice::offline {
namespace {

namespace fs = std::filesystem;

struct Found {
    std::uint64_t first_ns;
    std::string path;
};

}  // namespace

Inputs plan_inputs(const std::vector<std::string>& given) {
    Inputs in;
    // Standard input, a named pipe or a device can be read only once: not looked into first.
    const auto once = [](const std::string& path) {
        struct stat st {};
        return path == "-" ||
               (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode));
    };
    if (given.size() == 1 && once(given[0])) {
        in.files = given;
        return in;
    }
    // Every file, each folder's in name order (their time order is found below).
    std::vector<std::pair<std::string, bool>> paths;  // and whether it was in a folder
    for (const std::string& g : given) {
        std::error_code ec;
        if (once(g)) {
            in.errors.push_back((g == "-" ? std::string("standard input (-)") : g) +
                                " is read on its own, not with other files");
            continue;
        }
        if (!fs::is_directory(g, ec)) {
            paths.emplace_back(g, false);
            continue;
        }
        std::vector<std::string> inside;
        for (const auto& e : fs::directory_iterator(g, ec))
            if (e.is_regular_file(ec) && e.path().filename().string().front() != '.')
                inside.push_back(e.path().string());
        if (ec) in.errors.push_back(g + ": " + ec.message());
        std::sort(inside.begin(), inside.end());
        if (inside.empty() && !ec) in.errors.push_back(g + ": a folder without files");
        for (auto& p : inside) paths.emplace_back(std::move(p), true);
    }
    std::vector<Found> found;
    CaptureReader reader(64u << 10);
    for (const auto& [path, in_folder] : paths) {
        if (!reader.open(path)) {
            // In a folder, what is not a capture at all is someone else's file.
            if (in_folder && reader.error().find(": not a ") != std::string::npos)
                in.notices.push_back(reader.error() + "; skipped");
            else
                in.errors.push_back(reader.error());
            continue;
        }
        PacketRef first[1];
        const std::uint64_t t = reader.next(first, 1) == 1 ? first[0].time_ns : 0;
        struct stat st {};
        if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
            in.bytes += static_cast<std::uint64_t>(st.st_size);
        in.compressed |= reader.encoding() != ByteStream::Encoding::plain;
        found.push_back({t, path});
    }
    std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
        return std::tie(a.first_ns, a.path) < std::tie(b.first_ns, b.path);
    });
    for (Found& f : found) in.files.push_back(std::move(f.path));
    return in;
}

}  // namespace sluice::offline
