// The little JSON the control socket speaks: requests are one flat object on one line, replies
// are written with JsonWriter.
#include "control/ops/json.hpp"

#include <cctype>
#include <cinttypes>
#include <cstdio>

#include "shared/records/record_json.hpp"

namespace sluice::ops {
namespace {

// A recursive-descent reader of one flat object, every step bounded by the text's end.
class Reader {
public:
    explicit Reader(std::string_view t) : t_(t) {}

    ParsedObject run() {
        FlatObject r;
        skip_space();
        if (!take('{')) return fail("expected '{'");
        skip_space();
        if (!take('}')) {
            while (true) {
                skip_space();
                std::string k;
                if (!string(k)) return fail(error_.empty() ? "expected a key in quotes" : error_);
                skip_space();
                if (!take(':')) return fail("expected ':'");
                skip_space();
                if (r.count(k) != 0) return fail("\"" + k + "\" given twice");
                if (!value(k, r)) return fail(error_);
                skip_space();
                if (take(',')) continue;
                if (take('}')) break;
                return fail("expected ',' or '}'");
            }
        }
        skip_space();
        if (at_ != t_.size()) return fail("unexpected text after the object");
        return {std::move(r), ""};
    }

private:
    ParsedObject fail(const std::string& what) {
        return {std::nullopt, "at byte " + std::to_string(at_ + 1) + ": " + what};
    }

    void skip_space() {
        while (at_ < t_.size() &&
               (t_[at_] == ' ' || t_[at_] == '\t' || t_[at_] == '\n' || t_[at_] == '\r'))
            ++at_;
    }

    bool take(char c) {
        if (at_ < t_.size() && t_[at_] == c) {
            ++at_;
            return true;
        }
        return false;
    }

    bool take_word(std::string_view w) {
        if (t_.substr(at_, w.size()) != w) return false;
        at_ += w.size();
        return true;
    }

    // A string of printable ASCII with the simple escapes; \u escapes only below 0x80.
    bool string(std::string& out) {
        if (!take('"')) return false;
        while (at_ < t_.size()) {
            const char c = t_[at_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) {
                --at_;  // point at it
                error_ = "a control character in a string";
                return false;
            }
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (at_ >= t_.size()) break;
            const char e = t_[at_++];
            switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'n': out.push_back('\n'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    unsigned v = 0;
                    for (int i = 0; i < 4; ++i) {
                        if (at_ >= t_.size() ||
                            !std::isxdigit(static_cast<unsigned char>(t_[at_]))) {
                            error_ = "a \\u escape needs four hex digits";
                            return false;
                        }
                        const char h = t_[at_++];
                        v = v * 16 +
                            static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(h))
                                                      ? h - '0'
                                                      : (h | 0x20) - 'a' + 10);
                    }
                    if (v >= 0x80) {
                        error_ = "only ASCII is understood";
                        return false;
                    }
                    out.push_back(static_cast<char>(v));
                    break;
                }
                default: error_ = "an unknown escape in a string"; return false;
            }
        }
        error_ = "a string without its closing quote";
        return false;
    }

    bool value(const std::string& k, FlatObject& r) {
        if (at_ >= t_.size()) {
            error_ = "expected a value";
            return false;
        }
        const char c = t_[at_];
        if (c == '"') {
            std::string s;
            if (!string(s)) {
                if (error_.empty()) error_ = "expected a string";
                return false;
            }
            r[k] = std::move(s);
            return true;
        }
        if (take_word("true")) return r[k] = true, true;
        if (take_word("false")) return r[k] = false, true;
        if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
            const bool negative = take('-');
            std::uint64_t n = 0;
            std::size_t digits = 0;
            while (at_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[at_]))) {
                if (++digits > 18) {
                    error_ = "a number too large";
                    return false;
                }
                n = n * 10 + static_cast<std::uint64_t>(t_[at_++] - '0');
            }
            if (digits == 0) {
                error_ = "expected digits";
                return false;
            }
            if (at_ < t_.size() && (t_[at_] == '.' || t_[at_] == 'e' || t_[at_] == 'E')) {
                error_ = "only whole numbers are understood";
                return false;
            }
            const auto v = static_cast<std::int64_t>(n);
            r[k] = negative ? -v : v;
            return true;
        }
        error_ = c == '{' || c == '[' ? "values are strings, numbers or booleans, not objects"
                                      : "expected a value";
        return false;
    }

    std::string_view t_;
    std::size_t at_ = 0;
    std::string error_;
};

}  // namespace

std::optional<std::int64_t> Request::integer(const std::string& key) const {
    const auto it = arguments.find(key);
    if (it == arguments.end()) return std::nullopt;
    if (const auto* n = std::get_if<std::int64_t>(&it->second)) return *n;
    return std::nullopt;
}

std::optional<std::string> Request::string(const std::string& key) const {
    const auto it = arguments.find(key);
    if (it == arguments.end()) return std::nullopt;
    if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
    return std::nullopt;
}

ParsedObject parse_flat_object(std::string_view text, std::size_t max_bytes) {
    if (text.size() > max_bytes)
        return {std::nullopt, "longer than " + std::to_string(max_bytes) + " bytes"};
    return Reader(text).run();
}

ParsedRequest parse_request(std::string_view text) {
    ParsedObject parsed = parse_flat_object(text, kMaxRequestBytes);
    if (!parsed.object) return {std::nullopt, parsed.error};
    FlatObject& o = *parsed.object;
    const auto command = o.find("command");
    if (command == o.end()) return {std::nullopt, "the request has no \"command\""};
    const auto* name = std::get_if<std::string>(&command->second);
    if (name == nullptr) return {std::nullopt, "\"command\" is a string"};
    Request r{*name, {}};
    o.erase(command);
    r.arguments = std::move(o);
    return {std::move(r), ""};
}

std::string json_escape(std::string_view s) {
    return control::json_string(s);
}

void JsonWriter::separate() {
    if (!first_) out_.push_back(',');
    first_ = false;
}

JsonWriter& JsonWriter::begin_object() {
    separate();
    out_.push_back('{');
    first_ = true;
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    out_.push_back('}');
    first_ = false;
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    separate();
    out_.push_back('[');
    first_ = true;
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    out_.push_back(']');
    first_ = false;
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
    separate();
    out_ += json_escape(k);
    out_.push_back(':');
    first_ = true;  // the value follows without a comma
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
    separate();
    out_ += json_escape(s);
    return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t n) {
    separate();
    out_ += std::to_string(n);
    return *this;
}

JsonWriter& JsonWriter::value(std::int64_t n) {
    separate();
    out_ += std::to_string(n);
    return *this;
}

JsonWriter& JsonWriter::value(double d) {
    separate();
    char b[32];
    std::snprintf(b, sizeof(b), "%.6g", d);
    out_ += b;
    return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    separate();
    out_ += json;
    return *this;
}

JsonWriter& JsonWriter::value(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
}

}  // namespace sluice::ops
