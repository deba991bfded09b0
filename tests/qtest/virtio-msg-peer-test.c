/*
 * QTest: virtio-msg-bus-linux-user and the proxies against a hostile peer
 *
 * The test owns the Unix socket of the link and plays the other QEMU:
 *
 * - the device side, for a -M virt QEMU whose virtio-msg-proxy-driver
 *   devices sit on virtio-mmio transports: a thread listens, sends the
 *   setup with a memfd and serves the proxies' requests following a script
 *   (answer, answer late, stop answering, close, send garbage, remove the
 *   device, scribble over the queue indices), recording what it receives,
 *   while the test drives the proxies through their virtio-mmio registers
 *   and times every access (each is a main-loop stall under qtest);
 *
 * - the driver side, for a -M x-virtio-msg QEMU with a virtio-rng-device:
 *   the test connects, checks and maps the setup, and sends requests.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "qemu/atomic.h"
#include "qemu/bswap.h"
#include "qemu/memfd.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "hw/virtio/virtio-msg-proto.h"
#include "standard-headers/linux/virtio_config.h"

/* The link: setup message and the two queues of the memfd */
#define LU_QUEUE_SIZE   65536
#define LU_SHM_SIZE     (2 * LU_QUEUE_SIZE)
#define LU_SETUP_SIZE   16
#define LU_HEAD         0
#define LU_TAIL         64
#define LU_SLOTS        128
#define LU_SLOT         64
#define LU_CAP          ((LU_QUEUE_SIZE - LU_SLOTS) / LU_SLOT)
#define LU_SEALS        (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)
#define LU_DOORBELL     'D'
#define MSG_MAX         64
#define CONFIG_CHUNK    (MSG_MAX - VIRTIO_MSG_HDR_SIZE - 12)

/* -M virt: virtio-mmio transports and RAM */
#define MMIO(n)         (0x0a000000ULL + 0x200ULL * (n))
#define MMIO_COUNT      32
#define RAM_BASE        0x40000000ULL
#define R_MAGIC         0x00
#define R_VERSION       0x04
#define R_DEVICE_ID     0x08
#define R_DEV_FEAT      0x10
#define R_DEV_FEAT_SEL  0x14
#define R_DRV_FEAT      0x20
#define R_DRV_FEAT_SEL  0x24
#define R_QUEUE_SEL     0x30
#define R_QUEUE_NUM_MAX 0x34
#define R_QUEUE_NUM     0x38
#define R_QUEUE_READY   0x44
#define R_QUEUE_NOTIFY  0x50
#define R_INT_STATUS    0x60
#define R_INT_ACK       0x64
#define R_STATUS        0x70
#define R_QUEUE_DESC    0x80
#define R_QUEUE_DRIVER  0x90
#define R_QUEUE_DEVICE  0xa0
#define R_CONFIG_GEN    0xfc
#define R_CONFIG        0x100

#define S_ACK           VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRIVER        VIRTIO_CONFIG_S_DRIVER
#define S_FEATURES_OK   VIRTIO_CONFIG_S_FEATURES_OK
#define S_DRIVER_OK     VIRTIO_CONFIG_S_DRIVER_OK
#define S_NEEDS_RESET   VIRTIO_CONFIG_S_NEEDS_RESET
#define S_UP_TO_FEAT    (S_ACK | S_DRIVER | S_FEATURES_OK)
#define S_ALL_OK        (S_UP_TO_FEAT | S_DRIVER_OK)
#define VERSION_1       (1ULL << VIRTIO_F_VERSION_1)

#define MAX_DEVS        32
#define TIMEOUT_MS      200
#define CONNECT_MS      500
#define QUEUE_SIZE      16
/* The longest any guest access (a main-loop stall) may last */
#define STALL_MAX_US    ((TIMEOUT_MS * 3 / 2 + 100) * 1000LL)
/* An access that must not wait for the peer */
#define QUICK_US        (50 * 1000LL)
#define MS(us)          ((double)(us) / 1000.0)

static int64_t now_us(void)
{
    return g_get_monotonic_time();
}

/* Single-producer single-consumer queue in the shared memory */

typedef struct Ring {
    uint8_t *mem;
} Ring;

static uint32_t ring_index(Ring *r, size_t off)
{
    return le32_to_cpu(qatomic_load_acquire((uint32_t *)(r->mem + off)));
}

static void ring_set_index(Ring *r, size_t off, uint32_t v)
{
    qatomic_store_release((uint32_t *)(r->mem + off), cpu_to_le32(v));
}

static uint32_t ring_used(Ring *r)
{
    uint32_t head = ring_index(r, LU_HEAD) % LU_CAP;
    uint32_t tail = ring_index(r, LU_TAIL) % LU_CAP;

    return (head + LU_CAP - tail) % LU_CAP;
}

/* Producer: false when the queue is full. */
static bool ring_put(Ring *r, const void *buf, size_t len)
{
    uint32_t head = ring_index(r, LU_HEAD) % LU_CAP;
    uint32_t tail = ring_index(r, LU_TAIL);
    uint8_t *slot = r->mem + LU_SLOTS + head * LU_SLOT;

    /* QEMU keeps the index it owns in range */
    g_assert_cmpuint(tail, <, LU_CAP);
    if ((head + 1) % LU_CAP == tail) {
        return false;
    }
    memset(slot, 0, LU_SLOT);
    memcpy(slot, buf, MIN(len, LU_SLOT));
    ring_set_index(r, LU_HEAD, (head + 1) % LU_CAP);
    return true;
}

/* Consumer: false when the queue is empty. */
static bool ring_get(Ring *r, uint8_t *buf)
{
    uint32_t head = ring_index(r, LU_HEAD);
    uint32_t tail = ring_index(r, LU_TAIL) % LU_CAP;

    g_assert_cmpuint(head, <, LU_CAP);
    if (head == tail) {
        return false;
    }
    memcpy(buf, r->mem + LU_SLOTS + tail * LU_SLOT, LU_SLOT);
    /* the copy is complete before the slot goes back to the producer */
    smp_mb();
    ring_set_index(r, LU_TAIL, (tail + 1) % LU_CAP);
    return true;
}

/* Sockets and memfds */

static int make_memfd(size_t size, int seals)
{
    int fd = memfd_create("vmsg-peer-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    if (seals) {
        g_assert_cmpint(fcntl(fd, F_ADD_SEALS, seals), ==, 0);
    }
    return fd;
}

static void send_with_fds(int sock, const void *buf, size_t len,
                          const int *fds, int nfds)
{
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } control;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n;

    g_assert_cmpint(nfds, <=, 4);
    memset(&control, 0, sizeof(control));
    if (nfds) {
        struct cmsghdr *cmsg;

        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    g_assert_cmpint(n, ==, len);
}

