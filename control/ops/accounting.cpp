// The accounting of a run, from one snapshot: the reliability statistics the collectors get, the
// lines the control logs when it stops, and the same as JSON (--summary).
#include "control/ops/accounting.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "control/ops/json.hpp"
#include "sluice/log.hpp"

namespace sluice::ops {
namespace {

// What one collector's statistics say was not sent: the dataplane's and its own.
struct NotSent {
    std::uint64_t records, packets, octets;
};

NotSent not_sent(const shm::OutputCounters& o, const control::SessionCounters& n) {
    return {o.records_not_sent + n.records_not_sent, o.packets_not_sent + n.packets_not_sent,
            o.octets_not_sent + n.octets_not_sent};
}

// The identity a collector can check: every packet received is in a record it was sent,
// ignored, sampled out, or not sent; every IP octet metered is in a record it was sent, or not
// sent. With a spool, what an earlier run left there joins the received, and what waits there
// for the next run joins the sent.
bool balanced(const MeterCounters& m, const control::SessionCounters& n, const NotSent& lost) {
    return m.packets + n.spool_start_packets == n.packets_sent + m.ignored_total() +
                                                    m.sampled_out_packets + lost.packets +
                                                    n.spool_packets &&
           m.metered_octets + n.spool_start_octets == n.octets_sent + lost.octets + n.spool_octets;
}

void spool_fields(JsonWriter& j, const control::SessionCounters& n) {
    j.key("spooled").begin_object();
    j.field("records", n.spool_records).field("packets", n.spool_packets);
    j.field("ip_octets", n.spool_octets).end_object();
    j.key("spooled_before").begin_object();
    j.field("records", n.spool_start_records).field("packets", n.spool_start_packets);
    j.field("ip_octets", n.spool_start_octets).end_object();
}

// A configured collector: one session, or a group's members with their counters summed.
struct Configured {
    std::string name, destination, state;
    control::SessionCounters counters;
    std::vector<const CollectorSnapshot*> members;  // a group's; empty for one collector
};

void exported_fields(JsonWriter& j, const control::SessionCounters& n) {
    j.key("exported").begin_object();
    j.field("records", n.records_sent).field("packets", n.packets_sent);
    j.field("ip_octets", n.octets_sent).field("messages", n.messages_sent).end_object();
}

std::vector<Configured> configured(const Snapshot& s) {
    std::vector<Configured> all;
    for (const CollectorSnapshot& c : s.collectors) {
        if (c.group.empty() || all.empty() || all.back().members.empty() ||
            all.back().name != c.group) {
            all.push_back({c.group.empty() ? c.name : c.group, c.destination, c.state, {}, {}});
            if (!c.group.empty()) all.back().destination = "group";
        }
        Configured& x = all.back();
        x.counters += c.counters;
        if (c.group.empty()) continue;
        x.members.push_back(&c);
        x.destination += (x.members.size() == 1 ? " " : ", ") + c.destination;
        if (c.state == "up") x.state = "up";  // a group is up while one member is
    }
    return all;
}

}  // namespace

control::Reliability reliability(const Snapshot& s) {
    const MeterCounters m = s.meter_total();
    const shm::OutputCounters o = s.output_total();
    control::Reliability r;
    r.packets = m.packets;
    r.frame_octets = m.octets;
    r.metered_octets = m.metered_octets;
    r.ignored_packets = m.ignored_total();
    r.ignored_octets = m.ignored_ip_octets;
    r.ignored_frame_octets = m.ignored_octets_total();
    r.records_not_sent = o.records_not_sent;
    r.packets_not_sent = o.packets_not_sent;
    r.octets_not_sent = o.octets_not_sent;
    r.since_ns = s.dataplane_start_ns;
    r.until_ns = s.time_ns;
    for (const auto& w : s.workers)  // every port samples alike (the configuration says so)
        if (w.sampling > 1) {
            r.sampling = w.sampling;
            r.sampling_deterministic = w.sampling_deterministic;
        }
    r.sampling_observed = m.metered_packets + m.sampled_out_packets;
    r.sampling_selected = m.metered_packets;
    return r;
}

// " + N sampled out" in the accounting lines, when [[port]] sampling left packets out.
std::string sampled_out_text(const MeterCounters& m) {
    return m.sampled_out_packets == 0
               ? std::string()
               : " + " + std::to_string(m.sampled_out_packets) + " sampled out";
}

void log_accounting(const Snapshot& s) {
    const MeterCounters m = s.meter_total();
    const shm::OutputCounters o = s.output_total();
    const std::string sampled_out = sampled_out_text(m);
    for (const auto& w : s.workers)
        SLUICE_INFO("worker %u (port %u queue %u): %" PRIu64 " packets, %" PRIu64 " flows", w.id,
                    w.port, w.queue, w.meter.packets, w.meter.flows_created);
    SLUICE_INFO("accounting: %" PRIu64 " packets received = %" PRIu64 " in %" PRIu64
                " records taken %s + %" PRIu64 " ignored%s + %" PRIu64 " in %" PRIu64
                " records not sent by the %s; %" PRIu64 " frame octets received, %" PRIu64
                " IP octets metered",
                m.packets, s.taken.packets, s.taken.records,
                s.one_process ? "for export" : "by sluice-control", m.ignored_total(),
                sampled_out.c_str(), o.packets_not_sent, o.records_not_sent,
                s.one_process ? "metering threads" : "dataplane", m.octets, m.metered_octets);
    std::string reasons;
    for (std::size_t r = 0; r < kIgnoreReasons; ++r)
        if (m.ignored_packets[r] != 0)
            reasons += (reasons.empty() ? "" : ", ") + std::string(kIgnoreReasonNames[r].name) +
                       " " + std::to_string(m.ignored_packets[r]);
    SLUICE_INFO("ignored by reason: %s; %" PRIu64 " flows evicted for lack of room; %" PRIu64
                " fragments given their first's ports, %" PRIu64 " metered with ports 0",
                reasons.empty() ? "none" : reasons.c_str(), m.evictions, m.fragments_matched,
                m.fragments_unmatched);
    for (const Configured& c : configured(s)) {
        const control::SessionCounters& n = c.counters;
        const NotSent lost = not_sent(o, n);
        SLUICE_INFO("accounting for collector \"%s\" (%s): %" PRIu64 " packets received = %" PRIu64
                    " in %" PRIu64 " records exported + %" PRIu64 " ignored%s + %" PRIu64
                    " in %" PRIu64 " records not sent; %" PRIu64 " of %" PRIu64
                    " metered octets exported; %" PRIu64 " messages",
                    c.name.c_str(), c.destination.c_str(), m.packets, n.packets_sent,
                    n.records_sent, m.ignored_total(), sampled_out.c_str(), lost.packets,
                    lost.records, n.octets_sent, m.metered_octets, n.messages_sent);
        if (n.spool_records != 0 || n.spool_start_records != 0)
            SLUICE_INFO("  spool: %" PRIu64 " packets in %" PRIu64
                        " records of earlier runs "
                        "joined the exported; %" PRIu64 " packets in %" PRIu64
                        " records wait there for the next run",
                        n.spool_start_packets, n.spool_start_records, n.spool_packets,
                        n.spool_records);
        for (const CollectorSnapshot* member : c.members) {
            const control::SessionCounters& k = member->counters;
            SLUICE_INFO(
                "  member \"%s\" (%s): %" PRIu64 " records (%" PRIu64 " packets) exported, %" PRIu64
                " not sent, %" PRIu64 " sent again, %" PRIu64 " handed over",
                member->name.c_str(), member->destination.c_str(), k.records_sent, k.packets_sent,
                k.records_not_sent, k.records_resent, k.records_handed_over);
        }
    }
}

std::string summary_json(const Snapshot& s) {
    const MeterCounters m = s.meter_total();
    const shm::OutputCounters o = s.output_total();
    JsonWriter j;
    j.begin_object();
    j.field("sensor", s.sensor).field("version", s.version);
    j.field("since_ns", s.dataplane_start_ns).field("until_ns", s.time_ns);
    j.key("received").begin_object();
    j.field("packets", m.packets).field("frame_octets", m.octets).end_object();
    j.key("metered").begin_object();
    j.field("packets", m.metered_packets).field("ip_octets", m.metered_octets).end_object();
    j.key("ignored").begin_object();
    j.field("packets", m.ignored_total()).field("ip_octets", m.ignored_ip_octets);
    j.field("frame_octets", m.ignored_octets_total());
    j.key("by_reason").begin_object();
    for (std::size_t r = 0; r < kIgnoreReasons; ++r) {
        j.key(kIgnoreReasonNames[r].name).begin_object();
        j.field("packets", m.ignored_packets[r]).field("frame_octets", m.ignored_octets[r]);
        j.end_object();
    }
    j.end_object().end_object();
    j.key("sampled_out").begin_object();
    j.field("packets", m.sampled_out_packets).field("ip_octets", m.sampled_out_ip_octets);
    j.field("frame_octets", m.sampled_out_octets).end_object();
    j.key("flows").begin_object();
    j.field("created", m.flows_created).field("evicted", m.evictions);
    j.key("records_by_end_reason").begin_object();
    for (std::size_t r = 1; r < kEndReasons; ++r)
        j.field(kEndReasonNames[r].name, m.flows_ended[r]);
    j.end_object().end_object();
    j.key("fragments").begin_object();
    j.field("matched", m.fragments_matched).field("unmatched", m.fragments_unmatched);
    j.end_object();
    j.key("workers").begin_array();
    for (const auto& w : s.workers) {
        j.begin_object().field("id", w.id).field("port", w.port).field("queue", w.queue);
        j.field("packets", w.meter.packets).field("flows_created", w.meter.flows_created);
        j.end_object();
    }
    j.end_array();
    j.key("taken").begin_object();
    j.field("records", s.taken.records).field("packets", s.taken.packets);
    j.field("ip_octets", s.taken.octets).end_object();
    j.key("dataplane_not_sent").begin_object();
    j.field("records", o.records_not_sent).field("packets", o.packets_not_sent);
    j.field("ip_octets", o.octets_not_sent).end_object();
    j.key("collectors").begin_array();
    for (const Configured& c : configured(s)) {
        const control::SessionCounters& n = c.counters;
        const NotSent lost = not_sent(o, n);
        j.begin_object();
        j.field("name", c.name).field("destination", c.destination).field("state", c.state);
        exported_fields(j, n);
        j.key("not_sent").begin_object();
        j.field("records", lost.records).field("packets", lost.packets);
        j.field("ip_octets", lost.octets).end_object();
        spool_fields(j, n);
        // Records that may have reached the collector twice (see records_resent).
        j.field("resent", n.records_resent);
        j.field("balanced", balanced(m, n, lost));
        if (!c.members.empty()) {
            // Each member's own: what the dataplane did not send is the group's.
            j.key("members").begin_array();
            for (const CollectorSnapshot* member : c.members) {
                const control::SessionCounters& k = member->counters;
                j.begin_object().field("name", member->name);
                j.field("destination", member->destination).field("state", member->state);
                exported_fields(j, k);
                j.key("not_sent").begin_object();
                j.field("records", k.records_not_sent).field("packets", k.packets_not_sent);
                j.field("ip_octets", k.octets_not_sent).end_object();
                j.field("resent", k.records_resent).field("handed_over", k.records_handed_over);
                j.end_object();
            }
            j.end_array();
        }
        j.end_object();
    }
    j.end_array();
    return j.end_object().text();
}

bool write_summary(const std::string& path, const Snapshot& s, std::string& error) {
    // Written beside the file and renamed over it: a reader never sees half a summary.
    const std::string temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << summary_json(s) << '\n';
        if (!out.flush()) {
            error = "cannot write " + temporary + ": " + std::strerror(errno);
            return false;
        }
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) {
        error = "cannot rename " + temporary + " to " + path + ": " + ec.message();
        return false;
    }
    return true;
}

}  // namespace sluice::ops
