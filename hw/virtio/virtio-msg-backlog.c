/*
 * virtio-msg backlog: messages waiting for room in a full SPSC queue
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "migration/vmstate.h"
#include "hw/virtio/virtio-msg-backlog.h"

static uint8_t *entry(VirtIOMSGBacklog *b, uint32_t i)
{
    return b->slots[(b->head + i) % VIRTIO_MSG_BACKLOG_MAX];
}

/* Is @e a transport message (not a bus message) of @dev_num? */
static bool is_transport_msg_of(const uint8_t *e, uint16_t dev_num)
{
    return !(e[0] & VIRTIO_MSG_TYPE_BUS) && lduw_le_p(e + 2) == dev_num;
}

/*
 * Does @e separate notifications of @dev_num that come before it from
 * those that come after: the reply to a device reset (SET_DEVICE_STATUS)
 * or to a queue reset (RESET_VQUEUE, of any queue), or the bus event that
 * announces the device added or removed?  On the driver side (@avail: an
 * EVENT_AVAIL waits), any request of the device: a kick never moves
 * across a status change or a queue setup or reset.
 */
static bool is_barrier(const uint8_t *e, uint16_t dev_num, bool avail)
{
    if (e[0] & VIRTIO_MSG_TYPE_BUS) {
        return e[1] == VIRTIO_MSG_BUS_EVENT_DEVICE &&
               lduw_le_p(e + VIRTIO_MSG_HDR_SIZE) == dev_num;
    }
    if (lduw_le_p(e + 2) != dev_num) {
        return false;
    }
    if (avail) {
        return e[0] == 0 && e[1] < VIRTIO_MSG_EVENT_CONFIG;
    }
    return (e[0] & VIRTIO_MSG_TYPE_RESPONSE) &&
           (e[1] == VIRTIO_MSG_SET_DEVICE_STATUS ||
            e[1] == VIRTIO_MSG_RESET_VQUEUE);
}

/*
 * Merge a new EVENT_USED, EVENT_AVAIL or EVENT_CONFIG into a waiting one
 * that says the same (of the same device, and queue for the first two).
 * EVENT_CONFIG and EVENT_AVAIL replace the waiting one: they carry the
 * newest status and generation, or next available offset.  Only a waiting
 * one behind the last barrier of the device qualifies: a notification
 * never moves across a reset or EVENT_DEVICE.
 */
static bool coalesce(VirtIOMSGBacklog *b, const VirtIOMSG *msg,
                     const uint8_t *buf, size_t len)
{
    bool avail = msg->id == VIRTIO_MSG_EVENT_AVAIL;

    if (msg->type != 0 || (msg->id != VIRTIO_MSG_EVENT_USED &&
                           msg->id != VIRTIO_MSG_EVENT_CONFIG && !avail)) {
        return false;
    }
    for (uint32_t i = b->count; i-- > 0;) {
        uint8_t *e = entry(b, i);

        if (is_barrier(e, msg->dev_num, avail)) {
            return false;
        }
        if (e[0] != msg->type || e[1] != msg->id ||
            lduw_le_p(e + 2) != msg->dev_num ||
            (msg->id != VIRTIO_MSG_EVENT_CONFIG &&
             ldl_le_p(e + VIRTIO_MSG_HDR_SIZE) != msg->vq.index)) {
            continue;
        }
        if (msg->id != VIRTIO_MSG_EVENT_USED) {
            memset(e, 0, SPSC_SLOT_SIZE);
            memcpy(e, buf, len);
        }
        return true;
    }
    return false;
}

VirtIOMSGBacklogResult virtio_msg_backlog_add(VirtIOMSGBacklog *b,
                                              const VirtIOMSG *msg,
                                              const uint8_t *buf,
                                              size_t len)
{
    uint8_t *e;

    len = MIN(len, SPSC_SLOT_SIZE);
    if (coalesce(b, msg, buf, len)) {
        return VIRTIO_MSG_BACKLOG_COALESCED;
    }
    if (b->count == VIRTIO_MSG_BACKLOG_MAX) {
        return VIRTIO_MSG_BACKLOG_FULL;
    }
    e = entry(b, b->count);
    memset(e, 0, SPSC_SLOT_SIZE);
    memcpy(e, buf, len);
    b->count++;
    return VIRTIO_MSG_BACKLOG_QUEUED;
}

uint32_t virtio_msg_backlog_flush(VirtIOMSGBacklog *b, SPSCQueue *q)
{
    uint32_t sent = 0;

    while (b->count && spsc_send(q, entry(b, 0), SPSC_SLOT_SIZE)) {
        b->head = (b->head + 1) % VIRTIO_MSG_BACKLOG_MAX;
        b->count--;
        sent++;
    }
    return sent;
}

void virtio_msg_backlog_purge(VirtIOMSGBacklog *b, uint16_t dev_num)
{
    uint32_t kept = 0;

    for (uint32_t i = 0; i < b->count; i++) {
        uint8_t *e = entry(b, i);

        if (is_transport_msg_of(e, dev_num)) {
            continue;
        }
        if (kept != i) {
            memcpy(entry(b, kept), e, SPSC_SLOT_SIZE);
        }
        kept++;
    }
    b->count = kept;
}

void virtio_msg_backlog_reset(VirtIOMSGBacklog *b)
{
    b->head = 0;
    b->count = 0;
}

static int virtio_msg_backlog_post_load(void *opaque, int version_id)
{
    VirtIOMSGBacklog *b = opaque;

    if (b->head >= VIRTIO_MSG_BACKLOG_MAX ||
        b->count > VIRTIO_MSG_BACKLOG_MAX) {
        return -EINVAL;
    }
    return 0;
}

const VMStateDescription vmstate_virtio_msg_backlog = {
    .name = "virtio-msg-backlog",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = virtio_msg_backlog_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(head, VirtIOMSGBacklog),
        VMSTATE_UINT32(count, VirtIOMSGBacklog),
        VMSTATE_UINT8_2DARRAY(slots, VirtIOMSGBacklog,
                              VIRTIO_MSG_BACKLOG_MAX, SPSC_SLOT_SIZE),
        VMSTATE_END_OF_LIST()
    },
};
