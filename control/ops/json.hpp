// The little JSON the control socket speaks: requests are one flat object on one line, replies
// are written with JsonWriter.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace sluice::ops {

inline constexpr std::size_t kMaxRequestBytes = 4096;

using Value = std::variant<std::string, std::int64_t, bool>;
using FlatObject = std::map<std::string, Value>;

// A request: {"command": "stats", "format": "text"}. Values are strings, whole numbers or
// booleans; nesting is not part of the protocol.
struct Request {
    std::string command;
    FlatObject arguments;

    std::optional<std::int64_t> integer(const std::string& key) const;
    std::optional<std::string> string(const std::string& key) const;
};

struct ParsedObject {
    std::optional<FlatObject> object;
    std::string error;
};

// One flat JSON object of at most `max_bytes`: what requests are, and the text replies.
ParsedObject parse_flat_object(std::string_view text, std::size_t max_bytes);

struct ParsedRequest {
    std::optional<Request> request;
    std::string error;  // why there is none: "at byte 12: expected ':'"
};

ParsedRequest parse_request(std::string_view text);

// Builds JSON text. Keys and string values are escaped; the caller keeps objects balanced.
class JsonWriter {
public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(std::uint64_t n);
    JsonWriter& value(std::int64_t n);
    JsonWriter& value(unsigned n) { return value(std::uint64_t{n}); }
    JsonWriter& value(int n) { return value(std::int64_t{n}); }
    JsonWriter& value(double d);
    JsonWriter& value(bool b);
    // JSON text made elsewhere (a record's line), inserted as a value.
    JsonWriter& raw(std::string_view json);

    template <typename T>
    JsonWriter& field(std::string_view k, const T& v) {
        return key(k).value(v);
    }

    const std::string& text() const { return out_; }

private:
    void separate();

    std::string out_;
    bool first_ = true;  // nothing written yet at this level
};

std::string json_escape(std::string_view s);

}  // namespace sluice::ops
