/*
 * virtio-msg-rng-peer: a virtio-rng device outside QEMU, over virtio-msg
 *
 * The device side of a virtio-msg-bus-linux-user link: it serves one
 * virtio entropy device (virtio device id 4) at dev_num 0 to a driver-side
 * QEMU whose virtio-msg-proxy-driver(-pci) stands for it.  The virtqueue
 * lives in the driver side's guest RAM, which this program maps from the
 * file of its shared memory backend.  Everything QEMU sends, and
 * everything in guest RAM, is untrusted: sizes, indices and addresses are
 * checked before use, and a broken ring only fails the device
 * (DEVICE_NEEDS_RESET), never this program.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memfd_create, accept4 */
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "virtio-msg-link.h"

/* virtio-msg header (8 bytes); the payload starts at P(0) */
#define HDR_SIZE        8
#define P(n)            (HDR_SIZE + (n))
#define T_RESPONSE      0x01
#define T_BUS           0x02

/* Transport messages */
#define DEVICE_INFO         0x02
#define GET_FEATURES        0x03
#define SET_FEATURES        0x04
#define GET_CONFIG          0x05
#define SET_CONFIG          0x06
#define GET_DEVICE_STATUS   0x07
#define SET_DEVICE_STATUS   0x08
#define GET_VQUEUE          0x09
#define SET_VQUEUE          0x0a
#define RESET_VQUEUE        0x0b
#define GET_SHM             0x0c
#define EVENT_CONFIG        0x40
#define EVENT_AVAIL         0x41
#define EVENT_USED          0x42
/* Bus messages */
#define BUS_GET_DEVICES     0x02
#define BUS_PING            0x03

/* virtio */
#define VIRTIO_ID_RNG       4
#define S_FEATURES_OK       0x08
#define S_DRIVER_OK         0x04
#define S_NEEDS_RESET       0x40
#define F_VERSION_1         (1ULL << 32)
#define DEVICE_FEATURES     F_VERSION_1
#define QUEUE_MAX           1024
#define VRING_DESC_F_NEXT   1
#define VRING_DESC_F_WRITE  2
#define VRING_AVAIL_F_NO_INTERRUPT 1

/* Replies waiting for room in the transmit queue */
#define OUTBOX_LEN          8

struct vq {
    uint32_t size;                  /* 0: not set up */
    uint64_t desc, avail, used;     /* guest physical addresses */
    uint16_t last_avail;
    uint16_t used_idx;
};

struct rng {
    uint32_t status;
    uint64_t driver_features;
    struct vq vq;

    /* guest RAM */
    uint8_t *ram;
    uint64_t ram_base, ram_size;

    struct vmsg_link link;
    uint8_t outbox[OUTBOX_LEN][VMSG_LINK_MSG_SIZE];
    unsigned out_head, out_count;
    bool verbose;
};

/* Little-endian accessors for messages and guest memory */

static uint16_t ld16(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, 2);
    return le16toh(v);
}

static uint32_t ld32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return le32toh(v);
}

static uint64_t ld64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return le64toh(v);
}

static void st16(uint8_t *p, uint16_t v)
{
    v = htole16(v);
    memcpy(p, &v, 2);
}

static void st32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}

static void st64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

static void dump(const char *dir, const uint8_t *m)
{
    unsigned size = ld16(m + 6);

    printf("%s type 0x%02x id 0x%02x dev %u token %u size %u:", dir, m[0],
           m[1], ld16(m + 2), ld16(m + 4), size);
    for (unsigned i = HDR_SIZE; i < size && i < VMSG_LINK_MSG_SIZE; i++) {
        printf(" %02x", m[i]);
    }
    printf("\n");
    fflush(stdout);
}

/*
 * Guest RAM: the host address of [gpa, gpa + len), or NULL if any of it
 * is outside the RAM this program mapped.
 */
static uint8_t *gpa(struct rng *r, uint64_t addr, uint64_t len)
{
    uint64_t off = addr - r->ram_base;

    if (addr < r->ram_base || off > r->ram_size || len > r->ram_size - off) {
        return NULL;
    }
    return r->ram + off;
}

/* Sending: through the outbox, so a full queue never loses a message */

/* Move what fits into the transmit queue; true if anything was sent */
static bool flush_outbox(struct rng *r)
{
    bool sent = false;

    while (r->out_count &&
           vmsg_link_send(&r->link, r->outbox[r->out_head],
                          ld16(r->outbox[r->out_head] + 6))) {
        r->out_head = (r->out_head + 1) % OUTBOX_LEN;
        r->out_count--;
        sent = true;
    }
    return sent;
}

