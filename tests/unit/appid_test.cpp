// Application identification: the default signatures, compiled with Hyperscan, name the
// applications of payloads built here, either way round; unknown payloads stay 0.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "classifier.hpp"
#include "loader.hpp"

namespace sluice::appid {
namespace {

using namespace std::string_literals;

class DefaultSignatures : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const auto loaded = config::load_signatures(SLUICE_SOURCE_DIR "/config/applications.toml");
        for (const auto& e : loaded.errors) ADD_FAILURE() << e.to_string();
        ASSERT_TRUE(loaded.signatures);
        signatures_ = new config::Signatures(*loaded.signatures);
        std::vector<std::string> errors;
        db_ = Database::compile(*signatures_, errors).release();
        for (const auto& e : errors) ADD_FAILURE() << e;
        ASSERT_NE(db_, nullptr);
        scratch_ = new Scratch(*db_);
    }
    static void TearDownTestSuite() {
        delete scratch_;
        delete db_;
        delete signatures_;
    }

    static std::uint32_t id(const std::string& name) {
        for (const auto& a : signatures_->applications)
            if (a.name == name) return a.id;
        ADD_FAILURE() << "no application " << name;
        return 0;
    }

    // The name of what `payload` identifies ("" for nothing), as a flow of `protocol` between
    // an ephemeral port and `port`.
    static std::string identify(const std::string& payload, std::uint8_t protocol,
                                std::uint16_t port, bool from_client, bool roles_known = true) {
        const std::uint16_t ports[2] = {static_cast<std::uint16_t>(from_client ? 50000 : port),
                                        static_cast<std::uint16_t>(from_client ? port : 50000)};
        const Payload p{reinterpret_cast<const std::uint8_t*>(payload.data()),
                        static_cast<std::uint32_t>(payload.size()),
                        protocol,
                        from_client,
                        roles_known,
                        {ports[0], ports[1]}};
        const std::uint32_t app = classify(*db_, *scratch_, p);
        for (const auto& a : signatures_->applications)
            if (a.id == app) return a.name;
        return app == 0 ? "" : "id " + std::to_string(app);
    }

    static inline config::Signatures* signatures_ = nullptr;
    static inline Database* db_ = nullptr;
    static inline Scratch* scratch_ = nullptr;
};

constexpr std::uint8_t kTcp = 6, kUdp = 17;

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int c : b) s.push_back(static_cast<char>(c));
    return s;
}

TEST_F(DefaultSignatures, LoadWithUniqueIdsAndCompile) {
    EXPECT_GE(signatures_->applications.size(), 22u);
    EXPECT_EQ(db_->applications(), signatures_->applications.size());
    EXPECT_EQ(id("http"), 1u);
}

// Each application: a client payload and a server payload, or one for either side.
struct Sample {
    const char* app;
    std::uint8_t protocol;
    std::uint16_t port;
    std::string client, server;
};

