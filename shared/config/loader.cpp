// Reads the TOML file with toml++, checks it against the schema and across sections.
#include "shared/config/loader.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include "shared/config/schema.hpp"
#include "shared/config/units.hpp"

namespace sluice::config {
namespace schema {

std::optional<std::string> non_empty(std::string_view s) {
    if (s.empty()) return "a non-empty string";
    return std::nullopt;
}

std::optional<std::string> any(std::string_view) {
    return std::nullopt;
}

std::optional<std::string> pattern_flag(std::string_view s) {
    if (s == "caseless" || s == "dotall" || s == "multiline") return std::nullopt;
    return "one of \"caseless\", \"dotall\", \"multiline\"";
}

namespace {
// Nothing when `s` is one of `names`; otherwise what is expected.
template <std::size_t N>
std::optional<std::string> one_of(std::string_view s,
                                  const std::array<std::string_view, N>& names) {
    for (const std::string_view g : names)
        if (s == g) return std::nullopt;
    std::string expected = "one of";
    for (const std::string_view g : names)
        expected += std::string(g == names[0] ? " \"" : ", \"") + std::string(g) + "\"";
    return expected;
}
}  // namespace

std::optional<std::string> metadata_group(std::string_view s) {
    return one_of(s, kMetadataGroupNames);
}

std::optional<std::string> tunnel(std::string_view s) {
    return one_of(s, kTunnelNames);
}

std::optional<std::string> file_prefix(std::string_view s) {
    const bool ok = !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    });
    if (!ok) return "1 to 64 letters, digits, '-' or '_'";
    return std::nullopt;
}

bool is_pci_address(std::string_view s) {
    // [domain:]bus:device.function, hexadecimal: 0000:3b:00.0 or 3b:00.0
    auto hex = [](std::string_view part, std::size_t n) {
        return part.size() == n && std::all_of(part.begin(), part.end(), [](char c) {
                   return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                          (c >= 'A' && c <= 'F');
               });
    };
    if (s.size() == 12) {
        if (!hex(s.substr(0, 4), 4) || s[4] != ':') return false;
        s.remove_prefix(5);
    }
    return s.size() == 7 && hex(s.substr(0, 2), 2) && s[2] == ':' && hex(s.substr(3, 2), 2) &&
           s[5] == '.' && s[6] >= '0' && s[6] <= '7';
}

std::optional<std::string> device(std::string_view s) {
    if (is_pci_address(s) || s.starts_with("net_") || s.starts_with("eth_")) return std::nullopt;
    return "a PCI address such as \"0000:3b:00.0\" or a virtual device such as "
           "\"net_pcap0,rx_pcap=trace.pcap\"";
}

std::optional<std::string> eal_argument(std::string_view s) {
    // Sluice derives these from the configuration; a second copy would contradict it.
    static constexpr std::string_view owned[] = {
        "-l", "--lcores",     "-c", "--main-lcore", "--file-prefix", "--proc-type",
        "-m", "--socket-mem", "-a", "--allow",      "--vdev",        "--no-pci"};
    const std::string_view name = s.substr(0, s.find('='));
    for (auto o : owned)
        if (name == o)
            return "an EAL option Sluice does not set itself (" + std::string(name) +
                   " comes from [dataplane] and [[port]])";
    return std::nullopt;
}

std::optional<std::string> sampling_ratio(std::string_view s) {
    const Parsed<std::uint32_t> n = parse_sampling(s, Port::kMaxSampling);
    if (!n.value) return n.error;
    return std::nullopt;
}

std::optional<std::string> network(std::string_view s) {
    const Parsed<Network> n = parse_network(s);
    if (!n.value) return "a network such as \"10.0.0.0/8\" (" + n.error + ")";
    return std::nullopt;
}

std::optional<std::string> absolute_path(std::string_view s) {
    if (!s.starts_with('/')) return "an absolute path";
    return std::nullopt;
}

}  // namespace schema

bool Network::contains(std::uint8_t version, const std::uint8_t* a) const {
    if (version != ip_version) return false;
    const unsigned whole = length / 8, rest = length % 8;
    if (std::memcmp(a, address.data(), whole) != 0) return false;
    return rest == 0 || ((a[whole] ^ address[whole]) & (0xff00u >> rest)) == 0;
}

bool in_networks(const std::vector<Network>& networks, std::uint8_t ip_version,
                 const std::uint8_t* address) {
    return std::any_of(networks.begin(), networks.end(),
                       [&](const Network& n) { return n.contains(ip_version, address); });
}

