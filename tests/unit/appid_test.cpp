// Application identification: the default signatures, compiled with Hyperscan, name the
// applications of payloads built here, either way round; unknown payloads stay 0.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "dataplane/appid/classifier.hpp"
#include "shared/config/loader.hpp"
#include "tools/pktgen/applications.hpp"

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

TEST_F(DefaultSignatures, LoadWithUniqueIdsAndCompile) {
    EXPECT_GE(signatures_->applications.size(), 22u);
    EXPECT_EQ(db_->applications(), signatures_->applications.size());
    EXPECT_EQ(id("http"), 1u);
}

TEST_F(DefaultSignatures, IdentifyEachApplicationFromEitherSide) {
    std::map<std::string, bool> covered;
    for (const auto& a : signatures_->applications) covered[a.name] = false;
    for (const pktgen::ApplicationSample& s : pktgen::application_samples()) {
        covered[s.name] = true;
        if (!s.client.empty()) {
            EXPECT_EQ(identify(s.client, s.protocol, s.port, true), s.name)
                << "client of " << s.name;
        }
        if (!s.server.empty()) {
            EXPECT_EQ(identify(s.server, s.protocol, s.port, false), s.name)
                << "server of " << s.name;
        }
    }
    for (const auto& [name, done] : covered) EXPECT_TRUE(done) << name << " has no sample";
}

constexpr std::uint8_t kTcp = 6, kUdp = 17;

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