static void doorbell(int sock)
{
    uint8_t b = LU_DOORBELL;

    /* a full socket means unread doorbells: losing one loses nothing */
    if (send(sock, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        g_assert(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
    }
}

static void setup_fill(uint8_t *setup)
{
    memset(setup, 0, LU_SETUP_SIZE);
    memcpy(setup, "VMSGLU", 6);
    stw_le_p(setup + 6, 1);
    stl_le_p(setup + 8, LU_QUEUE_SIZE);
}

static size_t msg_encode(VirtIOMSG *m, uint8_t *buf)
{
    size_t len = virtio_msg_encode(m, buf, MSG_MAX);

    g_assert_cmpuint(len, >=, VIRTIO_MSG_HDR_SIZE);
    return len;
}

/*
 * Role A: the fake device side
 *
 * A thread accepts QEMU's connection, sends the setup and serves requests
 * for up to MAX_DEVS fake devices.  Everything it shares with the test is
 * under Peer.lock.
 */

typedef enum SetupKind {
    SETUP_GOOD,
    SETUP_BAD_MAGIC,
    SETUP_BAD_VERSION,
    SETUP_BAD_QUEUE_SIZE,
    SETUP_SHORT,
    SETUP_LONG,
    SETUP_NO_FD,
    SETUP_TWO_FDS,
    SETUP_UNSEALED,
    SETUP_SMALL_MEMFD,
} SetupKind;

typedef enum PeerMode {
    PEER_ANSWER,        /* answer, delay_ms after the request arrived */
    PEER_SILENT,        /* answer nothing */
    PEER_CLOSE,         /* close the connection */
} PeerMode;

typedef struct FakeVq {
    uint32_t size;
    uint64_t desc;
    uint64_t driver;
    uint64_t device;
} FakeVq;

/* Answers that are wrong in one way */
typedef enum FakeQuirk {
    QUIRK_NONE,
    QUIRK_FEATURES_SHORT,       /* GET_FEATURES answers one block */
    QUIRK_CONFIG_RANGE,         /* GET_CONFIG answers another offset */
    QUIRK_VQ_INDEX,             /* GET_VQUEUE answers another queue */
    QUIRK_NEEDS_RESET,          /* SET_DEVICE_STATUS answers NEEDS_RESET */
    QUIRK_REFUSE_FEATURES,      /* SET_DEVICE_STATUS clears FEATURES_OK */
} FakeQuirk;

typedef struct FakeDev {
    bool present;
    FakeQuirk quirk;
    uint32_t device_id;
    uint32_t config_size;
    uint32_t num_queues;
    uint32_t queue_max;
    uint64_t features;
    uint64_t driver_features;
    uint32_t status;
    uint32_t generation;
    uint8_t config[4096];
    FakeVq vq[64];
    PeerMode mode;
    unsigned delay_ms;
} FakeDev;

/* From the first request that matches, the device behaves as told. */
typedef struct PeerTrigger {
    bool armed;
    uint16_t dev_num;
    uint8_t id;
    uint32_t status;    /* SET_DEVICE_STATUS: bits that must be set */
    PeerMode mode;
    unsigned delay_ms;
} PeerTrigger;

typedef struct RecMsg {
    VirtIOMSG msg;
    int64_t t_us;
} RecMsg;

typedef struct Delayed {
    int64_t due_us;
    VirtIOMSG msg;
} Delayed;

typedef struct Peer {
    char *dir;
    char *path;
    int listen_fd;
    GThread *thread;
    GMutex lock;
    bool quit;

    SetupKind setup;
    int fd;
    bool up;
    bool closed;        /* the connection is gone (either side) */
    bool want_close;
    int memfd;
    int memfd2;
    uint8_t *shm;
    size_t shm_size;
    Ring tx;            /* the first queue: the listening side sends */
    Ring rx;
    FakeDev dev[MAX_DEVS];
    PeerTrigger trig;
    bool hostile;
    bool resync;
    bool garbage;
    bool no_consume;    /* leave QEMU's requests in the queue */
    unsigned connections;
    unsigned scrambles;
    GArray *log;
    size_t bytes_in;
    unsigned undecodable;
    unsigned send_failed;
    GQueue delayed;
    GRand *rand;
} Peer;

static void fake_init(FakeDev *d, uint32_t device_id, uint32_t config_size,
                      uint32_t num_queues)
{
    memset(d, 0, sizeof(*d));
    d->present = true;
    d->device_id = device_id;
    d->config_size = config_size;
    d->num_queues = num_queues;
    d->queue_max = 64;
    d->features = VERSION_1;
    for (unsigned i = 0; i < sizeof(d->config); i++) {
        d->config[i] = i * 7 + 1;
    }
}

static void fake_reset(FakeDev *d)
{
    d->status = 0;
    d->driver_features = 0;
    memset(d->vq, 0, sizeof(d->vq));
}

static bool fake_config_range(FakeDev *d, uint32_t off, uint32_t len)
{
    return len <= CONFIG_CHUNK && (uint64_t)off + len <= d->config_size &&
           (uint64_t)off + len <= sizeof(d->config);
}

/* What a well-behaved device answers to @m, if anything. */
static bool fake_answer(FakeDev *d, const VirtIOMSG *m, VirtIOMSG *r)
{
    virtio_msg_init_response(r, m);
    switch (m->id) {
    case VIRTIO_MSG_DEVICE_INFO:
        r->info.device_id = d->device_id;
        r->info.vendor_id = 0x554d4551;
        r->info.num_feature_bits = 64;
        r->info.config_size = d->config_size;
        r->info.max_virtqueues = d->num_queues;
        r->info.admin_vq_start = 0;
        r->info.admin_vq_count = 0;
        return true;
    case VIRTIO_MSG_GET_FEATURES:
        r->features.index = m->features.index;
        r->features.num = MIN(m->features.num,
                              virtio_msg_max_feature_blocks(MSG_MAX));
        for (uint32_t i = 0; i < r->features.num; i++) {
            uint64_t b = (uint64_t)m->features.index + i;

            r->features.blocks[i] = b < 2 ? d->features >> (32 * b) : 0;
        }
        if (d->quirk == QUIRK_FEATURES_SHORT) {
            r->features.num = 1;
        }
        return true;
    case VIRTIO_MSG_SET_FEATURES:
        for (uint32_t i = 0; i < m->features.num; i++) {
            uint64_t b = (uint64_t)m->features.index + i;

            if (b < 2) {
                d->driver_features &= ~(0xffffffffULL << (32 * b));
                d->driver_features |=
                    (uint64_t)m->features.blocks[i] << (32 * b);
            }
        }
        return true;
    case VIRTIO_MSG_GET_CONFIG:
        if (!fake_config_range(d, m->config.offset, m->config.length)) {
            return false;
        }
        r->config.generation = d->generation;
        r->config.offset = m->config.offset;
        r->config.length = m->config.length;
        memcpy(r->config.data, d->config + m->config.offset,
               m->config.length);
        if (d->quirk == QUIRK_CONFIG_RANGE) {
            r->config.offset ^= 4;
        }
        return true;
    case VIRTIO_MSG_SET_CONFIG:
        if (!fake_config_range(d, m->config.offset, m->config.length)) {
            return false;
        }
        r->config.offset = m->config.offset;
        r->config.length = 0;
        r->config.has_data = false;
        if (m->config.generation == d->generation) {
            memcpy(d->config + m->config.offset, m->config.data,
                   m->config.length);
            r->config.length = m->config.length;
        }
        r->config.generation = d->generation;
        return true;
    case VIRTIO_MSG_GET_DEVICE_STATUS:
        r->status.status = d->status;
        return true;
    case VIRTIO_MSG_SET_DEVICE_STATUS:
        if (m->status.status == 0) {
            fake_reset(d);
        } else {
            d->status = m->status.status;
            if (d->quirk == QUIRK_NEEDS_RESET) {
                d->status |= S_NEEDS_RESET;
            } else if (d->quirk == QUIRK_REFUSE_FEATURES) {
                d->status &= ~S_FEATURES_OK;
            }
        }
        r->status.status = d->status;
        return true;
    case VIRTIO_MSG_GET_VQUEUE:
        memset(&r->vq, 0, sizeof(r->vq));
        r->vq.index = m->vq.index;
        if (m->vq.index < d->num_queues && m->vq.index < 64) {
            FakeVq *vq = &d->vq[m->vq.index];

            r->vq.max_size = d->queue_max;
            r->vq.size = vq->size;
            r->vq.desc = vq->desc;
            r->vq.driver = vq->driver;
            r->vq.device = vq->device;
        }
        if (d->quirk == QUIRK_VQ_INDEX) {
            r->vq.index++;
        }
        return true;
    case VIRTIO_MSG_SET_VQUEUE:
        if (m->vq.index < d->num_queues && m->vq.index < 64) {
            FakeVq *vq = &d->vq[m->vq.index];

            vq->size = m->vq.size;
            vq->desc = m->vq.desc;
            vq->driver = m->vq.driver;
            vq->device = m->vq.device;
        }
        return true;
    case VIRTIO_MSG_RESET_VQUEUE:
        if (m->vq.index < d->num_queues && m->vq.index < 64) {
            memset(&d->vq[m->vq.index], 0, sizeof(FakeVq));
        }
        return true;
    default:
        return false;
    }
}

/* Put @m in the queue to QEMU and ring its doorbell (lock held). */
static bool peer_send_locked(Peer *p, VirtIOMSG *m)
{
    uint8_t buf[MSG_MAX];
    size_t len = msg_encode(m, buf);

    if (!p->up || p->fd < 0 || !ring_put(&p->tx, buf, len)) {
        p->send_failed++;
        return false;
    }
    doorbell(p->fd);
    return true;
}

/* Slots QEMU must drop: bad sizes, unknown ids, answers to nothing. */
static void peer_send_garbage_locked(Peer *p, const VirtIOMSG *resp)
{
    uint8_t buf[LU_SLOT];
    VirtIOMSG m;

    for (unsigned i = 0; i < LU_SLOT; i++) {
        buf[i] = g_rand_int(p->rand);
    }
    stw_le_p(buf + 6, 4);                   /* msg_size below the header */
    ring_put(&p->tx, buf, sizeof(buf));
    stw_le_p(buf + 6, 0xffff);              /* above the bus maximum */
    ring_put(&p->tx, buf, sizeof(buf));
    memset(buf, 0, sizeof(buf));
    buf[0] = VIRTIO_MSG_TYPE_RESPONSE;
    buf[1] = 0x3f;                          /* no such message */
    stw_le_p(buf + 6, 16);
    ring_put(&p->tx, buf, sizeof(buf));
    m = *resp;
    m.token ^= 0x5a00;                      /* nobody asked for this */
    ring_put(&p->tx, (msg_encode(&m, buf), buf), LU_SLOT);
    m = *resp;
    m.dev_num = MAX_DEVS - 1;               /* no proxy there */
    ring_put(&p->tx, (msg_encode(&m, buf), buf), LU_SLOT);
    m = *resp;
    m.dev_num = 0xffff;
    ring_put(&p->tx, (msg_encode(&m, buf), buf), LU_SLOT);
    /* the right token, but a request, or the answer to another request */
    m = *resp;
    m.type &= ~VIRTIO_MSG_TYPE_RESPONSE;
    ring_put(&p->tx, (msg_encode(&m, buf), buf), LU_SLOT);
    virtio_msg_init(&m, VIRTIO_MSG_TYPE_RESPONSE,
                    resp->id == VIRTIO_MSG_GET_DEVICE_STATUS ?
                    VIRTIO_MSG_SET_DEVICE_STATUS :
                    VIRTIO_MSG_GET_DEVICE_STATUS, resp->dev_num,
                    resp->token);
    m.status.status = 0xffffffff;
    ring_put(&p->tx, (msg_encode(&m, buf), buf), LU_SLOT);
}

static void peer_reply_locked(Peer *p, VirtIOMSG *resp)
{
    if (p->garbage) {
        peer_send_garbage_locked(p, resp);
    }
    peer_send_locked(p, resp);
}

static void peer_close_locked(Peer *p)
{
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    p->up = false;
    p->closed = true;
}

static bool peer_trigger_matches(PeerTrigger *t, const VirtIOMSG *m)
{
    return t->armed && t->dev_num == m->dev_num && t->id == m->id &&
           (m->id != VIRTIO_MSG_SET_DEVICE_STATUS ||
            (m->status.status & t->status) == t->status);
}

static void peer_handle_locked(Peer *p, const VirtIOMSG *m, int64_t now)
{
    RecMsg rec = { .msg = *m, .t_us = now };
    VirtIOMSG r;
    FakeDev *d;

    g_array_append_val(p->log, rec);
    if (m->type & VIRTIO_MSG_TYPE_RESPONSE) {
        return;
    }
    if (m->type & VIRTIO_MSG_TYPE_BUS) {
        virtio_msg_init_response(&r, m);
        if (m->id == VIRTIO_MSG_BUS_PING) {
            r.ping.data = m->ping.data;
            peer_send_locked(p, &r);
        }
        return;
    }
    if (m->dev_num >= MAX_DEVS) {
        return;
    }
    d = &p->dev[m->dev_num];
    if (peer_trigger_matches(&p->trig, m)) {
        p->trig.armed = false;
        d->mode = p->trig.mode;
        d->delay_ms = p->trig.delay_ms;
    }
    if (d->mode == PEER_CLOSE) {
        peer_close_locked(p);
        return;
    }
    if (d->mode == PEER_SILENT || !d->present ||
        VIRTIO_MSG_ID_IS_EVENT(m->id) || !fake_answer(d, m, &r)) {
        return;
    }
    if (d->delay_ms) {
        Delayed *x = g_new(Delayed, 1);

        x->due_us = now + d->delay_ms * 1000LL;
        x->msg = r;
        g_queue_push_tail(&p->delayed, x);
    } else {
        peer_reply_locked(p, &r);
    }
}

static void peer_send_due_locked(Peer *p, int64_t now)
{
    GList *l = p->delayed.head;

    while (l) {
        GList *next = l->next;
        Delayed *x = l->data;

        if (x->due_us <= now) {
            peer_reply_locked(p, &x->msg);
            g_queue_delete_link(&p->delayed, l);
            g_free(x);
        }
        l = next;
    }
}

/* Hostile mode: write what a broken or malicious peer could. */
static void peer_scramble_locked(Peer *p)
{
    static const uint32_t odd[] = {
        0xffffffff, LU_CAP, LU_CAP + 1, 0x80000000, 0x7fffffff, 1023,
    };
    unsigned i = p->scrambles++;
    uint32_t a = i % 2 ? odd[(i / 2) % ARRAY_SIZE(odd)]
                       : g_rand_int(p->rand);
    uint32_t b = i % 3 ? odd[(i / 3) % ARRAY_SIZE(odd)]
                       : g_rand_int(p->rand);

    /* QEMU's receive head, its transmit tail, and slot contents */
    ring_set_index(&p->tx, LU_HEAD, a);
    ring_set_index(&p->rx, LU_TAIL, b);
    for (unsigned s = 0; s < 4; s++) {
        uint32_t n = g_rand_int_range(p->rand, 0, LU_CAP);

        for (unsigned k = 0; k < LU_SLOT; k += 4) {
            stl_le_p(p->tx.mem + LU_SLOTS + n * LU_SLOT + k,
                     g_rand_int(p->rand));
        }
    }
    doorbell(p->fd);
}

/* Back to sane indices: everything in flight is forgotten. */
static void peer_resync_locked(Peer *p)
{
    ring_set_index(&p->tx, LU_HEAD, ring_index(&p->tx, LU_TAIL) % LU_CAP);
    ring_set_index(&p->rx, LU_TAIL, ring_index(&p->rx, LU_HEAD) % LU_CAP);
}

static void peer_send_setup_locked(Peer *p)
{
    uint8_t buf[32];
    size_t len = LU_SETUP_SIZE;
    int seals = LU_SEALS;
    size_t size = LU_SHM_SIZE;
    int fds[2];
    int nfds = 1;

    if (p->shm) {
        munmap(p->shm, p->shm_size);
        p->shm = NULL;
    }
    if (p->memfd >= 0) {
        close(p->memfd);
    }
    if (p->memfd2 >= 0) {
        close(p->memfd2);
        p->memfd2 = -1;
    }
    setup_fill(buf);
    switch (p->setup) {
    case SETUP_GOOD:
        break;
    case SETUP_BAD_MAGIC:
        memcpy(buf, "VMSGXX", 6);
        break;
    case SETUP_BAD_VERSION:
        stw_le_p(buf + 6, 2);
        break;
    case SETUP_BAD_QUEUE_SIZE:
        stl_le_p(buf + 8, 4096);
        break;
    case SETUP_SHORT:
        len = 8;
        break;
    case SETUP_LONG:
        memset(buf + LU_SETUP_SIZE, 0xff, 8);
        len = LU_SETUP_SIZE + 8;
        break;
    case SETUP_NO_FD:
        nfds = 0;
        break;
    case SETUP_TWO_FDS:
        nfds = 2;
        break;
    case SETUP_UNSEALED:
        seals = 0;
        break;
    case SETUP_SMALL_MEMFD:
        size = LU_QUEUE_SIZE;
        break;
    }
    p->memfd = make_memfd(size, seals);
    p->shm_size = size;
    p->shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, p->memfd, 0);
    g_assert(p->shm != MAP_FAILED);
    fds[0] = p->memfd;
    if (nfds == 2) {
        p->memfd2 = make_memfd(LU_SHM_SIZE, LU_SEALS);
        fds[1] = p->memfd2;
    }
    p->tx.mem = p->shm;
    p->rx.mem = size == LU_SHM_SIZE ? p->shm + LU_QUEUE_SIZE : NULL;
    send_with_fds(p->fd, buf, len, fds, nfds);
    p->up = p->setup == SETUP_GOOD;
}

static void peer_poll(Peer *p)
{
    struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
    uint8_t buf[LU_SLOT];
    int64_t now;

    if (p->fd < 0) {
        g_usleep(1000);
        return;
    }
    if (poll(&pfd, 1, 1) > 0) {
        ssize_t n = read(p->fd, buf, sizeof(buf));

        g_mutex_lock(&p->lock);
        if (n > 0) {
            p->bytes_in += n;
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            peer_close_locked(p);
        }
        g_mutex_unlock(&p->lock);
    }
    g_mutex_lock(&p->lock);
    now = now_us();
    if (p->want_close) {
        peer_close_locked(p);
    }
    if (p->up && p->hostile) {
        peer_scramble_locked(p);
    } else if (p->up && p->resync) {
        peer_resync_locked(p);
        p->resync = false;
    } else if (p->up && !p->no_consume) {
        while (p->up && ring_get(&p->rx, buf)) {
            VirtIOMSG m;

            if (virtio_msg_decode(buf, sizeof(buf), MSG_MAX, &m) !=
                VIRTIO_MSG_OK) {
                p->undecodable++;
                continue;
            }
            peer_handle_locked(p, &m, now);
        }
    }
    if (p->up) {
        peer_send_due_locked(p, now);
    }
    g_mutex_unlock(&p->lock);
}

/* A new connection: a device side resets its devices and starts afresh */
static void peer_connected_locked(Peer *p, int fd)
{
    p->fd = fd;
    p->closed = false;
    p->want_close = false;
    p->hostile = false;
    p->resync = false;
    p->connections++;
    g_queue_clear_full(&p->delayed, g_free);
    for (unsigned i = 0; i < MAX_DEVS; i++) {
        fake_reset(&p->dev[i]);
    }
    peer_send_setup_locked(p);
}

static gpointer peer_thread(gpointer opaque)
{
    Peer *p = opaque;

    while (!qatomic_read(&p->quit)) {
        struct pollfd pfd = { .fd = p->listen_fd, .events = POLLIN };
        int fd;

        if (poll(&pfd, 1, 10) <= 0) {
            continue;
        }
        fd = accept(p->listen_fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        g_mutex_lock(&p->lock);
        peer_connected_locked(p, fd);
        g_mutex_unlock(&p->lock);
        /* only this thread changes p->fd */
        while (!qatomic_read(&p->quit) && p->fd >= 0) {
            peer_poll(p);
        }
    }
    return NULL;
}

static Peer *peer_new(SetupKind setup)
{
    Peer *p = g_new0(Peer, 1);

    p->dir = g_dir_make_tmp("vmsg-peer-XXXXXX", NULL);
    g_assert(p->dir);
    p->path = g_build_filename(p->dir, "sock", NULL);
    p->listen_fd = qtest_socket_server(p->path);
    p->setup = setup;
    p->fd = -1;
    p->memfd = -1;
    p->memfd2 = -1;
    p->log = g_array_new(false, true, sizeof(RecMsg));
    p->rand = g_rand_new_with_seed(0x5eed);
    g_mutex_init(&p->lock);
    g_queue_init(&p->delayed);
    return p;
}

static void peer_start(Peer *p)
{
    p->thread = g_thread_new("vmsg-peer", peer_thread, p);
}

static void peer_free(Peer *p)
{
    qatomic_set(&p->quit, true);
    if (p->thread) {
        g_thread_join(p->thread);
    }
    if (p->fd >= 0) {
        close(p->fd);
    }
    if (p->shm) {
        munmap(p->shm, p->shm_size);
    }
    if (p->memfd >= 0) {
        close(p->memfd);
    }
    if (p->memfd2 >= 0) {
        close(p->memfd2);
    }
    close(p->listen_fd);
    unlink(p->path);
    rmdir(p->dir);
    g_queue_clear_full(&p->delayed, g_free);
    g_array_free(p->log, true);
    g_rand_free(p->rand);
    g_mutex_clear(&p->lock);
    g_free(p->path);
    g_free(p->dir);
    g_free(p);
}

/* Requests (not responses, not bus messages) matching; -1 is any. */
static unsigned peer_count(Peer *p, int dev, int id)
{
    unsigned n = 0;

    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->log->len; i++) {
        VirtIOMSG *m = &g_array_index(p->log, RecMsg, i).msg;

        if (!(m->type & (VIRTIO_MSG_TYPE_RESPONSE | VIRTIO_MSG_TYPE_BUS)) &&
            (dev < 0 || m->dev_num == dev) && (id < 0 || m->id == id)) {
            n++;
        }
    }
    g_mutex_unlock(&p->lock);
    return n;
}

static unsigned peer_count_status(Peer *p, int dev, uint32_t status)
{
    unsigned n = 0;

    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->log->len; i++) {
        VirtIOMSG *m = &g_array_index(p->log, RecMsg, i).msg;

        if (m->type == 0 && m->id == VIRTIO_MSG_SET_DEVICE_STATUS &&
            m->dev_num == dev && m->status.status == status) {
            n++;
        }
    }
    g_mutex_unlock(&p->lock);
    return n;
}

