// The configuration loader: what loads, and the message each mistake gets.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <stdexcept>

#include "shared/config/loader.hpp"

namespace sluice::config {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPort = "[[port]]\ndevice = \"net_null0\"\n";

std::vector<std::string> errors_of(const std::string& text) {
    std::vector<std::string> out;
    for (const auto& e : load_string(text, "test.toml").errors) out.push_back(e.to_string());
    return out;
}

// The configuration TEXT describes; a test that expects one and gets errors stops there.
Config loads(const std::string& text) {
    auto result = load_string(text, "test.toml");
    if (!result.config) throw std::runtime_error(result.errors.front().to_string());
    return std::move(*result.config);
}

TEST(Config, ExampleConfigLoads) {
    const auto result = load_file(SLUICE_SOURCE_DIR "/config/sluice.toml");
    ASSERT_TRUE(result.config) << result.errors.front().to_string();
    const Config& c = *result.config;
    EXPECT_EQ(c.sensor.name, "sluice");
    EXPECT_EQ(c.dataplane.worker_cores, (CpuSet{{1}}));
    ASSERT_EQ(c.ports.size(), 1u);
    EXPECT_EQ(c.ports[0].capture, "/usr/share/sluice/demo.pcap") << "the installed demo capture";
    EXPECT_TRUE(c.ports[0].device.empty());
    ASSERT_EQ(c.collectors.size(), 1u);
    EXPECT_EQ(c.collectors[0].address, (SocketAddress{"127.0.0.1", 4739}));
    EXPECT_EQ(c.flow.idle_timeout, 15s);
}

TEST(Config, DefaultsFillWhatIsNotWritten) {
    const Config c = loads(kPort);
    EXPECT_EQ(c.dataplane.main_core, 0u);
    EXPECT_EQ(c.dataplane.hugepage_memory, 1ull << 30);
    EXPECT_EQ(c.dataplane.file_prefix, "sluice");
    EXPECT_EQ(c.ports[0].rx_queues, 1);
    EXPECT_EQ(c.ports[0].rss, RssMode::ip);
    EXPECT_EQ(c.flow.max_flows, 1u << 20);
    EXPECT_EQ(c.flow.active_timeout, 60s);
    EXPECT_EQ(c.metrics.listen, (SocketAddress{"127.0.0.1", 9750}));
    EXPECT_TRUE(c.collectors.empty());
}

TEST(Config, ReadsEveryKindOfValue) {
    const Config c = loads(R"(
[dataplane]
main_core = 1
worker_cores = "2-3"
hugepage_memory = "2GiB"
eal_args = ["--log-level=lib.eal:debug"]
[[port]]
device = "0000:3b:00.0"
rx_queues = 2
rss = "ip-port"
promiscuous = false
[flow]
tcp_end_grace = "250ms"
[[collector]]
transport = "tcp"
address = "[2001:db8::10]:4739"
[[collector]]
transport = "file"
path = "/var/lib/sluice/records.ipfix"
rotate_size = "1GiB"
rotate_interval = "0s"
timestamps = "nanoseconds"
statistics_interval = "1m"
buffer_size = "256MiB"
)");
    EXPECT_EQ(c.dataplane.worker_cores, (CpuSet{{2, 3}}));
    EXPECT_EQ(c.dataplane.hugepage_memory, 2ull << 30);
    EXPECT_EQ(c.dataplane.eal_args, std::vector<std::string>{"--log-level=lib.eal:debug"});
    EXPECT_TRUE(c.ports[0].is_pci());
    EXPECT_EQ(c.ports[0].rss, RssMode::ip_port);
    EXPECT_FALSE(c.ports[0].promiscuous);
    EXPECT_EQ(c.flow.tcp_end_grace, 250ms);
    EXPECT_EQ(c.collectors[0].transport, Transport::tcp);
    EXPECT_EQ(c.collectors[0].name, "[2001:db8::10]:4739");
    EXPECT_EQ(c.collectors[1].name, "/var/lib/sluice/records.ipfix");
    EXPECT_EQ(c.collectors[0].timestamps, Timestamps::milliseconds);
    EXPECT_EQ(c.collectors[0].statistics_interval, 10s);
    EXPECT_EQ(c.collectors[0].buffer_size, 32ull << 20);
    EXPECT_EQ(c.collectors[1].rotate_size, 1ull << 30);
    EXPECT_EQ(c.collectors[1].rotate_interval, 0s) << "0: never by time";
    EXPECT_EQ(c.collectors[1].timestamps, Timestamps::nanoseconds);
    EXPECT_EQ(c.collectors[1].statistics_interval, 60s);
    EXPECT_EQ(c.collectors[1].buffer_size, 256ull << 20);
}

TEST(Config, EveryTunnelIsDecapsulatedAndKeysFlowsUnlessToldOtherwise) {
    Config c = loads(kPort);
    EXPECT_EQ(c.flow.tunnels(), kAllTunnels);
    EXPECT_EQ(c.flow.keyed_tunnels(), kAllTunnels);
    EXPECT_EQ(c.flow.vxlan_port, 4789);
    EXPECT_EQ(c.flow.tunnel_depth, 3u);
    c = loads(std::string(kPort) +
              "[flow]\ndecapsulate = [\"vxlan\", \"erspan\"]\ntunnel_key = []\n"
              "vxlan_port = 8472\ntunnel_depth = 1\n");
    EXPECT_EQ(c.flow.tunnels(), tunnel_bit(TunnelType::vxlan) | tunnel_bit(TunnelType::erspan));
    EXPECT_EQ(c.flow.keyed_tunnels(), 0);
    EXPECT_EQ(c.flow.vxlan_port, 8472);
    EXPECT_EQ(c.flow.tunnel_depth, 1u);
}

TEST(ConfigErrors, AnUnknownTunnelIsNamedWithTheOnesThereAre) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[flow]\ndecapsulate = [\"mpls\"]\n"),
              std::vector<std::string>{
                  "test.toml:4:16: flow.decapsulate: expected one of \"gre\", \"erspan\", "
                  "\"vxlan\", \"geneve\", \"gtpu\", \"ipip\", found \"mpls\""});
    EXPECT_EQ(errors_of(std::string(kPort) + "[flow]\ntunnel_depth = 9\n"),
              std::vector<std::string>{"test.toml:4:16: flow.tunnel_depth: expected a whole "
                                       "number from 1 to 8, found 9"});
}

