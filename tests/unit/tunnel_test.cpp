// The parser's decapsulation: each tunnel, with the inner key exact at every length a capture
// may cut the frame at, and the tunnels' identities, depths and settings.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dataplane/meter/parser.hpp"
#include "tools/pktgen/packet.hpp"

namespace sluice::meter {
namespace {

using namespace sluice::pktgen;
using Kind = Tunnel::Kind;

std::string reason_name(IgnoreReason r) {
    return std::string(kIgnoreReasonNames[static_cast<unsigned>(r)].name);
}

class Tunnels : public ::testing::Test {
protected:
    // Parses the first `length` bytes of `frame` as a capture that cut it there holds them
    // (the frame's length is the whole one's), from a copy of exactly those bytes, so that
    // AddressSanitizer sees any read past them.
    ParseResult parse_cut(const std::vector<std::uint8_t>& frame, std::size_t length) {
        const std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[length + 1]);
        std::copy(frame.begin(), frame.begin() + static_cast<long>(length), copy.get());
        return parse(copy.get(), static_cast<std::uint32_t>(length),
                     static_cast<std::uint32_t>(frame.size()), LinkType::ethernet, 1000, fragments,
                     decap, info, found);
    }
    ParseResult parse_frame(const std::vector<std::uint8_t>& frame) {
        return parse_cut(frame, frame.size());
    }

    static Packet udp4() {
        Packet p;
        p.src = ipv4(10, 1, 0, 2);
        p.dst = ipv4(10, 1, 0, 1);
        p.protocol = kUdp;
        p.src_port = 40000;
        p.dst_port = 53;
        p.ttl = 61;
        p.payload = 30;
        return p;
    }
    static Packet tcp6() {
        Packet p;
        p.ip_version = 6;
        p.src = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        p.dst = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
        p.protocol = kTcp;
        p.src_port = 50000;
        p.dst_port = 443;
        p.tcp_flags = tcp::syn;
        p.ttl = 9;
        p.payload = 12;
        return p;
    }

    // The inner packet's key and fields as the parser gives them for the packet alone.
    PacketInfo alone(const Packet& p) {
        const Decapsulation saved = decap;
        decap = {};
        EXPECT_TRUE(parse_frame(build(p)).metered());
        decap = saved;
        return info;
    }