/* Queue @m (its header complete, msg_size at offset 6) for sending */
static void send_msg(struct rng *r, uint8_t *m)
{
    if (r->verbose) {
        dump("->", m);
    }
    if (r->out_count == OUTBOX_LEN) {
        /* cannot happen: we read requests only with room for replies */
        fprintf(stderr, "outbox full, message dropped\n");
        return;
    }
    memcpy(r->outbox[(r->out_head + r->out_count) % OUTBOX_LEN], m,
           VMSG_LINK_MSG_SIZE);
    r->out_count++;
}

/* Start a message in @m: header only, payload zeroed */
static void msg_init(uint8_t *m, uint8_t type, uint8_t id, uint16_t dev,
                     uint16_t token, uint16_t size)
{
    memset(m, 0, VMSG_LINK_MSG_SIZE);
    m[0] = type;
    m[1] = id;
    st16(m + 2, dev);
    st16(m + 4, token);
    st16(m + 6, size);
}

/* The response to @req, with @size bytes in all */
static void resp_init(uint8_t *m, const uint8_t *req, uint16_t size)
{
    msg_init(m, (req[0] & T_BUS) | T_RESPONSE, req[1], ld16(req + 2),
             ld16(req + 4), size);
}

static void drop(struct rng *r, const uint8_t *m, const char *why)
{
    if (r->verbose) {
        printf("   dropped id 0x%02x: %s\n", m[1], why);
        fflush(stdout);
    }
}

/* The device */

static void device_reset(struct rng *r)
{
    r->status = 0;
    r->driver_features = 0;
    memset(&r->vq, 0, sizeof(r->vq));
}

/* Something is wrong with the driver's ring: fail until it resets us */
static void device_fail(struct rng *r, const char *why)
{
    uint8_t ev[VMSG_LINK_MSG_SIZE];

    fprintf(stderr, "virtio-rng: %s: device needs a reset\n", why);
    r->status |= S_NEEDS_RESET;
    msg_init(ev, 0, EVENT_CONFIG, 0, 0, P(16));
    st32(ev + P(0), r->status);
    send_msg(r, ev);
}

/* Fill @len bytes of guest memory at @p with random bytes */
static void fill_random(uint8_t *p, uint32_t len)
{
    while (len) {
        ssize_t n = getrandom(p, len > 256 ? 256 : len, 0);

        if (n <= 0) {
            continue;   /* EINTR; 256 bytes never block once seeded */
        }
        p += n;
        len -= n;
    }
}

/*
 * Serve the buffers the driver made available.  Returns false if the
 * ring is broken.
 */
static bool process_queue(struct rng *r)
{
    struct vq *vq = &r->vq;
    uint8_t *desc = gpa(r, vq->desc, 16ULL * vq->size);
    uint8_t *avail = gpa(r, vq->avail, 6 + 2ULL * vq->size);
    uint8_t *used = gpa(r, vq->used, 6 + 8ULL * vq->size);
    uint16_t avail_idx;
    bool any = false;

    if (!desc || !avail || !used) {
        device_fail(r, "virtqueue outside guest RAM");
        return false;
    }
    avail_idx = ld16(avail + 2);
    if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
        device_fail(r, "available index out of range");
        return false;
    }
    /* read the ring entries only after the index that covers them */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    while (vq->last_avail != avail_idx) {
        uint16_t head = ld16(avail + 4 + 2 * (vq->last_avail % vq->size));
        uint16_t i = head;
        uint32_t written = 0;

        for (unsigned n = 0;; n++) {
            const uint8_t *d;
            uint64_t addr;
            uint32_t len;
            uint16_t flags;
            uint8_t *buf;

            if (i >= vq->size || n >= vq->size) {
                device_fail(r, "bad descriptor index or loop");
                return false;
            }
            d = desc + 16 * (size_t)i;
            addr = ld64(d);
            len = ld32(d + 8);
            flags = ld16(d + 12);
            if (flags & VRING_DESC_F_WRITE) {
                buf = gpa(r, addr, len);
                if (!buf || len > UINT32_MAX - written) {
                    device_fail(r, "buffer outside guest RAM");
                    return false;
                }
                fill_random(buf, len);
                written += len;
            }
            /* device-readable buffers mean nothing to an entropy device */
            if (!(flags & VRING_DESC_F_NEXT)) {
                break;
            }
            i = ld16(d + 14);
        }
        st32(used + 4 + 8 * (vq->used_idx % vq->size), head);
        st32(used + 8 + 8 * (vq->used_idx % vq->size), written);
        vq->used_idx++;
        vq->last_avail++;
        /* the used element is visible before the index that covers it */
        __atomic_thread_fence(__ATOMIC_RELEASE);
        st16(used + 2, vq->used_idx);
        any = true;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (any && !(ld16(avail) & VRING_AVAIL_F_NO_INTERRUPT)) {
        uint8_t ev[VMSG_LINK_MSG_SIZE];

        msg_init(ev, 0, EVENT_USED, 0, 0, P(4));
        st32(ev + P(0), 0);
        send_msg(r, ev);
    }
    return true;
}

