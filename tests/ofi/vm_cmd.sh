# SPDX-License-Identifier: BSD-3-Clause
# Runs inside the VM (tests/ofi/ofi_vm.sh prepends rounds= and bench=).
# Soft-RoCE over eth0, then ofi_stale on verbs;ofi_rxm once per monitor.
# A umn monitor must deliver no stale transfer on any replacement it sees
# (kernel: all; userfaultfd: all but copy-on-write; hooks: all but raw
# system calls and copy-on-write); libfabric's own monitors are reported.
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 || exit 10
rdma link add rxe0 type rxe netdev eth0 || exit 11
for _ in $(seq 50); do
    grep -qs "ffff:0a00:020f" /sys/class/infiniband/rxe0/ports/1/gids/* && break
    sleep 0.1
done
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
for monitor in kernel uffd hooks; do
    if ! umn info | grep -Eq "^  $monitor +yes"; then
        echo "ofi_vm: umn monitor $monitor is not usable in this VM"
        continue
    fi
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

# Cost, same VM: fi_mr_reg cache hit and munmap of a cached buffer, every
# monitor, $bench interleaved passes; the summary takes each one's minimum.
if [ "$bench" -gt 0 ]; then
    for _ in $(seq "$bench"); do
        for monitor in memhooks userfaultfd; do
            FI_MR_CACHE_MONITOR=$monitor ofi_stale --rounds=0 --bench 2>/dev/null |
                grep "^ofi_bench" | sed "s/^/libfabric-$monitor /"
        done
        for monitor in kernel uffd hooks; do
            umn info | grep -Eq "^  $monitor +yes" || continue
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
