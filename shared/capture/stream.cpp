// A capture file's bytes as they were written: as they are, or inflated from gzip or zstd.
#include "shared/capture/stream.hpp"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice {
namespace {

constexpr std::size_t kInput = 256u << 10;  // the file's bytes read at once when inflating

}  // namespace

struct ByteStream::Inflater {
    z_stream z{};
    bool z_ready = false;
    ZSTD_DStream* zstd = nullptr;
    bool whole = true;  // at the end of a gzip member or zstd frame: the file may end here

    ~Inflater() {
        if (z_ready) inflateEnd(&z);
        ZSTD_freeDStream(zstd);
    }
};

ByteStream::ByteStream() = default;

ByteStream::~ByteStream() {
    if (fd_ >= 0) close(fd_);
}

bool ByteStream::open(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
    if (!in_) in_ = std::make_unique_for_overwrite<std::uint8_t[]>(kInput);
    in_begin_ = in_end_ = 0;
    eof_ = false;
    consumed_ = produced_ = 0;
    inflater_.reset();
    error_.clear();
    encoding_ = Encoding::plain;
    // The first four bytes say how it is written (fewer: a file too short to be compressed).
    while (in_end_ < 4 && fill()) {
    }
    if (!error_.empty()) return false;
    const std::uint8_t* p = in_.get();
    if (in_end_ >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        encoding_ = Encoding::gzip;
        inflater_ = std::make_unique<Inflater>();
        // 16 + the largest window: a gzip header and trailer around deflate data.
        if (inflateInit2(&inflater_->z, 16 + MAX_WBITS) != Z_OK) {
            fail("zlib cannot start");
            return false;
        }
        inflater_->z_ready = true;
    } else if (in_end_ >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) {
        encoding_ = Encoding::zstd;
        inflater_ = std::make_unique<Inflater>();
        inflater_->zstd = ZSTD_createDStream();
        if (inflater_->zstd == nullptr) {
            fail("libzstd cannot start");
            return false;
        }
    }
    return true;
}

bool ByteStream::fill() {
    if (eof_ || !error_.empty()) return false;
    if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
    if (in_end_ == kInput) return true;  // room comes as what is there is taken
    while (true) {
        const ssize_t n = ::read(fd_, in_.get() + in_end_, kInput - in_end_);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error_ = std::strerror(errno);
            return false;
        }
        if (n == 0) {
            eof_ = true;
            return false;
        }
        in_end_ += static_cast<std::size_t>(n);
        consumed_ += static_cast<std::uint64_t>(n);
        return true;
    }
}

void ByteStream::damaged(std::size_t taken, const char* why) {
    fail("its " + std::string(encoding_ == Encoding::gzip ? "gzip" : "zstd") +
         " data is damaged after " + std::to_string(consumed_ - (in_end_ - in_begin_ - taken)) +
         " bytes of the file: " + why);
}

std::ptrdiff_t ByteStream::fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return -1;
}

std::ptrdiff_t ByteStream::read(std::uint8_t* out, std::size_t n) {
    if (n == 0) return 0;
    if (encoding_ == Encoding::plain) {
        // What open() read first, then straight from the file.
        if (in_begin_ != in_end_) {
            const std::size_t k = std::min(n, in_end_ - in_begin_);
            std::memcpy(out, in_.get() + in_begin_, k);
            in_begin_ += k;
            produced_ += k;
            return static_cast<std::ptrdiff_t>(k);
        }
        if (!error_.empty()) return -1;
        if (eof_) return 0;
        while (true) {
            const ssize_t k = ::read(fd_, out, n);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) return fail(std::strerror(errno));
            if (k == 0) eof_ = true;
            consumed_ += static_cast<std::uint64_t>(k);
            produced_ += static_cast<std::uint64_t>(k);
            return k;
        }
    }
    if (!error_.empty()) return -1;
    Inflater& f = *inflater_;
    std::size_t made = 0;
    while (made == 0) {
        // At the end of the file, one more step without input: the inflater may hold output.
        const bool more = in_begin_ != in_end_ || fill();
        if (!more && !error_.empty()) return -1;
        const std::size_t available = in_end_ - in_begin_;
        std::size_t taken = 0;
        if (encoding_ == Encoding::gzip) {
            z_stream& z = f.z;
            const auto room = static_cast<uInt>(std::min<std::size_t>(n - made, 1u << 30));
            z.next_in = in_.get() + in_begin_;
            z.avail_in = static_cast<uInt>(available);
            z.next_out = out + made;
            z.avail_out = room;
            const int rc = inflate(&z, Z_NO_FLUSH);
            taken = available - z.avail_in;
            made += room - z.avail_out;
            if (rc == Z_STREAM_END) {
                // Another member may follow (files joined with cat are one gzip stream).
                f.whole = true;
                inflateReset(&z);
            } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
                f.whole = f.whole && taken == 0 && made == 0;
            } else {
                damaged(taken, z.msg != nullptr ? z.msg : "zlib error");
            }
        } else {
            ZSTD_inBuffer in{in_.get() + in_begin_, available, 0};
            ZSTD_outBuffer o{out + made, n - made, 0};
            const std::size_t rc = ZSTD_decompressStream(f.zstd, &o, &in);
            taken = in.pos;
            made += o.pos;
            if (ZSTD_isError(rc))
                damaged(taken, ZSTD_getErrorName(rc));
            else if (taken != 0 || o.pos != 0)
                f.whole = rc == 0;  // 0: a frame has just ended, and all of it is out
        }
        in_begin_ += taken;
        // What came out before the damage is handed out first; the error on the next call.
        if (!error_.empty()) {
            if (made == 0) return -1;
            break;
        }
        if (made == 0 && !more) {
            if (f.whole) return 0;
            return fail(std::string("its ") + (encoding_ == Encoding::gzip ? "gzip" : "zstd") +
                        " data ends early, after " + std::to_string(consumed_) +
                        " bytes of the file (" + std::to_string(produced_) + " bytes of capture)");
        }
    }
    produced_ += made;
    return static_cast<std::ptrdiff_t>(made);
}

}  // namespace sluice
