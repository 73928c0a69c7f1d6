// SPDX-License-Identifier: BSD-3-Clause
// A plugin linked against libumn.so is dlopen'ed (RTLD_LOCAL), uses the hooks
// monitor and is dlclose'd: libc's patched entries must still lead somewhere
// afterwards. Each case runs in a child process, so that a SIGSEGV in the
// munmap after the unload is a test failure rather than the end of the run.
// This binary does not link libumn itself: the plugin's copy is the only one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// The child: load, use, unload, then map and unmap. Exit codes name the step
// that failed.
[[noreturn]] void use_plugin_and_unload(int close_it) {
    void *plugin = dlopen(UMN_TEST_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (!plugin) _exit(10);
    auto use = reinterpret_cast<int (*)(int)>(dlsym(plugin, "umn_test_plugin_use"));
    if (!use) _exit(11);
    if (use(close_it) != 0) _exit(12);
    if (dlclose(plugin) != 0) _exit(13);
    for (int i = 0; i < 16; ++i) {
        void *p = mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) _exit(14);
        static_cast<char *>(p)[0] = 1;
        if (madvise(p, 4096, MADV_DONTNEED) != 0) _exit(15);
        if (munmap(p, 1 << 16) != 0) _exit(16);
    }
    free(malloc(1 << 20));  // an mmap-backed block: free() reaches munmap
    _exit(0);
}

// "exit 0", "exit N" or "signal N".
std::string run_in_child(int close_it) {
    pid_t pid = fork();
    if (pid == 0) use_plugin_and_unload(close_it);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return "fork/wait failed";
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "exit " + std::to_string(WEXITSTATUS(status));
}

TEST(DlcloseOfPluginUsingUmn, MunmapWorksAfterUnloadWithNotifierLeftOpen) {
    EXPECT_EQ(run_in_child(0), "exit 0");
}

TEST(DlcloseOfPluginUsingUmn, MunmapWorksAfterUnloadWithNotifierClosed) {
    EXPECT_EQ(run_in_child(1), "exit 0");
}

}  // namespace
