// Which keys a reload may change: the schema marks the restart-only ones, and one visit keeps them.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/loader.hpp"
#include "shared/config/schema.hpp"

namespace sluice::config {
namespace {

// Visits every key in the schema's order (the tables of an array count as one value, the
// array). Locating, it notes where each key of the running configuration is; keeping, it walks
// the next configuration in the same order, and a restart-only key that differs takes its
// running value back.
class Pass {
public:
    // Where each key of the running configuration is, with its name to check the walk by.
    struct Located {
        std::string name;
        const void* value;
    };

    explicit Pass(std::vector<Located>& running, bool locate)
        : running_(running), locate_(locate) {}

    void mark_restart_only() { restart_only_ = true; }
    const std::vector<std::string>& kept() const { return kept_; }

    template <typename T, typename... Range>
    void integer(std::string_view k, T& f, Range...) {
        key(k, f);
    }
    template <typename T, typename... Range>
    void integers(std::string_view k, T& f, Range...) {
        key(k, f);
    }
    template <typename... Range>
    void duration(std::string_view k, Duration& f, Range...) {
        key(k, f);
    }
    template <typename... Range>
    void size(std::string_view k, std::uint64_t& f, Range...) {
        key(k, f);
    }
    template <typename... Range>
    void sync_period(std::string_view k, Duration& f, Range...) {
        key(k, f);
    }
    void string(std::string_view k, std::string& f, schema::StringCheck) { key(k, f); }
    void required_string(std::string_view k, std::string& f, schema::StringCheck) { key(k, f); }
    void strings(std::string_view k, std::vector<std::string>& f, schema::StringCheck) {
        key(k, f);
    }
    template <typename E, typename Names>
    void choice(std::string_view k, E& f, const Names&) {
        key(k, f);
    }
    void boolean(std::string_view k, bool& f) { key(k, f); }
    void cpu_list(std::string_view k, CpuSet& f) { key(k, f); }
    void socket_address(std::string_view k, SocketAddress& f) { key(k, f); }
    void socket_addresses(std::string_view k, std::vector<SocketAddress>& f) { key(k, f); }
    template <typename T>
    void tables(std::string_view k, std::vector<T>& f) {
        key("[[" + std::string(k) + "]]", f);
    }
    template <typename T>
    void table(std::string_view k, T& f) {
        key("[" + std::string(k) + "]", f);
        section_ = k;
        schema::visit(*this, f);
        section_.clear();
    }

private:
    template <typename T>
    void key(std::string_view name, T& value) {
        const bool restart_only = restart_only_;
        restart_only_ = false;
        if (locate_) {
            running_.push_back({section_ + "." + std::string(name), &value});
            return;
        }
        // The schema visits the same keys whatever their values; were that ever not so, the two
        // walks would part here rather than read one key as another.
        const Located& at = running_.at(index_++);
        if (at.name != section_ + "." + std::string(name))
            throw std::logic_error("reload: the schema's walks parted at " + at.name);
        const T& was = *static_cast<const T*>(at.value);
        if (!restart_only || was == value) return;
        value = was;
        const bool whole = name.starts_with('[');
        kept_.push_back(whole ? std::string(name) : section_ + "." + std::string(name));
    }

    std::vector<Located>& running_;
    bool locate_;
    std::size_t index_ = 0;
    bool restart_only_ = false;
    std::string section_;
    std::vector<std::string> kept_;
};

}  // namespace

std::vector<std::string> keep_restart_only(const Config& running, Config& next) {
    std::vector<Pass::Located> where;
    Pass locate(where, true);
    schema::visit(locate, const_cast<Config&>(running));  // only addresses are taken
    Pass keep(where, false);
    schema::visit(keep, next);
    return keep.kept();
}

}  // namespace sluice::config