TEST(Config, WorkerCoresMayBeAnArrayOfIds) {
    const Config c = loads(
        "[dataplane]\nworker_cores = [1, 2]\n[[port]]\ndevice = \"net_null0\"\n"
        "rx_queues = 2\n");
    EXPECT_EQ(c.dataplane.worker_cores, (CpuSet{{1, 2}}));
}

TEST(ConfigErrors, SyntaxErrorNamesLineAndColumn) {
    const auto errors = errors_of("[flow]\nidle_timeout = \"15s\n");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_TRUE(errors[0].starts_with("test.toml:2:")) << errors[0];
    EXPECT_NE(errors[0].find("TOML syntax"), std::string::npos) << errors[0];
}

TEST(ConfigErrors, UnknownKeySuggestsTheNearestKnownOne) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[flow]\nidle_timout = \"15s\"\n"),
              std::vector<std::string>{
                  "test.toml:4:1: flow.idle_timout: unknown key; did you mean \"idle_timeout\"?"});
}

TEST(ConfigErrors, UnknownSectionSuggestsTheNearestKnownOne) {
    EXPECT_EQ(
        errors_of(std::string(kPort) + "[flows]\nidle_timeout = \"15s\"\n"),
        std::vector<std::string>{"test.toml:3:2: flows: unknown key; did you mean \"flow\"?"});
}

TEST(ConfigErrors, UnknownKeyFarFromAnyListsTheKeys) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[metrics]\ncolour = \"blue\"\n"),
              std::vector<std::string>{
                  "test.toml:4:1: metrics.colour: unknown key; the keys here are enabled, listen"});
}

