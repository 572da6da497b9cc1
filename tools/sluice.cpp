// sluice: starts sluice-dataplane, then sluice-control once the dataplane is ready, and stops both.
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "shared/config/loader.hpp"
#include "shared/config/units.hpp"
#include "sluice/hugepages.hpp"
#include "sluice/log.hpp"
#include "sluice/shm.hpp"
#include "sluice_version.h"
#include "tools/pcap/inputs.hpp"
#include "tools/pcap/offline.hpp"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr auto kDataplaneReadyTimeout = std::chrono::seconds(120);
constexpr auto kControlReadyTimeout = std::chrono::seconds(60);
// After a stop, how long the children get to flush and export before they are killed: the
// dataplane waits up to 60 s for the control to drain its rings, the control 10 s for its
// collectors.
constexpr auto kStopGrace = std::chrono::seconds(90);

void usage(FILE* out) {
    std::fprintf(
        out,
        "usage: sluice run [--config FILE] [--summary FILE]\n"
        "       sluice pcap CAPTURE... [--to HOST:PORT|PATH] [--transport udp|tcp|tls|file]\n"
        "                   [--protocol ipfix|netflow9|netflow5] [--records biflow|uniflow]\n"
        "                   [--ca-file FILE] [--config FILE] [--print-records]\n"
        "                   [--deduplicate WINDOW] [--sampling 1:N [--deterministic]]\n"
        "                   [--workers N] [--max-flows N] [--no-progress] [--dataplane]\n"
        "                   [--summary FILE]\n"
        "  run    start sluice-dataplane and sluice-control with one configuration;\n"
        "         Ctrl-C or SIGTERM stops both\n"
        "  pcap   meter captures (pcap or pcapng, as written or .gz/.zst; files, folders of\n"
        "         them, or - for standard input) into flow records and export them to one\n"
        "         collector (IPFIX over UDP, TCP or TLS, an IPFIX file, NetFlow v9 or v5 over\n"
        "         UDP), then print the accounting. One process, as any user: no DPDK, no\n"
        "         hugepages. Several files are one trace, read in the order of their first\n"
        "         packets\n"
        "  -c, --config FILE        the Sluice configuration (run: default\n"
        "                           /etc/sluice/sluice.toml; pcap: settings that replace the\n"
        "                           defaults, such as [flow], [sensor], [applications] and a\n"
        "                           [[collector]]'s; it needs no [[port]])\n"
        "  -t, --to HOST:PORT|PATH  pcap: the collector, or the IPFIX file to write\n"
        "      --transport T        pcap: udp (default), tcp, tls (IPFIX over TLS, RFC 7011)\n"
        "                           or file\n"
        "      --ca-file FILE       pcap, tls: the CAs that sign the collector's certificate\n"
        "                           (default: the system's)\n"
        "      --protocol P         pcap: ipfix (default), netflow9 (RFC 3954) or netflow5\n"
        "                           (IPv4 only); NetFlow goes over UDP, in uniflow records\n"
        "      --records R          pcap: biflow (default: both directions in one record,\n"
        "                           RFC 5103) or uniflow (one record per direction, for\n"
        "                           collectors such as pmacct that read no reverse fields)\n"
        "      --print-records      pcap: every record on stdout, one line of JSON each\n"
        "      --deduplicate WINDOW pcap: drop a frame with the same bytes as one within\n"
        "                           WINDOW before it (a SPAN's second copy, up to 10ms:\n"
        "                           \"100us\"), counted as ignored (duplicate)\n"
        "      --sampling 1:N       pcap: meter one in N of the packets, one at random in each\n"
        "                           N (or the first of each with --deterministic); the others\n"
        "                           are counted as sampled out, and collectors told the rate\n"
        "      --workers N          pcap: metering threads, each with a table of its own; the\n"
        "                           packets are spread by their flow's symmetric hash (default:\n"
        "                           the CPUs this process may use)\n"
        "      --max-flows N        pcap: the flows the tables hold in all (default: [flow]\n"
        "                           max_flows, or fewer when the capture is small)\n"
        "      --no-progress        pcap: no progress line on a terminal's stderr\n"
        "      --dataplane          pcap: run sluice-dataplane and sluice-control instead, as a\n"
        "                           sensor would (one uncompressed file; root and hugepages)\n"
        "      --summary FILE       the final accounting as JSON, written when it stops\n"
        "  -V, --version            print the version and exit\n");
}

