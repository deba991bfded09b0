/*
 * virtio-msg-amp-pci: a virtio-msg AMP link as a PCI device
 *
 * BAR0 holds the VERSION/FEATURES registers and one doorbell per FIFO,
 * BAR1 one 16 KiB window per FIFO with a driver-to-device and a
 * device-to-driver SPSC queue, BAR2 the MSI-X table (one vector per FIFO).
 * Each FIFO is a virtio-msg bus with its own VIRTIO_MSG_MAX_DEVS transports.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "hw/misc/virtio-msg-amp-pci.h"
#include "migration/vmstate.h"
#include "trace.h"

/* How often a non-empty backlog is retried when no doorbell comes */
#define BACKLOG_RETRY_NS (5 * SCALE_MS)

static VirtIOMSGAmpFifo *fifo_of_bus(VirtIOMSGBus *bus)
{
    return container_of(bus, VirtIOMSGAmpFifo, bus);
}

static uint8_t *fifo_window(VirtIOMSGAmpPCI *s, unsigned n)
{
    return (uint8_t *)memory_region_get_ram_ptr(&s->fifo_ram) +
           n * VIRTIO_MSG_AMP_FIFO_WINDOW;
}

/* Our writes to BAR1 RAM must reach a migration in progress */
static void fifo_set_dirty(VirtIOMSGAmpFifo *f, hwaddr queue)
{
    memory_region_set_dirty(&f->amp->fifo_ram,
                            f->index * VIRTIO_MSG_AMP_FIFO_WINDOW + queue,
                            VIRTIO_MSG_AMP_QUEUE_SIZE);
}

static void fifo_kick_irq(VirtIOMSGAmpFifo *f)
{
    f->irq_pending = true;
    qemu_bh_schedule(f->amp->bh);
}

/* Move waiting messages to the driver's queue while it has room. */
static void fifo_flush_backlog(VirtIOMSGAmpFifo *f)
{
    if (virtio_msg_backlog_flush(&f->backlog, &f->to_driver)) {
        fifo_set_dirty(f, VIRTIO_MSG_AMP_TO_DRIVER);
        fifo_kick_irq(f);
        trace_virtio_msg_amp_backlog(f->index, f->backlog.count);
    }
    if (f->backlog.count) {
        timer_mod(f->amp->retry_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + BACKLOG_RETRY_NS);
    }
}

static void fifo_backlog_add(VirtIOMSGAmpFifo *f, const VirtIOMSG *msg,
                             const uint8_t *buf, size_t len)
{
    switch (virtio_msg_backlog_add(&f->backlog, msg, buf, len)) {
    case VIRTIO_MSG_BACKLOG_COALESCED:
        trace_virtio_msg_amp_coalesce(f->index, msg->id, msg->dev_num);
        return;
    case VIRTIO_MSG_BACKLOG_FULL:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "virtio-msg-amp-pci: FIFO %u: driver does not consume "
                      "its queue and %d messages wait; dropping %s for "
                      "dev %u\n", f->index, VIRTIO_MSG_BACKLOG_MAX,
                      virtio_msg_name(msg->type, msg->id), msg->dev_num);
        trace_virtio_msg_amp_backlog_full(f->index, msg->id, msg->dev_num);
        return;
    case VIRTIO_MSG_BACKLOG_QUEUED:
        trace_virtio_msg_amp_backlog(f->index, f->backlog.count);
        timer_mod(f->amp->retry_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + BACKLOG_RETRY_NS);
        return;
    }
}

/* VirtIOMSGBusDeviceClass::send */
static void virtio_msg_amp_send(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                                const VirtIOMSG *msg, const uint8_t *buf,
                                size_t len)
{
    VirtIOMSGAmpFifo *f = fifo_of_bus(bus);

    if (!f->backlog.count &&
        spsc_send(&f->to_driver, buf, MIN(len, VIRTIO_MSG_AMP_MSG_SIZE))) {
        fifo_set_dirty(f, VIRTIO_MSG_AMP_TO_DRIVER);
        fifo_kick_irq(f);
        return;
    }
    fifo_backlog_add(f, msg, buf, len);
}