    FragmentMap fragments{HashKey{{1, 2, 3, 4, 5, 6, 7, 8}}};
    Decapsulation decap = decapsulation(kAllTunnels, kAllTunnels);
    PacketInfo info{};
    TunnelInfo found{};
};

// One tunnel case: the inner packet, the tunnel, and where each layer of the frame ends, with
// the reason a capture cut before that end is ignored for.
struct Case {
    std::string name;
    Packet inner;
    Tunnel tunnel;
    std::vector<std::pair<std::size_t, IgnoreReason>> layers;
    TunnelType type;
    std::uint32_t id;
};

std::vector<std::pair<std::size_t, IgnoreReason>> layers(std::size_t outer_l3, bool udp,
                                                         std::size_t tunnel, bool ethernet,
                                                         std::size_t inner_l3,
                                                         std::size_t inner_l4) {
    std::vector<std::pair<std::size_t, IgnoreReason>> out;
    std::size_t at = 14;
    out.push_back({at, IgnoreReason::truncated_l2});
    out.push_back({at += outer_l3, IgnoreReason::truncated_l3});
    if (udp) out.push_back({at += 8, IgnoreReason::truncated_l4});
    out.push_back({at += tunnel, IgnoreReason::truncated_tunnel});
    if (ethernet) out.push_back({at += 14, IgnoreReason::truncated_l2});
    out.push_back({at += inner_l3, IgnoreReason::truncated_l3});
    out.push_back({at += inner_l4, IgnoreReason::truncated_l4});
    return out;
}

Tunnel tunnel(Kind kind, std::uint32_t id = 0) {
    Tunnel t;
    t.kind = kind;
    t.id = id;
    return t;
}

Tunnel over_ipv6(Tunnel t) {
    t.ip_version = 6;
    t.src = ipv6(0xfd00, 0, 0, 0, 0, 0, 0, 0x11);
    t.dst = ipv6(0xfd00, 0, 0, 0, 0, 0, 0, 0x12);
    return t;
}

std::vector<Case> cases() {
    const Packet u4 = [] {
        Packet p;
        p.src = ipv4(10, 1, 0, 2);
        p.dst = ipv4(10, 1, 0, 1);
        p.protocol = kUdp;
        p.src_port = 40000;
        p.dst_port = 53;
        p.payload = 30;
        return p;
    }();
    Packet t6;
    t6.ip_version = 6;
    t6.src = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    t6.dst = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    t6.protocol = kTcp;
    t6.src_port = 50000;
    t6.dst_port = 443;
    t6.tcp_flags = tcp::syn;
    t6.payload = 12;

    std::vector<Case> out;
    out.push_back(
        {"gre", u4, tunnel(Kind::gre), layers(20, false, 4, false, 20, 8), TunnelType::gre, 0});
    Tunnel keyed = over_ipv6(tunnel(Kind::gre, 0xdeadbeef));
    keyed.key = keyed.checksum = keyed.sequence = true;
    out.push_back({"gre-key-checksum-sequence-ipv6", t6, keyed,
                   layers(40, false, 16, false, 40, 20), TunnelType::gre, 0xdeadbeef});
    Tunnel nvgre = tunnel(Kind::gre, 0x00123401);
    nvgre.key = nvgre.ethernet = true;
    out.push_back({"gre-ethernet", u4, nvgre, layers(20, false, 8, true, 20, 8), TunnelType::gre,
                   0x00123401});
    out.push_back({"erspan-1", u4, tunnel(Kind::erspan1), layers(20, false, 4, true, 20, 8),
                   TunnelType::erspan, 0});
    out.push_back({"erspan-2", t6, tunnel(Kind::erspan2, 777),
                   layers(20, false, 8 + 8, true, 40, 20), TunnelType::erspan, 777});
    out.push_back({"erspan-3", u4, over_ipv6(tunnel(Kind::erspan3, 1023)),
                   layers(40, false, 8 + 12, true, 20, 8), TunnelType::erspan, 1023});
    Tunnel platform = tunnel(Kind::erspan3, 5);
    platform.erspan_subheader = true;
    out.push_back({"erspan-3-subheader", u4, platform, layers(20, false, 8 + 20, true, 20, 8),
                   TunnelType::erspan, 5});
    out.push_back({"vxlan", u4, tunnel(Kind::vxlan, 0xabcdef), layers(20, true, 8, true, 20, 8),
                   TunnelType::vxlan, 0xabcdef});
    out.push_back({"vxlan-ipv6", t6, over_ipv6(tunnel(Kind::vxlan, 42)),
                   layers(40, true, 8, true, 40, 20), TunnelType::vxlan, 42});
    Tunnel geneve = tunnel(Kind::geneve, 0x10203);
    geneve.ethernet = true;
    geneve.geneve_option_words = 3;
    out.push_back({"geneve-options", u4, geneve, layers(20, true, 8 + 12, true, 20, 8),
                   TunnelType::geneve, 0x10203});
    out.push_back({"geneve-ip", t6, tunnel(Kind::geneve, 9), layers(20, true, 8, false, 40, 20),
                   TunnelType::geneve, 9});
    out.push_back({"gtpu", u4, tunnel(Kind::gtpu, 0x11223344), layers(20, true, 8, false, 20, 8),
                   TunnelType::gtpu, 0x11223344});
    Tunnel sequenced = tunnel(Kind::gtpu, 7);
    sequenced.gtpu_sequence = true;
    out.push_back(
        {"gtpu-sequence", t6, sequenced, layers(20, true, 12, false, 40, 20), TunnelType::gtpu, 7});
    Tunnel extended = over_ipv6(tunnel(Kind::gtpu, 8));
    extended.gtpu_extensions = 2;
    out.push_back({"gtpu-extensions", u4, extended, layers(40, true, 12 + 8, false, 20, 8),
                   TunnelType::gtpu, 8});
    out.push_back({"ipv4-in-ipv4", u4, tunnel(Kind::ipip), layers(20, false, 0, false, 20, 8),
                   TunnelType::ipip, 0});
    out.push_back({"ipv6-in-ipv4", t6, tunnel(Kind::ipip), layers(20, false, 0, false, 40, 20),
                   TunnelType::ipip, 0});
    out.push_back({"ipv6-in-ipv6", t6, over_ipv6(tunnel(Kind::ipip)),
                   layers(40, false, 0, false, 40, 20), TunnelType::ipip, 0});
    out.push_back({"ipv4-in-ipv6", u4, over_ipv6(tunnel(Kind::ipip)),
                   layers(40, false, 0, false, 20, 8), TunnelType::ipip, 0});
    return out;
}

TEST_F(Tunnels, EachTunnelGivesTheInnerKeyAtEveryLengthACaptureCutsItAt) {
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.name);
        const PacketInfo want = alone(c.inner);
        const auto frame = encapsulate(build(c.inner), c.tunnel);
        ASSERT_EQ(c.layers.back().first + c.inner.payload, frame.size());
        for (std::size_t length = 0; length <= frame.size(); ++length) {
            SCOPED_TRACE("length " + std::to_string(length));
            const ParseResult r = parse_cut(frame, length);
            IgnoreReason expected{};
            bool cut = false;
            for (const auto& [end, reason] : c.layers)
                if (length < end) {
                    expected = reason;
                    cut = true;
                    break;
                }
            if (cut) {
                ASSERT_FALSE(r.metered());
                EXPECT_EQ(reason_name(r.reason()), reason_name(expected));
                // What is ignored from the tunnel's header on is counted with the outer IP
                // packet's octets.
                if (length >= c.layers[1].first) {
                    EXPECT_EQ(info.l3_offset, 14);
                }
                continue;
            }
            ASSERT_TRUE(r.metered());
            EXPECT_EQ(info.key.address(0), want.key.address(0));
            EXPECT_EQ(info.key.address(1), want.key.address(1));
            EXPECT_EQ(info.key.head.port[0], want.key.head.port[0]);
            EXPECT_EQ(info.key.head.port[1], want.key.head.port[1]);
            EXPECT_EQ(info.key.head.protocol, want.key.head.protocol);
            EXPECT_EQ(info.key.head.ip_version, want.key.head.ip_version);
            EXPECT_EQ(info.key.head.vlan_id, 0);
            EXPECT_EQ(info.key.head.tunneled, 1);
            EXPECT_EQ(info.direction, want.direction);
            EXPECT_EQ(info.ip_length, want.ip_length);  // the inner packet's octets
            EXPECT_EQ(info.tcp_flags, want.tcp_flags);
            EXPECT_EQ(info.payload_offset, c.layers.back().first);
            EXPECT_EQ(info.payload_length, length - c.layers.back().first);
            EXPECT_EQ(info.wire_payload_length, c.inner.payload);
            EXPECT_EQ(found.type, c.type);
            EXPECT_EQ(found.id, c.id);
            EXPECT_EQ(info.tunnel_depth, 1);
            EXPECT_EQ(found.outer_offset, 14);
            EXPECT_EQ(
                found.erspan_session,
                c.type == TunnelType::erspan && c.tunnel.kind != Kind::erspan1 ? c.id + 1 : 0u);
        }
    }
}

