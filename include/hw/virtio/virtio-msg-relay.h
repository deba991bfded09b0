/*
 * virtio-msg relay: joins a bus whose driver is elsewhere (a guest behind
 * virtio-msg-amp-pci) to a bus whose devices are elsewhere (a link to a
 * device-side process)
 *
 * Messages pass unchanged (dev_num and token kept) in their own direction
 * only: requests, EVENT_AVAIL and bus requests of the driver go to the
 * link, responses, EVENT_USED, EVENT_CONFIG and EVENT_DEVICE come back.
 * Neither bus hosts devices or drivers of its own while relayed.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_RELAY_H
#define HW_VIRTIO_VIRTIO_MSG_RELAY_H

#include "hw/virtio/virtio-msg-bus.h"

/*
 * virtio_msg_relay_connect: relay @driver_bus, where the driver is, to the
 * virtio-msg bus called @link_name, where the devices are.
 */
bool virtio_msg_relay_connect(VirtIOMSGBus *driver_bus, const char *link_name,
                              Error **errp);

/* Undo virtio_msg_relay_connect() (either bus goes away). */
void virtio_msg_relay_disconnect(VirtIOMSGBus *bus);

/* A message received on relayed @bus, decoded as @msg, raw at @buf. */
void virtio_msg_relay_forward(VirtIOMSGBus *bus, const VirtIOMSG *msg,
                              const uint8_t *buf, size_t len);

/* May relayed @bus take more messages (is the other bus not congested)? */
bool virtio_msg_relay_can_receive(VirtIOMSGBus *bus);

/* The link of relayed @bus went down. */
void virtio_msg_relay_link_down(VirtIOMSGBus *bus);

/*
 * The driver side of @bus was reset (e.g. PCI reset): if @bus is relayed,
 * reset the devices it has seen on the link.
 */
void virtio_msg_relay_driver_reset(VirtIOMSGBus *bus);

#endif
