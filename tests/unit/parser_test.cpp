// The packet parser: each encapsulation, each ignore reason, and truncation at every byte.
#include "dataplane/meter/parser.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "tools/pktgen/packet.hpp"

namespace sluice::meter {
namespace {

using namespace sluice::pktgen;

class Parser : public ::testing::Test {
protected:
    // Parses a copy of exactly `frame`'s bytes, so AddressSanitizer sees any read past them.
    ParseResult parse_frame(const std::vector<std::uint8_t>& frame, std::uint64_t now = 1000,
                            LinkType link = LinkType::ethernet) {
        const std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[frame.size()]);
        std::copy(frame.begin(), frame.end(), copy.get());
        const auto size = static_cast<std::uint32_t>(frame.size());
        return parse(copy.get(), size, size, link, now, fragments, decap, info, tunnel);
    }

    ParseResult parse_packet(const Packet& p) { return parse_frame(build(p)); }

    static Packet tcp4() {
        Packet p;
        p.src = ipv4(10, 0, 0, 2);
        p.dst = ipv4(10, 0, 0, 1);
        p.protocol = kTcp;
        p.src_port = 40000;
        p.dst_port = 443;
        p.tcp_flags = tcp::syn;
        p.ttl = 61;
        p.payload = 10;
        return p;
    }

    static Packet udp6() {
        Packet p;
        p.ip_version = 6;
        p.src = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        p.dst = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
        p.protocol = kUdp;
        p.src_port = 5353;
        p.dst_port = 53;
        p.ttl = 7;
        p.payload = 20;
        return p;
    }

    void expect_ignored(const Packet& p, IgnoreReason reason) {
        const ParseResult r = parse_packet(p);
        EXPECT_FALSE(r.metered());
        EXPECT_EQ(kIgnoreReasonNames[static_cast<unsigned>(r.reason())].name,
                  kIgnoreReasonNames[static_cast<unsigned>(reason)].name);
    }

    // Cuts a frame at every length and checks the reason for each: the parser never reads past
    // the cut (AddressSanitizer would say so) and names the layer where the frame ends.
    void expect_truncations(const std::vector<std::uint8_t>& frame, std::size_t l3_start,
                            std::size_t l3_header_end) {
        for (std::size_t len = 0; len < frame.size(); ++len) {
            const std::vector<std::uint8_t> cut(frame.begin(),
                                                frame.begin() + static_cast<long>(len));
            const ParseResult r = parse_frame(cut);
            ASSERT_FALSE(r.metered()) << "length " << len;
            const IgnoreReason want = len < l3_start        ? IgnoreReason::truncated_l2
                                      : len < l3_header_end ? IgnoreReason::truncated_l3
                                                            : IgnoreReason::bad_total_length;
            EXPECT_EQ(kIgnoreReasonNames[static_cast<unsigned>(r.reason())].name,
                      kIgnoreReasonNames[static_cast<unsigned>(want)].name)
                << "length " << len;
        }
    }

