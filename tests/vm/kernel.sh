#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/vm/kernel.sh CACHE_DIR
#
# Makes a Debian kernel bootable by tests/vm/run.sh and prints the directory
# that holds it: DIR/vmlinux (uncompressed, boots with PVH), DIR/version and
# DIR/lib/modules/VERSION (with modules.dep). The version is the one the
# installed linux-headers-amd64 depends on (so out-of-tree modules built
# against those headers load), or UMN_VM_KVER (e.g. the bookworm-backports
# kernel, tests/kernel/backports_kver.sh). The image comes from /boot when the host runs
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
    # The version linux-headers-amd64 depends on, not the highest headers in
    # /usr/src (scripts/deps.sh also installs the backports kernel's).
    kver=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
        sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p' || true)
    [ -n "$kver" ] || unavailable "linux-headers-amd64 not installed and UMN_VM_KVER unset (scripts/deps.sh installs it)"
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

# The bzImage carries the kernel as an xz (bookworm) or zstd (backports)
# stream; Debian ships no extract-vmlinux, so find the magic and decompress
# from there (the bytes after the stream make the decompressor complain).
vmlinuz=$tmp/x/boot/vmlinuz-$kver
stream_at() {
    LC_ALL=C grep -obUaP "$1" "$vmlinuz" | head -n 1 | cut -d: -f1
}
if offset=$(stream_at '\xfd7zXZ\x00') && [ -n "$offset" ]; then
    tail -c +$((offset + 1)) "$vmlinuz" | xz -dc --single-stream >"$tmp/vmlinux" 2>/dev/null || true
elif offset=$(stream_at '\x28\xb5\x2f\xfd') && [ -n "$offset" ]; then
    command -v zstd >/dev/null || unavailable "zstd missing (scripts/deps.sh installs it)"
    tail -c +$((offset + 1)) "$vmlinuz" | zstd -dcq >"$tmp/vmlinux" 2>/dev/null || true
else
    die "no xz or zstd stream in $vmlinuz"
fi
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