// Where this program is: its folder, and whether that is a folder of a build tree (its
// siblings and files are then there, not where `meson install` puts them).
fs::path self_folder() {
    return fs::read_symlink("/proc/self/exe").parent_path();
}
bool in_build_tree() {
    std::error_code ec;
    return fs::exists(self_folder() / ".." / "build.ninja", ec);
}

// Where a sibling program is: next to this one once installed, in its own folder of the
// build tree otherwise.
std::string find_program(const char* name, const char* build_dir) {
    const fs::path self = self_folder();
    for (const fs::path& candidate : {self / name, self / ".." / build_dir / name})
        if (access(candidate.c_str(), X_OK) == 0) return fs::weakly_canonical(candidate).string();
    return name;  // from PATH
}

// The application signatures `sluice pcap` identifies with unless its --config says otherwise:
// the build tree's copy when run from one, else the file `meson install` installs.
std::string default_signatures() {
    if (in_build_tree())
        return fs::weakly_canonical(self_folder() / ".." / "config" / "applications.toml");
    return SLUICE_INSTALLED_SIGNATURES;
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

pid_t spawn(const std::vector<std::string>& args, const std::string& notify) {
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid != 0) return pid;
    // Dies with the launcher, however the launcher ends: a child left on its own would hold
    // the dataplane's hugepages. (Had the launcher gone before this line, it is gone now.)
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
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
    // Stops on SIGINT and SIGTERM, and on SIGHUP and SIGQUIT too (a terminal that closes): the
    // children die with the launcher, so it must not die before they have stopped.
    Launcher() {
        sigset_t set;
        sigemptyset(&set);
        for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&set, sig);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    }
    ~Launcher() { close(signal_fd_); }

    // `together`: start the control with the dataplane, not once it is ready; it waits for the
    // dataplane by itself. Quicker for a run that should end soon (a capture). `control_args`
    // are added to the control's command line.
    int run(const std::string& config, bool together = false,
            const std::vector<std::string>& control_args = {}) {
        const std::string tag = "sluice-run-" + std::to_string(getpid());
        NotifySocket dp_notify(tag + "-dataplane");
        NotifySocket ctl_notify(tag + "-control");
        const auto start_control = [&](std::vector<std::string> args) {
            args.insert(args.begin(),
                        {find_program("sluice-control", "control"), "--config", config});
            args.insert(args.end(), control_args.begin(), control_args.end());
            control_.pid = spawn(args, ctl_notify.address);
        };

        dataplane_.pid = spawn({find_program("sluice-dataplane", "dataplane"), "--config", config},
                               dp_notify.address);
        if (together) start_control({"--wait", "120s"});
        if (!wait_ready(dataplane_, dp_notify, kDataplaneReadyTimeout)) return finish();
        if (!together) start_control({});
        if (!wait_ready(control_, ctl_notify, kControlReadyTimeout)) return finish();
        SLUICE_INFO("running: sluice-dataplane pid %d, sluice-control pid %d; Ctrl-C stops both",
                    dataplane_.pid, control_.pid);
        while (dataplane_.running() || control_.running()) {
            pollfd p{signal_fd_, POLLIN, 0};
            poll(&p, 1, 1000);
            handle_signals();
            // The control leaving on its own while the dataplane runs is a failure: stop both.
            if (!control_.running() && dataplane_.running() && !stopping_) stop();
            // The dataplane done (its captures replayed): the control stops by itself, within
            // the grace a stop has.
            if (!dataplane_.running() && !stopping_) {
                stopping_ = true;
                stop_began_ = Clock::now();
            }
        }
        return finish();
    }

