/*
 * virtio-msg bus: routes messages between a backend and the transports
 *
 * The bus decodes what the backend receives, answers bus messages
 * (GET_DEVICES, PING) itself, hands transport messages to the transport of
 * their dev_num, encodes what the transports send and announces hot-plugged
 * and unplugged devices with EVENT_DEVICE.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "hw/qdev-properties.h"
#include "hw/hotplug.h"
#include "hw/virtio/virtio-msg-bus.h"
#include "hw/virtio/virtio-msg.h"
#include "hw/virtio/virtio-msg-driver.h"
#include "hw/virtio/virtio-msg-relay.h"
#include "exec/address-spaces.h"
#include "qemu/timer.h"
#include "trace.h"

static QTAILQ_HEAD(, VirtIOMSGBus) virtio_msg_buses =
    QTAILQ_HEAD_INITIALIZER(virtio_msg_buses);

VirtIOMSGBus *virtio_msg_bus_find(const char *name)
{
    VirtIOMSGBus *bus;

    QTAILQ_FOREACH(bus, &virtio_msg_buses, next) {
        if (name && !strcmp(BUS(bus)->name, name)) {
            return bus;
        }
    }
    return NULL;
}

bool virtio_msg_bus_check_name(const char *name, Error **errp)
{
    if (!name || !*name) {
        error_setg(errp, "name: a bus name is required");
        return false;
    }
    if (virtio_msg_bus_find(name)) {
        error_setg(errp, "a virtio-msg bus named '%s' already exists", name);
        return false;
    }
    return true;
}

VirtIOMSGBus *virtio_msg_bus_find_only(void)
{
    VirtIOMSGBus *first = QTAILQ_FIRST(&virtio_msg_buses);

    return first && !QTAILQ_NEXT(first, next) ? first : NULL;
}

static VirtIOMSGBusDeviceClass *backend_class(VirtIOMSGBus *bus)
{
    return VIRTIO_MSG_BUS_DEVICE_GET_CLASS(bus->backend);
}

bool virtio_msg_bus_init(VirtIOMSGBus *bus, DeviceState *parent,
                         const char *name, unsigned index,
                         uint16_t max_msg_size, Error **errp)
{
    qbus_init(bus, sizeof(*bus), TYPE_VIRTIO_MSG_BUS, parent, name);
    qbus_set_bus_hotplug_handler(BUS(bus));
    bus->backend = VIRTIO_MSG_BUS_DEVICE(parent);
    bus->index = index;
    bus->max_msg_size = MIN(max_msg_size, VIRTIO_MSG_MAX_SIZE);
    QTAILQ_INSERT_TAIL(&virtio_msg_buses, bus, next);

    /* Children are listed newest first: create them backwards */
    for (int i = VIRTIO_MSG_MAX_DEVS - 1; i >= 0; i--) {
        DeviceState *dev = qdev_new(TYPE_VIRTIO_MSG);

        qdev_prop_set_uint16(dev, "dev-num", i);
        if (!qdev_realize_and_unref(dev, BUS(bus), errp)) {
            return false;
        }
        bus->devs[i] = VIRTIO_MSG(dev);
    }
    return true;
}

AddressSpace *virtio_msg_bus_get_dma_as(VirtIOMSGBus *bus)
{
    VirtIOMSGBusDeviceClass *bdc = backend_class(bus);
    AddressSpace *as = NULL;

    if (bdc->get_dma_as) {
        as = bdc->get_dma_as(bus->backend, bus);
    }
    return as ? as : &address_space_memory;
}

bool virtio_msg_bus_link_up(VirtIOMSGBus *bus)
{
    VirtIOMSGBusDeviceClass *bdc = backend_class(bus);

    return !bdc->link_up || bdc->link_up(bus->backend, bus);
}

bool virtio_msg_bus_can_wait(VirtIOMSGBus *bus)
{
    return backend_class(bus)->wait != NULL;
}

bool virtio_msg_bus_wait(VirtIOMSGBus *bus, int64_t timeout_ms)
{
    return backend_class(bus)->wait(bus->backend, bus, MAX(timeout_ms, 0));
}

void virtio_msg_bus_wait_link(VirtIOMSGBus *bus)
{
    VirtIOMSGBusDeviceClass *bdc = backend_class(bus);

    if (bdc->wait_link && !virtio_msg_bus_link_up(bus)) {
        bdc->wait_link(bus->backend, bus);
    }
}

