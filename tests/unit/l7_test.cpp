// Metadata extraction: the TLS hellos read field by field, their JA3 and JA4, QUIC's Initial
// protection (RFC 9001's worked example), and the extractor behind a flow table: a conversation's
// record carries what its first payloads said.
#include "tools/pktgen/l7.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/l7/dns.hpp"
#include "dataplane/l7/extractor.hpp"
#include "dataplane/l7/http.hpp"
#include "dataplane/l7/quic.hpp"
#include "dataplane/l7/tls.hpp"
#include "dataplane/meter/flow_table.hpp"
#include "sluice/metadata.hpp"
#include "tools/pktgen/packet.hpp"

namespace sluice::l7 {
namespace {

using namespace pktgen;

std::span<const std::uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The ClientHello in `stream`, read: its views are into `stream`, which must outlive it.
ClientHello client_hello(const std::string& stream) {
    static std::uint8_t scratch[16384];
    std::span<const std::uint8_t> body;
    EXPECT_EQ(handshake_message(bytes(stream), 1, scratch, body), Parse::complete);
    ClientHello h;
    EXPECT_EQ(parse_client_hello(body, h), Parse::complete);
    return h;
}

TEST(Tls, AClientHelloGivesItsServerNameAlpnVersionsAndLists) {
    const std::string h_stream = tls_client_hello(browser_hello("www.example.com"));
    const ClientHello h = client_hello(h_stream);
    EXPECT_EQ(h.server_name, "www.example.com");
    EXPECT_EQ(h.version, 0x0303);
    EXPECT_EQ(h.offered_version(), 0x0304) << "the highest of supported_versions, GREASE out";
    EXPECT_EQ(h.ciphers.count, 16u);
    EXPECT_EQ(h.extensions.count, 18u);
    EXPECT_EQ(h.signature_algorithms.count, 8u);
    ASSERT_TRUE(h.has_alpn);
    EXPECT_EQ(std::string(h.alpn.begin(), h.alpn.end()), std::string("\x02h2\x08http/1.1"));
}

TEST(Tls, Ja3IsTheMd5OfVersionCiphersExtensionsGroupsAndFormatsWithoutGrease) {
    const std::string h_stream = tls_client_hello(browser_hello("www.example.com"));
    const ClientHello h = client_hello(h_stream);
    char text[512];
    const std::size_t n = ja3_string(h, text);
    EXPECT_EQ(std::string(text, n),
              "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
              "27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0");
    Digests d;
    char hash[32];
    ja3(h, d, hash);
    EXPECT_EQ(std::string(hash, 32), "c000e2caf3a25423f9de6c8a4b12a975");  // hashlib.md5
}

TEST(Tls, Ja4MatchesFoxIosWorkedExample) {
    const std::string h_stream = tls_client_hello(browser_hello("www.example.com"));
    const ClientHello h = client_hello(h_stream);
    Digests d;
    char out[36];
    EXPECT_EQ(std::string(out, ja4(h, 't', d, out)), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    ClientHelloSpec bare;  // no SNI, no ALPN, no extensions, no ciphers
    bare.version = 0x0301;
    const std::string b_stream = tls_client_hello(bare);
    const ClientHello b = client_hello(b_stream);
    EXPECT_EQ(std::string(out, ja4(b, 'q', d, out)), "q10i000000_000000000000_000000000000");
}

TEST(Tls, Ja4TakesHexDigitsOfAnAlpnThatIsNotAlphanumeric) {
    ClientHelloSpec spec = browser_hello("a.example");
    spec.alpn = {std::string("\xab\xcd", 2)};
    const std::string h_stream = tls_client_hello(spec);
    const ClientHello h = client_hello(h_stream);
    Digests d;
    char out[36];
    EXPECT_EQ(std::string(out, ja4(h, 't', d, out)).substr(0, 10), "t13d1516ad");
}

TEST(Tls, AHandshakeSplitOverRecordsIsGathered) {
    const std::string stream = tls_client_hello(browser_hello("split.example"), 100);
    ASSERT_GT(stream.size(), 300u);
    EXPECT_EQ(client_hello(stream).server_name, "split.example");
    std::uint8_t scratch[16384];
    std::span<const std::uint8_t> body;
    EXPECT_EQ(handshake_message(bytes(stream).first(250), 1, scratch, body), Parse::incomplete);
    EXPECT_EQ(handshake_message(bytes(stream), 1, {scratch, 64}, body), Parse::beyond);
}

TEST(Tls, AServerHelloGivesTheSelectedVersionAndCipher) {
    const std::string stream = tls_server_hello(0x0303, 0x1301, 0x0304);
    std::uint8_t scratch[16384];
    std::span<const std::uint8_t> body;
    ASSERT_EQ(handshake_message(bytes(stream), 2, scratch, body), Parse::complete);
    ServerHello h;
    ASSERT_EQ(parse_server_hello(body, h), Parse::complete);
    EXPECT_EQ(h.cipher, 0x1301);
    EXPECT_EQ(h.negotiated(), 0x0304);
}

TEST(Tls, EveryCutOfAClientHelloIsIncompleteAndEveryLyingLengthMalformedNeverBeyondItsBytes) {
    const std::string stream = tls_client_hello(browser_hello("www.example.com"));
    std::uint8_t scratch[16384];
    for (std::size_t n = 0; n < stream.size(); ++n) {
        std::span<const std::uint8_t> body;
        EXPECT_EQ(handshake_message(bytes(stream).first(n), 1, scratch, body), Parse::incomplete)
            << n;
    }
    std::span<const std::uint8_t> body;
    ASSERT_EQ(handshake_message(bytes(stream), 1, scratch, body), Parse::complete);
    // Each length byte of the body raised: the parser says malformed, reading nothing past it.
    std::vector<std::uint8_t> copy(body.begin(), body.end());
    for (std::size_t i = 0; i < copy.size(); ++i) {
        auto bad = copy;
        bad[i] = 0xff;
        ClientHello h;
        const Parse p = parse_client_hello({bad.data(), bad.size()}, h);
        EXPECT_TRUE(p == Parse::complete || p == Parse::malformed) << i;
    }
}

TEST(Http, ARequestGivesItsMethodTargetHostAndUserAgent) {
    const std::string r = http_request("GET", "/a/b?c=d", "www.example.com", "curl/7.88.1");
    HttpRequest h;
    ASSERT_EQ(parse_http_request(bytes(r), h), Parse::complete);
    EXPECT_EQ(h.method, "GET");
    EXPECT_EQ(h.target, "/a/b?c=d");
    EXPECT_EQ(h.host, "www.example.com");
    EXPECT_EQ(h.user_agent, "curl/7.88.1");
    for (std::size_t n = 0; n < r.size(); ++n) {
        HttpRequest cut;
        const Parse p = parse_http_request(bytes(r).first(n), cut);
        EXPECT_TRUE(p == Parse::incomplete || (n < 4 && p == Parse::other)) << n;
    }
}

TEST(Http, AHeaderNameIsReadWhateverItsCaseAndItsValueTrimmed) {
    const std::string r = "POST /x HTTP/1.0\r\nhOsT:   a.example \t\r\nuser-AGENT: ua\r\n\r\n";
    HttpRequest h;
    ASSERT_EQ(parse_http_request(bytes(r), h), Parse::complete);
    EXPECT_EQ(h.host, "a.example");
    EXPECT_EQ(h.user_agent, "ua");
}

TEST(Http, WhatIsNotAnHttp1RequestIsOtherOrMalformed) {
    HttpRequest h;
    EXPECT_EQ(parse_http_request(bytes("GET / HTTP/2.0\r\n\r\n"), h), Parse::other);
    EXPECT_EQ(parse_http_request(bytes("GETX / HTTP/1.1\r\n\r\n"), h), Parse::other);
    EXPECT_EQ(parse_http_request(bytes("GET / HTTP/1.1\r\nno colon\r\n\r\n"), h), Parse::malformed);
}

TEST(Http, AStatusLineGivesItsCode) {
    std::uint16_t status = 0;
    EXPECT_EQ(parse_http_status(bytes(http_response(404, 10)), status), Parse::complete);
    EXPECT_EQ(status, 404);
    EXPECT_EQ(parse_http_status(bytes("HTTP/1.1 2"), status), Parse::incomplete);
    EXPECT_EQ(parse_http_status(bytes("HTTP/1.1 2x0 OK\r\n"), status), Parse::malformed);
    EXPECT_EQ(parse_http_status(bytes("SSH-2.0\r\n"), status), Parse::other);
}

TEST(Http, PipelinedRequestsInOnePayloadAreEachCounted) {
    const std::string two =
        http_request("GET", "/1", "h", "") + http_request("HEAD", "/2", "h", "");
    EXPECT_EQ(http_requests_in(bytes(two)), 2u);
    EXPECT_EQ(http_requests_in(bytes("continued body")), 0u);
}

TEST(Dns, AQueryGivesItsNameAndType) {
    DnsMessage m;
    ASSERT_EQ(parse_dns(bytes(dns_query(7, "www.example.com", 28)), 4, m), Parse::complete);
    EXPECT_FALSE(m.response);
    EXPECT_EQ(std::string(m.name.begin(), m.name.begin() + m.name_length), "www.example.com");
    EXPECT_EQ(m.labels, 3u);
    EXPECT_EQ(m.type, 28);
}

TEST(Dns, AResponseGivesItsCodeAndItsAddressesWithinTheBound) {
    const std::vector<DnsAnswer> answers = {{1, {192, 0, 2, 1}},
                                            {5, {3, 'c', 'd', 'n', 0}},
                                            {28, std::vector<std::uint8_t>(16, 0x20)},
                                            {1, {192, 0, 2, 2}}};
    DnsMessage m;
    ASSERT_EQ(parse_dns(bytes(dns_response(7, "a.example", 1, 0, answers)), 2, m), Parse::complete);
    EXPECT_TRUE(m.response);
    EXPECT_EQ(m.response_code, 0);
    EXPECT_EQ(m.answer_count, 2u) << "the A and the AAAA; the CNAME is no address; two at most";
    EXPECT_EQ(m.answers_length, 1u + 4 + 1 + 16);
    DnsMessage nx;
    ASSERT_EQ(parse_dns(bytes(dns_response(8, "no.example", 1, 3, {})), 4, nx), Parse::complete);
    EXPECT_EQ(nx.response_code, 3);
}

TEST(Dns, APointerLoopAndEveryCutAreMalformedNeverARead) {
    std::string loop = dns_query(1, "a", 1);
    loop[12] = static_cast<char>(0xc0);  // the name points at itself
    loop[13] = 12;
    DnsMessage m;
    EXPECT_EQ(parse_dns(bytes(loop), 4, m), Parse::malformed);
    const std::string r = dns_response(7, "www.example.com", 1, 0, {{1, {192, 0, 2, 1}}});
    for (std::size_t n = 0; n < r.size(); ++n) {
        DnsMessage cut;
        EXPECT_EQ(parse_dns(bytes(r).first(n), 4, cut), Parse::malformed) << n;
    }
}

// RFC 9001 appendix A: the keys of Destination Connection ID 8394c8f03e515708, and the
// client's first Initial packet.
std::vector<std::uint8_t> from_hex(std::string_view hex) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(
            static_cast<std::uint8_t>(std::stoul(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}
std::string to_hex(std::span<const std::uint8_t> b) {
    std::string out;
    char two[3];
    for (const std::uint8_t x : b) std::snprintf(two, sizeof(two), "%02x", x), out += two;
    return out;
}
const std::vector<std::uint8_t> kRfcConnectionId = from_hex("8394c8f03e515708");
// Its CRYPTO frame: a ClientHello for example.com offering ALPN "alpn", unpadded.
const std::vector<std::uint8_t> kRfcFrames = from_hex(
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806048000ffff");

TEST(Quic, InitialKeysAreRfc9001s) {
    QuicCrypto crypto;
    const QuicKeys client = crypto.initial_keys(kRfcConnectionId, true);
    EXPECT_EQ(to_hex(client.key), "1f369613dd76d5467730efcbe3b1a22d");
    EXPECT_EQ(to_hex(client.iv), "fa044b2f42a3fd3b46fb255c");
    EXPECT_EQ(to_hex(client.hp), "9f50449e04a0e810283a1e9933adedd2");
    const QuicKeys server = crypto.initial_keys(kRfcConnectionId, false);
    EXPECT_EQ(to_hex(server.key), "cf3a5331653c364c88f0f379b6067e37");
    EXPECT_EQ(to_hex(server.iv), "0ac1493ca1905853b0bba03e");
    EXPECT_EQ(to_hex(server.hp), "c206b8d9b9f0f37644430b490eeaa314");
}

// RFC 9001's packet: packet number 2, no Source Connection ID, 1162 bytes of frames.
std::vector<std::uint8_t> rfc_initial(QuicCrypto& crypto) {
    std::vector<std::uint8_t> frames = kRfcFrames;
    frames.resize(1162);  // PADDING
    std::vector<std::uint8_t> packet(1300);
    packet.resize(seal_initial(crypto, kRfcConnectionId, {}, 2, frames, packet));
    return packet;
}

TEST(Quic, TheRfcsClientInitialIsProtectedAsItShowsAndOpensToItsClientHello) {
    QuicCrypto crypto;
    const std::vector<std::uint8_t> packet = rfc_initial(crypto);
    ASSERT_EQ(packet.size(), 1200u);
    EXPECT_EQ(to_hex(std::span(packet).first(22)), "c000000001088394c8f03e5157080000449e7b9aec34");
    EXPECT_EQ(to_hex(std::span(packet).subspan(22, 16)), "d1b1c98dd7689fb8ec11d242b123dc9b");
    std::vector<std::uint8_t> plain(packet.size());
    QuicLongHeader h;
    std::span<const std::uint8_t> frames;
    ASSERT_EQ(open_initial(packet, crypto, plain, h, frames), Parse::complete);
    EXPECT_EQ(h.version, kQuicVersion1);
    EXPECT_EQ(to_hex(h.destination_id), "8394c8f03e515708");
    EXPECT_EQ(frames.size(), 1162u);
    std::vector<std::pair<std::uint64_t, std::size_t>> crypto_seen;
    std::span<const std::uint8_t> hello;
    ASSERT_EQ(crypto_frames(frames,
                            [&](std::uint64_t offset, std::span<const std::uint8_t> data) {
                                crypto_seen.emplace_back(offset, data.size());
                                hello = data;
                            }),
              Parse::complete);
    ASSERT_EQ(crypto_seen.size(), 1u);
    EXPECT_EQ(crypto_seen[0], (std::pair<std::uint64_t, std::size_t>{0, 241}));
    ClientHello c;
    ASSERT_EQ(parse_client_hello(hello.subspan(4), c), Parse::complete);
    EXPECT_EQ(c.server_name, "example.com");
    EXPECT_EQ(std::string(c.alpn.begin(), c.alpn.end()),
              "\x04"
              "alpn");
}

TEST(Quic, AnInitialWithAnyByteChangedOrCutShortDoesNotOpen) {
    QuicCrypto crypto;
    const std::vector<std::uint8_t> packet = rfc_initial(crypto);
    std::vector<std::uint8_t> plain(packet.size());
    QuicLongHeader h;
    std::span<const std::uint8_t> frames;
    for (const std::size_t at :
         {std::size_t{6}, std::size_t{20}, std::size_t{40}, std::size_t{700}, packet.size() - 1}) {
        std::vector<std::uint8_t> changed = packet;
        changed[at] ^= 0x01;
        EXPECT_EQ(open_initial(changed, crypto, plain, h, frames), Parse::malformed) << at;
    }
    for (const std::size_t n :
         {std::size_t{3}, std::size_t{21}, std::size_t{600}, packet.size() - 1})
        EXPECT_EQ(open_initial(std::span(packet).first(n), crypto, plain, h, frames),
                  Parse::malformed)
            << n;
}

TEST(Quic, AFrameAnInitialMayNotCarryOrOneCutShortIsMalformed) {
    const auto none = [](std::uint64_t, std::span<const std::uint8_t>) {};
    EXPECT_EQ(crypto_frames(from_hex("0008"), none), Parse::malformed) << "STREAM";
    EXPECT_EQ(crypto_frames(from_hex("060040f1"), none), Parse::malformed) << "CRYPTO cut short";
    EXPECT_EQ(crypto_frames(from_hex("02000000"), none), Parse::malformed) << "ACK cut short";
    EXPECT_EQ(crypto_frames(from_hex("0200000000010000"), none), Parse::complete) << "ACK, PING";
}

// A flow table with an extractor, and the records it makes.
class Extraction : public ::testing::Test {
protected:
    static constexpr std::uint64_t kT0 = 1'700'000'000'000'000'000;

    void SetUp() override {
        config_.flows = 1024;
        memory_.reset(static_cast<std::uint8_t*>(
            std::aligned_alloc(64, (Extractor::memory_size(config_) + 63) & ~std::size_t{63})));
        extractor_ = std::make_unique<Extractor>(config_, memory_.get());
        table_memory_.reset(static_cast<std::uint8_t*>(
            std::aligned_alloc(64, meter::FlowTable::memory_size(1024))));
        table_ = std::make_unique<meter::FlowTable>(
            meter::FlowTableConfig{1024, 60'000'000'000, 600'000'000'000, 1'000'000'000},
            table_memory_.get(), meter::HashKey{});
        table_->identify_applications({nullptr, nullptr, 512, 4});
        table_->extract_metadata(extractor_->hook());
        client_.protocol = server_.protocol = kTcp;
        client_.src = ipv4(10, 0, 0, 1);
        client_.dst = ipv4(192, 0, 2, 1);
        client_.src_port = 40000;
        client_.dst_port = 443;
        server_ = client_;
        std::swap(server_.src, server_.dst);
        std::swap(server_.src_port, server_.dst_port);
    }

    // A segment with `content` from the client (or the server), its sequence numbers running on.
    void segment(bool from_client, const std::string& content, std::uint8_t flags = tcp::ack) {
        Packet p = from_client ? client_ : server_;
        std::uint32_t& seq = from_client ? client_seq_ : server_seq_;
        p.tcp_flags = flags;
        p.seq = seq;
        seq += static_cast<std::uint32_t>(content.size()) + ((flags & tcp::syn) ? 1 : 0);
        meter(p, content);
    }
    // A UDP datagram from the client (or the server) of the DNS conversation.
    void datagram(bool from_client, const std::string& content) {
        Packet p = from_client ? client_ : server_;
        p.protocol = kUdp;
        (from_client ? p.dst_port : p.src_port) = 53;
        meter(p, content);
    }
    // A UDP datagram from the client (or the server) of a QUIC conversation.
    void quic(bool from_client, const std::string& content) {
        Packet p = from_client ? client_ : server_;
        p.protocol = kUdp;
        meter(p, content);
    }
    // `p` with `content` through the table, a millisecond after the packet before.
    void meter(Packet p, const std::string& content) {
        p.content = content;
        p.payload = static_cast<std::uint16_t>(content.size());
        const auto frame = build(p);
        const PacketRef ref{frame.data(), static_cast<std::uint32_t>(frame.size()),
                            static_cast<std::uint32_t>(frame.size()), t_};
        t_ += 1'000'000;
        table_->process(&ref, 1, 0, out_);
        slots_.insert(slots_.end(), out_.records, out_.records + out_.count);
        out_.count = 0;
    }
    void handshake() {
        segment(true, "", tcp::syn);
        segment(false, "", tcp::syn | tcp::ack);
        segment(true, "");
    }

    // The records made, flushed, each with its metadata's fields by name.
    std::vector<std::map<std::string, std::string>> records() {
        for (bool done = false; !done; out_.count = 0) {
            done = table_->flush(t_, out_);
            slots_.insert(slots_.end(), out_.records, out_.records + out_.count);
        }
        std::vector<std::map<std::string, std::string>> out;
        for (std::size_t i = 0; i < slots_.size(); i += unit_slots(slots_[i])) {
            const FlowRecord& r = slots_[i];
            std::array<std::uint8_t, kMaxMetadataBytes> bytes;
            const std::size_t n = gather_extensions({&slots_[i + 1], r.extensions}, bytes);
            std::map<std::string, std::string> fields;
            fields["groups"] = std::to_string(r.metadata_groups);
            MetadataReader reader({bytes.data(), n});
            for (MetadataReader::Field f; reader.next(f);)
                fields[std::string(f.info->name)] = f.info->type == MetadataType::string
                                                        ? std::string(f.text())
                                                        : std::to_string(f.number());
            out.push_back(fields);
        }
        slots_.clear();
        return out;
    }

    struct Free {
        void operator()(std::uint8_t* p) const { std::free(p); }
    };
    config::Metadata config_;
    std::unique_ptr<std::uint8_t, Free> memory_, table_memory_;
    std::unique_ptr<Extractor> extractor_;
    std::unique_ptr<meter::FlowTable> table_;
    meter::RecordBuffer out_;
    std::vector<FlowRecord> slots_;  // the records made, with their extensions
    Packet client_, server_;
    std::uint32_t client_seq_ = 1000, server_seq_ = 5000;
    std::uint64_t t_ = kT0;
};

TEST_F(Extraction, ATlsConversationsRecordCarriesItsHellosFields) {
    handshake();
    segment(true, tls_client_hello(browser_hello("www.example.com")));
    segment(false, tls_server_hello(0x0303, 0x1301, 0x0304));
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("groups"), std::to_string(group_bit(MetadataGroup::tls)));
    EXPECT_EQ(r[0].at("tls_server_name"), "www.example.com");
    EXPECT_EQ(r[0].at("tls_alpn"), "h2,http/1.1");
    EXPECT_EQ(r[0].at("tls_client_version"), std::to_string(0x0304));
    EXPECT_EQ(r[0].at("tls_ja3"), "c000e2caf3a25423f9de6c8a4b12a975");
    EXPECT_EQ(r[0].at("tls_ja4"), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    EXPECT_EQ(r[0].at("tls_server_version"), std::to_string(0x0304));
    EXPECT_EQ(r[0].at("tls_cipher"), std::to_string(0x1301));
    EXPECT_EQ(table_->counters().metadata_flows, 1u);
    EXPECT_EQ(table_->counters().metadata_slots_used, 0u) << "freed with the record";
}

TEST_F(Extraction, AClientHelloOverThreeSegmentsIsReassembled) {
    handshake();
    const std::string hello = tls_client_hello(browser_hello("three.example"));
    const std::size_t third = hello.size() / 3;
    segment(true, hello.substr(0, third));
    segment(true, hello.substr(third, third));
    segment(true, hello.substr(2 * third));
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("tls_server_name"), "three.example");
}

TEST_F(Extraction, ASegmentOutOfOrderGivesUpTheMessageAndIsCounted) {
    handshake();
    const std::string hello = tls_client_hello(browser_hello("gap.example"));
    segment(true, hello.substr(0, 100));
    client_seq_ += 50;  // 50 bytes never seen
    segment(true, hello.substr(150));
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].count("tls_server_name"), 0u);
    EXPECT_EQ(table_->counters().metadata_out_of_order, 1u);
}

TEST_F(Extraction, AServerNameOfOtherBytesIsEscapedAndCutToMaxLength) {
    config_.max_length = 32;
    SetUp();
    handshake();
    segment(true, tls_client_hello(browser_hello(std::string("a\\b\x01") + std::string(40, 'z'))));
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("tls_server_name"), "a\\x5cb\\x01" + std::string(22, 'z'));
    EXPECT_EQ(table_->counters().metadata_fields_cut, 1u);
}

TEST_F(Extraction, AFlowWhoseFirstPayloadIsNoneOfTheProtocolsTakesNoSlot) {
    handshake();
    segment(true, "SSH-2.0-OpenSSH_9.2\r\n");
    segment(true, tls_client_hello(browser_hello("late.example")));  // not its first message
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].count("tls_server_name"), 0u);
    EXPECT_EQ(table_->counters().metadata_flows, 0u);
}

TEST_F(Extraction, FlowsBeyondTheSlotsAreExportedWithoutMetadataAndCounted) {
    SetUp();
    config_.flows = 16;
    extractor_ = std::make_unique<Extractor>(config_, memory_.get());
    table_->extract_metadata(extractor_->hook());
    for (unsigned i = 0; i < 30; ++i) {
        client_.src_port = static_cast<std::uint16_t>(20000 + i);
        server_.dst_port = client_.src_port;
        segment(true, tls_client_hello(browser_hello("many.example")));
    }
    const auto r = records();
    ASSERT_EQ(r.size(), 30u);
    std::size_t named = 0;
    for (const auto& fields : r) named += fields.count("tls_server_name");
    EXPECT_EQ(named, 16u);
    EXPECT_EQ(table_->counters().metadata_flows, 16u);
    EXPECT_EQ(table_->counters().metadata_slots_full, 14u);
}

TEST_F(Extraction, AnHttpConversationsRecordCarriesItsFirstRequestStatusAndRequestCount) {
    client_.dst_port = 80;
    server_.src_port = 80;
    handshake();
    const std::string first = http_request("GET", "/index.html", "www.example.com", "Mozilla/5.0");
    segment(true, first.substr(0, 20));  // the request line over two segments
    segment(true, first.substr(20));
    segment(false, http_response(200, 100));
    segment(true, http_request("GET", "/style.css", "www.example.com", "Mozilla/5.0"));
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("groups"), std::to_string(group_bit(MetadataGroup::http)));
    EXPECT_EQ(r[0].at("http_method"), "GET");
    EXPECT_EQ(r[0].at("http_target"), "/index.html");
    EXPECT_EQ(r[0].at("http_host"), "www.example.com");
    EXPECT_EQ(r[0].at("http_user_agent"), "Mozilla/5.0");
    EXPECT_EQ(r[0].at("http_status"), "200");
    EXPECT_EQ(r[0].at("http_requests"), "2");
}