std::vector<Network> Sensor::networks() const {
    std::vector<Network> out;
    for (const std::string& text : local_networks)
        if (const Parsed<Network> n = parse_network(text); n.value) out.push_back(*n.value);
    return out;
}

std::string_view Port::device_name() const {
    return std::string_view(device).substr(0, device.find(','));
}

std::uint32_t Port::sampling_interval() const {
    return parse_sampling(sampling, kMaxSampling).value.value_or(1);
}

bool Port::is_pci() const {
    return schema::is_pci_address(device_name());
}

std::string ConfigError::to_string() const {
    std::string out = file;
    if (line != 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": ";
    if (!key.empty()) out += key + ": ";
    return out + message;
}

namespace {

constexpr const char* kAddressExample =
    "an address such as \"192.0.2.10:4739\" or \"[2001:db8::10]:4739\"";

unsigned edit_distance(std::string_view a, std::string_view b) {
    std::vector<unsigned> row(b.size() + 1);
    std::iota(row.begin(), row.end(), 0u);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        unsigned diagonal = row[0];
        row[0] = static_cast<unsigned>(i);
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const unsigned up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

// A TOML basic string: double quotes, with quotes, backslashes and controls escaped.
std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            char escape[8];
            std::snprintf(escape, sizeof(escape), "\\u%04x", c);
            out += escape;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string describe(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return toml_string(*n.value<std::string>());
        default: {
            std::ostringstream os;
            n.visit([&os](const auto& value) { os << value; });
            return os.str();
        }
    }
}

// Collects errors against one file, and the keys it gives.
struct Errors {
    std::string file;
    std::vector<ConfigError> list;
    std::set<std::string> given;

    void add(const toml::source_region& where, std::string key, std::string message) {
        list.push_back(
            {file, where.begin.line, where.begin.column, std::move(key), std::move(message)});
    }
};

// Reads one TOML table through the schema; remembers the keys the schema asked for, so
// anything else in the table is reported as unknown, with the nearest known key.
class Reader {
public:
    Reader(const toml::table& table, std::string prefix, Errors& errors)
        : table_(table), prefix_(std::move(prefix)), errors_(errors) {}

    template <typename T>
    void integer(std::string_view key, T& out, std::int64_t min, std::int64_t max) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        const auto value = n->value_exact<std::int64_t>();
        if (!value || *value < min || *value > max) {
            fail(*n, key,
                 "expected a whole number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", found " + describe(*n));
            return;
        }
        out = static_cast<T>(*value);
    }

    void boolean(std::string_view key, bool& out) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        if (const auto value = n->value_exact<bool>())
            out = *value;
        else
            fail(*n, key, "expected true or false, found " + describe(*n));
    }

    void string(std::string_view key, std::string& out, schema::StringCheck check) {
        if (const toml::node* n = find(key)) read_string(*n, key, out, check);
    }

    void required_string(std::string_view key, std::string& out, schema::StringCheck check) {
        const toml::node* n = find(key);
        if (n == nullptr)
            errors_.add(table_.source(), path(key), "is required here");
        else
            read_string(*n, key, out, check);
    }

    void strings(std::string_view key, std::vector<std::string>& out, schema::StringCheck check) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        const toml::array* array = n->as_array();
        if (array == nullptr) {
            fail(*n, key, "expected an array of strings, found " + describe(*n));
            return;
        }
        out.clear();
        for (const toml::node& item : *array) {
            std::string s;
            if (read_string(item, key, s, check)) out.push_back(std::move(s));
        }
    }

    template <typename T>
    void integers(std::string_view key, std::vector<T>& out, std::int64_t min, std::int64_t max) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        const toml::array* array = n->as_array();
        if (array == nullptr) {
            fail(*n, key, "expected an array of whole numbers, found " + describe(*n));
            return;
        }
        out.clear();
        for (const toml::node& item : *array) {
            const auto value = item.value_exact<std::int64_t>();
            if (!value || *value < min || *value > max) {
                fail(item, key,
                     "expected whole numbers from " + std::to_string(min) + " to " +
                         std::to_string(max) + ", found " + describe(item));
                return;
            }
            out.push_back(static_cast<T>(*value));
        }
    }

    template <typename E, std::size_t N>
    void choice(std::string_view key, E& out,
                const std::array<std::pair<std::string_view, E>, N>& names) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        const auto value = n->value_exact<std::string>();
        for (const auto& [name, e] : names)
            if (value && *value == name) {
                out = e;
                return;
            }
        std::string expected;
        for (const auto& [name, e] : names)
            expected += (expected.empty() ? "" : ", ") + toml_string(name);
        fail(*n, key, "expected one of " + expected + ", found " + describe(*n));
    }

    void duration(std::string_view key, Duration& out, Duration min, Duration max) {
        parse_string(
            key, out, parse_duration,
            [&](Duration d) -> std::optional<std::string> {
                if (d >= min && d <= max) return std::nullopt;
                return "a duration from " + format_duration(min) + " to " + format_duration(max);
            },
            "a duration such as \"30s\", \"5m\" or \"250ms\"");
    }

    // A duration, or "always" and "never".
    void sync_period(std::string_view key, Duration& out, Duration min, Duration max) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        if (const auto word = n->value_exact<std::string>(); word == "always" || word == "never") {
            out = *word == "always" ? kSyncAlways : kSyncNever;
            return;
        }
        parse_string(
            key, out, parse_duration,
            [&](Duration d) -> std::optional<std::string> {
                if (d >= min && d <= max) return std::nullopt;
                return "\"always\", \"never\" or a duration from " + format_duration(min) + " to " +
                       format_duration(max);
            },
            "\"always\", \"never\" or a duration such as \"1s\"");
    }

    void size(std::string_view key, std::uint64_t& out, std::uint64_t min, std::uint64_t max) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        if (const auto bytes = n->value_exact<std::int64_t>()) {
            check_size(*n, key, out, *bytes < 0 ? 0 : static_cast<std::uint64_t>(*bytes), min, max);
            return;
        }
        parse_string(
            key, out, parse_size,
            [&](std::uint64_t b) -> std::optional<std::string> {
                if (b >= min && b <= max) return std::nullopt;
                return "a size from " + format_size(min) + " to " + format_size(max);
            },
            "a size such as \"1GiB\" or \"512MiB\"");
    }

    void cpu_list(std::string_view key, CpuSet& out) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        if (const toml::array* array = n->as_array()) {
            std::string text;
            for (const toml::node& item : *array) {
                const auto cpu = item.value_exact<std::int64_t>();
                if (!cpu || *cpu < 0) {
                    fail(item, key, "expected CPU ids, found " + describe(item));
                    return;
                }
                text += (text.empty() ? "" : ",") + std::to_string(*cpu);
            }
            store(*n, key, out, parse_cpu_list(text), "a CPU list such as \"2-5,8\"");
            return;
        }
        parse_string(key, out, parse_cpu_list, nullptr, "a CPU list such as \"2-5,8\"");
    }

    void socket_address(std::string_view key, SocketAddress& out) {
        parse_string(key, out, parse_socket_address, nullptr, kAddressExample);
    }

    void socket_addresses(std::string_view key, std::vector<SocketAddress>& out) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        const toml::array* array = n->as_array();
        if (array == nullptr) {
            fail(*n, key, "expected an array of addresses, found " + describe(*n));
            return;
        }
        out.clear();
        for (const toml::node& item : *array) {
            const auto text = item.value_exact<std::string>();
            Parsed<SocketAddress> parsed =
                text ? parse_socket_address(*text) : Parsed<SocketAddress>::fail("not a string");
            if (!parsed.value) {
                fail(item, key,
                     std::string("expected ") + kAddressExample + ", found " + describe(item) +
                         ": " + parsed.error);
                return;
            }
            out.push_back(std::move(*parsed.value));
        }
    }

    template <typename T>
    void table(std::string_view key, T& out) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        const toml::table* t = n->as_table();
        if (t == nullptr || t->is_inline()) {
            fail(*n, key, "expected a table [" + std::string(key) + "], found " + describe(*n));
            return;
        }
        Reader child(*t, path(key), errors_);
        schema::visit(child, out);
        child.finish();
    }

    template <typename T>
    void tables(std::string_view key, std::vector<T>& out) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        const toml::array* array = n->as_array();
        if (array == nullptr || !array->is_array_of_tables()) {
            fail(*n, key,
                 "expected tables written [[" + std::string(key) + "]], found " + describe(*n));
            return;
        }
        out.clear();
        for (std::size_t i = 0; i < array->size(); ++i) {
            T item{};
            Reader child(*array->get(i)->as_table(), path(key) + "[" + std::to_string(i + 1) + "]",
                         errors_);
            schema::visit(child, item);
            child.finish();
            out.push_back(std::move(item));
        }
    }

    // Reports every key of the table the schema did not ask for.
    void finish() {
        for (const auto& [key, node] : table_) {
            if (std::find(known_.begin(), known_.end(), key.str()) != known_.end()) continue;
            std::string best;
            unsigned best_distance = ~0u;
            for (const auto& k : known_) {
                const unsigned d = edit_distance(key.str(), k);
                if (d < best_distance) best_distance = d, best = k;
            }
            std::string message = "unknown key";
            if (!best.empty() && best_distance <= std::max<std::size_t>(2, key.str().size() / 3)) {
                message += "; did you mean \"" + best + "\"?";
            } else {
                std::string all;
                for (const auto& k : known_) all += (all.empty() ? "" : ", ") + k;
                message += all.empty() ? "" : "; the keys here are " + all;
            }
            errors_.add(key.source(), path(key.str()), message);
        }
    }

