/*
 * virtio-msg-proxy-driver: a virtio device whose real device is elsewhere
 *
 * It shows the guest an ordinary virtio device (behind virtio-mmio, or
 * virtio-pci with virtio-msg-proxy-driver-pci) and turns the guest's
 * accesses into virtio-msg requests to a device on any virtio-msg bus, for
 * example in another QEMU.  Its identity (device id, features, config
 * size, queues) is the remote device's, fetched once the machine is built.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_PROXY_DRIVER_H
#define HW_VIRTIO_VIRTIO_MSG_PROXY_DRIVER_H

#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-msg-bus.h"
#include "hw/virtio/virtio-msg-driver.h"
#include "qemu/notify.h"

#define TYPE_VIRTIO_MSG_PROXY_DRIVER "virtio-msg-proxy-driver"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMSGProxyDriver, VIRTIO_MSG_PROXY_DRIVER)

typedef struct VirtIOMSGProxyRefresh VirtIOMSGProxyRefresh;

/* Limits on what a remote device may claim */
#define VIRTIO_MSG_PROXY_MAX_QUEUES     64
#define VIRTIO_MSG_PROXY_MAX_CONFIG     4096

struct VirtIOMSGProxyDriver {
    VirtIODevice parent_obj;

    /* Properties */
    char *msg_bus;
    uint16_t dev_num;
    uint32_t virtio_id;
    uint32_t timeout_ms;

    VirtIOMSGBus *bus;
    VirtIOMSGDriver *driver;
    Notifier machine_done;
    QEMUBH *refail_bh;
    bool connected;             /* the identity was asked for */
    bool ready;                 /* and taken */
    uint64_t remote_features;
    uint32_t remote_status;     /* as last confirmed by the device */
    uint32_t num_queues;
    uint16_t queue_max[VIRTIO_MSG_PROXY_MAX_QUEUES];   /* remote maxima */
    /* The device's config space as last read, valid for generation */
    bool config_valid;
    uint32_t generation;
    uint8_t *config_cache;
    VirtIOMSGProxyRefresh *refresh;
};

/*
 * Take the remote device's identity, waiting (bounded, once per bus) for
 * the link if need be; done once, when the machine is complete
 * (transports that need the identity then call it first).  No peer, or an
 * unusable remote device, leaves a failed device and QEMU running.
 */
void virtio_msg_proxy_driver_connect(VirtIOMSGProxyDriver *s);

#endif
