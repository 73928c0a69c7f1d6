// SPDX-License-Identifier: BSD-3-Clause
// The umn command line as a user meets it: runs the built `umn` and
// `umn-bench` and checks exit statuses, messages, JSON and line widths.
#include "config/options.hpp"
#include "table.hpp"

#include <umn/ofi.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <map>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

struct result {
    int status = -1;  // exit status; -1 if it did not exit
    std::string out, err;
};

std::string read_all(int fd) {
    std::string text;
    char buf[4096];
    lseek(fd, 0, SEEK_SET);
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
    close(fd);
    return text;
}

// Runs `program args...` with `env` ("NAME=value") added and stdout and
// stderr captured in memfds (no pipe to fill up).
result run(const char *program, std::vector<std::string> args, std::vector<std::string> env = {}) {
    int out = memfd_create("umn-out", 0), err = memfd_create("umn-err", 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out, 1);
        dup2(err, 2);
        for (std::string &e : env) putenv(e.data());
        std::vector<char *> argv = {const_cast<char *>(program)};
        for (std::string &a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(program, argv.data());
        _exit(126);
    }
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    result r;
    if (WIFEXITED(wstatus)) r.status = WEXITSTATUS(wstatus);
    r.out = read_all(out);
    r.err = read_all(err);
    return r;
}

result umn(std::vector<std::string> args, std::vector<std::string> env = {}) {
    return run(UMN_PATH, std::move(args), std::move(env));
}

// The lines of `text` longer than umn::cli::line_width, for the message.
std::string long_lines(const std::string &text) {
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line))
        if (line.size() > umn::cli::line_width) out += line + "\n";
    return out;
}

void expect_fits(const result &r) {
    EXPECT_EQ(long_lines(r.out), "");
    EXPECT_EQ(long_lines(r.err), "");
}

nlohmann::json parse_json(const std::string &text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << text;
    return j;
}