static void peer_set_mode(Peer *p, unsigned dev, PeerMode mode,
                          unsigned delay_ms)
{
    g_mutex_lock(&p->lock);
    p->dev[dev].mode = mode;
    p->dev[dev].delay_ms = delay_ms;
    g_mutex_unlock(&p->lock);
}

static void peer_arm(Peer *p, uint16_t dev, uint8_t id, uint32_t status,
                     PeerMode mode, unsigned delay_ms)
{
    g_mutex_lock(&p->lock);
    p->trig = (PeerTrigger) {
        .armed = true, .dev_num = dev, .id = id, .status = status,
        .mode = mode, .delay_ms = delay_ms,
    };
    g_mutex_unlock(&p->lock);
}

static bool peer_inject(Peer *p, VirtIOMSG *m)
{
    bool ok;

    g_mutex_lock(&p->lock);
    ok = peer_send_locked(p, m);
    g_mutex_unlock(&p->lock);
    return ok;
}

static bool peer_is_closed(Peer *p)
{
    bool closed;

    g_mutex_lock(&p->lock);
    closed = p->closed;
    g_mutex_unlock(&p->lock);
    return closed;
}

/* The driver side under test: -M virt with proxies on virtio-mmio */

typedef struct DrvTest {
    Peer *peer;
    QTestState *qts;
    unsigned timeout_ms;
    int64_t boot_us;
    int64_t last_us;
    int64_t max_us;
    GThread *prober;
    bool prober_stop;
    int64_t probe_max_us;
    unsigned probes;
} DrvTest;

static void drv_start_opts(DrvTest *t, Peer *p, unsigned ndevs,
                           unsigned timeout_ms, unsigned connect_ms,
                           const char *chardev_opts)
{
    g_autoptr(GString) cmd = g_string_new(NULL);
    int64_t t0;

    memset(t, 0, sizeof(*t));
    t->peer = p;
    t->timeout_ms = timeout_ms;
    g_string_append_printf(cmd, "-M virt -m 128M -nic none "
                           "-global virtio-mmio.force-legacy=false "
                           "-chardev socket,id=c0,path=%s%s "
                           "-device virtio-msg-bus-linux-user,name=lu,"
                           "chardev=c0,connect-timeout-ms=%u",
                           p->path, chardev_opts, connect_ms);
    for (unsigned i = 0; i < ndevs; i++) {
        g_string_append_printf(cmd, " -device virtio-msg-proxy-driver,"
                               "id=p%u,bus=virtio-mmio-bus.%u,msg-bus=lu,"
                               "dev-num=%u,timeout-ms=%u",
                               i, i, i, timeout_ms);
    }
    peer_start(p);
    t0 = now_us();
    t->qts = qtest_init(cmd->str);
    t->boot_us = now_us() - t0;
    g_test_message("QEMU up in %.1f ms", MS(t->boot_us));
}

static void drv_start(DrvTest *t, Peer *p, unsigned ndevs,
                      unsigned timeout_ms, unsigned connect_ms)
{
    drv_start_opts(t, p, ndevs, timeout_ms, connect_ms, "");
}

static void drv_stop(DrvTest *t)
{
    qtest_quit(t->qts);
    peer_free(t->peer);
}

static void note_access(DrvTest *t, int64_t t0)
{
    t->last_us = now_us() - t0;
    t->max_us = MAX(t->max_us, t->last_us);
    /*
     * Like a guest, leave the main loop a moment after a slow access:
     * back to back, qtest would feed it the next access before the QMP
     * command waiting since the previous one, and the prober would
     * measure both.
     */
    if (t->prober && t->last_us > 10 * 1000) {
        g_usleep(10 * 1000);
    }
}

static uint32_t mmio_rd(DrvTest *t, unsigned n, uint64_t reg)
{
    int64_t t0 = now_us();
    uint32_t v = qtest_readl(t->qts, MMIO(n) + reg);

    note_access(t, t0);
    return v;
}

static void mmio_wr(DrvTest *t, unsigned n, uint64_t reg, uint32_t v)
{
    int64_t t0 = now_us();

    qtest_writel(t->qts, MMIO(n) + reg, v);
    note_access(t, t0);
}

static uint8_t cfg_rd(DrvTest *t, unsigned n, unsigned off)
{
    int64_t t0 = now_us();
    uint8_t v = qtest_readb(t->qts, MMIO(n) + R_CONFIG + off);

    note_access(t, t0);
    return v;
}

static void cfg_wr(DrvTest *t, unsigned n, unsigned off, uint8_t v)
{
    int64_t t0 = now_us();

    qtest_writeb(t->qts, MMIO(n) + R_CONFIG + off, v);
    note_access(t, t0);
}

/* Ring addresses the guest gives queue @q of transport @n */
static uint64_t ring_addr(unsigned n, unsigned q, unsigned part)
{
    return RAM_BASE + 0x100000 + n * 0x40000ULL + q * 0x1000ULL +
           part * 0x400ULL;
}

static void guest_features(DrvTest *t, unsigned n, uint64_t f)
{
    mmio_wr(t, n, R_DRV_FEAT_SEL, 0);
    mmio_wr(t, n, R_DRV_FEAT, f);
    mmio_wr(t, n, R_DRV_FEAT_SEL, 1);
    mmio_wr(t, n, R_DRV_FEAT, f >> 32);
}

static uint64_t guest_dev_features(DrvTest *t, unsigned n)
{
    uint64_t f;

    mmio_wr(t, n, R_DEV_FEAT_SEL, 0);
    f = mmio_rd(t, n, R_DEV_FEAT);
    mmio_wr(t, n, R_DEV_FEAT_SEL, 1);
    return f | (uint64_t)mmio_rd(t, n, R_DEV_FEAT) << 32;
}

static void guest_queue(DrvTest *t, unsigned n, unsigned q)
{
    mmio_wr(t, n, R_QUEUE_SEL, q);
    g_assert_cmpuint(mmio_rd(t, n, R_QUEUE_NUM_MAX), >=, QUEUE_SIZE);
    mmio_wr(t, n, R_QUEUE_NUM, QUEUE_SIZE);
    mmio_wr(t, n, R_QUEUE_DESC, ring_addr(n, q, 0));
    mmio_wr(t, n, R_QUEUE_DESC + 4, ring_addr(n, q, 0) >> 32);
    mmio_wr(t, n, R_QUEUE_DRIVER, ring_addr(n, q, 1));
    mmio_wr(t, n, R_QUEUE_DRIVER + 4, ring_addr(n, q, 1) >> 32);
    mmio_wr(t, n, R_QUEUE_DEVICE, ring_addr(n, q, 2));
    mmio_wr(t, n, R_QUEUE_DEVICE + 4, ring_addr(n, q, 2) >> 32);
    mmio_wr(t, n, R_QUEUE_READY, 1);
}

/* The guest driver's start of device @n with @nq queues; all must work. */
static void guest_bring_up(DrvTest *t, unsigned n, unsigned nq)
{
    mmio_wr(t, n, R_STATUS, S_ACK);
    mmio_wr(t, n, R_STATUS, S_ACK | S_DRIVER);
    g_assert_cmphex(guest_dev_features(t, n) & VERSION_1, ==, VERSION_1);
    guest_features(t, n, VERSION_1);
    mmio_wr(t, n, R_STATUS, S_UP_TO_FEAT);
    g_assert_cmphex(mmio_rd(t, n, R_STATUS), ==, S_UP_TO_FEAT);
    for (unsigned q = 0; q < nq; q++) {
        guest_queue(t, n, q);
    }
    mmio_wr(t, n, R_STATUS, S_ALL_OK);
    g_assert_cmphex(mmio_rd(t, n, R_STATUS), ==, S_ALL_OK);
}

/* The fake device got the guest's queues and features. */
static void check_remote_queues(Peer *p, unsigned n, unsigned nq)
{
    g_mutex_lock(&p->lock);
    g_assert_cmphex(p->dev[n].driver_features, ==, VERSION_1);
    g_assert_cmphex(p->dev[n].status, ==, S_ALL_OK);
    for (unsigned q = 0; q < nq; q++) {
        FakeVq *vq = &p->dev[n].vq[q];

        g_assert_cmpuint(vq->size, ==, QUEUE_SIZE);
        g_assert_cmphex(vq->desc, ==, ring_addr(n, q, 0));
        g_assert_cmphex(vq->driver, ==, ring_addr(n, q, 1));
        g_assert_cmphex(vq->device, ==, ring_addr(n, q, 2));
    }
    g_mutex_unlock(&p->lock);
}

static QDict *virtio_status(QTestState *qts, unsigned n)
{
    g_autofree char *path = g_strdup_printf("/machine/peripheral/p%u", n);

    return qtest_qmp_assert_success_ref(qts,
        "{ 'execute': 'x-query-virtio-status', 'arguments': { 'path': %s } }",
        path);
}

static bool dev_broken(DrvTest *t, unsigned n)
{
    QDict *st = virtio_status(t->qts, n);
    bool broken = qdict_get_bool(st, "broken");

    qobject_unref(st);
    return broken;
}

static void qmp_alive(QTestState *qts)
{
    QDict *ret = qtest_qmp_assert_success_ref(qts,
                                              "{ 'execute': 'query-status' }");

    g_assert(qdict_haskey(ret, "status"));
    qobject_unref(ret);
}

/* A QMP client that measures how long the main loop leaves it waiting */
static gpointer prober_run(gpointer opaque)
{
    DrvTest *t = opaque;

    while (!qatomic_read(&t->prober_stop)) {
        int64_t t0 = now_us();
        QDict *rsp = qtest_qmp(t->qts, "{ 'execute': 'query-status' }");
        int64_t dt = now_us() - t0;

        g_assert(qdict_haskey(rsp, "return"));
        qobject_unref(rsp);
        t->probe_max_us = MAX(t->probe_max_us, dt);
        t->probes++;
        g_usleep(2000);
    }
    return NULL;
}

static void prober_start(DrvTest *t)
{
    t->prober_stop = false;
    t->probe_max_us = 0;
    t->probes = 0;
    t->prober = g_thread_new("qmp-prober", prober_run, t);
}

static int64_t prober_stop(DrvTest *t)
{
    qatomic_set(&t->prober_stop, true);
    g_thread_join(t->prober);
    t->prober = NULL;
    g_test_message("longest QMP query-status round trip: %.1f ms "
                   "(%u probes)", MS(t->probe_max_us), t->probes);
    return t->probe_max_us;
}

static Peer *peer_with_rngs(unsigned ndevs)
{
    Peer *p = peer_new(SETUP_GOOD);

    for (unsigned i = 0; i < ndevs; i++) {
        fake_init(&p->dev[i], 4, 0, 1);
    }
    return p;
}

/* Driver side: cases */