TEST_F(Tunnels, TheSameConversationInTwoTenantsHasTheSameKeyButNotTheSameIdentity) {
    ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), tunnel(Kind::vxlan, 100))).metered());
    const PacketInfo first = info;
    const std::uint64_t first_identity = found.identity;
    ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), tunnel(Kind::vxlan, 200))).metered());
    EXPECT_EQ(info.key, first.key);
    EXPECT_EQ(first_identity, std::uint64_t{3} << 48 | 100);
    EXPECT_EQ(found.identity, std::uint64_t{3} << 48 | 200);
}

TEST_F(Tunnels, ATunnelOutsideTunnelKeyDoesNotKeyTheFlow) {
    decap = decapsulation(kAllTunnels, tunnel_bit(TunnelType::gtpu));
    ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), tunnel(Kind::vxlan, 100))).metered());
    EXPECT_EQ(info.key.head.tunneled, 0);
    EXPECT_EQ(found.identity, 0u);
    EXPECT_EQ(found.type, TunnelType::vxlan);  // still taken out of it
    EXPECT_EQ(found.id, 100u);
}

TEST_F(Tunnels, BothDirectionsInsideMeetInOneKey) {
    Packet p = tcp6();
    Tunnel t = tunnel(Kind::vxlan, 5);
    ASSERT_TRUE(parse_frame(encapsulate(build(p), t)).metered());
    const PacketInfo forward = info;
    const std::uint64_t forward_identity = found.identity;
    std::swap(p.src, p.dst);
    std::swap(p.src_port, p.dst_port);
    std::swap(t.src, t.dst);
    t.source_port = 50001;  // the other VTEP's entropy port
    ASSERT_TRUE(parse_frame(encapsulate(build(p), t)).metered());
    EXPECT_EQ(info.key, forward.key);
    EXPECT_EQ(found.identity, forward_identity);
    EXPECT_NE(info.direction, forward.direction);
}

