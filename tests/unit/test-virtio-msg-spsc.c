/*
 * Unit tests for the virtio-msg shared-memory SPSC queue
 *
 * The queue lives in memory shared with an untrusted peer, so besides the
 * ordinary behaviour these tests feed it hostile head/tail values and
 * check, against guard areas around the window, that it never strays
 * outside the window.  A two-thread run pushes ten million messages
 * through a 4 KiB window.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bswap.h"
#include "qemu/memalign.h"
#include "qemu/processor.h"
#include "qemu/thread.h"
#include "hw/virtio/virtio-msg-spsc.h"

#define WINDOW_SIZE     4096
#define CAPACITY        62
#define GUARD_SIZE      4096

/* Index values a hostile peer may store, for a 62-slot queue. */
static const uint32_t index_values[] = {
    0, 1, 2, 3, 30, CAPACITY - 2, CAPACITY - 1, CAPACITY, CAPACITY + 1,
    2 * CAPACITY - 1, 2 * CAPACITY, 1000,
    0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
};

/*
 * A queue window with a guard area on each side.  The guards hold a
 * sentinel pattern that the queue must never change.
 */
typedef struct TestWindow {
    uint8_t *buf;       /* guard, window, guard */
    uint8_t *mem;       /* the queue window */
    size_t size;        /* window size */
    SPSCQueue q;
} TestWindow;

static uint8_t guard_byte(size_t i)
{
    return 0xa5 ^ (uint8_t)(i * 7);
}

/* Byte @j of the distinctive content of slot @i: no two slots are alike */
static uint8_t slot_byte(uint32_t i, size_t j)
{
    return (uint8_t)(i * 3 + j * 11 + 0x3c);
}

static size_t total_size(TestWindow *w)
{
    return GUARD_SIZE + w->size + GUARD_SIZE;
}

static void window_init(TestWindow *w, size_t size)
{
    size_t i;

    w->size = size;
    w->buf = qemu_memalign(4096, GUARD_SIZE + size + GUARD_SIZE);
    w->mem = w->buf + GUARD_SIZE;
    for (i = 0; i < total_size(w); i++) {
        w->buf[i] = guard_byte(i);
    }
    memset(w->mem, 0, size);
    spsc_init(&w->q, w->mem, size);
}

static void window_destroy(TestWindow *w)
{
    qemu_vfree(w->buf);
    w->buf = w->mem = NULL;
}

static void check_guards(TestWindow *w)
{
    size_t i;

    for (i = 0; i < GUARD_SIZE; i++) {
        if (w->buf[i] != guard_byte(i)) {
            g_test_message("guard byte %zu bytes before the window changed",
                           GUARD_SIZE - i);
            g_assert_not_reached();
        }
    }
    for (i = GUARD_SIZE + w->size; i < total_size(w); i++) {
        if (w->buf[i] != guard_byte(i)) {
            g_test_message("guard byte %zu bytes after the window changed",
                           i - GUARD_SIZE - w->size);
            g_assert_not_reached();
        }
    }
}

static uint8_t *slot_ptr(uint8_t *mem, uint32_t i)
{
    return mem + SPSC_SLOTS_OFFSET + (size_t)i * SPSC_SLOT_SIZE;
}

/* Give every slot of the window its distinctive content. */
static void fill_slots(TestWindow *w)
{
    uint32_t i;
    size_t j;

    for (i = 0; i < w->q.capacity; i++) {
        for (j = 0; j < SPSC_SLOT_SIZE; j++) {
            slot_ptr(w->mem, i)[j] = slot_byte(i, j);
        }
    }
}

static void check_slot_content(const uint8_t *buf, uint32_t i)
{
    size_t j;

    for (j = 0; j < SPSC_SLOT_SIZE; j++) {
        g_assert_cmphex(buf[j], ==, slot_byte(i, j));
    }
}

static uint32_t raw_head(TestWindow *w)
{
    return ldl_le_p(w->mem + SPSC_HEAD_OFFSET);
}

static uint32_t raw_tail(TestWindow *w)
{
    return ldl_le_p(w->mem + SPSC_TAIL_OFFSET);
}

static void set_raw_head(TestWindow *w, uint32_t v)
{
    stl_le_p(w->mem + SPSC_HEAD_OFFSET, v);
}

static void set_raw_tail(TestWindow *w, uint32_t v)
{
    stl_le_p(w->mem + SPSC_TAIL_OFFSET, v);
}

/* Build message @n of @len bytes */
static void make_msg(uint8_t *msg, size_t len, uint32_t n)
{
    size_t j;

    for (j = 0; j < len; j++) {
        msg[j] = (uint8_t)(n * 29 + j * 5 + 1);
    }
}

