#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Usage: lint.sh MAN_BUILD_DIR
# Checks every generated page with `mandoc -T lint -W warning` and
# `man --warnings -l`; any message fails. An alias page (only ".so") must
# name a generated page.
# scdoc writes a paragraph macro after each section heading and at a few
# block ends, which mandoc reports as "skipping paragraph macro: PP empty" or
# "PP after SH": those two, and only those, are let through.
set -euo pipefail
dir=$1
for tool in mandoc man; do
    command -v "$tool" >/dev/null || {
        echo "lint.sh: $tool not installed (scripts/deps.sh installs it)" >&2
        exit 1
    }
done
pages=$(find "$dir" -path '*/man[0-9]/*' -type f ! -name '*.scd' ! -name '*.gz' | sort)
[ -n "$pages" ] || {
    echo "lint.sh: no pages under $dir" >&2
    exit 1
}
status=0 count=0
for page in $pages; do
    if head -c 4 "$page" | grep -q '^\.so '; then
        # An alias: its target must be a page of this tree.
        target=$(sed -n '1s/^\.so //p' "$page")
        [ -f "$dir/$target" ] || {
            echo "lint.sh: $page points to $target, which was not generated"
            status=1
        }
        continue
    fi
    count=$((count + 1))
    grep -q '^\.TH ' "$page" || {
        echo "lint.sh: $page has no .TH line (did scdoc fail?)"
        status=1
        continue
    }
    messages=$(mandoc -T lint -W warning "$page" 2>&1 |
        grep -v -E 'skipping paragraph macro: PP (empty|after SH)$' || true)
    messages+=${messages:+$'\n'}$(MANWIDTH=100 man --warnings -l "$page" 2>&1 >/dev/null || true)
    if [ -n "$messages" ]; then
        echo "$messages"
        status=1
    fi
done
echo "lint.sh: $count pages checked"
exit $status
