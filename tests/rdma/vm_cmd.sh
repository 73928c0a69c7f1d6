# SPDX-License-Identifier: BSD-3-Clause
# Runs inside the VM after tests/vm/rxe_setup.sh made rxe0 (tests/rdma/rdma_vm.sh
# sets rounds= and bench=). The ping-pong: naive must deliver stale data,
# umn's cache on every usable monitor must not (rdma_pingpong exits 1 on a
# stale transfer or an ibv_reg_mr without its ibv_dereg_mr).
umn info
fail=0
naive=$(rdma_pingpong --naive --device=rxe0 --rounds="$rounds") || fail=1
echo "$naive"
stale=$(echo "$naive" | sed -n 's/^rdma_pingpong:.* stale=\([0-9]*\) .*/\1/p')
if [ "${stale:-0}" -eq 0 ]; then
    echo "rdma_vm: FAIL: the naive cache delivered no stale data"
    fail=1
fi
for monitor in $(umn_monitors); do
    if ! rdma_pingpong --umn --monitor="$monitor" --device=rxe0 --rounds="$rounds"; then
        echo "rdma_vm: FAIL: umn with the $monitor monitor"
        fail=1
    fi
done
if [ "$bench" = 1 ]; then
    verbs_bench --device=rxe0 || fail=1
fi
exit $fail