TEST_F(Extraction, ADnsConversationsRecordCarriesItsQueryAnswersAndQueryCount) {
    datagram(true, dns_query(0x1234, "www.example.com", 1));
    datagram(false, dns_response(0x1234, "www.example.com", 1, 0,
                                 {{1, {192, 0, 2, 10}}, {1, {192, 0, 2, 11}}}));
    datagram(true, dns_query(0x1235, "www.example.com", 28));
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("groups"), std::to_string(group_bit(MetadataGroup::dns)));
    EXPECT_EQ(r[0].at("dns_query_name"), "www.example.com");
    EXPECT_EQ(r[0].at("dns_query_type"), "1");
    EXPECT_EQ(r[0].at("dns_response_code"), "0");
    EXPECT_EQ(r[0].count("dns_answers"), 1u);
    EXPECT_EQ(r[0].at("dns_queries"), "2");
}

TEST_F(Extraction, ADnsLabelOfOtherBytesIsEscapedAndItsDotsKeptApartFromTheSeparators) {
    std::string query = dns_query(1, "a.b.example", 1);
    query[13] = '.';  // the first label, "a", is now "."
    datagram(true, query);
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("dns_query_name"), "\\x2e.b.example");
}

TEST_F(Extraction, DnsOverTcpIsReadBehindItsLengthsEvenSplitOverSegments) {
    client_.dst_port = 53;
    server_.src_port = 53;
    const auto framed = [](const std::string& m) {
        return std::string{static_cast<char>(m.size() >> 8), static_cast<char>(m.size() & 0xff)} +
               m;
    };
    handshake();
    const std::string query = framed(dns_query(9, "tcp.example", 1));
    segment(true, query.substr(0, 7));
    segment(true, query.substr(7));
    segment(false, framed(dns_response(9, "tcp.example", 1, 0, {{1, {192, 0, 2, 53}}})));
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("dns_query_name"), "tcp.example");
    EXPECT_EQ(r[0].at("dns_response_code"), "0");
    EXPECT_EQ(r[0].count("dns_answers"), 1u);
    EXPECT_EQ(r[0].at("dns_queries"), "1");
}

