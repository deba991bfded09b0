/*
 * virtio-msg-amp-pci: a virtio-msg AMP link as a PCI device
 *
 * The guest is the virtio driver side: it exchanges virtio-msg messages
 * with QEMU (the device side) through SPSC queues in BAR1 and doorbells in
 * BAR0, and gets an MSI-X interrupt per FIFO.
 * See docs/system/devices/virtio/virtio-msg-amp-pci.rst.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MISC_VIRTIO_MSG_AMP_PCI_H
#define HW_MISC_VIRTIO_MSG_AMP_PCI_H

#include "hw/pci/pci_device.h"
#include "hw/virtio/virtio-msg-bus.h"
#include "hw/virtio/virtio-msg-channel.h"

#define TYPE_VIRTIO_MSG_AMP_PCI "virtio-msg-amp-pci"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMSGAmpPCI, VIRTIO_MSG_AMP_PCI)

/* PCI identity */
#define VIRTIO_MSG_AMP_PCI_VENDOR_ID    0x10ee
#define VIRTIO_MSG_AMP_PCI_DEVICE_ID    0x9039
#define VIRTIO_MSG_AMP_PCI_REVISION     1

/* BAR0 registers */
#define VIRTIO_MSG_AMP_BAR0_SIZE        0x4000
#define VIRTIO_MSG_AMP_REG_VERSION      0x00
#define VIRTIO_MSG_AMP_REG_FEATURES     0x04
#define VIRTIO_MSG_AMP_REG_NOTIFY       0x20    /* + 4 * fifo */
#define VIRTIO_MSG_AMP_VERSION          1

/* BAR1: one window per FIFO */
#define VIRTIO_MSG_AMP_FIFO_WINDOW      0x4000
#define VIRTIO_MSG_AMP_TO_DEVICE        0x1000  /* driver produces */
#define VIRTIO_MSG_AMP_TO_DRIVER        0x2000  /* device produces */
#define VIRTIO_MSG_AMP_QUEUE_SIZE       0x1000

#define VIRTIO_MSG_AMP_MAX_FIFOS        8
#define VIRTIO_MSG_AMP_MSG_SIZE         SPSC_SLOT_SIZE

typedef struct VirtIOMSGAmpFifo {
    VirtIOMSGBus bus;
    VirtIOMSGAmpPCI *amp;
    unsigned index;
    char *name;
    /* transmit: device-to-driver queue; receive: driver-to-device queue */
    VirtIOMSGChannel ch;
    bool irq_pending;
} VirtIOMSGAmpFifo;

struct VirtIOMSGAmpPCI {
    PCIDevice parent_obj;

    MemoryRegion regs;
    MemoryRegion fifo_bar;
    MemoryRegion fifo_ram;
    QEMUBH *bh;
    QEMUTimer *retry_timer;
    uint32_t num_fifos;
    char *relay;
    Error *migration_blocker;
    VirtIOMSGAmpFifo fifos[VIRTIO_MSG_AMP_MAX_FIFOS];
};

#endif
