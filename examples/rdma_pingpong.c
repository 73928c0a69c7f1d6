/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rdma_pingpong: the bug umn exists for, on a real verbs device.
 *
 * One process, two RC queue pairs on one port connected to each other. Each
 * round the sender maps a buffer at the same address, fills it with that
 * round's bytes, sends a random-sized, randomly offset slice of it, and then
 * keeps the pages (1 in 4: the next round hits the cache) or replaces them:
 * munmap (the next round maps new ones at the same address, 2 in 4) or
 * madvise(MADV_DONTNEED) (the next write faults in new ones, 1 in 4).
 *
 *   --naive   a registration cache keyed by address that keeps its mr while
 *             it covers the request (what middleware wrote before umn). The
 *             mr still pins the old pages, so the receiver gets the OLD bytes.
 *   --umn     umn_cache_get/put on the ibverbs registrar: the generation moved
 *             at the munmap/madvise, the stale mr is dropped, every round
 *             receives the new bytes.
 *
 * The receiver compares every byte with what the sender wrote this round.
 * Prints one summary line; exit status 0 when the run worked and (with --umn)
 * nothing was stale and every ibv_reg_mr was matched by an ibv_dereg_mr.
 *
 *   rdma_pingpong --umn --monitor=uffd --rounds=200 [--device=rxe0] [--seed=1]
 */
#define _GNU_SOURCE
#include <umn/umn.h>
#include <umn/verbs.h>

#include <errno.h>
#include <getopt.h>
#include <infiniband/verbs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PORT 1
#define MAX_LEN (256u * 1024u)
#define MAX_OFFSET 64u
#define MAP_LEN (MAX_LEN + MAX_OFFSET)

static const char *const monitor_names[] = {"auto", "kernel", "uffd", "hooks"};

struct options {
    int use_umn;
    enum umn_monitor monitor;
    unsigned rounds;
    unsigned seed;
    const char *device;
    int gid_index;
};

struct link {
    struct ibv_context *context;
    struct ibv_pd *pd;
    struct ibv_cq *cq;
    struct ibv_qp *sender;
    struct ibv_qp *receiver;
    char *recv_buf;
    struct ibv_mr *recv_mr;
};

/* Counts the registrar's calls so the run can show that none leaked. */
struct counted {
    struct umn_registrar inner;
    long regs;
    long deregs;
};

/* A naive cache of one entry: the mr of the last registration at `addr`. */
struct naive {
    struct ibv_pd *pd;
    struct ibv_mr *mr;
    long regs;
    long deregs;
};

static int die(const char *what, int err) {
    fprintf(stderr, "rdma_pingpong: %s: %s\n", what, strerror(err));
    return err > 0 ? -err : -EIO;
}

/* ------------------------------------------------------------------ link */

static int is_ipv4_mapped(const union ibv_gid *gid) {
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(gid->raw, prefix, sizeof prefix) == 0;
}

/* The GID `wanted`, or else the first IPv4-mapped one (RoCE v2 over an IPv4
 * address: usable at once, while a fresh IPv6 link-local address is still
 * tentative), or else the first non-zero one. */
static int find_gid(struct ibv_context *context, int wanted, union ibv_gid *gid, int *index) {
    struct ibv_port_attr port;
    if (ibv_query_port(context, PORT, &port)) return die("ibv_query_port", errno);
    if (wanted >= 0) {
        *index = wanted;
        return ibv_query_gid(context, PORT, wanted, gid) ? die("ibv_query_gid", errno) : 0;
    }
    *index = -1;
    for (int i = 0; i < port.gid_tbl_len; i++) {
        union ibv_gid g;
        if (ibv_query_gid(context, PORT, i, &g) ||
            (!g.global.interface_id && !g.global.subnet_prefix))
            continue;
        if (*index < 0 || (is_ipv4_mapped(&g) && !is_ipv4_mapped(gid))) {
            *index = i;
            *gid = g;
        }
    }
    return *index < 0 ? die("no usable GID on port 1", ENODEV) : 0;
}

static struct ibv_qp *make_qp(struct link *l) {
    struct ibv_qp_init_attr init = {
        .send_cq = l->cq,
        .recv_cq = l->cq,
        .cap = {.max_send_wr = 4, .max_recv_wr = 4, .max_send_sge = 1, .max_recv_sge = 1},
        .qp_type = IBV_QPT_RC,
    };
    return ibv_create_qp(l->pd, &init);
}