TEST_F(Tunnels, AnErspanSessionKeysTheTunnelsInsideIt) {
    // A remote mirror session of a VXLAN fabric: the VXLAN is the tunnel, the session apart.
    const auto vxlan = encapsulate(build(udp4()), tunnel(Kind::vxlan, 77));
    Tunnel mirror = tunnel(Kind::erspan2, 12);
    mirror.src = ipv4(198, 51, 100, 1);
    ASSERT_TRUE(parse_frame(encapsulate(vxlan, mirror)).metered());
    EXPECT_EQ(found.type, TunnelType::vxlan);
    EXPECT_EQ(found.id, 77u);
    EXPECT_EQ(info.tunnel_depth, 2);
    EXPECT_EQ(found.erspan_session, 13);
    EXPECT_EQ(found.identity, std::uint64_t{3} << 48 | std::uint64_t{13} << 32 | 77);
    // The VXLAN's outer IP header: after the ERSPAN's Ethernet, IPv4, GRE, ERSPAN, Ethernet.
    EXPECT_EQ(found.outer_offset, 14 + 20 + 8 + 8 + 14);
    EXPECT_EQ(info.l3_offset, 14);
}

TEST_F(Tunnels, ErspansVlanFieldIsTheKeysWhenTheMirroredFrameHasNoTag) {
    Tunnel t = tunnel(Kind::erspan2, 1);
    t.erspan_vlan = 300;
    ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), t)).metered());
    EXPECT_EQ(info.key.head.vlan_id, 300);
    Packet tagged = udp4();
    tagged.vlans = {20};
    ASSERT_TRUE(parse_frame(encapsulate(build(tagged), t)).metered());
    EXPECT_EQ(info.key.head.vlan_id, 20);
}

TEST_F(Tunnels, TheInnerFramesVlanIsTheKeys) {
    Packet tagged = udp4();
    tagged.vlans = {55};
    ASSERT_TRUE(parse_frame(encapsulate(build(tagged), tunnel(Kind::vxlan, 1))).metered());
    EXPECT_EQ(info.key.head.vlan_id, 55);
}

TEST_F(Tunnels, APacketInMoreTunnelsThanTheDepthIsIgnored) {
    auto frame = build(udp4());
    for (int i = 0; i < 3; ++i) frame = encapsulate(frame, tunnel(Kind::vxlan, i));
    ASSERT_TRUE(parse_frame(frame).metered());
    EXPECT_EQ(info.tunnel_depth, 3);
    EXPECT_EQ(found.id, 0u);  // the innermost
    frame = encapsulate(frame, tunnel(Kind::vxlan, 3));
    const ParseResult r = parse_frame(frame);
    ASSERT_FALSE(r.metered());
    EXPECT_EQ(reason_name(r.reason()), "tunnel_too_deep");
    EXPECT_EQ(info.l3_offset, 14);
    decap = decapsulation(kAllTunnels, kAllTunnels, 1);
    EXPECT_EQ(reason_name(parse_frame(encapsulate(encapsulate(build(udp4()), tunnel(Kind::gre)),
                                                  tunnel(Kind::ipip)))
                              .reason()),
              "tunnel_too_deep");
}

TEST_F(Tunnels, ATunnelNotDecapsulatedIsMeteredAsItsOuterPacket) {
    decap = decapsulation(kAllTunnels & ~tunnel_bit(TunnelType::vxlan), kAllTunnels);
    ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), tunnel(Kind::vxlan, 1))).metered());
    EXPECT_EQ(info.tunnel_depth, 0);
    EXPECT_EQ(info.key.head.tunneled, 0);
    EXPECT_EQ(info.key.address(0), ipv4(192, 0, 2, 1));
    EXPECT_EQ(info.key.head.port[1], 4789);
    EXPECT_EQ(info.ip_length, 20 + 8 + 8 + 14 + 20 + 8 + 30);
}

