/*
 * bench-spsc: throughput and round-trip latency of the virtio-msg SPSC
 * queue between two host threads, next to a plain shared-memory ring and
 * a plain cache-line flag (what this machine can do at best)
 *
 * Usage: bench-spsc [MILLISECONDS]
 *
 * Four measurements of MILLISECONDS each (default 500), one after the
 * other, in this order:
 *
 *   stream_spsc   a thread sends 64-byte messages through one SPSC queue
 *                 (hw/virtio/virtio-msg-spsc.c, 64 slots) as fast as it
 *                 can, the main thread receives them: messages per second
 *   stream_plain  the same through a plain ring of 64 slots of 64 bytes
 *                 (free-running indices, power-of-two size, each end
 *                 reads the other's index only when the ring looks full
 *                 or empty, no index sanitising, no zero padding)
 *   rtt_spsc      ping-pong: the main thread sends a message through one
 *                 SPSC queue, the other thread sends it back through a
 *                 second one: nanoseconds per round trip
 *   rtt_plain     ping-pong of a counter through two cache-line flags
 *
 * Waiting is busy polling with cpu_relax(), and a sched_yield() every
 * YIELD_EVERY polls so that a machine with fewer free cores than threads
 * still makes progress; both sides of each comparison wait alike.  Every
 * received message is checked (sequence number), so nothing is optimised
 * away.  Output, one line:
 *
 *   bench-spsc: stream_spsc_mps=N stream_plain_mps=N rtt_spsc_ns=N
 *   rtt_plain_ns=N
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bswap.h"
#include "qemu/processor.h"
#include "hw/virtio/virtio-msg-spsc.h"
#include <pthread.h>
#include <sched.h>

#define SLOTS           64
#define WINDOW_SIZE     (SPSC_SLOTS_OFFSET + SLOTS * SPSC_SLOT_SIZE)
#define YIELD_EVERY     64
#define CLOCK_EVERY     1024
#define LINE            128     /* keep shared variables this far apart */

typedef enum Mode {
    STREAM_SPSC,
    STREAM_PLAIN,
    RTT_SPSC,
    RTT_PLAIN,
    MODES
} Mode;

static const char *const mode_names[MODES] = {
    "stream_spsc_mps", "stream_plain_mps", "rtt_spsc_ns", "rtt_plain_ns",
};

typedef struct Bench {
    Mode mode;
    uint8_t *win[2];            /* queue windows: [0] main->peer, [1] back */
    SPSCQueue q[2];
    uint64_t *ping;             /* flags of RTT_PLAIN, LINE bytes apart */
    uint64_t *pong;
    uint8_t *stop;              /* set by the main thread at the end */
} Bench;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *zalloc_aligned(size_t size)
{
    void *p;

    if (posix_memalign(&p, 4096, size)) {
        fprintf(stderr, "bench-spsc: out of memory\n");
        exit(2);
    }
    memset(p, 0, size);
    return p;
}

static void relax(unsigned int *polls)
{
    if (++*polls % YIELD_EVERY == 0) {
        sched_yield();
    } else {
        cpu_relax();
    }
}

static bool stopped(Bench *b)
{
    return qatomic_read(b->stop);
}

/* The plain ring: head at 0, tail at 64, slots at 128, as the SPSC queue */
static uint32_t *plain_head(uint8_t *win)
{
    return (uint32_t *)(win + SPSC_HEAD_OFFSET);
}

static uint32_t *plain_tail(uint8_t *win)
{
    return (uint32_t *)(win + SPSC_TAIL_OFFSET);
}

static uint8_t *plain_slot(uint8_t *win, uint32_t i)
{
    return win + SPSC_SLOTS_OFFSET + (i % SLOTS) * SPSC_SLOT_SIZE;
}

/*
 * One end of a plain ring, private to its thread: the own index and the
 * last value seen of the other end's, read again only when the ring looks
 * full (producer) or empty (consumer)
 */
typedef struct PlainEnd {
    uint8_t *win;
    uint32_t own;
    uint32_t seen;
} PlainEnd;

static bool plain_send(PlainEnd *e, const void *msg)
{
    if (e->own - e->seen == SLOTS) {
        e->seen = qatomic_load_acquire(plain_tail(e->win));
        if (e->own - e->seen == SLOTS) {
            return false;
        }
    }
    memcpy(plain_slot(e->win, e->own), msg, SPSC_SLOT_SIZE);
    qatomic_store_release(plain_head(e->win), ++e->own);
    return true;
}

static bool plain_recv(PlainEnd *e, void *buf)
{
    if (e->seen == e->own) {
        e->seen = qatomic_load_acquire(plain_head(e->win));
        if (e->seen == e->own) {
            return false;
        }
    }
    memcpy(buf, plain_slot(e->win, e->own), SPSC_SLOT_SIZE);
    qatomic_store_release(plain_tail(e->win), ++e->own);
    return true;
}

