// SPDX-License-Identifier: BSD-3-Clause
// `umn bench`: runs umn-bench, installed (and built) beside this program.
#include "commands.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <unistd.h>

namespace umn::cli {

int run_bench_program(const std::vector<std::string> &args) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fmt::print(stderr, "umn bench: cannot find this program's directory: {}\n",
                   std::strerror(errno));
        return 127;
    }
    self[n] = '\0';
    std::string path(self);
    path = path.substr(0, path.rfind('/') + 1) + "umn-bench";
    std::vector<std::string> copy = args;
    std::vector<char *> argv = {path.data()};
    for (std::string &a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    fmt::print(stderr, "umn bench: cannot run {}: {}\n", path, std::strerror(errno));
    return 127;
}

}  // namespace umn::cli
