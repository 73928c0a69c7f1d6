#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/ofi/ofi_vm.sh VM_CACHE WORK_DIR OFI_STALE OFI_STALE_UMN PLUGIN UMN
#
# umn as libfabric's memory monitor on a real provider: boots Debian's kernel
# in qemu (tests/vm/), creates soft-RoCE rxe0 over a virtio-net eth0 and runs
# tests/ofi/vm_cmd.sh there: ofi_stale on verbs;ofi_rxm with libfabric's own
# monitors (memhooks, userfaultfd: their misses are reported, not failures),
# with umn imported on each umn monitor (kernel module, userfaultfd, hooks:
# no stale transfer on a replacement the monitor sees), and through the
# libumn-fi.so plugin with unmodified programs (ofi_stale without any umn
# call, fi_pingpong). Exit 77 (a skip) when qemu, the kernel, rdma-core or
# libfabric-bin is missing.
#   UMN_OFI_ROUNDS=N  rounds per replacement (default 2)
#   UMN_OFI_BENCH=N   also measure the cost (fi_mr_reg hit, munmap) of every
#                     monitor in N interleaved passes (default 0: not measured)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/../vm
[ $# -eq 6 ] || {
    echo "usage: $0 VM_CACHE WORK_DIR OFI_STALE OFI_STALE_UMN PLUGIN UMN" >&2
    exit 2
}
cache=$1 work=$2 stale=$3 stale_umn=$4 plugin=$5 umn=$6

skip() {
    echo "ofi_vm: skipped: $*"
    exit 77
}
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (package qemu-system-x86)"
rdma=$(command -v rdma || true)
[ -n "$rdma" ] || skip "no rdma tool (package iproute2)"
provider=$(ls /usr/lib/*/libibverbs/librxe-rdmav*.so 2>/dev/null | head -n 1 || true)
[ -n "$provider" ] || skip "no soft-RoCE provider librxe (package ibverbs-providers)"
driver=/etc/libibverbs.d/rxe.driver
[ -f "$driver" ] || skip "no $driver (package ibverbs-providers)"
pingpong=$(command -v fi_pingpong || true)
[ -n "$pingpong" ] || skip "no fi_pingpong (package libfabric-bin)"
libgcc=$(ls /lib/*/libgcc_s.so.1 2>/dev/null | head -n 1 || true)
[ -n "$libgcc" ] || skip "no libgcc_s.so.1"
status=0
kdir=$("$vm/kernel.sh" "$cache") || status=$?
[ $status -eq 0 ] || exit $status

mkdir -p "$work"
# rdma_ucm: verbs resolves addresses with rdma_cm; crc32_generic: rxe's
# undeclared dependency.
modules=(-m virtio_pci -m virtio_net -m crc32_generic -m rdma_rxe -m ib_uverbs -m rdma_ucm)
if [ -f "$here/../../kernel/Makefile" ]; then
    status=0
    ko=$("$vm/module.sh" "$kdir" "$here/../../kernel" "$work/module") || status=$?
    case $status in
        0) modules+=(-m "$ko") ;;
        77) echo "ofi_vm: no kernel headers: umn's kernel monitor is not tested" ;;
        *) exit "$status" ;;
    esac
fi
# verbs looks up the host name; libfabric's domain close needs libgcc_s
# (pthread_cancel), which no program here links directly.
printf '127.0.0.1 localhost\n10.0.2.15 vm\n' >"$work/hosts"
"$vm/initramfs.sh" -k "$kdir" -o "$work/ofi.cpio" -b "$stale" -b "$stale_umn" -b "$umn" -b "$rdma" \
    -b "$pingpong" -b "$plugin:/opt/umn-fi/$(basename "$plugin")" \
    -f "$provider:$provider" -f "$driver:$driver" -f "$libgcc:$libgcc" -f "$work/hosts:/etc/hosts" \
    "${modules[@]}"
{
    echo "rounds=${UMN_OFI_ROUNDS:-2} bench=${UMN_OFI_BENCH:-0}"
    cat "$here/vm_cmd.sh"
} >"$work/cmd.sh"
exec "$vm/run.sh" -k "$kdir" -i "$work/ofi.cpio" -t $((400 + 80 * ${UMN_OFI_BENCH:-0})) -m 1G \
    -q -netdev -q user,id=n0 -q -device -q virtio-net-pci,netdev=n0 -s "$work/cmd.sh"
