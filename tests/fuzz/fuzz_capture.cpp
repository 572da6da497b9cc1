// Fuzz target: arbitrary bytes as a capture file through the capture reader. Whatever they hold,
// nothing reads out of bounds (ASan), every packet handed out lies within what was read, and
// the reader ends: with the file, or at the first record that breaks the format.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "shared/capture/capture.hpp"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const int fd = memfd_create("capture", MFD_CLOEXEC);
    if (fd < 0) std::abort();
    if (write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
    lseek(fd, 0, SEEK_SET);
    CaptureReader reader(512);  // small reads: records cross many of them
    if (!reader.open_fd(fd, "fuzz.pcap")) return 0;
    PacketRef packets[64];
    std::uint64_t handed = 0, bytes = 0;
    for (unsigned n; (n = reader.next(packets, 64)) != 0;) {
        for (unsigned i = 0; i < n; ++i) {
            const PacketRef& p = packets[i];
            if (p.length > CaptureReader::kMaxRecord || p.frame_length < p.length) std::abort();
            // Every byte handed out is readable: ASan stops a read past the buffer.
            volatile std::uint8_t sum = 0;
            for (std::uint32_t b = 0; b < p.length; ++b) sum = sum + p.data[b];
            bytes += p.length;
        }
        handed += n;
        if (handed > size) std::abort();  // each record takes at least its 16-byte header
    }
    if (!reader.done() || reader.packets() != handed || reader.bytes() != bytes) std::abort();
    return 0;
}
