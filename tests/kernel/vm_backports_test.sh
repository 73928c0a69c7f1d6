#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/kernel/vm_backports_test.sh (the arguments of vm_test.sh)
#
# The ctest `kernel_vm_backports`: tests/kernel/vm_test.sh on the newer Debian
# kernel of bookworm-backports (its headers are installed by scripts/deps.sh as
# linux-headers-VERSION-amd64), so the kernel monitor is proven on the memory
# paths that bookworm's kernel lacks (MADV_GUARD_*, mseal, MAP_DROPPABLE,
# UFFDIO_MOVE). The newest installed backports headers pick the version.
# Exit 77 (skip) when none are installed.
set -euo pipefail
kver=$(dpkg-query -W -f='${Package} ${Version} ${Status}\n' 'linux-headers-*-amd64' 2>/dev/null |
    awk '$2 ~ /~bpo/ && / ok installed$/ { sub(/^linux-headers-/, "", $1); print $1 }' |
    sort -V | tail -n 1 || true)
if [ -z "$kver" ]; then
    echo "kernel_vm_backports: SKIPPED: no bookworm-backports kernel headers installed (scripts/deps.sh installs them)"
    exit 77
fi
echo "=== kernel_vm_backports: Debian's bookworm-backports kernel $kver"
UMN_VM_KVER=$kver exec "$(dirname "$0")/vm_test.sh" "$@"
