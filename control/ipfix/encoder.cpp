// IPFIX (RFC 7011) messages of flow records: template sets and data sets of biflows (RFC 5103),
// and the options records of the reliability statistics (RFC 7011 section 4).
#include "control/ipfix/encoder.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <utility>

#include "sluice/big_endian.hpp"
#include "sluice/metadata.hpp"

namespace sluice::ipfix {
namespace {

constexpr std::uint16_t kVersion = 10;
constexpr std::uint16_t kTemplateSetId = 2;
constexpr std::uint16_t kOptionsTemplateSetId = 3;
constexpr std::uint64_t kNtpEpochOffset = 2'208'988'800;  // 1900 to 1970, in seconds

// Where the value of a biflow template's field comes from.
enum class Source : std::uint8_t {
    source_address,
    destination_address,
    source_port,
    destination_port,
    protocol,
    vlan_id,
    ingress_port,
    octets,
    packets,
    reverse_octets,
    reverse_packets,
    first,
    last,
    reverse_first,
    reverse_last,
    tcp_flags,
    reverse_tcp_flags,
    minimum_ttl,
    maximum_ttl,
    reverse_minimum_ttl,
    reverse_maximum_ttl,
    end_reason,
    application_id,
    biflow_direction,
    unknown,
};

constexpr bool same(const Element& a, const Element& b) {
    return a.id == b.id && a.pen == b.pen;
}

constexpr Source source_of(const Element& e) {
    using enum Source;
    constexpr std::pair<Element, Source> kSources[] = {
        {ie::sourceIPv4Address, source_address},
        {ie::sourceIPv6Address, source_address},
        {ie::destinationIPv4Address, destination_address},
        {ie::destinationIPv6Address, destination_address},
        {ie::sourceTransportPort, source_port},
        {ie::destinationTransportPort, destination_port},
        {ie::protocolIdentifier, protocol},
        {ie::vlanId, vlan_id},
        {ie::ingressInterface, ingress_port},
        {ie::octetDeltaCount, octets},
        {ie::packetDeltaCount, packets},
        {ie::reverseOctetDeltaCount, reverse_octets},
        {ie::reversePacketDeltaCount, reverse_packets},
        {ie::flowStartMilliseconds, first},
        {ie::flowStartNanoseconds, first},
        {ie::flowEndMilliseconds, last},
        {ie::flowEndNanoseconds, last},
        {ie::reverseFlowStartMilliseconds, reverse_first},
        {ie::reverseFlowStartNanoseconds, reverse_first},
        {ie::reverseFlowEndMilliseconds, reverse_last},
        {ie::reverseFlowEndNanoseconds, reverse_last},
        {ie::tcpControlBits, tcp_flags},
        {ie::reverseTcpControlBits, reverse_tcp_flags},
        {ie::minimumTTL, minimum_ttl},
        {ie::maximumTTL, maximum_ttl},
        {ie::reverseMinimumTTL, reverse_minimum_ttl},
        {ie::reverseMaximumTTL, reverse_maximum_ttl},
        {ie::flowEndReason, end_reason},
        {ie::applicationId, application_id},
        {ie::biflowDirection, biflow_direction},
    };
    for (const auto& [element, source] : kSources)
        if (same(element, e)) return source;
    return unknown;
}

// A biflow template and, computed at compile time, where each of its fields comes from.
template <std::size_t N>
struct Biflow {
    std::array<Element, N> fields;
    std::array<Source, N> sources;
    std::size_t length = 0;

