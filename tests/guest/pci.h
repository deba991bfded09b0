/*
 * PCI enumeration through ECAM for the bare-metal guest test program
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include "guest.h"

#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define PCI_COMMAND_MEMORY      0x0002
#define PCI_COMMAND_MASTER      0x0004
#define PCI_STATUS              0x06
#define PCI_STATUS_CAP_LIST     0x0010
#define PCI_HEADER_TYPE         0x0e
#define PCI_BAR0                0x10
#define PCI_CAPABILITY_LIST     0x34
#define PCI_CAP_ID_VNDR         0x09

#define PCI_MAX_DEVS            32

typedef struct PciDev {
    unsigned bus, slot, fn;
    uintptr_t cfg;                  /* its 4 KiB of ECAM */
    uint16_t vendor, device;
    uint64_t bar[6];                /* CPU address; 0: not assigned */
    uint64_t bar_size[6];
} PciDev;

typedef struct PciHost {
    uintptr_t ecam;
    unsigned bus_first, bus_last;
    uint64_t mmio_next, mmio_end;   /* 32-bit memory window, CPU = bus */
    unsigned num_devs;
    PciDev devs[PCI_MAX_DEVS];
} PciHost;

/* Find the host bridge in the device tree ("pci-host-ecam-generic") */
bool pci_host_init(PciHost *h);

/*
 * Enumerate the root bus, give each memory BAR an address from the 32-bit
 * window and enable memory decoding and bus mastering.  I/O BARs are left
 * unassigned (nothing here needs them).  Returns the number of functions.
 */
unsigned pci_scan(PciHost *h);

PciDev *pci_find(PciHost *h, uint16_t vendor, uint16_t device);

static inline uint8_t pci_read8(PciDev *d, unsigned off)
{
    return mmio_read8(d->cfg + off);
}

static inline uint16_t pci_read16(PciDev *d, unsigned off)
{
    return mmio_read16(d->cfg + off);
}

static inline uint32_t pci_read32(PciDev *d, unsigned off)
{
    return mmio_read32(d->cfg + off);
}

static inline void pci_write16(PciDev *d, unsigned off, uint16_t v)
{
    mmio_write16(d->cfg + off, v);
}

static inline void pci_write32(PciDev *d, unsigned off, uint32_t v)
{
    mmio_write32(d->cfg + off, v);
}

/*
 * The config space offset of the next capability with ID @id after the
 * one at @after (0: from the start of the list), or 0.
 */
unsigned pci_find_cap(PciDev *d, uint8_t id, unsigned after);

#endif
