#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the Debian 12 packages umn builds and tests with. Does nothing when
# they are all present already; uses sudo when not run as root.
set -euo pipefail
packages=(
    # build
    build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev
    libcli11-dev libfmt-dev nlohmann-json3-dev liburing-dev libibverbs-dev libcapstone-dev
    # man pages: scdoc turns man/*.scd into roff, mandoc and man-db check them
    scdoc mandoc man-db
    # tests and benchmarks
    libgtest-dev libgmock-dev libbenchmark-dev libucx-dev valgrind gnuplot-nox
    # reliability tests: stack dumps on hangs (tests/reliability/watchdog.hpp),
    # the allocator matrix, the MPI jobs
    gdb libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 openmpi-bin libopenmpi-dev
    mpich libmpich-dev
    # kernel module and its qemu test (tests/vm/kernel.sh fetches the kernel
    # image matching linux-headers-amd64 with `apt-get download`, unpacks it)
    linux-headers-amd64 qemu-system-x86 busybox-static cpio xz-utils zstd kmod
    # the Debian packages: checked by lintian, the umn-dkms package installed
    # and `dkms build` tested (tests/install/deb_test.sh)
    dkms lintian
    # RDMA demonstration over soft-RoCE in qemu (tests/rdma/)
    rdma-core ibverbs-providers ibverbs-utils iproute2
    # umn as libfabric's memory monitor (src/ofi/, tests/ofi/): headers, and
    # fi_pingpong/fi_rma_bw for the unmodified-program run in the VM
    libfabric1 libfabric-dev libfabric-bin
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# The second kernel of the kernel monitor's qemu test (ctest
# kernel_vm_backports): the newer one that bookworm-backports carries. Only its
# versioned headers package is installed; linux-headers-amd64 stays at
# bookworm's kernel (apt installs nothing from backports unless asked). That
# package depends on the matching linux-image, which tests/vm/kernel.sh then
# takes from /boot.
backports_headers_installed() {
    dpkg-query -W -f='${Version} ${Status}\n' 'linux-headers-*-amd64' 2>/dev/null |
        grep -q '~bpo.* ok installed'
}
backports_sources=/etc/apt/sources.list.d/debian-backports.sources
need_backports=0
backports_headers_installed || need_backports=1
[ ${#missing[@]} -eq 0 ] && [ $need_backports -eq 0 ] && exit 0
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
apt_get=("${as_root[@]}" apt-get -o DPkg::Lock::Timeout=900)
if [ $need_backports -eq 1 ] &&
    ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deps.sh: adding bookworm-backports to apt's sources ($backports_sources)"
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
        "${as_root[@]}" tee "$backports_sources" >/dev/null
fi
"${apt_get[@]}" update -q
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps.sh: installing ${missing[*]}"
    "${apt_get[@]}" install -y -q --no-install-recommends "${missing[@]}"
fi
if [ $need_backports -eq 1 ]; then
    # backports' linux-headers-amd64 depends on linux-headers-VERSION-amd64:
    # install that one by name, never the metapackage from backports.
    version=$(apt-cache madison linux-headers-amd64 | awk -F' [|] ' '$3 ~ /bookworm-backports/ { print $2; exit }')
    headers=$(apt-cache show "linux-headers-amd64=$version" 2>/dev/null |
        sed -n 's/^Depends: \(linux-headers-[^ ,]*\).*/\1/p' | head -n 1)
    if [ -n "$version" ] && [ -n "$headers" ]; then
        echo "deps.sh: installing $headers (bookworm-backports)"
        "${apt_get[@]}" install -y -q --no-install-recommends "$headers"
    else
        echo "deps.sh: no linux-headers-amd64 in bookworm-backports; kernel_vm_backports will skip" >&2
    fi
fi
