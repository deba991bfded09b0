/*
 * virtio-msg backlog: messages waiting for room in a full SPSC queue
 *
 * A bounded FIFO of encoded messages.  An EVENT_USED for the same device
 * and queue, or an EVENT_CONFIG for the same device, that is still waiting
 * says all a new one would say, so new ones coalesce with it (an
 * EVENT_CONFIG replaces the waiting one: it carries the newest status and
 * generation).  A notification is never moved across a reset of its
 * device, though: a new one only coalesces with one that waits after the
 * device's last barrier, i.e. its last SET_DEVICE_STATUS or RESET_VQUEUE
 * reply, or bus EVENT_DEVICE naming it, still waiting.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_BACKLOG_H
#define HW_VIRTIO_VIRTIO_MSG_BACKLOG_H

#include "hw/virtio/virtio-msg-proto.h"
#include "hw/virtio/virtio-msg-spsc.h"

#define VIRTIO_MSG_BACKLOG_MAX 512

typedef struct VirtIOMSGBacklog {
    uint32_t head;
    uint32_t count;
    uint8_t slots[VIRTIO_MSG_BACKLOG_MAX][SPSC_SLOT_SIZE];
} VirtIOMSGBacklog;

typedef enum VirtIOMSGBacklogResult {
    VIRTIO_MSG_BACKLOG_QUEUED,
    VIRTIO_MSG_BACKLOG_COALESCED,
    VIRTIO_MSG_BACKLOG_FULL,        /* not queued: the caller must log it */
} VirtIOMSGBacklogResult;

/* Queue @msg, encoded as @len (<= SPSC_SLOT_SIZE) bytes at @buf. */
VirtIOMSGBacklogResult virtio_msg_backlog_add(VirtIOMSGBacklog *b,
                                              const VirtIOMSG *msg,
                                              const uint8_t *buf,
                                              size_t len);

/* Move waiting messages to @q while it has room; returns how many. */
uint32_t virtio_msg_backlog_flush(VirtIOMSGBacklog *b, SPSCQueue *q);

/*
 * Forget the transport messages (replies and events) of @dev_num that
 * still wait; the others keep their order.  Bus messages are kept.
 */
void virtio_msg_backlog_purge(VirtIOMSGBacklog *b, uint16_t dev_num);

void virtio_msg_backlog_reset(VirtIOMSGBacklog *b);

extern const VMStateDescription vmstate_virtio_msg_backlog;

#endif
