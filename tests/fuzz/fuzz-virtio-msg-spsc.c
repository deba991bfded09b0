/*
 * libFuzzer target: the shared-memory SPSC queue against a hostile peer
 *
 * Input: two bytes pick the window size (SPSC_MIN_WINDOW up to 64 slots,
 * not necessarily a whole number of slots); then each operation is one
 * byte and its operands.  Operations: send, receive, the peer storing
 * any u32 into head or tail, the peer writing any bytes anywhere in the
 * window, used/free queries, reset.
 *
 * The window is a heap block of exactly its size, so ASan reports any
 * access outside it.  After every operation the whole window is compared
 * with a copy taken before it: a send may only change its slot and head,
 * a receive only tail.  Checked besides: used + free == capacity - 1;
 * a send succeeds exactly when a slot is free and writes the message
 * zero-padded into the slot head points to; a receive succeeds exactly
 * when a slot is used and copies exactly the slot tail points to into a
 * buffer of one slot; a queue nobody else touched is a FIFO.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/virtio/virtio-msg-spsc.h"
#include "fuzz-common.h"

#define MAX_SLOTS       64
#define MAX_WINDOW      (SPSC_SLOTS_OFFSET + MAX_SLOTS * SPSC_SLOT_SIZE)

enum {
    OP_SEND,
    OP_RECV,
    OP_PEER_HEAD,
    OP_PEER_TAIL,
    OP_PEER_WRITE,
    OP_QUERY,
    OP_RESET,
    OP_FILL,
    OP_COUNT
};

typedef struct Fuzz {
    SPSCQueue q;
    uint8_t *mem;
    size_t size;
    uint32_t cap;
    uint8_t before[MAX_WINDOW];
    /* What was sent and not received, while the peer kept out */
    bool model_valid;
    uint32_t model_head;
    uint32_t model_count;
    uint8_t model[MAX_SLOTS][SPSC_SLOT_SIZE];
    uint32_t serial;
} Fuzz;

static uint32_t peer_index(Fuzz *f, size_t off)
{
    return ldl_le_p(f->mem + off) % f->cap;
}

static uint8_t *slot_of(Fuzz *f, uint32_t i)
{
    return f->mem + SPSC_SLOTS_OFFSET + (size_t)i * SPSC_SLOT_SIZE;
}

static void check_same(Fuzz *f, size_t from, size_t to, const char *op)
{
    if (from >= to || !memcmp(f->mem + from, f->before + from, to - from)) {
        return;
    }
    for (size_t i = from; i < to; i++) {
        fuzz_check(f->mem[i] == f->before[i],
                   "%s changed byte %zu of the window", op, i);
    }
}

/*
 * Bytes [@from, @to) and [@from2, @to2) of the window may differ from the
 * copy taken before the operation, no others.  @to <= @from2.
 */
static void check_unchanged(Fuzz *f, size_t from, size_t to, size_t from2,
                            size_t to2, const char *op)
{
    check_same(f, 0, from, op);
    check_same(f, to, from2, op);
    check_same(f, to2, f->size, op);
}

static void check_counts(Fuzz *f)
{
    uint32_t used = spsc_used(&f->q), free = spsc_free(&f->q);

    fuzz_check(used < f->cap && free < f->cap && used + free == f->cap - 1,
               "used %u free %u capacity %u", used, free, f->cap);
    fuzz_check(spsc_empty(&f->q) == (used == 0) &&
               spsc_full(&f->q) == (free == 0), "empty/full disagree");
    fuzz_check(used == (peer_index(f, SPSC_HEAD_OFFSET) + f->cap -
                        peer_index(f, SPSC_TAIL_OFFSET)) % f->cap,
               "used %u does not follow head and tail", used);
    if (f->model_valid) {
        fuzz_check(used == f->model_count, "used %u, %u sent and not read",
                   used, f->model_count);
    }
}

static void op_send(Fuzz *f, FuzzInput *in)
{
    uint8_t msg[SPSC_SLOT_SIZE + 8];
    size_t len = fuzz_u8(in) % (sizeof(msg) + 1);
    uint32_t head = peer_index(f, SPSC_HEAD_OFFSET);
    bool room = spsc_free(&f->q) > 0, ok;
    uint8_t *s = slot_of(f, head);

    /* Distinctive contents: a serial number, then input bytes */
    memset(msg, 0, sizeof(msg));
    stl_le_p(msg, ++f->serial);
    fuzz_bytes(in, msg + 4, fuzz_u8(in) % (sizeof(msg) - 4));

    ok = spsc_send(&f->q, msg, len);
    fuzz_check(ok == (room && len <= SPSC_SLOT_SIZE),
               "send of %zu bytes returned %d, free slots: %d", len, ok, room);
    if (!ok) {
        check_unchanged(f, 0, 0, f->size, f->size, "failed send");
        return;
    }
    check_unchanged(f, SPSC_HEAD_OFFSET, SPSC_HEAD_OFFSET + 4,
                    s - f->mem, s - f->mem + SPSC_SLOT_SIZE, "send");
    fuzz_check(!memcmp(s, msg, len), "send: slot %u holds other bytes", head);
    for (size_t i = len; i < SPSC_SLOT_SIZE; i++) {
        fuzz_check(!s[i], "send: byte %zu of slot %u not zeroed", i, head);
    }
    fuzz_check(ldl_le_p(f->mem + SPSC_HEAD_OFFSET) == (head + 1) % f->cap,
               "send: head %u after %u", ldl_le_p(f->mem), head);
    if (f->model_valid) {
        uint32_t i = (f->model_head + f->model_count) % MAX_SLOTS;

        fuzz_check(f->model_count < MAX_SLOTS, "model overflow");
        memcpy(f->model[i], s, SPSC_SLOT_SIZE);
        f->model_count++;
    }
}

