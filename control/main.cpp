// sluice-control: the DPDK secondary. Attaches to the dataplane's shared memory and exports.
#include <getopt.h>

#include <cstdio>
#include <optional>
#include <string>

#include "control/control.hpp"
#include "shared/config/loader.hpp"
#include "shared/config/units.hpp"
#include "sluice/log.hpp"
#include "sluice_version.h"

namespace {

using namespace sluice;

constexpr const char* kDefaultConfig = config::kDefaultPath;

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: sluice-control [--config FILE] [--wait DURATION]\n"
                 "       sluice-control --check-config FILE\n"
                 "  -c, --config FILE        the Sluice configuration (default %s)\n"
                 "  -w, --wait DURATION      wait this long for the dataplane to start (\"10s\")\n"
                 "      --print-records      write every record to stdout as a line of JSON\n"
                 "      --summary FILE       write the final accounting to FILE as JSON\n"
                 "      --check-config FILE  validate FILE, print the effective configuration\n"
                 "  -V, --version            print the version and exit\n"
                 "  -h, --help               this help\n",
                 kDefaultConfig);
}

std::optional<config::Config> load(const std::string& path) {
    auto loaded = config::load_file(path);
    for (const auto& e : loaded.errors) log::error_line(e.to_string().c_str());
    return std::move(loaded.config);
}

int check_config(const std::string& path) {
    const auto c = load(path);
    if (!c) return 2;
    std::fputs(config::to_toml(*c).c_str(), stdout);
    SLUICE_INFO("%s is valid", path.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    log::program() = "sluice-control";
    std::string config_path = kDefaultConfig;
    control::Options run_options;
    enum { kCheckConfig = 256, kPrintRecords, kSummary };
    static const option options[] = {{"config", required_argument, nullptr, 'c'},
                                     {"wait", required_argument, nullptr, 'w'},
                                     {"check-config", required_argument, nullptr, kCheckConfig},
                                     {"print-records", no_argument, nullptr, kPrintRecords},
                                     {"summary", required_argument, nullptr, kSummary},
                                     {"version", no_argument, nullptr, 'V'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    for (int opt; (opt = getopt_long(argc, argv, "c:w:Vh", options, nullptr)) != -1;) {
        switch (opt) {
            case 'c': config_path = optarg; break;
            case 'w': {
                const auto parsed = config::parse_duration(optarg);
                if (!parsed.value) {
                    SLUICE_ERROR("--wait %s: %s", optarg, parsed.error.c_str());
                    return 2;
                }
                run_options.wait = *parsed.value;
                break;
            }
            case kPrintRecords: run_options.print_records = true; break;
            case kSummary: run_options.summary = optarg; break;
            case kCheckConfig: return check_config(optarg);
            case 'V': std::printf("sluice-control %s\n", SLUICE_VERSION); return 0;
            case 'h': usage(stdout); return 0;
            default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    const auto c = load(config_path);
    if (!c) return 2;
    return control::run(*c, run_options);
}
