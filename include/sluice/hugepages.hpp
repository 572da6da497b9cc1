// The hugepage files a DPDK primary leaves for its secondaries: where they are, and removing them.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sluice::hugepages {

// The hugetlbfs mounts, where a DPDK primary keeps its hugepage files.
inline std::vector<std::filesystem::path> mounts() {
    std::vector<std::filesystem::path> out;
    std::ifstream in("/proc/mounts");
    std::string device, mount, type, rest;
    while (in >> device >> mount >> type && std::getline(in, rest))
        if (type == "hugetlbfs") out.emplace_back(mount);
    return out;
}

// Removes the hugepage files of `file_prefix` ("PREFIXmap_N"). Safe while a secondary still
// maps them: the pages go when the last mapping does.
inline void remove_files(const std::string& file_prefix) {
    const std::string stem = file_prefix + "map_";
    std::error_code ec;
    for (const std::filesystem::path& mount : mounts())
        for (const auto& entry : std::filesystem::directory_iterator(mount, ec))
            if (entry.path().filename().string().starts_with(stem))
                std::filesystem::remove(entry.path(), ec);
}

}  // namespace sluice::hugepages
