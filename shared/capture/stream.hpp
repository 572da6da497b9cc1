// A capture file's bytes as they were written: read as they are, or inflated from gzip
// (zlib) or zstd (libzstd), whichever the file's first bytes say it is. A pipe (standard
// input) works as well as a file: nothing is read twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace sluice {

class ByteStream {
public:
    enum class Encoding : std::uint8_t { plain, gzip, zstd };

    ByteStream();
    ~ByteStream();
    ByteStream(const ByteStream&) = delete;
    ByteStream& operator=(const ByteStream&) = delete;

    // Takes `fd` (owned from now on, closed by the next open or the destructor) and reads its
    // first bytes to learn how it is encoded. False with error() when that read fails.
    bool open(int fd);

    // Up to `n` bytes of what was written: the number read, 0 at the end, -1 on an error
    // (error() says which; one that comes after bytes comes on the next call, and stays).
    std::ptrdiff_t read(std::uint8_t* out, std::size_t n);

    Encoding encoding() const { return encoding_; }
    // How much of the file (compressed, when it is) has been read: how far along it is.
    std::uint64_t consumed() const { return consumed_; }
    const std::string& error() const { return error_; }

private:
    struct Inflater;
    // Reads more of the file into in_ (after what is left of it); false at its end or an error.
    bool fill();
    std::ptrdiff_t fail(std::string message);
    // Damaged compressed data, found after `taken` more bytes of in_.
    void damaged(std::size_t taken, const char* why);

    int fd_ = -1;
    Encoding encoding_ = Encoding::plain;
    std::unique_ptr<std::uint8_t[]> in_;  // the file's bytes not yet taken
    std::size_t in_begin_ = 0, in_end_ = 0;
    bool eof_ = false;
    std::uint64_t consumed_ = 0;
    std::uint64_t produced_ = 0;  // bytes handed out
    std::unique_ptr<Inflater> inflater_;
    std::string error_;
};

}  // namespace sluice
