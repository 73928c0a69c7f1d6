#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the build into a scratch prefix, then builds and runs the outside
# C programs against it as users would (consumers.sh: pkg-config, shared and
# static, and find_package(umn)). Usage: install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
pc_dir=$(dirname "$(find "$prefix" -name umn.pc | head -n1)")
export PKG_CONFIG_PATH=$pc_dir CMAKE_PREFIX_PATH=$prefix
LD_LIBRARY_PATH=$(PKG_CONFIG_PATH=$pc_dir pkg-config --variable=libdir umn)
export LD_LIBRARY_PATH
"$(dirname "$0")/consumers.sh" "$src" "$work/consumers"
