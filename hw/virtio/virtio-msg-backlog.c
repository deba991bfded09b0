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

static bool coalesce(VirtIOMSGBacklog *b, const VirtIOMSG *msg,
                     const uint8_t *buf, size_t len)
{
    if (msg->type != 0 || (msg->id != VIRTIO_MSG_EVENT_USED &&
                           msg->id != VIRTIO_MSG_EVENT_CONFIG)) {
        return false;
    }
    for (uint32_t i = 0; i < b->count; i++) {
        uint8_t *e = entry(b, i);

        if (e[0] != msg->type || e[1] != msg->id ||
            lduw_le_p(e + 2) != msg->dev_num) {
            continue;
        }
        if (msg->id == VIRTIO_MSG_EVENT_CONFIG) {
            memset(e, 0, SPSC_SLOT_SIZE);
            memcpy(e, buf, len);
            return true;
        }
        if (ldl_le_p(e + VIRTIO_MSG_HDR_SIZE) == msg->vq.index) {
            return true;
        }
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
