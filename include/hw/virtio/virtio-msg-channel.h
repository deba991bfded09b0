/*
 * virtio-msg channel: a pair of SPSC queues shared with a peer, plus the
 * backlog of what does not fit yet
 *
 * What every shared-memory backend of a virtio-msg bus needs, with one
 * policy: messages go to the transmit queue, or wait in a bounded backlog
 * (events coalesce there) while the peer does not consume; received
 * messages are handed to the bus at most one queue's worth at a time, none
 * while VIRTIO_MSG_CHANNEL_PAUSE replies wait (a peer that does not read
 * its replies cannot make us queue more), and never re-entered.  A detached
 * channel has no queues, no backlog and no pending work: nothing is sent
 * or received.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_CHANNEL_H
#define HW_VIRTIO_VIRTIO_MSG_CHANNEL_H

#include "hw/virtio/virtio-msg-bus.h"
#include "hw/virtio/virtio-msg-spsc.h"
#include "hw/virtio/virtio-msg-backlog.h"

/* Receiving stops while this many messages wait in the backlog */
#define VIRTIO_MSG_CHANNEL_PAUSE    64

typedef struct VirtIOMSGChannel {
    const char *name;           /* for logs and traces */
    SPSCQueue tx;               /* we produce */
    SPSCQueue rx;               /* the peer produces */
    bool attached;
    bool receiving;             /* re-entrancy guard */
    bool more;                  /* stopped with messages left in rx */
    VirtIOMSGBacklog backlog;
} VirtIOMSGChannel;

typedef enum VirtIOMSGChannelResult {
    VIRTIO_MSG_CHANNEL_SENT,    /* in the transmit queue: ring the peer */
    VIRTIO_MSG_CHANNEL_WAITING, /* in the backlog (or coalesced) */
    VIRTIO_MSG_CHANNEL_DROPPED, /* detached, or backlog full (logged) */
} VirtIOMSGChannelResult;

void virtio_msg_channel_init(VirtIOMSGChannel *c, const char *name);

/* Use the queue windows @tx and @rx (see spsc_init); starts clean. */
void virtio_msg_channel_attach(VirtIOMSGChannel *c, void *tx, size_t tx_size,
                               void *rx, size_t rx_size);

/* Forget the queues, the backlog and any pending work. */
void virtio_msg_channel_detach(VirtIOMSGChannel *c);

/* Send @msg, encoded as @len bytes at @buf. */
VirtIOMSGChannelResult virtio_msg_channel_send(VirtIOMSGChannel *c,
                                               const VirtIOMSG *msg,
                                               const uint8_t *buf,
                                               size_t len);

/* Move backlog messages to the transmit queue; returns how many. */
uint32_t virtio_msg_channel_flush(VirtIOMSGChannel *c);

/*
 * Hand received messages to virtio_msg_bus_receive(@bus), at most one
 * queue's worth; returns how many.  Does nothing when called from inside
 * itself.
 */
uint32_t virtio_msg_channel_receive(VirtIOMSGChannel *c, VirtIOMSGBus *bus);

/*
 * May received messages be handed to @bus now?  Not while
 * VIRTIO_MSG_CHANNEL_PAUSE replies wait, nor while @bus cannot take them
 * (see virtio_msg_bus_can_receive()).
 */
bool virtio_msg_channel_can_receive(VirtIOMSGChannel *c, VirtIOMSGBus *bus);

/* Do VIRTIO_MSG_CHANNEL_PAUSE messages wait to be sent? */
bool virtio_msg_channel_congested(VirtIOMSGChannel *c);

/* Is there work left (backlog, or received messages not handled yet)? */
bool virtio_msg_channel_busy(VirtIOMSGChannel *c);

/* Drop what waits in the backlog for @dev_num. */
void virtio_msg_channel_purge(VirtIOMSGChannel *c, uint16_t dev_num);

extern const VMStateDescription vmstate_virtio_msg_channel;

#endif
