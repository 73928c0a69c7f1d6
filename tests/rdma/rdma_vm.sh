#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/rdma/rdma_vm.sh VM_CACHE WORK_DIR RDMA_PINGPONG VERBS_BENCH UMN
#
# The RDMA demonstration on a real verbs stack: runs tests/rdma/vm_cmd.sh in
# the soft-RoCE VM of tests/vm/rxe_vm.sh (rxe0 over a virtio-net eth0, umn's
# module loaded unless the kernel headers are missing): the ping-pong with a
# naive cache (must show stale transfers) and with umn's cache on every
# monitor usable in the VM (must show none, with every ibv_reg_mr matched by
# an ibv_dereg_mr). Exit 77 (a skip) when qemu, the kernel or the rdma-core
# userspace is missing.
#   UMN_RDMA_ROUNDS=N   rounds per run (default 300)
#   UMN_RDMA_BENCH=1    also run verbs_bench (ibv_reg_mr vs a cache hit)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 5 ] || {
    echo "usage: $0 VM_CACHE WORK_DIR RDMA_PINGPONG VERBS_BENCH UMN" >&2
    exit 2
}
exec "$here/../vm/rxe_vm.sh" rdma_vm "$1" "$2" 240 \
    "rounds=${UMN_RDMA_ROUNDS:-300} bench=${UMN_RDMA_BENCH:-0}" "$here/vm_cmd.sh" \
    -b "$3" -b "$4" -b "$5"
