// Every IPFIX Information Element Sluice exports, defined once: templates, encoder and tests
// read them from here. Ids and types are IANA's (RFC 7012 and the IANA IPFIX registry);
// reverse elements are the RFC 5103 ones, under Private Enterprise Number 29305. Where IANA
// has no element for a field, CERT's (PEN 6871, YAF's, in libfixbuf's cert_ipfix.xml) where
// it has one, else Sluice's own (kSluicePen), each described to collectors by an RFC 5610
// type record (kOwnElements).
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::ipfix {

inline constexpr std::uint32_t kReversePen = 29305;  // RFC 5103
inline constexpr std::uint32_t kCertPen = 6871;      // CERT/NetSA (YAF)
// Sluice has no Private Enterprise Number of its own: its elements are under the number RFC
// 5612 keeps for documentation, which no vendor's elements use. The reverse of one of them
// (RFC 5103 section 6.1) has bit 14 of its id set.
inline constexpr std::uint32_t kSluicePen = 32473;
inline constexpr std::uint16_t kReverseBit = 0x4000;

enum class Type : std::uint8_t {
    unsigned8,
    unsigned16,
    unsigned32,
    unsigned64,
    ipv4_address,
    ipv6_address,
    mac_address,
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

// What RFC 5610 says of an element's values: semantics and units, IANA's codes.
enum class Semantics : std::uint8_t { none = 0, quantity = 1, delta_counter = 3, identifier = 4 };
enum class Units : std::uint16_t { none = 0, octets = 2, packets = 3, microseconds = 7 };

// Sluice's own elements: name, id, PEN, type, length, semantics, units, and what it is, as its
// RFC 5610 type record tells collectors. (The registry below takes the first five.)
// clang-format off
#define SLUICE_OWN_ELEMENTS(X)                                                                   \
    X(tlsApplicationProtocols, 1, kSluicePen, string, kVariableLength, none, none,                           \
      "The ALPN protocol names the TLS or QUIC ClientHello offered, in order, comma-separated")  \
    X(tlsClientVersion, 2, kSluicePen, unsigned16, 2, identifier, none,                                      \
      "The highest TLS version the ClientHello offered (supported_versions, else its version)")  \
    X(tlsServerVersion, 3, kSluicePen, unsigned16, 2, identifier, none,                                      \
      "The TLS version the ServerHello selected (supported_versions, else its version)")         \
    X(tlsJa3, 4, kSluicePen, string, kVariableLength, identifier, none,                                      \
      "The ClientHello's JA3 fingerprint: the MD5 of its JA3 string, 32 lowercase hex digits")   \
    X(tlsJa4, 5, kSluicePen, string, kVariableLength, identifier, none,                                      \
      "The ClientHello's JA4 fingerprint (FoxIO): t13d1516h2_8daaf6152771_e5627efa2ab1, q... QUIC")\
    X(httpRequestCount, 6, kSluicePen, unsigned16, 2, quantity, none,                            \
      "HTTP requests the client began in the flow's first payloads (the inspection budget)")     \
    X(dnsQueryCount, 7, kSluicePen, unsigned16, 2, quantity, none,                               \
      "DNS queries the client sent in the flow's first payloads (the inspection budget)")        \
    X(dnsAnswerAddresses, 8, kSluicePen, string, kVariableLength, none, none,                    \
      "The A and AAAA addresses of the first response's answers, comma-separated, in order")    \
    X(quicVersion, 9, kSluicePen, unsigned32, 4, identifier, none,                               \
      "The QUIC version of the client's first long header packet (1: RFC 9000)")                \
    X(tcpSynToSynAckMicroseconds, 10, kSluicePen, unsigned32, 4, quantity, microseconds,        \
      "From the initiator's first SYN to the responder's SYN/ACK, as the sensor saw them")      \
    X(tcpSynAckToAckMicroseconds, 11, kSluicePen, unsigned32, 4, quantity, microseconds,        \
      "From the responder's SYN/ACK to the initiator's ACK of it, as the sensor saw them")      \
    X(tcpRetransmittedPackets, 12, kSluicePen, unsigned32, 4, delta_counter, packets,           \
      "The source's TCP segments that resent sequence numbers it had sent before")              \
    X(tcpRetransmittedOctets, 13, kSluicePen, unsigned64, 8, delta_counter, octets,             \
      "The IP octets of those retransmitted segments, as octetDeltaCount counts them")          \
    X(tcpOutOfOrderPackets, 14, kSluicePen, unsigned32, 4, delta_counter, packets,              \
      "The source's segments below what it had sent, within a round trip: reordered, not resent")\
    X(tcpZeroWindowPackets, 15, kSluicePen, unsigned32, 4, delta_counter, packets,              \
      "The source's segments that advertised a zero receive window (its buffer full)")          \
    X(tcpLargestGapMicroseconds, 16, kSluicePen, unsigned32, 4, quantity, microseconds,         \
      "The longest time between two consecutive packets of the source's in the record")         \
    X(reverseTcpRetransmittedPackets, 0x4000 | 12, kSluicePen, unsigned32, 4, delta_counter,    \
      packets, "tcpRetransmittedPackets of the responder's segments (RFC 5103)")                \
    X(reverseTcpRetransmittedOctets, 0x4000 | 13, kSluicePen, unsigned64, 8, delta_counter,     \
      octets, "tcpRetransmittedOctets of the responder's segments (RFC 5103)")                  \
    X(reverseTcpOutOfOrderPackets, 0x4000 | 14, kSluicePen, unsigned32, 4, delta_counter,       \
      packets, "tcpOutOfOrderPackets of the responder's segments (RFC 5103)")                   \
    X(reverseTcpZeroWindowPackets, 0x4000 | 15, kSluicePen, unsigned32, 4, delta_counter,       \
      packets, "tcpZeroWindowPackets of the responder's segments (RFC 5103)")                   \
    X(reverseTcpLargestGapMicroseconds, 0x4000 | 16, kSluicePen, unsigned32, 4, quantity,       \
      microseconds, "tcpLargestGapMicroseconds of the responder's packets (RFC 5103)")           \
    X(tunnelId, 17, kSluicePen, unsigned32, 4, identifier, none,                                 \
      "The id of the tunnel the flow came out of, by its tunnelTechnology: the VXLAN or Geneve " \
      "VNI, the GTP-U TEID, the GRE key, the ERSPAN session; 0 for IP in IP")                  \
    X(tunnelSourceAddress, 18, kSluicePen, ipv6_address, 16, identifier, none,                   \
      "The tunnel's endpoint on the flow's source side, as its first packet showed it (IPv4 "   \
      "as an IPv4-mapped IPv6 address, ::ffff:a.b.c.d)")                                        \
    X(tunnelDestinationAddress, 19, kSluicePen, ipv6_address, 16, identifier, none,              \
      "The tunnel's endpoint on the flow's destination side, as tunnelSourceAddress")
// clang-format on

// clang-format off
#define SLUICE_IPFIX_ELEMENTS(X)                                                              \
    X(octetDeltaCount,                1, 0, unsigned64, 8)                                    \
    X(packetDeltaCount,               2, 0, unsigned64, 8)                                    \
    X(protocolIdentifier,             4, 0, unsigned8, 1)                                     \
    X(ipClassOfService,               5, 0, unsigned8, 1)                                     \
    X(tcpControlBits,                 6, 0, unsigned16, 2)                                    \
    X(sourceTransportPort,            7, 0, unsigned16, 2)                                    \
    X(sourceIPv4Address,              8, 0, ipv4_address, 4)                                  \
    X(ingressInterface,              10, 0, unsigned32, 4)                                    \
    X(destinationTransportPort,      11, 0, unsigned16, 2)                                    \
    X(destinationIPv4Address,        12, 0, ipv4_address, 4)                                  \
    X(sourceIPv6Address,             27, 0, ipv6_address, 16)                                 \
    X(destinationIPv6Address,        28, 0, ipv6_address, 16)                                 \
    X(flowLabelIPv6,                 31, 0, unsigned32, 4)                                    \
    X(icmpTypeCodeIPv4,              32, 0, unsigned16, 2)                                    \
    X(sourceMacAddress,              56, 0, mac_address, 6)                                   \
    X(mplsTopLabelStackSection,      70, 0, octet_array, 3)                                   \
    X(destinationMacAddress,         80, 0, mac_address, 6)                                   \
    X(icmpTypeCodeIPv6,             139, 0, unsigned16, 2)                                    \
    X(dot1qCustomerVlanId,          245, 0, unsigned16, 2)                                    \
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
    X(observationPointId,           138, 0, unsigned64, 8)                                    \
    X(biflowDirection,              239, 0, unsigned8, 1)                                     \
    X(flowDirection,                 61, 0, unsigned8, 1)                                     \
    X(tunnelTechnology,             289, 0, string, kVariableLength)                          \
    X(observationDomainName,        300, 0, string, kVariableLength)                          \
    X(observationTimeMilliseconds,  323, 0, date_time_milliseconds, 8)                        \
    X(layer2OctetTotalCount,        353, 0, unsigned64, 8)                                    \
    X(ignoredLayer2OctetTotalCount, 426, 0, unsigned64, 8)                                    \
    X(httpStatusCode,               457, 0, unsigned16, 2)                                    \
    X(httpRequestMethod,            459, 0, string, kVariableLength)                          \
    X(httpRequestHost,              460, 0, string, kVariableLength)                          \
    X(httpRequestTarget,            461, 0, string, kVariableLength)                          \
    X(httpUserAgent,                468, 0, string, kVariableLength)                          \
    X(informationElementId,         303, 0, unsigned16, 2)                                    \
    X(informationElementDataType,   339, 0, unsigned8, 1)                                     \
    X(informationElementDescription, 340, 0, string, kVariableLength)                         \
    X(informationElementName,       341, 0, string, kVariableLength)                          \
    X(informationElementRangeBegin, 342, 0, unsigned64, 8)                                    \
    X(informationElementRangeEnd,   343, 0, unsigned64, 8)                                    \
    X(informationElementSemantics,  344, 0, unsigned8, 1)                                     \
    X(informationElementUnits,      345, 0, unsigned16, 2)                                    \
    X(privateEnterpriseNumber,      346, 0, unsigned32, 4)                                    \
    X(samplingInterval,              34, 0, unsigned32, 4)                                    \
    X(selectorAlgorithm,            304, 0, unsigned16, 2)                                    \
    X(samplingPacketInterval,       305, 0, unsigned32, 4)                                    \
    X(samplingPacketSpace,          306, 0, unsigned32, 4)                                    \
    X(samplingSize,                 309, 0, unsigned32, 4)                                    \
    X(samplingPopulation,           310, 0, unsigned32, 4)                                    \
    X(selectorIDTotalPktsObserved,  318, 0, unsigned64, 8)                                    \
    X(selectorIDTotalPktsSelected,  319, 0, unsigned64, 8)                                    \
    X(dnsQRType,                    175, kCertPen, unsigned16, 2)                             \
    X(dnsNXDomain,                  177, kCertPen, unsigned8, 1)                              \
    X(dnsQName,                     179, kCertPen, string, kVariableLength)                   \
    X(sslServerCipher,              187, kCertPen, unsigned32, 4)                             \
    X(sslServerName,                294, kCertPen, string, kVariableLength)                   \
    SLUICE_OWN_ELEMENTS(X)                                                                    \
    X(reverseOctetDeltaCount,         1, kReversePen, unsigned64, 8)                          \
    X(reverseIpClassOfService,        5, kReversePen, unsigned8, 1)                           \
    X(reverseFlowLabelIPv6,          31, kReversePen, unsigned32, 4)                          \
    X(reverseIcmpTypeCodeIPv4,       32, kReversePen, unsigned16, 2)                          \
    X(reverseSourceMacAddress,       56, kReversePen, mac_address, 6)                         \
    X(reverseMplsTopLabelStackSection, 70, kReversePen, octet_array, 3)                       \
    X(reverseDestinationMacAddress,  80, kReversePen, mac_address, 6)                         \
    X(reverseIcmpTypeCodeIPv6,      139, kReversePen, unsigned16, 2)                          \
    X(reverseDot1qCustomerVlanId,   245, kReversePen, unsigned16, 2)                          \
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
#define SLUICE_X(name, id, pen, type, length, ...) \
    inline constexpr Element name{id, pen, #name, Type::type, length};
SLUICE_IPFIX_ELEMENTS(SLUICE_X)
#undef SLUICE_X
}  // namespace ie

inline constexpr Element kAllElements[] = {
#define SLUICE_X(name, id, pen, type, length, ...) ie::name,
    SLUICE_IPFIX_ELEMENTS(SLUICE_X)
#undef SLUICE_X
};

// What an RFC 5610 type record says of one of Sluice's own elements.
struct OwnElement {
    Element element;
    Semantics semantics;
    Units units;
    std::string_view description;
};
inline constexpr OwnElement kOwnElements[] = {
#define SLUICE_X(name, id, pen, type, length, semantics, units, help) \
    {ie::name, Semantics::semantics, Units::units, help},
    SLUICE_OWN_ELEMENTS(SLUICE_X)
#undef SLUICE_X
};

}  // namespace sluice::ipfix
