/*
 * virtio-blk driver of the test program, on top of any transport
 *
 * Requests use three descriptors (header, data, status); request slot i
 * owns descriptors 3i..3i+2, so the head of a used chain tells the slot.
 * Completions are found by polling the used ring; the transport's poll
 * operation takes the device's notifications meanwhile.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "virtio-blk.h"

#define VIRTIO_BLK_T_IN         0
#define VIRTIO_BLK_T_OUT        1
#define VIRTIO_BLK_S_OK         0

#define VBLK_QUEUE_MAX          256
#define VBLK_IO_TIMEOUT_MS      10000

/* Check test: sectors written at the start and at the end of the disk */
#define CHECK_HEAD_SECTORS      256
#define CHECK_TAIL_SECTORS      16
#define RECORD_SIZE             16

bool vblk_init(Vblk *b, VirtioDev *vdev, bool used_events)
{
    uint8_t cap[8];

    memset(b, 0, sizeof(*b));
    b->vdev = vdev;
    if (!virtio_init_device(vdev, 0, 0) ||
        !vdev->ops->read_config(vdev, 0, cap, sizeof(cap))) {
        return false;
    }
    b->capacity = get_le64(cap);
    if (!virtqueue_create(vdev, &b->vq, 0, VBLK_QUEUE_MAX)) {
        return false;
    }
    if (!used_events) {
        b->vq.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
    }
    b->max_inflight = b->vq.size / 3;
    b->reqs = heap_alloc(sizeof(VblkReq) * b->max_inflight, 64);
    if (!b->reqs || !b->max_inflight) {
        printf("virtio-blk: no memory for requests\n");
        return false;
    }
    if (!virtio_driver_ok(vdev)) {
        return false;
    }
    printf("virtio-blk: %s: capacity %lu sectors, features 0x%lx, "
           "up to %u requests in flight\n", vdev->ops->name, b->capacity,
           vdev->features, b->max_inflight);
    return true;
}

static void vblk_submit(Vblk *b, unsigned slot, bool write, uint64_t sector,
                        void *buf, uint32_t len)
{
    VblkReq *r = &b->reqs[slot];
    VringDesc *d = &b->vq.desc[3 * slot];

    r->type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
    r->reserved = 0;
    r->sector = sector;
    r->status = 0xff;
    r->busy = true;
    r->data_len = len;

    d[0].addr = (uintptr_t)r;
    d[0].len = 16;
    d[0].flags = VRING_DESC_F_NEXT;
    d[0].next = 3 * slot + 1;
    d[1].addr = (uintptr_t)buf;
    d[1].len = len;
    d[1].flags = VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE);
    d[1].next = 3 * slot + 2;
    d[2].addr = (uintptr_t)&r->status;
    d[2].len = 1;
    d[2].flags = VRING_DESC_F_WRITE;
    d[2].next = 0;
    virtqueue_push(&b->vq, 3 * slot);
    b->inflight++;
}

/*
 * Wait for one completion and check it; returns its slot, or -1 on error
 * or timeout (after printing what went wrong).
 */
static int vblk_complete(Vblk *b, uint64_t deadline)
{
    VirtioDev *vdev = b->vdev;
    uint32_t head, len, expect;
    unsigned slot;
    VblkReq *r;

    while (!virtqueue_pop(&b->vq, &head, &len)) {
        if (vdev->ops->poll && !vdev->ops->poll(vdev)) {
            return -1;
        }
        if (timer_expired(deadline)) {
            printf("virtio-blk: timeout waiting for a completion "
                   "(%u in flight, avail idx %u, used idx %u)\n",
                   b->inflight, b->vq.avail_idx, b->vq.used->idx);
            return -1;
        }
    }
    slot = head / 3;
    if (head % 3 || slot >= b->max_inflight || !b->reqs[slot].busy) {
        printf("virtio-blk: used ring returned descriptor %u, which is "
               "not the head of a request in flight\n", head);
        return -1;
    }
    r = &b->reqs[slot];
    r->busy = false;
    b->inflight--;
    b->completed++;
    expect = 1 + (r->type == VIRTIO_BLK_T_IN ? r->data_len : 0);
    if (r->status != VIRTIO_BLK_S_OK || len != expect) {
        printf("virtio-blk: %s of sector %lu: status %u, used length %u "
               "(expected %u)\n", r->type == VIRTIO_BLK_T_IN ? "read" :
               "write", r->sector, r->status, len, expect);
        return -1;
    }
    return slot;
}

/* A free slot, waiting for a completion if all @qd are busy */
static int vblk_free_slot(Vblk *b, unsigned qd, uint64_t deadline)
{
    for (unsigned i = 0; i < qd; i++) {
        if (!b->reqs[i].busy) {
            return i;
        }
    }
    if (!virtqueue_kick(b->vdev, &b->vq)) {
        return -1;
    }
    return vblk_complete(b, deadline);
}

static bool vblk_drain(Vblk *b, uint64_t deadline)
{
    if (!virtqueue_kick(b->vdev, &b->vq)) {
        return false;
    }
    while (b->inflight) {
        if (vblk_complete(b, deadline) < 0) {
            return false;
        }
    }
    return true;
}

/*
 * Transfer @nsectors from/to @buf starting at @sector, in requests whose
 * size (in sectors) @chunk returns, with at most @qd in flight.
 */
