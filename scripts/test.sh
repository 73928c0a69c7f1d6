#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The whole test suite: plain, ASan+UBSan and TSan builds, each run by ctest
# (the plain build also runs the install tests, the Debian packages (built,
# installed with dpkg -i, used, purged; as root) and the kernel module in qemu).
# Longer soaks: UMN_TEST_SCALE=10 scripts/test.sh; longer fuzzing:
# UMN_FUZZ_SECONDS=3600 scripts/test.sh (or see README, "Fuzzing"). Exit status is non-zero if
# any build or test failed; every configuration runs regardless.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
status=0
# run_config NAME [cmake options...]; TARGETS and CTEST_ARGS narrow a config.
run_config() {
    local name=$1
    shift
    echo "=== $name build"
    mkdir -p build-test
    local log=build-test/$name.log
    { cmake -S . -B "build-test/$name" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" &&
        ninja -C "build-test/$name" ${TARGETS:-}; } >"$log" 2>&1 || {
        tail -n 60 "$log"
        echo "=== $name: BUILD FAILED (full log: $log)"
        status=1
        return
    }
    echo "=== $name tests"
    ctest --test-dir "build-test/$name" --output-on-failure ${CTEST_ARGS:-} || status=1
}
# The plain build installs under /usr: its Debian packages are tested (ctest install.deb).
run_config plain -DCMAKE_INSTALL_PREFIX=/usr
# The kernel monitor's column, as `umn check` printed it inside qemu: on
# bookworm's kernel (ctest kernel_vm) and on bookworm-backports' (ctest
# kernel_vm_backports).
for vm in vm:kernel_vm vm-backports:kernel_vm_backports; do
    check_table=build-test/plain/tests/kernel/${vm%%:*}/check.txt
    if [ -s "$check_table" ]; then
        echo "=== umn check --monitor kernel (in qemu, from ctest ${vm#*:})"
        cat "$check_table"
    fi
done
# The sanitizer builds also assert every "caller holds X" lock rule.
run_config asan -DUMN_SANITIZE=address -DUMN_DEBUG_LOCKS=ON
run_config tsan -DUMN_SANITIZE=thread -DUMN_DEBUG_LOCKS=ON
# libFuzzer explores the notifier API for UMN_FUZZ_SECONDS per monitor.
CC=clang CXX=clang++ TARGETS="umn_notifier_fuzzer" CTEST_ARGS="-L fuzz" \
    run_config fuzz -DUMN_SANITIZE=address -DUMN_FUZZ=ON -DUMN_FUZZ_SECONDS="${UMN_FUZZ_SECONDS:-60}"
exit $status
