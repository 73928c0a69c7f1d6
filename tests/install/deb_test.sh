#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: deb_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
# Builds the Debian packages from BUILD_DIR (cpack), checks them with lintian
# (errors and warnings fail), installs them with
# dpkg -i, and uses them as a user would: the outside C programs built
# against the installed package (consumers.sh: pkg-config shared and static,
# find_package), the installed examples built with their Makefile and run,
# `man umn_cache_get` and `man umn`, `umn --version` and `umn info`, and
# umn-dkms's postinst building and installing the module with dkms for the
# kernel of linux-headers-amd64 (the running kernel may have no headers).
# Purges the packages at the end, also on failure, so it can run again.
# Needs root (exit 77 otherwise).
set -euo pipefail
build=$(realpath "$1") src=$(realpath "$2") work=$3
packages=(umn-dkms umn-tools libumn-dev libumn0)
[ "$(id -u)" -eq 0 ] || {
    echo "deb_test.sh: skipped: installing packages needs root"
    exit 77
}
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[ "$prefix" = /usr ] || {
    echo "deb_test.sh: skipped: packages come from a build configured with" \
        "-DCMAKE_INSTALL_PREFIX=/usr (scripts/test.sh does); this one has $prefix"
    exit 77
}
for tool in dpkg cpack dkms man make lintian; do
    command -v "$tool" >/dev/null || {
        echo "deb_test.sh: $tool not installed (scripts/deps.sh installs it)" >&2
        exit 1
    }
done
# One run at a time on this machine: they install the same packages.
exec 9>/tmp/umn-deb-test.lock
flock 9
rm -rf "$work" && mkdir -p "$work"
start=$SECONDS

step() { echo "=== deb_test: $* ($((SECONDS - start)) s)"; }
purge() { dpkg --purge "${packages[@]}" >"$work/purge.log" 2>&1 || cat "$work/purge.log"; }

step "cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$work/packages" >"$work/cpack.log" 2>&1) || {
    cat "$work/cpack.log"
    exit 1
}
# Debian policy as lintian checks it: every error and warning fails.
# initial-upload-closes-no-bugs concerns uploads to the Debian archive (an
# ITP bug to close), which these packages are not.
step "lintian"
if ! lintian --fail-on error,warning --tag-display-limit 0 \
    --suppress-tags initial-upload-closes-no-bugs "$work"/packages/*.deb >"$work/lintian.log" 2>&1; then
    grep -v 'running with root privileges' "$work/lintian.log" >&2
    echo "deb_test.sh: lintian found errors or warnings (above)" >&2
    exit 1
fi
version=$(dpkg-deb -f "$work"/packages/libumn0_*.deb Version)
upstream=${version%-*}
step "dpkg -i ${packages[*]} $version"
purge
trap purge EXIT
dpkg -i "$work"/packages/*.deb

# Nothing from the build tree or a scratch prefix may be found.
unset PKG_CONFIG_PATH CMAKE_PREFIX_PATH LD_LIBRARY_PATH
step "outside programs against the installed package"
"$src/tests/install/consumers.sh" "$src" "$work/consumers"

step "installed examples: make, run"
cp -r /usr/share/doc/libumn-dev/examples "$work/examples"
make -s -C "$work/examples"
for example in notifier_poll cache_threads cache_raii io_uring_stale; do
    rc=0
    "$work/examples/$example" || rc=$?
    case $rc in
        0) ;;
        77) echo "$example: skipped (io_uring unavailable here)" ;;
        *)
            echo "deb_test.sh: example $example failed (exit $rc)" >&2
            exit 1
            ;;
    esac
done
if [ -n "$(ls /sys/class/infiniband 2>/dev/null)" ]; then
    "$work/examples/rdma_pingpong" --umn --rounds=50
else
    echo "rdma_pingpong: built, not run: no RDMA device in /sys/class/infiniband"
fi

step "man pages"
for page in umn_cache_get umn "7 umn"; do
    # shellcheck disable=SC2086
    path=$(man -w $page)
    case $path in
        /usr/share/man/*) echo "man $page: $path" ;;
        *)
            echo "deb_test.sh: man $page found ${path:-nothing}" >&2
            exit 1
            ;;
    esac
    # shellcheck disable=SC2086
    MANWIDTH=80 man $page 2>&1 | grep -q "^NAME" || {
        echo "deb_test.sh: man $page does not render" >&2
        exit 1
    }
done

step "umn --version, umn info (umn-tools); the libfabric plugin (libumn0)"
tool_version=$(/usr/bin/umn --version)
echo "umn --version: $tool_version"
case $tool_version in
    *"$upstream"*) ;;
    *)
        echo "deb_test.sh: umn --version does not say $upstream" >&2
        exit 1
        ;;
esac
/usr/bin/umn info >"$work/info.txt"
if [ -e "$build/fi/libumn-fi.so" ]; then
    plugin=$(realpath -m "$(pkg-config --variable=libdir umn)/umn/libumn-fi.so")
    [ -e "$plugin" ] || {
        echo "deb_test.sh: libumn0 lacks the libfabric plugin $plugin" >&2
        exit 1
    }
    echo "libfabric plugin: $plugin"
fi

# dpkg -i ran umn-dkms's postinst for the running kernel, which has no
# headers here; run it again as if the kernel of linux-headers-amd64 were
# running (uname -r answers that, modprobe is not run): it must dkms build
# and install the module for that kernel, and the purge below must remove it.
headers=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
    sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p')
if [ -z "$headers" ] || [ ! -d "/lib/modules/$headers/build" ]; then
    echo "deb_test.sh: linux-headers-amd64 is not installed (scripts/deps.sh installs it)" >&2
    exit 1
fi
step "umn-dkms postinst: dkms build and install umn/$upstream -k $headers"
fake=$work/fake-bin
mkdir -p "$fake"
printf '#!/bin/sh\n[ "$1" = -r ] && echo %s && exit 0\nexec /bin/uname "$@"\n' "$headers" >"$fake/uname"
printf '#!/bin/sh\necho "modprobe $*: not run, kernel %s is not running"\n' "$headers" >"$fake/modprobe"
chmod +x "$fake/uname" "$fake/modprobe"
PATH=$fake:$PATH /var/lib/dpkg/info/umn-dkms.postinst configure >"$work/dkms.log" 2>&1 || true
dkms status "umn/$upstream" -k "$headers" | grep -q installed || {
    cat "$work/dkms.log"
    find "/var/lib/dkms/umn/$upstream/build" -name make.log -exec cat {} + 2>/dev/null || true
    echo "deb_test.sh: the postinst did not install umn/$upstream for $headers" >&2
    exit 1
}
tail -n 2 "$work/dkms.log"
module=$(find "/lib/modules/$headers/updates/dkms" -name 'umn.ko*' | head -n 1)
module_version=$(modinfo -F version "$module")
echo "dkms: $module, version $module_version"
[ "$module_version" = "$upstream" ] || {
    echo "deb_test.sh: the module says $module_version, the package $upstream" >&2
    exit 1
}

step "dpkg --purge"
trap - EXIT
purge
if [ -n "$(dkms status umn 2>/dev/null)" ] || [ -e "/usr/src/umn-$upstream" ] ||
    [ -n "$(find "/lib/modules/$headers/updates/dkms" -name 'umn.ko*' 2>/dev/null)" ] ||
    dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null | grep -q "ok installed"; then
    echo "deb_test.sh: purging left umn behind" >&2
    exit 1
fi
step "done"