private:
    const toml::node* find(std::string_view key) {
        if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
        const toml::node* n = table_.get(key);
        if (n != nullptr) errors_.given.insert(path(key));
        return n;
    }

    std::string path(std::string_view key) const {
        return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
    }

    void fail(const toml::node& n, std::string_view key, std::string message) {
        errors_.add(n.source(), path(key), std::move(message));
    }

    bool read_string(const toml::node& n, std::string_view key, std::string& out,
                     schema::StringCheck check) {
        const auto value = n.value_exact<std::string>();
        if (!value) {
            fail(n, key, "expected a string, found " + describe(n));
            return false;
        }
        if (auto expected = check(*value)) {
            fail(n, key, "expected " + *expected + ", found " + describe(n));
            return false;
        }
        out = *value;
        return true;
    }

    template <typename T>
    void store(const toml::node& n, std::string_view key, T& out, Parsed<T> parsed,
               const char* expected) {
        if (!parsed.value)
            fail(n, key,
                 "expected " + std::string(expected) + ", found " + describe(n) + ": " +
                     parsed.error);
        else
            out = std::move(*parsed.value);
    }

    void check_size(const toml::node& n, std::string_view key, std::uint64_t& out,
                    std::uint64_t bytes, std::uint64_t min, std::uint64_t max) {
        if (bytes < min || bytes > max)
            fail(n, key,
                 "expected a size from " + format_size(min) + " to " + format_size(max) +
                     ", found " + describe(n));
        else
            out = bytes;
    }

    template <typename T, typename Parse, typename Range>
    void parse_string(std::string_view key, T& out, Parse parse, Range range,
                      const char* expected) {
        const toml::node* n = find(key);
        if (n == nullptr) return;
        const auto text = n->value_exact<std::string>();
        if (!text) {
            fail(*n, key, "expected " + std::string(expected) + ", found " + describe(*n));
            return;
        }
        Parsed<T> parsed = parse(*text);
        if constexpr (!std::is_same_v<Range, std::nullptr_t>) {
            if (parsed.value)
                if (auto wanted = range(*parsed.value)) {
                    fail(*n, key, "expected " + *wanted + ", found " + describe(*n));
                    return;
                }
        }
        store(*n, key, out, std::move(parsed), expected);
    }

    const toml::table& table_;
    std::string prefix_;
    Errors& errors_;
    std::vector<std::string> known_;
};

