// The link layers a capture's packets may begin with, by their pcap LINKTYPE values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// How the parser finds the network layer of a packet. A DPDK port's frames are Ethernet; a
// capture's are whatever its file (or pcapng interface) says.
enum class LinkType : std::uint8_t {
    ethernet,     // 1
    linux_sll,    // 113: Linux cooked capture (tcpdump -i any before libpcap 1.10)
    linux_sll2,   // 276: Linux cooked capture v2 (tcpdump -i any)
    raw,          // 101: IPv4 or IPv6 by the version field
    ipv4,         // 228
    ipv6,         // 229
    bsd_null,     // 0: a 4-byte address family in the capturing host's byte order
    bsd_loop,     // 108: the same in network byte order (OpenBSD)
    ppp,          // 9: PPP, with or without the HDLC-like address and control bytes
    ppp_hdlc,     // 50: PPP in HDLC-like framing, or Cisco HDLC
    cisco_hdlc,   // 104
    unsupported,  // any other: the packet is counted as ignored, reason unsupported_link_type
};

struct LinkTypeInfo {
    std::uint32_t value;  // the pcap LINKTYPE
    LinkType type;
    std::string_view name;
};

inline constexpr LinkTypeInfo kLinkTypes[] = {
    {1, LinkType::ethernet, "Ethernet"},
    {113, LinkType::linux_sll, "Linux cooked capture (SLL)"},
    {276, LinkType::linux_sll2, "Linux cooked capture v2 (SLL2)"},
    {101, LinkType::raw, "raw IP"},
    {228, LinkType::ipv4, "raw IPv4"},
    {229, LinkType::ipv6, "raw IPv6"},
    {0, LinkType::bsd_null, "BSD loopback"},
    {108, LinkType::bsd_loop, "OpenBSD loopback"},
    {9, LinkType::ppp, "PPP"},
    {50, LinkType::ppp_hdlc, "PPP in HDLC-like framing"},
    {104, LinkType::cisco_hdlc, "Cisco HDLC"},
};

// The link type of a pcap LINKTYPE value; unsupported for one Sluice does not meter.
LinkType link_type(std::uint32_t value);

// "Linux cooked capture (SLL) (113)"; for a link type Sluice does not meter, libpcap's
// description of it: "802.11 plus radiotap header (127)".
std::string link_type_name(std::uint32_t value);

}  // namespace sluice