static bool vblk_transfer(Vblk *b, bool write, uint64_t sector,
                          unsigned nsectors, uint8_t *buf, unsigned qd,
                          unsigned (*chunk)(unsigned n))
{
    uint64_t deadline = timer_deadline_ms(VBLK_IO_TIMEOUT_MS);
    unsigned done = 0;

    for (unsigned n = 0; done < nsectors; n++) {
        unsigned count = MIN(chunk(n), nsectors - done);
        int slot = vblk_free_slot(b, qd, deadline);

        if (slot < 0) {
            return false;
        }
        vblk_submit(b, slot, write, sector + done,
                    buf + done * VBLK_SECTOR_SIZE,
                    count * VBLK_SECTOR_SIZE);
        done += count;
        /* notify in batches of qd requests */
        if (b->inflight == qd && !virtqueue_kick(b->vdev, &b->vq)) {
            return false;
        }
    }
    return vblk_drain(b, deadline);
}

/* Writes: 1..16 sectors, varying; reads: 16 sectors */
static unsigned write_chunk(unsigned n)
{
    return 1 + (n * 5) % 16;
}

static unsigned read_chunk(unsigned n)
{
    return 16;
}

/*
 * Each sector holds 32 records of 16 characters "Tssssss.rr.vblk\n":
 * T the tag, ssssss the sector number, rr the record number (0-31).
 */
static void fill_pattern(uint8_t *buf, char tag, uint64_t sector,
                         unsigned nsectors)
{
    char rec[RECORD_SIZE + 1];

    for (unsigned s = 0; s < nsectors; s++) {
        for (unsigned r = 0; r < VBLK_SECTOR_SIZE / RECORD_SIZE; r++) {
            snprintf(rec, sizeof(rec), "%c%06lu.%02u.vblk\n", tag,
                     sector + s, r);
            memcpy(buf + s * VBLK_SECTOR_SIZE + r * RECORD_SIZE, rec,
                   RECORD_SIZE);
        }
    }
}

static bool check_region(Vblk *b, char tag, uint64_t sector,
                         unsigned nsectors, unsigned qd)
{
    unsigned bytes = nsectors * VBLK_SECTOR_SIZE;
    uint8_t *expect = heap_alloc(bytes, 4096);
    uint8_t *got = heap_alloc(bytes, 4096);

    if (!expect || !got) {
        printf("check: out of memory\n");
        return false;
    }
    fill_pattern(expect, tag, sector, nsectors);
    memset(got, 0x5a, bytes);
    if (!vblk_transfer(b, true, sector, nsectors, expect, qd, write_chunk) ||
        !vblk_transfer(b, false, sector, nsectors, got, qd, read_chunk)) {
        return false;
    }
    for (unsigned i = 0; i < bytes; i++) {
        if (expect[i] != got[i]) {
            printf("check: mismatch at sector %lu byte %u: read 0x%02x, "
                   "wrote 0x%02x\n", sector + i / VBLK_SECTOR_SIZE,
                   i % VBLK_SECTOR_SIZE, got[i], expect[i]);
            return false;
        }
    }
    printf("check: sectors %lu-%lu written and read back (%u bytes)\n",
           sector, sector + nsectors - 1, bytes);
    return true;
}

bool vblk_check(Vblk *b, char tag, unsigned qd)
{
    if (b->capacity < 2 * CHECK_HEAD_SECTORS) {
        printf("check: disk too small (%lu sectors, need %u)\n",
               b->capacity, 2 * CHECK_HEAD_SECTORS);
        return false;
    }
    qd = MIN(qd ? qd : 1, b->max_inflight);
    printf("check: queue depth %u\n", qd);
    return check_region(b, tag, 0, CHECK_HEAD_SECTORS, qd) &&
           check_region(b, tag, b->capacity - CHECK_TAIL_SECTORS,
                        CHECK_TAIL_SECTORS, qd);
}

bool vblk_bench(Vblk *b, unsigned qd, unsigned bs, uint64_t count)
{
    unsigned sectors = bs / VBLK_SECTOR_SIZE;
    uint64_t issued = 0, done = 0, next = 0, deadline;
    uint64_t start, ticks, us;
    unsigned events;
    uint8_t *bufs;

    if (!sectors || bs % VBLK_SECTOR_SIZE || sectors > b->capacity) {
        printf("bench: bs=%u must be a multiple of 512 within the disk\n",
               bs);
        return false;
    }
    if (!qd || qd > b->max_inflight) {
        printf("bench: qd=%u must be 1..%u\n", qd, b->max_inflight);
        return false;
    }
    bufs = heap_alloc((uint64_t)qd * bs, 4096);
    if (!bufs) {
        printf("bench: no memory for %u buffers of %u bytes (%lu free)\n",
               qd, bs, heap_free_bytes());
        return false;
    }

    start = timer_now();
    /* generous: at least 10 s, plus 1 ms per request */
    deadline = timer_deadline_ms(VBLK_IO_TIMEOUT_MS + count);
    while (done < count) {
        /* fill the queue, then notify once */
        while (issued < count && b->inflight < qd) {
            unsigned slot = 0;

            while (b->reqs[slot].busy) {
                slot++;
            }
            if (next + sectors > b->capacity) {
                next = 0;
            }
            vblk_submit(b, slot, false, next, bufs + (uint64_t)slot * bs,
                        bs);
            next += sectors;
            issued++;
        }
        if (!virtqueue_kick(b->vdev, &b->vq) ||
            vblk_complete(b, deadline) < 0) {
            return false;
        }
        done++;
    }
    ticks = timer_now() - start;
    us = timer_ticks_to_us(ticks);
    if (!us) {
        us = 1;
    }
    events = !(b->vq.avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
    printf("bench: transport=%s qd=%u bs=%u count=%lu events=%u: %lu us, "
           "%lu IOPS, %lu.%02lu MB/s\n", b->vdev->ops->name, qd, bs, count,
           events, us, count * 1000000 / us, count * bs / us,
           count * bs * 100 / us % 100);
    return true;
}