/*
 * VirtIOMSGBusDeviceClass::process: handle the driver's messages.  At most
 * one queue's worth per call (the rest is left to the bottom half), and
 * none while responses pile up because the driver does not consume them.
 */
static void virtio_msg_amp_process(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus)
{
    VirtIOMSGAmpFifo *f = fifo_of_bus(bus);
    uint8_t slot[SPSC_SLOT_SIZE];
    uint32_t n;
    bool got = false;

    if (f->processing) {
        return;
    }
    f->processing = true;
    fifo_flush_backlog(f);
    for (n = 0; n < f->to_device.capacity; n++) {
        if (f->backlog.count >= VIRTIO_MSG_AMP_BACKLOG_PAUSE ||
            !spsc_recv(&f->to_device, slot)) {
            break;
        }
        got = true;
        virtio_msg_bus_receive(bus, slot, sizeof(slot));
    }
    if (got) {
        fifo_set_dirty(f, VIRTIO_MSG_AMP_TO_DEVICE);
    }
    f->more_requests = !spsc_empty(&f->to_device);
    if (f->more_requests && f->backlog.count < VIRTIO_MSG_AMP_BACKLOG_PAUSE) {
        qemu_bh_schedule(f->amp->bh);
    }
    f->processing = false;
}

static AddressSpace *virtio_msg_amp_get_dma_as(VirtIOMSGBusDevice *bd,
                                               VirtIOMSGBus *bus)
{
    return pci_get_address_space(PCI_DEVICE(bd));
}

/* Raise the interrupts of a batch; continue interrupted processing. */
static void virtio_msg_amp_bh(void *opaque)
{
    VirtIOMSGAmpPCI *s = opaque;

    for (unsigned i = 0; i < s->num_fifos; i++) {
        VirtIOMSGAmpFifo *f = &s->fifos[i];

        if (f->more_requests) {
            virtio_msg_bus_process(&f->bus);
        }
        if (f->irq_pending) {
            f->irq_pending = false;
            trace_virtio_msg_amp_irq(i);
            msix_notify(PCI_DEVICE(s), i);
        }
    }
}

static void virtio_msg_amp_retry(void *opaque)
{
    VirtIOMSGAmpPCI *s = opaque;

    for (unsigned i = 0; i < s->num_fifos; i++) {
        VirtIOMSGAmpFifo *f = &s->fifos[i];

        if (f->backlog.count || f->more_requests) {
            virtio_msg_bus_process(&f->bus);
        }
    }
}

static uint64_t virtio_msg_amp_reg_read(void *opaque, hwaddr addr,
                                        unsigned size)
{
    switch (addr) {
    case VIRTIO_MSG_AMP_REG_VERSION:
        return VIRTIO_MSG_AMP_VERSION;
    case VIRTIO_MSG_AMP_REG_FEATURES:
        return 0;
    default:
        return 0;
    }
}

static void virtio_msg_amp_reg_write(void *opaque, hwaddr addr,
                                     uint64_t val, unsigned size)
{
    VirtIOMSGAmpPCI *s = opaque;
    uint64_t fifo;

    if (addr < VIRTIO_MSG_AMP_REG_NOTIFY) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "virtio-msg-amp-pci: write to read-only or reserved "
                      "register 0x%" HWADDR_PRIx "\n", addr);
        return;
    }
    fifo = (addr - VIRTIO_MSG_AMP_REG_NOTIFY) / 4;
    if (fifo >= s->num_fifos) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "virtio-msg-amp-pci: doorbell 0x%" HWADDR_PRIx
                      " of absent FIFO %" PRIu64 " ignored\n", addr, fifo);
        return;
    }
    trace_virtio_msg_amp_doorbell(fifo);
    virtio_msg_bus_process(&s->fifos[fifo].bus);
}