    FragmentMap fragments{HashKey{{1, 2, 3, 4, 5, 6, 7, 8}}};
    Decapsulation decap = decapsulation(kAllTunnels, kAllTunnels);
    PacketInfo info{};
    TunnelInfo tunnel{};
};

TEST_F(Parser, Ipv4TcpGivesTheCanonicalKeyAndDirection) {
    ASSERT_TRUE(parse_packet(tcp4()).metered());
    // 10.0.0.1 is the lower address: it comes first, so this packet (from .2) is direction 1.
    EXPECT_EQ(info.key.head.ip_version, 4);
    EXPECT_EQ(info.key.head.protocol, kTcp);
    EXPECT_EQ(info.key.address(0), ipv4(10, 0, 0, 1));
    EXPECT_EQ(info.key.address(1), ipv4(10, 0, 0, 2));
    EXPECT_EQ(info.key.tail, FlowKeyTail{});  // an IPv4 key is its head alone
    EXPECT_EQ(info.key.head.port[0], 443);
    EXPECT_EQ(info.key.head.port[1], 40000);
    EXPECT_EQ(info.direction, 1);
    EXPECT_EQ(info.tcp_flags, tcp::syn);
    EXPECT_EQ(info.ttl, 61);
    EXPECT_EQ(info.ip_length, 20 + 20 + 10);
    EXPECT_EQ(info.payload_offset, 14 + 20 + 20);
    EXPECT_EQ(info.payload_length, 10);
}

TEST_F(Parser, BothDirectionsGiveTheSameKey) {
    Packet p = tcp4();
    ASSERT_TRUE(parse_packet(p).metered());
    const FlowKey forward = info.key;
    std::swap(p.src, p.dst);
    std::swap(p.src_port, p.dst_port);
    ASSERT_TRUE(parse_packet(p).metered());
    EXPECT_EQ(info.key, forward);
    EXPECT_EQ(info.direction, 0);
}

TEST_F(Parser, Ipv6AddressesAreOrderedByEveryByte) {
    Packet p = udp6();
    p.src = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x0200);  // above the destination in byte 14
    p.dst = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x00ff);
    ASSERT_TRUE(parse_packet(p).metered());
    EXPECT_EQ(info.key.address(0), p.dst);
    EXPECT_EQ(info.key.address(1), p.src);
    EXPECT_EQ(info.direction, 1);
}

TEST_F(Parser, SameAddressesAreOrderedByPort) {
    Packet p = tcp4();
    p.dst = p.src;
    ASSERT_TRUE(parse_packet(p).metered());
    EXPECT_EQ(info.key.head.port[0], 443);
    EXPECT_EQ(info.direction, 1);
}