/* A well-behaved peer: identity, bring-up, config, kicks and interrupts. */
static void test_driver_basic(void)
{
    Peer *p = peer_with_rngs(2);
    DrvTest t;
    VirtIOMSG ev;
    unsigned info;

    fake_init(&p->dev[1], 3, 60, 2);
    drv_start(&t, p, 2, TIMEOUT_MS, CONNECT_MS);

    /* virtio-mmio-bus.N is the transport at MMIO(N) */
    for (unsigned i = 0; i < MMIO_COUNT; i++) {
        g_assert_cmphex(mmio_rd(&t, i, R_MAGIC), ==, 0x74726976);
        g_assert_cmpuint(mmio_rd(&t, i, R_DEVICE_ID), ==,
                         i == 0 ? 4 : i == 1 ? 3 : 0);
    }
    g_assert_cmpuint(mmio_rd(&t, 0, R_VERSION), ==, 2);
    g_assert_false(dev_broken(&t, 0));
    g_assert_false(dev_broken(&t, 1));

    /* identity: DEVICE_INFO once, then the rest */
    info = peer_count(p, 1, VIRTIO_MSG_DEVICE_INFO);
    g_assert_cmpuint(info, ==, 1);
    g_assert_cmpuint(peer_count(p, 1, VIRTIO_MSG_GET_FEATURES), >=, 1);
    g_assert_cmpuint(peer_count(p, 1, VIRTIO_MSG_GET_VQUEUE), >=, 2);
    g_assert_cmpuint(peer_count(p, 1, VIRTIO_MSG_GET_CONFIG), >=, 2);
    g_mutex_lock(&p->lock);
    g_assert_cmpuint(g_array_index(p->log, RecMsg, 0).msg.id, ==,
                     VIRTIO_MSG_DEVICE_INFO);
    for (guint i = 0; i < p->log->len; i++) {
        VirtIOMSG *m = &g_array_index(p->log, RecMsg, i).msg;

        if (m->id == VIRTIO_MSG_GET_CONFIG && m->type == 0) {
            g_assert_cmpuint(m->config.length, <=, CONFIG_CHUNK);
        }
    }
    g_mutex_unlock(&p->lock);

    /* virtio-mmio shows VIRTQUEUE_MAX_SIZE for any queue that exists */
    mmio_wr(&t, 1, R_QUEUE_SEL, 1);
    g_assert_cmpuint(mmio_rd(&t, 1, R_QUEUE_NUM_MAX), !=, 0);
    mmio_wr(&t, 1, R_QUEUE_SEL, 2);
    g_assert_cmpuint(mmio_rd(&t, 1, R_QUEUE_NUM_MAX), ==, 0);
    for (unsigned i = 0; i < 60; i++) {
        g_assert_cmpuint(cfg_rd(&t, 1, i), ==, (uint8_t)(i * 7 + 1));
    }

    guest_bring_up(&t, 0, 1);
    check_remote_queues(p, 0, 1);
    guest_bring_up(&t, 1, 2);
    check_remote_queues(p, 1, 2);
    g_test_message("longest access with a good peer: %.1f ms",
                   MS(t.max_us));
    g_assert_cmpint(t.max_us, <, STALL_MAX_US);

    /*
     * A kick is an EVENT_AVAIL, EVENT_USED is the queue interrupt.  The
     * virtio core may kick each queue once when DRIVER_OK starts it: let
     * those arrive first.
     */
    g_usleep(100 * 1000);
    info = peer_count(p, 1, VIRTIO_MSG_EVENT_AVAIL);
    g_test_message("EVENT_AVAIL before any kick: %u", info);
    mmio_wr(&t, 1, R_QUEUE_NOTIFY, 1);
    for (int i = 0; i < 500 &&
         peer_count(p, 1, VIRTIO_MSG_EVENT_AVAIL) == info; i++) {
        g_usleep(1000);
    }
    g_usleep(20 * 1000);
    g_assert_cmpuint(peer_count(p, 1, VIRTIO_MSG_EVENT_AVAIL), ==, info + 1);
    g_mutex_lock(&p->lock);
    g_assert_cmpuint(g_array_index(p->log, RecMsg, p->log->len - 1)
                     .msg.vq.index, ==, 1);
    g_mutex_unlock(&p->lock);
    g_assert_cmphex(mmio_rd(&t, 1, R_INT_STATUS), ==, 0);
    virtio_msg_init(&ev, 0, VIRTIO_MSG_EVENT_USED, 1, 0);
    ev.vq.index = 1;
    g_assert_true(peer_inject(p, &ev));
    for (int i = 0; i < 500 && !(mmio_rd(&t, 1, R_INT_STATUS) & 1); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(mmio_rd(&t, 1, R_INT_STATUS), ==, 1);
    mmio_wr(&t, 1, R_INT_ACK, 1);
    g_assert_cmphex(mmio_rd(&t, 0, R_INT_STATUS), ==, 0);

    /* a guest reset reaches the device */
    mmio_wr(&t, 0, R_STATUS, 0);
    g_assert_cmpuint(peer_count_status(p, 0, 0), >=, 1);
    g_mutex_lock(&p->lock);
    g_assert_cmphex(p->dev[0].status, ==, 0);
    g_mutex_unlock(&p->lock);
    g_assert_false(dev_broken(&t, 0));
    qmp_alive(t.qts);
    drv_stop(&t);
}

/*
 * A peer answering each request just under the timeout: the identity
 * (several requests sent together) and every guest access, including
 * DRIVER_OK of a device with 64 queues, stay within one timeout.
 */
static void test_driver_just_under_timeout(void)
{
    const unsigned delay = TIMEOUT_MS * 3 / 4;
    Peer *p = peer_new(SETUP_GOOD);
    int64_t probe;
    DrvTest t;

    /* the largest identity: 64 queues, 4 KiB of config (94 chunks) */
    fake_init(&p->dev[0], 4, 4096, 64);
    p->dev[0].delay_ms = delay;
    drv_start(&t, p, 1, TIMEOUT_MS, CONNECT_MS);
    g_assert_false(dev_broken(&t, 0));

    prober_start(&t);
    guest_bring_up(&t, 0, 64);
    for (unsigned i = 0; i < 256; i += 15) {
        g_assert_cmpuint(cfg_rd(&t, 0, i), ==, (uint8_t)(i * 7 + 1));
    }
    probe = prober_stop(&t);
    g_test_message("answers %u ms late, timeout %u ms: longest access "
                   "%.1f ms, limit %.1f ms", delay, TIMEOUT_MS,
                   MS(t.max_us), MS(STALL_MAX_US));
    g_assert_cmpint(t.max_us, <, STALL_MAX_US);
    g_assert_cmpint(probe, <, STALL_MAX_US);
    /* the slowest access waited for the peer, once */
    g_assert_cmpint(t.max_us, >=, delay * 1000LL * 9 / 10);
    g_assert_false(dev_broken(&t, 0));
    check_remote_queues(p, 0, 64);
    g_assert_cmpuint(peer_count(p, 0, VIRTIO_MSG_SET_VQUEUE), ==, 64);
    qmp_alive(t.qts);
    drv_stop(&t);
}

typedef struct SilentCase {
    const char *name;
    uint8_t id;
    uint32_t status;
    bool identity;      /* the step happens before the guest runs */
} SilentCase;

static const SilentCase silent_cases[] = {
    { "device-info", VIRTIO_MSG_DEVICE_INFO, 0, true },
    { "get-features", VIRTIO_MSG_GET_FEATURES, 0, true },
    { "get-vqueue", VIRTIO_MSG_GET_VQUEUE, 0, true },
    { "get-config", VIRTIO_MSG_GET_CONFIG, 0, true },
    { "set-features", VIRTIO_MSG_SET_FEATURES, 0, false },
    { "features-ok", VIRTIO_MSG_SET_DEVICE_STATUS, S_FEATURES_OK, false },
    { "set-vqueue", VIRTIO_MSG_SET_VQUEUE, 0, false },
    { "driver-ok", VIRTIO_MSG_SET_DEVICE_STATUS, S_DRIVER_OK, false },
};

/* Accesses to failed device @n that must not wait for anybody */
static void check_quick_accesses(DrvTest *t, unsigned n)
{
    int64_t slowest = 0;

    mmio_wr(t, n, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    slowest = MAX(slowest, t->last_us);
    mmio_wr(t, n, R_STATUS, S_ALL_OK);
    slowest = MAX(slowest, t->last_us);
    mmio_wr(t, n, R_QUEUE_NOTIFY, 0);
    slowest = MAX(slowest, t->last_us);
    cfg_rd(t, n, 0);
    slowest = MAX(slowest, t->last_us);
    cfg_wr(t, n, 1, 0x55);
    slowest = MAX(slowest, t->last_us);
    mmio_rd(t, n, R_STATUS);
    slowest = MAX(slowest, t->last_us);
    g_test_message("slowest access to the failed device: %.1f ms",
                   MS(slowest));
    g_assert_cmpint(slowest, <, QUICK_US);
}

static void test_driver_silent(const void *opaque)
{
    const SilentCase *c = opaque;
    Peer *p = peer_with_rngs(2);
    int64_t t_trigger = 0, probe;
    unsigned before;
    uint32_t status;
    DrvTest t;

    fake_init(&p->dev[0], 4, 8, 2);
    if (c->identity) {
        peer_arm(p, 0, c->id, c->status, PEER_SILENT, 0);
    }
    drv_start(&t, p, 2, TIMEOUT_MS, CONNECT_MS);

    if (c->identity) {
        g_assert_cmpuint(peer_count(p, 0, c->id), >=, 1);
        g_assert_true(dev_broken(&t, 0));
        check_quick_accesses(&t, 0);
    } else {
        g_assert_false(dev_broken(&t, 0));
        peer_arm(p, 0, c->id, c->status, PEER_SILENT, 0);
        prober_start(&t);
        mmio_wr(&t, 0, R_STATUS, S_ACK);
        mmio_wr(&t, 0, R_STATUS, S_ACK | S_DRIVER);
        guest_features(&t, 0, VERSION_1);
        mmio_wr(&t, 0, R_STATUS, S_UP_TO_FEAT);
        if (c->id == VIRTIO_MSG_SET_FEATURES ||
            (c->id == VIRTIO_MSG_SET_DEVICE_STATUS &&
             c->status == S_FEATURES_OK)) {
            t_trigger = t.last_us;
            g_assert_cmphex(mmio_rd(&t, 0, R_STATUS) & S_FEATURES_OK, ==,
                            0);
        } else {
            g_assert_cmphex(mmio_rd(&t, 0, R_STATUS), ==, S_UP_TO_FEAT);
        }
        guest_queue(&t, 0, 0);
        guest_queue(&t, 0, 1);
        mmio_wr(&t, 0, R_STATUS, S_ALL_OK);
        if (!t_trigger) {
            t_trigger = t.last_us;
        }
        g_assert_cmpuint(peer_count(p, 0, c->id), >=, 1);
        g_test_message("the access that met silence took %.1f ms, the "
                       "longest %.1f ms", MS(t_trigger), MS(t.max_us));
        g_assert_cmpint(t_trigger, >=, TIMEOUT_MS * 1000LL * 9 / 10);
        g_assert_cmpint(t.max_us, <, STALL_MAX_US);
        check_quick_accesses(&t, 0);
        probe = prober_stop(&t);
        g_assert_cmpint(probe, <, STALL_MAX_US);
        g_assert_true(dev_broken(&t, 0));
        /* the guest negotiated VERSION_1: it is told to reset */
        status = mmio_rd(&t, 0, R_STATUS);
        g_test_message("status after the failure: 0x%x", status);
        g_assert_cmphex(status & S_NEEDS_RESET, ==, S_NEEDS_RESET);
    }

    /* the other device is not affected */
    g_assert_false(dev_broken(&t, 1));
    guest_bring_up(&t, 1, 1);
    check_remote_queues(p, 1, 1);

    /* a reset the peer ignores waits one timeout at most */
    before = peer_count_status(p, 0, 0);
    mmio_wr(&t, 0, R_STATUS, 0);
    g_test_message("reset with a silent peer: %.1f ms", MS(t.last_us));
    g_assert_cmpint(t.last_us, <, STALL_MAX_US);
    g_assert_true(dev_broken(&t, 0));

    peer_set_mode(p, 0, PEER_ANSWER, 0);
    if (c->identity) {
        /* without an identity, the device stays failed */
        mmio_wr(&t, 0, R_STATUS, 0);
        g_assert_cmpint(t.last_us, <, STALL_MAX_US);
        g_assert_true(dev_broken(&t, 0));
        qtest_qmp_assert_success(t.qts, "{ 'execute': 'system_reset' }");
        qtest_qmp_eventwait(t.qts, "RESET");
        g_assert_true(dev_broken(&t, 0));
        g_assert_false(dev_broken(&t, 1));
    } else {
        /* once the peer answers, a reset recovers the device */
        g_assert_cmpuint(peer_count_status(p, 0, 0), ==, before + 1);
        mmio_wr(&t, 0, R_STATUS, 0);
        g_assert_cmpuint(peer_count_status(p, 0, 0), ==, before + 2);
        g_assert_false(dev_broken(&t, 0));
        g_assert_cmphex(mmio_rd(&t, 0, R_STATUS), ==, 0);
        guest_bring_up(&t, 0, 2);
        check_remote_queues(p, 0, 2);
        g_assert_false(dev_broken(&t, 0));
    }
    qmp_alive(t.qts);
    drv_stop(&t);
}

/*
 * Answers that come after the timeout: the access fails once, and the
 * stale answers, arriving while the guest recovers the device, are not
 * taken for answers to the new requests.
 */
static void test_driver_late_answers(void)
{
    Peer *p = peer_with_rngs(1);
    DrvTest t;

    fake_init(&p->dev[0], 4, 8, 2);
    drv_start(&t, p, 1, TIMEOUT_MS, CONNECT_MS);
    peer_arm(p, 0, VIRTIO_MSG_SET_FEATURES, 0, PEER_ANSWER,
             TIMEOUT_MS + 150);
    mmio_wr(&t, 0, R_STATUS, S_ACK);
    mmio_wr(&t, 0, R_STATUS, S_ACK | S_DRIVER);
    guest_features(&t, 0, VERSION_1);
    mmio_wr(&t, 0, R_STATUS, S_UP_TO_FEAT);
    g_test_message("late peer: FEATURES_OK took %.1f ms", MS(t.last_us));
    g_assert_cmpint(t.last_us, <, STALL_MAX_US);
    g_assert_true(dev_broken(&t, 0));

    /* recover while the stale answers arrive */
    peer_set_mode(p, 0, PEER_ANSWER, 0);
    mmio_wr(&t, 0, R_STATUS, 0);
    g_assert_false(dev_broken(&t, 0));
    for (int round = 0; round < 4; round++) {
        mmio_wr(&t, 0, R_STATUS, 0);
        mmio_wr(&t, 0, R_STATUS, S_ACK);
        g_usleep(30 * 1000);
        mmio_wr(&t, 0, R_STATUS, S_ACK | S_DRIVER);
        guest_features(&t, 0, VERSION_1);
        mmio_wr(&t, 0, R_STATUS, S_UP_TO_FEAT);
        g_assert_cmphex(mmio_rd(&t, 0, R_STATUS), ==, S_UP_TO_FEAT);
        g_usleep(30 * 1000);
        guest_queue(&t, 0, 0);
        guest_queue(&t, 0, 1);
        mmio_wr(&t, 0, R_STATUS, S_ALL_OK);
        g_assert_cmphex(mmio_rd(&t, 0, R_STATUS), ==, S_ALL_OK);
        check_remote_queues(p, 0, 2);
    }
    g_mutex_lock(&p->lock);
    g_assert_true(g_queue_is_empty(&p->delayed));
    g_mutex_unlock(&p->lock);
    g_assert_false(dev_broken(&t, 0));
    qmp_alive(t.qts);
    drv_stop(&t);
}

/* The peer closes the socket while QEMU waits for an answer */
static void test_driver_close(const void *opaque)
{
    bool identity = GPOINTER_TO_INT(opaque);
    const unsigned timeout = 3000;
    Peer *p = peer_with_rngs(2);
    DrvTest t;

    if (identity) {
        peer_arm(p, 1, VIRTIO_MSG_DEVICE_INFO, 0, PEER_CLOSE, 0);
    }
    drv_start(&t, p, 2, timeout, CONNECT_MS);
    if (identity) {
        g_assert_true(peer_is_closed(p));
        g_assert_cmpint(t.boot_us, <, timeout * 1000LL / 2);
    } else {
        g_assert_false(dev_broken(&t, 0));
        g_assert_false(dev_broken(&t, 1));
        peer_arm(p, 0, VIRTIO_MSG_SET_DEVICE_STATUS, S_FEATURES_OK,
                 PEER_CLOSE, 0);
        mmio_wr(&t, 0, R_STATUS, S_ACK);
        mmio_wr(&t, 0, R_STATUS, S_ACK | S_DRIVER);
        guest_features(&t, 0, VERSION_1);
        mmio_wr(&t, 0, R_STATUS, S_UP_TO_FEAT);
        g_test_message("peer closed during FEATURES_OK: the access took "
                       "%.1f ms (timeout %u ms)", MS(t.last_us), timeout);
        g_assert_true(peer_is_closed(p));
        g_assert_cmpint(t.last_us, <, 300 * 1000);
        g_assert_cmphex(mmio_rd(&t, 0, R_STATUS) & S_NEEDS_RESET, ==,
                        S_NEEDS_RESET);
        g_assert_true(dev_broken(&t, 0));
    }
    /* the link is gone: every proxy is failed, and quick */
    for (int i = 0; i < 100 && !dev_broken(&t, 1); i++) {
        g_usleep(1000);
    }
    g_assert_true(dev_broken(&t, 1));
    check_quick_accesses(&t, 0);
    check_quick_accesses(&t, 1);
    mmio_wr(&t, 1, R_STATUS, 0);
    g_assert_cmpint(t.last_us, <, QUICK_US);
    qmp_alive(t.qts);
    drv_stop(&t);
}

static void send_event_device(Peer *p, uint16_t dev, uint16_t state)
{
    VirtIOMSG ev;

    virtio_msg_init(&ev, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_EVENT_DEVICE,
                    0, 0);
    ev.event_device.dev_num = dev;
    ev.event_device.state = state;
    g_assert_true(peer_inject(p, &ev));
}

/* EVENT_DEVICE REMOVED fails that device at once, and only that one */
static void test_driver_event_device(void)
{
    Peer *p = peer_with_rngs(2);
    int64_t t0, waited;
    DrvTest t;

    drv_start(&t, p, 2, TIMEOUT_MS, CONNECT_MS);
    guest_bring_up(&t, 0, 1);
    guest_bring_up(&t, 1, 1);

    /* events for nobody, or saying nothing new, change nothing */
    send_event_device(p, MAX_DEVS - 1, VIRTIO_MSG_DEVICE_REMOVED);
    send_event_device(p, 0xffff, VIRTIO_MSG_DEVICE_REMOVED);
    send_event_device(p, 1, VIRTIO_MSG_DEVICE_READY);
    send_event_device(p, 1, 0x7777);
    g_usleep(50 * 1000);
    g_assert_false(dev_broken(&t, 0));
    g_assert_false(dev_broken(&t, 1));
    g_assert_cmphex(mmio_rd(&t, 1, R_STATUS), ==, S_ALL_OK);

    t0 = now_us();
    send_event_device(p, 0, VIRTIO_MSG_DEVICE_REMOVED);
    while (!dev_broken(&t, 0) && now_us() - t0 < 2 * G_USEC_PER_SEC) {
        g_usleep(1000);
    }
    waited = now_us() - t0;
    g_test_message("EVENT_DEVICE REMOVED: device failed after %.1f ms",
                   MS(waited));
    g_assert_true(dev_broken(&t, 0));
    g_assert_cmpint(waited, <, 100 * 1000);
    g_assert_cmphex(mmio_rd(&t, 0, R_STATUS) & S_NEEDS_RESET, ==,
                    S_NEEDS_RESET);
    check_quick_accesses(&t, 0);
    g_assert_false(dev_broken(&t, 1));
    g_assert_cmphex(mmio_rd(&t, 1, R_STATUS), ==, S_ALL_OK);
    qmp_alive(t.qts);
    drv_stop(&t);
}

/* Config reads come from a copy that EVENT_CONFIG refreshes */
static void test_driver_config(void)
{
    Peer *p = peer_with_rngs(1);
    unsigned gets, sets;
    uint32_t gen;
    VirtIOMSG ev;
    DrvTest t;
    int64_t t0;
    bool fresh = false;

    fake_init(&p->dev[0], 4, 60, 1);
    drv_start(&t, p, 1, TIMEOUT_MS, CONNECT_MS);
    gets = peer_count(p, 0, VIRTIO_MSG_GET_CONFIG);
    g_assert_cmpuint(gets, >=, DIV_ROUND_UP(60, CONFIG_CHUNK));
    guest_bring_up(&t, 0, 1);
    gen = mmio_rd(&t, 0, R_CONFIG_GEN);
    /* a device reset (at machine reset too) may read the config again */
    cfg_rd(&t, 0, 0);
    g_test_message("GET_CONFIG: %u at start, %u after the first read",
                   gets, peer_count(p, 0, VIRTIO_MSG_GET_CONFIG));
    gets = peer_count(p, 0, VIRTIO_MSG_GET_CONFIG);
    for (int round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 60; i++) {
            g_assert_cmpuint(cfg_rd(&t, 0, i), ==, (uint8_t)(i * 7 + 1));
        }
    }
    g_assert_cmpuint(peer_count(p, 0, VIRTIO_MSG_GET_CONFIG), ==, gets);

    /* a write goes to the device and is read back */
    sets = peer_count(p, 0, VIRTIO_MSG_SET_CONFIG);
    cfg_wr(&t, 0, 5, 0xee);
    g_assert_cmpuint(peer_count(p, 0, VIRTIO_MSG_SET_CONFIG), ==, sets + 1);
    g_mutex_lock(&p->lock);
    g_assert_cmphex(p->dev[0].config[5], ==, 0xee);
    g_mutex_unlock(&p->lock);
    g_assert_cmphex(cfg_rd(&t, 0, 5), ==, 0xee);

    /* the device changes its config and says so */
    g_mutex_lock(&p->lock);
    for (unsigned i = 0; i < 60; i++) {
        p->dev[0].config[i] = 0xa0 ^ i;
    }
    p->dev[0].generation++;
    virtio_msg_init(&ev, 0, VIRTIO_MSG_EVENT_CONFIG, 0, 0);
    ev.config.status = p->dev[0].status;
    ev.config.generation = p->dev[0].generation;
    ev.config.offset = 0;
    ev.config.length = 0;
    g_mutex_unlock(&p->lock);
    g_assert_true(peer_inject(p, &ev));
    t0 = now_us();
    while (!fresh && now_us() - t0 < G_USEC_PER_SEC) {
        fresh = true;
        for (unsigned i = 0; i < 60 && fresh; i++) {
            fresh = cfg_rd(&t, 0, i) == (0xa0 ^ i);
        }
    }
    g_test_message("config refreshed %.1f ms after EVENT_CONFIG",
                   MS(now_us() - t0));
    g_assert_true(fresh);
    g_assert_cmphex(mmio_rd(&t, 0, R_INT_STATUS) & 2, ==, 2);
    g_assert_cmpuint(mmio_rd(&t, 0, R_CONFIG_GEN), !=, gen);
    gets = peer_count(p, 0, VIRTIO_MSG_GET_CONFIG);
    for (unsigned i = 0; i < 60; i++) {
        g_assert_cmpuint(cfg_rd(&t, 0, i), ==, 0xa0 ^ i);
    }
    g_assert_cmpuint(peer_count(p, 0, VIRTIO_MSG_GET_CONFIG), ==, gets);
    g_assert_false(dev_broken(&t, 0));

    /* an EVENT_CONFIG saying DEVICE_NEEDS_RESET fails the device */
    ev.config.status |= S_NEEDS_RESET;
    g_assert_true(peer_inject(p, &ev));
    t0 = now_us();
    while (!dev_broken(&t, 0) && now_us() - t0 < G_USEC_PER_SEC) {
        g_usleep(1000);
    }
    g_assert_true(dev_broken(&t, 0));
    g_assert_cmphex(mmio_rd(&t, 0, R_STATUS) & S_NEEDS_RESET, ==,
                    S_NEEDS_RESET);
    qmp_alive(t.qts);
    drv_stop(&t);
}

/* Claims beyond the limits, and wrong answers, leave failed devices */
static void test_driver_bad_claims(void)
{
    Peer *p = peer_new(SETUP_GOOD);
    DrvTest t;

    fake_init(&p->dev[0], 4, 4097, 1);
    fake_init(&p->dev[1], 4, 0, 65);
    fake_init(&p->dev[2], 4, 0, 1);
    p->dev[2].queue_max = 0;
    fake_init(&p->dev[3], 4, 0, 1);
    p->dev[3].queue_max = 1025;
    fake_init(&p->dev[4], 4, 0, 1);
    p->dev[4].quirk = QUIRK_FEATURES_SHORT;
    fake_init(&p->dev[5], 4, 60, 1);
    p->dev[5].quirk = QUIRK_CONFIG_RANGE;
    fake_init(&p->dev[6], 4, 0, 2);
    p->dev[6].quirk = QUIRK_VQ_INDEX;
    /* the limits themselves are fine */
    fake_init(&p->dev[7], 4, 4096, 64);
    p->dev[7].queue_max = 1024;
    fake_init(&p->dev[8], 4, 0, 1);
    p->dev[8].quirk = QUIRK_NEEDS_RESET;
    fake_init(&p->dev[9], 4, 0, 1);
    p->dev[9].quirk = QUIRK_REFUSE_FEATURES;
    drv_start(&t, p, 10, TIMEOUT_MS, CONNECT_MS);

    for (unsigned n = 0; n < 7; n++) {
        g_assert_true(dev_broken(&t, n));
        check_quick_accesses(&t, n);
    }
    g_assert_false(dev_broken(&t, 7));
    guest_bring_up(&t, 7, 64);
    check_remote_queues(p, 7, 64);
    for (unsigned i = 0; i < 256; i += 51) {
        g_assert_cmpuint(cfg_rd(&t, 7, i), ==, (uint8_t)(i * 7 + 1));
    }

    /* a status answer with DEVICE_NEEDS_RESET fails the device */
    g_assert_false(dev_broken(&t, 8));
    mmio_wr(&t, 8, R_STATUS, S_ACK);
    g_assert_true(dev_broken(&t, 8));
    check_quick_accesses(&t, 8);

    /* features the device refuses: FEATURES_OK does not stick */
    mmio_wr(&t, 9, R_STATUS, S_ACK);
    mmio_wr(&t, 9, R_STATUS, S_ACK | S_DRIVER);
    guest_features(&t, 9, VERSION_1);
    mmio_wr(&t, 9, R_STATUS, S_UP_TO_FEAT);
    g_assert_cmphex(mmio_rd(&t, 9, R_STATUS) & S_FEATURES_OK, ==, 0);
    g_assert_false(dev_broken(&t, 9));
    g_assert_cmpint(t.max_us, <, STALL_MAX_US);
    qmp_alive(t.qts);
    drv_stop(&t);
}

/* A peer that stops consuming: kicks stay quick, bounded, no hang */
/*
 * The guest gives a queue more entries than the remote device takes (QEMU
 * offers 1024 whatever the device says): the proxy fails the device at
 * DRIVER_OK at once, without sending the queue or waiting for a timeout.
 */
static void test_driver_queue_too_large(void)
{
    Peer *p = peer_with_rngs(1);
    DrvTest t;
    int64_t t0;

    p->dev[0].queue_max = QUEUE_SIZE / 2;
    drv_start(&t, p, 1, TIMEOUT_MS, CONNECT_MS);
    mmio_wr(&t, 0, R_STATUS, S_ACK);
    mmio_wr(&t, 0, R_STATUS, S_ACK | S_DRIVER);
    guest_features(&t, 0, VERSION_1);
    mmio_wr(&t, 0, R_STATUS, S_UP_TO_FEAT);
    g_assert_cmphex(mmio_rd(&t, 0, R_STATUS), ==, S_UP_TO_FEAT);
    guest_queue(&t, 0, 0);
    t0 = now_us();
    mmio_wr(&t, 0, R_STATUS, S_ALL_OK);
    g_assert_cmpint(now_us() - t0, <, TIMEOUT_MS * 1000 / 2);
    g_assert_true(dev_broken(&t, 0));
    g_assert_cmpuint(peer_count(p, 0, VIRTIO_MSG_SET_VQUEUE), ==, 0);
    drv_stop(&t);
}

static void test_driver_no_consume(void)
{
    Peer *p = peer_with_rngs(2);
    unsigned mark, sent, prev = 0;
    int64_t kick_max = 0, t0;
    DrvTest t;

    drv_start(&t, p, 2, TIMEOUT_MS, CONNECT_MS);
    guest_bring_up(&t, 0, 1);
    guest_bring_up(&t, 1, 1);
    g_mutex_lock(&p->lock);
    p->no_consume = true;
    mark = p->log->len;
    g_mutex_unlock(&p->lock);

    for (unsigned i = 0; i < 2000; i++) {
        mmio_wr(&t, 0, R_QUEUE_NOTIFY, 0);
        kick_max = MAX(kick_max, t.last_us);
    }
    g_test_message("2000 kicks to a peer that does not consume: slowest "
                   "%.1f ms", MS(kick_max));
    g_assert_cmpint(kick_max, <, QUICK_US);
    /* a reset now cannot be confirmed */
    mmio_wr(&t, 1, R_STATUS, 0);
    g_test_message("reset behind a full queue: %.1f ms", MS(t.last_us));
    g_assert_cmpint(t.last_us, <, STALL_MAX_US);
    g_assert_true(dev_broken(&t, 1));
    qmp_alive(t.qts);

    g_mutex_lock(&p->lock);
    p->no_consume = false;
    g_mutex_unlock(&p->lock);
    t0 = now_us();
    do {
        g_usleep(50 * 1000);
        g_mutex_lock(&p->lock);
        sent = p->log->len - mark;
        g_mutex_unlock(&p->lock);
    } while (sent != prev && (prev = sent, now_us() - t0 < 5e6));
    g_test_message("QEMU sent %u messages meanwhile (queue %u, backlog "
                   "512)", sent, LU_CAP - 1);
    g_assert_cmpuint(sent, <=, LU_CAP - 1 + 512);
    g_assert_cmpuint(sent, >=, LU_CAP - 1);

    /* the peer is back: reset, and both devices work */
    mmio_wr(&t, 1, R_STATUS, 0);
    g_assert_false(dev_broken(&t, 1));
    guest_bring_up(&t, 1, 1);
    check_remote_queues(p, 1, 1);
    g_assert_false(dev_broken(&t, 0));
    g_assert_cmphex(mmio_rd(&t, 0, R_STATUS), ==, S_ALL_OK);
    qmp_alive(t.qts);
    drv_stop(&t);
}

/* With reconnect-ms, a new connection and a guest reset recover */
static void test_driver_reconnect(void)
{
    Peer *p = peer_with_rngs(1);
    int64_t t0;
    DrvTest t;
    bool up;

    drv_start_opts(&t, p, 1, TIMEOUT_MS, CONNECT_MS, ",reconnect-ms=100");
    guest_bring_up(&t, 0, 1);
    g_mutex_lock(&p->lock);
    p->want_close = true;
    g_mutex_unlock(&p->lock);
    t0 = now_us();
    while (!dev_broken(&t, 0) && now_us() - t0 < G_USEC_PER_SEC) {
        g_usleep(1000);
    }
    g_test_message("link loss seen after %.1f ms", MS(now_us() - t0));
    g_assert_true(dev_broken(&t, 0));
    g_assert_cmphex(mmio_rd(&t, 0, R_STATUS) & S_NEEDS_RESET, ==,
                    S_NEEDS_RESET);
    check_quick_accesses(&t, 0);
    do {
        g_usleep(10 * 1000);
        g_mutex_lock(&p->lock);
        up = p->connections == 2 && p->up;
        g_mutex_unlock(&p->lock);
    } while (!up && now_us() - t0 < 5 * G_USEC_PER_SEC);
    g_test_message("reconnected after %.1f ms", MS(now_us() - t0));
    g_assert_true(up);
    /* give the link a moment to be up on QEMU's side too */
    g_usleep(50 * 1000);
    mmio_wr(&t, 0, R_STATUS, 0);
    g_assert_false(dev_broken(&t, 0));
    guest_bring_up(&t, 0, 1);
    check_remote_queues(p, 0, 1);
    qmp_alive(t.qts);
    drv_stop(&t);
}

/* Junk around every answer, and a flood of events, change nothing */
static void test_driver_garbage(void)
{
    Peer *p = peer_with_rngs(2);
    VirtIOMSG ev;
    DrvTest t;

    p->garbage = true;
    fake_init(&p->dev[0], 4, 50, 2);
    drv_start(&t, p, 2, TIMEOUT_MS, CONNECT_MS);
    g_assert_false(dev_broken(&t, 0));
    g_assert_false(dev_broken(&t, 1));
    guest_bring_up(&t, 0, 2);
    check_remote_queues(p, 0, 2);
    for (unsigned i = 0; i < 50; i++) {
        g_assert_cmpuint(cfg_rd(&t, 0, i), ==, (uint8_t)(i * 7 + 1));
    }
    for (unsigned i = 0; i < 300; i++) {
        virtio_msg_init(&ev, 0, VIRTIO_MSG_EVENT_USED, i % 3, 0);
        ev.vq.index = i % 2 ? 0 : 0x7fffffff - i;
        g_assert_true(peer_inject(p, &ev));
        if (i % 100 == 0) {
            virtio_msg_init(&ev, 0, VIRTIO_MSG_EVENT_CONFIG, 5, 0);
            ev.config.generation = i;
            ev.config.length = 0;
            g_assert_true(peer_inject(p, &ev));
        }
        if (i % 64 == 63) {
            g_usleep(5 * 1000);
        }
    }
    qmp_alive(t.qts);
    g_assert_false(dev_broken(&t, 0));
    guest_bring_up(&t, 1, 1);
    check_remote_queues(p, 1, 1);
    g_assert_cmphex(mmio_rd(&t, 0, R_INT_STATUS) & 1, ==, 1);
    g_test_message("longest access: %.1f ms", MS(t.max_us));
    g_assert_cmpint(t.max_us, <, STALL_MAX_US);
    drv_stop(&t);
}

/* Queue indices that change under the reader never hurt QEMU */
static void test_driver_hostile_indices(void)
{
    Peer *p = peer_with_rngs(1);
    int64_t t0, probe, op_max[4] = { };
    unsigned scrambles;
    DrvTest t;

    drv_start(&t, p, 1, TIMEOUT_MS, CONNECT_MS);
    guest_bring_up(&t, 0, 1);

    g_mutex_lock(&p->lock);
    p->hostile = true;
    g_mutex_unlock(&p->lock);
    prober_start(&t);
    t0 = now_us();
    while (now_us() - t0 < 600 * 1000) {
        mmio_wr(&t, 0, R_STATUS, 0);
        op_max[0] = MAX(op_max[0], t.last_us);
        mmio_wr(&t, 0, R_STATUS, S_ACK);
        op_max[1] = MAX(op_max[1], t.last_us);
        mmio_wr(&t, 0, R_QUEUE_NOTIFY, 0);
        op_max[2] = MAX(op_max[2], t.last_us);
        cfg_wr(&t, 0, 0, 1);
        op_max[3] = MAX(op_max[3], t.last_us);
    }
    probe = prober_stop(&t);
    g_test_message("longest reset %.1f ms, ACK %.1f ms, kick %.1f ms, "
                   "config write %.1f ms", MS(op_max[0]), MS(op_max[1]),
                   MS(op_max[2]), MS(op_max[3]));
    g_mutex_lock(&p->lock);
    p->hostile = false;
    p->resync = true;
    scrambles = p->scrambles;
    g_mutex_unlock(&p->lock);
    g_test_message("%u scrambles: longest access %.1f ms, QMP %.1f ms",
                   scrambles, MS(t.max_us), MS(probe));
    g_assert_cmpuint(scrambles, >, 10);
    g_assert_cmpint(t.max_us, <, STALL_MAX_US);
    g_assert_cmpint(probe, <, STALL_MAX_US);
    qmp_alive(t.qts);

    /* with sane indices again, a reset recovers the device */
    g_usleep(50 * 1000);
    g_mutex_lock(&p->lock);
    p->resync = true;
    g_mutex_unlock(&p->lock);
    g_usleep(50 * 1000);
    mmio_wr(&t, 0, R_STATUS, 0);
    if (dev_broken(&t, 0)) {
        mmio_wr(&t, 0, R_STATUS, 0);
    }
    g_assert_false(dev_broken(&t, 0));
    guest_bring_up(&t, 0, 1);
    check_remote_queues(p, 0, 1);
    drv_stop(&t);
}

typedef struct SetupCase {
    const char *name;
    SetupKind kind;
} SetupCase;

static const SetupCase setup_cases[] = {
    { "bad-magic", SETUP_BAD_MAGIC },
    { "bad-version", SETUP_BAD_VERSION },
    { "bad-queue-size", SETUP_BAD_QUEUE_SIZE },
    { "short", SETUP_SHORT },
    { "oversized", SETUP_LONG },
    { "no-fd", SETUP_NO_FD },
    { "two-fds", SETUP_TWO_FDS },
    { "unsealed", SETUP_UNSEALED },
    { "small-memfd", SETUP_SMALL_MEMFD },
};

/* A malformed setup: the link stays down, the proxies fail, QEMU lives */
static void test_driver_setup(const void *opaque)
{
    const SetupCase *c = opaque;
    Peer *p = peer_new(c->kind);
    DrvTest t;

    fake_init(&p->dev[0], 4, 0, 1);
    drv_start(&t, p, 1, TIMEOUT_MS, CONNECT_MS);
    /* QEMU waits for a usable link at most connect-timeout-ms */
    g_assert_cmpint(t.boot_us, <, (CONNECT_MS + 1000) * 1000LL);
    g_assert_true(dev_broken(&t, 0));
    qmp_alive(t.qts);
    check_quick_accesses(&t, 0);
    mmio_wr(&t, 0, R_STATUS, 0);
    g_assert_cmpint(t.last_us, <, QUICK_US);
    g_mutex_lock(&p->lock);
    /* QEMU never sent anything: no doorbell, nothing in the queue */
    g_assert_cmpuint(p->bytes_in, ==, 0);
    if (p->rx.mem) {
        g_assert_cmpuint(ring_index(&p->rx, LU_HEAD), ==, 0);
    }
    g_assert_cmpuint(p->log->len, ==, 0);
    g_mutex_unlock(&p->lock);
    qmp_alive(t.qts);
    drv_stop(&t);
}

/* Which remote device ids a proxy takes */
static bool device_id_accepted(uint32_t id)
{
    switch (id) {
    case 1: case 2: case 3: case 4: case 5: case 8: case 16: case 18:
    case 20:
        return true;
    case 23:
        return qtest_has_device("virtio-iommu-device");
    default:
        return false;
    }
}


static void check_device_ids(DrvTest *t, uint32_t base, unsigned *good)
{
    QDict *rsp = qtest_qmp(t->qts, "{ 'execute': 'x-query-virtio' }");
    QList *list = qdict_get_qlist(rsp, "return");
    bool seen[MAX_DEVS] = { };
    QListEntry *e;

    g_assert(list);
    QLIST_FOREACH_ENTRY(list, e) {
        QDict *d = qobject_to(QDict, qlist_entry_obj(e));
        unsigned n;

        g_assert(d && qdict_haskey(d, "name"));
        if (sscanf(qdict_get_str(d, "path"), "/machine/peripheral/p%u",
                   &n) == 1 && n < MAX_DEVS) {
            seen[n] = true;
        }
    }
    qobject_unref(rsp);
    *good = 0;
    for (unsigned n = 0; n < MAX_DEVS; n++) {
        uint32_t id = base + n;
        QDict *st;

        g_assert_true(seen[n]);
        st = virtio_status(t->qts, n);
        if (device_id_accepted(id)) {
            g_assert_false(qdict_get_bool(st, "broken"));
            g_assert_cmpint(qdict_get_int(st, "device-id"), ==, id);
            g_assert_cmpuint(mmio_rd(t, n, R_DEVICE_ID), ==, id);
            (*good)++;
        } else if (!qdict_get_bool(st, "broken")) {
            g_test_message("remote device id %u accepted", id);
            g_assert_not_reached();
        }
        qobject_unref(st);
    }
}

/* Every remote device id: only the known ones make a working proxy */
static void test_driver_device_ids(const void *opaque)
{
    uint32_t base = GPOINTER_TO_UINT(opaque);
    Peer *p = peer_new(SETUP_GOOD);
    unsigned good, again;
    DrvTest t;

    for (unsigned n = 0; n < MAX_DEVS; n++) {
        fake_init(&p->dev[n], base + n, 0, 1);
    }
    drv_start(&t, p, MAX_DEVS, TIMEOUT_MS, 1000);
    check_device_ids(&t, base, &good);
    qtest_qmp_assert_success(t.qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(t.qts, "RESET");
    check_device_ids(&t, base, &again);
    g_assert_cmpuint(good, ==, again);
    g_test_message("ids %u..%u: %u proxies work", base, base + MAX_DEVS - 1,
                   good);
    qmp_alive(t.qts);
    drv_stop(&t);
}

/*
 * Role B: the test is the driver side of a -M x-virtio-msg QEMU
 */

typedef struct DevLink {
    int fd;
    int memfd;
    uint8_t *shm;
    Ring tx;            /* the second queue: the connecting side sends */
    Ring rx;
    struct stat st;
    unsigned doorbells;
    bool eof;
} DevLink;

typedef struct DevTest {
    QTestState *qts;
    char *dir;
    char *path;
} DevTest;

static void dev_start(DevTest *t)
{
    t->dir = g_dir_make_tmp("vmsg-peer-XXXXXX", NULL);
    g_assert(t->dir);
    t->path = g_build_filename(t->dir, "sock", NULL);
    t->qts = qtest_initf("-M x-virtio-msg -m 64M "
                         "-object memory-backend-memfd,id=mem,size=64M,"
                         "share=on -machine memory-backend=mem "
                         "-chardev socket,id=c0,path=%s,server=on,wait=off "
                         "-device virtio-msg-bus-linux-user,name=lu,"
                         "chardev=c0 -device virtio-rng-device", t->path);
}

static void dev_stop(DevTest *t)
{
    qtest_quit(t->qts);
    unlink(t->path);
    rmdir(t->dir);
    g_free(t->path);
    g_free(t->dir);
}

static int unix_connect(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(addr.sun_path));
    memcpy(addr.sun_path, path, strlen(path) + 1);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==,
                    0);
    return fd;
}