/* The other thread: the producer of a stream, the echo of a ping-pong */
static void *peer_thread(void *opaque)
{
    Bench *b = opaque;
    uint8_t msg[SPSC_SLOT_SIZE] = { 0 };
    unsigned int polls = 0;
    uint64_t seq = 0, last = 0, v;
    PlainEnd prod = { .win = b->win[0] };

    while (!stopped(b)) {
        switch (b->mode) {
        case STREAM_SPSC:
        case STREAM_PLAIN:
            stq_le_p(msg, seq);
            if (b->mode == STREAM_PLAIN ? plain_send(&prod, msg)
                : spsc_send(&b->q[0], msg, SPSC_SLOT_SIZE)) {
                seq++;
            } else {
                relax(&polls);
            }
            break;
        case RTT_SPSC:
            if (spsc_recv(&b->q[0], msg)) {
                /* one message in flight: the queue back has room */
                spsc_send(&b->q[1], msg, SPSC_SLOT_SIZE);
            } else {
                relax(&polls);
            }
            break;
        case RTT_PLAIN:
            v = qatomic_load_acquire(b->ping);
            if (v != last) {
                qatomic_store_release(b->pong, v);
                last = v;
            } else {
                relax(&polls);
            }
            break;
        default:
            abort();
        }
    }
    return NULL;
}

static void check_seq(const uint8_t *msg, uint64_t seq)
{
    if (ldq_le_p(msg) != seq) {
        fprintf(stderr, "bench-spsc: message %" PRIu64 " arrived as %"
                PRIu64 "\n", seq, ldq_le_p(msg));
        exit(1);
    }
}

/* Wait for the answer of round trip @seq; false if time ran out */
static bool rtt_one(Bench *b, uint64_t seq, uint8_t *msg)
{
    unsigned int polls = 0;

    if (b->mode == RTT_PLAIN) {
        qatomic_store_release(b->ping, seq);
        while (qatomic_load_acquire(b->pong) != seq) {
            relax(&polls);
        }
        return true;
    }
    stq_le_p(msg, seq);
    if (!spsc_send(&b->q[0], msg, SPSC_SLOT_SIZE)) {
        fprintf(stderr, "bench-spsc: queue full in a ping-pong\n");
        exit(1);
    }
    while (!spsc_recv(&b->q[1], msg)) {
        relax(&polls);
    }
    check_seq(msg, seq);
    return true;
}

/* One measurement: messages per second, or nanoseconds per round trip */
static double measure(Bench *b, Mode mode, uint64_t ns)
{
    uint8_t msg[SPSC_SLOT_SIZE] = { 0 };
    unsigned int polls = 0;
    uint64_t start, end, now, n = 0;
    PlainEnd cons = { .win = b->win[0] };
    pthread_t peer;

    b->mode = mode;
    for (int i = 0; i < 2; i++) {
        memset(b->win[i], 0, WINDOW_SIZE);
        spsc_init(&b->q[i], b->win[i], WINDOW_SIZE);
    }
    *b->ping = *b->pong = 0;
    qatomic_set(b->stop, 0);
    if (pthread_create(&peer, NULL, peer_thread, b)) {
        fprintf(stderr, "bench-spsc: cannot create a thread\n");
        exit(2);
    }

    start = now = now_ns();
    end = start + ns;
    while (now < end) {
        if (mode == STREAM_SPSC || mode == STREAM_PLAIN) {
            if (mode == STREAM_PLAIN ? plain_recv(&cons, msg)
                : spsc_recv(&b->q[0], msg)) {
                check_seq(msg, n);
                n++;
            } else {
                relax(&polls);
            }
            if ((n + polls) % CLOCK_EVERY == 0) {
                now = now_ns();
            }
        } else {
            rtt_one(b, n + 1, msg);
            n++;
            if (n % CLOCK_EVERY == 0) {
                now = now_ns();
            }
        }
    }
    now = now_ns();
    qatomic_set(b->stop, 1);
    pthread_join(peer, NULL);

    if (!n) {
        return 0;
    }
    if (mode == STREAM_SPSC || mode == STREAM_PLAIN) {
        return n * 1e9 / (now - start);
    }
    return (double)(now - start) / n;
}

int main(int argc, char **argv)
{
    uint64_t ms = 500;
    Bench b;
    uint8_t *flags;

    if (argc > 2 || (argc == 2 && sscanf(argv[1], "%" SCNu64, &ms) != 1) ||
        !ms) {
        fprintf(stderr, "usage: bench-spsc [MILLISECONDS]\n");
        return 2;
    }
    b.win[0] = zalloc_aligned(WINDOW_SIZE);
    b.win[1] = zalloc_aligned(WINDOW_SIZE);
    flags = zalloc_aligned(3 * LINE);
    b.ping = (uint64_t *)flags;
    b.pong = (uint64_t *)(flags + LINE);
    b.stop = flags + 2 * LINE;

    /* warm up: page faults, frequency */
    measure(&b, STREAM_SPSC, 50 * 1000000ULL);

    printf("bench-spsc:");
    for (Mode m = 0; m < MODES; m++) {
        printf(" %s=%.0f", mode_names[m], measure(&b, m, ms * 1000000ULL));
        fflush(stdout);
    }
    printf("\n");
    free(b.win[0]);
    free(b.win[1]);
    free(flags);
    return 0;
}
