// sluice: starts sluice-dataplane, then sluice-control once the dataplane is ready, and stops both.
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sluice/log.hpp"
#include "sluice_version.h"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr auto kDataplaneReadyTimeout = std::chrono::seconds(120);
constexpr auto kControlReadyTimeout = std::chrono::seconds(60);

void usage(FILE* out) {
    std::fprintf(
        out,
        "usage: sluice run [--config FILE]\n"
        "  run    start sluice-dataplane and sluice-control with one configuration;\n"
        "         Ctrl-C or SIGTERM stops both\n"
        "  -c, --config FILE   the Sluice configuration (default /etc/sluice/sluice.toml)\n"
        "  -V, --version       print the version and exit\n");
}

// Where a sibling program is: next to this one once installed, in its own folder of the
// build tree otherwise.
std::string find_program(const char* name, const char* build_dir) {
    const fs::path self = fs::read_symlink("/proc/self/exe").parent_path();
    for (const fs::path& candidate : {self / name, self / ".." / build_dir / name})
        if (access(candidate.c_str(), X_OK) == 0) return fs::weakly_canonical(candidate).string();
    return name;  // from PATH
}

// A datagram socket speaking the sd_notify protocol, so a child says READY=1 the same way
// under this launcher as under systemd.
struct NotifySocket {
    int fd = -1;
    std::string address;  // NOTIFY_SOCKET value, "@name" for the abstract namespace

    explicit NotifySocket(const std::string& name) {
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path + 1, name.data(), name.size());
        const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
        if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
            SLUICE_ERROR("cannot create the readiness socket: %s", std::strerror(errno));
            std::exit(1);
        }
        address = "@" + name;
    }
    ~NotifySocket() { close(fd); }

    // True once a datagram carrying READY=1 has arrived.
    bool ready() const {
        char buf[4096];
        ssize_t n;
        bool seen = false;
        while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
            buf[n] = '\0';
            for (char* line = std::strtok(buf, "\n"); line != nullptr;
                 line = std::strtok(nullptr, "\n"))
                seen |= std::strcmp(line, "READY=1") == 0;
        }
        return seen;
    }
};

struct Child {
    const char* name;
    pid_t pid = -1;
    int status = 0;
    bool running() const { return pid > 0; }
};

pid_t spawn(const std::vector<std::string>& args, const std::string& notify) {
    const pid_t pid = fork();
    if (pid != 0) return pid;
    // Its own process group: a terminal's Ctrl-C reaches only the launcher, which forwards it
    // once, so a child never mistakes it for a second, urgent signal.
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setenv("NOTIFY_SOCKET", notify.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "sluice: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
}

class Launcher {
public:
    Launcher() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGCHLD);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    }
    ~Launcher() { close(signal_fd_); }

    int run(const std::string& config) {
        const std::string tag = "sluice-run-" + std::to_string(getpid());
        NotifySocket dp_notify(tag + "-dataplane");
        NotifySocket ctl_notify(tag + "-control");

        dataplane_.pid = spawn({find_program("sluice-dataplane", "dataplane"), "--config", config},
                               dp_notify.address);
        if (!wait_ready(dataplane_, dp_notify, kDataplaneReadyTimeout)) return finish();
        control_.pid = spawn({find_program("sluice-control", "control"), "--config", config},
                             ctl_notify.address);
        if (!wait_ready(control_, ctl_notify, kControlReadyTimeout)) return finish();
        SLUICE_INFO("running: sluice-dataplane pid %d, sluice-control pid %d; Ctrl-C stops both",
                    dataplane_.pid, control_.pid);
        while (dataplane_.running() || control_.running()) {
            pollfd p{signal_fd_, POLLIN, 0};
            poll(&p, 1, -1);
            handle_signals();
            // The control leaving on its own while the dataplane runs is a failure: stop both.
            if (!control_.running() && dataplane_.running() && !stopping_) stop();
        }
        return finish();
    }

private:
    bool wait_ready(Child& child, const NotifySocket& notify, Clock::duration timeout) {
        const auto deadline = Clock::now() + timeout;
        while (child.running() && !stopping_) {
            if (notify.ready()) return true;
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) {
                SLUICE_ERROR(
                    "%s did not become ready within %lld s; stopping", child.name,
                    static_cast<long long>(
                        std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
                stop();
                return false;
            }
            pollfd p[2] = {{signal_fd_, POLLIN, 0}, {notify.fd, POLLIN, 0}};
            poll(p, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
            handle_signals();
        }
        if (!child.running() && !stopping_)
            SLUICE_ERROR("%s exited before it was ready (status %d)", child.name, child.status);
        stop();
        return false;
    }

    void handle_signals() {
        signalfd_siginfo info{};
        while (read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
            if (info.ssi_signo == SIGCHLD) continue;
            SLUICE_INFO("SIG%s received, stopping sluice-control and sluice-dataplane",
                        sigabbrev_np(static_cast<int>(info.ssi_signo)));
            stop(static_cast<int>(info.ssi_signo));
        }
        for (Child* c : {&dataplane_, &control_}) {
            int status = 0;
            if (c->running() && waitpid(c->pid, &status, WNOHANG) == c->pid) {
                c->pid = -1;
                c->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                if (c->status != 0) SLUICE_ERROR("%s exited with status %d", c->name, c->status);
            }
        }
    }

    // Stops the dataplane, which flushes every flow and waits for the control to export them;
    // the control stops by itself once the dataplane has gone.
    void stop(int sig = SIGTERM) {
        if (stopping_) return;
        stopping_ = true;
        if (dataplane_.running())
            kill(dataplane_.pid, sig);
        else if (control_.running())
            kill(control_.pid, sig);
    }

    int finish() {
        while (dataplane_.running() || control_.running()) {
            pollfd p{signal_fd_, POLLIN, 0};
            poll(&p, 1, 1000);
            handle_signals();
        }
        return dataplane_.status != 0 ? dataplane_.status : control_.status;
    }

    int signal_fd_ = -1;
    bool stopping_ = false;
    Child dataplane_{"sluice-dataplane"};
    Child control_{"sluice-control"};
};

}  // namespace

int main(int argc, char** argv) {
    log::program() = "sluice";
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const std::string command = argv[1];
    if (command == "-h" || command == "--help" || command == "help") {
        usage(stdout);
        return 0;
    }
    if (command == "-V" || command == "--version" || command == "version") {
        std::printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    if (command != "run") {
        SLUICE_ERROR("unknown command \"%s\"", command.c_str());
        usage(stderr);
        return 2;
    }
    std::string config = "/etc/sluice/sluice.toml";
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {nullptr, 0, nullptr, 0}};
    optind = 2;
    for (int opt; (opt = getopt_long(argc, argv, "c:", options, nullptr)) != -1;) {
        if (opt != 'c') {
            usage(stderr);
            return 2;
        }
        config = optarg;
    }
    return Launcher().run(config);
}
