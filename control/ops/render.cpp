// A snapshot as the control socket's JSON replies and as Prometheus text.
#include "render.hpp"

#include <arpa/inet.h>

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "json.hpp"
#include "record_json.hpp"

namespace sluice::ops {
namespace {

double seconds(std::uint64_t ns) {
    return static_cast<double>(ns) / 1e9;
}

void meter_fields(JsonWriter& j, const MeterCounters& m) {
    j.field("packets", m.packets).field("octets", m.octets);
    j.field("metered_packets", m.metered_packets).field("metered_octets", m.metered_octets);
    j.key("ignored_packets").begin_object();
    for (std::size_t r = 0; r < kIgnoreReasons; ++r)
        j.field(kIgnoreReasonNames[r].name, m.ignored_packets[r]);
    j.end_object();
    j.key("ignored_octets").begin_object();
    for (std::size_t r = 0; r < kIgnoreReasons; ++r)
        j.field(kIgnoreReasonNames[r].name, m.ignored_octets[r]);
    j.end_object();
    j.field("ignored_ip_octets", m.ignored_ip_octets);
    j.field("flows_created", m.flows_created).field("flows_active", m.flows_active);
    j.key("flows_ended").begin_object();
    for (std::size_t r = 1; r < kEndReasons; ++r) j.field(kEndReasonNames[r], m.flows_ended[r]);
    j.end_object();
    j.field("evictions", m.evictions);
    j.field("fragments_matched", m.fragments_matched);
    j.field("fragments_unmatched", m.fragments_unmatched);
    j.field("application_scans", m.application_scans);
    j.field("flows_identified", m.flows_identified);
}

void output_fields(JsonWriter& j, const shm::OutputCounters& o) {
    j.field("records_sent", o.records_sent).field("records_not_sent", o.records_not_sent);
    j.field("packets_not_sent", o.packets_not_sent).field("octets_not_sent", o.octets_not_sent);
    j.field("ring_used", o.ring_used).field("ring_capacity", o.ring_capacity);
    j.field("bursts", o.bursts);
}

void collector_fields(JsonWriter& j, const CollectorSnapshot& c) {
    const control::SessionCounters& n = c.counters;
    j.field("name", c.name).field("destination", c.destination).field("state", c.state);
    j.field("last_error", c.last_error);
    j.field("records_sent", n.records_sent).field("packets_sent", n.packets_sent);
    j.field("octets_sent", n.octets_sent);
    j.field("records_not_sent", n.records_not_sent).field("packets_not_sent", n.packets_not_sent);
    j.field("octets_not_sent", n.octets_not_sent);
    j.field("messages_sent", n.messages_sent).field("bytes_sent", n.bytes_sent);
    j.field("template_messages_sent", n.template_messages_sent);
    j.field("statistics_records_sent", n.statistics_records_sent);
    j.field("sessions_opened", n.sessions_opened).field("send_failures", n.send_failures);
    j.field("open_failures", n.open_failures).field("records_buffered", n.records_buffered);
}

void port_fields(JsonWriter& j, const PortSnapshot& p) {
    j.field("id", p.id).field("device", p.device).field("rx_queues", p.rx_queues);
    j.field("link_up", p.counters.link_up != 0)
        .field("link_speed_mbps", p.counters.link_speed_mbps);
    j.field("ipackets", p.counters.ipackets).field("ibytes", p.counters.ibytes);
    j.field("imissed", p.counters.imissed).field("ierrors", p.counters.ierrors);
    j.field("rx_nombuf", p.counters.rx_nombuf);
}

// An array of objects under `key`, one per item, each written by `fields`.
template <typename Items, typename Fields>
void object_array(JsonWriter& j, const char* key, const Items& items, Fields fields) {
    j.key(key).begin_array();
    for (const auto& item : items) {
        j.begin_object();
        fields(j, item);
        j.end_object();
    }
    j.end_array();
}

void process_fields(JsonWriter& j, const Snapshot& s) {
    j.field("version", s.version).field("sensor", s.sensor).field("file_prefix", s.file_prefix);
    j.key("dataplane").begin_object();
    j.field("pid", s.dataplane_pid).field("state", s.dataplane_state);
    j.field("uptime_seconds", seconds(s.time_ns - s.dataplane_start_ns));
    j.field("config_generation", s.config_generation);
    j.end_object();
    j.key("control").begin_object();
    j.field("pid", s.control_pid);
    j.field("uptime_seconds", seconds(s.time_ns - s.control_start_ns));
    j.end_object();
}

// One metric family: HELP, TYPE, then its samples.
class Family {
public:
    Family(std::string& out, const char* name, const char* type, const char* help)
        : out_(out), name_(name) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }

