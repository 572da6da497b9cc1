// The typed configuration both processes read from the one TOML file.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/metadata.hpp"
#include "sluice/tunnel.hpp"

namespace sluice::config {

// Where every program looks for the configuration unless given --config.
inline constexpr const char* kDefaultPath = "/etc/sluice/sluice.toml";

using Duration = std::chrono::nanoseconds;

// The name of a choice's value in its table of names ("udp" for Transport::udp).
template <typename E, std::size_t N>
constexpr std::string_view choice_name(const std::array<std::pair<std::string_view, E>, N>& names,
                                       E value) {
    for (const auto& [name, e] : names)
        if (e == value) return name;
    return "?";
}

// The value a name stands for in a choice's table; nullopt when it names none.
template <typename E, std::size_t N>
constexpr std::optional<E> choice_value(const std::array<std::pair<std::string_view, E>, N>& names,
                                        std::string_view name) {
    for (const auto& [n, e] : names)
        if (n == name) return e;
    return std::nullopt;
}

// "udp, tcp or file": the names of a choice, for messages.
template <typename E, std::size_t N>
std::string choice_names(const std::array<std::pair<std::string_view, E>, N>& names) {
    std::string all;
    for (std::size_t i = 0; i < N; ++i)
        all += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(names[i].first);
    return all;
}

// A set of CPU ids, kept sorted and unique.
struct CpuSet {
    std::vector<unsigned> cpus;

    bool contains(unsigned cpu) const;
    friend bool operator==(const CpuSet&, const CpuSet&) = default;
};

// "host:port" as written: an IPv4 or IPv6 literal or a name. Resolved where it is used.
struct SocketAddress {
    std::string host;
    std::uint16_t port = 0;

    friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};

enum class RssMode { ip, ip_port };
inline constexpr std::array<std::pair<std::string_view, RssMode>, 2> kRssModes{{
    {"ip", RssMode::ip},
    {"ip-port", RssMode::ip_port},
}};

enum class Transport { udp, tcp, file, tls };
inline constexpr std::array<std::pair<std::string_view, Transport>, 4> kTransports{{
    {"udp", Transport::udp},
    {"tcp", Transport::tcp},
    {"file", Transport::file},
    {"tls", Transport::tls},
}};

// What a collector's flow records are: biflows (RFC 5103, both directions in one record), or
// one record per direction, for collectors that read no reverse elements.
enum class Records { biflow, uniflow };
inline constexpr std::array<std::pair<std::string_view, Records>, 2> kRecordShapes{{
    {"biflow", Records::biflow},
    {"uniflow", Records::uniflow},
}};

// What a collector's messages are: IPFIX (RFC 7011), NetFlow v9 (RFC 3954) or NetFlow v5.
enum class Protocol { ipfix, netflow9, netflow5 };
inline constexpr std::array<std::pair<std::string_view, Protocol>, 3> kProtocols{{
    {"ipfix", Protocol::ipfix},
    {"netflow9", Protocol::netflow9},
    {"netflow5", Protocol::netflow5},
}};

// A collector of several addresses: `failover` sends to the first reachable one, `balance`
// spreads the flows over all of them.
enum class GroupMode { single, failover, balance };
inline constexpr std::array<std::pair<std::string_view, GroupMode>, 2> kGroupModes{{
    {"failover", GroupMode::failover},
    {"balance", GroupMode::balance},
}};

// What a full spool gives up: the records arriving, or the oldest on disk.
enum class SpoolOverflow { drop_newest, drop_oldest };
inline constexpr std::array<std::pair<std::string_view, SpoolOverflow>, 2> kSpoolOverflows{{
    {"drop-newest", SpoolOverflow::drop_newest},
    {"drop-oldest", SpoolOverflow::drop_oldest},
}};
// spool_sync's "always" (after every write) and "never" (the kernel's own time).
inline constexpr Duration kSyncAlways = Duration::zero();
inline constexpr Duration kSyncNever = Duration::max();

enum class Timestamps { milliseconds, nanoseconds };
inline constexpr std::array<std::pair<std::string_view, Timestamps>, 2> kTimestamps{{
    {"milliseconds", Timestamps::milliseconds},
    {"nanoseconds", Timestamps::nanoseconds},
}};

// An IP prefix: "10.0.0.0/8", "2001:db8::/32" (a lone address is its /32 or /128).
struct Network {
    std::uint8_t ip_version = 4;
    std::array<std::uint8_t, 16> address{};  // IPv4 in the first 4 bytes; host bits zero
    unsigned length = 0;                     // of the prefix, in bits

    // Whether an address of `ip_version` (network byte order, as in FlowRecord) is in it.
    bool contains(std::uint8_t version, const std::uint8_t* a) const;