// Where the first of PATHS that the file writes is; a rule broken by a default is shown at
// the key that was written.
toml::source_region where(const toml::table& root, std::initializer_list<std::string_view> paths) {
    for (auto path : paths)
        if (const toml::node* n = root.at_path(path).node()) return n->source();
    return root.source();
}

// A group of collectors: several addresses, how they share the records, over a transport
// that can do it.
void check_group(const Collector& col, const toml::table& root, const std::string& at,
                 const std::string& key, Errors& errors) {
    const std::string addresses = key + ".addresses";
    if (col.addresses.empty()) {
        if (col.mode != GroupMode::single)
            errors.add(where(root, {at + ".mode"}), key + ".mode",
                       "is for a group: give its members as addresses = [\"HOST:PORT\", ...]");
        return;
    }
    const auto& node = where(root, {at + ".addresses", at});
    if (!col.address.host.empty())
        errors.add(where(root, {at + ".address"}), key + ".address",
                   "and addresses are both given; a collector is one address or a group of "
                   "addresses");
    if (col.addresses.size() < 2)
        errors.add(node, addresses,
                   "has one address; a group needs two or more (use address for one collector)");
    for (std::size_t i = 0; i < col.addresses.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (col.addresses[i] == col.addresses[j])
                errors.add(node, addresses,
                           toml_string(format_socket_address(col.addresses[i])) +
                               " is given twice; each member has its own address");
    if (col.transport == Transport::file)
        errors.add(where(root, {at + ".transport", at}), key + ".transport",
                   "is \"file\"; a group's members are addresses (udp, tcp or tls)");
    if (col.mode == GroupMode::single)
        errors.add(node, key + ".mode",
                   "is required with addresses: \"failover\" (the first reachable member gets "
                   "the records) or \"balance\" (the flows are spread over the members)");
    if (col.mode == GroupMode::failover && col.transport == Transport::udp)
        errors.add(where(root, {at + ".transport", at + ".mode", at}), key + ".transport",
                   "is \"udp\"; mode = \"failover\" needs \"tcp\" or \"tls\", which tell "
                   "when a collector is away (\"balance\" takes UDP)");
}

// Rules that span keys: cores, queues, devices and collectors fit together.
void check_across(const Config& c, const toml::table& root, Ports ports, Errors& errors) {
    const auto& dp = c.dataplane;
    if (c.ports.empty() && ports == Ports::required)
        errors.add(root.source(), "port",
                   "no [[port]] is configured; add one, such as [[port]] with device = "
                   "\"0000:3b:00.0\"");
    if (dp.worker_cores.cpus.size() > schema::kMaxWorkers)
        errors.add(where(root, {"dataplane.worker_cores", "dataplane"}), "dataplane.worker_cores",
                   "lists " + std::to_string(dp.worker_cores.cpus.size()) +
                       " cores; DPDK runs at most " + std::to_string(schema::kMaxWorkers) +
                       " workers");
    if (!dp.allow_shared_cores && dp.worker_cores.contains(dp.main_core))
        errors.add(where(root, {"dataplane.worker_cores", "dataplane.main_core", "dataplane"}),
                   "dataplane.worker_cores",
                   "CPU " + std::to_string(dp.main_core) +
                       " is also dataplane.main_core; a worker core must be a core of its own");
    if (!dp.allow_shared_cores && dp.worker_cores.contains(c.control.core))
        errors.add(where(root, {"control.core", "dataplane.worker_cores", "control"}),
                   "control.core",
                   "CPU " + std::to_string(c.control.core) +
                       " is also in dataplane.worker_cores; the control must not take a worker's "
                       "core (it may share dataplane.main_core)");
    unsigned queues = 0;
    for (const auto& p : c.ports) queues += p.rx_queues;
    if (!c.ports.empty() && queues != dp.worker_cores.cpus.size())
        errors.add(where(root, {"dataplane.worker_cores", "dataplane"}), "dataplane.worker_cores",
                   "lists " + std::to_string(dp.worker_cores.cpus.size()) +
                       " cores but the ports have " + std::to_string(queues) +
                       " RX queues in all; each RX queue needs one worker core");
    bool captures = false, devices = false;
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
        const Port& p = c.ports[i];
        const std::string key = "port[" + std::to_string(i + 1) + "]";
        const std::string at = "port[" + std::to_string(i) + "]";
        if (p.device.empty() == p.capture.empty())
            errors.add(where(root, {at}), key,
                       p.device.empty()
                           ? "needs a device (\"0000:3b:00.0\", \"net_pcap0,rx_pcap=...\") or a "
                             "capture (\"/path/trace.pcap\")"
                           : "has both a device and a capture; a port is one or the other");
        if (!p.capture.empty() && p.rx_queues != 1)
            errors.add(where(root, {at + ".rx_queues", at}), key + ".rx_queues",
                       "is " + std::to_string(p.rx_queues) +
                           "; a capture is read by one worker (rx_queues = 1)");
        (p.capture.empty() ? devices : captures) = true;
        // Collectors take one sampling rate an observation domain (the options records).
        if (i > 0 && (p.sampling_interval() != c.ports[0].sampling_interval() ||
                      (p.sampling_interval() > 1 && p.deterministic != c.ports[0].deterministic)))
            errors.add(where(root, {at + ".sampling", at + ".deterministic", at}),
                       key + ".sampling",
                       "is not port[1]'s; collectors take one sampling rate for all the records "
                       "of a sensor (its observation domain): give every port the same sampling "
                       "and deterministic");
    }
    if (captures && devices)
        errors.add(where(root, {"port"}), "port",
                   "mixes captures and devices; a run replays captures in their own time or "
                   "meters live devices, not both");
    for (std::size_t i = 0; i < c.ports.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (!c.ports[i].device.empty() && c.ports[i].device_name() == c.ports[j].device_name())
                errors.add(where(root, {"port[" + std::to_string(i) + "].device"}),
                           "port[" + std::to_string(i + 1) + "].device",
                           "device " + toml_string(c.ports[i].device_name()) + " is already port[" +
                               std::to_string(j + 1) + "]; each device can be one port only");
    for (std::size_t i = 0; i < c.collectors.size(); ++i) {
        const auto& col = c.collectors[i];
        const std::string key = "collector[" + std::to_string(i + 1) + "]";
        const std::string at = "collector[" + std::to_string(i) + "]";
        if (col.transport == Transport::file && col.path.empty())
            errors.add(where(root, {at}), key + ".path", "is required when transport = \"file\"");
        const bool group = !col.addresses.empty();
        if (col.transport != Transport::file && col.address.host.empty() && !group)
            errors.add(where(root, {at}), key + ".address",
                       "is required when transport = \"udp\", \"tcp\" or \"tls\" (or "
                       "addresses, for a group)");
        check_group(col, root, at, key, errors);
        if (col.certificate.empty() != col.private_key.empty())
            errors.add(
                where(root, {at + (col.certificate.empty() ? ".private_key" : ".certificate"), at}),
                key + (col.certificate.empty() ? ".certificate" : ".private_key"),
                "is required with " +
                    std::string(col.certificate.empty() ? "private_key" : "certificate") +
                    ": a client certificate needs its key");
        const bool tls_keys = !col.ca_file.empty() || !col.server_name.empty() ||
                              !col.certificate.empty() || !col.private_key.empty();
        if (tls_keys && col.transport != Transport::tls)
            errors.add(where(root, {at + ".transport", at}), key + ".transport",
                       "is " + toml_string(choice_name(kTransports, col.transport)) +
                           "; ca_file, server_name, certificate and private_key are for "
                           "transport = \"tls\"");
        if (col.protocol != Protocol::ipfix) {
            const std::string protocol = toml_string(choice_name(kProtocols, col.protocol));
            if (col.transport != Transport::udp)
                errors.add(where(root, {at + ".transport", at}), key + ".transport",
                           "is " + toml_string(choice_name(kTransports, col.transport)) +
                               "; protocol = " + protocol +
                               " goes over UDP only (IPFIX goes over TCP and into files)");
            if (col.records != Records::uniflow && errors.given.contains(key + ".records"))
                errors.add(
                    where(root, {at + ".records", at}), key + ".records",
                    "is \"biflow\"; NetFlow has no reverse elements, so protocol = " + protocol +
                        " sends uniflow records (remove records, or set it to "
                        "\"uniflow\")");
        }
        if (!col.spool.empty() && col.transport != Transport::tcp &&
            col.transport != Transport::tls)
            errors.add(where(root, {at + ".spool", at}), key + ".spool",
                       "is for transport = \"tcp\" or \"tls\", which tell when the collector is "
                       "away (found " +
                           toml_string(choice_name(kTransports, col.transport)) + ")");
        if (!col.spool.empty() && col.mode == GroupMode::failover)
            errors.add(where(root, {at + ".spool", at}), key + ".spool",
                       "is for one collector or a group of mode = \"balance\"; a failover group "
                       "hands its records from member to member in memory");
        if (!col.spool.empty() && col.spool_size < col.buffer_size)
            errors.add(where(root, {at + ".spool_size", at}), key + ".spool_size",
                       "is " + format_size(col.spool_size) + ", below buffer_size (" +
                           format_size(col.buffer_size) + "), which a stop writes to the spool");
        if (col.rotate_size != 0 && col.rotate_size < 65536)
            errors.add(where(root, {at + ".rotate_size"}), key + ".rotate_size",
                       "is below one IPFIX message (64KiB); use 0 to never rotate by size");
        if (col.rotate_interval.count() != 0 && col.rotate_interval < std::chrono::seconds(1))
            errors.add(where(root, {at + ".rotate_interval"}), key + ".rotate_interval",
                       "is below 1s; use \"0s\" to never rotate by time");
        for (std::size_t j = 0; j < i; ++j)
            if (c.collectors[j].name == col.name)
                errors.add(where(root, {at}), key + ".name",
                           toml_string(col.name) + " is already the name of collector[" +
                               std::to_string(j + 1) + "]; give each collector its own name");
    }
}

LoadResult load_table(const toml::table& root, const std::string& file, Ports ports) {
    Errors errors{file, {}, {}};
    Config config;
    config.file = file;
    Reader reader(root, "", errors);
    schema::visit(reader, config);
    reader.finish();
    for (auto& col : config.collectors) {
        if (!col.name.empty()) continue;
        if (col.transport == Transport::file) {
            col.name = col.path;
        } else if (col.addresses.empty()) {
            col.name = format_socket_address(col.address);
        } else {
            for (const auto& a : col.addresses)
                col.name += (col.name.empty() ? "" : ",") + format_socket_address(a);
        }
    }
    if (errors.list.empty()) check_across(config, root, ports, errors);
    for (auto& col : config.collectors) col.records = col.shape();  // NetFlow: always uniflow
    if (!errors.list.empty()) return {std::nullopt, std::move(errors.list), {}};
    return {std::move(config), {}, std::move(errors.given)};
}

}  // namespace

