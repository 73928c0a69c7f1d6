#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/vm/rxe_vm.sh NAME VM_CACHE WORK_DIR SECONDS VARS SCRIPT [INITRAMFS_OPTION]...
#
# Runs SCRIPT in a qemu VM (tests/vm/) with soft-RoCE: Debian's kernel, a
# virtio-net eth0 (10.0.2.15) and rxe0 over it, made by rxe_setup.sh before
# SCRIPT runs (it also defines umn_monitors). The VM has the rdma tool, the librxe provider, an /etc/hosts
# that resolves localhost (verbs looks it up), the rxe and rdma_cm modules
# and umn's kernel module (kernel/, built for that kernel unless its headers
# are missing). INITRAMFS_OPTIONs (-b PROGRAM, -f FILE:DEST, ...) add to the
# initramfs (tests/vm/initramfs.sh); VARS is a line of shell assignments put
# before the script. Exits with SCRIPT's status; 77 (a skip, with NAME and the
# reason printed) when qemu, the kernel or rdma-core is missing.
set -euo pipefail
vm=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 6 ] || {
    echo "usage: $0 NAME VM_CACHE WORK_DIR SECONDS VARS SCRIPT [INITRAMFS_OPTION]..." >&2
    exit 2
}
name=$1 cache=$2 work=$3 seconds=$4 vars=$5 script=$6
shift 6

skip() {
    echo "$name: skipped: $*"
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
# rdma_ucm: rdma_cm for libfabric's verbs provider; crc32_generic: rxe's
# undeclared dependency.
modules=(-m virtio_pci -m virtio_net -m crc32_generic -m rdma_rxe -m ib_uverbs -m rdma_ucm)
if [ -f "$vm/../../kernel/Makefile" ]; then
    status=0
    ko=$("$vm/module.sh" "$kdir" "$vm/../../kernel" "$work/module") || status=$?
    case $status in
        0) modules+=(-m "$ko") ;;
        77) echo "$name: no kernel headers: umn's kernel monitor is not tested" ;;
        *) exit "$status" ;;
    esac
fi
printf '127.0.0.1 localhost\n10.0.2.15 vm\n' >"$work/hosts"
"$vm/initramfs.sh" -k "$kdir" -o "$work/$name.cpio" -b "$rdma" -f "$provider:$provider" \
    -f "$driver:$driver" -f "$work/hosts:/etc/hosts" "${modules[@]}" "$@"
{
    echo "$vars"
    cat "$vm/rxe_setup.sh" "$script"
} >"$work/cmd.sh"
exec "$vm/run.sh" -k "$kdir" -i "$work/$name.cpio" -t "$seconds" -m 1G \
    -q -netdev -q user,id=n0 -q -device -q virtio-net-pci,netdev=n0 -s "$work/cmd.sh"