private:
    struct Child {
        const char* name;
        pid_t pid = -1;
        int status = 0;
        int told = 0;  // the signal the launcher sent it to stop
        bool killed = false;
        bool running() const { return pid > 0; }
    };

    void signal(Child& c, int sig) {
        kill(c.pid, sig);
        c.told = sig;
    }

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
        // Ready, then gone in the same wake-up: it was ready (what it did next is for the caller).
        if (!child.running() && !stopping_ && notify.ready()) return true;
        // A failure has been said when it was reaped.
        if (!child.running() && !stopping_ && child.status == 0)
            SLUICE_ERROR("%s exited before it was ready", child.name);
        stop();
        return false;
    }

    void handle_signals() {
        signalfd_siginfo info{};
        while (read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
            if (info.ssi_signo == SIGCHLD) continue;
            const int sig = static_cast<int>(info.ssi_signo);
            if (!stopping_) {
                SLUICE_INFO("SIG%s received, stopping sluice-control and sluice-dataplane",
                            sigabbrev_np(sig));
                stop(sig == SIGINT ? SIGINT : SIGTERM);
            } else {
                // A second one is urgent: passed on, the dataplane stops without flushing.
                SLUICE_WARN("SIG%s received while stopping: stopping at once", sigabbrev_np(sig));
                for (Child* c : {&dataplane_, &control_})
                    if (c->running()) signal(*c, sig == SIGINT ? SIGINT : SIGTERM);
            }
        }
        for (Child* c : {&dataplane_, &control_}) {
            int status = 0;
            if (c->running() && waitpid(c->pid, &status, WNOHANG) == c->pid) {
                c->pid = -1;
                c->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                // Ended by the signal it was told to stop with, before it could take it: stopped.
                if (WIFSIGNALED(status) && WTERMSIG(status) == c->told && !c->killed) c->status = 0;
                if (c->status != 0) SLUICE_ERROR("%s exited with status %d", c->name, c->status);
            }
        }
        // Stopping for longer than any flush and export takes: what is left is killed.
        if (stopping_ && Clock::now() - stop_began_ > kStopGrace)
            for (Child* c : {&dataplane_, &control_})
                if (c->running() && !c->killed) {
                    SLUICE_ERROR(
                        "%s has not stopped %lld s after it was asked to; killing it", c->name,
                        static_cast<long long>(
                            std::chrono::duration_cast<std::chrono::seconds>(kStopGrace).count()));
                    signal(*c, SIGKILL);
                    c->killed = true;
                }
    }

    // Stops the dataplane, which flushes every flow and waits for the control to export them;
    // the control stops by itself once the dataplane has gone. A control with no dataplane
    // (one that failed, or has finished) is stopped itself.
    void stop(int sig = SIGTERM) {
        if (stopping_) return;
        stopping_ = true;
        stop_began_ = Clock::now();
        if (dataplane_.running())
            signal(dataplane_, sig);
        else if (control_.running())
            signal(control_, sig);
    }

    // Waits for both children and reaps them; the exit status is the first that failed.
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
    Clock::time_point stop_began_{};
    Child dataplane_{"sluice-dataplane"};
    Child control_{"sluice-control"};
};

// Removes what a DPDK primary of `prefix` leaves behind: its hugepage files and runtime folder;
// and what a killed sluice-control of it left for the next one.
void remove_prefix_files(const std::string& prefix) {
    hugepages::remove_files(prefix);
    std::error_code ec;
    fs::remove_all(fs::path("/var/run/dpdk") / prefix, ec);
    const fs::path state = shm::control_state_prefix(prefix);
    for (const auto& e : fs::directory_iterator(state.parent_path(), ec))
        if (e.path().filename().string().starts_with(state.filename().string()))
            fs::remove(e.path(), ec);
}

constexpr std::string_view kPcapPrefix = "sluice-pcap-";

// The launcher pid of what a `sluice pcap` leaves: "sluice-pcap-PID" (DPDK's runtime folder),
// "sluice-pcap-PIDmap_N" (its hugepage files), "sluice-pcap-PID.XXXXXX" (the launcher's
// folder); 0 for any other name.
pid_t pcap_run_pid(const std::string& name) {
    if (!name.starts_with(kPcapPrefix)) return 0;
    pid_t pid = 0;
    const char* begin = name.data() + kPcapPrefix.size();
    const char* last = name.data() + name.size();
    const auto [end, ec] = std::from_chars(begin, last, pid);
    if (ec != std::errc() || end == begin) return 0;
    const std::string_view rest(end, static_cast<std::size_t>(last - end));
    const bool ours =
        rest.empty() || rest.starts_with("map_") || (rest.size() == 7 && rest[0] == '.');
    return ours ? pid : 0;
}

