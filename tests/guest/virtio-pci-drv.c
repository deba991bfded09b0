/*
 * virtio transport operations over virtio-pci (modern interface)
 *
 * The structures are found through the vendor-specific capabilities of
 * the function (common configuration, notifications, device
 * configuration); the legacy I/O interface is not used.  Polling only:
 * neither MSI-X nor INTx is enabled.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "transports.h"

/* struct virtio_pci_cap */
#define VPCI_CAP_CFG_TYPE       3
#define VPCI_CAP_BAR            4
#define VPCI_CAP_OFFSET         8
#define VPCI_CAP_LENGTH         12
#define VPCI_CAP_NOTIFY_MULT    16

#define VPCI_CAP_COMMON_CFG     1
#define VPCI_CAP_NOTIFY_CFG     2
#define VPCI_CAP_DEVICE_CFG     4

/* struct virtio_pci_common_cfg */
#define VPCI_DEVICE_FEATURE_SELECT  0x00
#define VPCI_DEVICE_FEATURE         0x04
#define VPCI_DRIVER_FEATURE_SELECT  0x08
#define VPCI_DRIVER_FEATURE         0x0c
#define VPCI_NUM_QUEUES             0x12
#define VPCI_DEVICE_STATUS          0x14
#define VPCI_CONFIG_GENERATION      0x15
#define VPCI_QUEUE_SELECT           0x16
#define VPCI_QUEUE_SIZE             0x18
#define VPCI_QUEUE_ENABLE           0x1c
#define VPCI_QUEUE_NOTIFY_OFF       0x1e
#define VPCI_QUEUE_DESC             0x20
#define VPCI_QUEUE_DRIVER           0x28
#define VPCI_QUEUE_DEVICE           0x30

static VpciVirtio *vpci_of(VirtioDev *vdev)
{
    return vdev->opaque;
}

static bool vpci_op_set_status(VirtioDev *vdev, uint8_t status,
                               uint8_t *result)
{
    VpciVirtio *t = vpci_of(vdev);
    uint64_t deadline = timer_deadline_ms(5000);

    mmio_write8(t->common + VPCI_DEVICE_STATUS, status);
    /* a reset is complete when the status reads 0 */
    while (status == 0 && mmio_read8(t->common + VPCI_DEVICE_STATUS)) {
        if (timer_expired(deadline)) {
            printf("virtio-pci: timeout waiting for the reset\n");
            return false;
        }
    }
    *result = mmio_read8(t->common + VPCI_DEVICE_STATUS);
    return true;
}

static bool vpci_op_get_features(VirtioDev *vdev, uint64_t *features)
{
    VpciVirtio *t = vpci_of(vdev);
    uint32_t lo, hi;

    mmio_write32(t->common + VPCI_DEVICE_FEATURE_SELECT, 0);
    lo = mmio_read32(t->common + VPCI_DEVICE_FEATURE);
    mmio_write32(t->common + VPCI_DEVICE_FEATURE_SELECT, 1);
    hi = mmio_read32(t->common + VPCI_DEVICE_FEATURE);
    *features = lo | (uint64_t)hi << 32;
    return true;
}