TEST(ConfigErrors, WrongTypeSaysWhatWasExpectedAndFound) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[flow]\nmax_flows = \"many\"\n"),
              std::vector<std::string>{"test.toml:4:13: flow.max_flows: expected a whole number "
                                       "from 1024 to 268435456, found \"many\""});
    EXPECT_EQ(errors_of(std::string(kPort) + "[[port]]\ndevice = \"net_null1\"\npromiscuous = 1\n"),
              std::vector<std::string>{
                  "test.toml:5:15: port[2].promiscuous: expected true or false, found 1"});
}

TEST(ConfigErrors, OutOfRangeNamesTheRange) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[flow]\nmax_flows = 10\n"),
              std::vector<std::string>{"test.toml:4:13: flow.max_flows: expected a whole number "
                                       "from 1024 to 268435456, found 10"});
    EXPECT_EQ(errors_of(std::string(kPort) + "[flow]\nidle_timeout = \"2d\"\n"),
              std::vector<std::string>{"test.toml:4:16: flow.idle_timeout: expected a duration "
                                       "from 1s to 1d, found \"2d\""});
    EXPECT_EQ(errors_of(std::string(kPort) + "[dataplane]\nhugepage_memory = \"1MiB\"\n"),
              std::vector<std::string>{"test.toml:4:19: dataplane.hugepage_memory: expected a "
                                       "size from 64MiB to 4TiB, found \"1MiB\""});
    EXPECT_EQ(errors_of(std::string(kPort) + "deduplicate = \"20ms\"\n"),
              std::vector<std::string>{"test.toml:3:15: port[1].deduplicate: expected a duration "
                                       "from 0s to 10ms, found \"20ms\""});
}

TEST(ConfigErrors, SamplingIsOneInN) {
    for (const char* bad : {"1/10", "2:10", "1:0", "1:16777217", "10"})
        EXPECT_EQ(errors_of(std::string(kPort) + "sampling = \"" + bad + "\"\n"),
                  std::vector<std::string>{"test.toml:3:12: port[1].sampling: expected one packet "
                                           "in N, \"1:N\" with N from 1 to 16777216, found \"" +
                                           std::string(bad) + "\""});
    const Config c = loads(std::string(kPort) + "sampling = \"1:100\"\ndeterministic = true\n");
    EXPECT_EQ(c.ports.at(0).sampling_interval(), 100u);
    EXPECT_TRUE(c.ports.at(0).deterministic);
    EXPECT_EQ(loads(kPort).ports.at(0).sampling_interval(), 1u);
    const auto two = errors_of(std::string(kPort) +
                               "sampling = \"1:10\"\n[[port]]\ndevice = \"net_null1\"\n"
                               "sampling = \"1:100\"\n");
    ASSERT_FALSE(two.empty());
    EXPECT_NE(two.back().find("port[2].sampling: is not port[1]'s; collectors take one sampling "
                              "rate"),
              std::string::npos)
        << two.back();
}

TEST(ConfigErrors, LocalNetworksArePrefixes) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[sensor]\nlocal_networks = [\"10.0.0.1/8\"]\n"),
              std::vector<std::string>{
                  "test.toml:4:19: sensor.local_networks: expected a network such as "
                  "\"10.0.0.0/8\" (bits are set beyond the prefix length /8), found "
                  "\"10.0.0.1/8\""});
    EXPECT_EQ(errors_of(std::string(kPort) + "[sensor]\nlocal_networks = [\"lan\"]\n"),
              std::vector<std::string>{
                  "test.toml:4:19: sensor.local_networks: expected a network such as "
                  "\"10.0.0.0/8\" (\"lan\" is not an IPv4 or IPv6 address), found \"lan\""});
    const Config c =
        loads(std::string(kPort) + "[sensor]\nlocal_networks = [\"10.0.0.0/8\", \"fd00::/8\"]\n");
    ASSERT_EQ(c.sensor.networks().size(), 2u);
    EXPECT_EQ(c.sensor.networks()[1].ip_version, 6);
}

