// Application identification: the signatures compiled once into a Hyperscan block-mode database
// shared read-only by the workers, one scratch per worker, and the choice among matches.
#include "dataplane/appid/classifier.hpp"

#include <unistd.h>

#include <hs/hs.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>

#include "shared/config/loader.hpp"

namespace sluice::appid {
namespace {

unsigned hs_flags(const config::Pattern& p) {
    unsigned f = HS_FLAG_SINGLEMATCH;
    for (const auto& name : p.flags) {
        if (name == "caseless") f |= HS_FLAG_CASELESS;
        if (name == "dotall") f |= HS_FLAG_DOTALL;
        if (name == "multiline") f |= HS_FLAG_MULTILINE;
    }
    return f;
}

// The matches of one scan: at most a few patterns match one payload.
struct Matches {
    static constexpr unsigned kMax = 16;
    unsigned count = 0;
    unsigned ids[kMax];
};

int on_match(unsigned id, unsigned long long, unsigned long long, unsigned, void* context) {
    auto& m = *static_cast<Matches*>(context);
    if (m.count < Matches::kMax) m.ids[m.count++] = id;
    return 0;  // go on: another pattern may match too
}

// A compiled database kept in a cache folder, found by what it was compiled from: the Hyperscan
// version, the platform and every pattern's id, flags and expression. The file holds that key
// whole, so a different set never passes for it.
class CacheFile {
public:
    CacheFile(const std::string& folder, const std::vector<const char*>& expressions,
              const std::vector<unsigned>& flags, const std::vector<unsigned>& ids) {
        if (folder.empty()) return;
        key_ = std::string(kMagic) + hs_version() + '\n';
        hs_platform_info_t platform;
        std::memset(&platform, 0, sizeof(platform));  // its padding too: the key's bytes
        hs_populate_platform(&platform);
        key_.append(reinterpret_cast<const char*>(&platform), sizeof(platform));
        for (std::size_t i = 0; i < expressions.size(); ++i)
            key_ += std::to_string(ids[i]) + ' ' + std::to_string(flags[i]) + ' ' +
                    std::to_string(std::strlen(expressions[i])) + ' ' + expressions[i] + '\n';
        char name[40];
        std::snprintf(name, sizeof(name), "/applications-%016zx.hsdb",
                      std::hash<std::string>{}(key_));
        path_ = folder + name;
    }

    // The database kept for this key; null when there is none (or it cannot be read).
    hs_database_t* read() const {
        if (path_.empty()) return nullptr;
        std::ifstream in(path_, std::ios::binary);
        const std::string bytes{std::istreambuf_iterator<char>(in), {}};
        if (bytes.size() <= key_.size() || bytes.compare(0, key_.size(), key_) != 0) return nullptr;
        hs_database_t* db = nullptr;
        if (hs_deserialize_database(bytes.data() + key_.size(), bytes.size() - key_.size(), &db) !=
            HS_SUCCESS)
            return nullptr;
        return db;
    }