static void set_status(struct rng *r, uint32_t val)
{
    val &= 0xff;
    if (val == 0) {
        device_reset(r);
        return;
    }
    if ((val & S_FEATURES_OK) && !(r->status & S_FEATURES_OK) &&
        (!(r->driver_features & F_VERSION_1) ||
         (r->driver_features & ~DEVICE_FEATURES))) {
        val &= ~S_FEATURES_OK;  /* refused: no VERSION_1, or unknown bits */
    }
    /* the driver cannot clear NEEDS_RESET but by a reset */
    r->status = val | (r->status & S_NEEDS_RESET);
}

/* Minimum msg_size of each request a device accepts */
static unsigned request_min_size(uint8_t id)
{
    switch (id) {
    case DEVICE_INFO:
    case GET_DEVICE_STATUS:
        return P(0);
    case SET_DEVICE_STATUS:
    case GET_VQUEUE:
    case RESET_VQUEUE:
    case GET_SHM:
    case EVENT_AVAIL:
        return P(4);
    case GET_FEATURES:
    case SET_FEATURES:
    case GET_CONFIG:
        return P(8);
    case SET_CONFIG:
        return P(12);
    case SET_VQUEUE:
        return 44;      /* the legacy layout; the aligned one is 48 */
    default:
        return 0;
    }
}

static void handle_transport(struct rng *r, const uint8_t *m, unsigned size)
{
    uint8_t resp[VMSG_LINK_MSG_SIZE];
    uint8_t id = m[1];
    unsigned min = request_min_size(id);

    if (!min) {
        drop(r, m, "unknown message");
        return;
    }
    if (size < min) {
        drop(r, m, "message too short");
        return;
    }
    if (ld16(m + 2) != 0) {
        drop(r, m, "no device with this dev_num");
        return;
    }
    resp_init(resp, m, P(0));

    switch (id) {
    case DEVICE_INFO:
        st16(resp + 6, P(24));
        st32(resp + P(0), VIRTIO_ID_RNG);
        st32(resp + P(4), 0);           /* vendor id */
        st32(resp + P(8), 64);          /* feature bits */
        st32(resp + P(12), 0);          /* config size */
        st32(resp + P(16), 1);          /* virtqueues */
        break;
    case GET_FEATURES: {
        uint32_t index = ld32(m + P(0));
        uint32_t num = ld32(m + P(4));

        if (num > (VMSG_LINK_MSG_SIZE - P(8)) / 4) {
            num = (VMSG_LINK_MSG_SIZE - P(8)) / 4;
        }
        st16(resp + 6, P(8) + 4 * num);
        st32(resp + P(0), index);
        st32(resp + P(4), num);
        for (uint32_t i = 0; i < num; i++) {
            uint64_t block = (uint64_t)index + i;

            st32(resp + P(8) + 4 * i,
                 block < 2 ? (uint32_t)(DEVICE_FEATURES >> (32 * block)) : 0);
        }
        break;
    }
    case SET_FEATURES: {
        uint32_t index = ld32(m + P(0));
        uint32_t num = ld32(m + P(4));

        if (num > (size - P(8)) / 4) {
            drop(r, m, "feature blocks beyond the message");
            return;
        }
        for (uint32_t i = 0; i < num; i++) {
            uint64_t block = (uint64_t)index + i;

            if (block < 2) {
                r->driver_features &= ~(0xffffffffULL << (32 * block));
                r->driver_features |=
                    (uint64_t)ld32(m + P(8) + 4 * i) << (32 * block);
            }
        }
        break;
    }
    case GET_CONFIG:
    case SET_CONFIG:
        /* no configuration space: only empty accesses at offset 0 */
        if (ld32(m + P(id == GET_CONFIG ? 0 : 4)) ||
            ld32(m + P(id == GET_CONFIG ? 4 : 8))) {
            drop(r, m, "config offset/length out of range");
            return;
        }
        st16(resp + 6, P(12));
        break;
    case GET_DEVICE_STATUS:
        st16(resp + 6, P(4));
        st32(resp + P(0), r->status);
        break;
    case SET_DEVICE_STATUS:
        set_status(r, ld32(m + P(0)));
        st16(resp + 6, P(4));
        st32(resp + P(0), r->status);
        break;
    case GET_VQUEUE:
        st16(resp + 6, P(40));
        st32(resp + P(0), ld32(m + P(0)));
        if (ld32(m + P(0)) == 0) {
            st32(resp + P(4), QUEUE_MAX);
            st32(resp + P(8), r->vq.size);
            st64(resp + P(16), r->vq.desc);
            st64(resp + P(24), r->vq.avail);
            st64(resp + P(32), r->vq.used);
        }       /* other queues: max_size 0, no such queue */
        break;
    case SET_VQUEUE: {
        /* the legacy 44-byte form has no reserved word at P+12 */
        unsigned a = size < P(40) ? P(12) : P(16);
        uint32_t qsize = ld32(m + P(8));

        if (ld32(m + P(0)) != 0) {
            drop(r, m, "no such virtqueue");
            return;
        }
        if (!qsize || qsize > QUEUE_MAX || (qsize & (qsize - 1))) {
            drop(r, m, "virtqueue size out of range");
            return;
        }
        if ((r->status & S_DRIVER_OK) && r->vq.size) {
            drop(r, m, "virtqueue is live");
            return;
        }
        r->vq = (struct vq) {
            .size = qsize, .desc = ld64(m + a), .avail = ld64(m + a + 8),
            .used = ld64(m + a + 16),
        };
        break;
    }
    case RESET_VQUEUE:
        if (ld32(m + P(0)) != 0) {
            drop(r, m, "no such virtqueue");
            return;
        }
        /* no VIRTIO_F_RING_RESET: a running queue is kept */
        if (!(r->status & S_DRIVER_OK)) {
            memset(&r->vq, 0, sizeof(r->vq));
        }
        break;
    case GET_SHM:
        st16(resp + 6, P(12));
        st32(resp + P(0), ld32(m + P(0)));     /* length 0: no region */
        break;
    case EVENT_AVAIL:
        if (ld32(m + P(0)) != 0 || !r->vq.size ||
            (r->status & (S_DRIVER_OK | S_NEEDS_RESET)) != S_DRIVER_OK) {
            drop(r, m, "notification for a queue that is not running");
        } else {
            process_queue(r);
        }
        return;     /* an event: no reply */
    }
    send_msg(r, resp);
}