TEST(Config, APortDeduplicatesWithinItsWindow) {
    EXPECT_EQ(loads(kPort).ports[0].deduplicate, 0s) << "off unless asked";
    EXPECT_EQ(loads(std::string(kPort) + "deduplicate = \"100us\"\n").ports[0].deduplicate, 100us);
}

TEST(ConfigErrors, BadDurationSaysWhy) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[flow]\nidle_timeout = \"15 parsecs\"\n"),
              std::vector<std::string>{
                  "test.toml:4:16: flow.idle_timeout: expected a duration such as \"30s\", \"5m\" "
                  "or \"250ms\", found \"15 parsecs\": unknown duration unit \"parsecs\" (use ns, "
                  "us, ms, s, m, h or d)"});
}

TEST(ConfigErrors, BadChoiceListsTheChoices) {
    EXPECT_EQ(errors_of("[[port]]\ndevice = \"net_null0\"\nrss = \"mac\"\n"),
              std::vector<std::string>{"test.toml:3:7: port[1].rss: expected one of \"ip\", "
                                       "\"ip-port\", found \"mac\""});
}

TEST(ConfigErrors, WorkerCoresMustNotIncludeTheMainCore) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[dataplane]\nmain_core = 1\n"),
              std::vector<std::string>{
                  "test.toml:4:13: dataplane.worker_cores: CPU 1 is also dataplane.main_core; a "
                  "worker core must be a core of its own"});
    EXPECT_EQ(errors_of(std::string(kPort) + "[dataplane]\nworker_cores = \"0\"\n"),
              (std::vector<std::string>{
                  "test.toml:4:16: dataplane.worker_cores: CPU 0 is also dataplane.main_core; a "
                  "worker core must be a core of its own",
                  "test.toml:4:16: control.core: CPU 0 is also in dataplane.worker_cores; the "
                  "control must not take a worker's core (it may share dataplane.main_core)"}));
}

TEST(ConfigErrors, WorkerCoresMustNotIncludeTheControlCore) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[control]\ncore = 1\n"),
              std::vector<std::string>{
                  "test.toml:4:8: control.core: CPU 1 is also in dataplane.worker_cores; the "
                  "control must not take a worker's core (it may share dataplane.main_core)"});
}

TEST(Config, SharedCoresMayOverlapWhenAllowed) {
    const Config c = loads(
        "[dataplane]\nmain_core = 0\nworker_cores = \"0-1\"\n"
        "allow_shared_cores = true\n[[port]]\ndevice = \"net_null0\"\n"
        "rx_queues = 2\n");
    EXPECT_EQ(c.dataplane.worker_cores, (CpuSet{{0, 1}}));
}

TEST(ConfigErrors, EachRxQueueNeedsAWorkerCore) {
    EXPECT_EQ(errors_of("[dataplane]\nworker_cores = \"1-3\"\n[[port]]\ndevice = \"net_null0\"\n"
                        "rx_queues = 2\n"),
              std::vector<std::string>{
                  "test.toml:2:16: dataplane.worker_cores: lists 3 cores but the ports have 2 RX "
                  "queues in all; each RX queue needs one worker core"});
}

TEST(ConfigErrors, TwoPortsCannotShareADevice) {
    EXPECT_EQ(errors_of("[dataplane]\nworker_cores = \"1-2\"\n"
                        "[[port]]\ndevice = \"net_pcap0,rx_pcap=a.pcap\"\n"
                        "[[port]]\ndevice = \"net_pcap0,rx_pcap=b.pcap\"\n"),
              std::vector<std::string>{
                  "test.toml:6:10: port[2].device: device \"net_pcap0\" is already port[1]; each "
                  "device can be one port only"});
}

TEST(ConfigErrors, APortIsRequired) {
    EXPECT_EQ(errors_of("[sensor]\nname = \"edge-1\"\n"),
              std::vector<std::string>{
                  "test.toml:1:1: port: no [[port]] is configured; add one, such as [[port]] with "
                  "device = \"0000:3b:00.0\""});
}

