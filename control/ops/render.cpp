// A snapshot as the control socket's JSON replies and as Prometheus text.
#include "control/ops/render.hpp"

#include <arpa/inet.h>

#include <array>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "control/export/spool.hpp"
#include "control/ops/json.hpp"
#include "shared/records/record_json.hpp"
#include "sluice/metadata.hpp"

namespace sluice::ops {
namespace {

double seconds(std::uint64_t ns) {
    return static_cast<double>(ns) / 1e9;
}

// A counter struct's fields, in its catalog's order; a counter by reason as an object.
template <typename S>
void counter_fields(JsonWriter& j, const S& s) {
    S::catalog([&](const auto& c) {
        if constexpr (kIsReasonCounter<std::decay_t<decltype(c)>>) {
            j.key(c.info.name).begin_object();
            for (std::size_t r = c.first; r < c.reasons->size(); ++r)
                j.field((*c.reasons)[r].name, (s.*c.member)[r]);
            j.end_object();
        } else if (c.info.kind == CounterKind::flag) {
            j.field(c.info.name, s.*c.member != 0);
        } else {
            j.field(c.info.name, s.*c.member);
        }
    });
}

void collector_fields(JsonWriter& j, const CollectorSnapshot& c) {
    j.field("name", c.name).field("destination", c.destination).field("state", c.state);
    j.field("last_error", c.last_error);
    counter_fields(j, c.counters);
}

void port_fields(JsonWriter& j, const PortSnapshot& p) {
    j.field("id", p.id).field("device", p.device).field("rx_queues", p.rx_queues);
    counter_fields(j, p.counters);
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
    Family(std::string& out, std::string_view name, std::string_view type, std::string_view help)
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
    std::string_view name_;
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

// A counter's value as Prometheus has it: seconds for times, bytes per second for speeds.
double metric_value(CounterKind kind, std::uint64_t v) {
    if (kind == CounterKind::time_ns) return static_cast<double>(v) / 1e9;
    if (kind == CounterKind::mbps) return static_cast<double>(v) * 125'000;
    return static_cast<double>(v);
}

// One family per counter of S, a sample per item: `counters(item)` is its S, `labels(item)` its
// labels. A counter by reason is one family with the reason as a label.
template <typename S, typename Items, typename Counters, typename Labels>
void metric_families(std::string& out, const Items& items, Counters counters, Labels labels) {
    S::catalog([&](const auto& c) {
        const bool counter = c.info.kind == CounterKind::counter;
        Family f(out, c.info.metric, counter ? "counter" : "gauge", c.info.help);
        for (const auto& item : items) {
            const S& s = counters(item);
            if constexpr (kIsReasonCounter<std::decay_t<decltype(c)>>) {
                for (std::size_t r = c.first; r < c.reasons->size(); ++r)
                    f.sample(
                        labels(item) + "," + label("reason", std::string((*c.reasons)[r].name)),
                        (s.*c.member)[r]);
            } else if (counter || c.info.kind == CounterKind::gauge ||
                       c.info.kind == CounterKind::flag) {
                f.sample(labels(item), s.*c.member);
            } else {
                f.sample(labels(item), metric_value(c.info.kind, s.*c.member));
            }
        }
    });
}

// A counter struct as lines of `sluicectl stats`: a counter by reason as its sum, then the
// reasons that counted anything.
template <typename S>
void counter_lines(std::string& out, const S& s, const char* indent) {
    S::catalog([&](const auto& c) {
        const int width = 36 - static_cast<int>(std::strlen(indent));
        if constexpr (kIsReasonCounter<std::decay_t<decltype(c)>>) {
            std::uint64_t sum = 0;
            for (std::size_t r = c.first; r < c.reasons->size(); ++r) sum += (s.*c.member)[r];
            line(out, "%s%-*.*s %20" PRIu64, indent, width, static_cast<int>(c.info.text.size()),
                 c.info.text.data(), sum);
            for (std::size_t r = c.first; r < c.reasons->size(); ++r)
                if ((s.*c.member)[r] != 0)
                    line(out, "%s    %-*.*s %20" PRIu64, indent, width - 4,
                         static_cast<int>((*c.reasons)[r].name.size()), (*c.reasons)[r].name.data(),
                         (s.*c.member)[r]);
        } else {
            line(out, "%s%-*.*s %20" PRIu64, indent, width, static_cast<int>(c.info.text.size()),
                 c.info.text.data(), s.*c.member);
        }
    });
}

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
    counter_lines(out, s.meter_total(), "");
    counter_lines(out, s.output_total(), "");
    counter_lines(out, s.taken, "");
    for (const auto& p : s.ports) {
        line(out, "%s", "");
        line(out, "port %u (%s)", p.id, p.device.c_str());
        counter_lines(out, p.counters, "  ");
    }
    for (const auto& c : s.collectors) {
        line(out, "%s", "");
        line(out, "collector \"%s\" (%s)", c.name.c_str(), c.destination.c_str());
        counter_lines(out, c.counters, "  ");
    }
    line(out, "%s", "");
    collectors_table(out, s);
    return out;
}

std::string collectors_text(const Snapshot& s) {
    std::string out;
    collectors_table(out, s);
    return out;
}

std::string spool_text(const Snapshot& s) {
    std::string out;
    line(out, "%-20s %12s %12s %-20s %12s %10s  %s", "COLLECTOR", "RECORDS", "BYTES",
         "OLDEST RECORD", "REPLAYED", "REPLAY/S", "SPOOL");
    bool any = false;
    for (const auto& c : s.collectors) {
        if (c.spool.empty()) continue;
        any = true;
        char oldest[32] = "-";
        if (c.counters.spool_oldest_ns != 0) {
            const std::time_t t =
                static_cast<std::time_t>(c.counters.spool_oldest_ns / 1'000'000'000);
            std::tm tm{};
            gmtime_r(&t, &tm);
            std::strftime(oldest, sizeof(oldest), "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        line(out, "%-20s %12" PRIu64 " %12" PRIu64 " %-20s %12" PRIu64 " %10.0f  %s",
             c.name.c_str(), c.counters.spool_records, c.counters.spool_bytes, oldest,
             c.counters.spool_replayed, c.spool_replayed_per_second, c.spool.c_str());
    }
    if (!any) line(out, "%s", "no collector has a spool (docs/export.md: spool)");
    return out;
}

std::string spool_json(const Snapshot& s) {
    JsonWriter j;
    j.begin_object().field("ok", true).key("collectors").begin_array();
    for (const auto& c : s.collectors) {
        if (c.spool.empty()) continue;
        const control::SessionCounters& n = c.counters;
        j.begin_object().field("name", c.name).field("spool", c.spool);
        j.field("records", n.spool_records).field("packets", n.spool_packets);
        j.field("ip_octets", n.spool_octets).field("bytes", n.spool_bytes);
        j.field("oldest_record_ns", n.spool_oldest_ns).field("replayed", n.spool_replayed);
        j.field("replayed_per_second", c.spool_replayed_per_second);
        j.field("damaged", n.spool_damaged).field("write_failures", n.spool_write_failures);
        j.field("earlier_records", n.spool_start_records);
        j.end_object();
    }
    j.end_array().end_object();
    return j.text();
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
    counter_fields(j, s.meter_total());
    counter_fields(j, s.output_total());
    j.end_object();
    j.key("taken").begin_object();
    counter_fields(j, s.taken);
    j.end_object();
    object_array(j, "ports", s.ports, port_fields);
    object_array(j, "workers", s.workers, [](JsonWriter& o, const WorkerSnapshot& w) {
        o.field("id", w.id).field("port", w.port).field("queue", w.queue);
        o.field("lcore", w.lcore).field("cpu", w.cpu).field("state", w.state);
        o.field("config_generation", w.config_generation);
        counter_fields(o, w.meter);
        counter_fields(o, w.output);
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

    metric_families<PortCounters>(
        out, s.ports, [](const PortSnapshot& p) -> const PortCounters& { return p.counters; },
        [](const PortSnapshot& p) {
            return label("port", std::to_string(p.id)) + "," + label("device", p.device);
        });
    metric_families<MeterCounters>(
        out, s.workers, [](const WorkerSnapshot& w) -> const MeterCounters& { return w.meter; },
        worker_labels);
    metric_families<OutputCounters>(
        out, s.workers, [](const WorkerSnapshot& w) -> const OutputCounters& { return w.output; },
        worker_labels);
    const Taken* taken[] = {&s.taken};
    metric_families<Taken>(
        out, taken, [](const Taken* t) -> const Taken& { return *t; },
        [](const Taken*) { return std::string(); });
    metric_families<SessionCounters>(
        out, s.collectors,
        [](const CollectorSnapshot& c) -> const SessionCounters& { return c.counters; },
        [](const CollectorSnapshot& c) { return label("collector", c.name); });
    Family up(out, "sluice_collector_up", "gauge", "1 when the collector is being sent records.");
    for (const auto& c : s.collectors)
        up.sample(label("collector", c.name) + "," + label("destination", c.destination),
                  std::uint64_t{c.state == "up"});
    return out;
}

void print_records(std::span<const FlowRecord> slots) {
    std::array<std::uint8_t, kMaxMetadataBytes> metadata;
    for (std::size_t i = 0, k; i < slots.size(); i += k) {
        k = control::unit_length(slots.subspan(i));
        if (is_extension(slots[i])) continue;
        const std::size_t bytes = gather_extensions(slots.subspan(i + 1, k - 1), metadata);
        std::printf("%s\n", control::to_json(slots[i], {metadata.data(), bytes}).c_str());
    }
}

}  // namespace sluice::ops
