// Messages for a person: one line each on stderr, prefixed with the program's name. Under
// systemd (JOURNAL_STREAM set) each line also carries its syslog priority, "<3>" for an error,
// so `journalctl -p warning` shows the warnings and errors only.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace sluice::log {

inline const char*& program() {
    static const char* name = "sluice";
    return name;
}

// The least urgent syslog priority printed (7: everything). Once EAL runs, the level of the
// process's DPDK log type sets it (eal::register_log_type).
inline int& threshold() {
    static int level = 7;
    return level;
}

inline bool to_journal() {
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    return journal;
}

// priority: syslog's, 3 error, 4 warning, 6 info.
[[gnu::format(printf, 3, 4)]] inline void write(int priority, const char* level, const char* fmt,
                                                ...) {
    if (priority > threshold()) return;
    std::va_list args;
    va_start(args, fmt);
    if (to_journal()) std::fprintf(stderr, "<%d>", priority);
    std::fprintf(stderr, "%s: %s", program(), level);
    std::vfprintf(stderr, fmt, args);
    std::fputc('\n', stderr);
    va_end(args);
}

// A line that names its own place, such as a configuration error ("FILE:LINE:COL: key: ..."):
// printed as it is, with the error priority under systemd.
inline void error_line(const char* line) {
    if (to_journal()) std::fputs("<3>", stderr);
    std::fputs(line, stderr);
    std::fputc('\n', stderr);
}

}  // namespace sluice::log

#define SLUICE_INFO(...) ::sluice::log::write(6, "", __VA_ARGS__)
#define SLUICE_WARN(...) ::sluice::log::write(4, "warning: ", __VA_ARGS__)
#define SLUICE_ERROR(...) ::sluice::log::write(3, "error: ", __VA_ARGS__)