TEST(Config, SettingsForACaptureNeedNoPortAndSayWhatTheyGive) {
    const auto result = load_string(
        "[applications]\nsignatures = \"mine.toml\"\n"
        "[flow]\nidle_timeout = \"5s\"\n",
        "test.toml", Ports::optional);
    ASSERT_TRUE(result.config) << result.errors.front().to_string();
    EXPECT_TRUE(result.config->ports.empty());
    EXPECT_EQ(result.given, (std::set<std::string>{"applications", "applications.signatures",
                                                   "flow", "flow.idle_timeout"}));
    EXPECT_EQ(result.config->flow.active_timeout, 60s) << "what the file does not give: defaults";
}

TEST(ConfigErrors, PortNeedsADeviceOrACapture) {
    EXPECT_EQ(
        errors_of("[[port]]\nrx_queues = 1\n"),
        std::vector<std::string>{"test.toml:1:1: port[1]: needs a device (\"0000:3b:00.0\", "
                                 "\"net_pcap0,rx_pcap=...\") or a capture (\"/path/trace.pcap\")"});
    EXPECT_EQ(errors_of("[[port]]\ndevice = \"net_null0\"\ncapture = \"/tmp/t.pcap\"\n"),
              std::vector<std::string>{"test.toml:1:1: port[1]: has both a device and a capture; a "
                                       "port is one or the other"});
    EXPECT_EQ(errors_of("[[port]]\ncapture = \"t.pcap\"\n"),
              std::vector<std::string>{"test.toml:2:11: port[1].capture: expected an absolute "
                                       "path, found \"t.pcap\""});
    EXPECT_EQ(errors_of("[[port]]\ndevice = \"eth0\"\n"),
              std::vector<std::string>{
                  "test.toml:2:10: port[1].device: expected a PCI address such as "
                  "\"0000:3b:00.0\" or a virtual device such as \"net_pcap0,rx_pcap=trace.pcap\", "
                  "found \"eth0\""});
}

TEST(ConfigErrors, ACaptureHasOneQueueAndRunsWithCapturesOnly) {
    EXPECT_EQ(errors_of("[dataplane]\nworker_cores = \"1-2\"\n[[port]]\ncapture = "
                        "\"/tmp/t.pcap\"\nrx_queues = 2\n"),
              std::vector<std::string>{"test.toml:5:13: port[1].rx_queues: is 2; a capture is read "
                                       "by one worker (rx_queues = 1)"});
    EXPECT_EQ(errors_of("[dataplane]\nworker_cores = \"1-2\"\n[[port]]\ncapture = "
                        "\"/tmp/t.pcap\"\n[[port]]\ndevice = \"net_null0\"\n"),
              std::vector<std::string>{"test.toml:3:1: port: mixes captures and devices; a run "
                                       "replays captures in their own time or meters live "
                                       "devices, not both"});
}

TEST(ConfigErrors, PortMustBeWrittenAsAnArrayOfTables) {
    EXPECT_EQ(errors_of("[port]\ndevice = \"net_null0\"\n"),
              std::vector<std::string>{
                  "test.toml:1:1: port: expected tables written [[port]], found a table"});
}

TEST(ConfigErrors, AFileRotatesAtZeroOrAtLeastOneMessage) {
    EXPECT_EQ(errors_of(std::string(kPort) +
                        "[[collector]]\ntransport = \"file\"\npath = \"/tmp/r.ipfix\"\n"
                        "rotate_size = \"4KiB\"\n"),
              std::vector<std::string>{
                  "test.toml:6:15: collector[1].rotate_size: is below one IPFIX message (64KiB); "
                  "use 0 to never rotate by size"});
}

TEST(Config, NetflowCollectorsSendUniflowRecords) {
    const Config c = loads(std::string(kPort) +
                           "[[collector]]\naddress = \"127.0.0.1:2055\"\nprotocol = \"netflow9\"\n"
                           "[[collector]]\naddress = \"127.0.0.1:9995\"\nprotocol = \"netflow5\"\n"
                           "records = \"uniflow\"\n");
    EXPECT_EQ(c.collectors[0].protocol, Protocol::netflow9);
    EXPECT_EQ(c.collectors[0].records, Records::uniflow);
    EXPECT_EQ(c.collectors[1].protocol, Protocol::netflow5);
    EXPECT_EQ(loads(std::string(kPort) + "[[collector]]\naddress = \"127.0.0.1:4739\"\n")
                  .collectors[0]
                  .protocol,
              Protocol::ipfix);
    EXPECT_EQ(loads(to_toml(c)).collectors, c.collectors) << "what it prints loads the same";
}