/* @buf holds message @n of @len bytes, zero-padded to a full slot */
static void check_msg(const uint8_t *buf, size_t len, uint32_t n)
{
    uint8_t expect[SPSC_SLOT_SIZE] = { 0 };

    make_msg(expect, len, n);
    g_assert_cmpmem(buf, SPSC_SLOT_SIZE, expect, SPSC_SLOT_SIZE);
}

/* Compare the whole buffer, guards included, with @image */
static void check_image(TestWindow *w, const uint8_t *image)
{
    check_guards(w);
    g_assert_cmpmem(w->buf, total_size(w), image, total_size(w));
}

static void test_capacity(void)
{
    TestWindow w;

    g_assert_cmpuint(spsc_capacity_for(WINDOW_SIZE), ==, CAPACITY);
    g_assert_cmpuint(spsc_capacity_for(0), ==, 0);
    g_assert_cmpuint(spsc_capacity_for(SPSC_SLOTS_OFFSET), ==, 0);
    g_assert_cmpuint(spsc_capacity_for(SPSC_MIN_WINDOW - 1), ==, 0);
    g_assert_cmpuint(spsc_capacity_for(SPSC_MIN_WINDOW), ==, 2);
    g_assert_cmpuint(spsc_capacity_for(WINDOW_SIZE - 1), ==, CAPACITY - 1);
    g_assert_cmpuint(spsc_capacity_for(WINDOW_SIZE + 63), ==, CAPACITY);
    g_assert_cmpuint(spsc_capacity_for(WINDOW_SIZE + 64), ==, CAPACITY + 1);

    /* spsc_init does not touch the memory */
    window_init(&w, WINDOW_SIZE);
    fill_slots(&w);
    set_raw_head(&w, 0xdeadbeef);
    set_raw_tail(&w, 0xcafef00d);
    spsc_init(&w.q, w.mem, WINDOW_SIZE);
    g_assert(w.q.mem == w.mem);
    g_assert_cmpuint(w.q.capacity, ==, CAPACITY);
    g_assert_cmphex(raw_head(&w), ==, 0xdeadbeef);
    g_assert_cmphex(raw_tail(&w), ==, 0xcafef00d);
    check_guards(&w);
    window_destroy(&w);
}

/* A window too small for a queue: nothing works, nothing is written */
static void test_tiny_window(void)
{
    TestWindow w;
    uint8_t msg[SPSC_SLOT_SIZE], buf[SPSC_SLOT_SIZE];
    g_autofree uint8_t *image = NULL;

    window_init(&w, SPSC_MIN_WINDOW - 1);
    g_assert_cmpuint(w.q.capacity, ==, 0);
    set_raw_head(&w, 1);
    image = g_memdup2(w.buf, total_size(&w));

    make_msg(msg, sizeof(msg), 0);
    g_assert_false(spsc_send(&w.q, msg, 1));
    g_assert_false(spsc_recv(&w.q, buf));
    g_assert_cmpuint(spsc_used(&w.q), ==, 0);
    g_assert_cmpuint(spsc_free(&w.q), ==, 0);
    check_image(&w, image);
    window_destroy(&w);
}

static void test_empty(void)
{
    TestWindow w;
    uint8_t buf[SPSC_SLOT_SIZE];
    g_autofree uint8_t *image = NULL;

    window_init(&w, WINDOW_SIZE);
    fill_slots(&w);
    image = g_memdup2(w.buf, total_size(&w));

    g_assert_true(spsc_empty(&w.q));
    g_assert_false(spsc_full(&w.q));
    g_assert_cmpuint(spsc_used(&w.q), ==, 0);
    g_assert_cmpuint(spsc_free(&w.q), ==, CAPACITY - 1);
    g_assert_false(spsc_recv(&w.q, buf));
    g_assert_false(spsc_recv(&w.q, buf));
    check_image(&w, image);

    /* empty at any position, not just at 0 */
    set_raw_head(&w, 17);
    set_raw_tail(&w, 17);
    memcpy(image, w.buf, total_size(&w));
    g_assert_true(spsc_empty(&w.q));
    g_assert_false(spsc_recv(&w.q, buf));
    check_image(&w, image);
    window_destroy(&w);
}

