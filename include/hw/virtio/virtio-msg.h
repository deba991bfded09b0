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
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMSGProxy, VIRTIO_MSG)

/* The virtio-bus of a transport */
#define TYPE_VIRTIO_MSG_VIRTIO_BUS "virtio-msg-virtio-bus"

/* Vendor id reported by DEVICE_INFO ("QEMU", as virtio-mmio reports) */
#define VIRTIO_MSG_VENDOR_ID 0x554d4551

/*
 * Notification vectors: queue n notifies with vector n, configuration
 * changes with VIRTIO_MSG_CONFIG_VECTOR.
 */
#define VIRTIO_MSG_CONFIG_VECTOR VIRTIO_QUEUE_MAX

struct VirtIOMSGProxy {
    DeviceState parent_obj;

    VirtioBusState bus;
    uint16_t dev_num;
    /* Offer VIRTIO_F_NOTIFICATION_DATA to the driver */
    bool notification_data;
    /* Driver features received so far, applied at FEATURES_OK */
    uint64_t guest_features;
};

/* Handle a decoded transport message addressed to this transport. */
void virtio_msg_handle(VirtIOMSGProxy *proxy, const VirtIOMSG *msg);

/* The virtio device plugged into this transport, if any. */
VirtIODevice *virtio_msg_get_vdev(VirtIOMSGProxy *proxy);

#endif