TEST(ConfigErrors, NetflowGoesOverUdpInUniflowRecords) {
    EXPECT_EQ(errors_of(std::string(kPort) +
                        "[[collector]]\naddress = \"127.0.0.1:2055\"\nprotocol = \"netflow9\"\n"
                        "transport = \"tcp\"\n"),
              std::vector<std::string>{
                  "test.toml:6:13: collector[1].transport: is \"tcp\"; protocol = \"netflow9\" "
                  "goes over UDP only (IPFIX goes over TCP and into files)"});
    EXPECT_EQ(errors_of(std::string(kPort) +
                        "[[collector]]\naddress = \"127.0.0.1:2055\"\nprotocol = \"netflow5\"\n"
                        "records = \"biflow\"\n"),
              std::vector<std::string>{
                  "test.toml:6:11: collector[1].records: is \"biflow\"; NetFlow has no reverse "
                  "elements, so protocol = \"netflow5\" sends uniflow records (remove records, "
                  "or set it to \"uniflow\")"});
    EXPECT_EQ(errors_of(std::string(kPort) +
                        "[[collector]]\naddress = \"127.0.0.1:2055\"\nprotocol = \"netflow\"\n"),
              std::vector<std::string>{"test.toml:5:12: collector[1].protocol: expected one of "
                                       "\"ipfix\", \"netflow9\", \"netflow5\", found "
                                       "\"netflow\""});
}

TEST(Config, TlsCollectorsTakeTheirCasNameAndCertificate) {
    const Config c = loads(std::string(kPort) +
                           "[[collector]]\naddress = \"collector.example:4740\"\n"
                           "transport = \"tls\"\nca_file = \"/etc/sluice/ca.pem\"\n"
                           "server_name = \"ipfix.example\"\n"
                           "certificate = \"/etc/sluice/sensor.pem\"\n"
                           "private_key = \"/etc/sluice/sensor.key\"\n");
    EXPECT_EQ(c.collectors[0].transport, Transport::tls);
    EXPECT_EQ(c.collectors[0].ca_file, "/etc/sluice/ca.pem");
    EXPECT_EQ(c.collectors[0].server_name, "ipfix.example");
    EXPECT_EQ(c.collectors[0].private_key, "/etc/sluice/sensor.key");
    EXPECT_EQ(loads(to_toml(c)).collectors, c.collectors);
}

TEST(ConfigErrors, TlsKeysAreForTlsAndACertificateNeedsItsKey) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[[collector]]\naddress = \"127.0.0.1:4739\"\n"
                                             "ca_file = \"/etc/sluice/ca.pem\"\n"),
              std::vector<std::string>{
                  "test.toml:3:1: collector[1].transport: is \"udp\"; ca_file, server_name, "
                  "certificate and private_key are for transport = \"tls\""});
    EXPECT_EQ(errors_of(std::string(kPort) +
                        "[[collector]]\naddress = \"127.0.0.1:4740\"\ntransport = \"tls\"\n"
                        "certificate = \"/etc/sluice/sensor.pem\"\n"),
              std::vector<std::string>{"test.toml:6:15: collector[1].private_key: is required "
                                       "with certificate: a client certificate needs its key"});
}