static void test_send_recv_one(void)
{
    static const uint8_t le_one[4] = { 1, 0, 0, 0 };
    static const uint8_t zero4[4] = { 0, 0, 0, 0 };
    TestWindow w;
    uint8_t msg[SPSC_SLOT_SIZE + 1], buf[SPSC_SLOT_SIZE];
    g_autofree uint8_t *image = NULL;
    size_t j;

    window_init(&w, WINDOW_SIZE);
    /* stale bytes in slot 0 must be replaced by zero padding */
    memset(slot_ptr(w.mem, 0), 0xff, SPSC_SLOT_SIZE);
    image = g_memdup2(w.buf, total_size(&w));

    /* too long for a slot: refused, nothing written */
    make_msg(msg, sizeof(msg), 7);
    g_assert_false(spsc_send(&w.q, msg, SPSC_SLOT_SIZE + 1));
    check_image(&w, image);

    make_msg(msg, 5, 7);
    g_assert_true(spsc_send(&w.q, msg, 5));

    /* head at offset 0 is 1, little-endian; tail at 64 still 0 */
    g_assert_cmpmem(w.mem + 0, 4, le_one, 4);
    g_assert_cmpmem(w.mem + 64, 4, zero4, 4);
    /* the message in slot 0 at offset 128, zero-padded to 64 bytes */
    g_assert_cmpmem(w.mem + 128, 5, msg, 5);
    for (j = 5; j < SPSC_SLOT_SIZE; j++) {
        g_assert_cmphex(w.mem[128 + j], ==, 0);
    }
    /* nothing else changed */
    image[GUARD_SIZE + 0] = 1;
    memcpy(image + GUARD_SIZE + 128, w.mem + 128, SPSC_SLOT_SIZE);
    check_image(&w, image);

    g_assert_cmpuint(spsc_used(&w.q), ==, 1);
    g_assert_cmpuint(spsc_free(&w.q), ==, CAPACITY - 2);
    g_assert_false(spsc_empty(&w.q));
    g_assert_false(spsc_full(&w.q));

    memset(buf, 0xee, sizeof(buf));
    g_assert_true(spsc_recv(&w.q, buf));
    check_msg(buf, 5, 7);

    /* tail at offset 64 advanced to 1, head unchanged */
    g_assert_cmpmem(w.mem + 64, 4, le_one, 4);
    g_assert_cmpmem(w.mem + 0, 4, le_one, 4);
    image[GUARD_SIZE + 64] = 1;
    check_image(&w, image);

    g_assert_true(spsc_empty(&w.q));
    g_assert_false(spsc_recv(&w.q, buf));
    check_image(&w, image);

    /* a full 64-byte message and an empty one */
    make_msg(msg, SPSC_SLOT_SIZE, 8);
    g_assert_true(spsc_send(&w.q, msg, SPSC_SLOT_SIZE));
    g_assert_true(spsc_send(&w.q, msg, 0));
    g_assert_cmpuint(raw_head(&w), ==, 3);
    g_assert_cmpmem(slot_ptr(w.mem, 1), SPSC_SLOT_SIZE, msg, SPSC_SLOT_SIZE);
    g_assert_true(spsc_recv(&w.q, buf));
    check_msg(buf, SPSC_SLOT_SIZE, 8);
    g_assert_true(spsc_recv(&w.q, buf));
    check_msg(buf, 0, 0);
    g_assert_cmpuint(raw_tail(&w), ==, 3);
    check_guards(&w);
    window_destroy(&w);
}

static void test_full(void)
{
    TestWindow w;
    uint8_t msg[SPSC_SLOT_SIZE], buf[SPSC_SLOT_SIZE];
    g_autofree uint8_t *image = NULL;
    uint32_t i;

    window_init(&w, WINDOW_SIZE);
    for (i = 0; i < CAPACITY - 1; i++) {
        g_assert_false(spsc_full(&w.q));
        make_msg(msg, 1 + i % SPSC_SLOT_SIZE, i);
        g_assert_true(spsc_send(&w.q, msg, 1 + i % SPSC_SLOT_SIZE));
        g_assert_cmpuint(spsc_used(&w.q), ==, i + 1);
        g_assert_cmpuint(spsc_free(&w.q), ==, CAPACITY - 2 - i);
    }
    g_assert_true(spsc_full(&w.q));
    g_assert_cmpuint(spsc_free(&w.q), ==, 0);
    g_assert_cmpuint(spsc_used(&w.q), ==, CAPACITY - 1);
    g_assert_cmpuint(raw_head(&w), ==, CAPACITY - 1);
    g_assert_cmpuint(raw_tail(&w), ==, 0);

    /* the 62nd message does not fit and changes nothing */
    image = g_memdup2(w.buf, total_size(&w));
    make_msg(msg, sizeof(msg), 1000);
    g_assert_false(spsc_send(&w.q, msg, sizeof(msg)));
    g_assert_false(spsc_send(&w.q, msg, 1));
    check_image(&w, image);

    for (i = 0; i < CAPACITY - 1; i++) {
        g_assert_true(spsc_recv(&w.q, buf));
        check_msg(buf, 1 + i % SPSC_SLOT_SIZE, i);
    }
    g_assert_true(spsc_empty(&w.q));
    g_assert_false(spsc_recv(&w.q, buf));

    /* one slot freed: exactly one more message fits */
    for (i = 0; i < CAPACITY - 1; i++) {
        make_msg(msg, 8, i);
        g_assert_true(spsc_send(&w.q, msg, 8));
    }
    g_assert_true(spsc_full(&w.q));
    g_assert_true(spsc_recv(&w.q, buf));
    check_msg(buf, 8, 0);
    g_assert_true(spsc_send(&w.q, msg, 8));
    g_assert_false(spsc_send(&w.q, msg, 8));
    check_guards(&w);
    window_destroy(&w);
}

