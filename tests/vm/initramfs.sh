#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: tests/vm/initramfs.sh -k KERNEL_DIR -o OUT.cpio [-b BINARY[:DEST]]...
#            [-m MODULE[:ARGS]]... [-f FILE:DEST]...
#
# Builds an uncompressed initramfs for tests/vm/run.sh: busybox-static (all
# applets linked in /bin), tests/vm/init as /init, and
#   -b  a program, installed as DEST (default /bin/NAME) with every shared
#       library ldd lists copied to the same path;
#   -m  a kernel module loaded at boot, in the order given: a name from the
#       kernel's tree (rdma_rxe; its modules.dep dependencies are added and
#       loaded first) or a path to a .ko file (an out-of-tree module); ARGS
#       (space separated, quote them) are its parameters;
#   -f  any other file, installed as DEST.
# KERNEL_DIR is what tests/vm/kernel.sh printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() {
    echo "initramfs.sh: $*" >&2
    exit 1
}

kdir= out=
binaries=() modules=() files=()
while getopts "k:o:b:m:f:" opt; do
    case $opt in
        k) kdir=$OPTARG ;;
        o) out=$OPTARG ;;
        b) binaries+=("$OPTARG") ;;
        m) modules+=("$OPTARG") ;;
        f) files+=("$OPTARG") ;;
        *) die "bad option (see the usage at the top of $0)" ;;
    esac
done
[ -n "$kdir" ] && [ -n "$out" ] || die "-k KERNEL_DIR and -o OUT are required"
[ -f "$kdir/version" ] || die "$kdir is not a directory made by kernel.sh"
kver=$(cat "$kdir/version")
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox missing (package busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamic: install busybox-static"

mkdir -p "$(dirname "$out")"
root=$(mktemp -d "$out.root.XXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,root,lib/modules/extra}
ln -s bin "$root/sbin"
mkdir -p "$root/usr"
ln -s ../bin "$root/usr/bin"
ln -s ../bin "$root/usr/sbin"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
install -m 755 "$here/init" "$root/init"
: >"$root/etc/vm-modules"

# copy SRC DEST: one file into the tree, parents created.
copy() {
    mkdir -p "$root$(dirname "$2")"
    cp -L "$1" "$root$2"
}

for spec in ${binaries[@]+"${binaries[@]}"}; do
    src=${spec%%:*}
    dest=/bin/$(basename "$src")
    [ "$spec" = "$src" ] || dest=${spec#*:}
    [ -x "$src" ] || die "no program $src"
    copy "$src" "$dest"
    # Lines: "libx.so => /path (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)".
    for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' || true); do
        [ -e "$root$lib" ] || copy "$lib" "$lib"
    done
done

for spec in ${files[@]+"${files[@]}"}; do
    [ "$spec" != "${spec#*:}" ] || die "-f wants FILE:DEST, got $spec"
    [ -f "${spec%%:*}" ] || die "no file ${spec%%:*}"
    copy "${spec%%:*}" "${spec#*:}"
done

# Modules of the kernel tree, dependencies first (modules.dep lists each
# module's full closure).
mdir=$kdir/lib/modules/$kver
declare -A loaded=()
tree_module_path() {
    local rel
    rel=$(grep -E "(^|/)$1\.ko(\.[gx]z|\.zst)?:" "$mdir/modules.dep" | head -n 1 | cut -d: -f1 || true)
    [ -n "$rel" ] || rel=$(grep -E "(^|/)${1//_/[-_]}\.ko(\.[gx]z|\.zst)?:" "$mdir/modules.dep" | head -n 1 | cut -d: -f1 || true)
    [ -n "$rel" ] || die "module $1 is not in $mdir/modules.dep"
    echo "$rel"
}
add_tree_module() { # REL ARGS
    local rel=$1 args=$2 dep
    [ -z "${loaded[$rel]+x}" ] || return 0
    for dep in $(awk -F': *' -v m="$rel" '$1 == m { print $2 }' "$mdir/modules.dep"); do
        add_tree_module "$dep" ""
    done
    loaded[$rel]=1
    local dest=/lib/modules/$kver/${rel%.ko*}.ko
    mkdir -p "$root$(dirname "$dest")"
    case $rel in
        *.xz) xz -dc "$mdir/$rel" >"$root$dest" ;;
        *.gz) gzip -dc "$mdir/$rel" >"$root$dest" ;;
        *.zst) zstd -qdc "$mdir/$rel" >"$root$dest" ;;
        *) cp "$mdir/$rel" "$root$dest" ;;
    esac
    echo "$dest $args" >>"$root/etc/vm-modules"
}
for spec in ${modules[@]+"${modules[@]}"}; do
    name=${spec%%:*}
    args=
    [ "$spec" = "$name" ] || args=${spec#*:}
    if [[ $name == */* || $name == *.ko ]]; then
        [ -f "$name" ] || die "no module file $name"
        dest=/lib/modules/extra/$(basename "$name")
        cp "$name" "$root$dest"
        echo "$dest $args" >>"$root/etc/vm-modules"
    else
        add_tree_module "$(tree_module_path "$name")" "$args"
    fi
done

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
