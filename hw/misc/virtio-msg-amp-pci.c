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
#include "qemu/range.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "hw/misc/virtio-msg-amp-pci.h"
#include "hw/virtio/virtio-msg.h"
#include "hw/virtio/virtio-msg-relay.h"
#include "migration/blocker.h"
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

/* The FIFO's queues, empty; nothing waits */
static void fifo_attach(VirtIOMSGAmpFifo *f)
{
    uint8_t *window = fifo_window(f->amp, f->index);

    virtio_msg_channel_attach(&f->ch, window + VIRTIO_MSG_AMP_TO_DRIVER,
                              VIRTIO_MSG_AMP_QUEUE_SIZE,
                              window + VIRTIO_MSG_AMP_TO_DEVICE,
                              VIRTIO_MSG_AMP_QUEUE_SIZE);
}

static void fifo_retry_later(VirtIOMSGAmpFifo *f)
{
    timer_mod(f->amp->retry_timer,
              qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + BACKLOG_RETRY_NS);
}

/* VirtIOMSGBusDeviceClass::send */
static void virtio_msg_amp_send(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                                const VirtIOMSG *msg, const uint8_t *buf,
                                size_t len)
{
    VirtIOMSGAmpFifo *f = fifo_of_bus(bus);

    switch (virtio_msg_channel_send(&f->ch, msg, buf, len)) {
    case VIRTIO_MSG_CHANNEL_SENT:
        fifo_set_dirty(f, VIRTIO_MSG_AMP_TO_DRIVER);
        fifo_kick_irq(f);
        break;
    case VIRTIO_MSG_CHANNEL_WAITING:
        fifo_retry_later(f);
        break;
    case VIRTIO_MSG_CHANNEL_DROPPED:
        break;
    }
}

/* Move waiting messages to the driver's queue while it has room. */
static void fifo_flush_backlog(VirtIOMSGAmpFifo *f)
{
    if (virtio_msg_channel_flush(&f->ch)) {
        fifo_set_dirty(f, VIRTIO_MSG_AMP_TO_DRIVER);
        fifo_kick_irq(f);
    }
}

/*
 * VirtIOMSGBusDeviceClass::process: handle the driver's messages, with the
 * channel's policy (one queue's worth per call, the rest is left to the
 * bottom half; none while responses pile up).
 */
static void virtio_msg_amp_process(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus)
{
    VirtIOMSGAmpFifo *f = fifo_of_bus(bus);

    fifo_flush_backlog(f);
    if (virtio_msg_channel_receive(&f->ch, bus)) {
        fifo_set_dirty(f, VIRTIO_MSG_AMP_TO_DEVICE);
    }
    fifo_flush_backlog(f);
    if (f->ch.more && virtio_msg_channel_can_receive(&f->ch, bus)) {
        qemu_bh_schedule(f->amp->bh);
    }
    if (virtio_msg_channel_busy(&f->ch)) {
        fifo_retry_later(f);
    }
}

static void virtio_msg_amp_purge(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                                 uint16_t dev_num)
{
    virtio_msg_channel_purge(&fifo_of_bus(bus)->ch, dev_num);
}

