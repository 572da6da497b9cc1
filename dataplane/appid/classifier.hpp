// Application identification: the signatures compiled once into a Hyperscan block-mode database
// shared read-only by the workers, one scratch per worker, and the choice among matches.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/meter/identify.hpp"
#include "sluice/config.hpp"

struct hs_database;
struct hs_scratch;

namespace sluice::appid {

// What a match of pattern i means.
struct PatternInfo {
    std::uint32_t application;  // its id
    config::PatternDirection direction;
    config::Transport4 transport;
    std::uint32_t order;  // the application's place in the file: ties go to the first
};

class Database {
public:
    // Compiles every pattern of `s`; nothing and the reasons when one does not compile: each
    // "FILE:LINE: application NAME: MESSAGE", Hyperscan's message for the pattern at LINE.
    // With a `cache` folder, a database compiled before from the same patterns by the same
    // Hyperscan on this platform is read from there instead (a fraction of a millisecond
    // rather than a few hundred), and one compiled now is kept there.
    static std::unique_ptr<Database> compile(const config::Signatures& s,
                                             std::vector<std::string>& errors,
                                             const std::string& cache = {});
    // Reads the signature file at `path` and compiles it: nothing and the reasons (the file's
    // own errors with their file:line:column, or the compiler's) when either fails.
    static std::unique_ptr<Database> load(const std::string& path, std::vector<std::string>& errors,
                                          const std::string& cache = {});
    // Whether the database came from the cache.
    bool cached() const { return cached_; }
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const hs_database* hs() const { return db_; }
    const std::vector<PatternInfo>& patterns() const { return patterns_; }  // by pattern id
    // Port hints by application id, sorted.
    bool hinted(std::uint32_t application, std::uint16_t port) const;
    std::size_t applications() const { return hints_.size(); }

private:
    Database() = default;

    hs_database* db_ = nullptr;
    bool cached_ = false;
    std::vector<PatternInfo> patterns_;
    std::vector<std::pair<std::uint32_t, std::vector<std::uint16_t>>> hints_;  // by id
};

// One worker's scratch space, cloned from a prototype at start: nothing is allocated when a
// worker scans.
class Scratch {
public:
    explicit Scratch(const Database& db);
    Scratch(const Scratch& prototype);
    ~Scratch();
    Scratch& operator=(const Scratch&) = delete;

    hs_scratch* get() const { return scratch_; }
    const Database& database() const { return *db_; }

private:
    const Database* db_;
    hs_scratch* scratch_ = nullptr;
};

using meter::Payload;

// The application the payload identifies, or 0. Patterns of the wrong transport or, when the
// roles are known, the wrong direction do not count; among applications that match, one with a
// port hint on either port wins, then the first in the file.
std::uint32_t classify(const Database& db, const Scratch& scratch, const Payload& p);

// The flow table's identification (meter::Identification) through a worker's `scratch` and its
// database, which outlive the table, scanning as much of each direction as `budget` says.
meter::Identification identification(const Scratch& scratch,
                                     const config::Applications& budget = {});

}  // namespace sluice::appid
