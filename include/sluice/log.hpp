// Messages for a person: one line each on stderr, prefixed with the program's name.
#pragma once

#include <cstdarg>
#include <cstdio>

namespace sluice::log {

inline const char*& program() {
    static const char* name = "sluice";
    return name;
}

[[gnu::format(printf, 2, 3)]] inline void write(const char* level, const char* fmt, ...) {
    std::va_list args;
    va_start(args, fmt);
    std::fprintf(stderr, "%s: %s", program(), level);
    std::vfprintf(stderr, fmt, args);
    std::fputc('\n', stderr);
    va_end(args);
}

}  // namespace sluice::log

#define SLUICE_INFO(...) ::sluice::log::write("", __VA_ARGS__)
#define SLUICE_WARN(...) ::sluice::log::write("warning: ", __VA_ARGS__)
#define SLUICE_ERROR(...) ::sluice::log::write("error: ", __VA_ARGS__)