static void handle_bus(struct rng *r, const uint8_t *m, unsigned size)
{
    uint8_t resp[VMSG_LINK_MSG_SIZE];

    if (size < P(4)) {
        drop(r, m, "message too short");
        return;
    }
    if (m[1] == BUS_PING) {
        resp_init(resp, m, P(4));
        st32(resp + P(0), ld32(m + P(0)));
    } else if (m[1] == BUS_GET_DEVICES) {
        uint16_t offset = ld16(m + P(0));
        uint32_t count = ld16(m + P(2));
        uint32_t max = 8 * (VMSG_LINK_MSG_SIZE - P(6));

        if (count % 8) {
            drop(r, m, "count is not a multiple of 8");
            return;
        }
        count = count < max ? count : max;
        resp_init(resp, m, P(6) + count / 8);
        st16(resp + P(0), offset);
        st16(resp + P(2), count);
        /* one device, dev_num 0: nothing after any window */
        st16(resp + P(4), 0);
        if (offset == 0 && count) {
            resp[P(6)] = 1;
        }
    } else {
        drop(r, m, "unexpected bus message");
        return;
    }
    send_msg(r, resp);
}

static void handle(struct rng *r, const uint8_t *m)
{
    unsigned size = ld16(m + 6);

    if (r->verbose) {
        dump("<-", m);
    }
    if (size < HDR_SIZE || size > VMSG_LINK_MSG_SIZE) {
        drop(r, m, "bad msg_size");
    } else if (m[0] & T_RESPONSE) {
        drop(r, m, "a response sent to the device");
    } else if (m[0] & T_BUS) {
        handle_bus(r, m, size);
    } else {
        handle_transport(r, m, size);
    }
}

/* Serve one connection until it goes away */
static void serve(struct rng *r)
{
    uint8_t m[VMSG_LINK_MSG_SIZE];

    device_reset(r);
    r->out_head = r->out_count = 0;
    for (;;) {
        bool sent = flush_outbox(r);

        /* each message causes at most two: read only with room for them */
        while (r->out_count + 2 <= OUTBOX_LEN && vmsg_link_recv(&r->link, m)) {
            handle(r, m);
            sent |= flush_outbox(r);
        }
        /* one doorbell for the whole batch */
        if (sent) {
            vmsg_link_doorbell(&r->link);
        }
        /* QEMU does not ring when it frees slots: retry while we wait */
        if (vmsg_link_wait(&r->link, r->out_count ? 5 : -1) < 0) {
            fprintf(stderr, "link down: %s\n", r->link.error);
            return;
        }
    }
}