/*
 * Several laps around the ring in batches of varying size, checking every
 * message and the raw indices against a model.
 */
static void test_wrap_around(void)
{
    TestWindow w;
    uint8_t msg[SPSC_SLOT_SIZE], buf[SPSC_SLOT_SIZE];
    uint32_t sent = 0, received = 0;
    unsigned int round;

    window_init(&w, WINDOW_SIZE);
    for (round = 0; sent < 10 * CAPACITY + 5; round++) {
        uint32_t nsend = 1 + round * 7 % (CAPACITY - 1);
        uint32_t nrecv = 1 + round * 13 % (CAPACITY - 1);
        uint32_t i;

        for (i = 0; i < nsend; i++) {
            size_t len = (sent * 3) % (SPSC_SLOT_SIZE + 1);

            make_msg(msg, len, sent);
            if (sent - received == CAPACITY - 1) {
                g_assert_true(spsc_full(&w.q));
                g_assert_false(spsc_send(&w.q, msg, len));
                break;
            }
            g_assert_true(spsc_send(&w.q, msg, len));
            sent++;
            g_assert_cmpuint(raw_head(&w), ==, sent % CAPACITY);
        }
        g_assert_cmpuint(spsc_used(&w.q), ==, sent - received);
        g_assert_cmpuint(spsc_free(&w.q), ==,
                         CAPACITY - 1 - (sent - received));

        for (i = 0; i < nrecv; i++) {
            if (sent == received) {
                g_assert_true(spsc_empty(&w.q));
                g_assert_false(spsc_recv(&w.q, buf));
                break;
            }
            g_assert_true(spsc_recv(&w.q, buf));
            check_msg(buf, (received * 3) % (SPSC_SLOT_SIZE + 1), received);
            received++;
            g_assert_cmpuint(raw_tail(&w), ==, received % CAPACITY);
        }
        g_assert_cmpuint(spsc_used(&w.q), ==, sent - received);
    }
    while (spsc_recv(&w.q, buf)) {
        check_msg(buf, (received * 3) % (SPSC_SLOT_SIZE + 1), received);
        received++;
    }
    g_assert_cmpuint(received, ==, sent);
    g_assert_cmpuint(raw_head(&w), ==, raw_tail(&w));
    check_guards(&w);
    window_destroy(&w);
}

static void test_used_free(void)
{
    TestWindow w;
    uint32_t h, t;

    window_init(&w, WINDOW_SIZE);
    for (h = 0; h < CAPACITY; h++) {
        for (t = 0; t < CAPACITY; t++) {
            uint32_t used = (h + CAPACITY - t) % CAPACITY;

            set_raw_head(&w, h);
            set_raw_tail(&w, t);
            g_assert_cmpuint(spsc_used(&w.q), ==, used);
            g_assert_cmpuint(spsc_free(&w.q), ==, CAPACITY - 1 - used);
            g_assert(spsc_empty(&w.q) == (used == 0));
            g_assert(spsc_full(&w.q) == (used == CAPACITY - 1));
        }
    }
    check_guards(&w);
    window_destroy(&w);
}