ClientHelloSpec quic_hello(const std::string& server_name) {
    ClientHelloSpec spec = browser_hello(server_name);
    spec.alpn = {"h3"};
    return spec;
}

TEST_F(Extraction, AQuicClientsInitialGivesItsVersionServerNameAlpnAndJa4) {
    for (const std::string& d : quic_client_initials(
             "\x01\x02\x03\x04\x05\x06\x07\x08", client_hello_message(quic_hello("quic.example"))))
        quic(true, d);
    quic(false, std::string(1200, '\xc0'));  // the server's: not read
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("groups"), std::to_string(group_bit(MetadataGroup::quic)));
    EXPECT_EQ(r[0].at("quic_version"), "1");
    EXPECT_EQ(r[0].at("quic_server_name"), "quic.example");
    EXPECT_EQ(r[0].at("quic_alpn"), "h3");
    EXPECT_EQ(r[0].at("quic_ja4"), "q13d1516h3_8daaf6152771_e5627efa2ab1");
    EXPECT_EQ(table_->counters().metadata_malformed[1], 0u);
}

TEST_F(Extraction, AClientHelloOverTwoInitialsInScatteredFramesIsGathered) {
    ClientHelloSpec spec = quic_hello("two.example");
    spec.padding = 1500;  // as a post-quantum key share makes it: longer than one datagram
    const auto datagrams =
        quic_client_initials(std::string(20, '\x5a'), client_hello_message(spec), 2, 5);
    ASSERT_EQ(datagrams.size(), 2u);
    quic(true, datagrams[0]);
    quic(true, datagrams[1]);
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("quic_server_name"), "two.example");
    EXPECT_EQ(table_->counters().metadata_reassembly_full +
                  table_->counters().metadata_out_of_order +
                  table_->counters().metadata_beyond_budget,
              0u);
}