TEST_F(Parser, Ipv6Udp) {
    ASSERT_TRUE(parse_packet(udp6()).metered());
    EXPECT_EQ(info.key.head.ip_version, 6);
    EXPECT_EQ(info.key.head.protocol, kUdp);
    EXPECT_EQ(info.key.address(0), ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    EXPECT_EQ(info.key.address(1), ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
    EXPECT_EQ(info.key.head.port[0], 5353);
    EXPECT_EQ(info.key.head.port[1], 53);
    EXPECT_EQ(info.direction, 0);
    EXPECT_EQ(info.ttl, 7);
    EXPECT_EQ(info.ip_length, 40 + 8 + 20);
}

TEST_F(Parser, VlanTagGivesTheVlanId) {
    Packet p = tcp4();
    p.vlans = {42};
    ASSERT_TRUE(parse_packet(p).metered());
    EXPECT_EQ(info.key.head.vlan_id, 42);
    EXPECT_EQ(info.payload_offset, 18 + 40);
}

TEST_F(Parser, QinQKeepsTheOuterVlanId) {
    for (std::uint16_t outer : {0x88a8, 0x9100, 0x8100}) {
        Packet p = udp6();
        p.vlans = {100, 200};
        p.outer_tag_type = outer;
        ASSERT_TRUE(parse_packet(p).metered()) << outer;
        EXPECT_EQ(info.key.head.vlan_id, 100);
        EXPECT_EQ(info.key.head.port[1], 53);
    }
}

TEST_F(Parser, ThreeVlanTagsAreIgnored) {
    Packet p = tcp4();
    p.vlans = {1, 2, 3};
    expect_ignored(p, IgnoreReason::too_many_vlan_tags);
}

TEST_F(Parser, MplsStackOverIpv4AndIpv6) {
    Packet p = tcp4();
    p.mpls_labels = 3;
    ASSERT_TRUE(parse_packet(p).metered());
    EXPECT_EQ(info.key.head.port[0], 443);
    Packet q = udp6();
    q.mpls_labels = 8;
    ASSERT_TRUE(parse_packet(q).metered());
    EXPECT_EQ(info.key.head.port[1], 53);
}

TEST_F(Parser, MoreThanEightMplsLabelsAreIgnored) {
    Packet p = tcp4();
    p.mpls_labels = 9;
    expect_ignored(p, IgnoreReason::too_many_mpls_labels);
}

TEST_F(Parser, MplsOverSomethingElseIsIgnored) {
    auto frame = build([] {
        Packet p = tcp4();
        p.mpls_labels = 1;
        return p;
    }());
    frame[18] = 0x00;  // a pseudowire control word, not an IP version
    EXPECT_FALSE(parse_frame(frame).metered());
    EXPECT_EQ(parse_frame(frame).reason(), IgnoreReason::non_ip);
}

TEST_F(Parser, Ipv4OptionsAreSkipped) {
    Packet p = tcp4();
    p.ipv4_option_bytes = 12;
    ASSERT_TRUE(parse_packet(p).metered());
    EXPECT_EQ(info.key.head.port[1], 40000);
    EXPECT_EQ(info.ip_length, 32 + 20 + 10);
}

TEST_F(Parser, Ipv6ExtensionHeadersAreSkipped) {
    Packet p = udp6();
    p.protocol = kTcp;
    p.tcp_flags = tcp::ack;
    p.ipv6_extensions = {kHopByHop, kRouting, kAh, kDestinationOptions};
    ASSERT_TRUE(parse_packet(p).metered());
    EXPECT_EQ(info.key.head.protocol, kTcp);
    EXPECT_EQ(info.key.head.port[0], 5353);
    EXPECT_EQ(info.tcp_flags, tcp::ack);
    EXPECT_EQ(info.ip_length, 40 + 8 + 8 + 12 + 8 + 20 + 20);
}

TEST_F(Parser, MoreThanEightIpv6ExtensionHeadersAreIgnored) {
    Packet p = udp6();
    p.ipv6_extensions.assign(9, kDestinationOptions);
    expect_ignored(p, IgnoreReason::too_many_ipv6_extensions);
}

TEST_F(Parser, SctpHasPorts) {
    Packet p = tcp4();
    p.protocol = kSctp;
    ASSERT_TRUE(parse_packet(p).metered());
    EXPECT_EQ(info.key.head.protocol, kSctp);
    EXPECT_EQ(info.key.head.port[0], 443);
}

TEST_F(Parser, IcmpTypeAndCodeStandInTheDestinationPortAndRepliesMeetRequests) {
    Packet request = tcp4();
    request.protocol = kIcmp;
    request.src_port = 8;  // echo request
    request.dst_port = 0;
    ASSERT_TRUE(parse_packet(request).metered());
    EXPECT_EQ(info.key.head.port[0], 0);
    EXPECT_EQ(info.key.head.port[1], 8 * 256);
    const FlowKey key = info.key;
    Packet reply = request;
    std::swap(reply.src, reply.dst);
    reply.src_port = 0;  // echo reply
    ASSERT_TRUE(parse_packet(reply).metered());
    EXPECT_EQ(info.key, key);
    Packet unreachable = request;
    unreachable.src_port = 3;
    unreachable.dst_port = 1;
    ASSERT_TRUE(parse_packet(unreachable).metered());
    EXPECT_EQ(info.key.head.port[1], 3 * 256 + 1);
}

TEST_F(Parser, Icmpv6EchoReplyMeetsItsRequest) {
    Packet request = udp6();
    request.protocol = kIcmpv6;
    request.src_port = 128;
    request.dst_port = 0;
    ASSERT_TRUE(parse_packet(request).metered());
    const FlowKey key = info.key;
    EXPECT_EQ(key.head.port[1], 128 * 256);
    Packet reply = request;
    std::swap(reply.src, reply.dst);
    reply.src_port = 129;
    ASSERT_TRUE(parse_packet(reply).metered());
    EXPECT_EQ(info.key, key);
}

TEST_F(Parser, LaterIpv4FragmentsTakeTheirFirstFragmentsPorts) {
    Packet first = tcp4();
    first.fragmented = true;
    first.fragment = {0, true, 77};
    first.payload = 1000;
    const ParseResult r1 = parse_packet(first);
    ASSERT_TRUE(r1.metered());
    EXPECT_EQ(r1.fragment(), ParseResult::Fragment::first);
    const FlowKey key = info.key;
    Packet later = first;
    later.fragment = {128, false, 77};
    later.payload = 500;
    const ParseResult r2 = parse_packet(later);
    ASSERT_TRUE(r2.metered());
    EXPECT_EQ(r2.fragment(), ParseResult::Fragment::matched);
    EXPECT_EQ(info.key, key);
    EXPECT_EQ(info.ip_length, 20 + 500);
}

TEST_F(Parser, LaterFragmentsWithoutTheirFirstHavePortsZero) {
    Packet later = tcp4();
    later.fragmented = true;
    later.fragment = {64, false, 78};
    later.payload = 100;
    const ParseResult r = parse_packet(later);
    ASSERT_TRUE(r.metered());
    EXPECT_EQ(r.fragment(), ParseResult::Fragment::unmatched);
    EXPECT_EQ(info.key.head.port[0], 0);
    EXPECT_EQ(info.key.head.port[1], 0);
    EXPECT_EQ(info.key.head.protocol, kTcp);
}

TEST_F(Parser, StaleFirstFragmentsAreForgotten) {
    Packet first = tcp4();
    first.fragmented = true;
    first.fragment = {0, true, 79};
    ASSERT_TRUE(parse_frame(build(first), 1000).metered());
    Packet later = first;
    later.fragment = {8, false, 79};
    const auto r = parse_frame(build(later), 1000 + FragmentMap::kLifetimeNs + 1);
    EXPECT_EQ(r.fragment(), ParseResult::Fragment::unmatched);
}

TEST_F(Parser, Ipv6FragmentHeaderJoinsLaterFragments) {
    Packet first = udp6();
    first.fragmented = true;
    first.fragment = {0, true, 0x12345678};
    ASSERT_EQ(parse_packet(first).fragment(), ParseResult::Fragment::first);
    const FlowKey key = info.key;
    Packet later = first;
    later.fragment = {100, false, 0x12345678};
    const ParseResult r = parse_packet(later);
    EXPECT_EQ(r.fragment(), ParseResult::Fragment::matched);
    EXPECT_EQ(info.key, key);
}

TEST_F(Parser, NonIpIsIgnored) {
    auto frame = build(tcp4());
    frame[12] = 0x08;
    frame[13] = 0x06;  // ARP
    EXPECT_EQ(parse_frame(frame).reason(), IgnoreReason::non_ip);
    EXPECT_FALSE(parse_frame(frame).metered());
}

TEST_F(Parser, WrongIpVersionIsIgnored) {
    auto frame = build(tcp4());
    frame[14] = 0x65;  // IPv4 EtherType, version 6
    EXPECT_EQ(parse_frame(frame).reason(), IgnoreReason::bad_ip_version);
    auto frame6 = build(udp6());
    frame6[14] = 0x45;
    EXPECT_EQ(parse_frame(frame6).reason(), IgnoreReason::bad_ip_version);
}

TEST_F(Parser, BadIpv4HeaderLengthIsIgnored) {
    auto frame = build(tcp4());
    frame[14] = 0x44;  // 16-byte header
    EXPECT_EQ(parse_frame(frame).reason(), IgnoreReason::bad_header_length);
    frame[14] = 0x4f;  // 60-byte header, total length 50
    EXPECT_EQ(parse_frame(frame).reason(), IgnoreReason::bad_header_length);
}

TEST_F(Parser, TotalLengthBeyondTheFrameIsIgnored) {
    auto frame = build(tcp4());
    frame[16] = 0x05;  // total length 1330, frame holds 50
    EXPECT_EQ(parse_frame(frame).reason(), IgnoreReason::bad_total_length);
    auto frame6 = build(udp6());
    frame6[18] = 0x01;  // payload length 256 + 28
    EXPECT_EQ(parse_frame(frame6).reason(), IgnoreReason::bad_total_length);
}

TEST_F(Parser, AScatteredJumboFrameIsCheckedAgainstItsWholeLength) {
    Packet p = tcp4();
    p.payload = 8000;
    const auto frame = build(p);
    const std::vector<std::uint8_t> first_segment(frame.begin(), frame.begin() + 2048);
    const std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[first_segment.size()]);
    std::copy(first_segment.begin(), first_segment.end(), copy.get());
    const ParseResult r = parse(copy.get(), 2048, static_cast<std::uint32_t>(frame.size()),
                                LinkType::ethernet, 1000, fragments, decap, info, tunnel);
    ASSERT_TRUE(r.metered());
    EXPECT_EQ(info.ip_length, 20 + 20 + 8000);
    EXPECT_EQ(info.payload_length, 2048 - 14 - 40);
}

TEST_F(Parser, EthernetPaddingBeyondTheTotalLengthIsNotCounted) {
    Packet p = tcp4();
    p.payload = 0;
    auto frame = build(p);
    frame.resize(60, 0);  // a minimum frame: 6 bytes of padding
    ASSERT_TRUE(parse_frame(frame).metered());
    EXPECT_EQ(info.ip_length, 40);
    EXPECT_EQ(info.payload_length, 0);
}

TEST_F(Parser, L4HeaderBeyondTheIpPacketIsIgnored) {
    auto frame = build(tcp4());
    frame[16] = 0;
    frame[17] = 30;  // total length 30: 10 bytes of a 20-byte TCP header
    EXPECT_EQ(parse_frame(frame).reason(), IgnoreReason::truncated_l4);
}

TEST_F(Parser, TcpDataOffsetBelowFiveWordsIsIgnored) {
    auto frame = build(tcp4());
    frame[14 + 20 + 12] = 0x40;
    EXPECT_EQ(parse_frame(frame).reason(), IgnoreReason::bad_l4_header);
}

TEST_F(Parser, VlanIpv4TcpAtEveryLength) {
    Packet p = tcp4();
    p.vlans = {5};
    expect_truncations(build(p), 18, 18 + 20);
}

TEST_F(Parser, Ipv6WithExtensionsTcpAtEveryLength) {
    Packet p = udp6();
    p.protocol = kTcp;
    p.ipv6_extensions = {kHopByHop, kDestinationOptions};
    expect_truncations(build(p), 14, 14 + 40);
}

TEST_F(Parser, QinQMplsIpv4UdpAtEveryLength) {
    Packet p = tcp4();
    p.protocol = kUdp;
    p.vlans = {7, 8};
    p.outer_tag_type = 0x88a8;
    p.mpls_labels = 2;
    // The first IP byte, after the labels, tells the version: without it, the frame ends in L3.
    expect_truncations(build(p), 14 + 8 + 8, 14 + 8 + 8 + 20);
}

// The same packet behind each link layer of captures gives the key, lengths and payload that
// it gives as an Ethernet frame: only where its IP header begins differs.
TEST_F(Parser, EveryLinkTypeOfCapturesMetersThePacketAsEthernetDoes) {
    for (const LinkTypeInfo& l : kLinkTypes) {
        const Packet p = l.value == 229 ? udp6() : tcp4();
        const auto ethernet = build(p);
        ASSERT_TRUE(parse_frame(ethernet).metered());
        const PacketInfo want = info;
        const auto frame = reframe(ethernet, l.value);
        ASSERT_TRUE(parse_frame(frame, 1000, l.type).metered()) << l.name;
        EXPECT_EQ(info.key, want.key) << l.name;
        EXPECT_EQ(info.direction, want.direction) << l.name;
        EXPECT_EQ(info.ip_length, want.ip_length) << l.name;
        EXPECT_EQ(info.payload_length, want.payload_length) << l.name;
        EXPECT_EQ(info.payload_offset + ethernet.size(), want.payload_offset + frame.size())
            << l.name;
    }
}

TEST_F(Parser, LinkLayersInTheirOtherForms) {
    const auto ip = [] {
        const auto f = build(tcp4());
        return std::vector<std::uint8_t>(f.begin() + 14, f.end());
    }();
    auto behind = [&](std::vector<std::uint8_t> header) {
        header.insert(header.end(), ip.begin(), ip.end());
        return header;
    };
    // BSD loopback written on a big-endian host; AF_INET6 as FreeBSD and macOS number it.
    EXPECT_TRUE(parse_frame(behind({0, 0, 0, 2}), 1000, LinkType::bsd_null).metered());
    Packet v6 = udp6();
    auto v6_frame = build(v6);
    std::vector<std::uint8_t> macos{30, 0, 0, 0};
    macos.insert(macos.end(), v6_frame.begin() + 14, v6_frame.end());
    EXPECT_TRUE(parse_frame(macos, 1000, LinkType::bsd_null).metered());
    // PPP without the HDLC-like bytes, and with its protocol field compressed to one byte.
    EXPECT_TRUE(parse_frame(behind({0x00, 0x21}), 1000, LinkType::ppp).metered());
    EXPECT_TRUE(parse_frame(behind({0x21}), 1000, LinkType::ppp).metered());
    // Cisco HDLC in a file of PPP in HDLC-like framing (LINKTYPE 50 holds either).
    EXPECT_TRUE(parse_frame(behind({0x8f, 0x00, 0x08, 0x00}), 1000, LinkType::ppp_hdlc).metered());
    // A VLAN tag behind a Linux cooked header.
    auto tagged = reframe(build([&] {
                              Packet p = tcp4();
                              p.vlans = {42};
                              return p;
                          }()),
                          113);
    ASSERT_TRUE(parse_frame(tagged, 1000, LinkType::linux_sll).metered());
    EXPECT_EQ(info.key.head.vlan_id, 42);
}

TEST_F(Parser, WhatALinkLayerSaysIsNotIpIsIgnoredAsSuch) {
    auto arp = build(tcp4());
    arp[12] = 0x08, arp[13] = 0x06;
    EXPECT_EQ(parse_frame(reframe(arp, 113), 1000, LinkType::linux_sll).reason(),
              IgnoreReason::non_ip);
    EXPECT_EQ(parse_frame({7, 0, 0, 0, 0x45}, 1000, LinkType::bsd_null).reason(),
              IgnoreReason::non_ip);
    EXPECT_EQ(parse_frame({0xff, 0x03, 0xc0, 0x21, 1}, 1000, LinkType::ppp).reason(),
              IgnoreReason::non_ip)
        << "LCP";
    EXPECT_EQ(parse_frame(std::vector<std::uint8_t>(15, 0), 1000, LinkType::linux_sll).reason(),
              IgnoreReason::truncated_l2);
    EXPECT_EQ(parse_frame({}, 1000, LinkType::raw).reason(), IgnoreReason::truncated_l2);
    EXPECT_EQ(parse_frame(build(tcp4()), 1000, LinkType::unsupported).reason(),
              IgnoreReason::unsupported_link_type);
    auto v5 = reframe(build(tcp4()), 101);
    v5[0] = 0x55;
    EXPECT_EQ(parse_frame(v5, 1000, LinkType::raw).reason(), IgnoreReason::bad_ip_version);
}

TEST_F(Parser, AnIgnoredPacketWithAnIpHeaderSaysWhereItBegins) {
    auto frame = build(tcp4());
    frame[16] = 0x05, frame[17] = 0xdc;  // a total length beyond the frame
    ASSERT_EQ(parse_frame(frame).reason(), IgnoreReason::bad_total_length);
    EXPECT_TRUE(carries_ip(IgnoreReason::bad_total_length));
    EXPECT_EQ(info.l3_offset, 14);
    ASSERT_EQ(parse_frame(reframe(frame, 276), 1000, LinkType::linux_sll2).reason(),
              IgnoreReason::bad_total_length);
    EXPECT_EQ(info.l3_offset, 20);
    ASSERT_EQ(parse_frame(reframe(frame, 101), 1000, LinkType::raw).reason(),
              IgnoreReason::bad_total_length);
    EXPECT_EQ(info.l3_offset, 0);
    for (const IgnoreReason r :
         {IgnoreReason::truncated_l2, IgnoreReason::unsupported_link_type, IgnoreReason::non_ip,
          IgnoreReason::too_many_vlan_tags, IgnoreReason::too_many_mpls_labels})
        EXPECT_FALSE(carries_ip(r)) << kIgnoreReasonNames[static_cast<unsigned>(r)].name;
}

// parse() takes the commonest packets (untagged Ethernet, IPv4 without options or IPv6 without
// extension headers, TCP or UDP) a short way: whatever a frame holds, it must say and write exactly
// what the long way does. Each byte of the headers set to values near the short way's edges, each
// bit flipped, and every cut.
TEST_F(Parser, ShortWayAgreesWithTheLongWayByteForByte) {
    Packet udp = tcp4();
    udp.protocol = kUdp;
    Packet to_vxlan = udp;
    to_vxlan.dst_port = 4789;  // a tunnel's port: the long way looks inside
    Packet not_a_tunnel = udp;
    not_a_tunnel.dst_port = 4789 + 64;  // the same low 6 bits as a tunnel's port
    Packet tcp6 = udp6();
    tcp6.protocol = kTcp;
    tcp6.tcp_flags = tcp::ack;
    FragmentMap long_fragments{HashKey{{1, 2, 3, 4, 5, 6, 7, 8}}};
    unsigned compared = 0, metered = 0;
    const auto compare = [&](const std::vector<std::uint8_t>& frame, std::uint32_t frame_length) {
        // Exactly the frame's bytes, as parse_frame copies them: AddressSanitizer sees a read past.
        const std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[frame.size()]);
        std::copy(frame.begin(), frame.end(), copy.get());
        const auto size = static_cast<std::uint32_t>(frame.size());
        PacketInfo a, b;
        TunnelInfo ta, tb;
        std::memset(&a, 0xa5, sizeof(a));
        std::memset(&b, 0xa5, sizeof(b));
        std::memset(&ta, 0x5a, sizeof(ta));
        std::memset(&tb, 0x5a, sizeof(tb));
        const ParseResult x = parse(copy.get(), size, frame_length, LinkType::ethernet, 1000,
                                    fragments, decap, a, ta);
        const ParseResult y = detail::parse_every_way(
            copy.get(), size, frame_length, LinkType::ethernet, 1000, long_fragments, decap, b, tb);
        ASSERT_EQ(x.metered(), y.metered());
        if (x.metered()) {
            ASSERT_EQ(x.fragment(), y.fragment());
        } else {
            ASSERT_EQ(x.reason(), y.reason());
        }
        ASSERT_EQ(std::memcmp(&a, &b, sizeof(a)), 0);
        ASSERT_EQ(std::memcmp(&ta, &tb, sizeof(ta)), 0);
        ++compared;
        metered += x.metered();
    };
    for (const Packet& p : {tcp4(), udp, to_vxlan, not_a_tunnel, udp6(), tcp6}) {
        const std::vector<std::uint8_t> frame = build(p);
        const auto size = static_cast<std::uint32_t>(frame.size());
        compare(frame, size);
        compare(frame, size + 100);  // a scattered frame: more on the wire than in hand
        for (std::size_t at = 0; at < std::min<std::size_t>(frame.size(), 14 + 40 + 20); ++at) {
            for (const std::uint8_t v : {0x00, 0x01, 0x05, 0x06, 0x11, 0x13, 0x14, 0x20, 0x40, 0x45,
                                         0x46, 0x50, 0x60, 0x80, 0x86, 0xdd, 0xff}) {
                std::vector<std::uint8_t> f = frame;
                f[at] = v;
                compare(f, size);
            }
            for (unsigned bit = 0; bit < 8; ++bit) {
                std::vector<std::uint8_t> f = frame;
                f[at] ^= static_cast<std::uint8_t>(1u << bit);
                compare(f, size);
            }
        }
        for (std::size_t len = 0; len < frame.size(); ++len)
            compare(
                std::vector<std::uint8_t>(frame.begin(), frame.begin() + static_cast<long>(len)),
                static_cast<std::uint32_t>(len));
    }
    EXPECT_GT(compared, 3000u);
    EXPECT_GT(metered, 1000u);  // most mutations leave a packet to meter, not an error
}

}  // namespace
}  // namespace sluice::meter
