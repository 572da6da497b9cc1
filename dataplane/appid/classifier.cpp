// Application identification: the signatures compiled once into a Hyperscan block-mode database
// shared read-only by the workers, one scratch per worker, and the choice among matches.
#include "dataplane/appid/classifier.hpp"

#include <hs/hs.h>

#include <algorithm>

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

}  // namespace

std::unique_ptr<Database> Database::compile(const config::Signatures& s,
                                            std::vector<std::string>& errors) {
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
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr,
                         &db->db_, &error) == HS_SUCCESS)
        return db;
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

std::unique_ptr<Database> Database::load(const std::string& path,
                                         std::vector<std::string>& errors) {
    const auto loaded = config::load_signatures(path);
    for (const auto& e : loaded.errors) errors.push_back(e.to_string());
    if (!loaded.signatures) return nullptr;
    return compile(*loaded.signatures, errors);
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
