#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job on a fresh Debian 12 machine: install dependencies, build,
# show which monitors work here (umn info), run the event-coverage matrix on
# each usable monitor (umn check) and a short benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
build/tools/umn/umn info
build/tools/umn/umn check
if [[ "$(build/tools/umn/umn --help)" == *" bench "* ]]; then
    build/tools/umn/umn bench --quick
fi
