// A file of /dev/shm mapped shared, outliving the process that wrote it.
#include "control/export/shared_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

#include "control/export/spool.hpp"
#include "sluice/log.hpp"

namespace sluice::control {

std::unique_ptr<SharedFile> SharedFile::open(const std::string& path, std::size_t size,
                                             std::string& error) {
    const auto fail = [&](const char* what) {
        error = std::string(what) + " " + path + ": " + std::strerror(errno);
        return nullptr;
    };
    bool found = true;
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        found = false;
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0) return fail("cannot open");
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        ::close(fd);
        return fail("cannot read the size of");
    }
    if (found) {
        size = static_cast<std::size_t>(st.st_size);
    } else if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
        ::close(fd);
        ::unlink(path.c_str());
        return fail("cannot size");
    }
    if (size == 0) {
        ::close(fd);
        errno = EINVAL;
        return fail("empty:");
    }
    void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (data == MAP_FAILED) return fail("cannot map");
    return std::unique_ptr<SharedFile>(new SharedFile(path, data, size, found));
}

std::unique_ptr<SharedFile> SharedFile::memory(std::size_t size) {
    void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) throw std::bad_alloc();
    return std::unique_ptr<SharedFile>(new SharedFile({}, data, size, false));
}

std::unique_ptr<SharedFile> SharedFile::open_sized(
    const std::string& path, std::size_t size, const char* otherwise,
    const std::function<void(const SharedFile&)>& replacing) {
    if (path.empty()) return memory(size);
    std::string error;
    auto file = open(path, size, error);
    if (file && file->size() != size) {
        if (replacing) replacing(*file);
        file->remove();
        file = open(path, size, error);
    }
    if (file) return file;
    SLUICE_WARN("%s; %s", error.c_str(), otherwise);
    return memory(size);
}

SharedFile::~SharedFile() {
    munmap(data_, size_);
}

void SharedFile::remove() {
    if (!path_.empty()) ::unlink(path_.c_str());
}

std::string shared_file_name(const std::string& prefix, const std::string& what) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : what) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    char hash[24];
    std::snprintf(hash, sizeof(hash), "-%08" PRIx64, h & 0xffffffffu);
    return prefix + file_safe(what) + hash;
}

}  // namespace sluice::control
