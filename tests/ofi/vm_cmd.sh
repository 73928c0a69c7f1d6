# SPDX-License-Identifier: BSD-3-Clause
# Runs inside the VM after tests/vm/rxe_setup.sh made rxe0 (tests/ofi/ofi_vm.sh
# sets rounds=, hits= and bench=). ofi_stale on verbs;ofi_rxm once per monitor.
# A umn monitor must deliver no stale transfer on any replacement it sees
# (kernel: all; userfaultfd: all but copy-on-write; hooks: all but raw
# system calls and copy-on-write); libfabric's own monitors are reported.
export FI_UNIVERSE_SIZE=64 # rxm's default CQ is larger than rxe allows
plugin_dir=/opt/umn-fi
fail=0

# run LABEL EXPECTED_MISSES COMMAND...: prints the cases as "LABEL case ...".
# EXPECTED_MISSES: "-" (libfabric's own: report only) or the cases the
# monitor cannot see (a stale transfer there is reported, not a failure).
run() {
    label=$1 misses=$2
    shift 2
    out=$("$@" --rounds="$rounds" 2>"/tmp/$label.err")
    echo "$out" | sed "s/^/$label /"
    if ! echo "$out" | grep -q "^ofi_stale: done"; then
        echo "ofi_vm: FAIL: $label did not finish"
        tail -n 20 "/tmp/$label.err"
        fail=1
        return
    fi
    echo "$out" | grep "^ofi_stale: case=" | while read -r _ c rest; do
        case=${c#case=}
        stale=$(echo "$rest" | sed -n 's/.* stale=\([0-9]*\).*/\1/p')
        other=$(echo "$rest" | sed -n 's/.* other=\([0-9]*\).*/\1/p')
        pre=$(echo "$rest" | sed -n 's/.* pre_bad=\([0-9]*\).*/\1/p')
        if [ "$misses" = - ]; then
            if [ "$stale" -ne 0 ]; then
                echo "$label $case: stale, reported (libfabric's own monitor)"
                echo "$label $case" >>/tmp/libfabric_stale
            fi
            continue
        fi
        if [ "$((stale + other + pre))" -ne 0 ]; then
            if echo " $misses " | grep -q " $case "; then
                echo "$label $case: stale, a replacement this monitor cannot see"
            else
                echo "ofi_vm: FAIL: $label $case: stale=$stale other=$other pre_bad=$pre"
                echo fail >/tmp/fail
            fi
        fi
    done
    [ ! -f /tmp/fail ] || fail=1
}

umn info | sed -n '1,/^$/p'
for monitor in memhooks userfaultfd; do
    FI_MR_CACHE_MONITOR=$monitor run "libfabric-$monitor" - ofi_stale
done
# The check can see stale data: memhooks cannot see raw system calls.
if ! grep -qs "libfabric-memhooks raw_syscalls" /tmp/libfabric_stale; then
    echo "ofi_vm: FAIL: no stale transfer with memhooks after raw munmap+mmap: the check sees nothing"
    fail=1
fi
monitors=$(umn_monitors)
for monitor in $monitors; do
    case $monitor in
        kernel) misses="" ;;
        uffd) misses="cow_fork" ;;
        hooks) misses="raw_syscalls cow_fork" ;;
    esac
    # Imported by the program; the domain is closed and reopened first.
    UMN_MONITOR=$monitor run "umn-import-$monitor" "$misses" ofi_stale_umn --reopen
    # The unmodified program, umn through the plugin.
    FI_PROVIDER_PATH=$plugin_dir UMN_MONITOR=$monitor run "umn-plugin-$monitor" "$misses" ofi_stale
done
# A fork or raw-clone child never gets valid == true nor a subscription,
# under the kernel monitor too (the host's suite runs the user-space ones).
if echo "$monitors" | grep -qx kernel; then
    if UMN_MONITOR=kernel umn_ofi_monitor_tests \
        --gtest_filter='ImportMonitor.Fork*:ImportMonitor.ChildOf*' >/tmp/fork.out 2>&1; then
        grep "^\[ *\(OK\|PASSED\) *\]" /tmp/fork.out | sed 's/^/umn-kernel /'
    else
        echo "ofi_vm: FAIL: the import monitor's fork cases under the kernel monitor"
        tail -n 20 /tmp/fork.out
        fail=1
    fi
fi
# fi_pingpong from libfabric-bin through the plugin, with libfabric's log
# saying that the imported monitor is the default.
FI_PROVIDER_PATH=$plugin_dir FI_LOG_LEVEL=info FI_LOG_SUBSYS=mr \
    fi_pingpong -p "verbs;ofi_rxm" -e rdm -I 20 -S 65536 >/tmp/pp_server.out 2>&1 &
server=$!
sleep 2
FI_PROVIDER_PATH=$plugin_dir FI_LOG_LEVEL=info FI_LOG_SUBSYS=mr \
    fi_pingpong -p "verbs;ofi_rxm" -e rdm -I 20 -S 65536 10.0.2.15 >/tmp/pp_client.out 2>&1
pp=$?
wait $server
grep -h "imported memory monitor\|bytes\|MR cache" /tmp/pp_client.out | head -n 8 | sed 's/^/fi_pingpong /'
if [ $pp -ne 0 ] || ! grep -q "imported memory monitor" /tmp/pp_client.out; then
    echo "ofi_vm: FAIL: fi_pingpong through the plugin (exit $pp)"
    tail -n 20 /tmp/pp_client.out
    fail=1
