// The EAL command lines each process builds from the configuration.
#include "control/eal_args.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "dataplane/eal_args.hpp"
#include "shared/config/loader.hpp"

namespace sluice {
namespace {

config::Config load(const std::string& text) {
    auto result = config::load_string(text, "test.toml");
    if (!result.config) throw std::runtime_error(result.errors.front().to_string());
    return std::move(*result.config);
}

TEST(DataplaneEalArgs, VirtualDevicesOnlyDisablePci) {
    const auto c = load(R"(
[dataplane]
main_core = 0
worker_cores = "2-3"
hugepage_memory = "1500MiB"
file_prefix = "edge"
eal_args = ["--log-level=pmd.net.pcap:debug"]
[[port]]
device = "net_pcap0,rx_pcap=/tmp/a.pcap"
rx_queues = 2
)");
    EXPECT_EQ(
        dataplane::eal_args(c),
        (std::vector<std::string>{"sluice-dataplane", "--proc-type=primary", "--file-prefix=edge",
                                  "--lcores=0@0,1@2,2@3", "--main-lcore=0", "-m", "1500",
                                  "--vdev=net_pcap0,rx_pcap=/tmp/a.pcap", "--no-pci",
                                  "--log-level=pmd.net.pcap:debug"}));
}

TEST(DataplaneEalArgs, PciDevicesAreAllowListed) {
    const auto c = load(R"(
[dataplane]
main_core = 4
worker_cores = "1,2"
hugepage_memory = 3000000000
[[port]]
device = "0000:3b:00.0"
[[port]]
device = "0000:3b:00.1"
)");
    EXPECT_EQ(
        dataplane::eal_args(c),
        (std::vector<std::string>{"sluice-dataplane", "--proc-type=primary", "--file-prefix=sluice",
                                  "--lcores=0@4,1@1,2@2", "--main-lcore=0", "-m", "2862",
                                  "--allow=0000:3b:00.0", "--allow=0000:3b:00.1"}));
}

TEST(ControlEalArgs, RunsAsASecondaryOnItsOwnLcoreId) {
    const auto c = load(
        "[dataplane]\nfile_prefix = \"edge\"\n[control]\ncore = 0\n"
        "[[port]]\ndevice = \"net_null0\"\n");
    EXPECT_EQ(control::eal_args(c),
              (std::vector<std::string>{"sluice-control", "--proc-type=secondary",
                                        "--file-prefix=edge", "--lcores=127@0", "--main-lcore=127",
                                        "--no-pci", "--no-telemetry"}));
}

TEST(ControlEalArgs, TakesTheDataplanesLogLevelsOnly) {
    const auto c = load(
        "[dataplane]\nfile_prefix = \"edge\"\n"
        "eal_args = [\"--log-level=lib.eal:warning\", \"--huge-worker-stack\"]\n"
        "[[port]]\ndevice = \"net_null0\"\n");
    const auto args = control::eal_args(c);
    EXPECT_EQ(args.back(), "--log-level=lib.eal:warning");
    EXPECT_EQ(std::count(args.begin(), args.end(), "--huge-worker-stack"), 0);
}

}  // namespace
}  // namespace sluice
