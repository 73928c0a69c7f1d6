#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/rdma/rdma_vm.sh VM_CACHE WORK_DIR RDMA_PINGPONG VERBS_BENCH UMN
#
# The RDMA demonstration on a real verbs stack: boots Debian's kernel in qemu
# (tests/vm/), creates a soft-RoCE device rxe0 over a virtio-net eth0 and runs
# tests/rdma/vm_cmd.sh there: the ping-pong with a naive cache (must show
# stale transfers) and with umn's cache on every monitor usable in the VM
# (must show none, with every ibv_reg_mr matched by an ibv_dereg_mr). The umn
# module (kernel/) is built and loaded so that the kernel monitor runs too,
# unless the kernel headers are missing. Exit 77 (a skip) when the kernel or
# the rdma-core userspace is missing.
#   UMN_RDMA_ROUNDS=N   rounds per run (default 300)
#   UMN_RDMA_BENCH=1    also run verbs_bench (ibv_reg_mr vs a cache hit)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/../vm
[ $# -eq 5 ] || {
    echo "usage: $0 VM_CACHE WORK_DIR RDMA_PINGPONG VERBS_BENCH UMN" >&2
    exit 2
}
cache=$1 work=$2 pingpong=$3 bench=$4 umn=$5

skip() {
    echo "rdma_vm: skipped: $*"
    exit 77
}
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (package qemu-system-x86)"
rdma=$(command -v rdma || true)
[ -n "$rdma" ] || skip "no rdma tool (package iproute2)"
provider=$(ls /usr/lib/*/libibverbs/librxe-rdmav*.so 2>/dev/null | head -n 1 || true)
[ -n "$provider" ] || skip "no soft-RoCE provider librxe (package ibverbs-providers)"
driver=/etc/libibverbs.d/rxe.driver
[ -f "$driver" ] || skip "no $driver (package ibverbs-providers)"
status=0
kdir=$("$vm/kernel.sh" "$cache") || status=$?
[ $status -eq 0 ] || exit $status

mkdir -p "$work"
modules=(-m virtio_pci -m virtio_net -m crc32_generic -m rdma_rxe -m ib_uverbs)
if [ -f "$here/../../kernel/Makefile" ]; then
    status=0
    ko=$("$vm/module.sh" "$kdir" "$here/../../kernel" "$work/module") || status=$?
    case $status in
        0) modules+=(-m "$ko") ;;
        77) echo "rdma_vm: no kernel headers: the kernel monitor is not tested" ;;
        *) exit "$status" ;;
    esac
fi
"$vm/initramfs.sh" -k "$kdir" -o "$work/rdma.cpio" -b "$pingpong" -b "$bench" -b "$umn" \
    -b "$rdma" -f "$provider:$provider" -f "$driver:$driver" "${modules[@]}"
{
    echo "rounds=${UMN_RDMA_ROUNDS:-300} bench=${UMN_RDMA_BENCH:-0}"
    cat "$here/vm_cmd.sh"
} >"$work/cmd.sh"
exec "$vm/run.sh" -k "$kdir" -i "$work/rdma.cpio" -t 240 -m 1G \
    -q -netdev -q user,id=n0 -q -device -q virtio-net-pci,netdev=n0 -s "$work/cmd.sh"