/* A number (decimal, or hexadecimal with 0x), with an optional K, M or G */
static uint64_t parse_size(const char *s, const char *what)
{
    unsigned base = 10, shift = 0;
    const char *p = s;
    uint64_t v = 0;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!*p) {
        goto bad;
    }
    for (; *p; p++) {
        unsigned d;

        if (*p >= '0' && *p <= '9') {
            d = *p - '0';
        } else if (base == 16 && *p >= 'a' && *p <= 'f') {
            d = *p - 'a' + 10;
        } else if (base == 16 && *p >= 'A' && *p <= 'F') {
            d = *p - 'A' + 10;
        } else {
            break;
        }
        if (v > (UINT64_MAX - d) / base) {
            goto bad;
        }
        v = v * base + d;
    }
    switch (*p) {
    case 'K': case 'k':
        shift = 10;
        break;
    case 'M': case 'm':
        shift = 20;
        break;
    case 'G': case 'g':
        shift = 30;
        break;
    }
    if (shift) {
        p++;
    }
    if (*p || v > UINT64_MAX >> shift) {
        goto bad;
    }
    return v << shift;

bad:
    fprintf(stderr, "invalid %s: %s\n", what, s);
    exit(2);
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --socket PATH [--listen] --mem-path FILE\n"
            "          [--ram-base ADDR] [--ram-size SIZE] [-v]\n"
            "Serve a virtio-rng device (dev_num 0) on a virtio-msg link.\n"
            "  --socket PATH     Unix socket of the link (connect to it, or\n"
            "                    with --listen create it and wait)\n"
            "  --mem-path FILE   the driver side's guest RAM (shared file)\n"
            "  --ram-base ADDR   its guest physical address (0x40000000)\n"
            "  --ram-size SIZE   its size (default: the file's size)\n"
            "  -v                print every message in and out\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "listen", no_argument, NULL, 'l' },
        { "mem-path", required_argument, NULL, 'm' },
        { "ram-base", required_argument, NULL, 'b' },
        { "ram-size", required_argument, NULL, 'z' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static struct rng r;
    const char *sock = NULL, *mem_path = NULL;
    bool listening = false;
    struct stat st;
    int c, fd;

    r.ram_base = 0x40000000;
    while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock = optarg;
            break;
        case 'l':
            listening = true;
            break;
        case 'm':
            mem_path = optarg;
            break;
        case 'b':
            r.ram_base = parse_size(optarg, "--ram-base");
            break;
        case 'z':
            r.ram_size = parse_size(optarg, "--ram-size");
            break;
        case 'v':
            r.verbose = true;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (!sock || !mem_path || optind != argc) {
        usage(argv[0]);
    }

    fd = open(mem_path, O_RDWR | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "%s: %s\n", mem_path, strerror(errno));
        return 1;
    }
    if (!r.ram_size) {
        r.ram_size = st.st_size;
    }
    if (!r.ram_size || r.ram_size > (uint64_t)st.st_size ||
        r.ram_base + r.ram_size < r.ram_base) {
        fprintf(stderr, "%s: RAM size 0x%" PRIx64 " does not fit the file "
                "(%lld bytes) or the address space\n", mem_path, r.ram_size,
                (long long)st.st_size);
        return 1;
    }
    r.ram = mmap(NULL, r.ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r.ram == MAP_FAILED) {
        fprintf(stderr, "cannot map %s: %s\n", mem_path, strerror(errno));
        return 1;
    }
    close(fd);

    signal(SIGPIPE, SIG_IGN);
    vmsg_link_init(&r.link);
    if (listening) {
        if (vmsg_link_listen(&r.link, sock) < 0) {
            fprintf(stderr, "%s\n", r.link.error);
            return 1;
        }
        /* one driver side at a time; each connection starts afresh */
        for (;;) {
            if (vmsg_link_accept(&r.link) < 0) {
                fprintf(stderr, "%s\n", r.link.error);
                usleep(10 * 1000);
                continue;
            }
            serve(&r);
        }
    }
    /* connecting: QEMU may not listen yet; serve one connection */
    if (vmsg_link_connect(&r.link, sock, 10000) < 0) {
        fprintf(stderr, "%s\n", r.link.error);
        return 1;
    }
    serve(&r);
    vmsg_link_close(&r.link);
    return 0;
}