// Whether a DPDK primary of `prefix` runs: it holds a lock on its runtime config (as
// rte_eal_primary_proc_alive asks), whichever PID namespace it is in.
bool primary_runs(const std::string& prefix) {
    const int fd = open(("/var/run/dpdk/" + prefix + "/config").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool locked = lockf(fd, F_TEST, 0) != 0;
    close(fd);
    return locked;
}

// Removes what earlier runs of `sluice pcap` that were killed left: hugepage files (which pin
// their memory), DPDK runtime folders and temporary folders ("sluice-pcap-PID.XXXXXX") of
// launchers no longer running.
void remove_dead_runs() {
    std::map<pid_t, std::vector<fs::path>> dead;  // each dead launcher's temporary folders
    std::error_code ec;
    const fs::path temporary = fs::temp_directory_path(ec);
    std::vector<fs::path> folders = hugepages::mounts();
    folders.push_back("/var/run/dpdk");
    folders.push_back(temporary);
    for (const fs::path& folder : folders)
        for (const auto& entry : fs::directory_iterator(folder, ec)) {
            const pid_t pid = pcap_run_pid(entry.path().filename().string());
            if (pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH) continue;
            auto& mine = dead[pid];
            // Of the temporary directory, only this user's folders.
            struct stat st {};
            if (folder == temporary && lstat(entry.path().c_str(), &st) == 0 &&
                S_ISDIR(st.st_mode) && st.st_uid == geteuid())
                mine.push_back(entry.path());
        }
    for (const auto& [pid, temporaries] : dead) {
        const std::string prefix = std::string(kPcapPrefix) + std::to_string(pid);
        if (primary_runs(prefix)) continue;  // a launcher of another PID namespace, running
        remove_prefix_files(prefix);
        for (const fs::path& t : temporaries) fs::remove_all(t, ec);
        SLUICE_INFO("removed what a sluice pcap that did not finish (pid %d) left behind", pid);
    }
}

// The folder and shared-memory prefix of one `sluice pcap`, removed however it ends.
// The folder is made by mkdtemp, private and new: nobody can have put anything there first.
struct PcapRun {
    std::string prefix = std::string(kPcapPrefix) + std::to_string(getpid());
    fs::path work;  // empty when it could not be made
    std::string error;

    PcapRun() {
        std::error_code ec;
        std::string name = (fs::temp_directory_path(ec) / (prefix + ".XXXXXX")).string();
        if (mkdtemp(name.data()) != nullptr)
            work = name;
        else
            error = "cannot make a folder " + name + ": " + std::strerror(errno);
    }
    ~PcapRun() {
        remove_prefix_files(prefix);
        std::error_code ec;
        if (!work.empty()) fs::remove_all(work, ec);
    }
    PcapRun(const PcapRun&) = delete;
    PcapRun& operator=(const PcapRun&) = delete;
};

// How the log names each protocol.
constexpr const char* kProtocolNames[] = {"IPFIX", "NetFlow v9", "NetFlow v5"};

struct PcapOptions {
    std::vector<std::string> inputs;
    std::string to;
    config::Transport transport = config::Transport::udp;
    std::optional<config::Records> records;    // the configuration's collector's, or biflow
    std::optional<config::Protocol> protocol;  // the configuration's collector's, or ipfix
    std::string ca_file;                       // tls: the CAs the collector is verified against
    std::optional<std::string> config;
    bool print_records = false;
    std::string summary;
    config::Duration deduplicate{0};  // the capture port's [[port]] deduplicate
    std::string sampling = "1:1";     // and its sampling
    bool deterministic = false;
    unsigned workers = 0;         // 0: the CPUs this process may use
    std::uint32_t max_flows = 0;  // 0: the configuration's, or fewer for a small capture
    bool progress = true;         // when stderr is a terminal
    bool dataplane = false;       // through sluice-dataplane and sluice-control
};

// The configuration `sluice pcap` runs with: the defaults, with what the user's file gives
// over them; the capture as the only port and the one collector. `given`: the settings the
// user's file gave.
std::optional<config::Config> pcap_config(const PcapOptions& o, std::set<std::string>& given) {
    config::Config c;
    if (o.config) {
        auto loaded = config::load_file(*o.config, config::Ports::optional);
        for (const auto& e : loaded.errors) log::error_line(e.to_string().c_str());
        if (!loaded.config) return std::nullopt;
        c = std::move(*loaded.config);
        given = std::move(loaded.given);
        // Read from elsewhere from now on: a path relative to the user's file is taken from
        // where that file is.
        if (!c.applications.signatures.empty())
            c.applications.signatures = fs::absolute(config::signatures_path(c)).string();
    }
    if (!given.contains("applications.signatures")) {
        const std::string signatures = default_signatures();
        std::error_code ec;
        if (fs::exists(signatures, ec))
            c.applications.signatures = signatures;
        else
            SLUICE_WARN(
                "no application signatures at %s: records carry no applicationId (give one "
                "with [applications] signatures in --config)",
                signatures.c_str());
    }
    if (o.max_flows != 0) c.flow.max_flows = o.max_flows;
    // The captures are one port, read by one worker (or, in one process, spread over several).
    config::Port port;
    port.capture = o.inputs.at(0) == "-" ? "/dev/stdin" : fs::absolute(o.inputs.at(0)).string();
    port.deduplicate = o.deduplicate;
    port.sampling = o.sampling;
    port.deterministic = o.deterministic;
    c.ports = {port};
    c.dataplane.worker_cores.cpus.resize(1);
    // The configuration's settings for a collector of this transport (mtu, timestamps, ...).
    std::vector<config::Collector> collectors;
    if (!o.to.empty()) {
        config::Collector collector;
        for (const auto& existing : c.collectors)
            if (existing.transport == o.transport) {
                collector = existing;
                break;
            }
        collector.transport = o.transport;
        if (o.protocol) collector.protocol = *o.protocol;
        if (!o.ca_file.empty()) collector.ca_file = o.ca_file;
        if (o.records) {
            collector.records = *o.records;
        } else if (collector.protocol != config::Protocol::ipfix) {
            collector.records = config::Records::uniflow;
        }
        collector.name = o.to;
        if (o.transport == config::Transport::file) {
            collector.path = fs::absolute(o.to).string();
        } else {
            const auto address = config::parse_socket_address(o.to);
            if (!address.value) {
                SLUICE_ERROR("--to %s: %s", o.to.c_str(), address.error.c_str());
                return std::nullopt;
            }
            collector.address = *address.value;
        }
        collectors.push_back(collector);
    }
    c.collectors = collectors;
    c.metrics.enabled = false;  // a capture's run is over before anyone would scrape it
    return c;
}

void log_start(const PcapOptions& o, const config::Config& c, const std::string& what) {
    if (o.to.empty())
        SLUICE_INFO("metering %s into flow records", what.c_str());
    else
        SLUICE_INFO("metering %s into %s records for %s (%s)", what.c_str(),
                    kProtocolNames[static_cast<int>(c.collectors[0].protocol)], o.to.c_str(),
                    config::choice_name(config::kTransports, o.transport).data());
}

// Through the sensor's own two processes: a DPDK primary whose worker reads the capture, and a
// sluice-control that exports its records.
int pcap_dataplane(const PcapOptions& o) {
    const std::string& trace = o.inputs[0];
    if (access(trace.c_str(), R_OK) != 0) {
        SLUICE_ERROR("cannot read the capture %s: %s", trace.c_str(), std::strerror(errno));
        return 2;
    }
    remove_dead_runs();
    const PcapRun run;
    if (run.work.empty()) {
        SLUICE_ERROR("%s", run.error.c_str());
        return 1;
    }
    std::set<std::string> given;
    auto c = pcap_config(o, given);
    if (!c) return 2;
    // What a million flows need on one worker, and no more: less memory to map, a quicker
    // start (tools/setup reserves 2 GiB). A prefix of its own so it never meets a running
    // sensor.
    if (!given.contains("dataplane.hugepage_memory")) c->dataplane.hugepage_memory = 384ull << 20;
    c->dataplane.file_prefix = run.prefix;
    // The EAL's start-up chatter is not what an analyst came for; warnings still show.
    c->dataplane.eal_args.push_back("--log-level=lib.eal:warning");
    c->control.socket = (run.work / "control.sock").string();
    const fs::path file = run.work / "sluice.toml";
    std::ofstream(file) << config::to_toml(*c);
    // Read back as both processes will: what the options made must be a valid configuration.
    const auto checked = config::load_file(file.string());
    for (const auto& e : checked.errors) log::error_line(e.to_string().c_str());
    if (!checked.config) return 2;
    log_start(o, *checked.config, trace);
    std::vector<std::string> control_args;
    if (o.print_records) control_args.push_back("--print-records");
    if (!o.summary.empty()) control_args.insert(control_args.end(), {"--summary", o.summary});
    return Launcher().run(file.string(), true, control_args);
}

// The CPUs this process may run on.
unsigned available_cpus() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
    return static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
}

