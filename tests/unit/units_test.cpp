// Durations, sizes, CPU lists and socket addresses as the configuration writes them.
#include "shared/config/units.hpp"

#include <gtest/gtest.h>

namespace sluice::config {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesEveryUnit) {
    EXPECT_EQ(parse_duration("10ns").value, Duration(10));
    EXPECT_EQ(parse_duration("100us").value, Duration(100'000));
    EXPECT_EQ(parse_duration("250ms").value, Duration(250ms));
    EXPECT_EQ(parse_duration("30s").value, Duration(30s));
    EXPECT_EQ(parse_duration("5m").value, Duration(5min));
    EXPECT_EQ(parse_duration("2h").value, Duration(2h));
    EXPECT_EQ(parse_duration("1d").value, Duration(24h));
    EXPECT_EQ(parse_duration(" 7 s ").value, Duration(7s));
}

TEST(Duration, RejectsWhatIsNotOne) {
    for (const char* bad : {"", "30", "s", "-5s", "1.5s", "30 seconds", "5x", "99999999999999d"})
        EXPECT_FALSE(parse_duration(bad).value) << bad;
    EXPECT_EQ(parse_duration("5x").error,
              "unknown duration unit \"x\" (use ns, us, ms, s, m, h or d)");
}

TEST(Duration, FormatsInTheLargestExactUnit) {
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(120s), "2m");
    EXPECT_EQ(format_duration(250ms), "250ms");
    EXPECT_EQ(format_duration(0s), "0s");
    EXPECT_EQ(format_duration(24h), "1d");
}

TEST(Size, ParsesBinaryAndDecimalUnits) {
    EXPECT_EQ(parse_size("2GiB").value, 2ull << 30);
    EXPECT_EQ(parse_size("512MiB").value, 512ull << 20);
    EXPECT_EQ(parse_size("64KiB").value, 64ull << 10);
    EXPECT_EQ(parse_size("1TiB").value, 1ull << 40);
    EXPECT_EQ(parse_size("1GB").value, 1'000'000'000ull);
    EXPECT_EQ(parse_size("4096").value, 4096ull);
    EXPECT_EQ(parse_size("100B").value, 100ull);
}

TEST(Size, RejectsWhatIsNotOne) {
    for (const char* bad : {"", "GiB", "-1GiB", "1.5GiB", "2gb", "3 lots", "99999999999TiB"})
        EXPECT_FALSE(parse_size(bad).value) << bad;
}

TEST(Size, FormatsInTheLargestExactBinaryUnit) {
    EXPECT_EQ(format_size(1ull << 30), "1GiB");
    EXPECT_EQ(format_size(1536ull << 20), "1536MiB");
    EXPECT_EQ(format_size(1000), "1000B");
}

TEST(CpuList, ParsesIdsAndRanges) {
    EXPECT_EQ(parse_cpu_list("2-5,8").value, (CpuSet{{2, 3, 4, 5, 8}}));
    EXPECT_EQ(parse_cpu_list("7").value, (CpuSet{{7}}));
    EXPECT_EQ(parse_cpu_list("9, 1-2").value, (CpuSet{{1, 2, 9}}));
}

TEST(CpuList, RejectsBackwardsRangesDuplicatesAndJunk) {
    EXPECT_EQ(parse_cpu_list("5-2").error, "the range \"5-2\" goes backwards");
    EXPECT_EQ(parse_cpu_list("1,1").error, "CPU 1 is listed twice");
    EXPECT_EQ(parse_cpu_list("1-3,2").error, "CPU 2 is listed twice");
    EXPECT_EQ(parse_cpu_list("a").error, "\"a\" is not a CPU id or a range such as 2-5");
    EXPECT_EQ(parse_cpu_list("").error, "the CPU list is empty");
    EXPECT_EQ(parse_cpu_list("1,").error, "\"\" is not a CPU id or a range such as 2-5");
    EXPECT_EQ(parse_cpu_list("1024").error, "CPU 1024 is beyond the largest id 1023");
}

TEST(CpuList, FormatsRangesCompactly) {
    EXPECT_EQ(format_cpu_list(CpuSet{{2, 3, 4, 5, 8}}), "2-5,8");
    EXPECT_EQ(format_cpu_list(CpuSet{{1}}), "1");
    EXPECT_EQ(format_cpu_list(CpuSet{{1, 3}}), "1,3");
}

TEST(Network, ParsesPrefixesAndLoneAddresses) {
    const Network n = *parse_network("10.0.0.0/8").value;
    EXPECT_EQ(n.ip_version, 4);
    EXPECT_EQ(n.length, 8u);
    EXPECT_EQ(n.address[0], 10);
    const Network host = *parse_network("192.0.2.7").value;
    EXPECT_EQ(host.length, 32u);
    const Network v6 = *parse_network("2001:db8:0:2::/64").value;
    EXPECT_EQ(v6.ip_version, 6);
    EXPECT_EQ(v6.length, 64u);
    EXPECT_EQ(parse_network("::/0").value->length, 0u);
}

TEST(Network, RejectsWhatIsNotAPrefix) {
    EXPECT_EQ(parse_network("10.0.0.0/33").error,
              "the prefix length must be a number from 0 to 32");
    EXPECT_EQ(parse_network("2001:db8::/129").error,
              "the prefix length must be a number from 0 to 128");
    EXPECT_EQ(parse_network("10.0.0.1/8").error, "bits are set beyond the prefix length /8");
    EXPECT_EQ(parse_network("10.0.0/8").error, "\"10.0.0\" is not an IPv4 or IPv6 address");
    EXPECT_EQ(parse_network("10.0.0.0/").error, "the prefix length must be a number from 0 to 32");
}

TEST(Network, ContainsTheAddressesOfItsPrefixAndVersionOnly) {
    const Network n = *parse_network("172.16.0.0/12").value;
    const std::uint8_t inside[4] = {172, 31, 255, 255}, outside[4] = {172, 32, 0, 0};
    EXPECT_TRUE(n.contains(4, inside));
    EXPECT_FALSE(n.contains(4, outside));
    std::uint8_t v6[16] = {172, 16};
    EXPECT_FALSE(n.contains(6, v6)) << "an IPv6 address is not in an IPv4 network";
    const Network all = *parse_network("::/0").value;
    EXPECT_TRUE(all.contains(6, v6));
    const Network odd = *parse_network("2001:db8:8000::/33").value;
    std::uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0x80};
    EXPECT_TRUE(odd.contains(6, a));
    a[4] = 0x7f;
    EXPECT_FALSE(odd.contains(6, a));
    EXPECT_TRUE(in_networks({n, all}, 6, v6));
    EXPECT_FALSE(in_networks({n}, 4, outside));
}

TEST(SocketAddress, ParsesIpv4Ipv6AndNames) {
    EXPECT_EQ(parse_socket_address("192.0.2.1:4739").value, (SocketAddress{"192.0.2.1", 4739}));
    EXPECT_EQ(parse_socket_address("[2001:db8::1]:2055").value,
              (SocketAddress{"2001:db8::1", 2055}));
    EXPECT_EQ(parse_socket_address("collector.example:9995").value,
              (SocketAddress{"collector.example", 9995}));
}

TEST(SocketAddress, RejectsMissingPortsAndBareIpv6) {
    EXPECT_EQ(parse_socket_address("192.0.2.1").error, "an address is written as host:port");
    EXPECT_EQ(parse_socket_address("2001:db8::1:4739").error,
              "an IPv6 address needs brackets, as in [2001:db8::1]:4739");
    EXPECT_EQ(parse_socket_address("host:0").error, "the port must be a number from 1 to 65535");
    EXPECT_EQ(parse_socket_address("host:65536").error,
              "the port must be a number from 1 to 65535");
    EXPECT_EQ(parse_socket_address(":4739").error, "the host is empty");
    EXPECT_EQ(parse_socket_address("[::1]4739").error,
              "an IPv6 address is written as [address]:port");
}

TEST(SocketAddress, FormatsIpv6InBrackets) {
    EXPECT_EQ(format_socket_address({"2001:db8::1", 4739}), "[2001:db8::1]:4739");
    EXPECT_EQ(format_socket_address({"127.0.0.1", 9750}), "127.0.0.1:9750");
}

}  // namespace
}  // namespace sluice::config