    explicit constexpr Biflow(const Element (&f)[N]) : fields(), sources() {
        for (std::size_t i = 0; i < N; ++i) {
            fields[i] = f[i];
            length += f[i].length;
            sources[i] = source_of(f[i]);
            if (sources[i] == Source::unknown) throw "a biflow field without a source";
        }
    }
};

// clang-format off
#define SLUICE_BIFLOW(SRC, DST, START, END, RSTART, REND)                                      \
    {ie::SRC, ie::DST, ie::sourceTransportPort, ie::destinationTransportPort,                 \
     ie::protocolIdentifier, ie::vlanId, ie::ingressInterface, ie::biflowDirection,           \
     ie::octetDeltaCount, ie::packetDeltaCount,                                               \
     ie::reverseOctetDeltaCount, ie::reversePacketDeltaCount,                                 \
     ie::RSTART, ie::REND, ie::START, ie::END, ie::tcpControlBits, ie::reverseTcpControlBits, \
     ie::minimumTTL, ie::maximumTTL, ie::reverseMinimumTTL, ie::reverseMaximumTTL,            \
     ie::flowEndReason, ie::applicationId}
constexpr Element kV4MsFields[] = SLUICE_BIFLOW(sourceIPv4Address, destinationIPv4Address,
    flowStartMilliseconds, flowEndMilliseconds, reverseFlowStartMilliseconds, reverseFlowEndMilliseconds);
constexpr Element kV6MsFields[] = SLUICE_BIFLOW(sourceIPv6Address, destinationIPv6Address,
    flowStartMilliseconds, flowEndMilliseconds, reverseFlowStartMilliseconds, reverseFlowEndMilliseconds);
constexpr Element kV4NsFields[] = SLUICE_BIFLOW(sourceIPv4Address, destinationIPv4Address,
    flowStartNanoseconds, flowEndNanoseconds, reverseFlowStartNanoseconds, reverseFlowEndNanoseconds);
constexpr Element kV6NsFields[] = SLUICE_BIFLOW(sourceIPv6Address, destinationIPv6Address,
    flowStartNanoseconds, flowEndNanoseconds, reverseFlowStartNanoseconds, reverseFlowEndNanoseconds);
#undef SLUICE_BIFLOW
// One direction per record: what collectors that read no reverse elements take.
#define SLUICE_UNIFLOW(SRC, DST, START, END)                                                   \
    {ie::SRC, ie::DST, ie::sourceTransportPort, ie::destinationTransportPort,                 \
     ie::protocolIdentifier, ie::vlanId, ie::ingressInterface,                                \
     ie::octetDeltaCount, ie::packetDeltaCount, ie::START, ie::END, ie::tcpControlBits,       \
     ie::minimumTTL, ie::maximumTTL, ie::flowEndReason, ie::applicationId}
constexpr Element kUniV4MsFields[] = SLUICE_UNIFLOW(sourceIPv4Address, destinationIPv4Address,
    flowStartMilliseconds, flowEndMilliseconds);
constexpr Element kUniV6MsFields[] = SLUICE_UNIFLOW(sourceIPv6Address, destinationIPv6Address,
    flowStartMilliseconds, flowEndMilliseconds);
constexpr Element kUniV4NsFields[] = SLUICE_UNIFLOW(sourceIPv4Address, destinationIPv4Address,
    flowStartNanoseconds, flowEndNanoseconds);
constexpr Element kUniV6NsFields[] = SLUICE_UNIFLOW(sourceIPv6Address, destinationIPv6Address,
    flowStartNanoseconds, flowEndNanoseconds);
#undef SLUICE_UNIFLOW
// The same with flowDirection last, for a sensor with local networks.
#define SLUICE_WITH_DIRECTION(NAME, BASE) \
    constexpr auto NAME = [] { \
        std::array<Element, std::size(BASE) + 1> out{}; \
        for (std::size_t i = 0; i < std::size(BASE); ++i) out[i] = BASE[i]; \
        out.back() = ie::flowDirection; \
        return out; \
    }()
SLUICE_WITH_DIRECTION(kDirV4MsFields, kV4MsFields);
SLUICE_WITH_DIRECTION(kDirV6MsFields, kV6MsFields);
SLUICE_WITH_DIRECTION(kDirV4NsFields, kV4NsFields);
SLUICE_WITH_DIRECTION(kDirV6NsFields, kV6NsFields);
SLUICE_WITH_DIRECTION(kDirUniV4MsFields, kUniV4MsFields);
SLUICE_WITH_DIRECTION(kDirUniV6MsFields, kUniV6MsFields);
SLUICE_WITH_DIRECTION(kDirUniV4NsFields, kUniV4NsFields);
SLUICE_WITH_DIRECTION(kDirUniV6NsFields, kUniV6NsFields);
#undef SLUICE_WITH_DIRECTION
// clang-format on

constexpr Biflow kV4Ms(kV4MsFields), kV6Ms(kV6MsFields), kV4Ns(kV4NsFields), kV6Ns(kV6NsFields);
constexpr Biflow kUniV4Ms(kUniV4MsFields), kUniV6Ms(kUniV6MsFields), kUniV4Ns(kUniV4NsFields),
    kUniV6Ns(kUniV6NsFields);

// Biflow templates 256-259, uniflow 264-267 (260-263 and 268-269 are the options templates
// below); with flowDirection, 592-599 in the same order (after the metadata templates).
constexpr std::size_t kBases = 8;  // those without flowDirection
const Template kTemplates[] = {
    {256, kV4Ms.fields},      {257, kV6Ms.fields},      {258, kV4Ns.fields},
    {259, kV6Ns.fields},      {264, kUniV4Ms.fields},   {265, kUniV6Ms.fields},
    {266, kUniV4Ns.fields},   {267, kUniV6Ns.fields},   {592, kDirV4MsFields},
    {593, kDirV6MsFields},    {594, kDirV4NsFields},    {595, kDirV6NsFields},
    {596, kDirUniV4MsFields}, {597, kDirUniV6MsFields}, {598, kDirUniV4NsFields},
    {599, kDirUniV6NsFields}};
constexpr std::size_t kLengthOf[] = {kV4Ms.length,    kV6Ms.length,    kV4Ns.length,
                                     kV6Ns.length,    kUniV4Ms.length, kUniV6Ms.length,
                                     kUniV4Ns.length, kUniV6Ns.length};
const Template* const kAnnounced[][2] = {
    {&kTemplates[0], &kTemplates[1]},   {&kTemplates[2], &kTemplates[3]},
    {&kTemplates[4], &kTemplates[5]},   {&kTemplates[6], &kTemplates[7]},
    {&kTemplates[8], &kTemplates[9]},   {&kTemplates[10], &kTemplates[11]},
    {&kTemplates[12], &kTemplates[13]}, {&kTemplates[14], &kTemplates[15]}};

constexpr Element kMeteringStatisticsFields[] = {
    ie::observationDomainId,          ie::packetTotalCount,
    ie::layer2OctetTotalCount,        ie::octetTotalCount,
    ie::ignoredPacketTotalCount,      ie::ignoredOctetTotalCount,
    ie::ignoredLayer2OctetTotalCount, ie::observationTimeMilliseconds,
    ie::observationTimeMilliseconds};
constexpr Element kDomainNameFields[] = {ie::observationDomainId, ie::observationDomainName};
// samplingInterval before samplingPacketSpace: nfdump 1.7.1 reads both into one value, the
// last one it meets.
constexpr Element kSystematicSamplingFields[] = {
    ie::observationDomainId,        ie::selectorAlgorithm,   ie::samplingInterval,
    ie::samplingPacketInterval,     ie::samplingPacketSpace, ie::selectorIDTotalPktsObserved,
    ie::selectorIDTotalPktsSelected};
constexpr Element kRandomSamplingFields[] = {
    ie::observationDomainId, ie::selectorAlgorithm,           ie::samplingInterval,
    ie::samplingSize,        ie::samplingPopulation,          ie::samplingPacketInterval,
    ie::samplingPacketSpace, ie::selectorIDTotalPktsObserved, ie::selectorIDTotalPktsSelected};
constexpr Element kApplicationNamesFields[] = {ie::applicationId, ie::applicationName,
                                               ie::applicationDescription};
constexpr Element kInterfaceNamesFields[] = {ie::ingressInterface, ie::interfaceName,
                                             ie::interfaceDescription};
constexpr Element kExportingStatisticsFields[] = {
    ie::exportingProcessId,     ie::notSentFlowTotalCount, ie::notSentPacketTotalCount,
    ie::notSentOctetTotalCount, ie::flowStartMilliseconds, ie::flowEndMilliseconds};

// RFC 5610 section 3.9, as libfixbuf looks for it: its range too (0 and 0: none).
constexpr Element kElementTypesFields[] = {
    ie::privateEnterpriseNumber,      ie::informationElementId,
    ie::informationElementDataType,   ie::informationElementSemantics,
    ie::informationElementUnits,      ie::informationElementRangeBegin,
    ie::informationElementRangeEnd,   ie::informationElementName,
    ie::informationElementDescription};

// A metadata group's fields: each element, and the field it takes its value from.
struct GroupField {
    Element element;
    MetadataField field;
};
constexpr GroupField kTlsFields[] = {
    {ie::sslServerName, MetadataField::tls_server_name},
    {ie::tlsApplicationProtocols, MetadataField::tls_alpn},
    {ie::tlsClientVersion, MetadataField::tls_client_version},
    {ie::tlsServerVersion, MetadataField::tls_server_version},
    {ie::sslServerCipher, MetadataField::tls_cipher},
    {ie::tlsJa3, MetadataField::tls_ja3},
    {ie::tlsJa4, MetadataField::tls_ja4},
};
constexpr GroupField kHttpFields[] = {
    {ie::httpRequestMethod, MetadataField::http_method},
    {ie::httpRequestHost, MetadataField::http_host},
    {ie::httpRequestTarget, MetadataField::http_target},
    {ie::httpUserAgent, MetadataField::http_user_agent},
    {ie::httpStatusCode, MetadataField::http_status},
    {ie::httpRequestCount, MetadataField::http_requests},
};
constexpr GroupField kDnsFields[] = {
    {ie::dnsQName, MetadataField::dns_query_name},
    {ie::dnsQRType, MetadataField::dns_query_type},
    {ie::dnsNXDomain, MetadataField::dns_response_code},
    {ie::dnsAnswerAddresses, MetadataField::dns_answers},
    {ie::dnsQueryCount, MetadataField::dns_queries},
};
// The server name under the same element as TLS's: an analyst's search finds both.
constexpr GroupField kQuicFields[] = {
    {ie::quicVersion, MetadataField::quic_version},
    {ie::sslServerName, MetadataField::quic_server_name},
    {ie::tlsApplicationProtocols, MetadataField::quic_alpn},
    {ie::tlsJa4, MetadataField::quic_ja4},
};
// A biflow's; a uniflow record has its source's alone (the responder's record has them
// renamed, reverse_directions()).
constexpr GroupField kTcpHealthFields[] = {
    {ie::tcpSynToSynAckMicroseconds, MetadataField::tcp_syn_to_synack_us},
    {ie::tcpSynAckToAckMicroseconds, MetadataField::tcp_synack_to_ack_us},
    {ie::tcpRetransmittedPackets, MetadataField::tcp_retransmitted_packets},
    {ie::tcpRetransmittedOctets, MetadataField::tcp_retransmitted_octets},
    {ie::tcpOutOfOrderPackets, MetadataField::tcp_out_of_order},
    {ie::tcpZeroWindowPackets, MetadataField::tcp_zero_windows},
    {ie::tcpLargestGapMicroseconds, MetadataField::tcp_largest_gap_us},
    {ie::reverseTcpRetransmittedPackets, MetadataField::reverse_tcp_retransmitted_packets},
    {ie::reverseTcpRetransmittedOctets, MetadataField::reverse_tcp_retransmitted_octets},
    {ie::reverseTcpOutOfOrderPackets, MetadataField::reverse_tcp_out_of_order},
    {ie::reverseTcpZeroWindowPackets, MetadataField::reverse_tcp_zero_windows},
    {ie::reverseTcpLargestGapMicroseconds, MetadataField::reverse_tcp_largest_gap_us},
};
// The tunnel's: its technology and id, its endpoints on the source's and the destination's
// sides, and the ERSPAN session as the observation point.
constexpr GroupField kTunnelFields[] = {
    {ie::tunnelTechnology, MetadataField::tunnel_technology},
    {ie::tunnelId, MetadataField::tunnel_id},
    {ie::tunnelSourceAddress, MetadataField::tunnel_source},
    {ie::tunnelDestinationAddress, MetadataField::tunnel_destination},
    {ie::observationPointId, MetadataField::erspan_session},
};
// The handshake's times and the source's fields: all but the responder's.
constexpr std::size_t kUniflowTcpHealthFields = std::size(kTcpHealthFields) - kTcpReverseOffset;
// What the first packet each way said in its headers: the source's (the initiator's) fields,
// then the responder's; a uniflow record has the first half. By IP version: IPv4 has no flow
// label, and ICMP's type and code are each version's element.
constexpr GroupField kHeadersV4Fields[] = {
    {ie::sourceMacAddress, MetadataField::source_mac},
    {ie::destinationMacAddress, MetadataField::destination_mac},
    {ie::ipClassOfService, MetadataField::class_of_service},
    {ie::dot1qCustomerVlanId, MetadataField::customer_vlan},
    {ie::mplsTopLabelStackSection, MetadataField::mpls_top_label},
    {ie::icmpTypeCodeIPv4, MetadataField::icmp_type_code},
    {ie::reverseSourceMacAddress, MetadataField::reverse_source_mac},
    {ie::reverseDestinationMacAddress, MetadataField::reverse_destination_mac},
    {ie::reverseIpClassOfService, MetadataField::reverse_class_of_service},
    {ie::reverseDot1qCustomerVlanId, MetadataField::reverse_customer_vlan},
    {ie::reverseMplsTopLabelStackSection, MetadataField::reverse_mpls_top_label},
    {ie::reverseIcmpTypeCodeIPv4, MetadataField::reverse_icmp_type_code},
};
constexpr GroupField kHeadersV6Fields[] = {
    {ie::sourceMacAddress, MetadataField::source_mac},
    {ie::destinationMacAddress, MetadataField::destination_mac},
    {ie::ipClassOfService, MetadataField::class_of_service},
    {ie::dot1qCustomerVlanId, MetadataField::customer_vlan},
    {ie::mplsTopLabelStackSection, MetadataField::mpls_top_label},
    {ie::icmpTypeCodeIPv6, MetadataField::icmp_type_code},
    {ie::flowLabelIPv6, MetadataField::flow_label},
    {ie::reverseSourceMacAddress, MetadataField::reverse_source_mac},
    {ie::reverseDestinationMacAddress, MetadataField::reverse_destination_mac},
    {ie::reverseIpClassOfService, MetadataField::reverse_class_of_service},
    {ie::reverseDot1qCustomerVlanId, MetadataField::reverse_customer_vlan},
    {ie::reverseMplsTopLabelStackSection, MetadataField::reverse_mpls_top_label},
    {ie::reverseIcmpTypeCodeIPv6, MetadataField::reverse_icmp_type_code},
    {ie::reverseFlowLabelIPv6, MetadataField::reverse_flow_label},
};
// The application-layer groups', by MetadataGroup.
constexpr std::span<const GroupField> kGroupFields[] = {kTlsFields, kHttpFields, kDnsFields,
                                                        kQuicFields};
constexpr unsigned kNoApplication = std::size(kGroupFields);
static_assert(kNoApplication == static_cast<unsigned>(MetadataGroup::tcp_health),
              "the application-layer groups come first");

// A flow template with metadata: its fields, and where those after the base ones come from.
struct MetadataTemplate {
    std::vector<Element> fields;
    std::vector<GroupField> sources;  // of the fields after the base template's
    Template t{0, {}};
    std::size_t length = 0;  // of each record, when all have one (DataTemplate's)
};

// Every base template's (by template_index) combination with an application-layer group or
// none (kNoApplication), with TCP health or not and with the tunnel or not, by
// base * kVariants + group * 4 + health * 2 + tunnel: ids from 272, twenty a base template
// (the first of kNoApplication's, none of them, unused): 272-431 the bases without
// flowDirection, 432-591 those with it. The same with the header fields last, every one used,
// kHeaders further in the table: ids 600-919.
constexpr std::size_t kVariants = (kNoApplication + 1) * 4;
constexpr std::size_t kHeaders = 16 * kVariants;
constexpr std::uint16_t kFirstId = 272, kFirstHeadersId = 600;
const std::vector<MetadataTemplate>& metadata_table();

std::size_t template_index(int ip_version, TimePrecision precision, Records shape, bool direction) {
    return (direction ? kBases : 0) + (shape == Records::uniflow ? 4 : 0) +
           (precision == TimePrecision::nanoseconds ? 2 : 0) + (ip_version == 6 ? 1 : 0);
}

// A base template's length: with flowDirection, a byte more.
std::size_t length_of(std::size_t index) {
    return kLengthOf[index % kBases] + (index >= kBases ? 1 : 0);
}

inline void store(std::uint8_t* p, std::uint64_t value, unsigned bytes) {
    store_big_endian(p, value, bytes);
}

// Writes one field of a biflow record; returns where the next one starts.
[[gnu::always_inline]] inline std::uint8_t* encode(std::uint8_t* p, Source s, const Element& e,
                                                   const FlowRecord& r, bool ns,
                                                   const InterfaceIndexes& if_index) {
    auto time = [ns](std::uint64_t t) { return ns ? ntp_timestamp(t) : t / 1'000'000; };
    std::uint64_t v = 0;
    switch (s) {
        case Source::source_address:
            std::memcpy(p, r.source_address, e.length);
            return p + e.length;
        case Source::destination_address:
            std::memcpy(p, r.destination_address, e.length);
            return p + e.length;
        case Source::source_port: v = r.source_port; break;
        case Source::destination_port: v = r.destination_port; break;
        case Source::protocol: v = r.protocol; break;
        case Source::vlan_id: v = r.vlan_id; break;
        case Source::ingress_port: v = if_index[r.ingress_port % kMaxInterfaces]; break;
        case Source::octets: v = r.octets; break;
        case Source::packets: v = r.packets; break;
        case Source::reverse_octets: v = r.reverse_octets; break;
        case Source::reverse_packets: v = r.reverse_packets; break;
        case Source::first: v = time(r.first_ns); break;
        case Source::last: v = time(r.last_ns); break;
        // A responder that sent nothing has no times: 0, not the epoch's offset in NTP.
        case Source::reverse_first:
            v = r.reverse_first_ns == 0 ? 0 : time(r.reverse_first_ns);
            break;
        case Source::reverse_last: v = r.reverse_last_ns == 0 ? 0 : time(r.reverse_last_ns); break;
        case Source::tcp_flags: v = r.tcp_flags; break;
        case Source::reverse_tcp_flags: v = r.reverse_tcp_flags; break;
        case Source::minimum_ttl: v = r.minimum_ttl; break;
        case Source::maximum_ttl: v = r.maximum_ttl; break;
        case Source::reverse_minimum_ttl: v = r.reverse_minimum_ttl; break;
        case Source::reverse_maximum_ttl: v = r.reverse_maximum_ttl; break;
        case Source::end_reason: v = static_cast<std::uint8_t>(r.end_reason); break;
        case Source::application_id: v = application_id(r.application_id); break;
        case Source::biflow_direction: v = r.biflow_direction; break;
        case Source::unknown: break;
    }
    store(p, v, e.length);
    return p + e.length;
}

// One record of biflow template `B`, its fields unrolled at compile time: each field's source
// and length are constants, so every switch above folds away.
template <const auto& B, bool NS, std::size_t... I>
void encode_record(std::uint8_t* p, const FlowRecord& r, const InterfaceIndexes& if_index,
                   std::index_sequence<I...>) {
    ((p = encode(p, B.sources[I], B.fields[I], r, NS, if_index)), ...);
}

template <const auto& B, bool NS>
void encode_record(std::uint8_t* p, const FlowRecord& r, const InterfaceIndexes& if_index) {
    encode_record<B, NS>(p, r, if_index, std::make_index_sequence<B.fields.size()>());
}

}  // namespace

const Template kMeteringStatistics{260, kMeteringStatisticsFields, 1};
const Template kExportingStatistics{261, kExportingStatisticsFields, 1};
const Template kApplicationNames{262, kApplicationNamesFields, 1};
const Template kDomainName{263, kDomainNameFields, 1};
const Template kInterfaceNames{268, kInterfaceNamesFields, 1};
const Template kElementTypes{269, kElementTypesFields, 2};
const Template kSystematicSampling{270, kSystematicSamplingFields, 1};
const Template kRandomSampling{271, kRandomSamplingFields, 1};

namespace {

const std::vector<MetadataTemplate>& metadata_table() {
    static const std::vector<MetadataTemplate> table = [] {
        static_assert(std::size(kTemplates) * kVariants == kHeaders);
        std::vector<MetadataTemplate> out(2 * kHeaders);
        for (unsigned headers = 0; headers < 2; ++headers)
            for (std::size_t base = 0; base < std::size(kTemplates); ++base)
                for (unsigned group = 0; group <= kNoApplication; ++group)
                    for (unsigned health = 0; health < 2; ++health)
                        for (unsigned tunnel = 0; tunnel < 2; ++tunnel) {
                            if (group == kNoApplication && health == 0 && tunnel == 0 && !headers)
                                continue;
                            const std::size_t id =
                                base * kVariants + group * 4 + health * 2 + tunnel;
                            MetadataTemplate& m = out[headers * kHeaders + id];
                            m.fields.assign(kTemplates[base].fields.begin(),
                                            kTemplates[base].fields.end());
                            if (group != kNoApplication)
                                m.sources.assign(kGroupFields[group].begin(),
                                                 kGroupFields[group].end());
                            if (health != 0)
                                m.sources.insert(m.sources.end(), std::begin(kTcpHealthFields),
                                                 base % kBases >= 4 ? std::begin(kTcpHealthFields) +
                                                                          kUniflowTcpHealthFields
                                                                    : std::end(kTcpHealthFields));
                            if (tunnel != 0)
                                m.sources.insert(m.sources.end(), std::begin(kTunnelFields),
                                                 std::end(kTunnelFields));
                            if (headers != 0) {
                                const std::span<const GroupField> h =
                                    base % 2 == 0 ? std::span<const GroupField>(kHeadersV4Fields)
                                                  : std::span<const GroupField>(kHeadersV6Fields);
                                m.sources.insert(
                                    m.sources.end(), h.begin(),
                                    h.begin() + (base % kBases >= 4 ? h.size() / 2 : h.size()));
                            }
                            m.length = length_of(base);
                            bool variable = false;
                            for (const GroupField& f : m.sources) {
                                m.fields.push_back(f.element);
                                m.length += f.element.length;
                                variable |= f.element.length == kVariableLength;
                            }
                            if (variable) m.length = 0;
                            m.t = {static_cast<std::uint16_t>(
                                       (headers ? kFirstHeadersId : kFirstId) + id),
                                   m.fields};
                        }
        return out;
    }();
    return table;
}

// The IANA code of an element's data type (RFC 5610's informationElementDataType).
std::uint8_t data_type_code(Type t) {
    switch (t) {
        case Type::unsigned8: return 1;
        case Type::unsigned16: return 2;
        case Type::unsigned32: return 3;
        case Type::unsigned64: return 4;
        case Type::string: return 13;
        case Type::date_time_milliseconds: return 15;
        case Type::date_time_nanoseconds: return 17;
        case Type::ipv4_address: return 18;
        case Type::ipv6_address: return 19;
        case Type::mac_address: return 12;
        case Type::octet_array: return 0;
    }
    return 0;
}

// A metadata list of addresses (a length byte, 4 or 16, and the address, each) as text,
// comma-separated, into `out` (kMaxMetadataBytes); its length.
std::size_t addresses_text(std::span<const std::uint8_t> list, char* out) {
    std::size_t n = 0;
    for (std::size_t at = 0; at < list.size();) {
        const std::size_t k = list[at];
        if ((k != 4 && k != 16) || at + 1 + k > list.size()) break;
        char text[INET6_ADDRSTRLEN];
        inet_ntop(k == 4 ? AF_INET : AF_INET6, &list[at + 1], text, sizeof(text));
        const std::size_t length = std::strlen(text);
        if (n + (n != 0) + length > kMaxMetadataBytes) break;
        if (n != 0) out[n++] = ',';
        std::memcpy(out + n, text, length);
        n += length;
        at += 1 + k;
    }
    return n;
}

// The metadata template of a record with `groups` (a flow has one application-layer group at
// most), by its index in metadata_table() after the base's.
std::size_t metadata_variant(std::uint8_t groups) {
    const std::uint8_t application = groups & kApplicationGroups;
    const unsigned group =
        application != 0 ? static_cast<unsigned>(__builtin_ctz(application)) : kNoApplication;
    return group * 4 + ((groups & group_bit(MetadataGroup::tcp_health)) != 0 ? 2 : 0) +
           ((groups & group_bit(MetadataGroup::tunnel)) != 0 ? 1 : 0) +
           ((groups & group_bit(MetadataGroup::headers)) != 0 ? kHeaders : 0);
}

}  // namespace

std::vector<const Template*> metadata_templates(TimePrecision precision, Records shape,
                                                std::uint8_t groups, bool direction) {
    std::vector<const Template*> out;
    const bool health = (groups & group_bit(MetadataGroup::tcp_health)) != 0;
    const bool tunnel = (groups & group_bit(MetadataGroup::tunnel)) != 0;
    const bool headers = (groups & group_bit(MetadataGroup::headers)) != 0;
    for (const int version : {4, 6}) {
        const std::size_t base = template_index(version, precision, shape, direction);
        for (const std::size_t with_headers : {std::size_t{0}, kHeaders}) {
            if (with_headers != 0 && !headers) continue;
            for (unsigned group = 0; group <= kNoApplication; ++group) {
                if (group != kNoApplication && !(groups >> group & 1)) continue;
                for (unsigned variant = 0; variant < 4; ++variant) {
                    if ((variant & 2) && !health) continue;
                    if ((variant & 1) && !tunnel) continue;
                    if (group == kNoApplication && variant == 0 && with_headers == 0) continue;
                    out.push_back(
                        &metadata_table()[with_headers + base * kVariants + group * 4 + variant].t);
                }
            }
        }
    }
    return out;
}

InterfaceIndexes identity_interfaces() {
    InterfaceIndexes out{};
    for (std::uint32_t i = 0; i < out.size(); ++i) out[i] = i;
    return out;
}

std::uint64_t ntp_timestamp(std::uint64_t unix_ns) {
    const std::uint64_t seconds = unix_ns / 1'000'000'000 + kNtpEpochOffset;
    const std::uint64_t fraction = ((unix_ns % 1'000'000'000) << 32) / 1'000'000'000;
    return seconds << 32 | fraction;
}

std::uint32_t application_id(std::uint32_t id) {
    return id == 0 ? 0 : std::uint32_t{kApplicationEngine} << 24 | (id & 0xffffff);
}

std::size_t Template::record_length() const {
    std::size_t n = 0;
    for (const Element& e : fields) n += e.length;
    return n;
}

const Template& flow_template(int ip_version, TimePrecision precision, Records shape,
                              bool direction) {
    return kTemplates[template_index(ip_version, precision, shape, direction)];
}

std::span<const Template* const> flow_templates(TimePrecision precision, Records shape,
                                                bool direction) {
    return kAnnounced[template_index(4, precision, shape, direction) / 2];
}

unsigned to_uniflow(const FlowRecord& r, FlowRecord (&out)[2]) {
    unsigned n = 0;
    if (r.packets != 0) {
        FlowRecord& f = out[n++];
        f = r;
        f.reverse_packets = f.reverse_octets = f.reverse_first_ns = f.reverse_last_ns = 0;
        f.reverse_tcp_flags = f.reverse_minimum_ttl = f.reverse_maximum_ttl = 0;
    }
    if (r.reverse_packets != 0) {
        FlowRecord& b = out[n++];
        b = r;
        std::memcpy(b.source_address, r.destination_address, sizeof(b.source_address));
        std::memcpy(b.destination_address, r.source_address, sizeof(b.destination_address));
        const bool icmp = r.protocol == 1 || r.protocol == 58;
        b.source_port = icmp ? 0 : r.destination_port;
        b.destination_port = icmp ? 0 : r.source_port;
        b.packets = r.reverse_packets;
        b.octets = r.reverse_octets;
        b.first_ns = r.reverse_first_ns;
        b.last_ns = r.reverse_last_ns;
        b.tcp_flags = r.reverse_tcp_flags;
        b.minimum_ttl = r.reverse_minimum_ttl;
        b.maximum_ttl = r.reverse_maximum_ttl;
        b.reverse_packets = b.reverse_octets = b.reverse_first_ns = b.reverse_last_ns = 0;
        b.reverse_tcp_flags = b.reverse_minimum_ttl = b.reverse_maximum_ttl = 0;
    }
    return n;
}

MessageBuilder::MessageBuilder(std::uint32_t observation_domain, std::size_t max_size,
                               TimePrecision precision, Records shape, std::uint8_t groups)
    : domain_(observation_domain),
      max_size_(std::min(max_size, kMaxSize)),
      precision_(precision),
      shape_(shape),
      groups_(groups),
      buffer_(max_size_) {
    find_bases();
    begin(0);
}

void MessageBuilder::begin(std::uint32_t sequence) {
    size_ = kHeaderSize;
    set_start_ = 0;
    set_id_ = 0;
    records_ = 0;
    store(&buffer_[0], kVersion, 2);
    store(&buffer_[8], sequence, 4);
    store(&buffer_[12], domain_, 4);
}

void MessageBuilder::close_set() {
    if (set_start_ != 0) store(&buffer_[set_start_ + 2], size_ - set_start_, 2);
    set_start_ = 0;
    set_id_ = 0;
}

bool MessageBuilder::open_set(std::uint16_t set_id, std::size_t record_length) {
    const bool new_set = set_id_ != set_id;
    if (size_ + (new_set ? 4 : 0) + record_length > max_size_) return false;
    if (new_set) {
        close_set();
        set_start_ = size_;
        set_id_ = set_id;
        store(&buffer_[size_], set_id, 2);
        size_ += 4;  // the length, when the set closes
    }
    return true;
}

bool MessageBuilder::add_templates(std::span<const Template* const> templates) {
    std::size_t size = 0;
    bool data = false, options = false;
    for (const Template* t : templates) {
        size += t->is_options() ? 6 : 4;
        for (const Element& e : t->fields) size += e.pen != 0 ? 8 : 4;
        (t->is_options() ? options : data) = true;
    }
    size += 4 * (data + options);
    if (size_ + size > max_size_) return false;
    for (const bool as_options : {false, true}) {
        if (!(as_options ? options : data)) continue;
        close_set();
        set_start_ = size_;
        set_id_ = as_options ? kOptionsTemplateSetId : kTemplateSetId;
        store(&buffer_[size_], set_id_, 2);
        size_ += 4;
        for (const Template* t : templates) {
            if (t->is_options() != as_options) continue;
            store(&buffer_[size_], t->id, 2);
            store(&buffer_[size_ + 2], t->fields.size(), 2);
            size_ += 4;
            if (as_options) store(&buffer_[size_], t->scope_fields, 2), size_ += 2;
            for (const Element& e : t->fields) {
                store(&buffer_[size_], e.pen != 0 ? (0x8000u | e.id) : e.id, 2);  // enterprise bit
                store(&buffer_[size_ + 2], e.length, 2);
                size_ += 4;
                if (e.pen != 0) store(&buffer_[size_], e.pen, 4), size_ += 4;
            }
        }
    }
    close_set();
    return true;
}

bool MessageBuilder::add(const FlowRecord& r, std::span<const std::uint8_t> metadata) {
    const std::uint8_t groups = r.metadata_groups & groups_;
    if (groups != 0 && !metadata.empty()) [[unlikely]]
        return add_with_metadata(r, metadata, groups);
    const std::size_t index = template_index(r.ip_version, precision_, shape_, !networks_.empty());
    const Template& t = kTemplates[index];
    const std::size_t length = length_of(index);
    if (!open_set(t.id, length)) return false;
    encode_base(index, &buffer_[size_], r);
    size_ += length;
    ++records_;
    return true;
}

void MessageBuilder::find_bases() {
    for (const int version : {4, 6}) {
        const std::size_t index = template_index(version, precision_, shape_, !networks_.empty());
        base_[version == 6] = {kTemplates[index].id, length_of(index)};
    }
}

DataTemplate MessageBuilder::metadata_template(int ip_version, std::uint8_t groups) const {
    const std::size_t index = template_index(ip_version, precision_, shape_, !networks_.empty());
    const MetadataTemplate& m = metadata_table()[index * kVariants + metadata_variant(groups)];
    return {m.t.id, m.length};
}

void MessageBuilder::encode_base(std::size_t index, std::uint8_t* p, const FlowRecord& r) const {
    // flowDirection: egress (1) when the record's source is in a local network, ingress (0)
    // when not. A biflow's source is its initiator; a uniflow record's, its sender.
    if (index >= kBases)
        p[kLengthOf[index % kBases]] =
            config::in_networks(networks_, r.ip_version, r.source_address) ? 1 : 0;
    switch (index % kBases) {
        case 0: encode_record<kV4Ms, false>(p, r, if_index_); break;
        case 1: encode_record<kV6Ms, false>(p, r, if_index_); break;
        case 2: encode_record<kV4Ns, true>(p, r, if_index_); break;
        case 3: encode_record<kV6Ns, true>(p, r, if_index_); break;
        case 4: encode_record<kUniV4Ms, false>(p, r, if_index_); break;
        case 5: encode_record<kUniV6Ms, false>(p, r, if_index_); break;
        case 6: encode_record<kUniV4Ns, true>(p, r, if_index_); break;
        default: encode_record<kUniV6Ns, true>(p, r, if_index_); break;
    }
}

// Variable-length values (RFC 7011 section 7): one length byte below 255, else 255 and two
// bytes; a value longer than a field can say is cut.
namespace {

std::span<const std::uint8_t> cut(std::span<const std::uint8_t> v) {
    return v.first(std::min<std::size_t>(v.size(), 65535 - 3));
}

std::size_t encoded_length(std::span<const std::uint8_t> v) {
    return v.size() + (v.size() < 255 ? 1 : 3);
}

std::uint8_t* put_variable(std::uint8_t* p, std::span<const std::uint8_t> v) {
    if (v.size() < 255) {
        *p++ = static_cast<std::uint8_t>(v.size());
    } else {
        *p++ = 255;
        store_big_endian(p, v.size(), 2);
        p += 2;
    }
    if (!v.empty()) std::memcpy(p, v.data(), v.size());
    return p + v.size();
}

}  // namespace

bool MessageBuilder::add_with_metadata(const FlowRecord& r, std::span<const std::uint8_t> metadata,
                                       std::uint8_t groups) {
    // The record's fields, by id (a field the bytes carry twice: its first value).
    std::array<std::span<const std::uint8_t>, 128> value{};
    std::array<bool, 128> seen{};
    char addresses[kMaxMetadataBytes];  // a list of addresses as text
    MetadataReader reader(metadata);
    for (MetadataReader::Field f; reader.next(f);) {
        const auto id = static_cast<std::uint8_t>(f.info->field) & 127;
        if (seen[id]) continue;
        seen[id] = true;
        value[id] = cut(f.value);
        if (f.info->type == MetadataType::addresses) {
            const std::size_t n = addresses_text(f.value, addresses);
            value[id] = {reinterpret_cast<const std::uint8_t*>(addresses), n};
        }
    }
    const std::size_t index = template_index(r.ip_version, precision_, shape_, !networks_.empty());
    const MetadataTemplate& m = metadata_table()[index * kVariants + metadata_variant(groups)];
    std::size_t length = length_of(index);
    for (const GroupField& f : m.sources) {
        const auto id = static_cast<std::uint8_t>(f.field);
        length +=
            f.element.length == kVariableLength ? encoded_length(value[id]) : f.element.length;
    }
    if (!open_set(m.t.id, length)) return false;
    std::uint8_t* p = &buffer_[size_];
    encode_base(index, p, r);
    p += length_of(index);
    for (const GroupField& f : m.sources) {
        const auto& v = value[static_cast<std::uint8_t>(f.field)];
        if (f.element.length == kVariableLength) {
            p = put_variable(p, v);
            continue;
        }
        if (f.element.type == Type::mac_address) {
            std::memset(p, 0, 6);
            if (v.size() == 6) std::memcpy(p, v.data(), 6);
            p += 6;
            continue;
        }
        if (f.element.type == Type::ipv6_address) {  // an IPv4 one as IPv4-mapped
            static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            std::memset(p, 0, 16);
            if (v.size() == 16) std::memcpy(p, v.data(), 16);
            if (v.size() == 4) std::memcpy(p, kMapped, 12), std::memcpy(p + 12, v.data(), 4);
            p += 16;
            continue;
        }
        std::uint64_t n = 0;  // little-endian in the metadata, of its type's width
        for (std::size_t i = 0; i < std::min<std::size_t>(v.size(), 8); ++i)
            n |= std::uint64_t{v[i]} << (8 * i);
        store(p, n, f.element.length);
        p += f.element.length;
    }
    size_ += length;
    ++records_;
    return true;
}

bool MessageBuilder::add_element_type(const OwnElement& e) {
    const auto name = std::span(reinterpret_cast<const std::uint8_t*>(e.element.name.data()),
                                e.element.name.size());
    const auto description = std::span(reinterpret_cast<const std::uint8_t*>(e.description.data()),
                                       e.description.size());
    const std::size_t length =
        4 + 2 + 1 + 1 + 2 + 8 + 8 + encoded_length(name) + encoded_length(description);
    if (!open_set(kElementTypes.id, length)) return false;
    std::uint8_t* p = &buffer_[size_];
    store(p, e.element.pen, 4);
    store(p + 4, e.element.id, 2);
    store(p + 6, data_type_code(e.element.type), 1);
    store(p + 7, static_cast<std::uint8_t>(e.semantics), 1);
    store(p + 8, static_cast<std::uint16_t>(e.units), 2);
    store(p + 10, 0, 8);
    store(p + 18, 0, 8);
    p = put_variable(put_variable(p + 26, name), description);
    size_ += length;
    ++records_;
    return true;
}

bool MessageBuilder::add(const Template& t, std::span<const std::uint64_t> values) {
    if (values.size() != t.fields.size() || !open_set(t.id, t.record_length())) return false;
    for (std::size_t i = 0; i < values.size(); ++i) {
        store(&buffer_[size_], values[i], t.fields[i].length);
        size_ += t.fields[i].length;
    }
    ++records_;
    return true;
}

bool MessageBuilder::add_named(const Template& t, std::uint32_t scope,
                               std::span<const std::string_view> strings) {
    // Variable-length strings (RFC 7011 section 7): one length byte below 255, else 255 and two
    // bytes; a string longer than a field can say is cut.
    auto encoded = [](std::string_view s) { return s.size() + (s.size() < 255 ? 1 : 3); };
    std::size_t length = 4;
    for (const std::string_view s : strings) length += encoded(s.substr(0, 65535 - 3));
    if (!open_set(t.id, length)) return false;
    store(&buffer_[size_], scope, 4);
    size_ += 4;
    for (std::string_view s : strings) {
        s = s.substr(0, 65535 - 3);
        if (s.size() < 255) {
            store(&buffer_[size_++], s.size(), 1);
        } else {
            store(&buffer_[size_], 255, 1);
            store(&buffer_[size_ + 1], s.size(), 2);
            size_ += 3;
        }
        std::memcpy(&buffer_[size_], s.data(), s.size());
        size_ += s.size();
    }
    ++records_;
    return true;
}

bool MessageBuilder::add_application(std::uint32_t id, std::string_view name,
                                     std::string_view description) {
    const std::string_view strings[] = {name, description};
    return add_named(kApplicationNames, id, strings);
}

bool MessageBuilder::add_interface(std::uint32_t if_index, std::string_view name,
                                   std::string_view description) {
    const std::string_view strings[] = {name, description};
    return add_named(kInterfaceNames, if_index, strings);
}

bool MessageBuilder::add_domain_name(std::uint32_t domain, std::string_view name) {
    const std::string_view strings[] = {name};
    return add_named(kDomainName, domain, strings);
}

std::span<const std::uint8_t> MessageBuilder::finish(std::uint32_t export_time) {
    close_set();
    store(&buffer_[2], size_, 2);
    store(&buffer_[4], export_time, 4);
    return {buffer_.data(), size_};
}

}  // namespace sluice::ipfix