// In one process: no EAL, no hugepages, no root.
int pcap(PcapOptions o) {
    const offline::Inputs inputs = offline::plan_inputs(o.inputs);
    for (const std::string& notice : inputs.notices) SLUICE_WARN("%s", notice.c_str());
    for (const std::string& error : inputs.errors) SLUICE_ERROR("%s", error.c_str());
    if (inputs.files.empty()) {
        if (inputs.errors.empty()) SLUICE_ERROR("no capture to read");
        return 2;
    }
    o.inputs = inputs.files;
    std::set<std::string> given;
    auto c = pcap_config(o, given);
    if (!c) return 2;
    // A capture holds no more flows than it holds packets, of 50 bytes at least each (a record
    // header and an Ethernet and IPv4 header).
    if (o.max_flows == 0 && !given.contains("flow.max_flows") && !inputs.compressed &&
        inputs.bytes != 0)
        c->flow.max_flows = static_cast<std::uint32_t>(
            std::clamp<std::uint64_t>(inputs.bytes / 50, 1024, c->flow.max_flows));
    // What the options made must be a valid configuration, as the file a sensor reads is.
    const auto checked = config::load_string(config::to_toml(*c), "sluice pcap");
    for (const auto& e : checked.errors) log::error_line(e.to_string().c_str());
    if (!checked.config) return 2;
    std::string what = o.inputs[0] == "-" ? "standard input" : o.inputs[0];
    if (o.inputs.size() > 1) what = std::to_string(o.inputs.size()) + " captures";
    log_start(o, *c, what);
    offline::Options run;
    run.inputs = o.inputs;
    run.input_bytes = inputs.bytes;
    run.workers = o.workers != 0 ? o.workers : std::min(available_cpus(), shm::kMaxWorkers);
    run.print_records = o.print_records;
    run.progress = o.progress && isatty(STDERR_FILENO);
    run.summary = o.summary;
    const int status = offline::run(*c, run);
    return status == 0 && !inputs.errors.empty() ? 1 : status;
}

