// IPFIX (RFC 7011) messages of flow records: template sets and data sets of biflows (RFC 5103),
// and the options records of the reliability statistics (RFC 7011 section 4).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "control/ipfix/elements.hpp"
#include "sluice/config.hpp"
#include "sluice/record.hpp"

namespace sluice::ipfix {

enum class TimePrecision { milliseconds, nanoseconds };

// A template: its id, its fields in order, and how many of the first fields are the scope of
// an options template (0: a data template).
struct Template {
    std::uint16_t id;
    std::span<const Element> fields;
    std::uint16_t scope_fields = 0;

    std::size_t record_length() const;
    bool is_options() const { return scope_fields != 0; }
};

using config::Records;

// The flow templates for IPv4 and IPv6 records, in the chosen precision and shape; with
// `direction` (a sensor with local networks), flowDirection last.
const Template& flow_template(int ip_version, TimePrecision precision,
                              Records shape = Records::biflow, bool direction = false);

// The data templates a session announces for the precision and shape, IPv4 then IPv6.
std::span<const Template* const> flow_templates(TimePrecision precision,
                                                Records shape = Records::biflow,
                                                bool direction = false);

// The flow templates of records with metadata (sluice/metadata.hpp): a base template's fields,
// then those of one application-layer group, those of tcp_health, the tunnel's, or several;
// ids from 272 (from 432 with `direction`'s flowDirection). The ones a collector that takes
// `groups` (MetadataGroup bits) uses, IPv4 and IPv6.
std::vector<const Template*> metadata_templates(TimePrecision precision, Records shape,
                                                std::uint8_t groups, bool direction = false);

// Information Element type records (RFC 5610) of Sluice's own elements, scoped by
// informationElementId and privateEnterpriseNumber: a collector learns their names and types.
extern const Template kElementTypes;

// A biflow as uniflow records, one per direction that saw packets, into `out`; how many. The
// responder's record has the addresses and ports the other way round and its own counters,
// times, TCP flags and TTLs; both keep the end reason and the application. (An ICMP reply's
// type and code are not kept apart from the request's: its destination port is 0.)
unsigned to_uniflow(const FlowRecord& biflow, FlowRecord (&out)[2]);

// Metering Process Reliability Statistics (RFC 7011 section 4.2), scoped by
// observationDomainId: the packets received (packetTotalCount) with their link-layer octets
// (layer2OctetTotalCount), the IP octets of those metered (octetTotalCount), the packets
// ignored with their IP octets (ignoredOctetTotalCount) and link-layer octets
// (ignoredLayer2OctetTotalCount), and the time window the totals cover.
extern const Template kMeteringStatistics;
// Exporting Process Reliability Statistics (RFC 7011 section 4.3), scoped by
// exportingProcessId: flows, packets and octets not sent, and the time window.
extern const Template kExportingStatistics;

// The application names (RFC 6759 section 5): scoped by applicationId, applicationName and
// applicationDescription, strings of variable length; collectors show names from them.
extern const Template kApplicationNames;

// [[port]] sampling (PSAMP, RFC 5476 and 5477), scoped by observationDomainId: the selector's
// algorithm, 1 systematic count-based (the first packet of each N) or 3 random n-out-of-N
// (one at random in each N), its parameters (interval 1 and space N - 1; size 1 and
// population N; the random one carries interval and space too, which is what nfdump and
// pmacct scale by), the rate as samplingInterval (IE 34, which older collectors read), and
// the packets it chose among and those it chose. Collectors scale the records' counts by N.
extern const Template kSystematicSampling;
extern const Template kRandomSampling;

// The observation domain's name (RFC 7011's observationDomainName, IE 300), scoped by
// observationDomainId: the sensor's [sensor] name.
extern const Template kDomainName;

// The interfaces' names (RFC 7011's interfaceName and interfaceDescription), scoped by
// ingressInterface: collectors show the ports by name.
extern const Template kInterfaceNames;

// ingressInterface of the records by DPDK port id: [[port]] if_index, by default the port id.
inline constexpr std::size_t kMaxInterfaces = 32;
using InterfaceIndexes = std::array<std::uint32_t, kMaxInterfaces>;
InterfaceIndexes identity_interfaces();

// applicationId (RFC 6759): a classification engine id and a 24-bit selector. Sluice's ids
// are its own registry of layer-7 applications, engine PANA-L7 (13); 0 ("not identified")
// is sent as engine 0, which RFC 6759 reserves as invalid.
inline constexpr std::uint8_t kApplicationEngine = 13;
std::uint32_t application_id(std::uint32_t id);

// The data template a flow record goes out in: its id, and the length every record of it has
// (0 when a field of it has a variable length). Full messages of one such template are all of
// one length, as a batch that UDP segmentation cuts into datagrams must be.
struct DataTemplate {
    std::uint16_t id = 0;
    std::size_t length = 0;
};

// Builds one message at a time into a buffer of at most `max_size` bytes.
class MessageBuilder {
public:
    static constexpr std::size_t kHeaderSize = 16;
    static constexpr std::size_t kMaxSize = 65535;  // the header's 16-bit length

