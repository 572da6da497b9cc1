// Every IPFIX Information Element Sluice exports, defined once: templates, encoder and tests
// read them from here. Ids and types are IANA's (RFC 7012 and the IANA IPFIX registry);
// reverse elements are the RFC 5103 ones, under Private Enterprise Number 29305.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::ipfix {

inline constexpr std::uint32_t kReversePen = 29305;  // RFC 5103

enum class Type : std::uint8_t {
    unsigned8,
    unsigned16,
    unsigned32,
    unsigned64,
    ipv4_address,
    ipv6_address,
    date_time_milliseconds,
    date_time_nanoseconds,
    octet_array,
    string,
};

// A template field of this length carries its length in each record (RFC 7011 section 7).
inline constexpr std::uint16_t kVariableLength = 65535;

struct Element {
    std::uint16_t id;
    std::uint32_t pen;  // 0: IANA
    std::string_view name;
    Type type;
    std::uint16_t length;  // on the wire
};

// clang-format off
#define SLUICE_IPFIX_ELEMENTS(X)                                                              \
    X(octetDeltaCount,                1, 0, unsigned64, 8)                                    \
    X(packetDeltaCount,               2, 0, unsigned64, 8)                                    \
    X(protocolIdentifier,             4, 0, unsigned8, 1)                                     \
    X(tcpControlBits,                 6, 0, unsigned16, 2)                                    \
    X(sourceTransportPort,            7, 0, unsigned16, 2)                                    \
    X(sourceIPv4Address,              8, 0, ipv4_address, 4)                                  \
    X(ingressInterface,              10, 0, unsigned32, 4)                                    \
    X(destinationTransportPort,      11, 0, unsigned16, 2)                                    \
    X(destinationIPv4Address,        12, 0, ipv4_address, 4)                                  \
    X(sourceIPv6Address,             27, 0, ipv6_address, 16)                                 \
    X(destinationIPv6Address,        28, 0, ipv6_address, 16)                                 \
    X(minimumTTL,                    52, 0, unsigned8, 1)                                     \
    X(maximumTTL,                    53, 0, unsigned8, 1)                                     \
    X(vlanId,                        58, 0, unsigned16, 2)                                    \
    X(interfaceName,                 82, 0, string, kVariableLength)                          \
    X(interfaceDescription,          83, 0, string, kVariableLength)                          \
    X(octetTotalCount,               85, 0, unsigned64, 8)                                    \
    X(packetTotalCount,              86, 0, unsigned64, 8)                                    \
    X(applicationDescription,        94, 0, string, kVariableLength)                          \
    X(applicationId,                 95, 0, octet_array, 4)                                   \
    X(applicationName,               96, 0, string, kVariableLength)                          \
    X(flowEndReason,                136, 0, unsigned8, 1)                                     \
    X(exportingProcessId,           144, 0, unsigned32, 4)                                    \
    X(observationDomainId,          149, 0, unsigned32, 4)                                    \
    X(flowStartMilliseconds,        152, 0, date_time_milliseconds, 8)                        \
    X(flowEndMilliseconds,          153, 0, date_time_milliseconds, 8)                        \
    X(flowStartNanoseconds,         156, 0, date_time_nanoseconds, 8)                         \
    X(flowEndNanoseconds,           157, 0, date_time_nanoseconds, 8)                         \
    X(ignoredPacketTotalCount,      164, 0, unsigned64, 8)                                    \
    X(ignoredOctetTotalCount,       165, 0, unsigned64, 8)                                    \
    X(notSentFlowTotalCount,        166, 0, unsigned64, 8)                                    \
    X(notSentPacketTotalCount,      167, 0, unsigned64, 8)                                    \
    X(notSentOctetTotalCount,       168, 0, unsigned64, 8)                                    \
    X(biflowDirection,              239, 0, unsigned8, 1)                                     \
    X(observationDomainName,        300, 0, string, kVariableLength)                          \
    X(observationTimeMilliseconds,  323, 0, date_time_milliseconds, 8)                        \
    X(layer2OctetTotalCount,        353, 0, unsigned64, 8)                                    \
    X(ignoredLayer2OctetTotalCount, 426, 0, unsigned64, 8)                                    \
    X(reverseOctetDeltaCount,         1, kReversePen, unsigned64, 8)                          \
    X(reversePacketDeltaCount,        2, kReversePen, unsigned64, 8)                          \
    X(reverseTcpControlBits,          6, kReversePen, unsigned16, 2)                          \
    X(reverseMinimumTTL,             52, kReversePen, unsigned8, 1)                           \
    X(reverseMaximumTTL,             53, kReversePen, unsigned8, 1)                           \
    X(reverseFlowStartMilliseconds, 152, kReversePen, date_time_milliseconds, 8)              \
    X(reverseFlowEndMilliseconds,   153, kReversePen, date_time_milliseconds, 8)              \
    X(reverseFlowStartNanoseconds,  156, kReversePen, date_time_nanoseconds, 8)               \
    X(reverseFlowEndNanoseconds,    157, kReversePen, date_time_nanoseconds, 8)
// clang-format on

namespace ie {
#define SLUICE_X(name, id, pen, type, length) \
    inline constexpr Element name{id, pen, #name, Type::type, length};
SLUICE_IPFIX_ELEMENTS(SLUICE_X)
#undef SLUICE_X
}  // namespace ie

inline constexpr Element kAllElements[] = {
#define SLUICE_X(name, id, pen, type, length) ie::name,
    SLUICE_IPFIX_ELEMENTS(SLUICE_X)
#undef SLUICE_X
};

}  // namespace sluice::ipfix