TEST(Config, CollectorGroupsAreMembersOfOneCollector) {
    const Config c = loads(std::string(kPort) +
                           "[[collector]]\nname = \"archive\"\ntransport = \"tcp\"\n"
                           "addresses = [\"10.0.0.1:4739\", \"[2001:db8::2]:4739\"]\n"
                           "mode = \"failover\"\nack_timeout = \"5s\"\n"
                           "[[collector]]\naddresses = [\"10.0.1.1:2055\", \"10.0.1.2:2055\", "
                           "\"10.0.1.3:2055\"]\nmode = \"balance\"\n");
    const Collector& failover = c.collectors[0];
    EXPECT_EQ(failover.mode, GroupMode::failover);
    EXPECT_EQ(failover.ack_timeout, 5s);
    EXPECT_TRUE(failover.address.host.empty());
    const std::vector<Collector> members = failover.members();
    ASSERT_EQ(members.size(), 2u);
    EXPECT_EQ(members[0].name, "archive/10.0.0.1:4739");
    EXPECT_EQ(members[1].name, "archive/[2001:db8::2]:4739");
    EXPECT_EQ(members[1].address, (SocketAddress{"2001:db8::2", 4739}));
    EXPECT_EQ(members[1].transport, Transport::tcp);
    EXPECT_TRUE(members[1].addresses.empty());
    EXPECT_EQ(members[1].mode, GroupMode::single);
    EXPECT_EQ(c.collectors[1].mode, GroupMode::balance);
    EXPECT_EQ(c.collectors[1].name, "10.0.1.1:2055,10.0.1.2:2055,10.0.1.3:2055");
    EXPECT_EQ(c.collectors[1].members()[2].name,
              "10.0.1.1:2055,10.0.1.2:2055,10.0.1.3:2055/10.0.1.3:2055");
    EXPECT_EQ(loads(to_toml(c)).collectors, c.collectors) << "what it prints loads the same";
    const Config one = loads(std::string(kPort) + "[[collector]]\naddress = \"127.0.0.1:4739\"\n");
    EXPECT_EQ(one.collectors[0].members(), one.collectors) << "a collector is its own member";
    EXPECT_EQ(one.collectors[0].ack_timeout, 30s);
}

TEST(ConfigErrors, GroupsNeedAddressesAModeAndATransportThatTellsAnAbsence) {
    const std::string tcp = std::string(kPort) + "[[collector]]\ntransport = \"tcp\"\n";
    EXPECT_EQ(
        errors_of(tcp + "addresses = [\"10.0.0.1:4739\", \"10.0.0.2:4739\"]\n"),
        std::vector<std::string>{"test.toml:5:13: collector[1].mode: is required with addresses: "
                                 "\"failover\" (the first reachable member gets the records) or "
                                 "\"balance\" (the flows are spread over the members)"});
    EXPECT_EQ(
        errors_of(tcp + "addresses = [\"10.0.0.1:4739\"]\nmode = \"failover\"\n"),
        std::vector<std::string>{"test.toml:5:13: collector[1].addresses: has one address; a group "
                                 "needs two or more (use address for one collector)"});
    EXPECT_EQ(errors_of(tcp + "addresses = [\"10.0.0.1:4739\", \"10.0.0.1:4739\"]\n"
                              "mode = \"balance\"\n"),
              std::vector<std::string>{
                  "test.toml:5:13: collector[1].addresses: \"10.0.0.1:4739\" is given "
                  "twice; each member has its own address"});
    EXPECT_EQ(errors_of(tcp + "address = \"10.0.0.1:4739\"\nmode = \"failover\"\n"),
              std::vector<std::string>{
                  "test.toml:6:8: collector[1].mode: is for a group: give its members "
                  "as addresses = [\"HOST:PORT\", ...]"});
    EXPECT_EQ(errors_of(tcp + "address = \"10.0.0.3:4739\"\n"
                              "addresses = [\"10.0.0.1:4739\", \"10.0.0.2:4739\"]\n"
                              "mode = \"failover\"\n"),
              std::vector<std::string>{
                  "test.toml:5:11: collector[1].address: and addresses are both given; "
                  "a collector is one address or a group of addresses"});
    EXPECT_EQ(errors_of(std::string(kPort) +
                        "[[collector]]\naddresses = [\"10.0.0.1:4739\", \"10.0.0.2:4739\"]\n"
                        "mode = \"failover\"\n"),
              std::vector<std::string>{
                  "test.toml:5:8: collector[1].transport: is \"udp\"; mode = "
                  "\"failover\" needs \"tcp\" or \"tls\", which tell when a collector "
                  "is away (\"balance\" takes UDP)"});
    EXPECT_EQ(errors_of(tcp + "addresses = [\"10.0.0.1:4739\", \"somewhere\"]\n"
                              "mode = \"failover\"\n"),
              std::vector<std::string>{
                  "test.toml:5:31: collector[1].addresses: expected an address such as "
                  "\"192.0.2.10:4739\" or \"[2001:db8::10]:4739\", found \"somewhere\": "
                  "an address is written as host:port"});
    EXPECT_EQ(
        errors_of(tcp + "addresses = [\"10.0.0.1:4739\", \"10.0.0.2:4739\"]\n"
                        "mode = \"both\"\n"),
        std::vector<std::string>{"test.toml:6:8: collector[1].mode: expected one of \"failover\", "
                                 "\"balance\", found \"both\""});
}

