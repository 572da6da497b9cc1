// A file of /dev/shm mapped shared: what sluice-control keeps there outlives the process, so
// the next control takes up where a killed one stopped.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace sluice::control {

class SharedFile {
public:
    // Maps `path`: the file as it is when it exists (`found()`), else a new one of `size`
    // bytes, zeroed (its pages are allocated only as they are written). Null after saying why
    // in `error`.
    static std::unique_ptr<SharedFile> open(const std::string& path, std::size_t size,
                                            std::string& error);
    // `size` bytes of this process's own, zeroed, in the same way (no file, nothing to find).
    static std::unique_ptr<SharedFile> memory(std::size_t size);
    // `path` (none: memory()) of exactly `size` bytes: a file of another size, left by another
    // configuration, is replaced once `replacing` has seen it. A file that cannot be had is
    // logged with `otherwise` (what memory() then means) and memory() it is.
    static std::unique_ptr<SharedFile> open_sized(
        const std::string& path, std::size_t size, const char* otherwise,
        const std::function<void(const SharedFile&)>& replacing = {});
    ~SharedFile();
    SharedFile(const SharedFile&) = delete;
    SharedFile& operator=(const SharedFile&) = delete;

    void* data() const { return data_; }
    std::size_t size() const { return size_; }
    bool found() const { return found_; }
    const std::string& path() const { return path_; }
    // Nothing in it is needed any more: the file goes (the mapping stays until destroyed).
    void remove();

private:
    SharedFile(std::string path, void* data, std::size_t size, bool found)
        : path_(std::move(path)), data_(data), size_(size), found_(found) {}

    std::string path_;
    void* data_;
    std::size_t size_;
    bool found_;
};

// The name of a file for `what` (a collector's name, say) among those of `prefix`: the
// characters a file name would not carry written `_`, with a hash of the whole name so that
// names written alike stay apart.
std::string shared_file_name(const std::string& prefix, const std::string& what);

}  // namespace sluice::control