void virtio_msg_bus_purge(VirtIOMSGBus *bus, uint16_t dev_num)
{
    VirtIOMSGBusDeviceClass *bdc = backend_class(bus);

    if (bdc->purge) {
        bdc->purge(bus->backend, bus, dev_num);
    }
}

void virtio_msg_bus_link_down(VirtIOMSGBus *bus)
{
    if (bus->relay) {
        virtio_msg_relay_link_down(bus);
    }
    if (bus->driver) {
        virtio_msg_driver_link_down(bus->driver);
    }
    bus_cold_reset(BUS(bus));
}

void virtio_msg_bus_process(VirtIOMSGBus *bus)
{
    VirtIOMSGBusDeviceClass *bdc = backend_class(bus);

    if (bdc->process) {
        bdc->process(bus->backend, bus);
    }
}

bool virtio_msg_bus_congested(VirtIOMSGBus *bus)
{
    VirtIOMSGBusDeviceClass *bdc = backend_class(bus);

    return bdc->congested && bdc->congested(bus->backend, bus);
}

bool virtio_msg_bus_can_receive(VirtIOMSGBus *bus)
{
    return !bus->relay || virtio_msg_relay_can_receive(bus);
}

void virtio_msg_bus_forward(VirtIOMSGBus *bus, const VirtIOMSG *msg,
                            const uint8_t *buf, size_t len)
{
    trace_virtio_msg_bus_forward(BUS(bus)->name,
                                 virtio_msg_name(msg->type, msg->id),
                                 msg->type, msg->dev_num, msg->token, len);
    backend_class(bus)->send(bus->backend, bus, msg, buf, len);
}

void virtio_msg_bus_send(VirtIOMSGBus *bus, VirtIOMSG *msg)
{
    uint8_t buf[VIRTIO_MSG_MAX_SIZE];
    size_t len = virtio_msg_encode(msg, buf, bus->max_msg_size);

    if (!len) {
        /* Only a bug of ours can get here: replies are sized for the bus */
        qemu_log_mask(LOG_UNIMP, "%s: cannot encode %s for dev %u\n",
                      BUS(bus)->name, virtio_msg_name(msg->type, msg->id),
                      msg->dev_num);
        return;
    }
    trace_virtio_msg_bus_send(BUS(bus)->name,
                              virtio_msg_name(msg->type, msg->id),
                              msg->type, msg->dev_num, msg->token, len);
    backend_class(bus)->send(bus->backend, bus, msg, buf, len);
}

void virtio_msg_bus_drop(VirtIOMSGBus *bus, const VirtIOMSG *msg,
                         const char *why)
{
    qemu_log_mask(LOG_GUEST_ERROR,
                  "%s: dropping message type 0x%02x id 0x%02x (%s) "
                  "dev %u size %u: %s\n",
                  BUS(bus)->name, msg->type, msg->id,
                  virtio_msg_name(msg->type, msg->id), msg->dev_num,
                  msg->size, why);
    trace_virtio_msg_bus_drop(BUS(bus)->name, msg->type, msg->id,
                              msg->dev_num, why);
}

static VirtIOMSGTransport *transport_of(VirtIOMSGBus *bus, DeviceState *vdev)
{
    BusState *parent = qdev_get_parent_bus(vdev);

    for (int i = 0; i < VIRTIO_MSG_MAX_DEVS; i++) {
        if (bus->devs[i] && parent == BUS(&bus->devs[i]->bus)) {
            return bus->devs[i];
        }
    }
    return NULL;
}

static void virtio_msg_bus_event_device(VirtIOMSGBus *bus, uint16_t dev_num,
                                        uint16_t state)
{
    VirtIOMSG ev;

    virtio_msg_init(&ev, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_EVENT_DEVICE,
                    0, 0);
    ev.event_device.dev_num = dev_num;
    ev.event_device.state = state;
    virtio_msg_bus_send(bus, &ev);
}

