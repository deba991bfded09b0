/*
 * virtio-msg transport, device side
 *
 * One TYPE_VIRTIO_MSG device per dev_num of a virtio-msg bus: it owns the
 * virtio-bus into which a virtio device model plugs and turns virtio-msg
 * transport messages into operations on that device.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_H
#define HW_VIRTIO_VIRTIO_MSG_H

#include "hw/qdev-core.h"
#include "hw/virtio/virtio-bus.h"
#include "hw/virtio/virtio-msg-bus.h"

#define TYPE_VIRTIO_MSG "virtio-msg"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMSGTransport, VIRTIO_MSG)

/* The virtio-bus of a transport */
#define TYPE_VIRTIO_MSG_VIRTIO_BUS "virtio-msg-virtio-bus"

/* Vendor id reported by DEVICE_INFO ("QEMU", as virtio-mmio reports) */
#define VIRTIO_MSG_VENDOR_ID 0x554d4551

/*
 * Notification vectors: queue n notifies with vector n, configuration
 * changes with VIRTIO_MSG_CONFIG_VECTOR.
 */
#define VIRTIO_MSG_CONFIG_VECTOR VIRTIO_QUEUE_MAX

struct VirtIOMSGTransport {
    DeviceState parent_obj;

    VirtioBusState bus;
    uint16_t dev_num;
    /* Offer VIRTIO_F_NOTIFICATION_DATA to the driver */
    bool notification_data;
    /* EVENT_AVAIL signals the queue's host notifier (see virtio-msg.c) */
    bool ioeventfd;
    /* Driver features received so far, applied at FEATURES_OK */
    uint64_t guest_features;
    /* The backend keeps us from the driver's memory (PCI: BME clear) */
    bool dma_off;
};

/* Handle a decoded transport message addressed to this transport. */
void virtio_msg_handle(VirtIOMSGTransport *xport, const VirtIOMSG *msg);

/* The virtio device plugged into this transport, if any. */
VirtIODevice *virtio_msg_get_vdev(VirtIOMSGTransport *xport);

/*
 * virtio_msg_set_dma_enabled: may the device reach the driver's memory?
 * A backend that can cut the device off (the AMP PCI device: Bus Master
 * Enable) calls this when that changes.  Cutting it off resets the device
 * (status 0); until it is enabled again the device takes no buffers, even
 * if the driver sets it up again, and queue notifications are dropped.
 */
void virtio_msg_set_dma_enabled(VirtIOMSGTransport *xport, bool enabled);

#endif