static ssize_t recv_with_fds(int sock, void *buf, size_t len, int *fds,
                             int *nfds)
{
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int) * 8)];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };
    struct cmsghdr *c;
    ssize_t n;

    *nfds = 0;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            memcpy(fds + *nfds, CMSG_DATA(c), k * sizeof(int));
            *nfds += k;
        }
    }
    return n;
}

/* Connect, check the setup and map the queues it brings. */
static void link_connect(DevTest *t, DevLink *l)
{
    uint8_t setup[LU_SETUP_SIZE], expect[LU_SETUP_SIZE];
    int64_t t0 = now_us();
    unsigned total_fds = 0;
    size_t got = 0;

    memset(l, 0, sizeof(*l));
    l->memfd = -1;
    l->fd = unix_connect(t->path);
    while (got < LU_SETUP_SIZE) {
        struct pollfd pfd = { .fd = l->fd, .events = POLLIN };
        int fds[8], nfds;
        ssize_t n;

        g_assert_cmpint(now_us() - t0, <, 5 * G_USEC_PER_SEC);
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        n = recv_with_fds(l->fd, setup + got, LU_SETUP_SIZE - got, fds,
                          &nfds);
        g_assert_cmpint(n, >, 0);
        for (int i = 0; i < nfds; i++) {
            if (l->memfd < 0) {
                l->memfd = fds[i];
            } else {
                close(fds[i]);
            }
        }
        total_fds += nfds;
        got += n;
    }
    setup_fill(expect);
    g_assert_cmpmem(setup, LU_SETUP_SIZE, expect, LU_SETUP_SIZE);
    g_assert_cmpuint(total_fds, ==, 1);
    g_assert_cmphex(fcntl(l->memfd, F_GET_SEALS) & LU_SEALS, ==, LU_SEALS);
    g_assert_cmpint(fstat(l->memfd, &l->st), ==, 0);
    g_assert_cmpint(l->st.st_size, ==, LU_SHM_SIZE);
    /* the seals hold: the peer cannot shrink QEMU's mapping */
    g_assert_cmpint(ftruncate(l->memfd, LU_QUEUE_SIZE), ==, -1);
    g_assert_cmpint(fcntl(l->memfd, F_ADD_SEALS, F_SEAL_WRITE), ==, -1);
    l->shm = mmap(NULL, LU_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                  l->memfd, 0);
    g_assert(l->shm != MAP_FAILED);
    for (size_t i = 0; i < LU_SHM_SIZE; i++) {
        g_assert_cmpuint(l->shm[i], ==, 0);
    }
    l->rx.mem = l->shm;
    l->tx.mem = l->shm + LU_QUEUE_SIZE;
}