fi

# Cost of a cache hit (fi_mr_reg + fi_close of a cached buffer) in
# instructions: callgrind counts the $hits hits of hit_loop and nothing else,
# once per monitor. Deterministic, unlike time under TCG: this is the check.
# Every program counted has a second thread (--thread): umn's monitors and
# libfabric's userfaultfd have one of their own, and glibc's malloc takes its
# locked path in fi_mr_reg once there are two; memhooks is also counted
# single-threaded, reported only. libfabric's memhooks and userfaultfd answer
# valid with a no-op (2 instructions); an imported monitor costs libfabric's
# wrapper, ofi_import_monitor_valid (7), plus umn's valid (8: it reads umn's
# generation, since umn delivers notify asynchronously). max_extra_ir bounds
# umn's excess over memhooks (docs/libfabric.md, "Cost").
max_extra_ir=13
if command -v valgrind >/dev/null; then
    : >/tmp/ir
    # count LABEL PROGRAM [ARG]...: appends "LABEL INSTRUCTIONS" to /tmp/ir,
    # or returns 1.
    count() {
        label=$1
        shift
        valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no --toggle-collect=hit_loop \
            --callgrind-out-file=/dev/null "$@" --rounds=0 --hits="$hits" >/tmp/cg.out 2>/tmp/cg.err
        if grep -q "^ofi_hits: n=$hits cached=yes" /tmp/cg.out; then
            echo "$label $(sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' /tmp/cg.err)" >>/tmp/ir
            return 0
        fi
        echo "ofi_vm: $label: the hits were not counted"
        grep -h "cached=\|warn\|rror" /tmp/cg.out /tmp/cg.err | head -n 5
        return 1
    }
    FI_MR_CACHE_MONITOR=memhooks count "libfabric-memhooks-1thread" ofi_stale
    FI_MR_CACHE_MONITOR=memhooks count "libfabric-memhooks" ofi_stale --thread
    # valgrind 3.19 (Debian 12) has no userfaultfd system call: libfabric's
    # monitor fails to start under it and its cache is off. Its valid is the
    # same no-op as memhooks'.
    echo "ofi_vm: libfabric-userfaultfd: not counted (valgrind has no userfaultfd system call)"
    for monitor in $monitors; do
        UMN_MONITOR=$monitor count "umn-$monitor" ofi_stale_umn --thread || fail=1
    done
    echo "ofi_vm: instructions per cache hit ($hits hits counted by callgrind)"
    awk -v hits="$hits" -v bound="$max_extra_ir" '
        { ir[$1] = $2 / hits; order[n++] = $1 }
        END {
            b = "libfabric-memhooks"
            if (!(b in ir)) { print "ofi_vm: FAIL: memhooks not counted: nothing to compare"; exit 1 }
            printf "%-28s %10s %12s\n", "monitor", "Ir/hit", "vs memhooks"
            bad = 0
            for (i = 0; i < n; i++) {
                m = order[i]; d = ir[m] - ir[b]
                printf "%-28s %10.1f %+12.1f\n", m, ir[m], d
                if (m ~ /^umn-/ && d > bound) {
                    printf "ofi_vm: FAIL: %s: %.1f instructions per hit above memhooks (bound %d)\n", m, d, bound
                    bad = 1
                }
            }
            exit bad
        }' /tmp/ir || fail=1
else
    echo "ofi_vm: no valgrind in the VM: the hit's instructions are not counted"
fi

# Time, same VM (UMN_OFI_BENCH): fi_mr_reg hit and munmap of a cached buffer,
# every monitor, $bench interleaved passes; the summary takes each one's
# minimum. TCG time on shared cores: reported, never judged.
if [ "$bench" -gt 0 ]; then
    for _ in $(seq "$bench"); do
        for monitor in memhooks userfaultfd; do
            FI_MR_CACHE_MONITOR=$monitor ofi_stale --rounds=0 --bench 2>/dev/null |
                grep "^ofi_bench" | sed "s/^/libfabric-$monitor /"
        done
        for monitor in $monitors; do
            UMN_MONITOR=$monitor ofi_stale_umn --rounds=0 --bench 2>/dev/null |
                grep "^ofi_bench" | sed "s/^/umn-$monitor /"
        done
    done | tee /tmp/bench.out
    echo "ofi_vm: cost (minimum of $bench runs, ns; ratio to libfabric-memhooks)"
    awk '{
        split($3, h, /[=\/]/); split($4, c, /[=\/]/); split($5, p, /[=\/]/)
        if (!($1 in hit) || h[2] < hit[$1]) hit[$1] = h[2]
        if (!($1 in cached) || c[2] < cached[$1]) cached[$1] = c[2]
        if (!($1 in plain) || p[2] < plain[$1]) plain[$1] = p[2]
        if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 }
    } END {
        b = "libfabric-memhooks"
        printf "%-22s %10s %6s %16s %6s %16s %6s\n", "monitor", "hit", "ratio", "munmap_cached", "ratio", "munmap_plain", "ratio"
        for (i = 0; i < n; i++) { m = order[i]
            printf "%-22s %10d %6.2f %16d %6.2f %16d %6.2f\n", m, hit[m], hit[m] / hit[b],
                cached[m], cached[m] / cached[b], plain[m], plain[m] / plain[b] }
    }' /tmp/bench.out
fi
exit $fail