namespace {
std::uint8_t tunnel_bits(const std::vector<std::string>& names) {
    std::uint8_t bits = 0;
    for (const std::string& t : names)
        for (unsigned i = 0; i < kTunnelTypes; ++i)
            if (t == kTunnelNames[i]) bits |= tunnel_bit(static_cast<TunnelType>(i + 1));
    return bits;
}
}  // namespace

std::uint8_t Flow::tunnels() const {
    return tunnel_bits(decapsulate);
}

std::uint8_t Flow::keyed_tunnels() const {
    return tunnel_bits(tunnel_key);
}

std::uint8_t Collector::metadata_groups() const {
    if (protocol != Protocol::ipfix) return 0;
    std::uint8_t groups = 0;
    for (const std::string& f : fields)
        for (unsigned g = 0; g < kMetadataGroups; ++g)
            if (f == kMetadataGroupNames[g]) groups |= static_cast<std::uint8_t>(1u << g);
    return groups;
}

std::uint8_t Config::metadata_groups() const {
    std::uint8_t groups = 0;
    if (metadata.enabled) groups |= kApplicationGroups;
    if (metadata.tcp_health) groups |= group_bit(MetadataGroup::tcp_health);
    if (flow.tunnels() != 0) groups |= group_bit(MetadataGroup::tunnel);
    if (metadata.headers) groups |= group_bit(MetadataGroup::headers);
    return groups;
}

