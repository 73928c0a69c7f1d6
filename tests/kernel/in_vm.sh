# SPDX-License-Identifier: BSD-3-Clause
# Runs inside the test VM as root with /dev/umn loaded (tests/kernel/vm_test.sh
# puts `host_scale=...`, the host's UMN_TEST_SCALE, above this). Every step
# runs; the exit status is 1 if any failed. Leaks show at rmmod: the module's
# slab caches report objects still allocated when destroyed.
failed=
step() {
    name=$1
    shift
    echo "=== $name"
    t0=$(date +%s)
    if "$@"; then
        echo "=== $name: passed ($(($(date +%s) - t0)) s)"
    else
        echo "=== $name: FAILED ($(($(date +%s) - t0)) s)"
        failed="$failed, $name"
    fi
}
# TCG is ~100x slower than the host for the thread ping-pong of the suite
# (each hand-off between two vCPUs waits for the host to schedule a thread).
scaled() {
    awk -v s="$host_scale" -v f="$1" 'BEGIN { print s * f }'
}
kernel_log_clean() {
    ! dmesg | grep -E 'BUG|WARNING|Oops|general protection|still has objects|umn:.*(leak|error)'
}

# What some `umn check` cases need: ksmd scanning (bounded by the case to
# 3 s), two huge pages, and leave to retire a page (MADV_SOFT_OFFLINE,
# MADV_HWPOISON), harmless in a throwaway VM.
echo 1 >/sys/kernel/mm/ksm/run
echo 10 >/sys/kernel/mm/ksm/sleep_millisecs
echo 4 >/proc/sys/vm/nr_hugepages
export UMN_CHECK_OFFLINE=1
step "umn info" umn info
step "umn check --monitor kernel" umn check --monitor kernel
# By absolute path: death tests re-execute argv[0], and the VM's cwd is /root.
step "umn_tests under UMN_MONITOR=kernel" env UMN_MONITOR=kernel UMN_TEST_SCALE="$(scaled 0.01)" \
    /bin/umn_tests --gtest_brief=1 --gtest_color=no
step "umn_device_test" env UMN_TEST_SCALE="$(scaled 0.5)" umn_device_test --gtest_brief=1 --gtest_color=no
step "callback cost (measured, not judged)" umn_callback_cost "$(awk -v s="$host_scale" 'BEGIN { print int(1000 * s) + 1 }')"
step "rmmod umn" rmmod umn
step "kernel log clean" kernel_log_clean
if [ -n "$failed" ]; then
    echo "=== FAILED:${failed#,}"
    exit 1
fi
echo "=== every step passed"