static void link_close(DevLink *l)
{
    if (l->shm) {
        munmap(l->shm, LU_SHM_SIZE);
    }
    if (l->memfd >= 0) {
        close(l->memfd);
    }
    if (l->fd >= 0) {
        close(l->fd);
    }
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    l->memfd = -1;
}

static void link_read_doorbells(DevLink *l, int timeout_ms)
{
    struct pollfd pfd = { .fd = l->fd, .events = POLLIN };
    uint8_t buf[256];
    ssize_t n;

    if (l->eof || poll(&pfd, 1, timeout_ms) <= 0) {
        return;
    }
    n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) {
        l->eof = true;
    }
    for (ssize_t i = 0; i < n; i++) {
        /* after the setup, only doorbells travel on the socket */
        g_assert_cmphex(buf[i], ==, LU_DOORBELL);
        l->doorbells++;
    }
}

static bool link_try_send(DevLink *l, VirtIOMSG *m)
{
    uint8_t buf[MSG_MAX];
    size_t len = msg_encode(m, buf);

    return ring_put(&l->tx, buf, len);
}

static void link_send(DevLink *l, VirtIOMSG *m)
{
    g_assert_true(link_try_send(l, m));
    doorbell(l->fd);
}

static bool link_recv(DevLink *l, VirtIOMSG *m, int timeout_ms)
{
    int64_t deadline = now_us() + timeout_ms * 1000LL;
    uint8_t buf[LU_SLOT];

    for (;;) {
        if (ring_get(&l->rx, buf)) {
            g_assert_cmpint(virtio_msg_decode(buf, sizeof(buf), MSG_MAX, m),
                            ==, VIRTIO_MSG_OK);
            return true;
        }
        if (now_us() >= deadline) {
            return false;
        }
        link_read_doorbells(l, 2);
    }
}