std::vector<Collector> Collector::members() const {
    if (addresses.empty()) return {*this};
    std::vector<Collector> all;
    for (const SocketAddress& a : addresses) {
        Collector& m = all.emplace_back(*this);
        m.name = name + "/" + format_socket_address(a);
        m.address = a;
        m.addresses.clear();
        m.mode = GroupMode::single;
    }
    return all;
}

LoadResult load_string(std::string_view text, const std::string& file_name, Ports ports) {
    try {
        const toml::table root = toml::parse(text, file_name);
        return load_table(root, file_name, ports);
    } catch (const toml::parse_error& e) {
        const auto& at = e.source().begin;
        return {
            std::nullopt,
            {{file_name, at.line, at.column, "", "TOML syntax: " + std::string(e.description())}},
            {}};
    }
}

LoadResult load_file(const std::string& path, Ports ports) {
    auto unreadable = [&path](int err) {
        return LoadResult{std::nullopt,
                          {{path, 0, 0, "",
                            std::string("cannot read the configuration: ") + std::strerror(err) +
                                "; pass an existing file with --config FILE"}},
                          {}};
    };
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return unreadable(EISDIR);
    std::ifstream in(path, std::ios::binary);
    if (!in) return unreadable(errno);
    std::ostringstream text;
    text << in.rdbuf();
    return load_string(text.str(), path, ports);
}

