// SPDX-License-Identifier: BSD-3-Clause
// process_source: a process-wide source is made once, and a child resets it
// through fork.cpp's one fork path, after fork() and after a raw fork alike:
// once each, keeping the instance that serves the child and making the other
// again at its next use.
#include "api/fork.hpp"
#include "monitor/process_source.hpp"

#include "../support.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

namespace umn::test {
namespace {

struct counted_source {
    bool serves_child;
    int resets = 0;
    bool reset_in_child() {
        ++resets;
        return serves_child;
    }
};

int makes = 0;

counted_source *make_kept(int *) {
    ++makes;
    return new counted_source{true};
}

counted_source *make_dropped(int *) {
    ++makes;
    return new counted_source{false};
}

process_source<counted_source> &kept() {
    static process_source<counted_source> source;
    return source;
}

process_source<counted_source> &dropped() {
    static process_source<counted_source> source;
    return source;
}

// Exit status: 0, or the first check that failed. fork_epoch() is the umn
// call that notices a raw fork; after fork() it must not reset again.
int child_checks(counted_source *parent_kept, counted_source *parent_dropped) {
    fork_epoch();
    if (kept().made() != parent_kept) return 1;
    if (parent_kept->resets != 1) return 2;
    if (dropped().made() != nullptr) return 3;
    if (parent_dropped->resets != 1) return 4;
    int error = 0;
    counted_source *fresh = dropped().get(make_dropped, &error);
    if (!fresh || fresh == parent_dropped || fresh->resets != 0) return 5;
    return 0;
}

class ProcessSource : public ::testing::Test {
  protected:
    void SetUp() override {
        if (int rc = install_fork_handlers()) GTEST_SKIP() << "no fork handlers: " << rc;
        int error = 0;
        kept_ = kept().get(make_kept, &error);
        dropped_ = dropped().get(make_dropped, &error);
        ASSERT_TRUE(kept_ && dropped_);
    }
    void expect_child_passes(pid_t pid) {
        ASSERT_GT(pid, 0);
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), 0) << "first failing check in the child";
        EXPECT_EQ(kept_->resets, 0) << "the parent's instance is reset in the child only";
        EXPECT_EQ(dropped().made(), dropped_) << "the parent keeps its instance";
    }
    counted_source *kept_ = nullptr;
    counted_source *dropped_ = nullptr;
};

TEST_F(ProcessSource, IsMadeOnceAndFoundAgain) {
    const int before = makes;
    int error = 0;
    EXPECT_EQ(kept().get(make_kept, &error), kept_);
    EXPECT_EQ(dropped().get(make_dropped, &error), dropped_);
    EXPECT_EQ(makes, before);
}

TEST_F(ProcessSource, ForkChildResetsEachSourceOnce) {
    pid_t pid = fork();
    if (pid == 0) _exit(child_checks(kept_, dropped_));
    expect_child_passes(pid);
}

TEST_F(ProcessSource, RawForkChildResetsEachSourceOnceAtItsFirstUmnCall) {
    pid_t pid = raw_fork();
    if (pid == 0) _exit(child_checks(kept_, dropped_));
    expect_child_passes(pid);
}

}  // namespace
}  // namespace umn::test