TEST(ConfigErrors, CollectorsNeedAnAddressOrAPathAndTheirOwnNames) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[[collector]]\ntransport = \"udp\"\n"),
              std::vector<std::string>{"test.toml:3:1: collector[1].address: is required when "
                                       "transport = \"udp\", \"tcp\" or \"tls\" (or "
                                       "addresses, for a group)"});
    EXPECT_EQ(errors_of(std::string(kPort) + "[[collector]]\ntransport = \"file\"\n"),
              std::vector<std::string>{
                  "test.toml:3:1: collector[1].path: is required when transport = \"file\""});
    EXPECT_EQ(errors_of(std::string(kPort) + "[[collector]]\naddress = \"127.0.0.1:4739\"\n"
                                             "[[collector]]\naddress = \"127.0.0.1:4739\"\n"),
              std::vector<std::string>{
                  "test.toml:5:1: collector[2].name: \"127.0.0.1:4739\" is already the name of "
                  "collector[1]; give each collector its own name"});
}

TEST(ConfigErrors, EalArgsCannotOverrideWhatTheConfigSets) {
    EXPECT_EQ(errors_of(std::string(kPort) + "[dataplane]\neal_args = [\"--file-prefix=x\"]\n"),
              std::vector<std::string>{
                  "test.toml:4:13: dataplane.eal_args: expected an EAL option Sluice does not set "
                  "itself (--file-prefix comes from [dataplane] and [[port]]), found "
                  "\"--file-prefix=x\""});
}

TEST(ConfigErrors, EveryErrorIsReportedAtOnce) {
    const auto errors = errors_of(
        std::string(kPort) + "[flow]\nmax_flows = 1\nidle_timeout = 5\n[sensor]\nnmae = \"x\"\n");
    EXPECT_EQ(errors.size(), 3u);
}

TEST(ConfigErrors, MissingFileSaysSo) {
    const auto result = load_file("/nonexistent/sluice.toml");
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].to_string(),
              "/nonexistent/sluice.toml: cannot read the configuration: No such file or "
              "directory; pass an existing file with --config FILE");
}

TEST(ConfigErrors, ADirectoryIsNotAConfigFile) {
    const auto dir = std::filesystem::temp_directory_path();
    const auto result = load_file(dir.string());
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].to_string(),
              dir.string() +
                  ": cannot read the configuration: Is a directory; pass an existing "
                  "file with --config FILE");
}

TEST(Config, EffectiveConfigLoadsBackToItself) {
    const auto first = load_file(SLUICE_SOURCE_DIR "/config/sluice.toml");
    ASSERT_TRUE(first.config);
    const std::string text = to_toml(*first.config);
    EXPECT_NE(text.find("idle_timeout = \"15s\""), std::string::npos) << text;
    EXPECT_NE(text.find("worker_cores = \"1\""), std::string::npos) << text;
    EXPECT_NE(text.find("hugepage_memory = \"1GiB\""), std::string::npos) << text;
    const auto second = load_string(text, "effective.toml");
    ASSERT_TRUE(second.config) << second.errors.front().to_string();
    Config again = *second.config;
    again.file = first.config->file;
    EXPECT_EQ(to_toml(again), text);
}

}  // namespace
}  // namespace sluice::config
