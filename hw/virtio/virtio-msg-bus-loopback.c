/*
 * virtio-msg-bus-loopback: a virtio-msg bus whose two ends are this QEMU
 *
 * Both sides of one virtio-msg bus in a single QEMU: virtio device models
 * plugged into the bus are the device side, virtio-msg-proxy-driver(-pci)
 * devices naming the bus are the driver side.  Every message goes through
 * a virtio-msg channel whose transmit and receive queues are the same
 * queue in host memory, and the bus routes it to the other side.  Ring and
 * buffer addresses are guest physical addresses (system memory).
 *
 * It is a test and development backend: it shows the driver side working
 * over a bus that is not the two-QEMU link, and lets QEMU's own virtio
 * tests run through the proxies and the device-side transport at once.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "hw/sysbus.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio-msg-bus.h"
#include "hw/virtio/virtio-msg-channel.h"
#include "migration/vmstate.h"

#define TYPE_VIRTIO_MSG_BUS_LOOPBACK "virtio-msg-bus-loopback"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMSGBusLoopback, VIRTIO_MSG_BUS_LOOPBACK)

#define LOOPBACK_QUEUE_SIZE (64 * 1024)

struct VirtIOMSGBusLoopback {
    SysBusDevice parent_obj;

    char *name;
    VirtIOMSGBus bus;
    VirtIOMSGChannel ch;
    uint8_t *queue;
    QEMUBH *bh;
};

/* Deliver what waits; returns how many messages were handled. */
static uint32_t loopback_run(VirtIOMSGBusLoopback *s)
{
    uint32_t n;

    virtio_msg_channel_flush(&s->ch);
    n = virtio_msg_channel_receive(&s->ch, &s->bus);
    virtio_msg_channel_flush(&s->ch);
    if (virtio_msg_channel_busy(&s->ch)) {
        qemu_bh_schedule(s->bh);
    }
    return n;
}

static void loopback_bh(void *opaque)
{
    loopback_run(opaque);
}

static void loopback_send(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                          const VirtIOMSG *msg, const uint8_t *buf,
                          size_t len)
{
    VirtIOMSGBusLoopback *s = VIRTIO_MSG_BUS_LOOPBACK(bd);

    virtio_msg_channel_send(&s->ch, msg, buf, len);
    qemu_bh_schedule(s->bh);
}

static void loopback_process(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus)
{
    loopback_run(VIRTIO_MSG_BUS_LOOPBACK(bd));
}

/*
 * Both ends are here and the device side answers requests at once: when
 * nothing waits in the queue, no answer can come any more.
 */
static bool loopback_wait(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                          int64_t timeout_ms)
{
    return loopback_run(VIRTIO_MSG_BUS_LOOPBACK(bd)) != 0;
}

static void loopback_purge(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                           uint16_t dev_num)
{
    virtio_msg_channel_purge(&VIRTIO_MSG_BUS_LOOPBACK(bd)->ch, dev_num);
}

static void loopback_realize(DeviceState *dev, Error **errp)
{
    VirtIOMSGBusLoopback *s = VIRTIO_MSG_BUS_LOOPBACK(dev);

    if (!virtio_msg_bus_check_name(s->name, errp)) {
        return;
    }
    s->queue = g_malloc0(LOOPBACK_QUEUE_SIZE);
    virtio_msg_channel_init(&s->ch, s->name);
    virtio_msg_channel_attach(&s->ch, s->queue, LOOPBACK_QUEUE_SIZE,
                              s->queue, LOOPBACK_QUEUE_SIZE);
    s->bh = qemu_bh_new_guarded(loopback_bh, s, &dev->mem_reentrancy_guard);
    virtio_msg_bus_init(&s->bus, dev, s->name, 0, SPSC_SLOT_SIZE, errp);
}

static void loopback_unrealize(DeviceState *dev)
{
    VirtIOMSGBusLoopback *s = VIRTIO_MSG_BUS_LOOPBACK(dev);

    virtio_msg_channel_detach(&s->ch);
    qemu_bh_delete(s->bh);
    g_free(s->queue);
}

static const Property loopback_properties[] = {
    DEFINE_PROP_STRING("name", VirtIOMSGBusLoopback, name),
};

static const VMStateDescription vmstate_loopback = {
    .name = TYPE_VIRTIO_MSG_BUS_LOOPBACK,
    .unmigratable = 1,
};

static void loopback_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtIOMSGBusDeviceClass *bdc = VIRTIO_MSG_BUS_DEVICE_CLASS(klass);

    dc->realize = loopback_realize;
    dc->unrealize = loopback_unrealize;
    dc->desc = "virtio-msg bus with both ends in this QEMU (for tests)";
    dc->user_creatable = true;
    dc->vmsd = &vmstate_loopback;
    device_class_set_props(dc, loopback_properties);
    object_class_property_set_description(klass, "name",
        "name of the virtio-msg bus (msg-bus of the proxies, bus of the "
        "virtio devices)");
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    bdc->send = loopback_send;
    bdc->process = loopback_process;
    bdc->wait = loopback_wait;
    bdc->purge = loopback_purge;
}

static const TypeInfo loopback_types[] = {
    {
        .name = TYPE_VIRTIO_MSG_BUS_LOOPBACK,
        .parent = TYPE_SYS_BUS_DEVICE,
        .instance_size = sizeof(VirtIOMSGBusLoopback),
        .class_init = loopback_class_init,
        .interfaces = (InterfaceInfo[]) {
            { TYPE_VIRTIO_MSG_BUS_DEVICE },
            { }
        },
    },
};

DEFINE_TYPES(loopback_types)