SignaturesResult load_signatures_string(std::string_view text, const std::string& file_name) {
    toml::table root;
    try {
        root = toml::parse(text, file_name);
    } catch (const toml::parse_error& e) {
        const auto& at = e.source().begin;
        return {std::nullopt, {{file_name, at.line, at.column, "", std::string(e.description())}}};
    }
    Errors errors{file_name, {}, {}};
    Signatures s;
    s.file = file_name;
    Reader reader(root, "", errors);
    schema::visit(reader, s);
    reader.finish();
    // Where each application and pattern is, for the messages of the Hyperscan compiler.
    if (const toml::array* apps = root["application"].as_array()) {
        for (std::size_t i = 0; i < s.applications.size() && i < apps->size(); ++i) {
            const toml::table* t = apps->get(i)->as_table();
            Application& a = s.applications[i];
            a.line = t->source().begin.line;
            const toml::array* patterns = (*t)["pattern"].as_array();
            for (std::size_t j = 0; patterns && j < a.patterns.size() && j < patterns->size(); ++j)
                if (const toml::node* regex = (*patterns->get(j)->as_table())["regex"].node())
                    a.patterns[j].line = regex->source().begin.line;
        }
    }
    for (std::size_t i = 0; i < s.applications.size() && errors.list.empty(); ++i) {
        const Application& a = s.applications[i];
        const std::string key = "application[" + std::to_string(i + 1) + "]";
        if (a.id == 0)
            errors.list.push_back({file_name, a.line, 1, key + ".id", "is required here"});
        if (a.patterns.empty())
            errors.list.push_back({file_name, a.line, 1, key + ".pattern",
                                   "an application needs at least one [[application.pattern]]"});
        for (std::size_t j = 0; j < i; ++j) {
            if (s.applications[j].id == a.id)
                errors.list.push_back({file_name, a.line, 1, key + ".id",
                                       std::to_string(a.id) + " is already the id of \"" +
                                           s.applications[j].name + "\""});
            if (s.applications[j].name == a.name)
                errors.list.push_back({file_name, a.line, 1, key + ".name",
                                       "\"" + a.name + "\" is already an application"});
        }
    }
    if (!errors.list.empty()) return {std::nullopt, std::move(errors.list)};
    return {std::move(s), {}};
}

