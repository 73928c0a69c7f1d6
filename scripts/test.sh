#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The whole test suite: plain, ASan+UBSan and TSan builds, each run by ctest
# (the plain build also runs the install test and the kernel module in qemu).
# Longer soaks: UMN_TEST_SCALE=10 scripts/test.sh. Exit status is non-zero if
# any build or test failed; every configuration runs regardless.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
status=0
run_config() {
    local name=$1
    shift
    echo "=== $name build"
    mkdir -p build-test
    local log=build-test/$name.log
    { cmake -S . -B "build-test/$name" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" &&
        ninja -C "build-test/$name"; } >"$log" 2>&1 || {
        tail -n 60 "$log"
        echo "=== $name: BUILD FAILED (full log: $log)"
        status=1
        return
    }
    echo "=== $name tests"
    ctest --test-dir "build-test/$name" --output-on-failure || status=1
}
run_config plain
run_config asan -DUMN_SANITIZE=address
run_config tsan -DUMN_SANITIZE=thread
exit $status