    // Flow records are added as `shape` says: biflows, or uniflow records (to_uniflow's), with
    // the metadata of `groups` (MetadataGroup bits) they have.
    MessageBuilder(std::uint32_t observation_domain, std::size_t max_size,
                   TimePrecision precision = TimePrecision::milliseconds,
                   Records shape = Records::biflow, std::uint8_t groups = 0);

    // Starts a message whose sequence number is the count of data records sent before it in
    // the session, modulo 2^32 (RFC 7011 section 3.1).
    void begin(std::uint32_t sequence);

    // One template set for data templates and one options template set for options
    // templates; false when they do not fit.
    bool add_templates(std::span<const Template* const> templates);

    // A data record, in the data set of its template; false when it does not fit. With
    // `metadata` (its extensions' bytes), the fields of the groups it has that this builder
    // takes, in the template of those groups.
    bool add(const FlowRecord& record, std::span<const std::uint8_t> metadata = {});
    // The data template add() puts `record` in, with metadata or without.
    DataTemplate data_template(const FlowRecord& record, bool with_metadata) const {
        const std::uint8_t groups = record.metadata_groups & groups_;
        if (groups == 0 || !with_metadata) [[likely]]
            return base_[record.ip_version == 6];
        return metadata_template(record.ip_version, groups);
    }

    // An options (or any) record of `t` whose fields are unsigned numbers, in order.
    bool add(const Template& t, std::span<const std::uint64_t> values);

    // A record of kApplicationNames: `id` as the data records carry it (application_id()).
    bool add_application(std::uint32_t id, std::string_view name, std::string_view description);

    // A record of kDomainName.
    bool add_domain_name(std::uint32_t domain, std::string_view name);

    // A record of kInterfaceNames.
    bool add_interface(std::uint32_t if_index, std::string_view name, std::string_view description);

    // A record of kElementTypes.
    bool add_element_type(const OwnElement& e);

    // What the records' ingressInterface is, by their ingress port.
    void set_interfaces(const InterfaceIndexes& indexes) { if_index_ = indexes; }

    // The local networks ([sensor] local_networks): when there are any, flow records carry
    // flowDirection (the templates flow_template(..., true) and metadata_templates(..., true)).
    void set_local_networks(std::vector<config::Network> networks) {
        networks_ = std::move(networks);
        find_bases();
    }

    // Ends the message with its export time, seconds since the epoch: its bytes, valid until
    // the next begin().
    std::span<const std::uint8_t> finish(std::uint32_t export_time);

    std::uint32_t data_records() const { return records_; }
    // What the message adds to the session's sequence number: its data records.
    std::uint32_t sequence_step() const { return records_; }
    bool empty() const { return size_ == kHeaderSize; }
    std::size_t size() const { return size_; }
    std::size_t max_size() const { return max_size_; }

private:
    bool open_set(std::uint16_t set_id, std::size_t record_length);
    void encode_base(std::size_t index, std::uint8_t* p, const FlowRecord& r) const;
    void find_bases();
    DataTemplate metadata_template(int ip_version, std::uint8_t groups) const;
    bool add_with_metadata(const FlowRecord& r, std::span<const std::uint8_t> metadata,
                           std::uint8_t groups);
    // A record of `t`: a 4-byte scope, then strings of variable length.
    bool add_named(const Template& t, std::uint32_t scope,
                   std::span<const std::string_view> strings);
    void close_set();

    std::uint32_t domain_;
    std::size_t max_size_;
    TimePrecision precision_;
    Records shape_;
    std::uint8_t groups_;
    std::vector<std::uint8_t> buffer_;
    std::size_t size_ = 0;
    std::size_t set_start_ = 0;  // 0: no set open
    std::uint16_t set_id_ = 0;
    std::uint32_t records_ = 0;
    InterfaceIndexes if_index_ = identity_interfaces();
    std::vector<config::Network> networks_;
    std::array<DataTemplate, 2> base_;  // of IPv4 and IPv6 records without metadata
};

// dateTimeNanoseconds: NTP format, seconds since 1900 and a 32-bit binary fraction (RFC 7011).
std::uint64_t ntp_timestamp(std::uint64_t unix_ns);

}  // namespace sluice::ipfix