static void link_call(DevLink *l, VirtIOMSG *req, VirtIOMSG *resp)
{
    link_send(l, req);
    g_assert_true(link_recv(l, resp, 2000));
    g_assert_cmphex(resp->type, ==, req->type | VIRTIO_MSG_TYPE_RESPONSE);
    g_assert_cmphex(resp->id, ==, req->id);
    g_assert_cmpuint(resp->dev_num, ==, req->dev_num);
    g_assert_cmpuint(resp->token, ==, req->token);
}

static void ping_msg(VirtIOMSG *m, uint32_t data, uint16_t token)
{
    virtio_msg_init(m, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, token);
    m->ping.data = data;
}

static void link_ping(DevLink *l, uint32_t data)
{
    VirtIOMSG req, resp;

    ping_msg(&req, data, data & 0xffff);
    link_call(l, &req, &resp);
    g_assert_cmphex(resp.ping.data, ==, data);
}

static uint32_t link_status(DevLink *l, int set)
{
    VirtIOMSG req, resp;

    if (set < 0) {
        virtio_msg_init(&req, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 0x51);
    } else {
        virtio_msg_init(&req, 0, VIRTIO_MSG_SET_DEVICE_STATUS, 0, 0x52);
        req.status.status = set;
    }
    link_call(l, &req, &resp);
    return resp.status.status;
}

static void link_expect_silence(DevLink *l, int ms)
{
    VirtIOMSG m;

    if (link_recv(l, &m, ms)) {
        g_test_message("unexpected type 0x%x id 0x%x dev %u token %u",
                       m.type, m.id, m.dev_num, m.token);
        g_assert_not_reached();
    }
}

static void test_device_link(void)
{
    VirtIOMSG req, resp;
    DevLink l;
    DevTest t;

    dev_start(&t);
    link_connect(&t, &l);
    link_ping(&l, 0x12345678);
    virtio_msg_init(&req, 0, VIRTIO_MSG_DEVICE_INFO, 0, 9);
    link_call(&l, &req, &resp);
    g_assert_cmpuint(resp.info.device_id, ==, 4);
    g_assert_cmpuint(resp.info.num_feature_bits, ==, 64);
    g_assert_cmpuint(resp.info.max_virtqueues, ==, 1);
    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_GET_DEVICES, 0,
                    10);
    req.devices.offset = 0;
    req.devices.count = 32;
    link_call(&l, &req, &resp);
    g_assert_cmphex(resp.devices.bitmap[0] & 1, ==, 1);
    g_assert_cmpuint(link_status(&l, S_ACK | S_DRIVER), ==, S_ACK | S_DRIVER);
    g_assert_cmpuint(link_status(&l, -1), ==, S_ACK | S_DRIVER);
    link_expect_silence(&l, 50);
    g_assert_cmpuint(l.doorbells, >, 0);
    qmp_alive(t.qts);
    link_close(&l);
    dev_stop(&t);
}

/* Malformed requests are dropped without an answer */
static void test_device_garbage(void)
{
    GRand *rand = g_rand_new_with_seed(0xbad);
    uint8_t buf[LU_SLOT];
    VirtIOMSG m;
    DevLink l;
    DevTest t;

    dev_start(&t);
    link_connect(&t, &l);
    for (unsigned k = 0; k < 50; k++) {
        static const uint16_t sizes[] = { 0, 4, 7, 65, 300, 0xffff };

        for (unsigned i = 0; i < LU_SLOT; i += 4) {
            stl_le_p(buf + i, g_rand_int(rand));
        }
        stw_le_p(buf + 6, sizes[k % ARRAY_SIZE(sizes)]);
        g_assert_true(ring_put(&l.tx, buf, sizeof(buf)));
        memset(buf, 0, sizeof(buf));
        buf[1] = 0x3f;                      /* no such request */
        stw_le_p(buf + 6, 16);
        g_assert_true(ring_put(&l.tx, buf, sizeof(buf)));
        virtio_msg_init(&m, 0, VIRTIO_MSG_DEVICE_INFO, k % 2 ? 31 : 0xffff,
                        k);
        g_assert_true(link_try_send(&l, &m));
        virtio_msg_init(&m, VIRTIO_MSG_TYPE_RESPONSE,
                        VIRTIO_MSG_GET_DEVICE_STATUS, 0, k);
        m.status.status = 0xff;
        g_assert_true(link_try_send(&l, &m));
        virtio_msg_init(&m, 0, VIRTIO_MSG_GET_CONFIG, 0, k);
        m.config.offset = 0x7ffffff0;       /* rng has no config */
        m.config.length = 8;
        g_assert_true(link_try_send(&l, &m));
        virtio_msg_init(&m, 0, VIRTIO_MSG_GET_VQUEUE, 0, k);
        m.vq.index = 0x80000000 + k;
        g_assert_true(link_try_send(&l, &m));
        virtio_msg_init(&m, VIRTIO_MSG_TYPE_BUS,
                        VIRTIO_MSG_BUS_EVENT_DEVICE, 0, 0);
        m.event_device.dev_num = 0;
        m.event_device.state = VIRTIO_MSG_DEVICE_REMOVED;
        g_assert_true(link_try_send(&l, &m));
        ping_msg(&m, 0xabc00000 + k, k);
        g_assert_true(link_try_send(&l, &m));
        doorbell(l.fd);
    }
    for (unsigned k = 0; k < 50; k++) {
        g_assert_true(link_recv(&l, &m, 2000));
        if (m.id != VIRTIO_MSG_BUS_PING) {
            g_test_message("answer to garbage: type 0x%x id 0x%x dev %u",
                           m.type, m.id, m.dev_num);
        }
        g_assert_cmphex(m.type, ==,
                        VIRTIO_MSG_TYPE_BUS | VIRTIO_MSG_TYPE_RESPONSE);
        g_assert_cmphex(m.id, ==, VIRTIO_MSG_BUS_PING);
        g_assert_cmphex(m.ping.data, ==, 0xabc00000 + k);
        g_assert_cmpuint(m.token, ==, k);
    }
    link_expect_silence(&l, 100);
    g_assert_cmpuint(link_status(&l, -1), ==, 0);
    qmp_alive(t.qts);
    link_close(&l);
    g_rand_free(rand);
    dev_stop(&t);
}