static void virtio_msg_bus_get_devices(VirtIOMSGBus *bus,
                                       const VirtIOMSG *req, VirtIOMSG *resp)
{
    uint32_t max = 8 * (bus->max_msg_size - VIRTIO_MSG_HDR_SIZE - 6);
    uint32_t count = MIN(req->devices.count, max);
    uint32_t end = (uint32_t)req->devices.offset + count;

    resp->devices.offset = req->devices.offset;
    resp->devices.count = count;
    resp->devices.next_offset = end < VIRTIO_MSG_MAX_DEVS ? end : 0;
    memset(resp->devices.bitmap, 0, count / 8);
    for (uint32_t n = req->devices.offset; n < end && n < VIRTIO_MSG_MAX_DEVS;
         n++) {
        if (virtio_msg_get_vdev(bus->devs[n])) {
            uint32_t bit = n - req->devices.offset;

            resp->devices.bitmap[bit / 8] |= 1 << (bit % 8);
        }
    }
}

static void virtio_msg_bus_handle_bus_msg(VirtIOMSGBus *bus,
                                          const VirtIOMSG *msg)
{
    VirtIOMSG resp;

    virtio_msg_init_response(&resp, msg);
    switch (msg->id) {
    case VIRTIO_MSG_BUS_GET_DEVICES:
        virtio_msg_bus_get_devices(bus, msg, &resp);
        break;
    case VIRTIO_MSG_BUS_PING:
        resp.ping.data = msg->ping.data;
        break;
    default:
        virtio_msg_bus_drop(bus, msg, "bus event not expected by a device");
        return;
    }
    virtio_msg_bus_send(bus, &resp);
}

void virtio_msg_bus_receive(VirtIOMSGBus *bus, const uint8_t *buf,
                            size_t len)
{
    VirtIOMSGDecodeError err;
    VirtIOMSG msg;
    VirtIOMSGTransport *xport;

    err = virtio_msg_decode(buf, len, bus->max_msg_size, &msg);
    if (err != VIRTIO_MSG_OK) {
        virtio_msg_bus_drop(bus, &msg, virtio_msg_decode_error_str(err));
        return;
    }
    trace_virtio_msg_bus_receive(BUS(bus)->name,
                                 virtio_msg_name(msg.type, msg.id),
                                 msg.type, msg.dev_num, msg.token, msg.size);

    if (bus->relay) {
        virtio_msg_relay_forward(bus, &msg, buf, len);
        return;
    }
    if (virtio_msg_is_for_driver(&msg)) {
        if (!bus->driver) {
            virtio_msg_bus_drop(bus, &msg, "device-to-driver message sent "
                                "to the device side");
            return;
        }
        virtio_msg_driver_receive(bus->driver, &msg);
        return;
    }
    if (msg.type & VIRTIO_MSG_TYPE_BUS) {
        virtio_msg_bus_handle_bus_msg(bus, &msg);
        return;
    }
    xport = msg.dev_num < VIRTIO_MSG_MAX_DEVS ? bus->devs[msg.dev_num] : NULL;
    if (!xport || !virtio_msg_get_vdev(xport)) {
        virtio_msg_bus_drop(bus, &msg, "no device with this dev_num");
        return;
    }
    virtio_msg_handle(xport, &msg);
}

/*
 * A virtio device plugged into the message bus itself goes to the first
 * free dev_num: move it to that transport's virtio-bus before it realizes.
 */
static void virtio_msg_bus_pre_plug(HotplugHandler *hotplug_dev,
                                    DeviceState *dev, Error **errp)
{
    VirtIOMSGBus *bus = VIRTIO_MSG_BUS(hotplug_dev);

    if (!object_dynamic_cast(OBJECT(dev), TYPE_VIRTIO_DEVICE)) {
        return;
    }
    if (bus->relay) {
        error_setg(errp, "virtio-msg bus '%s' is relayed: its devices are "
                   "on the other side of the relay", BUS(bus)->name);
        return;
    }
    if (qdev_get_parent_bus(dev) != BUS(bus)) {
        return;
    }
    for (int i = 0; i < VIRTIO_MSG_MAX_DEVS; i++) {
        VirtioBusState *vbus = &bus->devs[i]->bus;

        if (!virtio_bus_get_device(vbus)) {
            qdev_set_parent_bus(dev, BUS(vbus), errp);
            return;
        }
    }
    error_setg(errp, "virtio-msg bus '%s' has no free device slot",
               BUS(bus)->name);
}