    // Keeps `db` for the next run: written whole to a temporary file, then renamed into place.
    // A cache that cannot be written is only a slower start next time.
    void write(const hs_database_t* db) const {
        if (path_.empty()) return;
        char* bytes = nullptr;
        std::size_t length = 0;
        if (hs_serialize_database(db, &bytes, &length) != HS_SUCCESS) return;
        const std::string temporary = path_ + ".new." + std::to_string(getpid());
        {
            std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
            out.write(key_.data(), static_cast<std::streamsize>(key_.size()));
            out.write(bytes, static_cast<std::streamsize>(length));
            if (!out.flush()) {
                std::free(bytes);
                unlink(temporary.c_str());
                return;
            }
        }
        std::free(bytes);
        if (std::rename(temporary.c_str(), path_.c_str()) != 0) unlink(temporary.c_str());
    }

private:
    static constexpr char kMagic[] = "sluice compiled application signatures\n";
    std::string key_;
    std::string path_;
};

}  // namespace

std::unique_ptr<Database> Database::compile(const config::Signatures& s,
                                            std::vector<std::string>& errors,
                                            const std::string& cache) {
    std::unique_ptr<Database> db(new Database());
    std::vector<const char*> expressions;
    std::vector<unsigned> flags, ids;
    std::vector<std::pair<const config::Application*, const config::Pattern*>> where;
    std::uint32_t order = 0;
    for (const auto& a : s.applications) {
        db->hints_.push_back({a.id, a.ports});
        std::sort(db->hints_.back().second.begin(), db->hints_.back().second.end());
        for (const auto& p : a.patterns) {
            ids.push_back(static_cast<unsigned>(expressions.size()));
            expressions.push_back(p.regex.c_str());
            flags.push_back(hs_flags(p));
            db->patterns_.push_back({a.id, p.direction, a.transport, order});
            where.push_back({&a, &p});
        }
        ++order;
    }
    std::sort(db->hints_.begin(), db->hints_.end());
    if (expressions.empty()) {
        errors.push_back(s.file + ": no application has a pattern");
        return nullptr;
    }
    const CacheFile kept(cache, expressions, flags, ids);
    if ((db->db_ = kept.read()) != nullptr) {
        db->cached_ = true;
        return db;
    }
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr,
                         &db->db_, &error) == HS_SUCCESS) {
        kept.write(db->db_);
        return db;
    }
    const std::string whole = error->message;
    hs_free_compile_error(error);
    // Hyperscan stops at the first pattern it cannot compile: each is compiled alone then, so
    // that every bad one is reported with its line (only then: it doubles the time).
    for (std::size_t i = 0; i < expressions.size(); ++i) {
        hs_database_t* one = nullptr;
        if (hs_compile(expressions[i], flags[i], HS_MODE_BLOCK, nullptr, &one, &error) !=
            HS_SUCCESS) {
            errors.push_back(s.file + ":" + std::to_string(where[i].second->line) +
                             ": application \"" + where[i].first->name + "\": " + error->message);
            hs_free_compile_error(error);
        }
        hs_free_database(one);
    }
    if (errors.empty()) errors.push_back(s.file + ": " + whole);
    return nullptr;
}

std::unique_ptr<Database> Database::load(const std::string& path, std::vector<std::string>& errors,
                                         const std::string& cache) {
    const auto loaded = config::load_signatures(path);
    for (const auto& e : loaded.errors) errors.push_back(e.to_string());
    if (!loaded.signatures) return nullptr;
    return compile(*loaded.signatures, errors, cache);
}

Database::~Database() {
    hs_free_database(db_);
}

bool Database::hinted(std::uint32_t application, std::uint16_t port) const {
    const auto it = std::lower_bound(hints_.begin(), hints_.end(), application,
                                     [](const auto& h, std::uint32_t id) { return h.first < id; });
    return it != hints_.end() && it->first == application &&
           std::binary_search(it->second.begin(), it->second.end(), port);
}

Scratch::Scratch(const Database& db) : db_(&db) {
    hs_alloc_scratch(db.hs(), &scratch_);
}

Scratch::Scratch(const Scratch& prototype) : db_(prototype.db_) {
    hs_clone_scratch(prototype.scratch_, &scratch_);
}

Scratch::~Scratch() {
    hs_free_scratch(scratch_);
}

std::uint32_t classify(const Database& db, const Scratch& scratch, const Payload& p) {
    Matches m;
    if (hs_scan(db.hs(), reinterpret_cast<const char*>(p.data), p.length, 0, scratch.get(),
                on_match, &m) != HS_SUCCESS)
        return 0;
    std::uint32_t best = 0, best_order = UINT32_MAX;
    bool best_hinted = false;
    for (unsigned i = 0; i < m.count; ++i) {
        const PatternInfo& info = db.patterns()[m.ids[i]];
        if (info.transport == config::Transport4::tcp && p.protocol != 6) continue;
        if (info.transport == config::Transport4::udp && p.protocol != 17) continue;
        if (p.roles_known && info.direction != config::PatternDirection::either &&
            (info.direction == config::PatternDirection::client) != p.from_client)
            continue;
        const bool hinted =
            db.hinted(info.application, p.ports[0]) || db.hinted(info.application, p.ports[1]);
        if ((hinted && !best_hinted) || (hinted == best_hinted && info.order < best_order)) {
            best = info.application;
            best_order = info.order;
            best_hinted = hinted;
        }
    }
    return best;
}

meter::Identification identification(const Scratch& scratch, const config::Applications& budget) {
    const auto scan = [](const void* context, const Payload& p) {
        const auto& s = *static_cast<const Scratch*>(context);
        return classify(s.database(), s, p);
    };
    return {scan, &scratch, budget.bytes, static_cast<std::uint8_t>(budget.packets)};
}

}  // namespace sluice::appid
