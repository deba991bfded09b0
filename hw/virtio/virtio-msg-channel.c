/*
 * virtio-msg channel: a pair of SPSC queues shared with a peer, plus the
 * backlog of what does not fit yet
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "migration/vmstate.h"
#include "hw/virtio/virtio-msg-channel.h"
#include "trace.h"

void virtio_msg_channel_init(VirtIOMSGChannel *c, const char *name)
{
    c->name = name;
    virtio_msg_channel_detach(c);
}

void virtio_msg_channel_attach(VirtIOMSGChannel *c, void *tx, size_t tx_size,
                               void *rx, size_t rx_size)
{
    virtio_msg_channel_detach(c);
    spsc_init(&c->tx, tx, tx_size);
    spsc_init(&c->rx, rx, rx_size);
    c->attached = true;
}

void virtio_msg_channel_detach(VirtIOMSGChannel *c)
{
    c->attached = false;
    c->more = false;
    c->tx = (SPSCQueue) { };
    c->rx = (SPSCQueue) { };
    virtio_msg_backlog_reset(&c->backlog);
}

VirtIOMSGChannelResult virtio_msg_channel_send(VirtIOMSGChannel *c,
                                               const VirtIOMSG *msg,
                                               const uint8_t *buf,
                                               size_t len)
{
    if (!c->attached) {
        return VIRTIO_MSG_CHANNEL_DROPPED;
    }
    if (!c->backlog.count && spsc_send(&c->tx, buf, MIN(len,
                                                         SPSC_SLOT_SIZE))) {
        return VIRTIO_MSG_CHANNEL_SENT;
    }
    switch (virtio_msg_backlog_add(&c->backlog, msg, buf, len)) {
    case VIRTIO_MSG_BACKLOG_COALESCED:
        trace_virtio_msg_channel_coalesce(c->name, msg->id, msg->dev_num);
        return VIRTIO_MSG_CHANNEL_WAITING;
    case VIRTIO_MSG_BACKLOG_QUEUED:
        trace_virtio_msg_channel_backlog(c->name, c->backlog.count);
        return VIRTIO_MSG_CHANNEL_WAITING;
    case VIRTIO_MSG_BACKLOG_FULL:
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: the peer does not consume its queue and %d "
                      "messages wait; dropping %s for dev %u\n", c->name,
                      VIRTIO_MSG_BACKLOG_MAX,
                      virtio_msg_name(msg->type, msg->id), msg->dev_num);
        trace_virtio_msg_channel_full(c->name, msg->id, msg->dev_num);
        return VIRTIO_MSG_CHANNEL_DROPPED;
    }
}

uint32_t virtio_msg_channel_flush(VirtIOMSGChannel *c)
{
    uint32_t n;

    if (!c->attached || !c->backlog.count) {
        return 0;
    }
    n = virtio_msg_backlog_flush(&c->backlog, &c->tx);
    if (n) {
        trace_virtio_msg_channel_backlog(c->name, c->backlog.count);
    }
    return n;
}

uint32_t virtio_msg_channel_receive(VirtIOMSGChannel *c, VirtIOMSGBus *bus)
{
    uint8_t slot[SPSC_SLOT_SIZE];
    uint32_t n = 0;

    if (c->receiving || !c->attached) {
        return 0;
    }
    c->receiving = true;
    /* a handler may detach the channel (link loss): check each time */
    while (n < c->rx.capacity && virtio_msg_channel_can_receive(c, bus) &&
           spsc_recv(&c->rx, slot)) {
        n++;
        virtio_msg_bus_receive(bus, slot, sizeof(slot));
    }
    c->more = c->attached && !spsc_empty(&c->rx);
    c->receiving = false;
    return n;
}

bool virtio_msg_channel_can_receive(VirtIOMSGChannel *c, VirtIOMSGBus *bus)
{
    return c->attached && c->backlog.count < VIRTIO_MSG_CHANNEL_PAUSE &&
           virtio_msg_bus_can_receive(bus);
}

bool virtio_msg_channel_congested(VirtIOMSGChannel *c)
{
    return c->attached && c->backlog.count >= VIRTIO_MSG_CHANNEL_PAUSE;
}

bool virtio_msg_channel_busy(VirtIOMSGChannel *c)
{
    return c->attached && (c->backlog.count || c->more);
}

void virtio_msg_channel_purge(VirtIOMSGChannel *c, uint16_t dev_num)
{
    virtio_msg_backlog_purge(&c->backlog, dev_num);
}

const VMStateDescription vmstate_virtio_msg_channel = {
    .name = "virtio-msg-channel",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(more, VirtIOMSGChannel),
        VMSTATE_STRUCT(backlog, VirtIOMSGChannel, 1,
                       vmstate_virtio_msg_backlog, VirtIOMSGBacklog),
        VMSTATE_END_OF_LIST()
    },
};