std::vector<Sample> samples() {
    const std::string dns_query = bytes({0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7}) +
                                  "example" + bytes({3}) + "com" + bytes({0, 0, 1, 0, 1});
    std::string dns_answer = dns_query;
    dns_answer[2] = static_cast<char>(0x81);
    dns_answer[3] = static_cast<char>(0x80);
    dns_answer[7] = 1;
    std::string ntp_client(48, '\0'), ntp_server(48, '\0');
    ntp_client[0] = 0x23;
    ntp_server[0] = 0x24;
    ntp_server[1] = 2;
    std::string dhcp(240, '\0');
    dhcp[0] = 1, dhcp[1] = 1, dhcp[2] = 6;
    dhcp[236] = 0x63, dhcp[237] = static_cast<char>(0x82), dhcp[238] = 0x53, dhcp[239] = 0x63;
    std::string wg_init(148, 'x'), wg_resp(92, 'y');
    wg_init.replace(0, 4, bytes({1, 0, 0, 0}));
    wg_resp.replace(0, 4, bytes({2, 0, 0, 0}));
    std::string mongo =
        bytes({0x3a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0}) + "payload";
    return {
        {"http", kTcp, 80, "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
        {"tls", kTcp, 443,
         bytes({0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}) + "random",
         bytes({0x16, 0x03, 0x03, 0x00, 0x5a, 0x02, 0x00, 0x00, 0x56, 0x03, 0x03}) + "random"},
        {"ssh", kTcp, 22, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "SSH-2.0-OpenSSH_8.4\r\n"},
        {"dns", kUdp, 53, dns_query, dns_answer},
        {"smtp", kTcp, 25, "EHLO client.example.com\r\n", "220 mail.example.com ESMTP Postfix\r\n"},
        {"imap", kTcp, 143, "a001 CAPABILITY\r\n",
         "* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"},
        {"pop3", kTcp, 110, "CAPA\r\n", "+OK POP3 server ready\r\n"},
        {"ftp", kTcp, 21, "FEAT\r\n", "220 (vsFTPd 3.0.3) FTP server\r\n"},
        {"smb", kTcp, 445, bytes({0, 0, 0, 0x54, 0xfe}) + "SMB@",
         bytes({0, 0, 0, 0x80, 0xfe}) + "SMB@"},
        {"rdp", kTcp, 3389,
         bytes({3, 0, 0, 0x13, 0x0e, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0}),
         bytes({3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 2, 0, 0, 0})},
        {"mysql", kTcp, 3306, "", bytes({0x4a, 0, 0, 0, 0x0a}) + "8.0.35" + bytes({0}) + "salt"},
        {"postgresql", kTcp, 5432, bytes({0, 0, 0, 0x29, 0, 3, 0, 0}) + "user" + bytes({0}) + "app",
         ""},
        {"redis", kTcp, 6379, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
        {"mongodb", kTcp, 27017, mongo, mongo},
        {"ldap", kTcp, 389,
         bytes(
             {0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00}),
         bytes(
             {0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00})},
        {"kerberos", kUdp, 88,
         bytes({0x6a, 0x81, 0xb0, 0x30, 0x81, 0xad, 0xa1, 0x03, 0x02, 0x01, 0x05, 0xa2, 0x03}),
         bytes({0x6b, 0x82, 0x02, 0x10, 0x30, 0x82, 0x02, 0x0c, 0xa0, 0x03, 0x02, 0x01, 0x05})},
        {"ntp", kUdp, 123, ntp_client, ntp_server},
        {"snmp", kUdp, 161,
         bytes({0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06}) + "public" + bytes({0xa0, 0x19}),
         bytes({0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06}) + "public" + bytes({0xa2, 0x1c})},
        {"sip", kUdp, 5060, "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n",
         "SIP/2.0 180 Ringing\r\n"},
        {"mqtt", kTcp, 1883, bytes({0x10, 0x12, 0x00, 0x04}) + "MQTT" + bytes({0x04, 0x02, 0, 60}),
         bytes({0x20, 0x02, 0x00, 0x00})},
        {"bittorrent", kTcp, 6881, bytes({0x13}) + "BitTorrent protocol" + std::string(8, '\0'),
         bytes({0x13}) + "BitTorrent protocol" + std::string(8, '\0')},
        {"quic", kUdp, 443, bytes({0xc3, 0, 0, 0, 1, 8}) + "12345678",
         bytes({0xc1, 0, 0, 0, 1, 0})},
        {"telnet", kTcp, 23, bytes({0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20}),
         bytes({0xff, 0xfb, 0x01, 0xff, 0xfb, 0x03})},
        {"syslog", kUdp, 514, "<34>Oct 11 22:14:15 mymachine su: 'su root' failed", ""},
        {"dhcp", kUdp, 67, dhcp, ""},
        {"wireguard", kUdp, 51820, wg_init, wg_resp},
    };
}

TEST_F(DefaultSignatures, IdentifyEachApplicationFromEitherSide) {
    std::map<std::string, bool> covered;
    for (const auto& a : signatures_->applications) covered[a.name] = false;
    for (const Sample& s : samples()) {
        covered[s.app] = true;
        if (!s.client.empty()) {
            EXPECT_EQ(identify(s.client, s.protocol, s.port, true), s.app) << "client of " << s.app;
        }
        if (!s.server.empty()) {
            EXPECT_EQ(identify(s.server, s.protocol, s.port, false), s.app)
                << "server of " << s.app;
        }
    }
    for (const auto& [name, done] : covered) EXPECT_TRUE(done) << name << " has no sample";
}

TEST_F(DefaultSignatures, TheServerSpeakingFirstAsSeenMidConnectionStillIdentifies) {
    // The sensor missed the SYN: the first packet it saw was the server's, so the record's
    // "client" is the server and the roles are unknown: patterns match either way.
    EXPECT_EQ(identify("HTTP/1.1 200 OK\r\n\r\n", kTcp, 80, true, false), "http");
    EXPECT_EQ(identify("220 mail.example.com ESMTP\r\n", kTcp, 25, true, false), "smtp");
    // With the roles known, a server's pattern from the client does not count.
    EXPECT_EQ(identify("HTTP/1.1 200 OK\r\n\r\n", kTcp, 80, true, true), "");
}

TEST_F(DefaultSignatures, UnknownPayloadsAndWrongTransportsStayUnknown) {
    EXPECT_EQ(identify("hello, world\r\n", kTcp, 80, true), "");
    EXPECT_EQ(identify(std::string(64, '\0'), kUdp, 9999, true), "");
    EXPECT_EQ(identify("GET / HTTP/1.1\r\n", kUdp, 80, true), "") << "http is TCP only";
}

TEST_F(DefaultSignatures, PortHintsBreakTiesOnly) {
    // A USER line is both FTP's and POP3's: the port decides.
    EXPECT_EQ(identify("USER alice\r\n", kTcp, 21, true), "ftp");
    EXPECT_EQ(identify("USER alice\r\n", kTcp, 110, true), "pop3");
    // Payload decides over ports: HTTP on the SSH port is HTTP.
    EXPECT_EQ(identify("GET / HTTP/1.1\r\n", kTcp, 22, true), "http");
}

TEST(Signatures, APatternThatDoesNotCompileNamesItsLineAndApplication) {
    const auto loaded = config::load_signatures_string(
        "[[application]]\nname = \"good\"\nid = 1\n[[application.pattern]]\nregex = '^ok'\n"
        "[[application]]\nname = \"broken\"\nid = 2\n[[application.pattern]]\n"
        "regex = '^(unclosed'\n",
        "sigs.toml");
    ASSERT_TRUE(loaded.signatures);
    std::vector<std::string> errors;
    EXPECT_EQ(Database::compile(*loaded.signatures, errors), nullptr);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_TRUE(errors[0].starts_with("sigs.toml:10: application \"broken\": ")) << errors[0];
    EXPECT_NE(errors[0].find("parenthes"), std::string::npos) << errors[0];
}

TEST(Signatures, IdsAndNamesAreUniqueAndEachApplicationHasAPattern) {
    const auto twice = config::load_signatures_string(
        "[[application]]\nname = \"a\"\nid = 7\n[[application.pattern]]\nregex = 'x'\n"
        "[[application]]\nname = \"b\"\nid = 7\n[[application.pattern]]\nregex = 'y'\n",
        "s.toml");
    ASSERT_FALSE(twice.signatures);
    EXPECT_EQ(twice.errors[0].to_string(),
              "s.toml:6:1: application[2].id: 7 is already the id of \"a\"");
    const auto bare =
        config::load_signatures_string("[[application]]\nname = \"a\"\nid = 3\n", "s.toml");
    ASSERT_FALSE(bare.signatures);
    EXPECT_EQ(bare.errors[0].to_string(),
              "s.toml:1:1: application[1].pattern: an application needs at least one "
              "[[application.pattern]]");
    const auto flag = config::load_signatures_string(
        "[[application]]\nname = \"a\"\nid = 3\n[[application.pattern]]\nregex = 'x'\n"
        "flags = [\"greedy\"]\n",
        "s.toml");
    ASSERT_FALSE(flag.signatures);
    EXPECT_NE(flag.errors[0].to_string().find("application[1].pattern[1].flags"), std::string::npos)
        << flag.errors[0].to_string();
}

}  // namespace
}  // namespace sluice::appid
