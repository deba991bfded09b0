/*
 * virtio-msg bus: carries virtio-msg messages between the device-side
 * transports and a backend (a "bus device": the AMP PCI device, a socket...)
 *
 * A backend owns one VirtIOMSGBus per message channel (for the AMP PCI
 * device: one per FIFO).  Every bus hosts VIRTIO_MSG_MAX_DEVS transport
 * devices (TYPE_VIRTIO_MSG), one per dev_num, each with a virtio-bus named
 * "<bus name>.dev<N>" into which any virtio device model plugs.  A virtio
 * device plugged into the message bus itself (bus=<bus name>) is moved to
 * the first free dev_num.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_BUS_H
#define HW_VIRTIO_VIRTIO_MSG_BUS_H

#include "hw/virtio/virtio-bus.h"
#include "hw/virtio/virtio-msg-proto.h"
#include "qom/object.h"

#define VIRTIO_MSG_MAX_DEVS 32

typedef struct VirtIOMSGProxy VirtIOMSGProxy;

/* The interface a backend implements. */
#define TYPE_VIRTIO_MSG_BUS_DEVICE "virtio-msg-bus-device"
typedef struct VirtIOMSGBusDeviceClass VirtIOMSGBusDeviceClass;
DECLARE_CLASS_CHECKERS(VirtIOMSGBusDeviceClass, VIRTIO_MSG_BUS_DEVICE,
                       TYPE_VIRTIO_MSG_BUS_DEVICE)
#define VIRTIO_MSG_BUS_DEVICE(obj) \
    INTERFACE_CHECK(VirtIOMSGBusDevice, (obj), TYPE_VIRTIO_MSG_BUS_DEVICE)
typedef struct VirtIOMSGBusDevice VirtIOMSGBusDevice;

#define TYPE_VIRTIO_MSG_BUS "virtio-msg-bus"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMSGBus, VIRTIO_MSG_BUS)

struct VirtIOMSGBusDeviceClass {
    InterfaceClass parent_class;

    /*
     * send: transmit @msg, already encoded as @len bytes at @buf, to the
     * driver side of @bus.  A message that cannot be delivered now must be
     * queued and delivered later; the backend decides how many it keeps.
     */
    void (*send)(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                 const VirtIOMSG *msg, const uint8_t *buf, size_t len);
    /*
     * process: fetch the messages waiting for @bus from the driver side and
     * hand each to virtio_msg_bus_receive().
     */
    void (*process)(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus);
    /* Address space for rings and buffers (NULL: system memory). */
    AddressSpace *(*get_dma_as)(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus);
    /* Is the other side there?  (NULL: always) */
    bool (*link_up)(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus);
};

/*
 * Driver side: what the other end sends to the driver of one dev_num
 * (EVENT_USED, EVENT_CONFIG, and link loss as a NULL message).
 */
typedef void (*VirtIOMSGDriverEventFn)(void *opaque, const VirtIOMSG *msg);

typedef struct VirtIOMSGDriverPort {
    VirtIOMSGDriverEventFn event;
    void *opaque;
} VirtIOMSGDriverPort;

typedef struct VirtIOMSGPendingRequest {
    bool active;
    bool done;
    uint8_t type;
    uint8_t id;
    uint16_t dev_num;
    uint16_t token;
    VirtIOMSG *resp;
} VirtIOMSGPendingRequest;

struct VirtIOMSGBus {
    VirtioBusState parent_obj;

    /* Set up by virtio_msg_bus_init() */
    VirtIOMSGBusDevice *backend;
    uint16_t max_msg_size;
    unsigned index;             /* the backend's channel number */
    VirtIOMSGProxy *devs[VIRTIO_MSG_MAX_DEVS];

    /* Driver side */
    VirtIOMSGDriverPort drivers[VIRTIO_MSG_MAX_DEVS];
    VirtIOMSGPendingRequest pending;
    uint16_t last_token;
};

/**
 * virtio_msg_bus_init: create the bus @name of the backend @parent (which
 * implements TYPE_VIRTIO_MSG_BUS_DEVICE) and its VIRTIO_MSG_MAX_DEVS
 * transports.  @index is passed back to the backend as bus->index.
 */
bool virtio_msg_bus_init(VirtIOMSGBus *bus, DeviceState *parent,
                         const char *name, unsigned index,
                         uint16_t max_msg_size, Error **errp);

/* virtio_msg_bus_receive: handle @len bytes received from the driver. */
void virtio_msg_bus_receive(VirtIOMSGBus *bus, const uint8_t *buf,
                            size_t len);

/* virtio_msg_bus_send: encode @msg and pass it to the backend. */
void virtio_msg_bus_send(VirtIOMSGBus *bus, VirtIOMSG *msg);

/* virtio_msg_bus_process: ask the backend to fetch waiting messages. */
void virtio_msg_bus_process(VirtIOMSGBus *bus);

AddressSpace *virtio_msg_bus_get_dma_as(VirtIOMSGBus *bus);

bool virtio_msg_bus_link_up(VirtIOMSGBus *bus);

/*
 * Driver side.  virtio_msg_bus_register_driver: deliver events for
 * @dev_num to @event.  virtio_msg_bus_request: send @req with a fresh
 * token and wait up to @timeout_ms for its response, which is stored in
 * @resp; returns false on timeout or when the link is down.
 */
bool virtio_msg_bus_register_driver(VirtIOMSGBus *bus, uint16_t dev_num,
                                    VirtIOMSGDriverEventFn event,
                                    void *opaque, Error **errp);
void virtio_msg_bus_unregister_driver(VirtIOMSGBus *bus, uint16_t dev_num);
bool virtio_msg_bus_request(VirtIOMSGBus *bus, VirtIOMSG *req,
                            VirtIOMSG *resp, uint32_t timeout_ms);
/* Tell every driver that the link went down. */
void virtio_msg_bus_link_lost(VirtIOMSGBus *bus);

/* Log and trace a message that is dropped because it is malformed. */
void virtio_msg_bus_drop(VirtIOMSGBus *bus, const VirtIOMSG *msg,
                         const char *why);

#endif