static void virtio_msg_bus_plug(HotplugHandler *hotplug_dev,
                                DeviceState *dev, Error **errp)
{
    VirtIOMSGBus *bus = VIRTIO_MSG_BUS(hotplug_dev);
    VirtIOMSGTransport *xport;

    if (!object_dynamic_cast(OBJECT(dev), TYPE_VIRTIO_DEVICE)) {
        return;
    }
    xport = transport_of(bus, dev);
    trace_virtio_msg_bus_plug(BUS(bus)->name, xport ? xport->dev_num : -1,
                              dev->hotplugged);
    if (xport) {
        /*
         * Rings and buffers are where the bus device reaches the driver's
         * memory (for a PCI device: its bus master address space, which
         * follows Bus Master Enable and any IOMMU), not system memory as
         * the virtio core assumes without iommu_platform.
         */
        VirtIODevice *vdev = VIRTIO_DEVICE(dev);
        AddressSpace *as = virtio_msg_bus_get_dma_as(bus);

        if (vdev->dma_as != as) {
            /* the ring caches follow changes of that address space */
            memory_listener_unregister(&vdev->listener);
            vdev->dma_as = as;
            memory_listener_register(&vdev->listener, as);
        }
    }
    if (xport && dev->hotplugged) {
        virtio_msg_bus_event_device(bus, xport->dev_num,
                                    VIRTIO_MSG_DEVICE_READY);
    }
}

static void virtio_msg_bus_unplug(HotplugHandler *hotplug_dev,
                                  DeviceState *dev, Error **errp)
{
    VirtIOMSGBus *bus = VIRTIO_MSG_BUS(hotplug_dev);
    VirtIOMSGTransport *xport = transport_of(bus, dev);

    if (!object_dynamic_cast(OBJECT(dev), TYPE_VIRTIO_DEVICE) || !xport) {
        error_setg(errp, "%s: only virtio devices can be unplugged",
                   BUS(bus)->name);
        return;
    }
    trace_virtio_msg_bus_unplug(BUS(bus)->name, xport->dev_num);
    virtio_msg_bus_event_device(bus, xport->dev_num,
                                VIRTIO_MSG_DEVICE_REMOVED);
}

static char *virtio_msg_bus_get_dev_path(DeviceState *dev)
{
    VirtIOMSGBus *bus = VIRTIO_MSG_BUS(qdev_get_parent_bus(dev));
    g_autofree char *parent = qdev_get_dev_path(BUS(bus)->parent);
    int dev_num = object_dynamic_cast(OBJECT(dev), TYPE_VIRTIO_MSG) ?
                  VIRTIO_MSG(dev)->dev_num : -1;

    return g_strdup_printf("%s/virtio-msg-bus.%u/%d", parent ? parent : "",
                           bus->index, dev_num);
}

static void virtio_msg_bus_class_init(ObjectClass *klass, void *data)
{
    BusClass *bc = BUS_CLASS(klass);
    HotplugHandlerClass *hc = HOTPLUG_HANDLER_CLASS(klass);

    /* The transports, plus virtio devices passing through to a free slot */
    bc->max_dev = 0;
    bc->get_dev_path = virtio_msg_bus_get_dev_path;
    hc->pre_plug = virtio_msg_bus_pre_plug;
    hc->plug = virtio_msg_bus_plug;
    hc->unplug = virtio_msg_bus_unplug;
}

static void virtio_msg_bus_finalize(Object *obj)
{
    VirtIOMSGBus *bus = VIRTIO_MSG_BUS(obj);

    if (bus->backend) {
        QTAILQ_REMOVE(&virtio_msg_buses, bus, next);
    }
    virtio_msg_relay_disconnect(bus);
    virtio_msg_driver_free(bus);
}

static const TypeInfo virtio_msg_bus_types[] = {
    {
        /*
         * A virtio-bus subtype, so that "-device virtio-foo-device,
         * bus=<this bus>" is accepted and lands on a free dev_num.
         */
        .name = TYPE_VIRTIO_MSG_BUS,
        .parent = TYPE_VIRTIO_BUS,
        .instance_size = sizeof(VirtIOMSGBus),
        .class_init = virtio_msg_bus_class_init,
        .instance_finalize = virtio_msg_bus_finalize,
        .interfaces = (InterfaceInfo[]) {
            { TYPE_HOTPLUG_HANDLER },
            { }
        },
    }, {
        .name = TYPE_VIRTIO_MSG_BUS_DEVICE,
        .parent = TYPE_INTERFACE,
        .class_size = sizeof(VirtIOMSGBusDeviceClass),
    },
};

DEFINE_TYPES(virtio_msg_bus_types)
