/*
 * Single-producer single-consumer message queue in shared memory
 *
 * The queue format of the virtio-msg AMP link
 * (docs/system/devices/virtio/virtio-msg-amp-pci.rst):
 *
 *   offset 0    head, u32 LE, written by the producer only
 *   offset 64   tail, u32 LE, written by the consumer only
 *   offset 128  slots of 64 bytes, one message per slot
 *
 * The queue is empty when head == tail and full when
 * (head + 1) % capacity == tail.  The memory is shared with an untrusted
 * peer: every index read from it is reduced below the capacity before use
 * and message bytes are copied out before anyone parses them, so nothing
 * the peer writes can make us touch memory outside the queue window.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_SPSC_H
#define HW_VIRTIO_VIRTIO_MSG_SPSC_H

#define SPSC_HEAD_OFFSET    0
#define SPSC_TAIL_OFFSET    64
#define SPSC_SLOTS_OFFSET   128
#define SPSC_SLOT_SIZE      64
/* Smallest window that holds two slots (one usable). */
#define SPSC_MIN_WINDOW     (SPSC_SLOTS_OFFSET + 2 * SPSC_SLOT_SIZE)

typedef struct SPSCQueue {
    uint8_t *mem;           /* start of the queue window */
    uint32_t capacity;      /* number of slots */
} SPSCQueue;

/* Slots that fit a window of @size bytes. */
static inline uint32_t spsc_capacity_for(size_t size)
{
    return size < SPSC_MIN_WINDOW ? 0
           : (size - SPSC_SLOTS_OFFSET) / SPSC_SLOT_SIZE;
}

/*
 * spsc_init: attach to the queue window @mem of @size bytes (at least
 * SPSC_MIN_WINDOW, @mem 4-byte aligned).  Does not touch the memory.
 */
void spsc_init(SPSCQueue *q, void *mem, size_t size);

/* spsc_reset: zero head and tail (the queue becomes empty). */
void spsc_reset(SPSCQueue *q);

/*
 * spsc_send: producer side.  Copy @len bytes (at most SPSC_SLOT_SIZE) of
 * @msg into the next slot, zero-padded, and publish it.
 * Returns false, changing nothing, when the queue is full.
 */
bool spsc_send(SPSCQueue *q, const void *msg, size_t len);

/*
 * spsc_recv: consumer side.  Copy the oldest slot (SPSC_SLOT_SIZE bytes)
 * into @buf and release it.  Returns false when the queue is empty.
 */
bool spsc_recv(SPSCQueue *q, void *buf);

/* Messages waiting, and free slots, as seen now (indices sanitised). */
uint32_t spsc_used(SPSCQueue *q);
uint32_t spsc_free(SPSCQueue *q);

static inline bool spsc_empty(SPSCQueue *q)
{
    return spsc_used(q) == 0;
}

static inline bool spsc_full(SPSCQueue *q)
{
    return spsc_free(q) == 0;
}

#endif
