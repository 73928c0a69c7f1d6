#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/kernel/vm_test.sh SOURCE_DIR KERNEL_CACHE WORK_DIR UMN UMN_TESTS DEVICE_TEST
#            CALLBACK_COST [FILE]...
#
# The ctest `kernel_vm`: builds kernel/umn.ko against the installed Debian
# linux-headers-amd64, fetches the matching kernel (tests/vm/kernel.sh, cached
# in KERNEL_CACHE, shared with tests/rdma),
# packs the module, the `umn` tool, the gtest suite and the device test into
# an initramfs, boots it under qemu (TCG, 2 CPUs, 2 NUMA nodes so move_pages
# can migrate, secretmem enabled so memfd_secret works on 6.1) and runs
# tests/kernel/in_vm.sh there. Each FILE (what the suite
# loads at run time, such as the fake libibverbs) goes to the same path. Exit status: the VM's;
# 77 (skip) only when qemu, the headers or the kernel image are unavailable.
# Leaves WORK_DIR/console.log (everything) and WORK_DIR/check.txt (the
# `umn check --monitor kernel` output, with its notes and skip reasons) behind.
set -euo pipefail
[ $# -ge 7 ] || {
    echo "usage: vm_test.sh SOURCE_DIR KERNEL_CACHE WORK_DIR UMN UMN_TESTS DEVICE_TEST CALLBACK_COST [FILE]..." >&2
    exit 2
}
src=$1 cache=$2 work=$3 umn=$4 umn_tests=$5 device_test=$6 callback_cost=$7
shift 7
extra=()
for file in "$@"; do
    extra+=(-f "$file:$file")
done
skip() {
    echo "kernel_vm: SKIPPED: $*"
    exit 77
}

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing (scripts/deps.sh installs qemu-system-x86)"
command -v busybox >/dev/null || skip "busybox missing (scripts/deps.sh installs busybox-static)"
mkdir -p "$work"
rm -f "$work/check.txt" # never show a table from an earlier run
# kernel.sh picks the version of the installed headers; module.sh builds
# against them. Each exits 77 when its part cannot be had.
status=0
kdir=$("$src/tests/vm/kernel.sh" "$cache") || status=$?
[ $status -ne 77 ] || skip "no kernel to boot (kernel.sh's message above; scripts/deps.sh installs linux-headers-amd64)"
[ $status -eq 0 ] || exit $status
started=$(date +%s)
echo "=== building kernel/umn.ko against the headers of $(cat "$kdir/version")"
module=$("$src/tests/vm/module.sh" "$kdir" "$src/kernel" "$work/module") || status=$?
[ $status -ne 77 ] || skip "no headers for $(cat "$kdir/version")"
[ $status -eq 0 ] || exit $status

# UMN_TEST_SCALE keeps its meaning (soak multiplier); in_vm.sh scales it down
# for TCG so that the whole VM test stays within 1-2 minutes.
{
    echo "host_scale=${UMN_TEST_SCALE:-1}"
    cat "$src/tests/kernel/in_vm.sh"
} >"$work/in_vm.sh"
"$src/tests/vm/initramfs.sh" -k "$kdir" -o "$work/initramfs.cpio" -m "$module" \
    -b "$umn:/bin/umn" -b "$umn_tests:/bin/umn_tests" -b "$device_test:/bin/umn_device_test" \
    -b "$callback_cost:/bin/umn_callback_cost" \
    ${extra[@]+"${extra[@]}"}

echo "=== booting $(cat "$kdir/version") under qemu (TCG)"
set +e
"$src/tests/vm/run.sh" -k "$kdir" -i "$work/initramfs.cpio" -t 360 -c 2 -n 2 -m 1G \
    -a slab_nomerge -a oops=panic -a panic_on_warn=1 -a secretmem.enable=1 -s "$work/in_vm.sh" | tee "$work/console.log"
status=${PIPESTATUS[0]}
set -e
# The whole `umn check` output (rows, the notes under them, skip reasons).
tr -d '\r' <"$work/console.log" | awk '
    /^=== umn check --monitor kernel: / { on = 0 }
    on
    /^=== umn check --monitor kernel$/ { on = 1 }' >"$work/check.txt" || true
echo "=== kernel_vm: VM exit status $status, $(($(date +%s) - started)) s with the module build"
exit "$status"