TEST(Cli, VersionIsTheProjectVersion) {
    result r = umn({"--version"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out,
              std::string("umn ") + UMN_PROJECT_VERSION + " (libumn " + umn_version() + ")\n");
    EXPECT_EQ(std::string(UMN_PROJECT_VERSION), umn_version());
}

TEST(Cli, HelpListsSubcommandsAndExitStatuses) {
    for (const std::vector<std::string> &args :
         std::vector<std::vector<std::string>>{{"help"}, {"--help"}}) {
        result r = umn(args);
        EXPECT_EQ(r.status, 0);
        for (const char *word : {"info", "check", "bench", "help", "Exit status", "77"})
            EXPECT_NE(r.out.find(word), std::string::npos) << word << "\n" << r.out;
        expect_fits(r);
    }
}

TEST(Cli, HelpSubcommandShowsItsOptionsAndRunsNothing) {
    result r = umn({"help", "check"});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("Usage: umn check"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--list"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("umn check: every case"), std::string::npos) << "it ran the check";
    expect_fits(r);
}

TEST(Cli, UnknownSubcommandListsTheSubcommandsWithStatus2) {
    for (const std::vector<std::string> &args :
         std::vector<std::vector<std::string>>{{"frobnicate"}, {"help", "frobnicate"}}) {
        result r = umn(args);
        EXPECT_EQ(r.status, 2);
        EXPECT_NE(r.err.find("'frobnicate' is not a subcommand"), std::string::npos) << r.err;
        for (const char *word : {"info", "check", "bench"})
            EXPECT_NE(r.err.find(word), std::string::npos) << r.err;
        expect_fits(r);
    }
}

TEST(Cli, NoSubcommandIsAUsageError) {
    result r = umn({});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("a subcommand is required"), std::string::npos) << r.err;
}

TEST(Cli, UnknownOptionIsAUsageError) {
    EXPECT_EQ(umn({"info", "--no-such-option"}).status, 2);
    EXPECT_EQ(umn({"check", "--monitor", "kernal"}).status, 2);
    EXPECT_EQ(run(UMN_BENCH_PATH, {"--no-such-option"}).status, 2);
}

// `umn bench --help` once printed umn's own stub for bench, which pointed
// back at `umn bench --help`: the help must be umn-bench's, with its options.
TEST(Cli, BenchHelpIsUmnBenchsOwn) {
    for (const std::vector<std::string> &args :
         std::vector<std::vector<std::string>>{{"bench", "--help"}, {"help", "bench"}}) {
        result r = umn(args);
        EXPECT_EQ(r.status, 0);
        for (const char *option : {"--quick", "--json", "--plot", "--filter", "--monitor"})
            EXPECT_NE(r.out.find(option), std::string::npos) << option << "\n" << r.out;
        EXPECT_NE(r.out.find("Exit status"), std::string::npos) << r.out;
        expect_fits(r);
    }
}

TEST(Cli, InfoTextFitsAndListsTheMonitors) {
    result r = umn({"info"});
    EXPECT_EQ(r.status, 0);
    // tests/rdma/vm_cmd.sh greps "^  MONITOR +yes".
    for (const char *m : {"\n  kernel ", "\n  uffd ", "\n  hooks "})
        EXPECT_NE(r.out.find(m), std::string::npos) << m << "\n" << r.out;
    EXPECT_NE(r.out.find("AUTO chooses: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("libfabric plugin: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("statistics: UMN_STATS=1 prints"), std::string::npos) << r.out;
    expect_fits(r);
}

TEST(Cli, InfoJsonIsValidAndComplete) {
    result r = umn({"info", "--json"}, {"UMN_STATS=0"});
    EXPECT_EQ(r.status, 0);
    nlohmann::json j = parse_json(r.out);
    EXPECT_EQ(j["version"]["umn"], UMN_PROJECT_VERSION);
    EXPECT_EQ(j["version"]["libumn"], umn_version());
    ASSERT_EQ(j["monitors"].size(), 3u);
    for (const nlohmann::json &m : j["monitors"]) {
        EXPECT_TRUE(m["name"].is_string());
        EXPECT_TRUE(m["usable"].is_boolean());
        EXPECT_TRUE(m["reason"].is_string());
        EXPECT_FALSE(m["reason"].get<std::string>().empty());
    }
    EXPECT_TRUE(j["auto"]["monitor"].is_string());
    EXPECT_FALSE(j["auto"]["why"].get<std::string>().empty());
    std::string plugin = j["libfabric_plugin"]["status"];
    if (umn_ofi_built_for())
        EXPECT_TRUE(plugin == "installed" || plugin == "missing") << plugin;
    else
        EXPECT_EQ(plugin, "not built");
    EXPECT_EQ(j["libfabric_plugin"]["fi_provider_path"], umn_ofi_plugin_dir());

    EXPECT_EQ(j["statistics"]["printed_at_exit"], false);
    EXPECT_EQ(j["statistics"]["functions"][0], "umn_cache_stats");
    EXPECT_TRUE(j["hooks_entries"].is_array());
    EXPECT_TRUE(j["registrars"].is_array());
}

// UMN_STATS=1 prints counters to stderr: stdout stays one JSON document.
TEST(Cli, InfoJsonStaysValidWithStatisticsOn) {
    result r = umn({"info", "--json"}, {"UMN_STATS=1"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(parse_json(r.out)["statistics"]["printed_at_exit"], true);
}

// Every UMN_* variable of the options table, with its value and default.
TEST(Cli, InfoListsEveryVariable) {
    std::vector<umn::option_view> table = umn::describe_options();
    ASSERT_GE(table.size(), 5u);
    result text = umn({"info"});
    nlohmann::json j = parse_json(umn({"info", "--json"}).out)["variables"];
    ASSERT_EQ(j.size(), table.size()) << j;
    for (size_t i = 0; i < table.size(); ++i) {
        EXPECT_NE(text.out.find(std::string("\n  ") + table[i].name + " "), std::string::npos)
            << table[i].name << "\n"
            << text.out;
        EXPECT_EQ(j[i]["name"], table[i].name);
        EXPECT_EQ(j[i]["default"], table[i].default_text);
        EXPECT_TRUE(j[i]["value"].is_string());
        EXPECT_FALSE(j[i]["doc"].get<std::string>().empty());
        EXPECT_TRUE(j[i]["refused"].is_null()) << j[i];
    }
}

TEST(Cli, InfoShowsTheEnvironmentsValueAndWhyOneWasRefused) {
    result r = umn({"info", "--json"}, {"UMN_MAX_REGISTRATIONS=4096", "UMN_CACHE_MAX_BYTES=lots"});
    EXPECT_EQ(r.status, 0);
    std::map<std::string, nlohmann::json> by_name;
    nlohmann::json j = parse_json(r.out);
    for (const nlohmann::json &v : j["variables"]) by_name[v["name"].get<std::string>()] = v;
    EXPECT_EQ(by_name["UMN_MAX_REGISTRATIONS"]["value"], "4096");
    EXPECT_EQ(by_name["UMN_MAX_REGISTRATIONS"]["set"], true);
    EXPECT_TRUE(by_name["UMN_CACHE_MAX_BYTES"]["refused"].is_string())
        << by_name["UMN_CACHE_MAX_BYTES"];
    r = umn({"info"}, {"UMN_CACHE_MAX_BYTES=lots"});
    EXPECT_NE(r.out.find("refused: UMN_CACHE_MAX_BYTES='lots'"), std::string::npos) << r.out;
    expect_fits(r);
}

TEST(Cli, CheckListNamesEveryCase) {
    result r = umn({"check", "--list"});
    EXPECT_EQ(r.status, 0);
    for (const char *c : {"seed_sequence", "raw_syscall_munmap", "fork_cow_write"})
        EXPECT_NE(r.out.find(c), std::string::npos) << c << "\n" << r.out;
    expect_fits(r);
    nlohmann::json j = parse_json(umn({"check", "--list", "--json"}).out);
    ASSERT_TRUE(j.is_array());
    EXPECT_GE(j.size(), 3u);
    for (const nlohmann::json &c : j) {
        EXPECT_TRUE(c["case"].is_string());
        EXPECT_TRUE(c["what"].is_string());
        EXPECT_TRUE(c["invisible_to"].is_array());
    }
}

TEST(Cli, CheckUnknownCaseListsTheValidOnesWithStatus2) {
    result r = umn({"check", "-c", "munmap_hole", "-m", "hooks"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("no case named 'munmap_hole'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("seed_sequence"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << "nothing should run";
    expect_fits(r);
}

TEST(Cli, CheckOneCaseTableFits) {
    result r = umn({"check", "-m", "hooks", "-c", "fork_cow_write", "-c", "mprotect"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("\nhooks   fork_cow_write"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("not visible to hooks (documented)"), std::string::npos) << r.out;
    expect_fits(r);
}

// `umn check -m kernel` without the module once printed FAILED and exited 1.
TEST(Cli, CheckUnusableMonitorIsASkipNotAFailure) {
    struct stat st;
    if (stat("/dev/umn", &st) == 0) GTEST_SKIP() << "/dev/umn exists: the kernel monitor is usable";
    result r = umn({"check", "-m", "kernel", "-c", "mprotect"});
    EXPECT_EQ(r.status, 77) << r.out << r.err;
    EXPECT_NE(r.out.find("SKIP kernel: "), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
    // With a usable monitor beside it the run is a success.
    r = umn({"check", "-m", "kernel", "-m", "hooks", "-c", "mprotect"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("SKIP kernel: "), std::string::npos) << r.out;
    nlohmann::json j = parse_json(umn({"check", "-m", "kernel", "-c", "mprotect", "--json"}).out);
    EXPECT_EQ(j["exit_status"], 77);
    ASSERT_EQ(j["skipped_monitors"].size(), 1u);
    EXPECT_EQ(j["skipped_monitors"][0]["monitor"], "kernel");
    EXPECT_FALSE(j["skipped_monitors"][0]["reason"].get<std::string>().empty());
}

// scripts/run.sh runs `umn info`, `umn check` and, when `umn --help` lists
// bench, `umn bench --quick`.
TEST(Cli, RunShInvocationsParse) {
    EXPECT_NE(umn({"--help"}).out.find(" bench "), std::string::npos);
    result r = umn({"bench", "--quick", "--filter", "no-such-row", "--json", "/dev/null"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("umn bench --quick"), std::string::npos) << r.out;
    expect_fits(r);
}

TEST(Wrap, BreaksAtSpacesAndCutsLongWords) {
    using umn::cli::wrap;
    EXPECT_EQ(wrap("", 10), std::vector<std::string>{""});
    EXPECT_EQ(wrap("aaa bbb ccc", 7), (std::vector<std::string>{"aaa bbb", "ccc"}));
    EXPECT_EQ(wrap("abcdefghij", 4), (std::vector<std::string>{"abcd", "efgh", "ij"}));
    EXPECT_EQ(wrap("IORING_OP_MADVISE(MADV_DONTNEED)", 30),
              (std::vector<std::string>{"IORING_OP_MADVISE(", "MADV_DONTNEED)"}));
    EXPECT_EQ(wrap("process_madvise", 8), (std::vector<std::string>{"process_", "madvise"}));
    EXPECT_EQ(wrap("a  b", 10), std::vector<std::string>{"a b"});
}

TEST(Table, CellsWrapInsideTheirColumnAndTheLastTakesTheRest) {
    umn::cli::table t({{"name", 6}, {"text", 0}}, 2);
    t.row({"abc", std::string(150, 'x')});
    t.note(std::string(60, 'y') + " " + std::string(60, 'z'));
    std::string out = t.render();
    EXPECT_EQ(long_lines(out), "");
    EXPECT_EQ(out.rfind("  name text\n  abc  " + std::string(umn::cli::line_width - 7, 'x'), 0), 0u)
        << out;
}

}  // namespace
