#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/vm/module.sh KERNEL_DIR MODULE_SOURCE OUT_DIR
#
# Builds an out-of-tree module (MODULE_SOURCE, e.g. kernel/) in a copy at
# OUT_DIR against the Debian headers of KERNEL_DIR's version (what
# tests/vm/kernel.sh printed), so it loads in that VM, and prints the path of
# the .ko. Built with W=1; a compiler warning fails the build. Exit 77 when
# those headers are not installed.
set -euo pipefail
[ $# -eq 3 ] || {
    echo "usage: module.sh KERNEL_DIR MODULE_SOURCE OUT_DIR" >&2
    exit 2
}
kdir=$1 source=$2 out=$3
headers=/usr/src/linux-headers-$(cat "$kdir/version")
[ -d "$headers" ] || {
    echo "module.sh: no $headers (package linux-headers-amd64)" >&2
    exit 77
}
rm -rf "$out"
cp -r "$source" "$out"
make -s -C "$out" KDIR="$headers" W=1 >"$out/build.log" 2>&1 || true
grep -v "Skipping BTF generation" "$out/build.log" >&2 || true
ko=$(ls "$out"/*.ko 2>/dev/null | head -n 1 || true)
[ -n "$ko" ] && ! grep -q "warning:" "$out/build.log" || {
    echo "module.sh: building $source against $headers failed or warned" >&2
    exit 1
}
echo "$ko"
