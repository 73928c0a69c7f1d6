#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/ofi/ofi_vm.sh VM_CACHE WORK_DIR OFI_STALE OFI_STALE_UMN PLUGIN UMN MONITOR_TESTS
#
# umn as libfabric's memory monitor on a real provider: runs tests/ofi/vm_cmd.sh
# in the soft-RoCE VM of tests/vm/rxe_vm.sh: ofi_stale on verbs;ofi_rxm with
# libfabric's own monitors (memhooks, userfaultfd: their misses are reported,
# not failures), with umn imported on each umn monitor (kernel module,
# userfaultfd, hooks: no stale transfer on a replacement the monitor sees),
# and through the libumn-fi.so plugin with unmodified programs (ofi_stale
# without any umn call, fi_pingpong); then the instructions of a cache hit
# under callgrind, every monitor (umn's may exceed memhooks' by a few: see
# vm_cmd.sh); and the fork and raw-clone cases of MONITOR_TESTS
# (umn_ofi_monitor_tests) under umn's kernel monitor. Exit 77 (a skip) when qemu, the kernel, rdma-core or
# libfabric-bin is missing.
#   UMN_OFI_ROUNDS=N  rounds per replacement (default 2)
#   UMN_OFI_HITS=N    cache hits counted by callgrind per monitor (default 200)
#   UMN_OFI_BENCH=N   also time the hit and munmap of every monitor in N
#                     interleaved passes (default 0: not timed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 7 ] || {
    echo "usage: $0 VM_CACHE WORK_DIR OFI_STALE OFI_STALE_UMN PLUGIN UMN MONITOR_TESTS" >&2
    exit 2
}
cache=$1 work=$2 stale=$3 stale_umn=$4 plugin=$5 umn=$6 monitor_tests=$7

skip() {
    echo "ofi_vm: skipped: $*"
    exit 77
}
pingpong=$(command -v fi_pingpong || true)
[ -n "$pingpong" ] || skip "no fi_pingpong (package libfabric-bin)"
# libfabric's domain close needs libgcc_s (pthread_cancel), which no program
# here links directly.
libgcc=$(ls /lib/*/libgcc_s.so.1 2>/dev/null | head -n 1 || true)
[ -n "$libgcc" ] || skip "no libgcc_s.so.1"
extra=()
# callgrind for the instruction count of a hit: the launcher (Debian's
# valgrind is a script around valgrind.bin), the tool, its preload library
# and the default suppressions.
valgrind_lib=/usr/libexec/valgrind
launcher=$(command -v valgrind.bin || command -v valgrind || true)
if [ -n "$launcher" ] && [ -x "$valgrind_lib/callgrind-amd64-linux" ]; then
    extra+=(-b "$launcher:/bin/valgrind")
    for f in callgrind-amd64-linux vgpreload_core-amd64-linux.so default.supp; do
        extra+=(-f "$valgrind_lib/$f:$valgrind_lib/$f")
    done
else
    echo "ofi_vm: no valgrind with callgrind (package valgrind): the hit's instructions are not counted"
fi
exec "$here/../vm/rxe_vm.sh" ofi_vm "$cache" "$work" $((500 + 80 * ${UMN_OFI_BENCH:-0})) \
    "rounds=${UMN_OFI_ROUNDS:-2} hits=${UMN_OFI_HITS:-200} bench=${UMN_OFI_BENCH:-0}" \
    "$here/vm_cmd.sh" -b "$stale" -b "$stale_umn" -b "$umn" -b "$pingpong" -b "$monitor_tests" \
    -b "$plugin:/opt/umn-fi/$(basename "$plugin")" -f "$libgcc:$libgcc" ${extra[@]+"${extra[@]}"}
