/*
 * PCI enumeration through ECAM for the bare-metal guest test program
 *
 * The host bridge comes from the device tree: on QEMU's "virt" machine its
 * ECAM is at 0x4010000000 when the high memory map is on (the default for
 * a 64-bit CPU) and at 0x3f000000 otherwise, so it is not hard-coded.
 * Only the root bus is scanned: on "virt" the devices given with -device
 * and no bus sit there, with no bridges in between.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fdt.h"
#include "pci.h"

/* ranges: space code in the first cell of the child address */
#define PCI_RANGE_SPACE(hi)     (((hi) >> 24) & 3)
#define PCI_RANGE_MEM32         2

bool pci_host_init(PciHost *h)
{
    int node = fdt_find_compatible("pci-host-ecam-generic");
    int root = fdt_path("/");
    unsigned pa_cells = fdt_prop_u32(root, "#address-cells", 2);
    unsigned ps_cells = fdt_prop_u32(root, "#size-cells", 1);
    unsigned na = fdt_prop_u32(node, "#address-cells", 3);
    unsigned ns = fdt_prop_u32(node, "#size-cells", 2);
    const uint8_t *reg, *ranges, *bus_range;
    uint32_t len, rlen, blen;

    memset(h, 0, sizeof(*h));
    if (node < 0) {
        printf("pci: no pci-host-ecam-generic node in the device tree\n");
        return false;
    }
    reg = fdt_prop(node, "reg", &len);
    ranges = fdt_prop(node, "ranges", &rlen);
    if (!reg || len < (pa_cells + ps_cells) * 4 || !ranges || na != 3) {
        printf("pci: host bridge node without usable reg/ranges\n");
        return false;
    }
    h->ecam = fdt_cells(reg, pa_cells);
    h->bus_first = 0;
    h->bus_last = fdt_cells(reg + pa_cells * 4, ps_cells) / (1 << 20) - 1;
    bus_range = fdt_prop(node, "bus-range", &blen);
    if (bus_range && blen >= 8) {
        h->bus_first = fdt_cells(bus_range, 1);
        h->bus_last = fdt_cells(bus_range + 4, 1);
    }

    for (uint32_t off = 0; off + (na + pa_cells + ns) * 4 <= rlen;
         off += (na + pa_cells + ns) * 4) {
        const uint8_t *r = ranges + off;
        uint64_t pci_addr = fdt_cells(r + 4, 2);
        uint64_t cpu_addr = fdt_cells(r + na * 4, pa_cells);
        uint64_t size = fdt_cells(r + (na + pa_cells) * 4, ns);

        if (PCI_RANGE_SPACE(fdt_cells(r, 1)) == PCI_RANGE_MEM32 &&
            pci_addr == cpu_addr) {
            h->mmio_next = cpu_addr;
            h->mmio_end = cpu_addr + size;
            break;
        }
    }
    if (!h->mmio_end) {
        printf("pci: no identity-mapped 32-bit memory window\n");
        return false;
    }
    printf("pci: ECAM at 0x%lx, buses %u-%u, memory window 0x%lx-0x%lx\n",
           (unsigned long)h->ecam, h->bus_first, h->bus_last,
           h->mmio_next, h->mmio_end - 1);
    return true;
}

static bool assign_bars(PciHost *h, PciDev *d)
{
    for (unsigned i = 0; i < 6; i++) {
        unsigned off = PCI_BAR0 + 4 * i;
        uint32_t lo, hi = 0;
        bool is64;
        uint64_t size, addr;

        pci_write32(d, off, 0xffffffff);
        lo = pci_read32(d, off);
        if (!lo) {
            continue;                   /* not implemented */
        }
        if (lo & 1) {
            pci_write32(d, off, 0);     /* I/O: not needed, not assigned */
            continue;
        }
        is64 = ((lo >> 1) & 3) == 2;
        if (is64) {
            pci_write32(d, off + 4, 0xffffffff);
            hi = pci_read32(d, off + 4);
        }
        size = ~(((uint64_t)hi << 32) | (lo & ~0xfu)) + 1;
        if (!is64) {
            size &= 0xffffffff;
        }
        addr = ALIGN_UP(h->mmio_next, size);
        if (!size || addr + size > h->mmio_end) {
            printf("pci: %02x:%02x.%u BAR%u: 0x%lx bytes do not fit\n",
                   d->bus, d->slot, d->fn, i, size);
            return false;
        }
        h->mmio_next = addr + size;
        pci_write32(d, off, addr);
        if (is64) {
            pci_write32(d, off + 4, addr >> 32);
        }
        d->bar[i] = addr;
        d->bar_size[i] = size;
        if (is64) {
            i++;
        }
    }
    return true;
}

unsigned pci_scan(PciHost *h)
{
    unsigned bus = h->bus_first;

    h->num_devs = 0;
    for (unsigned slot = 0; slot < 32; slot++) {
        for (unsigned fn = 0; fn < 8; fn++) {
            PciDev *d = &h->devs[h->num_devs];
            uint8_t htype;

            memset(d, 0, sizeof(*d));
            d->bus = bus;
            d->slot = slot;
            d->fn = fn;
            d->cfg = h->ecam + (((bus - h->bus_first) << 20) |
                                (slot << 15) | (fn << 12));
            d->vendor = pci_read16(d, PCI_VENDOR_ID);
            if (d->vendor == 0xffff) {
                if (fn == 0) {
                    break;
                }
                continue;
            }
            d->device = pci_read16(d, PCI_DEVICE_ID);
            htype = pci_read8(d, PCI_HEADER_TYPE);
            printf("pci: %02x:%02x.%u %04x:%04x\n", bus, slot, fn,
                   d->vendor, d->device);
            if ((htype & 0x7f) == 0) {
                pci_write16(d, PCI_COMMAND, 0);
                if (assign_bars(h, d)) {
                    pci_write16(d, PCI_COMMAND,
                                PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
                }
                if (h->num_devs < PCI_MAX_DEVS) {
                    h->num_devs++;
                }
            }
            if (fn == 0 && !(htype & 0x80)) {
                break;                  /* single-function device */
            }
        }
    }
    return h->num_devs;
}

PciDev *pci_find(PciHost *h, uint16_t vendor, uint16_t device)
{
    for (unsigned i = 0; i < h->num_devs; i++) {
        if (h->devs[i].vendor == vendor && h->devs[i].device == device) {
            return &h->devs[i];
        }
    }
    return NULL;
}

unsigned pci_find_cap(PciDev *d, uint8_t id, unsigned after)
{
    unsigned off, n;

    if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        return 0;
    }
    off = after ? pci_read8(d, after + 1) : pci_read8(d, PCI_CAPABILITY_LIST);
    /* at most 48 capabilities fit in 256 bytes: stops a looping list */
    for (n = 0; off >= 0x40 && n < 48; n++) {
        off &= ~3u;
        if (pci_read8(d, off) == id) {
            return off;
        }
        off = pci_read8(d, off + 1);
    }
    return 0;
}