    friend bool operator==(const Network&, const Network&) = default;
};

// Whether an address is in any of `networks`.
bool in_networks(const std::vector<Network>& networks, std::uint8_t ip_version,
                 const std::uint8_t* address);

struct Sensor {
    std::string name = "sluice";
    std::uint32_t observation_domain_id = 1;
    // The networks inside the perimeter: they give the records' flowDirection (IPFIX 61). As
    // written; networks() parses them (the loader has checked each).
    std::vector<std::string> local_networks;

    std::vector<Network> networks() const;

    friend bool operator==(const Sensor&, const Sensor&) = default;
};

struct Dataplane {
    unsigned main_core = 0;
    CpuSet worker_cores{{1}};
    std::uint64_t hugepage_memory = 1ull << 30;
    std::string file_prefix = "sluice";
    std::vector<std::string> eal_args;
    // Lets workers share CPUs with the main lcore or the control: for test machines with fewer
    // CPUs than workers, never for a sensor that must keep up.
    bool allow_shared_cores = false;

    friend bool operator==(const Dataplane&, const Dataplane&) = default;
};

struct Port {
    std::string device;   // a DPDK device; or
    std::string capture;  // a pcap file the worker reads itself, replayed in its own time
    // What collectors call it: interfaceName (default: the device's name, or the capture's
    // file name) and the records' ingressInterface (0: its DPDK port id).
    std::string name;
    std::uint32_t if_index = 0;
    std::uint16_t rx_queues = 1;
    std::uint16_t rx_descriptors = 1024;
    std::uint16_t mtu = 1500;
    bool promiscuous = true;
    RssMode rss = RssMode::ip;
    // A frame with the same bytes as one this port delivered this long before is a SPAN's
    // second copy: dropped, counted as ignored (`duplicate`). 0: off.
    Duration deduplicate{0};
    static constexpr Duration kMaxDeduplicate = std::chrono::milliseconds(10);
    // "1:N": one in N of the packets the port's workers would meter is metered, the others
    // counted as sampled out; "1:1", all. One chosen at random in each N packets, or the first
    // of each N with `deterministic`.
    std::string sampling = "1:1";
    bool deterministic = false;
    static constexpr std::uint32_t kMaxSampling = 1u << 24;

    // N of `sampling`; 1 when it does not read (the schema refuses such a value).
    std::uint32_t sampling_interval() const;

    // The DPDK device name: a PCI address, or a vdev string up to its first comma.
    std::string_view device_name() const;
    bool is_pci() const;

    friend bool operator==(const Port&, const Port&) = default;
};

struct Flow {
    std::uint32_t max_flows = 1u << 20;
    Duration idle_timeout = std::chrono::seconds(15);
    Duration active_timeout = std::chrono::seconds(60);
    Duration tcp_end_grace = std::chrono::seconds(2);
    std::uint32_t record_ring_size = 1u << 16;
    // The tunnels (sluice/tunnel.hpp) whose packets are metered as the conversation inside:
    // all by default.
    std::vector<std::string> decapsulate{kTunnelNames.begin(), kTunnelNames.end()};
    // The tunnels whose identity (VNI, TEID, GRE key, ERSPAN session) keys a flow beside the
    // conversation inside, so that tenants that use the same addresses stay apart.
    std::vector<std::string> tunnel_key{kTunnelNames.begin(), kTunnelNames.end()};
    std::uint16_t vxlan_port = 4789;
    std::uint16_t geneve_port = 6081;
    std::uint16_t gtpu_port = 2152;
    // The most tunnels a packet is taken out of; one in more is ignored (tunnel_too_deep).
    std::uint32_t tunnel_depth = 3;

    // `decapsulate` and `tunnel_key` as TunnelType bits.
    std::uint8_t tunnels() const;
    std::uint8_t keyed_tunnels() const;

    friend bool operator==(const Flow&, const Flow&) = default;
};

struct Collector {
    std::string name;
    SocketAddress address;
    // A group: its members' addresses (then `address` is empty) and how they share the records.
    std::vector<SocketAddress> addresses;
    GroupMode mode = GroupMode::single;
    Transport transport = Transport::udp;
    Protocol protocol = Protocol::ipfix;
    std::string path;
    // tls: the CAs the collector's certificate is verified against (empty: the system's), the
    // name it must carry (empty: the host of `address`), and this sensor's own certificate.
    std::string ca_file;
    std::string server_name;
    std::string certificate;
    std::string private_key;
    Duration template_refresh = std::chrono::seconds(60);
    std::uint16_t mtu = 1500;
    Timestamps timestamps = Timestamps::milliseconds;
    Records records = Records::biflow;
    Duration statistics_interval = std::chrono::seconds(10);
    std::uint64_t buffer_size = 32ull << 20;           // records waiting for this collector
    std::uint64_t rotate_size = 256ull << 20;          // file: 0 never
    Duration rotate_interval = std::chrono::hours(1);  // file: 0 never
    bool segmentation_offload = true;  // udp: batches of datagrams per send (UDP GSO)
    // tcp, tls: a connection whose collector acknowledges nothing sent for this long is given
    // up (TCP_USER_TIMEOUT), and what it did not acknowledge goes out again.
    Duration ack_timeout = std::chrono::seconds(30);
    // tcp, tls: a folder where the records beyond buffer_size wait on disk, and what the
    // control holds at a stop; empty: none.
    std::string spool;
    std::uint64_t spool_size = 4ull << 30;
    Duration spool_sync = std::chrono::seconds(1);
    SpoolOverflow spool_overflow = SpoolOverflow::drop_newest;
    // The metadata groups (sluice/metadata.hpp) this collector's records carry: all by default.
    std::vector<std::string> fields{kMetadataGroupNames.begin(), kMetadataGroupNames.end()};

