#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: coverage.sh INCLUDE_DIR MAN_BUILD_DIR
# Every function and type the public C headers name (umn_*, not the internal
# umn__*) must have a section 3 page or alias, and umn.hpp a page of its own.
set -euo pipefail
include=$1 dir=$2
# A name ending in "_" is a prefix in a comment ("umn_registrar_*").
names=$(grep -ohE '\bumn_[a-z][a-z0-9_]*\b' "$include"/*.h | grep -v '_$' | sort -u)
names+=$'\n'umn.hpp
missing=0
for name in $names; do
    if [ ! -f "$dir/man3/$name.3" ]; then
        echo "coverage.sh: no man page for $name (add one in man/, see man/README.md)"
        missing=1
    fi
done
exit $missing
