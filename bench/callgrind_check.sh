#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Instructions per cache hit (get+put), counted by callgrind inside
# umn_bench_hit_loop() only, against a committed baseline: fails if any case
# grew more than 20 %. Instruction counts are stable where times are not.
#   callgrind_check.sh UMN_HIT_COUNT BASELINE        check
#   callgrind_check.sh UMN_HIT_COUNT BASELINE print  print the counts in the
#                                                    baseline's format
# BASELINE lines: REGIONS ACCESS(sequential|random) INSTRUCTIONS_PER_HIT
set -euo pipefail
bin=$1
baseline=$2
mode=${3:-check}
iterations=20000
scratch=$(mktemp -d /tmp/umn-callgrind-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
status=0
while read -r regions access expected; do
    [[ -z "$regions" || "$regions" == \#* ]] && continue
    if ! valgrind --tool=callgrind --toggle-collect=umn_bench_hit_loop \
        --callgrind-out-file="$scratch/out" "$bin" "$regions" "$iterations" "$access" \
        >"$scratch/log" 2>&1; then
        cat "$scratch/log"
        echo "callgrind_check: $bin $regions $iterations $access failed"
        exit 1
    fi
    per_hit=$(awk -v n="$iterations" '/^totals:/ { printf "%.1f", $2 / n }' "$scratch/out")
    if [[ "$mode" == print ]]; then
        echo "$regions $access $per_hit"
        continue
    fi
    verdict=$(awk -v got="$per_hit" -v base="$expected" \
        'BEGIN { print (got > 1.2 * base) ? "FAIL" : "ok" }')
    echo "$verdict: $regions regions, $access: $per_hit instructions per hit (baseline $expected, limit +20 %)"
    [[ "$verdict" == ok ]] || status=1
done <"$baseline"
exit $status