std::string signatures_path(const Config& config) {
    const std::string& s = config.applications.signatures;
    if (s.empty() || s.starts_with('/')) return s;
    return (std::filesystem::path(config.file).parent_path() / s).string();
}

SignaturesResult load_signatures(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return {
            std::nullopt,
            {{path, 0, 0, "", std::string("cannot read the signatures: ") + std::strerror(errno)}}};
    std::ostringstream text;
    text << in.rdbuf();
    return load_signatures_string(text.str(), path);
}

namespace {

// Writes the configuration back as TOML, through the same schema.
class Printer {
public:
    explicit Printer(std::ostringstream& out) : out_(out) {}

    template <typename T>
    void integer(std::string_view key, T value, std::int64_t, std::int64_t) {
        line(key, std::to_string(value));
    }
    void boolean(std::string_view key, bool value) { line(key, value ? "true" : "false"); }
    void string(std::string_view key, const std::string& value, schema::StringCheck) {
        if (!value.empty()) line(key, toml_string(value));
    }
    void required_string(std::string_view key, const std::string& value, schema::StringCheck) {
        line(key, toml_string(value));
    }
    void strings(std::string_view key, const std::vector<std::string>& values,
                 schema::StringCheck) {
        std::string list;
        for (const auto& v : values) list += (list.empty() ? "" : ", ") + toml_string(v);
        line(key, "[" + list + "]");
    }
    template <typename E, std::size_t N>
    void choice(std::string_view key, E value,
                const std::array<std::pair<std::string_view, E>, N>& names) {
        for (const auto& [name, e] : names)
            if (e == value) line(key, toml_string(name));
    }
    void duration(std::string_view key, Duration d, Duration, Duration) {
        line(key, toml_string(format_duration(d)));
    }
    void size(std::string_view key, std::uint64_t bytes, std::uint64_t, std::uint64_t) {
        line(key, toml_string(format_size(bytes)));
    }
    void sync_period(std::string_view key, Duration d, Duration, Duration) {
        line(key, toml_string(d == kSyncAlways  ? "always"
                              : d == kSyncNever ? "never"
                                                : format_duration(d)));
    }
    void cpu_list(std::string_view key, const CpuSet& set) {
        line(key, toml_string(format_cpu_list(set)));
    }
    void socket_address(std::string_view key, const SocketAddress& a) {
        if (!a.host.empty()) line(key, toml_string(format_socket_address(a)));
    }
    void socket_addresses(std::string_view key, const std::vector<SocketAddress>& addresses) {
        std::string list;
        for (const auto& a : addresses)
            list += (list.empty() ? "" : ", ") + toml_string(format_socket_address(a));
        if (!list.empty()) line(key, "[" + list + "]");
    }
    template <typename T>
    void table(std::string_view key, T& value) {
        out_ << "\n[" << key << "]\n";
        schema::visit(*this, value);
    }
    template <typename T>
    void tables(std::string_view key, std::vector<T>& values) {
        for (auto& value : values) {
            out_ << "\n[[" << key << "]]\n";
            schema::visit(*this, value);
        }
    }

private:
    void line(std::string_view key, const std::string& value) {
        out_ << key << " = " << value << "\n";
    }

    std::ostringstream& out_;
};

}  // namespace

std::string to_toml(const Config& config) {
    std::ostringstream out;
    out << "# Effective configuration of " << config.file << ", defaults filled in.\n";
    Printer printer(out);
    Config copy = config;
    schema::visit(printer, copy);
    return out.str();
}

}  // namespace sluice::config
