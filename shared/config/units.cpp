// Parsing and printing of durations, sizes, CPU lists and socket addresses.
#include "shared/config/units.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace sluice::config {
namespace {

constexpr unsigned kMaxCpu = 1023;

struct Unit {
    std::string_view name;
    std::uint64_t factor;
};

// Longest names first where one is a suffix of another ("ms" before "s").
constexpr std::array<Unit, 7> kDurationUnits{{
    {"ns", 1},
    {"us", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
    {"d", 86'400'000'000'000},
}};

constexpr std::array<Unit, 9> kSizeUnits{{
    {"B", 1},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
    {"KB", 1'000},
    {"MB", 1'000'000},
    {"GB", 1'000'000'000},
    {"TB", 1'000'000'000'000},
}};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Splits "250ms" into 250 and "ms". Fails when there is no leading whole number.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& unit) {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, number);
    if (ec != std::errc{} || ptr == text.data()) return false;
    unit = trim(std::string_view(ptr, static_cast<std::size_t>(end - ptr)));
    return true;
}

template <std::size_t N>
const Unit* find_unit(const std::array<Unit, N>& units, std::string_view name) {
    for (const auto& u : units)
        if (u.name == name) return &u;
    return nullptr;
}

bool multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
    out = a * b;
    return true;
}

bool parse_uint(std::string_view s, unsigned& out) {
    s = trim(s);
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty();
}

}  // namespace

bool CpuSet::contains(unsigned cpu) const {
    return std::binary_search(cpus.begin(), cpus.end(), cpu);
}

Parsed<Duration> parse_duration(std::string_view text) {
    std::uint64_t number = 0;
    std::string_view unit;
    if (!split_number(trim(text), number, unit) || unit.empty())
        return Parsed<Duration>::fail(
            "a duration is a whole number and a unit (ns, us, ms, s, m, h, d)");
    const Unit* u = find_unit(kDurationUnits, unit);
    if (u == nullptr)
        return Parsed<Duration>::fail("unknown duration unit \"" + std::string(unit) +
                                      "\" (use ns, us, ms, s, m, h or d)");
    std::uint64_t ns = 0;
    if (!multiply(number, u->factor, ns) ||
        ns > static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max()))
        return Parsed<Duration>::fail("duration too large");
    return Parsed<Duration>::ok(Duration(static_cast<Duration::rep>(ns)));
}

std::string format_duration(Duration d) {
    const auto ns = static_cast<std::uint64_t>(d.count());
    if (ns == 0) return "0s";
    for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it)
        if (ns % it->factor == 0) return std::to_string(ns / it->factor) + std::string(it->name);
    return std::to_string(ns) + "ns";
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
    std::uint64_t number = 0;
    std::string_view unit;
    if (!split_number(trim(text), number, unit))
        return Parsed<std::uint64_t>::fail(
            "a size is a whole number and a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
    if (unit.empty()) return Parsed<std::uint64_t>::ok(number);
    const Unit* u = find_unit(kSizeUnits, unit);
    if (u == nullptr)
        return Parsed<std::uint64_t>::fail("unknown size unit \"" + std::string(unit) +
                                           "\" (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)");
    std::uint64_t bytes = 0;
    if (!multiply(number, u->factor, bytes)) return Parsed<std::uint64_t>::fail("size too large");
    return Parsed<std::uint64_t>::ok(bytes);
}

std::string format_size(std::uint64_t bytes) {
    static constexpr std::array<Unit, 4> binary{{
        {"TiB", 1ull << 40},
        {"GiB", 1ull << 30},
        {"MiB", 1ull << 20},
        {"KiB", 1ull << 10},
    }};
    if (bytes == 0) return "0B";
    for (const auto& u : binary)
        if (bytes % u.factor == 0) return std::to_string(bytes / u.factor) + std::string(u.name);
    return std::to_string(bytes) + "B";
}