static bool virtio_msg_amp_congested(VirtIOMSGBusDevice *bd,
                                     VirtIOMSGBus *bus)
{
    return virtio_msg_channel_congested(&fifo_of_bus(bus)->ch);
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

        if (f->ch.more) {
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

        if (virtio_msg_channel_busy(&f->ch)) {
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

static void amp_set_dma_enabled(VirtIOMSGAmpPCI *s, bool enabled)
{
    for (unsigned i = 0; i < s->num_fifos; i++) {
        if (!enabled) {
            virtio_msg_relay_driver_reset(&s->fifos[i].bus);
        }
        for (unsigned n = 0; n < VIRTIO_MSG_MAX_DEVS; n++) {
            if (s->fifos[i].bus.devs[n]) {
                virtio_msg_set_dma_enabled(s->fifos[i].bus.devs[n], enabled);
            }
        }
    }
}

/*
 * Bus Master Enable.  Clearing it resets the devices behind the function
 * (as virtio-pci stops its device) and keeps them from guest memory until
 * it is set again.  They are stopped before the bit changes, so that
 * nothing they still do fails half-way.
 */
static void virtio_msg_amp_write_config(PCIDevice *pci_dev, uint32_t addr,
                                        uint32_t val, int len)
{
    VirtIOMSGAmpPCI *s = VIRTIO_MSG_AMP_PCI(pci_dev);
    bool was = pci_dev->config[PCI_COMMAND] & PCI_COMMAND_MASTER;

    if (was && range_covers_byte(addr, len, PCI_COMMAND) &&
        !((val >> (8 * (PCI_COMMAND - addr))) & PCI_COMMAND_MASTER)) {
        amp_set_dma_enabled(s, false);
    }
    pci_default_write_config(pci_dev, addr, val, len);
    if (!was && (pci_dev->config[PCI_COMMAND] & PCI_COMMAND_MASTER)) {
        amp_set_dma_enabled(s, true);
    }
}

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
        f->name = g_strdup_printf("virtio-msg-amp-pci: FIFO %u", i);
        virtio_msg_channel_init(&f->ch, f->name);
        fifo_attach(f);
        if (!virtio_msg_bus_init(&f->bus, dev, name, i,
                                 VIRTIO_MSG_AMP_MSG_SIZE, errp)) {
            return;
        }
    }

    if (s->relay) {
        if (!virtio_msg_relay_connect(&s->fifos[0].bus, s->relay, errp)) {
            return;
        }
        error_setg(&s->migration_blocker, "virtio-msg-amp-pci: a FIFO "
                   "relayed to another process cannot be migrated");
        if (migrate_add_blocker(&s->migration_blocker, errp) < 0) {
            virtio_msg_relay_disconnect(&s->fifos[0].bus);
            return;
        }
    }
}

static void virtio_msg_amp_exit(PCIDevice *pci_dev)
{
    VirtIOMSGAmpPCI *s = VIRTIO_MSG_AMP_PCI(pci_dev);

    /* nothing may come from the relayed link once the FIFOs are gone */
    virtio_msg_relay_disconnect(&s->fifos[0].bus);
    migrate_del_blocker(&s->migration_blocker);
    if (s->retry_timer) {
        timer_free(s->retry_timer);
        s->retry_timer = NULL;
    }
    if (s->bh) {
        qemu_bh_delete(s->bh);
        s->bh = NULL;
    }
    for (unsigned i = 0; i < VIRTIO_MSG_AMP_MAX_FIFOS; i++) {
        g_free(s->fifos[i].name);
        s->fifos[i].name = NULL;
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

        fifo_attach(f);
        f->irq_pending = false;
        virtio_msg_relay_driver_reset(&f->bus);
    }
    timer_del(s->retry_timer);
}

static int virtio_msg_amp_post_load(void *opaque, int version_id)
{
    VirtIOMSGAmpPCI *s = opaque;

    for (unsigned i = 0; i < VIRTIO_MSG_AMP_MAX_FIFOS; i++) {
        VirtIOMSGAmpFifo *f = &s->fifos[i];

        if (i >= s->num_fifos && (f->ch.backlog.count || f->ch.more)) {
            return -EINVAL;
        }
        if (i < s->num_fifos && virtio_msg_channel_busy(&f->ch)) {
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
        VMSTATE_STRUCT(ch, VirtIOMSGAmpFifo, 1,
                       vmstate_virtio_msg_channel, VirtIOMSGChannel),
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
    DEFINE_PROP_STRING("relay", VirtIOMSGAmpPCI, relay),
};

static void virtio_msg_amp_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);
    VirtIOMSGBusDeviceClass *bdc = VIRTIO_MSG_BUS_DEVICE_CLASS(klass);

    pc->realize = virtio_msg_amp_realize;
    pc->exit = virtio_msg_amp_exit;
    pc->config_write = virtio_msg_amp_write_config;
    pc->vendor_id = VIRTIO_MSG_AMP_PCI_VENDOR_ID;
    pc->device_id = VIRTIO_MSG_AMP_PCI_DEVICE_ID;
    pc->revision = VIRTIO_MSG_AMP_PCI_REVISION;
    pc->class_id = PCI_CLASS_SYSTEM_OTHER;
    rc->phases.exit = virtio_msg_amp_reset_exit;
    dc->desc = "virtio-msg AMP link over PCI (driver in the guest)";
    dc->vmsd = &vmstate_virtio_msg_amp;
    device_class_set_props(dc, virtio_msg_amp_properties);
    object_class_property_set_description(klass, "num-fifos",
        "number of FIFOs (virtio-msg buses <id>.fifo<n>), 1 to 8");
    object_class_property_set_description(klass, "relay",
        "name of a virtio-msg bus (e.g. of virtio-msg-bus-linux-user) that "
        "FIFO 0 relays to: its devices are on the other side of that link");
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    bdc->send = virtio_msg_amp_send;
    bdc->process = virtio_msg_amp_process;
    bdc->get_dma_as = virtio_msg_amp_get_dma_as;
    bdc->purge = virtio_msg_amp_purge;
    bdc->congested = virtio_msg_amp_congested;
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