static void test_reset(void)
{
    TestWindow w;
    uint8_t msg[SPSC_SLOT_SIZE], buf[SPSC_SLOT_SIZE];
    uint32_t i;

    window_init(&w, WINDOW_SIZE);
    for (i = 0; i < 40; i++) {
        make_msg(msg, 16, i);
        g_assert_true(spsc_send(&w.q, msg, 16));
    }
    for (i = 0; i < 25; i++) {
        g_assert_true(spsc_recv(&w.q, buf));
    }
    g_assert_cmpuint(spsc_used(&w.q), ==, 15);

    spsc_reset(&w.q);
    g_assert_cmpuint(raw_head(&w), ==, 0);
    g_assert_cmpuint(raw_tail(&w), ==, 0);
    g_assert_true(spsc_empty(&w.q));
    g_assert_cmpuint(spsc_free(&w.q), ==, CAPACITY - 1);
    g_assert_false(spsc_recv(&w.q, buf));

    /* works normally again, starting from slot 0 */
    make_msg(msg, 3, 99);
    g_assert_true(spsc_send(&w.q, msg, 3));
    g_assert_cmpuint(raw_head(&w), ==, 1);
    g_assert_cmpmem(slot_ptr(w.mem, 0), 3, msg, 3);
    g_assert_true(spsc_recv(&w.q, buf));
    check_msg(buf, 3, 99);

    /* reset also recovers from garbage indices */
    set_raw_head(&w, 0xffffffff);
    set_raw_tail(&w, 0x80000000);
    spsc_reset(&w.q);
    g_assert_cmpuint(raw_head(&w), ==, 0);
    g_assert_cmpuint(raw_tail(&w), ==, 0);
    g_assert_true(spsc_empty(&w.q));
    check_guards(&w);
    window_destroy(&w);
}

/*
 * Every combination of (possibly hostile) head and tail: the queue behaves
 * as if the indices were value % capacity, and writes nothing but the one
 * slot and index it should.
 */
static void test_hostile_indices(void)
{
    TestWindow w;
    uint8_t msg[SPSC_SLOT_SIZE], buf[SPSC_SLOT_SIZE];
    g_autofree uint8_t *image = NULL;
    size_t a, b;
    uint32_t n = 0;

    window_init(&w, WINDOW_SIZE);
    image = g_malloc(total_size(&w));

    for (a = 0; a < ARRAY_SIZE(index_values); a++) {
        for (b = 0; b < ARRAY_SIZE(index_values); b++) {
            uint32_t h = index_values[a], t = index_values[b];
            uint32_t hs = h % CAPACITY, ts = t % CAPACITY;
            uint32_t used = (hs + CAPACITY - ts) % CAPACITY;
            size_t len = n % (SPSC_SLOT_SIZE + 1);

            /* queries */
            fill_slots(&w);
            set_raw_head(&w, h);
            set_raw_tail(&w, t);
            memcpy(image, w.buf, total_size(&w));
            g_assert_cmpuint(spsc_used(&w.q), ==, used);
            g_assert_cmpuint(spsc_free(&w.q), ==, CAPACITY - 1 - used);
            g_assert(spsc_empty(&w.q) == (used == 0));
            g_assert(spsc_full(&w.q) == (used == CAPACITY - 1));
            check_image(&w, image);

            /* consumer: reads slot t % capacity, stores the next tail */
            if (used) {
                g_assert_true(spsc_recv(&w.q, buf));
                check_slot_content(buf, ts);
                stl_le_p(image + GUARD_SIZE + SPSC_TAIL_OFFSET,
                         (ts + 1) % CAPACITY);
            } else {
                g_assert_false(spsc_recv(&w.q, buf));
            }
            check_image(&w, image);

            /* producer: writes slot h % capacity, stores the next head */
            fill_slots(&w);
            set_raw_head(&w, h);
            set_raw_tail(&w, t);
            memcpy(image, w.buf, total_size(&w));
            make_msg(msg, len, n);
            if (used < CAPACITY - 1) {
                uint8_t *s = image + GUARD_SIZE + SPSC_SLOTS_OFFSET +
                             hs * SPSC_SLOT_SIZE;

                g_assert_true(spsc_send(&w.q, msg, len));
                memset(s, 0, SPSC_SLOT_SIZE);
                memcpy(s, msg, len);
                stl_le_p(image + GUARD_SIZE + SPSC_HEAD_OFFSET,
                         (hs + 1) % CAPACITY);
            } else {
                g_assert_false(spsc_send(&w.q, msg, len));
            }
            check_image(&w, image);
            n++;
        }
    }
    window_destroy(&w);
}

static uint32_t random_index(GRand *rng)
{
    switch (g_rand_int_range(rng, 0, 4)) {
    case 0:
        return index_values[g_rand_int_range(rng, 0,
                                             ARRAY_SIZE(index_values))];
    case 1:
        return g_rand_int_range(rng, 0, CAPACITY);
    case 2:
        return g_rand_int_range(rng, CAPACITY, 4 * CAPACITY);
    default:
        return g_rand_int(rng);
    }
}

/*
 * Interleaving simulation: a peer overwrites head and tail with random
 * values between operations.  The whole buffer is compared with a model
 * after every step.
 */