// An option's value, one of a choice's names; false (said) when it is none of them.
template <typename E, std::size_t N, typename Out>
bool choice(const std::array<std::pair<std::string_view, E>, N>& names, const char* option,
            Out& out) {
    const auto value = config::choice_value(names, optarg);
    if (!value) {
        SLUICE_ERROR("%s %s: expected %s", option, optarg, config::choice_names(names).c_str());
        return false;
    }
    out = *value;
    return true;
}

// An option's whole number within [low, high]; false (said) otherwise.
template <typename T>
bool whole_number(const char* text, std::uint64_t low, std::uint64_t high, const char* option,
                  T& out) {
    std::uint64_t v = 0;
    const char* end = text + std::strlen(text);
    const auto [at, ec] = std::from_chars(text, end, v);
    if (ec != std::errc() || at != end || v < low || v > high) {
        SLUICE_ERROR("%s %s: expected a whole number from %llu to %llu", option, text,
                     static_cast<unsigned long long>(low), static_cast<unsigned long long>(high));
        return false;
    }
    out = static_cast<T>(v);
    return true;
}

int pcap_main(int argc, char** argv) {
    PcapOptions o;
    enum {
        kTransport = 256,
        kRecords,
        kProtocol,
        kCaFile,
        kPrintRecords,
        kSummary,
        kDeduplicate,
        kSampling,
        kDeterministic,
        kWorkers,
        kMaxFlows,
        kNoProgress,
        kDataplane
    };
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {"to", required_argument, nullptr, 't'},
                                     {"transport", required_argument, nullptr, kTransport},
                                     {"records", required_argument, nullptr, kRecords},
                                     {"protocol", required_argument, nullptr, kProtocol},
                                     {"ca-file", required_argument, nullptr, kCaFile},
                                     {"print-records", no_argument, nullptr, kPrintRecords},
                                     {"summary", required_argument, nullptr, kSummary},
                                     {"deduplicate", required_argument, nullptr, kDeduplicate},
                                     {"sampling", required_argument, nullptr, kSampling},
                                     {"deterministic", no_argument, nullptr, kDeterministic},
                                     {"workers", required_argument, nullptr, kWorkers},
                                     {"max-flows", required_argument, nullptr, kMaxFlows},
                                     {"no-progress", no_argument, nullptr, kNoProgress},
                                     {"dataplane", no_argument, nullptr, kDataplane},
                                     {nullptr, 0, nullptr, 0}};
    optind = 2;
    for (int opt; (opt = getopt_long(argc, argv, "c:t:", options, nullptr)) != -1;) {
        switch (opt) {
            case 'c': o.config = optarg; break;
            case 't': o.to = optarg; break;
            case kPrintRecords: o.print_records = true; break;
            case kCaFile: o.ca_file = fs::absolute(optarg).string(); break;
            case kSummary: o.summary = fs::absolute(optarg).string(); break;
            case kTransport:
                if (!choice(config::kTransports, "--transport", o.transport)) return 2;
                break;
            case kRecords:
                if (!choice(config::kRecordShapes, "--records", o.records)) return 2;
                break;
            case kProtocol:
                if (!choice(config::kProtocols, "--protocol", o.protocol)) return 2;
                break;
            case kDeduplicate: {
                const auto window = config::parse_duration(optarg);
                if (!window.value || *window.value > config::Port::kMaxDeduplicate) {
                    SLUICE_ERROR("--deduplicate %s: %s", optarg,
                                 window.value ? "at most 10ms" : window.error.c_str());
                    return 2;
                }
                o.deduplicate = *window.value;
                break;
            }
            case kSampling: {
                const auto n = config::parse_sampling(optarg, config::Port::kMaxSampling);
                if (!n.value) {
                    SLUICE_ERROR("--sampling %s: %s", optarg, n.error.c_str());
                    return 2;
                }
                o.sampling = optarg;
                break;
            }
            case kDeterministic: o.deterministic = true; break;
            case kWorkers:
                if (!whole_number(optarg, 1, shm::kMaxWorkers, "--workers", o.workers)) return 2;
                break;
            case kMaxFlows:
                if (!whole_number(optarg, 1024, 1u << 28, "--max-flows", o.max_flows)) return 2;
                break;
            case kNoProgress: o.progress = false; break;
            case kDataplane: o.dataplane = true; break;
            default: usage(stderr); return 2;
        }
    }
    if (optind == argc || (o.to.empty() && !o.print_records && o.summary.empty())) {
        SLUICE_ERROR(
            "sluice pcap needs a capture (files, folders or -) and where its records go: --to, "
            "--print-records or --summary");
        usage(stderr);
        return 2;
    }
    o.inputs.assign(argv + optind, argv + argc);
    if (o.dataplane && (o.inputs.size() != 1 || o.inputs[0] == "-" || o.workers != 0)) {
        SLUICE_ERROR("--dataplane reads one capture file, on one worker");
        return 2;
    }
    if (o.protocol.value_or(config::Protocol::ipfix) != config::Protocol::ipfix) {
        const char* p = config::choice_name(config::kProtocols, *o.protocol).data();
        if (o.transport != config::Transport::udp) {
            SLUICE_ERROR("--protocol %s goes over UDP only, not --transport %s", p,
                         config::choice_name(config::kTransports, o.transport).data());
            return 2;
        }
        if (o.records == config::Records::biflow) {
            SLUICE_ERROR("--protocol %s sends uniflow records: NetFlow has no reverse fields", p);
            return 2;
        }
    }
    if (!o.ca_file.empty() && o.transport != config::Transport::tls) {
        SLUICE_ERROR("--ca-file is for --transport tls");
        return 2;
    }
    return o.dataplane ? pcap_dataplane(o) : pcap(std::move(o));
}

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
    if (command == "pcap") return pcap_main(argc, argv);
    if (command != "run") {
        SLUICE_ERROR("unknown command \"%s\"", command.c_str());
        usage(stderr);
        return 2;
    }
    std::string config = config::kDefaultPath;
    std::vector<std::string> control_args;
    enum { kSummary = 256 };
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {"summary", required_argument, nullptr, kSummary},
                                     {nullptr, 0, nullptr, 0}};
    optind = 2;
    for (int opt; (opt = getopt_long(argc, argv, "c:", options, nullptr)) != -1;) {
        if (opt == 'c') {
            config = optarg;
        } else if (opt == kSummary) {
            control_args = {"--summary", fs::absolute(optarg).string()};
        } else {
            usage(stderr);
            return 2;
        }
    }
    return Launcher().run(config, false, control_args);
}
