/*
 * virtio-blk driver of the test program, on top of any transport
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include "virtio.h"

#define VBLK_SECTOR_SIZE        512

/* One request in flight: its header and status byte, read by the device */
typedef struct VblkReq {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
    uint8_t status;
    bool busy;
    uint32_t data_len;
} __attribute__((aligned(64))) VblkReq;

typedef struct Vblk {
    VirtioDev *vdev;
    Virtqueue vq;
    uint64_t capacity;                  /* in 512-byte sectors */
    unsigned max_inflight;              /* three descriptors each */
    unsigned inflight;
    VblkReq *reqs;
    uint64_t completed;
} Vblk;

/*
 * Bring the device up with queue 0.  Without @used_events the driver asks
 * the device not to notify used buffers (VRING_AVAIL_F_NO_INTERRUPT): no
 * EVENT_USED messages over virtio-msg, pure polling.
 */
bool vblk_init(Vblk *b, VirtioDev *vdev, bool used_events);

/*
 * Write a pattern at the start and at the end of the disk with @qd
 * requests in flight, read it back and compare.  @tag is the first
 * character of each 16-byte record (see README.rst).
 */
bool vblk_check(Vblk *b, char tag, unsigned qd);

/* @count sequential reads of @bs bytes with @qd in flight, timed */
bool vblk_bench(Vblk *b, unsigned qd, unsigned bs, uint64_t count);

#endif