static void test_hostile_random(void)
{
    TestWindow w;
    uint8_t msg[SPSC_SLOT_SIZE], buf[SPSC_SLOT_SIZE];
    g_autofree uint8_t *image = NULL;
    g_autoptr(GRand) rng = g_rand_new_with_seed(g_test_rand_int());
    uint32_t i, nsend = 0, nrecv = 0;

    window_init(&w, WINDOW_SIZE);
    fill_slots(&w);
    image = g_memdup2(w.buf, total_size(&w));

    for (i = 0; i < 20000; i++) {
        uint8_t *ih = image + GUARD_SIZE + SPSC_HEAD_OFFSET;
        uint8_t *it = image + GUARD_SIZE + SPSC_TAIL_OFFSET;
        uint32_t hs = (uint32_t)ldl_le_p(ih) % CAPACITY;
        uint32_t ts = (uint32_t)ldl_le_p(it) % CAPACITY;
        uint32_t used = (hs + CAPACITY - ts) % CAPACITY;
        uint32_t v;
        size_t len;

        switch (g_rand_int_range(rng, 0, 6)) {
        case 0:
            v = random_index(rng);
            set_raw_head(&w, v);
            stl_le_p(ih, v);
            break;
        case 1:
            v = random_index(rng);
            set_raw_tail(&w, v);
            stl_le_p(it, v);
            break;
        case 2:
        case 3:
            len = g_rand_int_range(rng, 0, SPSC_SLOT_SIZE + 1);
            make_msg(msg, len, i);
            if (used < CAPACITY - 1) {
                uint8_t *s = image + GUARD_SIZE + SPSC_SLOTS_OFFSET +
                             hs * SPSC_SLOT_SIZE;

                g_assert_true(spsc_send(&w.q, msg, len));
                memset(s, 0, SPSC_SLOT_SIZE);
                memcpy(s, msg, len);
                stl_le_p(ih, (hs + 1) % CAPACITY);
                nsend++;
            } else {
                g_assert_false(spsc_send(&w.q, msg, len));
            }
            break;
        default:
            if (used) {
                g_assert_true(spsc_recv(&w.q, buf));
                g_assert_cmpmem(buf, SPSC_SLOT_SIZE,
                                image + GUARD_SIZE + SPSC_SLOTS_OFFSET +
                                ts * SPSC_SLOT_SIZE, SPSC_SLOT_SIZE);
                stl_le_p(it, (ts + 1) % CAPACITY);
                nrecv++;
            } else {
                g_assert_false(spsc_recv(&w.q, buf));
            }
            break;
        }
        check_image(&w, image);
    }
    g_test_message("%" PRIu32 " messages sent, %" PRIu32 " received",
                   nsend, nrecv);
    window_destroy(&w);
}

/* A peer thread scribbling on one index of a live queue */
typedef struct Scribbler {
    uint32_t *index;
    GRand *rand;
    bool stop;
    uint64_t writes;
} Scribbler;

static gpointer scribbler_thread(gpointer opaque)
{
    Scribbler *s = opaque;
    uint64_t writes = 0;

    while (!qatomic_read(&s->stop)) {
        qatomic_set(s->index, cpu_to_le32(random_index(s->rand)));
        writes++;
    }
    s->writes = writes;
    return NULL;
}

#define CHANGING_ITERATIONS 100000

/*
 * The peer keeps rewriting head while the consumer reads.  Whatever it
 * sees, the consumer reads only the slot at its own tail, advances tail
 * by one modulo capacity, and never touches anything outside the window.
 */
static void test_head_changing_under_reader(void)
{
    TestWindow w;
    Scribbler s = { 0 };
    GThread *peer;
    uint8_t buf[SPSC_SLOT_SIZE];
    g_autofree uint8_t *image = NULL;
    uint32_t i, got = 0;

    window_init(&w, WINDOW_SIZE);
    fill_slots(&w);
    image = g_memdup2(w.buf, total_size(&w));

    s.index = (uint32_t *)(w.mem + SPSC_HEAD_OFFSET);
    s.rand = g_rand_new_with_seed(g_test_rand_int());
    peer = g_thread_new("spsc-peer", scribbler_thread, &s);

    for (i = 0; i < CHANGING_ITERATIONS; i++) {
        uint32_t t = raw_tail(&w);

        g_assert_cmpuint(t, <, CAPACITY);
        g_assert_cmpuint(spsc_used(&w.q), <, CAPACITY);
        g_assert_cmpuint(spsc_free(&w.q), <, CAPACITY);
        if (spsc_recv(&w.q, buf)) {
            check_slot_content(buf, t);
            g_assert_cmpuint(raw_tail(&w), ==, (t + 1) % CAPACITY);
            got++;
        } else {
            g_assert_cmpuint(raw_tail(&w), ==, t);
        }
        /* all but head (the peer's) as before, tail as we stored it */
        stl_le_p(image + GUARD_SIZE + SPSC_TAIL_OFFSET, raw_tail(&w));
        check_guards(&w);
        g_assert_cmpmem(w.mem + 4, w.size - 4,
                        image + GUARD_SIZE + 4, w.size - 4);
    }

    qatomic_set(&s.stop, true);
    g_thread_join(peer);
    g_rand_free(s.rand);
    check_guards(&w);
    g_test_message("%d reads, %" PRIu32 " messages, %" PRIu64
                   " peer writes", CHANGING_ITERATIONS, got, s.writes);
    window_destroy(&w);
}