static bool vpci_op_set_features(VirtioDev *vdev, uint64_t features)
{
    VpciVirtio *t = vpci_of(vdev);

    mmio_write32(t->common + VPCI_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(t->common + VPCI_DRIVER_FEATURE, features);
    mmio_write32(t->common + VPCI_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(t->common + VPCI_DRIVER_FEATURE, features >> 32);
    return true;
}

static bool vpci_op_read_config(VirtioDev *vdev, unsigned offset, void *buf,
                                unsigned len)
{
    VpciVirtio *t = vpci_of(vdev);

    if (offset > t->device_len || len > t->device_len - offset) {
        printf("virtio-pci: config bytes %u+%u outside its %u bytes\n",
               offset, len, t->device_len);
        return false;
    }
    for (unsigned attempt = 0; attempt < 4; attempt++) {
        uint8_t gen = mmio_read8(t->common + VPCI_CONFIG_GENERATION);

        for (unsigned i = 0; i < len; i++) {
            ((uint8_t *)buf)[i] = mmio_read8(t->device + offset + i);
        }
        if (gen == mmio_read8(t->common + VPCI_CONFIG_GENERATION)) {
            return true;
        }
    }
    printf("virtio-pci: config generation keeps changing\n");
    return false;
}

static bool vpci_op_queue_max(VirtioDev *vdev, unsigned index,
                              unsigned *max)
{
    VpciVirtio *t = vpci_of(vdev);

    if (index >= mmio_read16(t->common + VPCI_NUM_QUEUES) ||
        index >= ARRAY_SIZE(t->queue_notify)) {
        *max = 0;
        return true;
    }
    mmio_write16(t->common + VPCI_QUEUE_SELECT, index);
    *max = mmio_read16(t->common + VPCI_QUEUE_SIZE);
    return true;
}

static void write64(uintptr_t addr, uint64_t v)
{
    mmio_write32(addr, v);
    mmio_write32(addr + 4, v >> 32);
}

static bool vpci_op_queue_setup(VirtioDev *vdev, Virtqueue *vq)
{
    VpciVirtio *t = vpci_of(vdev);
    uint16_t off;

    mmio_write16(t->common + VPCI_QUEUE_SELECT, vq->index);
    mmio_write16(t->common + VPCI_QUEUE_SIZE, vq->size);
    write64(t->common + VPCI_QUEUE_DESC, (uintptr_t)vq->desc);
    write64(t->common + VPCI_QUEUE_DRIVER, (uintptr_t)vq->avail);
    write64(t->common + VPCI_QUEUE_DEVICE, (uintptr_t)vq->used);
    off = mmio_read16(t->common + VPCI_QUEUE_NOTIFY_OFF);
    t->queue_notify[vq->index] = t->notify + (uintptr_t)off * t->notify_mult;
    mmio_write16(t->common + VPCI_QUEUE_ENABLE, 1);
    if (mmio_read16(t->common + VPCI_QUEUE_ENABLE) != 1) {
        printf("virtio-pci: queue %u not enabled\n", vq->index);
        return false;
    }
    return true;
}

static bool vpci_op_notify(VirtioDev *vdev, Virtqueue *vq)
{
    VpciVirtio *t = vpci_of(vdev);

    mmio_write16(t->queue_notify[vq->index], vq->index);
    return true;
}

static const VirtioTransportOps vpci_virtio_ops = {
    .name = "virtio-pci",
    .set_status = vpci_op_set_status,
    .get_features = vpci_op_get_features,
    .set_features = vpci_op_set_features,
    .read_config = vpci_op_read_config,
    .queue_max = vpci_op_queue_max,
    .queue_setup = vpci_op_queue_setup,
    .notify = vpci_op_notify,
};

/* The address of the structure a capability points at, or 0 */
static uintptr_t cap_address(PciDev *pdev, unsigned cap, uint32_t *len)
{
    unsigned bar = pci_read8(pdev, cap + VPCI_CAP_BAR);
    uint32_t off = pci_read32(pdev, cap + VPCI_CAP_OFFSET);

    *len = pci_read32(pdev, cap + VPCI_CAP_LENGTH);
    if (bar >= 6 || !pdev->bar[bar] || off > pdev->bar_size[bar] ||
        *len > pdev->bar_size[bar] - off) {
        return 0;
    }
    return pdev->bar[bar] + off;
}

bool vpci_virtio_attach(VirtioDev *vdev, VpciVirtio *t, PciDev *pdev)
{
    unsigned cap = 0;
    uint32_t len;

    memset(t, 0, sizeof(*t));
    t->pdev = pdev;
    while ((cap = pci_find_cap(pdev, PCI_CAP_ID_VNDR, cap))) {
        uint8_t type = pci_read8(pdev, cap + VPCI_CAP_CFG_TYPE);

        if (type == VPCI_CAP_COMMON_CFG && !t->common) {
            t->common = cap_address(pdev, cap, &len);
        } else if (type == VPCI_CAP_NOTIFY_CFG && !t->notify) {
            t->notify = cap_address(pdev, cap, &len);
            t->notify_mult = pci_read32(pdev, cap + VPCI_CAP_NOTIFY_MULT);
        } else if (type == VPCI_CAP_DEVICE_CFG && !t->device) {
            t->device = cap_address(pdev, cap, &t->device_len);
        }
    }
    if (!t->common || !t->notify || !t->device) {
        printf("virtio-pci: capabilities missing (common %s, notify %s, "
               "device %s)\n", t->common ? "ok" : "no",
               t->notify ? "ok" : "no", t->device ? "ok" : "no");
        return false;
    }
    memset(vdev, 0, sizeof(*vdev));
    vdev->ops = &vpci_virtio_ops;
    vdev->opaque = t;
    return true;
}
