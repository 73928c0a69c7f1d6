# SPDX-License-Identifier: BSD-3-Clause
# Runs inside the VM before the test's script (tests/vm/rxe_vm.sh): eth0 up
# as 10.0.2.15, soft-RoCE rxe0 over it, and a wait for rxe0's GID of that
# address (::ffff:0a00:020f), which rxe adds asynchronously.
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 || exit 10
rdma link add rxe0 type rxe netdev eth0 || exit 11
for _ in $(seq 50); do
    grep -qs "ffff:0a00:020f" /sys/class/infiniband/rxe0/ports/1/gids/* && break
    sleep 0.1
done

# umn_monitors: the umn monitors usable in this VM (umn info), one a line;
# the others are named on stderr.
umn_monitors() {
    for m in kernel uffd hooks; do
        if umn info | grep -Eq "^  $m +yes"; then
            echo "$m"
        else
            echo "umn monitor $m is not usable in this VM" >&2
        fi
    done
}