/* A driver that hands the device rings it cannot reach, or nonsense */
static void test_device_bad_rings(void)
{
    static const uint64_t addrs[] = {
        0xfffffffffffff000ULL, 0x1000, 0x40000000ULL + 64 * 1024 * 1024 - 8,
    };
    VirtIOMSG req, resp;
    DevLink l;
    DevTest t;

    dev_start(&t);
    link_connect(&t, &l);
    for (unsigned round = 0; round < ARRAY_SIZE(addrs) + 1; round++) {
        g_assert_cmpuint(link_status(&l, 0), ==, 0);
        g_assert_cmpuint(link_status(&l, S_ACK | S_DRIVER), ==,
                         S_ACK | S_DRIVER);
        virtio_msg_init(&req, 0, VIRTIO_MSG_SET_FEATURES, 0, 0x60);
        req.features.index = 0;
        req.features.num = 2;
        req.features.blocks[0] = 0;
        req.features.blocks[1] = VERSION_1 >> 32;
        link_call(&l, &req, &resp);
        g_assert_cmpuint(link_status(&l, S_UP_TO_FEAT), ==, S_UP_TO_FEAT);
        virtio_msg_init(&req, 0, VIRTIO_MSG_SET_VQUEUE, 0, 0x61);
        memset(&req.vq, 0, sizeof(req.vq));
        req.vq.index = 0;
        if (round < ARRAY_SIZE(addrs)) {
            req.vq.size = 8;
            req.vq.desc = addrs[round];
            req.vq.driver = addrs[round] + 0x100;
            req.vq.device = addrs[round] + 0x200;
        } else {
            /* in RAM, but a size no virtqueue has */
            req.vq.size = 0xffff;
            req.vq.desc = 0x40100000;
            req.vq.driver = 0x40200000;
            req.vq.device = 0x40300000;
        }
        link_send(&l, &req);
        /* it may refuse the queue (no answer) or take it */
        link_recv(&l, &resp, 200);
        virtio_msg_init(&req, 0, VIRTIO_MSG_SET_DEVICE_STATUS, 0, 0x62);
        req.status.status = S_ALL_OK;
        link_send(&l, &req);
        for (unsigned k = 0; k < 20; k++) {
            virtio_msg_init(&req, 0, VIRTIO_MSG_EVENT_AVAIL, 0, 0);
            req.vq.index = 0;
            req.vq.next_offset = 0;
            link_send(&l, &req);
        }
        /* whatever it says about the device, the bus still answers */
        ping_msg(&req, 0x8000 + round, 0x63);
        link_send(&l, &req);
        for (;;) {
            g_assert_true(link_recv(&l, &resp, 2000));
            if (resp.type & VIRTIO_MSG_TYPE_BUS) {
                break;
            }
            g_test_message("round %u: type 0x%x id 0x%x status 0x%x",
                           round, resp.type, resp.id, resp.status.status);
        }
        g_assert_cmphex(resp.id, ==, VIRTIO_MSG_BUS_PING);
        g_assert_cmphex(resp.ping.data, ==, 0x8000 + round);
        link_expect_silence(&l, 50);
        qmp_alive(t.qts);
    }
    g_assert_cmpuint(link_status(&l, 0), ==, 0);
    link_close(&l);
    dev_stop(&t);
}

/* A new connection: new memory, clean queues, devices reset */
static void test_device_reconnect(void)
{
    DevLink l1, l2;
    uint8_t *old;
    DevTest t;

    dev_start(&t);
    link_connect(&t, &l1);
    g_assert_cmpuint(link_status(&l1, S_ACK | S_DRIVER), ==,
                     S_ACK | S_DRIVER);
    link_ping(&l1, 1);
    /* keep the old memory to see that the new one is another */
    old = l1.shm;
    l1.shm = NULL;
    close(l1.fd);
    l1.fd = -1;
    link_connect(&t, &l2);
    g_assert_true(l2.st.st_ino != l1.st.st_ino);
    memset(old + LU_SLOTS, 0x77, 64);
    g_assert_cmpuint(l2.shm[LU_SLOTS], ==, 0);
    g_assert_cmpuint(link_status(&l2, -1), ==, 0);
    link_ping(&l2, 2);
    link_expect_silence(&l2, 50);
    munmap(old, LU_SHM_SIZE);
    link_close(&l1);
    link_close(&l2);
    qmp_alive(t.qts);
    dev_stop(&t);
}

/*
 * Send PINGs without consuming the answers until QEMU stops taking them.
 * Returns how many QEMU took; *sent is how many were queued.
 */
static unsigned flood_until_stalled(DevLink *l, unsigned total,
                                    unsigned *sent)
{
    int64_t t0 = now_us(), changed = t0;
    unsigned consumed = 0;
    VirtIOMSG m;

    *sent = 0;
    for (;;) {
        unsigned c;
        bool more = false;

        while (*sent < total) {
            ping_msg(&m, 0xf1000000 + *sent, *sent);
            if (!link_try_send(l, &m)) {
                break;
            }
            (*sent)++;
            more = true;
        }
        if (more) {
            doorbell(l->fd);
        }
        c = *sent - ring_used(&l->tx);
        if (c != consumed) {
            consumed = c;
            changed = now_us();
        }
        if (now_us() - changed > 300 * 1000) {
            return consumed;
        }
        g_assert_cmpint(now_us() - t0, <, 20 * G_USEC_PER_SEC);
        link_read_doorbells(l, 1);
    }
}

/* Read every answer, in order, queueing the rest of the PINGs */
static void drain_pings(DevLink *l, unsigned total, unsigned sent)
{
    int64_t t0 = now_us();
    unsigned next = 0;
    VirtIOMSG m;

    while (next < total) {
        bool more = false;

        while (sent < total) {
            ping_msg(&m, 0xf1000000 + sent, sent);
            if (!link_try_send(l, &m)) {
                break;
            }
            sent++;
            more = true;
        }
        if (more) {
            doorbell(l->fd);
        }
        if (link_recv(l, &m, 10)) {
            g_assert_cmphex(m.id, ==, VIRTIO_MSG_BUS_PING);
            g_assert_cmphex(m.ping.data, ==, 0xf1000000 + next);
            g_assert_cmpuint(m.token, ==, next & 0xffff);
            next++;
        }
        g_assert_cmpint(now_us() - t0, <, 20 * G_USEC_PER_SEC);
    }
}

/* A peer that does not consume: bounded, and nothing is lost */
static void test_device_flood(void)
{
    const unsigned total = 5000;
    unsigned sent, consumed;
    DevLink l;
    DevTest t;

    dev_start(&t);
    link_connect(&t, &l);
    consumed = flood_until_stalled(&l, total, &sent);
    g_test_message("QEMU took %u requests (queue %u slots, backlog 64) "
                   "and stopped; %u queued", consumed, LU_CAP - 1, sent);
    g_assert_cmpuint(ring_used(&l.rx), ==, LU_CAP - 1);
    g_assert_cmpuint(consumed, >=, LU_CAP - 1);
    g_assert_cmpuint(consumed, <=, LU_CAP - 1 + 64);
    g_assert_cmpuint(sent, <, total);
    qmp_alive(t.qts);
    drain_pings(&l, total, sent);
    link_expect_silence(&l, 100);
    link_ping(&l, 0x600d);
    qmp_alive(t.qts);
    link_close(&l);
    dev_stop(&t);
}

/* What waited for the old connection never reaches the new one */
static void test_device_close_backlog(void)
{
    unsigned sent, consumed;
    DevLink l;
    DevTest t;

    dev_start(&t);
    link_connect(&t, &l);
    consumed = flood_until_stalled(&l, 3000, &sent);
    g_assert_cmpuint(consumed, >=, LU_CAP - 1);
    link_close(&l);
    link_connect(&t, &l);
    g_assert_cmpuint(ring_used(&l.rx), ==, 0);
    link_ping(&l, 0xc0ffee);
    link_expect_silence(&l, 200);
    link_ping(&l, 0xc0ffef);
    qmp_alive(t.qts);
    link_close(&l);
    dev_stop(&t);
}

/* A connection whose setup fails leaves the link down; the next works */
static void test_device_failed_setup(void)
{
    DevLink l;
    DevTest t;
    int fd;

    dev_start(&t);

    /* QEMU cannot write the setup */
    fd = unix_connect(t.path);
    g_assert_cmpint(shutdown(fd, SHUT_RD), ==, 0);
    g_usleep(200 * 1000);
    qmp_alive(t.qts);
    close(fd);
    link_connect(&t, &l);
    link_ping(&l, 1);
    g_assert_cmpuint(link_status(&l, S_ACK), ==, S_ACK);
    link_close(&l);

    /* gone before QEMU even accepted */
    fd = unix_connect(t.path);
    close(fd);
    link_connect(&t, &l);
    g_assert_cmpuint(link_status(&l, -1), ==, 0);
    link_ping(&l, 2);
    link_close(&l);

    /* gone right after the setup */
    link_connect(&t, &l);
    link_close(&l);
    link_connect(&t, &l);
    link_ping(&l, 3);
    qmp_alive(t.qts);
    link_close(&l);
    dev_stop(&t);
}

/* Indices that make no sense, changing under the reader */
static void test_device_hostile_indices(void)
{
    static const uint32_t odd[] = {
        0xffffffff, LU_CAP, LU_CAP + 1, 0x80000000, 0x7fffffff, 1023, 0,
    };
    GRand *rand = g_rand_new_with_seed(0xfeed);
    int64_t t0 = now_us();
    unsigned i = 0;
    VirtIOMSG m;
    DevLink l;
    DevTest t;
    bool same;

    dev_start(&t);
    link_connect(&t, &l);
    while (now_us() - t0 < 300 * 1000) {
        uint32_t n = g_rand_int_range(rand, 0, LU_CAP);

        ring_set_index(&l.tx, LU_HEAD, i % 2 ? g_rand_int(rand)
                                             : odd[i % ARRAY_SIZE(odd)]);
        ring_set_index(&l.rx, LU_TAIL, i % 3 ? g_rand_int(rand)
                                             : odd[i % ARRAY_SIZE(odd)]);
        for (unsigned k = 0; k < LU_SLOT; k += 4) {
            stl_le_p(l.tx.mem + LU_SLOTS + n * LU_SLOT + k,
                     g_rand_int(rand));
        }
        doorbell(l.fd);
        link_read_doorbells(&l, 0);
        g_usleep(200);
        i++;
    }
    qmp_alive(t.qts);

    /* sane again: whatever QEMU makes of it, it must not break */
    for (int k = 0; k < 3; k++) {
        ring_set_index(&l.tx, LU_HEAD, ring_index(&l.tx, LU_TAIL) % LU_CAP);
        ring_set_index(&l.rx, LU_TAIL, ring_index(&l.rx, LU_HEAD) % LU_CAP);
        g_usleep(30 * 1000);
    }
    ping_msg(&m, 0x5a5a, 0x5a5a);
    same = link_try_send(&l, &m);
    if (same) {
        doorbell(l.fd);
        same = link_recv(&l, &m, 500) && m.id == VIRTIO_MSG_BUS_PING;
    }
    g_test_message("%u scrambles; same connection answers afterwards: %d",
                   i, same);
    qmp_alive(t.qts);
    link_close(&l);
    link_connect(&t, &l);
    link_ping(&l, 0x5a5b);
    g_assert_cmpuint(link_status(&l, -1), ==, 0);
    link_close(&l);
    g_rand_free(rand);
    dev_stop(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("virtio-msg-peer/driver/basic", test_driver_basic);
    qtest_add_func("virtio-msg-peer/driver/just-under-timeout",
                   test_driver_just_under_timeout);
    for (unsigned i = 0; i < ARRAY_SIZE(silent_cases); i++) {
        g_autofree char *name = g_strdup_printf(
            "virtio-msg-peer/driver/silent/%s", silent_cases[i].name);

        qtest_add_data_func(name, &silent_cases[i], test_driver_silent);
    }
    qtest_add_func("virtio-msg-peer/driver/late-answers",
                   test_driver_late_answers);
    qtest_add_data_func("virtio-msg-peer/driver/close/identity",
                        GINT_TO_POINTER(true), test_driver_close);
    qtest_add_data_func("virtio-msg-peer/driver/close/guest",
                        GINT_TO_POINTER(false), test_driver_close);
    qtest_add_func("virtio-msg-peer/driver/event-device-removed",
                   test_driver_event_device);
    qtest_add_func("virtio-msg-peer/driver/config", test_driver_config);
    qtest_add_func("virtio-msg-peer/driver/garbage", test_driver_garbage);
    qtest_add_func("virtio-msg-peer/driver/bad-claims",
                   test_driver_bad_claims);
    qtest_add_func("virtio-msg-peer/driver/queue-too-large",
                   test_driver_queue_too_large);
    qtest_add_func("virtio-msg-peer/driver/no-consume",
                   test_driver_no_consume);
    qtest_add_func("virtio-msg-peer/driver/reconnect",
                   test_driver_reconnect);
    qtest_add_func("virtio-msg-peer/driver/hostile-indices",
                   test_driver_hostile_indices);
    for (unsigned i = 0; i < ARRAY_SIZE(setup_cases); i++) {
        g_autofree char *name = g_strdup_printf(
            "virtio-msg-peer/driver/setup/%s", setup_cases[i].name);

        qtest_add_data_func(name, &setup_cases[i], test_driver_setup);
    }
    qtest_add_data_func("virtio-msg-peer/driver/device-ids/0-31",
                        GUINT_TO_POINTER(0), test_driver_device_ids);
    qtest_add_data_func("virtio-msg-peer/driver/device-ids/32-63",
                        GUINT_TO_POINTER(32), test_driver_device_ids);

    qtest_add_func("virtio-msg-peer/device/link", test_device_link);
    qtest_add_func("virtio-msg-peer/device/garbage", test_device_garbage);
    qtest_add_func("virtio-msg-peer/device/bad-rings", test_device_bad_rings);
    qtest_add_func("virtio-msg-peer/device/reconnect", test_device_reconnect);
    qtest_add_func("virtio-msg-peer/device/flood", test_device_flood);
    qtest_add_func("virtio-msg-peer/device/close-with-backlog",
                   test_device_close_backlog);
    qtest_add_func("virtio-msg-peer/device/failed-setup",
                   test_device_failed_setup);
    qtest_add_func("virtio-msg-peer/device/hostile-indices",
                   test_device_hostile_indices);
    return g_test_run();
}