    // labels: already formatted, `worker="0"`; empty for none.
    void sample(const std::string& labels, double value) {
        char v[48];
        std::snprintf(v, sizeof(v), "%.17g", value);
        sample_text(labels, v);
    }
    void sample(const std::string& labels, std::uint64_t value) {
        sample_text(labels, std::to_string(value).c_str());
    }

private:
    void sample_text(const std::string& labels, const char* value) {
        out_ += name_;
        if (!labels.empty()) out_ += "{" + labels + "}";
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }

    std::string& out_;
    const char* name_;
};

// A label value, escaped as the exposition format asks.
std::string label(const char* name, const std::string& value) {
    std::string out = std::string(name) + "=\"";
    for (const char c : value) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out + "\"";
}

std::string worker_labels(const WorkerSnapshot& w) {
    return label("worker", std::to_string(w.id)) + "," + label("port", std::to_string(w.port)) +
           "," + label("queue", std::to_string(w.queue));
}

// printf into a std::string.
[[gnu::format(printf, 2, 3)]] void line(std::string& out, const char* fmt, ...) {
    char buf[512];
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    out += buf;
    out += '\n';
}

std::string duration_text(std::uint64_t ns) {
    const std::uint64_t s = ns / 1'000'000'000;
    char buf[48];
    if (s >= 86400)
        std::snprintf(buf, sizeof(buf), "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        std::snprintf(buf, sizeof(buf), "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
    else
        std::snprintf(buf, sizeof(buf), "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    return buf;
}

void collectors_table(std::string& out, const Snapshot& s) {
    line(out, "%-20s %-28s %-8s %14s %12s %10s  %s", "COLLECTOR", "DESTINATION", "STATE",
         "RECORDS SENT", "NOT SENT", "BUFFERED", "LAST ERROR");
    for (const auto& c : s.collectors)
        line(out, "%-20s %-28s %-8s %14" PRIu64 " %12" PRIu64 " %10" PRIu64 "  %s", c.name.c_str(),
             c.destination.c_str(), c.state.c_str(), c.counters.records_sent,
             c.counters.records_not_sent, c.counters.records_buffered,
             c.last_error.empty() ? "-" : c.last_error.c_str());
}

// A metric family of one counter field: its name, type, help and where its value is.
template <typename Counters>
struct Metric {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t Counters::*field;
};

constexpr Metric<MeterCounters> kMeterMetrics[] = {
    {"sluice_worker_packets_total", "counter", "Packets the worker took from its queue.",
     &MeterCounters::packets},
    {"sluice_worker_received_bytes_total", "counter", "Frame bytes of the packets the worker took.",
     &MeterCounters::octets},
    {"sluice_worker_metered_packets_total", "counter", "Packets metered into flows.",
     &MeterCounters::metered_packets},
    {"sluice_worker_metered_bytes_total", "counter",
     "IP bytes metered into flows, as records count them.", &MeterCounters::metered_octets},
    {"sluice_worker_ignored_ip_bytes_total", "counter",
     "Of the packets not metered that had an IP header, the bytes from that header on.",
     &MeterCounters::ignored_ip_octets},
    {"sluice_worker_flows_created_total", "counter", "Flows the worker's table created.",
     &MeterCounters::flows_created},
    {"sluice_worker_flows_active", "gauge", "Flows in the worker's table now.",
     &MeterCounters::flows_active},
    {"sluice_worker_evictions_total", "counter",
     "Flows ended early for lack of room in the table (lackOfResources).",
     &MeterCounters::evictions},
    {"sluice_worker_fragments_matched_total", "counter",
     "Non-first fragments given the ports of their first fragment.",
     &MeterCounters::fragments_matched},
    {"sluice_worker_fragments_unmatched_total", "counter",
     "Non-first fragments metered with ports 0.", &MeterCounters::fragments_unmatched},
    {"sluice_worker_application_scans_total", "counter",
     "Payloads scanned for the flow's application.", &MeterCounters::application_scans},
    {"sluice_worker_flows_identified_total", "counter", "Flows whose application a scan found.",
     &MeterCounters::flows_identified},
};

constexpr Metric<shm::OutputCounters> kOutputMetrics[] = {
    {"sluice_worker_records_sent_total", "counter",
     "Records the worker put into its ring for sluice-control.",
     &shm::OutputCounters::records_sent},
    {"sluice_worker_records_not_sent_total", "counter",
     "Records dropped because the ring was full.", &shm::OutputCounters::records_not_sent},
    {"sluice_worker_packets_not_sent_total", "counter",
     "Packets in the records dropped because the ring was full.",
     &shm::OutputCounters::packets_not_sent},
    {"sluice_worker_bytes_not_sent_total", "counter",
     "IP bytes in the records dropped because the ring was full.",
     &shm::OutputCounters::octets_not_sent},
    {"sluice_worker_ring_records", "gauge", "Records waiting in the worker's ring.",
     &shm::OutputCounters::ring_used},
    {"sluice_worker_ring_capacity_records", "gauge", "The size of the worker's ring.",
     &shm::OutputCounters::ring_capacity},
};

using control::SessionCounters;
constexpr Metric<SessionCounters> kCollectorMetrics[] = {
    {"sluice_collector_records_sent_total", "counter", "Flow records sent to the collector.",
     &SessionCounters::records_sent},
    {"sluice_collector_packets_sent_total", "counter",
     "Packets in the flow records sent to the collector.", &SessionCounters::packets_sent},
    {"sluice_collector_records_not_sent_total", "counter",
     "Flow records lost for this collector: buffer full, send failed, connection lost.",
     &SessionCounters::records_not_sent},
    {"sluice_collector_packets_not_sent_total", "counter",
     "Packets in the flow records lost for this collector.", &SessionCounters::packets_not_sent},
    {"sluice_collector_messages_sent_total", "counter", "IPFIX messages sent.",
     &SessionCounters::messages_sent},
    {"sluice_collector_sent_bytes_total", "counter", "IPFIX bytes sent.",
     &SessionCounters::bytes_sent},
    {"sluice_collector_template_messages_sent_total", "counter", "Messages carrying the templates.",
     &SessionCounters::template_messages_sent},
    {"sluice_collector_statistics_records_sent_total", "counter",
     "Reliability statistics options records sent.", &SessionCounters::statistics_records_sent},
    {"sluice_collector_sessions_opened_total", "counter",
     "Transport sessions opened: connections, files.", &SessionCounters::sessions_opened},
    {"sluice_collector_send_failures_total", "counter", "Messages that failed.",
     &SessionCounters::send_failures},
    {"sluice_collector_open_failures_total", "counter",
     "Names not resolved, connections refused, files not created.",
     &SessionCounters::open_failures},
    {"sluice_collector_buffered_records", "gauge", "Records waiting in the collector's buffer.",
     &SessionCounters::records_buffered},
};

}  // namespace

std::string text_reply(const std::string& text) {
    JsonWriter j;
    j.begin_object().field("ok", true).field("text", text).end_object();
    return j.text();
}

std::string status_text(const Snapshot& s) {
    std::string out;
    line(out, "sluice %s, sensor \"%s\", file_prefix \"%s\"", s.version.c_str(), s.sensor.c_str(),
         s.file_prefix.c_str());
    line(out, "dataplane  pid %-8d %-9s up %-9s config generation %" PRIu64, s.dataplane_pid,
         s.dataplane_state.c_str(), duration_text(s.time_ns - s.dataplane_start_ns).c_str(),
         s.config_generation);
    line(out, "control    pid %-8d %-9s up %s", s.control_pid, "running",
         duration_text(s.time_ns - s.control_start_ns).c_str());
    line(out, "rates      %.0f packets/s, %.0f new flows/s", s.packets_per_second,
         s.flows_per_second);
    line(out, "%s", "");
    line(out, "%-5s %-32s %-5s %10s %16s %12s %10s", "PORT", "DEVICE", "LINK", "SPEED", "PACKETS",
         "MISSED", "ERRORS");
    for (const auto& p : s.ports) {
        char speed[32];
        std::snprintf(speed, sizeof(speed), "%" PRIu64 " Mbps", p.counters.link_speed_mbps);
        line(out, "%-5u %-32.32s %-5s %10s %16" PRIu64 " %12" PRIu64 " %10" PRIu64, p.id,
             p.device.c_str(), p.counters.link_up ? "up" : "down", speed, p.counters.ipackets,
             p.counters.imissed, p.counters.ierrors);
    }
    line(out, "%s", "");
    line(out, "%-7s %-5s %-6s %-4s %-11s %16s %12s %14s", "WORKER", "PORT", "QUEUE", "CPU", "STATE",
         "PACKETS", "FLOWS", "RING");
    for (const auto& w : s.workers) {
        char ring[32];
        std::snprintf(ring, sizeof(ring), "%" PRIu64 "/%" PRIu64, w.output.ring_used,
                      w.output.ring_capacity);
        line(out, "%-7u %-5u %-6u %-4u %-11s %16" PRIu64 " %12" PRIu64 " %14s", w.id, w.port,
             w.queue, w.cpu, w.state.c_str(), w.meter.packets, w.meter.flows_active, ring);
    }
    line(out, "%s", "");
    collectors_table(out, s);
    return out;
}

std::string stats_text(const Snapshot& s) {
    std::string out;
    const MeterCounters m = s.meter_total();
    const shm::OutputCounters o = s.output_total();
    line(out, "%-36s %20" PRIu64, "packets received", m.packets);
    line(out, "%-36s %20" PRIu64, "  metered", m.metered_packets);
    line(out, "%-36s %20" PRIu64, "  ignored", m.ignored_total());
    for (std::size_t r = 0; r < kIgnoreReasons; ++r)
        if (m.ignored_packets[r] != 0)
            line(out, "    %-32.*s %20" PRIu64, static_cast<int>(kIgnoreReasonNames[r].name.size()),
                 kIgnoreReasonNames[r].name.data(), m.ignored_packets[r]);
    line(out, "%-36s %20" PRIu64, "frame octets received", m.octets);
    line(out, "%-36s %20" PRIu64, "IP octets metered", m.metered_octets);
    line(out, "%-36s %20" PRIu64, "IP octets ignored", m.ignored_ip_octets);
    line(out, "%-36s %20" PRIu64, "flows created", m.flows_created);
    line(out, "%-36s %20" PRIu64, "flows active", m.flows_active);
    line(out, "%-36s %20" PRIu64, "flow records", o.records_sent + o.records_not_sent);
    for (std::size_t r = 1; r < kEndReasons; ++r)
        line(out, "    %-32.*s %20" PRIu64, static_cast<int>(kEndReasonNames[r].size()),
             kEndReasonNames[r].data(), m.flows_ended[r]);
    line(out, "%-36s %20" PRIu64, "evictions", m.evictions);
    line(out, "%-36s %20" PRIu64, "fragments matched", m.fragments_matched);
    line(out, "%-36s %20" PRIu64, "fragments unmatched", m.fragments_unmatched);
    line(out, "%-36s %20" PRIu64, "flows identified", m.flows_identified);
    line(out, "%-36s %20" PRIu64, "application scans", m.application_scans);
    line(out, "%-36s %20" PRIu64, "records into the rings", o.records_sent);
    line(out, "%-36s %20" PRIu64, "records not sent (rings full)", o.records_not_sent);
    line(out, "%-36s %20" PRIu64, "records taken by sluice-control", s.taken.records);
    line(out, "%s", "");
    collectors_table(out, s);
    return out;
}

std::string collectors_text(const Snapshot& s) {
    std::string out;
    collectors_table(out, s);
    return out;
}

std::string top_json(const std::vector<FlowRecord>& flows) {
    JsonWriter j;
    j.begin_object().field("ok", true).key("flows").begin_array();
    for (const FlowRecord& r : flows) j.raw(control::to_json(r));
    j.end_array().end_object();
    return j.text();
}

std::string top_text(const std::vector<FlowRecord>& flows) {
    std::string out;
    line(out, "%-41s %-41s %5s %12s %14s %12s %14s", "SOURCE", "DESTINATION", "PROTO", "PACKETS",
         "OCTETS", "REV PACKETS", "REV OCTETS");
    for (const FlowRecord& r : flows) {
        char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
        const int family = r.ip_version == 6 ? AF_INET6 : AF_INET;
        inet_ntop(family, r.source_address, src, sizeof(src));
        inet_ntop(family, r.destination_address, dst, sizeof(dst));
        const std::string s = (family == AF_INET6 ? "[" + std::string(src) + "]" : src) + ":" +
                              std::to_string(r.source_port);
        const std::string d = (family == AF_INET6 ? "[" + std::string(dst) + "]" : dst) + ":" +
                              std::to_string(r.destination_port);
        line(out, "%-41s %-41s %5u %12" PRIu64 " %14" PRIu64 " %12" PRIu64 " %14" PRIu64, s.c_str(),
             d.c_str(), r.protocol, r.packets, r.octets, r.reverse_packets, r.reverse_octets);
    }
    return out;
}

std::string error_json(const std::string& message) {
    JsonWriter j;
    j.begin_object().field("ok", false).field("error", message).end_object();
    return j.text();
}

std::string status_json(const Snapshot& s) {
    JsonWriter j;
    j.begin_object().field("ok", true).key("status").begin_object();
    process_fields(j, s);
    j.key("rates").begin_object();
    j.field("packets_per_second", s.packets_per_second);
    j.field("flows_per_second", s.flows_per_second);
    j.end_object();
    object_array(j, "ports", s.ports, port_fields);
    object_array(j, "workers", s.workers, [](JsonWriter& o, const WorkerSnapshot& w) {
        o.field("id", w.id).field("port", w.port).field("queue", w.queue).field("cpu", w.cpu);
        o.field("state", w.state).field("config_generation", w.config_generation);
        o.field("packets", w.meter.packets);
        o.field("flows_active", w.meter.flows_active);
        o.field("ring_used", w.output.ring_used).field("ring_capacity", w.output.ring_capacity);
    });
    object_array(j, "collectors", s.collectors, [](JsonWriter& o, const CollectorSnapshot& c) {
        o.field("name", c.name).field("destination", c.destination).field("state", c.state);
    });
    j.end_object().end_object();
    return j.text();
}

std::string stats_json(const Snapshot& s) {
    JsonWriter j;
    j.begin_object().field("ok", true).key("stats").begin_object();
    process_fields(j, s);
    j.key("total").begin_object();
    meter_fields(j, s.meter_total());
    output_fields(j, s.output_total());
    j.end_object();
    j.key("taken").begin_object();
    j.field("records", s.taken.records).field("packets", s.taken.packets);
    j.field("octets", s.taken.octets);
    j.end_object();
    object_array(j, "ports", s.ports, port_fields);
    object_array(j, "workers", s.workers, [](JsonWriter& o, const WorkerSnapshot& w) {
        o.field("id", w.id).field("port", w.port).field("queue", w.queue);
        o.field("lcore", w.lcore).field("cpu", w.cpu).field("state", w.state);
        o.field("config_generation", w.config_generation);
        meter_fields(o, w.meter);
        output_fields(o, w.output);
    });
    object_array(j, "collectors", s.collectors, collector_fields);
    j.end_object().end_object();
    return j.text();
}

std::string collectors_json(const Snapshot& s) {
    JsonWriter j;
    j.begin_object().field("ok", true);
    object_array(j, "collectors", s.collectors, collector_fields);
    j.end_object();
    return j.text();
}

std::string prometheus_text(const Snapshot& s) {
    std::string out;
    Family(out, "sluice_info", "gauge", "The running Sluice: version, sensor and file prefix.")
        .sample(label("version", s.version) + "," + label("sensor", s.sensor) + "," +
                    label("file_prefix", s.file_prefix),
                std::uint64_t{1});
    Family(out, "sluice_dataplane_start_time_seconds", "gauge",
           "When sluice-dataplane started, seconds since the Unix epoch.")
        .sample("", seconds(s.dataplane_start_ns));
    Family(out, "sluice_control_start_time_seconds", "gauge",
           "When sluice-control started, seconds since the Unix epoch.")
        .sample("", seconds(s.control_start_ns));

    auto port_family = [&](const char* name, const char* type, const char* help, auto get) {
        Family f(out, name, type, help);
        for (const auto& p : s.ports)
            f.sample(label("port", std::to_string(p.id)) + "," + label("device", p.device),
                     get(p.counters));
    };
    port_family("sluice_port_received_packets_total", "counter",
                "Packets the port received (rte_eth_stats ipackets).",
                [](const shm::PortCounters& c) { return c.ipackets; });
    port_family("sluice_port_received_bytes_total", "counter",
                "Bytes the port received (rte_eth_stats ibytes).",
                [](const shm::PortCounters& c) { return c.ibytes; });
    port_family("sluice_port_missed_packets_total", "counter",
                "Packets the NIC dropped for want of a free descriptor: the workers fell behind.",
                [](const shm::PortCounters& c) { return c.imissed; });
    port_family("sluice_port_errors_total", "counter", "Erroneous frames the port received.",
                [](const shm::PortCounters& c) { return c.ierrors; });
    port_family("sluice_port_no_mbuf_total", "counter",
                "Receive attempts that found no packet buffer.",
                [](const shm::PortCounters& c) { return c.rx_nombuf; });
    port_family("sluice_port_link_up", "gauge", "1 when the port's link is up.",
                [](const shm::PortCounters& c) { return c.link_up; });
    port_family("sluice_port_link_speed_bytes_per_second", "gauge", "The link's speed.",
                [](const shm::PortCounters& c) { return c.link_speed_mbps * 125'000; });

    for (const auto& m : kMeterMetrics) {
        Family f(out, m.name, m.type, m.help);
        for (const auto& w : s.workers) f.sample(worker_labels(w), w.meter.*m.field);
    }
    for (const auto& m : kOutputMetrics) {
        Family f(out, m.name, m.type, m.help);
        for (const auto& w : s.workers) f.sample(worker_labels(w), w.output.*m.field);
    }
    // The counters by reason: one family each, the reason as a label.
    auto by_reason = [&](const char* name, const char* help, std::size_t from, std::size_t to,
                         auto reason, auto value) {
        Family f(out, name, "counter", help);
        for (const auto& w : s.workers)
            for (std::size_t r = from; r < to; ++r)
                f.sample(worker_labels(w) + "," + label("reason", std::string(reason(r))),
                         value(w.meter, r));
    };
    auto ignore_reason = [](std::size_t r) { return kIgnoreReasonNames[r].name; };
    by_reason("sluice_worker_ignored_packets_total",
              "Packets not metered, by reason (see docs/metering.md).", 0, kIgnoreReasons,
              ignore_reason,
              [](const MeterCounters& m, std::size_t r) { return m.ignored_packets[r]; });
    by_reason("sluice_worker_ignored_bytes_total",
              "Frame bytes of the packets not metered, by reason.", 0, kIgnoreReasons,
              ignore_reason,
              [](const MeterCounters& m, std::size_t r) { return m.ignored_octets[r]; });
    by_reason(
        "sluice_worker_flows_ended_total", "Flow records made, by flowEndReason.", 1, kEndReasons,
        [](std::size_t r) { return kEndReasonNames[r]; },
        [](const MeterCounters& m, std::size_t r) { return m.flows_ended[r]; });

    Family(out, "sluice_control_records_taken_total", "counter",
           "Records sluice-control took from the rings since it started.")
        .sample("", s.taken.records);
    for (const auto& m : kCollectorMetrics) {
        Family f(out, m.name, m.type, m.help);
        for (const auto& c : s.collectors)
            f.sample(label("collector", c.name), c.counters.*m.field);
    }
    Family up(out, "sluice_collector_up", "gauge", "1 when the collector is being sent records.");
    for (const auto& c : s.collectors)
        up.sample(label("collector", c.name) + "," + label("destination", c.destination),
                  std::uint64_t{c.state == "up"});
    return out;
}

}  // namespace sluice::ops