static const MemoryRegionOps virtio_msg_amp_reg_ops = {
    .read = virtio_msg_amp_reg_read,
    .write = virtio_msg_amp_reg_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

static void virtio_msg_amp_realize(PCIDevice *pci_dev, Error **errp)
{
    VirtIOMSGAmpPCI *s = VIRTIO_MSG_AMP_PCI(pci_dev);
    DeviceState *dev = DEVICE(pci_dev);
    g_autofree char *prefix = NULL;
    uint64_t ram_size;

    if (s->num_fifos < 1 || s->num_fifos > VIRTIO_MSG_AMP_MAX_FIFOS) {
        error_setg(errp, "num-fifos must be between 1 and %d (got %u)",
                   VIRTIO_MSG_AMP_MAX_FIFOS, s->num_fifos);
        return;
    }

    pci_config_set_revision(pci_dev->config, VIRTIO_MSG_AMP_PCI_REVISION);
    pci_config_set_class(pci_dev->config, PCI_CLASS_SYSTEM_OTHER);

    memory_region_init_io(&s->regs, OBJECT(s), &virtio_msg_amp_reg_ops, s,
                          "virtio-msg-amp-regs", VIRTIO_MSG_AMP_BAR0_SIZE);
    pci_register_bar(pci_dev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->regs);

    /* A BAR is a power of two in size; the windows start at offset 0 */
    ram_size = (uint64_t)s->num_fifos * VIRTIO_MSG_AMP_FIFO_WINDOW;
    if (!memory_region_init_ram(&s->fifo_ram, OBJECT(s),
                                "virtio-msg-amp-fifos", ram_size, errp)) {
        return;
    }
    memory_region_init(&s->fifo_bar, OBJECT(s), "virtio-msg-amp-bar1",
                       pow2ceil(ram_size));
    memory_region_add_subregion(&s->fifo_bar, 0, &s->fifo_ram);
    pci_register_bar(pci_dev, 1, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->fifo_bar);
    memset(fifo_window(s, 0), 0, ram_size);

    if (msix_init_exclusive_bar(pci_dev, s->num_fifos, 2, errp)) {
        return;
    }
    for (unsigned i = 0; i < s->num_fifos; i++) {
        msix_vector_use(pci_dev, i);
    }

    s->bh = qemu_bh_new_guarded(virtio_msg_amp_bh, s,
                                &dev->mem_reentrancy_guard);
    s->retry_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, virtio_msg_amp_retry,
                                  s);

    if (dev->id) {
        prefix = g_strdup(dev->id);
    } else {
        prefix = g_strdup_printf("virtio-msg-amp-pci-%02x.%x",
                                 PCI_SLOT(pci_dev->devfn),
                                 PCI_FUNC(pci_dev->devfn));
    }
    for (unsigned i = 0; i < s->num_fifos; i++) {
        VirtIOMSGAmpFifo *f = &s->fifos[i];
        g_autofree char *name = g_strdup_printf("%s.fifo%u", prefix, i);

        f->amp = s;
        f->index = i;
        spsc_init(&f->to_device, fifo_window(s, i) + VIRTIO_MSG_AMP_TO_DEVICE,
                  VIRTIO_MSG_AMP_QUEUE_SIZE);
        spsc_init(&f->to_driver, fifo_window(s, i) + VIRTIO_MSG_AMP_TO_DRIVER,
                  VIRTIO_MSG_AMP_QUEUE_SIZE);
        if (!virtio_msg_bus_init(&f->bus, dev, name, i,
                                 VIRTIO_MSG_AMP_MSG_SIZE, errp)) {
            return;
        }
    }
}

static void virtio_msg_amp_exit(PCIDevice *pci_dev)
{
    VirtIOMSGAmpPCI *s = VIRTIO_MSG_AMP_PCI(pci_dev);

    if (s->retry_timer) {
        timer_free(s->retry_timer);
        s->retry_timer = NULL;
    }
    if (s->bh) {
        qemu_bh_delete(s->bh);
        s->bh = NULL;
    }
    msix_unuse_all_vectors(pci_dev);
    msix_uninit_exclusive_bar(pci_dev);
}

/*
 * After a device or PCI reset the queues start zeroed and nothing waits.
 * Done in the exit phase, after the transports behind have been reset.
 */
