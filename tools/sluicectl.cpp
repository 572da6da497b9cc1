// sluicectl: asks a running sluice-control over its control socket. Tables for a person, the
// control's JSON for a script (--json), and an exit status a script can trust.
#include <getopt.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "control/ops/command_specs.hpp"
#include "control/ops/json.hpp"
#include "shared/config/loader.hpp"
#include "sluice_version.h"

namespace {

using namespace sluice;

// Exit statuses.
constexpr int kOk = 0;
constexpr int kRefused = 1;      // the control answered with an error
constexpr int kUsage = 2;        // a bad command line or configuration
constexpr int kUnreachable = 3;  // no control answers on the socket

constexpr const char* kDefaultConfig = config::kDefaultPath;
constexpr std::size_t kMaxReply = 16 << 20;

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: sluicectl [--config FILE | --socket PATH] [--json] COMMAND [ARGUMENT]\n"
                 "commands:\n");
    for (const ops::CommandSpec& c : ops::kCommands) {
        std::string name(c.name);
        if (!c.argument.empty()) {
            std::string argument(c.argument);
            for (char& ch : argument) ch = static_cast<char>(std::toupper(ch));
            name += " [" + argument + "]";
        }
        std::string help(c.help);
        if (!c.argument.empty()) help += "; " + std::string(c.argument_help);
        // A help of several lines goes on under its first.
        for (std::size_t at = 0; (at = help.find('\n', at)) != std::string::npos; at += 15)
            help.insert(at + 1, 15, ' ');
        std::fprintf(out, "  %-13s%s\n", name.c_str(), help.c_str());
    }
    std::fprintf(out,
                 "options:\n"
                 "  -c, --config FILE   take [control] socket from FILE (default %s)\n"
                 "  -s, --socket PATH   the control socket itself\n"
                 "  -j, --json          print the control's JSON reply\n"
                 "exit status: 0 done, 1 the control refused (its message is printed), 2 usage,\n"
                 "3 no sluice-control answers on the socket\n",
                 kDefaultConfig);
}

// Sends one request line, returns the reply line; empty with errno-like text in `error`.
std::string ask(const std::string& path, const std::string& request, std::string& error) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof(a.sun_path)) {
        error = "the socket path is too long";
        return {};
    }
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        error = std::strerror(errno);
        close(fd);
        return {};
    }
    const std::string line = request + "\n";
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
        error = std::strerror(errno);
        close(fd);
        return {};
    }
    std::string reply;
    char buf[65536];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (reply.find('\n') == std::string::npos && reply.size() < kMaxReply) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            error = "no reply within 10 s";
            break;
        }
        const ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            error =
                n == 0 ? "the control closed the connection without a reply" : std::strerror(errno);
            break;
        }
        reply.append(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    const auto newline = reply.find('\n');
    if (newline == std::string::npos) {
        if (error.empty()) error = "the reply is too long";
        return {};
    }
    reply.resize(newline);
    return reply;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path = kDefaultConfig;
    std::string socket_path;
    bool json = false;
    static const option options[] = {
        {"config", required_argument, nullptr, 'c'}, {"socket", required_argument, nullptr, 's'},
        {"json", no_argument, nullptr, 'j'},         {"version", no_argument, nullptr, 'V'},
        {"help", no_argument, nullptr, 'h'},         {nullptr, 0, nullptr, 0}};
    for (int opt; (opt = getopt_long(argc, argv, "c:s:jVh", options, nullptr)) != -1;) {
        switch (opt) {
            case 'c': config_path = optarg; break;
            case 's': socket_path = optarg; break;
            case 'j': json = true; break;
            case 'V': std::printf("sluicectl %s\n", SLUICE_VERSION); return kOk;
            case 'h': usage(stdout); return kOk;
            default: usage(stderr); return kUsage;
        }
    }
    if (optind == argc || argc - optind > 2) {
        usage(stderr);
        return kUsage;
    }
    const std::string command = argv[optind];
    // A command this sluicectl does not know goes to the control all the same, which may be
    // newer; it answers an unknown one with the list of its commands. An argument needs a
    // command known here, whose table names it.
    const ops::CommandSpec* spec = ops::find_command(command);
    std::optional<std::int64_t> argument;
    if (argc - optind == 2) {
        char* end = nullptr;
        errno = 0;
        const long long n = std::strtoll(argv[optind + 1], &end, 10);
        if (spec == nullptr || spec->argument.empty() || *end != '\0' || errno != 0 || n < 1 ||
            n > spec->argument_max) {
            if (spec == nullptr || spec->argument.empty())
                std::fprintf(stderr, "sluicectl: %s takes no argument\n", command.c_str());
            else
                std::fprintf(stderr, "sluicectl: %s: %s is a whole number from 1 to %lld\n",
                             command.c_str(), std::string(spec->argument).c_str(),
                             static_cast<long long>(spec->argument_max));
            return kUsage;
        }
        argument = n;
    }
    if (socket_path.empty()) {
        const auto loaded = config::load_file(config_path);
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        if (!loaded.config) return kUsage;
        socket_path = loaded.config->control.socket;
    }
    ops::JsonWriter request;
    request.begin_object().field("command", command);
    if (!json) request.field("format", "text");
    if (argument) request.field(spec->argument, *argument);
    request.end_object();

    std::string error;
    const std::string reply = ask(socket_path, request.text(), error);
    if (reply.empty()) {
        std::fprintf(stderr, "sluicectl: no sluice-control answers on %s: %s\n",
                     socket_path.c_str(), error.c_str());
        return kUnreachable;
    }
    if (json) {
        std::printf("%s\n", reply.c_str());
        return reply.starts_with("{\"ok\":true") ? kOk : kRefused;
    }
    // In text form every reply is flat: {"ok": true, "text": "..."} or {"ok": false, "error": ...}.
    const ops::ParsedObject parsed = ops::parse_flat_object(reply, kMaxReply);
    const ops::FlatObject* o = parsed.object ? &*parsed.object : nullptr;
    auto get = [o](const char* key) -> const ops::Value* {
        return o != nullptr && o->count(key) ? &o->at(key) : nullptr;
    };
    const auto* ok = get("ok") ? std::get_if<bool>(get("ok")) : nullptr;
    const auto* text = get("text") ? std::get_if<std::string>(get("text")) : nullptr;
    const auto* message = get("error") ? std::get_if<std::string>(get("error")) : nullptr;
    if (ok != nullptr && !*ok) {
        std::fprintf(stderr, "sluicectl: %s\n", message ? message->c_str() : reply.c_str());
        return kRefused;
    }
    if (ok == nullptr || text == nullptr) {
        std::fprintf(stderr, "sluicectl: an answer it does not understand: %s\n", reply.c_str());
        return kRefused;
    }
    std::fputs(text->c_str(), stdout);
    return kOk;
}
