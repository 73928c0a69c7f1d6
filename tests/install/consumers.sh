#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: consumers.sh SOURCE_DIR WORK_DIR
# Builds the outside C programs of tests/install against the umn that
# pkg-config and find_package see (PKG_CONFIG_PATH, CMAKE_PREFIX_PATH and
# LD_LIBRARY_PATH come from the caller), four ways: pkg-config with the shared
# library, `pkg-config --static` into a fully static program, and CMake's
# umn::umn and umn::umn_static. Runs each. version_check's output must be
# `pkg-config --modversion umn`.
set -euo pipefail
src=$1/tests/install work=$2
mkdir -p "$work"
shared=$(pkg-config --cflags --libs umn)
static=$(pkg-config --static --cflags --libs umn)
echo "pkg-config --cflags --libs umn: $shared"
echo "pkg-config --static --cflags --libs umn: $static"
cmake -S "$src" -B "$work/cmake" >"$work/cmake.log" 2>&1 || {
    cat "$work/cmake.log"
    exit 1
}
cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1 || {
    cat "$work/cmake.log"
    exit 1
}
want=$(pkg-config --modversion umn)
for program in seed_consumer cache_consumer version_check; do
    cc -std=c11 -Wall -Wextra -Werror -pedantic -o "$work/${program}_pkgconfig" \
        "$src/$program.c" $shared
    cc -static -std=c11 -Wall -Wextra -Werror -pedantic -o "$work/${program}_pkgconfig_static" \
        "$src/$program.c" $static 2>"$work/static.log" || {
        cat "$work/static.log"
        exit 1
    }
    # The linker's one warning, that a static program's dlopen (the ibverbs
    # registrar's) needs the shared libc at run time, is expected.
    grep -v -e "statically linked applications requires" -e "in function .*find_entries" \
        "$work/static.log" || true
    for binary in "$work/${program}_pkgconfig" "$work/${program}_pkgconfig_static" \
        "$work/cmake/$program" "$work/cmake/${program}_static"; do
        echo "--- $binary"
        out=$("$binary")
        echo "$out"
        if [ "$program" = version_check ] && [ "$out" != "$want" ]; then
            echo "consumers.sh: umn_version() says $out, pkg-config --modversion $want" >&2
            exit 1
        fi
    done
done
# The static programs must not need libumn.so at run time.
for binary in "$work"/*_static "$work"/cmake/*_static; do
    if readelf -d "$binary" 2>/dev/null | grep -q 'NEEDED.*libumn'; then
        echo "consumers.sh: $binary needs libumn.so" >&2
        exit 1
    fi
done