/*
 * The same for the producer: the peer keeps rewriting tail while we send.
 * Only the slot at our own head and the head index may change.
 */
static void test_tail_changing_under_writer(void)
{
    TestWindow w;
    Scribbler s = { 0 };
    GThread *peer;
    uint8_t msg[SPSC_SLOT_SIZE];
    g_autofree uint8_t *image = NULL;
    uint32_t i, sent = 0;

    window_init(&w, WINDOW_SIZE);
    fill_slots(&w);
    image = g_memdup2(w.buf, total_size(&w));

    s.index = (uint32_t *)(w.mem + SPSC_TAIL_OFFSET);
    s.rand = g_rand_new_with_seed(g_test_rand_int());
    peer = g_thread_new("spsc-peer", scribbler_thread, &s);

    for (i = 0; i < CHANGING_ITERATIONS; i++) {
        uint32_t h = raw_head(&w);
        size_t len = i % (SPSC_SLOT_SIZE + 1);

        g_assert_cmpuint(h, <, CAPACITY);
        make_msg(msg, len, i);
        if (spsc_send(&w.q, msg, len)) {
            uint8_t *slot = image + GUARD_SIZE + SPSC_SLOTS_OFFSET +
                            h * SPSC_SLOT_SIZE;

            g_assert_cmpuint(raw_head(&w), ==, (h + 1) % CAPACITY);
            memset(slot, 0, SPSC_SLOT_SIZE);
            memcpy(slot, msg, len);
            sent++;
        } else {
            g_assert_cmpuint(raw_head(&w), ==, h);
        }
        stl_le_p(image + GUARD_SIZE + SPSC_HEAD_OFFSET, raw_head(&w));
        check_guards(&w);
        /* everything but tail (the peer's) matches the model */
        g_assert_cmpmem(w.mem, SPSC_TAIL_OFFSET,
                        image + GUARD_SIZE, SPSC_TAIL_OFFSET);
        g_assert_cmpmem(w.mem + SPSC_TAIL_OFFSET + 4,
                        w.size - SPSC_TAIL_OFFSET - 4,
                        image + GUARD_SIZE + SPSC_TAIL_OFFSET + 4,
                        w.size - SPSC_TAIL_OFFSET - 4);
    }

    qatomic_set(&s.stop, true);
    g_thread_join(peer);
    g_rand_free(s.rand);
    check_guards(&w);
    g_test_message("%d sends, %" PRIu32 " messages, %" PRIu64
                   " peer writes", CHANGING_ITERATIONS, sent, s.writes);
    window_destroy(&w);
}

/*
 * Two-thread stress run.  Message layout (64 bytes, little-endian):
 *   0   sequence number
 *   8   six payload words derived from the sequence number
 *   56  checksum over bytes 0..55
 */
#define STRESS_MESSAGES     10000000ULL
#define STRESS_WORDS        7
#define STRESS_SPINS        100

static uint64_t stress_word(uint64_t seq, unsigned int i)
{
    return ((seq + i) * 0x9e3779b97f4a7c15ULL) ^ (seq << (i * 8));
}

static uint64_t stress_checksum(const uint8_t *msg)
{
    uint64_t sum = 0xcbf29ce484222325ULL;
    unsigned int i;

    for (i = 0; i < STRESS_WORDS; i++) {
        sum = (sum ^ ldq_le_p(msg + i * 8)) * 0x100000001b3ULL;
    }
    return sum;
}

typedef struct Stress {
    SPSCQueue *q;
    QemuEvent not_empty;    /* set by the producer after each send */
    QemuEvent not_full;     /* set by the consumer after each receive */
} Stress;

static bool stress_can_send(SPSCQueue *q)
{
    return !spsc_full(q);
}

static bool stress_can_recv(SPSCQueue *q)
{
    return !spsc_empty(q);
}

/*
 * Wait after a failed send or receive: spin a little with cpu_relax(),
 * then sleep on @ev until the other side has made progress.
 *
 * Not g_thread_yield(): when the two threads share the CPUs with other
 * busy processes, a thread that keeps yielding can lose its CPU for long
 * stretches (notably with the EEVDF scheduler), and the run then takes
 * minutes instead of seconds.  Sleeping on an event keeps it at seconds.
 */