    // `fields` as MetadataGroup bits (IPFIX only: NetFlow has no fields for them).
    std::uint8_t metadata_groups() const;
    // The records' shape on the wire: NetFlow has no reverse elements, so it is always uniflow.
    Records shape() const { return protocol == Protocol::ipfix ? records : Records::uniflow; }
    // The collectors a session each: this one, or each member of its group, named
    // "NAME/HOST:PORT".
    std::vector<Collector> members() const;

    friend bool operator==(const Collector&, const Collector&) = default;
};

// What the workers extract from the first payloads of a flow beside its application (TLS, QUIC,
// HTTP and DNS metadata): memory and bounds.
struct Metadata {
    bool enabled = true;
    std::uint32_t flows = 32768;     // per worker: flows whose metadata is kept at once
    std::uint32_t bytes = 4096;      // of each direction's first payloads, reassembled
    std::uint32_t max_length = 256;  // of each string, in bytes, once escaped
    std::uint32_t max_answers = 4;   // DNS answers (A and AAAA addresses) kept
    bool tcp_health = true;          // every TCP flow's handshake, retransmissions, ...
    bool headers = false;  // each direction's first packet's MACs, class of service, labels, ...

    friend bool operator==(const Metadata&, const Metadata&) = default;
};

// Application identification: the signature file and how much of each flow is scanned.
struct Applications {
    std::string signatures;     // a TOML file of signatures; empty: identification off
    std::uint32_t bytes = 512;  // payload bytes scanned per direction of a new flow
    std::uint32_t packets = 4;  // packets with payload scanned per direction
    // The flow table counts a direction's scans in a nibble.
    static constexpr std::uint32_t kMaxPackets = 15;

    friend bool operator==(const Applications&, const Applications&) = default;
};

enum class PatternDirection { client, server, either };
inline constexpr std::array<std::pair<std::string_view, PatternDirection>, 3> kPatternDirections{{
    {"client", PatternDirection::client},
    {"server", PatternDirection::server},
    {"either", PatternDirection::either},
}};

enum class Transport4 { any, tcp, udp };
inline constexpr std::array<std::pair<std::string_view, Transport4>, 3> kTransport4s{{
    {"any", Transport4::any},
    {"tcp", Transport4::tcp},
    {"udp", Transport4::udp},
}};

// One Hyperscan pattern of an application's signature.
struct Pattern {
    std::string regex;
    std::vector<std::string> flags;  // caseless, dotall, multiline
    PatternDirection direction = PatternDirection::either;
    std::uint32_t line = 0;  // in the signature file
};

struct Application {
    std::string name;
    std::uint32_t id = 0;  // 1 to 16777215: the RFC 6759 selector
    std::string description;
    Transport4 transport = Transport4::any;
    std::vector<std::uint16_t> ports;  // hints: break ties between matching signatures
    std::vector<Pattern> patterns;
    std::uint32_t line = 0;
};

struct Signatures {
    std::string file;
    std::vector<Application> applications;
};

struct Control {
    unsigned core = 0;
    std::string socket = "/run/sluice/control.sock";

    friend bool operator==(const Control&, const Control&) = default;
};

struct Metrics {
    bool enabled = true;
    SocketAddress listen{"127.0.0.1", 9750};

    friend bool operator==(const Metrics&, const Metrics&) = default;
};

struct Config {
    std::string file;  // the path it was read from
    Sensor sensor;
    Dataplane dataplane;
    std::vector<Port> ports;
    Flow flow;
    std::vector<Collector> collectors;
    Applications applications;
    Metadata metadata;
    Control control;
    Metrics metrics;

    // The metadata groups (MetadataGroup bits) the workers' records can carry: the
    // application layer's with [metadata] enabled, tcp_health and headers as [metadata] says,
    // the tunnel with [flow] decapsulate.
    std::uint8_t metadata_groups() const;
};

}  // namespace sluice::config
