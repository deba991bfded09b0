/*
 * The two virtio transports of the test program
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef GUEST_TRANSPORTS_H
#define GUEST_TRANSPORTS_H

#include "pci.h"
#include "virtio.h"
#include "virtio-msg-drv.h"

/* virtio-msg: device @dev_num behind @link (virtio-msg-transport.c) */
typedef struct VmsgVirtio {
    VmsgLink *link;
    uint16_t dev_num;
} VmsgVirtio;

void vmsg_virtio_attach(VirtioDev *vdev, VmsgVirtio *t, VmsgLink *link,
                        uint16_t dev_num);

/* virtio-pci, modern interface only (virtio-pci-drv.c) */
typedef struct VpciVirtio {
    PciDev *pdev;
    uintptr_t common;                   /* common configuration */
    uintptr_t notify;                   /* notification area */
    uint32_t notify_mult;               /* notify_off_multiplier */
    uintptr_t device;                   /* device configuration */
    uint32_t device_len;
    uintptr_t queue_notify[8];          /* per queue, after queue_setup */
} VpciVirtio;

bool vpci_virtio_attach(VirtioDev *vdev, VpciVirtio *t, PciDev *pdev);

#endif