/* RESET -> INIT -> RTR -> RTS, connected to the queue pair `remote`. */
static int connect_qp(struct ibv_qp *qp, uint32_t remote, const union ibv_gid *gid, int gid_index) {
    struct ibv_qp_attr a = {
        .qp_state = IBV_QPS_INIT, .port_num = PORT, .qp_access_flags = IBV_ACCESS_LOCAL_WRITE};
    if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
        return die("modify_qp INIT", errno);
    memset(&a, 0, sizeof a);
    a.qp_state = IBV_QPS_RTR;
    a.path_mtu = IBV_MTU_1024;
    a.dest_qp_num = remote;
    a.max_dest_rd_atomic = 1;
    a.min_rnr_timer = 12;
    a.ah_attr.is_global = 1;
    a.ah_attr.grh.dgid = *gid;
    a.ah_attr.grh.sgid_index = (uint8_t)gid_index;
    a.ah_attr.grh.hop_limit = 1;
    a.ah_attr.port_num = PORT;
    if (ibv_modify_qp(qp, &a,
                      IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                          IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
        return die("modify_qp RTR", errno);
    memset(&a, 0, sizeof a);
    a.qp_state = IBV_QPS_RTS;
    a.timeout = 14;
    a.retry_cnt = 7;
    a.rnr_retry = 7;
    a.max_rd_atomic = 1;
    if (ibv_modify_qp(qp, &a,
                      IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                          IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
        return die("modify_qp RTS", errno);
    return 0;
}

static struct ibv_device *find_device(struct ibv_device **list, const char *name) {
    for (; list && *list; list++)
        if (!name || strcmp(ibv_get_device_name(*list), name) == 0) return *list;
    return NULL;
}

static int open_link(struct link *l, const struct options *o) {
    struct ibv_device **list = ibv_get_device_list(NULL);
    struct ibv_device *device = find_device(list, o->device);
    if (!device) {
        if (list) ibv_free_device_list(list);
        return die(o->device ? o->device : "no RDMA device", ENODEV);
    }
    l->context = ibv_open_device(device);
    ibv_free_device_list(list);
    if (!l->context) return die("ibv_open_device", errno);
    if (!(l->pd = ibv_alloc_pd(l->context))) return die("ibv_alloc_pd", errno);
    if (!(l->cq = ibv_create_cq(l->context, 8, NULL, NULL, 0))) return die("ibv_create_cq", errno);
    if (!(l->sender = make_qp(l)) || !(l->receiver = make_qp(l)))
        return die("ibv_create_qp", errno);
    union ibv_gid gid;
    int gid_index = 0, rc;
    if ((rc = find_gid(l->context, o->gid_index, &gid, &gid_index))) return rc;
    if ((rc = connect_qp(l->sender, l->receiver->qp_num, &gid, gid_index)) ||
        (rc = connect_qp(l->receiver, l->sender->qp_num, &gid, gid_index)))
        return rc;
    l->recv_buf = malloc(MAX_LEN);
    if (!l->recv_buf) return die("malloc", ENOMEM);
    l->recv_mr = ibv_reg_mr(l->pd, l->recv_buf, MAX_LEN, IBV_ACCESS_LOCAL_WRITE);
    if (!l->recv_mr) return die("ibv_reg_mr (receive buffer)", errno);
    return 0;
}

static void close_link(struct link *l) {
    if (l->recv_mr) ibv_dereg_mr(l->recv_mr);
    free(l->recv_buf);
    if (l->receiver) ibv_destroy_qp(l->receiver);
    if (l->sender) ibv_destroy_qp(l->sender);
    if (l->cq) ibv_destroy_cq(l->cq);
    if (l->pd) ibv_dealloc_pd(l->pd);
    if (l->context) ibv_close_device(l->context);
}

/* Sends [buf, buf + len) under `lkey` to the receiver and waits for both ends. */
static int transfer(struct link *l, const char *buf, uint32_t len, uint32_t lkey) {
    struct ibv_sge rsge = {(uintptr_t)l->recv_buf, MAX_LEN, l->recv_mr->lkey};
    struct ibv_recv_wr rwr = {.wr_id = 1, .sg_list = &rsge, .num_sge = 1}, *bad_r;
    struct ibv_sge ssge = {(uintptr_t)buf, len, lkey};
    struct ibv_send_wr swr = {.wr_id = 2,
                              .sg_list = &ssge,
                              .num_sge = 1,
                              .opcode = IBV_WR_SEND,
                              .send_flags = IBV_SEND_SIGNALED},
                       *bad_s;
    if (ibv_post_recv(l->receiver, &rwr, &bad_r)) return die("ibv_post_recv", errno);
    if (ibv_post_send(l->sender, &swr, &bad_s)) return die("ibv_post_send", errno);
    for (int done = 0; done < 2;) {
        struct ibv_wc wc;
        int n = ibv_poll_cq(l->cq, 1, &wc);
        if (n < 0) return die("ibv_poll_cq", EIO);
        if (n == 0) continue;
        if (wc.status != IBV_WC_SUCCESS) {
            fprintf(stderr, "rdma_pingpong: completion %s\n", ibv_wc_status_str(wc.status));
            return -EIO;
        }
        if (wc.wr_id == 1 && wc.byte_len != len) return die("short receive", EIO);
        done++;
    }
    return 0;
}

/* ---------------------------------------------------------------- caches */

static int counted_reg(void *ctx, void *addr, size_t len, uint64_t *handle) {
    struct counted *c = ctx;
    int rc = c->inner.reg(c->inner.ctx, addr, len, handle);
    if (rc == 0) c->regs++;
    return rc;
}

static void counted_dereg(void *ctx, void *addr, size_t len, uint64_t handle) {
    struct counted *c = ctx;
    c->inner.dereg(c->inner.ctx, addr, len, handle);
    c->deregs++;
}

/* The naive cache: reuse the mr while it covers the request. */
static struct ibv_mr *naive_get(struct naive *n, char *buf, size_t len) {
    struct ibv_mr *mr = n->mr;
    if (mr && (char *)mr->addr <= buf && buf + len <= (char *)mr->addr + mr->length) return mr;
    if (mr) {
        ibv_dereg_mr(mr);
        n->deregs++;
    }
    n->mr = ibv_reg_mr(n->pd, buf, len, IBV_ACCESS_LOCAL_WRITE);
    if (n->mr) n->regs++;
    return n->mr;
}

static void naive_close(struct naive *n) {
    if (n->mr && ibv_dereg_mr(n->mr) == 0) n->deregs++;
    n->mr = NULL;
}

/* The sender's registrations, through umn's cache or the naive one. */
struct sender {
    const struct options *o;
    umn_cache *cache;
    struct counted counted;
    umn_region *region;
    struct naive naive;
};

static int sender_open(struct sender *s, const struct options *o, struct ibv_pd *pd) {
    s->o = o;
    if (!o->use_umn) {
        s->naive.pd = pd;
        return 0;
    }
    int rc = umn_registrar_ibverbs(&s->counted.inner, pd, IBV_ACCESS_LOCAL_WRITE);
    if (rc < 0) return die("umn_registrar_ibverbs", -rc);
    struct umn_registrar counting = {&s->counted, counted_reg, counted_dereg};
    struct umn_cache_params p = {.struct_size = sizeof p, .monitor = o->monitor};
    rc = umn_cache_create(&s->cache, &counting, &p);
    return rc < 0 ? die("umn_cache_create", -rc) : 0;
}

static int sender_lkey(struct sender *s, char *buf, size_t len, uint32_t *lkey) {
    if (!s->o->use_umn) {
        struct ibv_mr *mr = naive_get(&s->naive, buf, len);
        if (!mr) return die("ibv_reg_mr", errno);
        *lkey = mr->lkey;
        return 0;
    }
    int rc = umn_cache_get(s->cache, buf, len, &s->region);
    if (rc < 0) return die("umn_cache_get", -rc);
    *lkey = umn_region_mr(s->region)->lkey;
    return 0;
}

static void sender_done(struct sender *s) {
    if (s->region) umn_cache_put(s->cache, s->region);
    s->region = NULL;
}

/* Drops every registration; returns how many were made and undone. */
static void sender_close(struct sender *s, long *regs, long *deregs) {
    if (!s->o->use_umn) {
        naive_close(&s->naive);
        *regs = s->naive.regs;
        *deregs = s->naive.deregs;
        return;
    }
    umn_cache_destroy(s->cache);
    umn_registrar_release(&s->counted.inner);
    *regs = s->counted.regs;
    *deregs = s->counted.deregs;
}

/* --------------------------------------------------------------- rounds */

/* The byte at `offset` of the sender's buffer in `round`: distinct per round. */
static unsigned char round_byte(unsigned round, size_t offset) {
    uint32_t x = round * 0x9e3779b1u ^ (uint32_t)(offset / 4) * 0x85ebca77u;
    x ^= x >> 15;
    x *= 0x2c1b3c6du;
    x ^= x >> 12;
    return (unsigned char)(x >> (8 * (offset % 4)));
}

static void fill(char *base, size_t len, unsigned round) {
    for (size_t i = 0; i < len; i++) base[i] = (char)round_byte(round, i);
}

/* Maps the sender's buffer at `want` (anywhere when NULL). */
static char *map_buffer(char *want) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (want ? MAP_FIXED_NOREPLACE : 0);
    void *p = mmap(want, MAP_LEN, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED || (want && p != want)) return NULL;
    return p;
}

struct tally {
    unsigned stale;
    unsigned from_earlier_round; /* stale rounds whose bytes match an earlier round's */
};

/* The earlier round whose bytes [offset, offset + len) the receiver got, or -1. */
static int earlier_round(const char *got, size_t offset, size_t len, unsigned round) {
    for (unsigned r = 0; r < round; r++) {
        size_t i = 0;
        while (i < len && (unsigned char)got[i] == round_byte(r, offset + i)) i++;
        if (i == len) return (int)r;
    }
    return -1;
}

static void check_received(const char *got, size_t offset, size_t len, unsigned round,
                           struct tally *t) {
    size_t i = 0;
    while (i < len && (unsigned char)got[i] == round_byte(round, offset + i)) i++;
    if (i == len) return;
    int earlier = earlier_round(got, offset, len, round);
    t->stale++;
    if (earlier >= 0) t->from_earlier_round++;
    if (t->stale > 3) return;
    if (earlier >= 0)
        printf("round %u: STALE: the receiver got the OLD contents, written in round %d\n", round,
               earlier);
    else
        printf("round %u: STALE: byte %zu of %zu differs\n", round, i, len);
}

/* Log-uniform length in [1, MAX_LEN]. */
static uint32_t random_len(void) {
    uint32_t len = 1 + (uint32_t)rand() % (1u << (rand() % 19));
    return len > MAX_LEN ? MAX_LEN : len;
}

static int run_rounds(struct link *l, struct sender *s, const struct options *o, struct tally *t) {
    char *base = NULL, *mapped = NULL;
    int rc = 0;
    for (unsigned round = 0; round < o->rounds && rc == 0; round++) {
        if (!mapped && !(mapped = map_buffer(base))) return die("mmap at the same address", EEXIST);
        base = mapped;
        size_t offset = (size_t)rand() % MAX_OFFSET;
        uint32_t len = random_len(), lkey = 0;
        fill(base, MAP_LEN, round);
        if ((rc = sender_lkey(s, base + offset, len, &lkey))) break;
        rc = transfer(l, base + offset, len, lkey);
        sender_done(s);
        if (rc == 0) check_received(l->recv_buf, offset, len, round, t);
        /* Keep the pages (a cache hit next round) or put new pages at the same address. */
        int next = rand() % 4;
        if (next == 1) madvise(mapped, MAP_LEN, MADV_DONTNEED);
        if (next >= 2) {
            munmap(mapped, MAP_LEN);
            mapped = NULL;
        }
    }
    if (mapped) munmap(mapped, MAP_LEN);
    return rc;
}

static int parse_options(int argc, char **argv, struct options *o) {
    static const struct option longs[] = {
        {"naive", no_argument, NULL, 'n'},         {"umn", no_argument, NULL, 'u'},
        {"monitor", required_argument, NULL, 'm'}, {"rounds", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 's'},    {"device", required_argument, NULL, 'd'},
        {"gid", required_argument, NULL, 'g'},     {NULL, 0, NULL, 0}};
    *o = (struct options){.use_umn = -1, .rounds = 200, .seed = 1, .gid_index = -1};
    for (int c; (c = getopt_long(argc, argv, "", longs, NULL)) != -1;) {
        switch (c) {
            case 'n':
            case 'u':
                o->use_umn = c == 'u';
                break;
            case 'm': {
                int m = 0;
                while (m < 4 && strcmp(optarg, monitor_names[m]) != 0) m++;
                if (m == 4) return -EINVAL;
                o->monitor = (enum umn_monitor)m;
                break;
            }
            case 'r':
                o->rounds = (unsigned)strtoul(optarg, NULL, 0);
                break;
            case 's':
                o->seed = (unsigned)strtoul(optarg, NULL, 0);
                break;
            case 'd':
                o->device = optarg;
                break;
            case 'g':
                o->gid_index = atoi(optarg);
                break;
            default:
                return -EINVAL;
        }
    }
    return o->use_umn < 0 ? -EINVAL : 0;
}

int main(int argc, char **argv) {
    struct options o;
    if (parse_options(argc, argv, &o)) {
        fprintf(stderr,
                "usage: rdma_pingpong --naive|--umn [--monitor=auto|kernel|uffd|hooks] "
                "[--rounds=N] [--seed=N] [--device=NAME] [--gid=INDEX]\n");
        return 2;
    }
    srand(o.seed);
    struct link l = {0};
    struct sender s = {0};
    struct tally t = {0};
    long regs = 0, deregs = 0;
    int rc = open_link(&l, &o);
    if (rc == 0) rc = sender_open(&s, &o, l.pd);
    if (rc == 0) rc = run_rounds(&l, &s, &o, &t);
    if (s.o) sender_close(&s, &regs, &deregs);
    close_link(&l);
    printf(
        "rdma_pingpong: mode=%s monitor=%s rounds=%u stale=%u old_contents=%u "
        "ibv_reg_mr=%ld ibv_dereg_mr=%ld %s\n",
        o.use_umn ? "umn" : "naive", o.use_umn ? monitor_names[o.monitor] : "none", o.rounds,
        t.stale, t.from_earlier_round, regs, deregs, rc ? "FAILED" : "completed");
    if (rc || regs != deregs) return 1;
    return o.use_umn && t.stale ? 1 : 0;
}
