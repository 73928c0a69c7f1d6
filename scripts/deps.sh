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
    linux-headers-amd64 qemu-system-x86 busybox-static cpio xz-utils kmod
    # the umn-dkms package: installed and `dkms build` tested (tests/install/deb_test.sh)
    dkms
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
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get -o DPkg::Lock::Timeout=900 update -q
"${as_root[@]}" apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
