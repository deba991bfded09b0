/*
 * Single-producer single-consumer message queue in shared memory
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bswap.h"
#include "hw/virtio/virtio-msg-spsc.h"

void spsc_init(SPSCQueue *q, void *mem, size_t size)
{
    q->mem = mem;
    q->capacity = spsc_capacity_for(size);
}

static uint32_t *idx_ptr(SPSCQueue *q, size_t off)
{
    return (uint32_t *)(q->mem + off);
}

/* Read an index the peer may have written anything into. */
static uint32_t load_index(SPSCQueue *q, size_t off)
{
    uint32_t v = le32_to_cpu(qatomic_load_acquire(idx_ptr(q, off)));

    return v < q->capacity ? v : v % q->capacity;
}

static void store_index(SPSCQueue *q, size_t off, uint32_t v)
{
    qatomic_store_release(idx_ptr(q, off), cpu_to_le32(v));
}

static uint8_t *slot(SPSCQueue *q, uint32_t i)
{
    /* i has been sanitised: i < capacity */
    return q->mem + SPSC_SLOTS_OFFSET + (size_t)i * SPSC_SLOT_SIZE;
}

void spsc_reset(SPSCQueue *q)
{
    store_index(q, SPSC_HEAD_OFFSET, 0);
    store_index(q, SPSC_TAIL_OFFSET, 0);
}

uint32_t spsc_used(SPSCQueue *q)
{
    uint32_t head, tail;

    if (!q->capacity) {
        return 0;
    }
    head = load_index(q, SPSC_HEAD_OFFSET);
    tail = load_index(q, SPSC_TAIL_OFFSET);
    return (head + q->capacity - tail) % q->capacity;
}

uint32_t spsc_free(SPSCQueue *q)
{
    return q->capacity ? q->capacity - 1 - spsc_used(q) : 0;
}

bool spsc_send(SPSCQueue *q, const void *msg, size_t len)
{
    uint32_t head, next;
    uint8_t *s;

    if (!q->capacity || len > SPSC_SLOT_SIZE) {
        return false;
    }
    head = load_index(q, SPSC_HEAD_OFFSET);
    next = (head + 1) % q->capacity;
    if (next == load_index(q, SPSC_TAIL_OFFSET)) {
        return false;
    }
    s = slot(q, head);
    memcpy(s, msg, len);
    memset(s + len, 0, SPSC_SLOT_SIZE - len);
    /* the release store orders the slot contents before the new head */
    store_index(q, SPSC_HEAD_OFFSET, next);
    return true;
}

bool spsc_recv(SPSCQueue *q, void *buf)
{
    uint32_t head, tail;

    if (!q->capacity) {
        return false;
    }
    /* the acquire load orders the head before the slot contents */
    head = load_index(q, SPSC_HEAD_OFFSET);
    tail = load_index(q, SPSC_TAIL_OFFSET);
    if (head == tail) {
        return false;
    }
    memcpy(buf, slot(q, tail), SPSC_SLOT_SIZE);
    /* and the copy is complete before the slot is handed back */
    smp_mb();
    store_index(q, SPSC_TAIL_OFFSET, (tail + 1) % q->capacity);
    return true;
}