TEST_F(Extraction, AClientHelloLongerThanTheBytesIsCountedAndTheVersionStillExported) {
    ClientHelloSpec spec = quic_hello("long.example");
    spec.padding = config_.bytes;
    for (const std::string& d :
         quic_client_initials(std::string(8, '\x11'), client_hello_message(spec), 4, 1))
        quic(true, d);
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("quic_version"), "1");
    EXPECT_EQ(r[0].count("quic_server_name"), 0u);
    EXPECT_EQ(table_->counters().metadata_beyond_budget, 1u);
}

TEST_F(Extraction, AQuicFlowOfAnotherVersionKeepsItsVersionAndIsCounted) {
    std::string initial(1200, '\0');
    initial.replace(0, 7, "\xd0\x6b\x33\x43\xcf\x00\x00", 7);  // version 2's number
    quic(true, initial);
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("quic_version"), std::to_string(0x6b3343cf));
    EXPECT_EQ(r[0].count("quic_server_name"), 0u);
    EXPECT_EQ(table_->counters().metadata_quic_other_versions, 1u);
}

TEST_F(Extraction, AnInitialThatDoesNotOpenIsCountedMalformed) {
    std::string d =
        quic_client_initials("\x01\x02\x03\x04", client_hello_message(quic_hello("x")))[0];
    d[600] = static_cast<char>(d[600] ^ 0x80);
    quic(true, d);
    const auto r = records();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].at("quic_version"), "1");
    EXPECT_EQ(table_->counters().metadata_malformed[1], 1u) << "kMetadataProtocolNames: quic";
}

TEST_F(Extraction, AShortDatagramOrOneWithoutALongHeaderIsNotQuic) {
    quic(true, std::string(1199, '\xc0'));
    client_.src_port = 40001;
    quic(true, std::string(1300, '\x40'));
    const auto r = records();
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].at("groups"), "0");
    EXPECT_EQ(r[1].at("groups"), "0");
    EXPECT_EQ(table_->counters().metadata_flows, 0u);
}

}  // namespace
}  // namespace sluice::l7
