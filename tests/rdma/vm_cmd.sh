# SPDX-License-Identifier: BSD-3-Clause
# Runs inside the VM (tests/rdma/rdma_vm.sh prepends rounds= and bench=).
# Soft-RoCE over eth0, then the ping-pong: naive must deliver stale data,
# umn's cache on every usable monitor must not (rdma_pingpong exits 1 on a
# stale transfer or an ibv_reg_mr without its ibv_dereg_mr).
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 || exit 10
rdma link add rxe0 type rxe netdev eth0 || exit 11
# rxe adds the GID of 10.0.2.15 (::ffff:0a00:020f) asynchronously.
for _ in $(seq 50); do
    grep -qs "ffff:0a00:020f" /sys/class/infiniband/rxe0/ports/1/gids/* && break
    sleep 0.1
done
umn info
fail=0
naive=$(rdma_pingpong --naive --device=rxe0 --rounds="$rounds") || fail=1
echo "$naive"
stale=$(echo "$naive" | sed -n 's/^rdma_pingpong:.* stale=\([0-9]*\) .*/\1/p')
if [ "${stale:-0}" -eq 0 ]; then
    echo "rdma_vm: FAIL: the naive cache delivered no stale data"
    fail=1
fi
for monitor in kernel uffd hooks; do
    if ! umn info | grep -Eq "^  $monitor +yes"; then
        echo "rdma_vm: monitor $monitor is not usable in this VM"
        continue
    fi
    if ! rdma_pingpong --umn --monitor="$monitor" --device=rxe0 --rounds="$rounds"; then
        echo "rdma_vm: FAIL: umn with the $monitor monitor"
        fail=1
    fi
done
if [ "$bench" = 1 ]; then
    verbs_bench --device=rxe0 || fail=1
fi
exit $fail