Parsed<CpuSet> parse_cpu_list(std::string_view text) {
    CpuSet set;
    if (trim(text).empty()) return Parsed<CpuSet>::fail("the CPU list is empty");
    while (true) {
        const auto comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        const auto dash = item.find('-');
        unsigned first = 0;
        unsigned last = 0;
        const bool ok = dash == std::string_view::npos
                            ? parse_uint(item, first) && (last = first, true)
                            : parse_uint(item.substr(0, dash), first) &&
                                  parse_uint(item.substr(dash + 1), last);
        if (!ok)
            return Parsed<CpuSet>::fail("\"" + std::string(item) +
                                        "\" is not a CPU id or a range such as 2-5");
        if (last < first)
            return Parsed<CpuSet>::fail("the range \"" + std::string(item) + "\" goes backwards");
        if (last > kMaxCpu)
            return Parsed<CpuSet>::fail("CPU " + std::to_string(last) +
                                        " is beyond the largest id " + std::to_string(kMaxCpu));
        for (unsigned cpu = first; cpu <= last; ++cpu) {
            if (set.contains(cpu))
                return Parsed<CpuSet>::fail("CPU " + std::to_string(cpu) + " is listed twice");
            set.cpus.insert(std::upper_bound(set.cpus.begin(), set.cpus.end(), cpu), cpu);
        }
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return Parsed<CpuSet>::ok(std::move(set));
}

std::string format_cpu_list(const CpuSet& set) {
    std::string out;
    const auto& c = set.cpus;
    for (std::size_t i = 0; i < c.size();) {
        std::size_t j = i;
        while (j + 1 < c.size() && c[j + 1] == c[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(c[i]);
        if (j > i) out += '-' + std::to_string(c[j]);
        i = j + 1;
    }
    return out;
}

Parsed<Network> parse_network(std::string_view text) {
    text = trim(text);
    const auto slash = text.find('/');
    const std::string address(text.substr(0, slash));
    Network n;
    if (inet_pton(AF_INET, address.c_str(), n.address.data()) == 1) {
        n.ip_version = 4;
    } else if (inet_pton(AF_INET6, address.c_str(), n.address.data()) == 1) {
        n.ip_version = 6;
    } else {
        return Parsed<Network>::fail("\"" + address + "\" is not an IPv4 or IPv6 address");
    }
    const unsigned bits = n.ip_version == 4 ? 32 : 128;
    n.length = bits;
    if (slash != std::string_view::npos &&
        (!parse_uint(text.substr(slash + 1), n.length) || n.length > bits))
        return Parsed<Network>::fail("the prefix length must be a number from 0 to " +
                                     std::to_string(bits));
    for (unsigned bit = n.length; bit < bits; ++bit)
        if (n.address[bit / 8] & (0x80u >> (bit % 8)))
            return Parsed<Network>::fail("bits are set beyond the prefix length /" +
                                         std::to_string(n.length));
    return Parsed<Network>::ok(n);
}

Parsed<std::uint32_t> parse_sampling(std::string_view text, std::uint32_t max) {
    text = trim(text);
    std::uint32_t n = 0;
    if (!text.starts_with("1:") || !parse_uint(text.substr(2), n) || n < 1 || n > max)
        return Parsed<std::uint32_t>::fail("one packet in N, \"1:N\" with N from 1 to " +
                                           std::to_string(max));
    return Parsed<std::uint32_t>::ok(n);
}

Parsed<SocketAddress> parse_socket_address(std::string_view text) {
    text = trim(text);
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return Parsed<SocketAddress>::fail("an IPv6 address is written as [address]:port");
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return Parsed<SocketAddress>::fail("an address is written as host:port");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return Parsed<SocketAddress>::fail(
                "an IPv6 address needs brackets, as in [2001:db8::1]:4739");
    }
    if (host.empty()) return Parsed<SocketAddress>::fail("the host is empty");
    unsigned number = 0;
    if (!parse_uint(port, number) || number == 0 || number > 65535)
        return Parsed<SocketAddress>::fail("the port must be a number from 1 to 65535");
    return Parsed<SocketAddress>::ok({std::string(host), static_cast<std::uint16_t>(number)});
}

std::string format_socket_address(const SocketAddress& address) {
    const bool v6 = address.host.find(':') != std::string::npos;
    return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

}  // namespace sluice::config