static void virtio_msg_amp_reset_exit(Object *obj, ResetType type)
{
    VirtIOMSGAmpPCI *s = VIRTIO_MSG_AMP_PCI(obj);

    if (!s->retry_timer) {
        return;     /* not realized */
    }
    memset(fifo_window(s, 0), 0,
           (size_t)s->num_fifos * VIRTIO_MSG_AMP_FIFO_WINDOW);
    memory_region_set_dirty(&s->fifo_ram, 0,
                            memory_region_size(&s->fifo_ram));
    for (unsigned i = 0; i < s->num_fifos; i++) {
        VirtIOMSGAmpFifo *f = &s->fifos[i];

        virtio_msg_backlog_reset(&f->backlog);
        f->irq_pending = false;
        f->more_requests = false;
    }
    timer_del(s->retry_timer);
}

static int virtio_msg_amp_post_load(void *opaque, int version_id)
{
    VirtIOMSGAmpPCI *s = opaque;

    for (unsigned i = 0; i < VIRTIO_MSG_AMP_MAX_FIFOS; i++) {
        VirtIOMSGAmpFifo *f = &s->fifos[i];

        if (i >= s->num_fifos && f->backlog.count) {
            return -EINVAL;
        }
        if (i < s->num_fifos && (f->backlog.count || f->more_requests)) {
            timer_mod(s->retry_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL));
        }
    }
    return 0;
}

static const VMStateDescription vmstate_virtio_msg_amp_fifo = {
    .name = "virtio-msg-amp-pci/fifo",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(irq_pending, VirtIOMSGAmpFifo),
        VMSTATE_BOOL(more_requests, VirtIOMSGAmpFifo),
        VMSTATE_STRUCT(backlog, VirtIOMSGAmpFifo, 1,
                       vmstate_virtio_msg_backlog, VirtIOMSGBacklog),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_msg_amp = {
    .name = "virtio-msg-amp-pci",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = virtio_msg_amp_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, VirtIOMSGAmpPCI),
        VMSTATE_MSIX(parent_obj, VirtIOMSGAmpPCI),
        VMSTATE_STRUCT_ARRAY(fifos, VirtIOMSGAmpPCI,
                             VIRTIO_MSG_AMP_MAX_FIFOS, 1,
                             vmstate_virtio_msg_amp_fifo, VirtIOMSGAmpFifo),
        VMSTATE_END_OF_LIST()
    },
};

static const Property virtio_msg_amp_properties[] = {
    DEFINE_PROP_UINT32("num-fifos", VirtIOMSGAmpPCI, num_fifos, 1),
};

static void virtio_msg_amp_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);
    VirtIOMSGBusDeviceClass *bdc = VIRTIO_MSG_BUS_DEVICE_CLASS(klass);

    pc->realize = virtio_msg_amp_realize;
    pc->exit = virtio_msg_amp_exit;
    pc->vendor_id = VIRTIO_MSG_AMP_PCI_VENDOR_ID;
    pc->device_id = VIRTIO_MSG_AMP_PCI_DEVICE_ID;
    pc->revision = VIRTIO_MSG_AMP_PCI_REVISION;
    pc->class_id = PCI_CLASS_SYSTEM_OTHER;
    rc->phases.exit = virtio_msg_amp_reset_exit;
    dc->desc = "virtio-msg AMP link over PCI (driver in the guest)";
    dc->vmsd = &vmstate_virtio_msg_amp;
    device_class_set_props(dc, virtio_msg_amp_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    bdc->send = virtio_msg_amp_send;
    bdc->process = virtio_msg_amp_process;
    bdc->get_dma_as = virtio_msg_amp_get_dma_as;
}

static const TypeInfo virtio_msg_amp_types[] = {
    {
        .name = TYPE_VIRTIO_MSG_AMP_PCI,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(VirtIOMSGAmpPCI),
        .class_init = virtio_msg_amp_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { TYPE_VIRTIO_MSG_BUS_DEVICE },
            { }
        },
    },
};

DEFINE_TYPES(virtio_msg_amp_types)
