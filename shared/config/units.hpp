// Parsing and printing of the value types the configuration writes as strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/config.hpp"

namespace sluice::config {

// A parsed value, or why the text is not one.
template <typename T>
struct Parsed {
    std::optional<T> value;
    std::string error;

    static Parsed ok(T v) { return {std::move(v), {}}; }
    static Parsed fail(std::string why) { return {std::nullopt, std::move(why)}; }
};

// "30s", "5m", "250ms", "1h", "100us", "10ns", "1d": a whole number and a unit.
Parsed<Duration> parse_duration(std::string_view text);
// The shortest exact form: 90 seconds prints as "90s", 120 seconds as "2m".
std::string format_duration(Duration d);

// "2GiB", "512MiB", "64KiB", "1GB", "4096" (bytes). Binary units are powers of 1024,
// decimal ones of 1000.
Parsed<std::uint64_t> parse_size(std::string_view text);
std::string format_size(std::uint64_t bytes);

// "2-5,8": ids and inclusive ranges, separated by commas.
Parsed<CpuSet> parse_cpu_list(std::string_view text);
std::string format_cpu_list(const CpuSet& set);

// "10.0.0.0/8", "2001:db8::/32", "192.0.2.7" (a /32): an address and a prefix length, no
// bits set beyond it.
Parsed<Network> parse_network(std::string_view text);

// "1:100": one packet in 100, N from 1 to `max`.
Parsed<std::uint32_t> parse_sampling(std::string_view text, std::uint32_t max);

// "192.0.2.1:4739", "[2001:db8::1]:4739", "collector.example:4739".
Parsed<SocketAddress> parse_socket_address(std::string_view text);
std::string format_socket_address(const SocketAddress& address);

}  // namespace sluice::config
