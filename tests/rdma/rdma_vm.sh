#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/rdma/rdma_vm.sh VM_CACHE WORK_DIR RDMA_PINGPONG VERBS_BENCH UMN [UMN_KO]
#
# The RDMA demonstration on a real verbs stack: boots Debian's kernel in qemu
# (tests/vm/), creates a soft-RoCE device rxe0 over a virtio-net eth0 and runs
# tests/rdma/vm_cmd.sh there: the ping-pong with a naive cache (must show
# stale transfers) and with umn's cache on every monitor usable in the VM
# (must show none, with every ibv_reg_mr matched by an ibv_dereg_mr). UMN_KO,
# when given, is loaded so the kernel monitor runs too. Exit 77 (a skip) when
# the kernel or the rdma-core userspace is missing.
#   UMN_RDMA_ROUNDS=N   rounds per run (default 300)
#   UMN_RDMA_BENCH=1    also run verbs_bench (ibv_reg_mr vs a cache hit)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/../vm
[ $# -ge 5 ] || {
    echo "usage: $0 VM_CACHE WORK_DIR RDMA_PINGPONG VERBS_BENCH UMN [UMN_KO]" >&2
    exit 2
}
cache=$1 work=$2 pingpong=$3 bench=$4 umn=$5 module=${6:-}

skip() {
    echo "rdma_vm: skipped: $*"
    exit 77
}
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
[ -z "$module" ] || modules+=(-m "$module")
"$vm/initramfs.sh" -k "$kdir" -o "$work/rdma.cpio" -b "$pingpong" -b "$bench" -b "$umn" \
    -b "$rdma" -f "$provider:$provider" -f "$driver:$driver" "${modules[@]}"
{
    echo "rounds=${UMN_RDMA_ROUNDS:-300} bench=${UMN_RDMA_BENCH:-0}"
    cat "$here/vm_cmd.sh"
} >"$work/cmd.sh"
exec "$vm/run.sh" -k "$kdir" -i "$work/rdma.cpio" -t 240 -m 1G \
    -q -netdev -q user,id=n0 -q -device -q virtio-net-pci,netdev=n0 -s "$work/cmd.sh"
