// The configuration schema: every key, its type, range and check, defined once.
// The loader reads with it and the printer writes with it, so the two cannot disagree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/config.hpp"
#include "sluice/shm.hpp"

namespace sluice::config::schema {

using namespace std::chrono_literals;

inline constexpr std::uint64_t kMiB = 1ull << 20;
inline constexpr std::uint64_t kGiB = 1ull << 30;
inline constexpr unsigned kMaxCpu = 1023;
using shm::kMaxWorkers;

// A check on a string value: nothing when it is fine, otherwise what is expected.
using StringCheck = std::optional<std::string> (*)(std::string_view);

std::optional<std::string> non_empty(std::string_view s);
std::optional<std::string> file_prefix(std::string_view s);
std::optional<std::string> device(std::string_view s);
std::optional<std::string> eal_argument(std::string_view s);
std::optional<std::string> absolute_path(std::string_view s);
std::optional<std::string> any(std::string_view s);
std::optional<std::string> pattern_flag(std::string_view s);
std::optional<std::string> metadata_group(std::string_view s);
std::optional<std::string> tunnel(std::string_view s);
std::optional<std::string> network(std::string_view s);
std::optional<std::string> sampling_ratio(std::string_view s);

// Marks the key or table the visitor meets next as restart-only: a reload keeps its running
// value and names it as needing a restart. Every other key takes effect at a reload. A visitor
// that has no use for the mark (the reader, the printer) has no mark_restart_only().
template <typename V>
V& restart_only(V& v) {
    if constexpr (requires { v.mark_restart_only(); }) v.mark_restart_only();
    return v;
}

template <typename V>
void visit(V& v, Sensor& s) {
    restart_only(v).string("name", s.name, non_empty);
    v.integer("observation_domain_id", s.observation_domain_id, 0, UINT32_MAX);
    v.strings("local_networks", s.local_networks, network);
}

template <typename V>
void visit(V& v, Dataplane& d) {
    v.integer("main_core", d.main_core, 0, kMaxCpu);
    v.cpu_list("worker_cores", d.worker_cores);
    v.size("hugepage_memory", d.hugepage_memory, 64 * kMiB, 4096 * kGiB);
    v.string("file_prefix", d.file_prefix, file_prefix);
    v.strings("eal_args", d.eal_args, eal_argument);
    v.boolean("allow_shared_cores", d.allow_shared_cores);
}

template <typename V>
void visit(V& v, Port& p) {
    v.string("device", p.device, device);
    v.string("capture", p.capture, absolute_path);
    v.string("name", p.name, any);
    v.integer("if_index", p.if_index, 0, 0x7fffffff);
    v.integer("rx_queues", p.rx_queues, 1, 128);
    v.integer("rx_descriptors", p.rx_descriptors, 64, 32768);
    v.integer("mtu", p.mtu, 68, 16000);
    v.boolean("promiscuous", p.promiscuous);
    v.choice("rss", p.rss, kRssModes);
    v.duration("deduplicate", p.deduplicate, 0s, Port::kMaxDeduplicate);
    v.string("sampling", p.sampling, sampling_ratio);
    v.boolean("deterministic", p.deterministic);
}

template <typename V>
void visit(V& v, Flow& f) {
    restart_only(v).integer("max_flows", f.max_flows, 1024, 1u << 28);
    v.duration("idle_timeout", f.idle_timeout, 1s, 24h);
    v.duration("active_timeout", f.active_timeout, 1s, 24h);
    v.duration("tcp_end_grace", f.tcp_end_grace, 0s, 5min);
    restart_only(v).integer("record_ring_size", f.record_ring_size, 1024, 1u << 26);
    restart_only(v).strings("decapsulate", f.decapsulate, tunnel);
    restart_only(v).strings("tunnel_key", f.tunnel_key, tunnel);
    restart_only(v).integer("vxlan_port", f.vxlan_port, 1, 65535);
    restart_only(v).integer("geneve_port", f.geneve_port, 1, 65535);
    restart_only(v).integer("gtpu_port", f.gtpu_port, 1, 65535);
    restart_only(v).integer("tunnel_depth", f.tunnel_depth, 1, 8);
}

template <typename V>
void visit(V& v, Collector& c) {
    v.string("name", c.name, any);
    v.choice("transport", c.transport, kTransports);
    v.choice("protocol", c.protocol, kProtocols);
    v.socket_address("address", c.address);
    v.socket_addresses("addresses", c.addresses);
    v.choice("mode", c.mode, kGroupModes);
    v.string("path", c.path, any);
    v.string("ca_file", c.ca_file, absolute_path);
    v.string("server_name", c.server_name, any);
    v.string("certificate", c.certificate, absolute_path);
    v.string("private_key", c.private_key, absolute_path);
    v.duration("template_refresh", c.template_refresh, 1s, 24h);
    v.integer("mtu", c.mtu, 576, 65535);
    v.choice("timestamps", c.timestamps, kTimestamps);
    v.choice("records", c.records, kRecordShapes);
    v.duration("statistics_interval", c.statistics_interval, 1s, 24h);
    v.size("buffer_size", c.buffer_size, kMiB, 64 * kGiB);
    v.size("rotate_size", c.rotate_size, 0, 1024 * kGiB);
    v.duration("rotate_interval", c.rotate_interval, 0s, 24h * 365);
    v.boolean("segmentation_offload", c.segmentation_offload);
    v.duration("ack_timeout", c.ack_timeout, 1s, 1h);
    v.string("spool", c.spool, absolute_path);
    v.size("spool_size", c.spool_size, 16 * kMiB, 64 * 1024 * kGiB);
    v.sync_period("spool_sync", c.spool_sync, 1ms, 1h);
    v.choice("spool_overflow", c.spool_overflow, kSpoolOverflows);
    v.strings("fields", c.fields, metadata_group);
}

template <typename V>
void visit(V& v, Metadata& m) {
    v.boolean("enabled", m.enabled);
    v.integer("flows", m.flows, 1024, 1u << 24);
    v.integer("bytes", m.bytes, 256, 16384);
    v.integer("max_length", m.max_length, 16, 512);
    v.integer("max_answers", m.max_answers, 0, 16);
    v.boolean("tcp_health", m.tcp_health);
    v.boolean("headers", m.headers);
}

template <typename V>
void visit(V& v, Applications& a) {
    v.string("signatures", a.signatures, any);
    v.integer("bytes", a.bytes, 16, 65535);
    v.integer("packets", a.packets, 1, Applications::kMaxPackets);
}

// The signature file: [[application]] tables with [[application.pattern]] tables.
template <typename V>
void visit(V& v, Pattern& p) {
    v.required_string("regex", p.regex, non_empty);
    v.strings("flags", p.flags, pattern_flag);
    v.choice("direction", p.direction, kPatternDirections);
}

template <typename V>
void visit(V& v, Application& a) {
    v.required_string("name", a.name, non_empty);
    v.integer("id", a.id, 1, (1 << 24) - 1);
    v.string("description", a.description, any);
    v.choice("transport", a.transport, kTransport4s);
    v.integers("ports", a.ports, 1, 65535);
    v.tables("pattern", a.patterns);
}

template <typename V>
void visit(V& v, Signatures& s) {
    v.tables("application", s.applications);
}

template <typename V>
void visit(V& v, Control& c) {
    v.integer("core", c.core, 0, kMaxCpu);
    v.string("socket", c.socket, absolute_path);
}

template <typename V>
void visit(V& v, Metrics& m) {
    v.boolean("enabled", m.enabled);
    v.socket_address("listen", m.listen);
}

template <typename V>
void visit(V& v, Config& c) {
    v.table("sensor", c.sensor);
    restart_only(v).table("dataplane", c.dataplane);
    restart_only(v).tables("port", c.ports);
    v.table("flow", c.flow);
    v.tables("collector", c.collectors);
    restart_only(v).table("applications", c.applications);
    restart_only(v).table("metadata", c.metadata);
    restart_only(v).table("control", c.control);
    v.table("metrics", c.metrics);
}

}  // namespace sluice::config::schema
