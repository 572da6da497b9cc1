// What sluice-control attaches to: a dataplane of its own version and layouts, and nothing else.
#include "control/attach.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "sluice_version.h"

namespace sluice::control {
namespace {

// The header a dataplane of `version` writes (it holds atomics: filled in place).
struct Header {
    shm::StatsHeader h{};
    explicit Header(const char* version) {
        h.magic = shm::kStatsMagic;
        h.layout_version = shm::kStatsLayoutVersion;
        h.record_layout_version = kRecordLayoutVersion;
        h.dataplane_pid = 42;
        std::snprintf(h.version, sizeof(h.version), "%s", version);
    }
};

TEST(Attach, TakesADataplaneOfItsOwnVersionAndLayouts) {
    EXPECT_FALSE(incompatible(Header(SLUICE_VERSION).h));
}

TEST(Attach, RefusesADataplaneOfAnotherVersionNamingBoth) {
    const auto why = incompatible(Header("0.0.9").h);
    ASSERT_TRUE(why);
    EXPECT_EQ(*why, "sluice-dataplane 0.0.9 (pid 42; stats layout " +
                        std::to_string(shm::kStatsLayoutVersion) + ", record layout " +
                        std::to_string(kRecordLayoutVersion) +
                        ") is another version than this sluice-control " SLUICE_VERSION " (" +
                        std::to_string(shm::kStatsLayoutVersion) + ", " +
                        std::to_string(kRecordLayoutVersion) +
                        "): run the sluice-control of the dataplane's version, or restart both");
}

TEST(Attach, RefusesAnotherLayoutOfTheSameVersion) {
    Header records(SLUICE_VERSION);
    records.h.record_layout_version = kRecordLayoutVersion + 1;
    EXPECT_TRUE(incompatible(records.h));
    Header stats(SLUICE_VERSION);
    stats.h.layout_version = shm::kStatsLayoutVersion - 1;
    EXPECT_TRUE(incompatible(stats.h));
}

TEST(Attach, RefusesAPrimaryThatIsNotASluiceDataplane) {
    Header other(SLUICE_VERSION);
    other.h.magic = 0x12345678;
    ASSERT_TRUE(incompatible(other.h));
    EXPECT_NE(incompatible(other.h)->find("another program"), std::string::npos);
}

}  // namespace
}  // namespace sluice::control
