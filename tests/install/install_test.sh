#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the build into a scratch prefix, then builds an outside C program
# against it twice, as users would: with pkg-config and with find_package(umn).
# Runs both, for each outside program (the notifier's seed sequence and the
# cache's promises). Usage: install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

pc_dir=$(dirname "$(find "$prefix" -name umn.pc | head -n1)")
flags=$(PKG_CONFIG_PATH=$pc_dir pkg-config --cflags --libs umn)
echo "pkg-config --cflags --libs umn: $flags"
libdir=$(PKG_CONFIG_PATH=$pc_dir pkg-config --variable=libdir umn)
cmake -S "$src/tests/install" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
for program in seed_consumer cache_consumer; do
    cc -std=c11 -Wall -Wextra -Werror -pedantic -o "$work/${program}_pkgconfig" \
        "$src/tests/install/$program.c" $flags
    LD_LIBRARY_PATH=$libdir "$work/${program}_pkgconfig"
    LD_LIBRARY_PATH=$libdir "$work/cmake/$program"
done