TEST_F(Tunnels, ErspanIsTakenOutOfGreEvenWhenGreIsNot) {
    decap = decapsulation(tunnel_bit(TunnelType::erspan), kAllTunnels);
    ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), tunnel(Kind::erspan2, 3))).metered());
    EXPECT_EQ(found.type, TunnelType::erspan);
    ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), tunnel(Kind::gre))).metered());
    EXPECT_EQ(info.tunnel_depth, 0);
    EXPECT_EQ(info.key.head.protocol, kGre);
}

TEST_F(Tunnels, TheUdpPortsAreTheConfiguredOnes) {
    Tunnel t = tunnel(Kind::vxlan, 9);
    t.port = 8472;  // Linux's VXLAN port before IANA's
    ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), t)).metered());
    EXPECT_EQ(info.tunnel_depth, 0);
    decap = decapsulation(kAllTunnels, kAllTunnels, 3, 8472);
    ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), t)).metered());
    EXPECT_EQ(found.type, TunnelType::vxlan);
    EXPECT_EQ(found.id, 9u);
}

TEST_F(Tunnels, WhatIsNotATunnelsPacketIsMeteredAsItIs) {
    // VXLAN without its I flag, a GTP-U echo request, GRE version 1 (PPTP), an ERSPAN II header
    // of another version: metered as the outer packet they are.
    auto vxlan = encapsulate(build(udp4()), tunnel(Kind::vxlan, 1));
    vxlan[14 + 20 + 8] = 0;
    auto echo = encapsulate(build(udp4()), tunnel(Kind::gtpu, 1));
    echo[14 + 20 + 8 + 1] = 1;
    auto pptp = encapsulate(build(udp4()), tunnel(Kind::gre));
    pptp[14 + 20 + 1] = 1;
    auto erspan = encapsulate(build(udp4()), tunnel(Kind::erspan2, 1));
    erspan[14 + 20 + 8] = 0x30;
    for (const auto* frame : {&vxlan, &echo, &pptp, &erspan}) {
        ASSERT_TRUE(parse_frame(*frame).metered());
        EXPECT_EQ(info.tunnel_depth, 0);
        EXPECT_EQ(info.key.address(0), ipv4(192, 0, 2, 1));
    }
}

TEST_F(Tunnels, AFragmentOfATunnelsPacketIsMeteredAsTheOuterPacket) {
    // Its inner headers may be in another fragment: the fragments stay one outer flow.
    auto frame = encapsulate(build(udp4()), tunnel(Kind::vxlan, 1));
    frame[14 + 6] = 0x20;  // more fragments
    ASSERT_TRUE(parse_frame(frame).metered());
    EXPECT_EQ(info.tunnel_depth, 0);
    EXPECT_EQ(info.key.head.port[1], 4789);
}

TEST_F(Tunnels, ANonIpFrameInsideIsIgnoredWithTheOuterPacketsOctets) {
    auto arp = build(udp4());
    arp[12] = 0x08, arp[13] = 0x06;
    const ParseResult r = parse_frame(encapsulate(arp, tunnel(Kind::vxlan, 1)));
    ASSERT_FALSE(r.metered());
    EXPECT_EQ(reason_name(r.reason()), "non_ip");
    EXPECT_EQ(info.tunnel_depth, 1);
    EXPECT_EQ(info.l3_offset, 14);
}

TEST_F(Tunnels, AnInnerPacketLongerThanItsTunnelIsIgnored) {
    auto frame = encapsulate(build(udp4()), tunnel(Kind::ipip));
    frame[14 + 20 + 3] += 1;  // the inner total length, one past the outer packet's end
    const ParseResult r = parse_frame(frame);
    ASSERT_FALSE(r.metered());
    EXPECT_EQ(reason_name(r.reason()), "bad_total_length");
}

TEST_F(Tunnels, NothingIsDecapsulatedWhenNoTunnelIsOn) {
    decap = {};
    for (const Kind k :
         {Kind::gre, Kind::erspan2, Kind::vxlan, Kind::geneve, Kind::gtpu, Kind::ipip}) {
        ASSERT_TRUE(parse_frame(encapsulate(build(udp4()), tunnel(k, 1))).metered());
        EXPECT_EQ(info.tunnel_depth, 0);
        EXPECT_EQ(info.key.address(0), ipv4(192, 0, 2, 1));
    }
}

}  // namespace
}  // namespace sluice::meter
