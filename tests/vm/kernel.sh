#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/vm/kernel.sh CACHE_DIR
#
# Makes a Debian kernel bootable by tests/vm/run.sh and prints the directory
# that holds it: DIR/vmlinux (uncompressed, boots with PVH), DIR/version and
# DIR/lib/modules/VERSION (with modules.dep). The version is the one of the
# installed linux-headers-amd64 (so out-of-tree modules built against those
# headers load), or UMN_VM_KVER. The image comes from /boot when the host runs
# that kernel, else from `apt-get download linux-image-VERSION` unpacked with
# `dpkg -x` (no postinst, no systemd). Cached: a second call returns at once.
# Exit status 77 when no kernel can be had (callers turn that into a skip).
set -euo pipefail

die() {
    echo "kernel.sh: $*" >&2
    exit 1
}
unavailable() {
    echo "kernel.sh: kernel unavailable: $*" >&2
    exit 77
}

[ $# -eq 1 ] || die "usage: kernel.sh CACHE_DIR"
cache=$1
kver=${UMN_VM_KVER:-}
if [ -z "$kver" ]; then
    headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$headers" ] || unavailable "no linux-headers-*-amd64 in /usr/src and UMN_VM_KVER unset (scripts/deps.sh installs them)"
    kver=${headers#/usr/src/linux-headers-}
fi
out=$cache/$kver
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -f "$out/ready" ]; then
    echo "$out"
    exit 0
fi

command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
command -v depmod >/dev/null || unavailable "depmod missing (package kmod)"
rm -rf "$out" "$out.tmp"
mkdir -p "$out.tmp"
tmp=$out.tmp
if [ -f "/boot/vmlinuz-$kver" ] && [ -d "/lib/modules/$kver/kernel" ]; then
    mkdir -p "$tmp/x/boot" "$tmp/x/lib/modules"
    cp "/boot/vmlinuz-$kver" "$tmp/x/boot/"
    cp -r "/lib/modules/$kver" "$tmp/x/lib/modules/"
else
    if ! log=$(cd "$tmp" && apt-get download -q "linux-image-$kver" 2>&1); then
        echo "$log" >&2
        unavailable "apt-get download linux-image-$kver failed (run apt-get update?)"
    fi
    dpkg -x "$tmp"/linux-image-"$kver"_*.deb "$tmp/x"
fi

# The bzImage carries the kernel as an xz stream; Debian ships no
# extract-vmlinux, so find the xz magic and decompress from there.
vmlinuz=$tmp/x/boot/vmlinuz-$kver
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)
[ -n "$offset" ] || die "no xz stream in $vmlinuz"
tail -c +$((offset + 1)) "$vmlinuz" | xz -dc --single-stream >"$tmp/vmlinux" 2>/dev/null || true
[ "$(head -c 4 "$tmp/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] || die "decompressed kernel is not an ELF file"

mkdir -p "$tmp/lib/modules"
mv "$tmp/x/lib/modules/$kver" "$tmp/lib/modules/"
[ -f "$tmp/lib/modules/$kver/modules.dep" ] || depmod -b "$tmp" "$kver"
cp "$tmp/x/boot/config-$kver" "$tmp/config" 2>/dev/null || true
echo "$kver" >"$tmp/version"
rm -rf "$tmp/x" "$tmp"/*.deb
mv "$tmp" "$out"
touch "$out/ready"
echo "$out"