static void stress_wait(SPSCQueue *q, QemuEvent *ev,
                        bool (*ready)(SPSCQueue *), unsigned int *spins)
{
    if (*spins < STRESS_SPINS) {
        ++*spins;
        cpu_relax();
        return;
    }
    qemu_event_reset(ev);
    /* re-check after the reset, so that a set in between is not lost */
    if (!ready(q)) {
        qemu_event_wait(ev);
    }
}

static gpointer stress_producer(gpointer opaque)
{
    Stress *s = opaque;
    uint8_t msg[SPSC_SLOT_SIZE];
    unsigned int spins, i;
    uint64_t seq;

    for (seq = 0; seq < STRESS_MESSAGES; seq++) {
        stq_le_p(msg, seq);
        for (i = 1; i < STRESS_WORDS; i++) {
            stq_le_p(msg + i * 8, stress_word(seq, i));
        }
        stq_le_p(msg + STRESS_WORDS * 8, stress_checksum(msg));
        spins = 0;
        while (!spsc_send(s->q, msg, sizeof(msg))) {
            stress_wait(s->q, &s->not_full, stress_can_send, &spins);
        }
        qemu_event_set(&s->not_empty);
    }
    return NULL;
}

static void test_two_threads(void)
{
    TestWindow w;
    Stress s;
    GThread *producer;
    uint8_t buf[SPSC_SLOT_SIZE];
    unsigned int spins, i;
    uint64_t seq, start;
    double secs;

    window_init(&w, WINDOW_SIZE);
    s.q = &w.q;
    qemu_event_init(&s.not_empty, false);
    qemu_event_init(&s.not_full, false);

    start = g_get_monotonic_time();
    producer = g_thread_new("spsc-producer", stress_producer, &s);
    for (seq = 0; seq < STRESS_MESSAGES; seq++) {
        spins = 0;
        while (!spsc_recv(&w.q, buf)) {
            stress_wait(&w.q, &s.not_empty, stress_can_recv, &spins);
        }
        qemu_event_set(&s.not_full);
        if (ldq_le_p(buf) != seq ||
            ldq_le_p(buf + STRESS_WORDS * 8) != stress_checksum(buf)) {
            g_test_message("message %" PRIu64 ": sequence number %" PRIu64
                           ", checksum %016" PRIx64 " (expected %016" PRIx64
                           ")", seq, ldq_le_p(buf),
                           ldq_le_p(buf + STRESS_WORDS * 8),
                           stress_checksum(buf));
            g_assert_not_reached();
        }
        for (i = 1; i < STRESS_WORDS; i++) {
            g_assert_cmphex(ldq_le_p(buf + i * 8), ==, stress_word(seq, i));
        }
    }
    g_thread_join(producer);
    secs = (g_get_monotonic_time() - start) / 1e6;

    /* nothing extra arrived, and the queue is drained */
    g_assert_false(spsc_recv(&w.q, buf));
    g_assert_true(spsc_empty(&w.q));
    g_assert_cmpuint(raw_head(&w), ==, raw_tail(&w));
    g_assert_cmpuint(raw_head(&w), ==, STRESS_MESSAGES % CAPACITY);
    check_guards(&w);

    g_test_message("%llu messages in %.3f s: %.2f million messages/s",
                   STRESS_MESSAGES, secs, STRESS_MESSAGES / secs / 1e6);
    qemu_event_destroy(&s.not_empty);
    qemu_event_destroy(&s.not_full);
    window_destroy(&w);
}

int main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-msg-spsc/capacity", test_capacity);
    g_test_add_func("/virtio-msg-spsc/tiny-window", test_tiny_window);
    g_test_add_func("/virtio-msg-spsc/empty", test_empty);
    g_test_add_func("/virtio-msg-spsc/send-recv-one", test_send_recv_one);
    g_test_add_func("/virtio-msg-spsc/full", test_full);
    g_test_add_func("/virtio-msg-spsc/wrap-around", test_wrap_around);
    g_test_add_func("/virtio-msg-spsc/used-free", test_used_free);
    g_test_add_func("/virtio-msg-spsc/reset", test_reset);
    g_test_add_func("/virtio-msg-spsc/hostile/indices",
                    test_hostile_indices);
    g_test_add_func("/virtio-msg-spsc/hostile/random", test_hostile_random);
    g_test_add_func("/virtio-msg-spsc/hostile/head-changing-under-reader",
                    test_head_changing_under_reader);
    g_test_add_func("/virtio-msg-spsc/hostile/tail-changing-under-writer",
                    test_tail_changing_under_writer);
    g_test_add_func("/virtio-msg-spsc/two-threads", test_two_threads);
    return g_test_run();
}