static void op_recv(Fuzz *f)
{
    uint32_t tail = peer_index(f, SPSC_TAIL_OFFSET);
    bool avail = spsc_used(&f->q) > 0, ok;
    uint8_t *s = slot_of(f, tail);
    /* Exactly one slot: ASan reports a longer copy */
    uint8_t *buf = malloc(SPSC_SLOT_SIZE);

    memset(buf, 0x5a, SPSC_SLOT_SIZE);
    ok = spsc_recv(&f->q, buf);
    fuzz_check(ok == avail, "recv returned %d with %d waiting", ok, avail);
    if (!ok) {
        check_unchanged(f, 0, 0, f->size, f->size, "failed recv");
        for (size_t i = 0; i < SPSC_SLOT_SIZE; i++) {
            fuzz_check(buf[i] == 0x5a, "failed recv wrote its buffer");
        }
        free(buf);
        return;
    }
    check_unchanged(f, SPSC_TAIL_OFFSET, SPSC_TAIL_OFFSET + 4, f->size,
                    f->size, "recv");
    fuzz_check(!memcmp(buf, s, SPSC_SLOT_SIZE), "recv: not slot %u", tail);
    fuzz_check(ldl_le_p(f->mem + SPSC_TAIL_OFFSET) == (tail + 1) % f->cap,
               "recv: tail %u after %u",
               ldl_le_p(f->mem + SPSC_TAIL_OFFSET), tail);
    if (f->model_valid) {
        fuzz_check(f->model_count, "recv of a message never sent");
        fuzz_check(!memcmp(buf, f->model[f->model_head], SPSC_SLOT_SIZE),
                   "recv: not the oldest message sent");
        f->model_head = (f->model_head + 1) % MAX_SLOTS;
        f->model_count--;
    }
    free(buf);
}

/* The peer writes @len bytes at @off: the model no longer holds */
static void peer_write(Fuzz *f, size_t off, const uint8_t *bytes, size_t len)
{
    len = MIN(len, f->size - MIN(off, f->size));
    memcpy(f->mem + off, bytes, len);
    if (len) {
        f->model_valid = false;
    }
}

static void run_op(Fuzz *f, FuzzInput *in)
{
    uint8_t bytes[SPSC_SLOT_SIZE];
    int op = fuzz_u8(in) % OP_COUNT;
    size_t off, len;

    memcpy(f->before, f->mem, f->size);
    switch (op) {
    case OP_SEND:
        op_send(f, in);
        break;
    case OP_RECV:
        op_recv(f);
        break;
    case OP_PEER_HEAD:
    case OP_PEER_TAIL:
        stl_le_p(bytes, fuzz_u32(in));
        peer_write(f, op == OP_PEER_HEAD ? SPSC_HEAD_OFFSET
                                         : SPSC_TAIL_OFFSET, bytes, 4);
        break;
    case OP_PEER_WRITE:
        off = fuzz_u16(in) % f->size;
        len = fuzz_bytes(in, bytes, fuzz_u8(in) % (sizeof(bytes) + 1));
        peer_write(f, off, bytes, len);
        break;
    case OP_QUERY:
        check_counts(f);
        check_unchanged(f, 0, 0, f->size, f->size, "used/free");
        break;
    case OP_RESET:
        spsc_reset(&f->q);
        check_unchanged(f, SPSC_HEAD_OFFSET, SPSC_HEAD_OFFSET + 4,
                        SPSC_TAIL_OFFSET, SPSC_TAIL_OFFSET + 4, "reset");
        fuzz_check(spsc_empty(&f->q), "not empty after reset");
        f->model_valid = true;
        f->model_count = 0;
        break;
    case OP_FILL:
        /* Send until full, receive until empty: wraps the indices */
        len = fuzz_u8(in) % (2 * f->cap + 1);
        for (size_t i = 0; i < len && !fuzz_input_done(in); i++) {
            memcpy(f->before, f->mem, f->size);
            op_send(f, in);
        }
        while (spsc_used(&f->q)) {
            memcpy(f->before, f->mem, f->size);
            op_recv(f);
        }
        break;
    }
    check_counts(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Fuzz fz;
    Fuzz *f = &fz;
    FuzzInput in;

    fuzz_input_init(&in, data, size);
    f->size = SPSC_MIN_WINDOW + fuzz_u16(&in) % (MAX_WINDOW -
                                                  SPSC_MIN_WINDOW + 1);
    f->mem = malloc(f->size);
    /* Whatever the peer left there: head and tail from the input */
    memset(f->mem, 0, f->size);
    stl_le_p(f->mem + SPSC_HEAD_OFFSET, fuzz_u32(&in));
    stl_le_p(f->mem + SPSC_TAIL_OFFSET, fuzz_u32(&in));
    spsc_init(&f->q, f->mem, f->size);
    f->cap = spsc_capacity_for(f->size);
    fuzz_check(f->cap >= 2 && f->cap <= MAX_SLOTS &&
               SPSC_SLOTS_OFFSET + (size_t)f->cap * SPSC_SLOT_SIZE <= f->size,
               "capacity %u for %zu bytes", f->cap, f->size);
    f->model_valid = !ldl_le_p(f->mem + SPSC_HEAD_OFFSET) &&
                     !ldl_le_p(f->mem + SPSC_TAIL_OFFSET);
    f->model_head = f->model_count = 0;
    f->serial = 0;

    check_counts(f);
    while (!fuzz_input_done(&in)) {
        run_op(f, &in);
    }
    free(f->mem);
    return 0;
}
