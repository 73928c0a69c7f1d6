#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/vm/run.sh -k KERNEL_DIR -i INITRAMFS [-t SECONDS] [-m MEMORY]
#            [-c CPUS] [-n NODES] [-a KERNEL_ARG]... [-q QEMU_ARG]...
#            [-s SCRIPT | -- COMMAND...]
#
# Boots KERNEL_DIR/vmlinux (from tests/vm/kernel.sh) with INITRAMFS (from
# tests/vm/initramfs.sh) under qemu-system-x86_64 -M pc with TCG (no KVM),
# runs SCRIPT, or COMMAND as one shell command line, inside as root, copies
# the serial console to stdout and exits with the command's exit status.
# Defaults: -t 120 (then exit 124), -m 1G, -c 2, -n 1 (NUMA nodes: memory
# split evenly, CPU i on node i; more nodes than CPUs gives memory-only
# nodes, which is enough for move_pages). Exit status 125 when the VM
# ended without reporting a status (kernel panic, oops with oops=panic, init
# died). -a adds to the kernel command line, -q passes a word to qemu.
set -euo pipefail

die() {
    echo "run.sh: $*" >&2
    exit 125
}

kdir= initramfs= timeout=120 memory=1G cpus=2 nodes=1 script=
kernel_args=() qemu_args=()
while getopts "k:i:t:m:c:n:a:q:s:" opt; do
    case $opt in
        k) kdir=$OPTARG ;;
        i) initramfs=$OPTARG ;;
        t) timeout=$OPTARG ;;
        m) memory=$OPTARG ;;
        c) cpus=$OPTARG ;;
        n) nodes=$OPTARG ;;
        a) kernel_args+=("$OPTARG") ;;
        q) qemu_args+=("$OPTARG") ;;
        s) script=$OPTARG ;;
        *) die "bad option (see the usage at the top of $0)" ;;
    esac
done
shift $((OPTIND - 1))
[ -n "$kdir" ] && [ -n "$initramfs" ] || die "-k KERNEL_DIR and -i INITRAMFS are required"
[ -f "$kdir/vmlinux" ] || die "no $kdir/vmlinux (run tests/vm/kernel.sh)"
[ -f "$initramfs" ] || die "no initramfs $initramfs"
[ -n "$script" ] || [ $# -gt 0 ] || die "give -s SCRIPT or -- COMMAND"
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || die "qemu-system-x86_64 missing (package qemu-system-x86)"

work=$(mktemp -d "${TMPDIR:-/tmp}/umn-vm-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/cmd"
if [ -n "$script" ]; then
    cp "$script" "$work/cmd/vm-cmd"
else
    echo "$*" >"$work/cmd/vm-cmd"
fi
# The kernel unpacks concatenated cpio archives in order: the command rides
# on a small second archive, so one initramfs serves many runs.
(cd "$work/cmd" && echo vm-cmd | cpio -o -H newc --quiet -R 0:0) >"$work/cmd.cpio"
cat "$initramfs" "$work/cmd.cpio" >"$work/initramfs"

# NUMA: one RAM backend per node.
if [ "$nodes" -gt 1 ]; then
    node_mib=$(($(numfmt --from=iec "$memory") / 1048576 / nodes))
    memory=$((node_mib * nodes))M
    for ((node = 0; node < nodes; node++)); do
        qemu_args+=(-object "memory-backend-ram,id=ram$node,size=${node_mib}M")
        cpu_arg=
        [ "$node" -ge "$cpus" ] || cpu_arg=",cpus=$node"
        [ "$node" -ne $((nodes - 1)) ] || [ "$cpus" -le "$nodes" ] || cpu_arg=",cpus=$node-$((cpus - 1))"
        qemu_args+=(-numa "node,nodeid=$node,memdev=ram$node$cpu_arg")
    done
fi

append="console=ttyS0 panic=-1 loglevel=4 mitigations=off tsc=reliable no_timer_check"
append+=" ${kernel_args[*]+${kernel_args[*]}}"
set +e
timeout -k 5 "$timeout" "$qemu" -M pc -accel tcg -cpu max -m "$memory" -smp "$cpus,sockets=$cpus,cores=1,threads=1" \
    -nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot \
    -kernel "$kdir/vmlinux" -initrd "$work/initramfs" -append "$append" \
    ${qemu_args[@]+"${qemu_args[@]}"} </dev/null | tee "$work/console"
qemu_status=${PIPESTATUS[0]}
set -e
status=$(grep -ao '@@vm-exit-status=[0-9]*@@' "$work/console" | tail -n 1 | tr -dc 0-9 || true)
if [ -n "$status" ]; then
    exit "$status"
fi
if [ "$qemu_status" -eq 124 ]; then
    echo "run.sh: timed out after ${timeout}s" >&2
    exit 124
fi
echo "run.sh: the VM stopped without reporting a status (qemu exit $qemu_status)" >&2
exit 125
