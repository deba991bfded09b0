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

typedef struct VirtIOMSGTransport VirtIOMSGTransport;

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
    /*
     * Driver side (optional; a bus without wait cannot carry drivers).
     * wait: block (no main loop) until the peer may have sent something,
     * it hangs up, or @timeout_ms pass; process what arrived.  Returns
     * false when nothing more can come (the peer is gone; for a bus whose
     * both ends are here: nothing was waiting).
     * wait_link: block until the link is up, as long as the backend is
     * configured to wait for its peer.
     */
    bool (*wait)(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                 int64_t timeout_ms);
    void (*wait_link)(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus);
    /*
     * purge: forget the messages for @dev_num that still wait to be sent
     * (replies and events to a device that was just reset).
     */
    void (*purge)(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                  uint16_t dev_num);
    /*
     * congested: are so many messages waiting to be sent that the sender
     * should stop taking more?  (NULL: never)
     */
    bool (*congested)(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus);
};

typedef struct VirtIOMSGDriver VirtIOMSGDriver;
typedef struct VirtIOMSGRelay VirtIOMSGRelay;

struct VirtIOMSGBus {
    VirtioBusState parent_obj;

    /* Set up by virtio_msg_bus_init() */
    VirtIOMSGBusDevice *backend;
    uint16_t max_msg_size;
    unsigned index;             /* the backend's channel number */
    VirtIOMSGTransport *devs[VIRTIO_MSG_MAX_DEVS];

    /* Driver side, if a driver registered (virtio-msg-driver.c) */
    VirtIOMSGDriver *driver;
    /* Relayed to another bus, if any (virtio-msg-relay.c) */
    VirtIOMSGRelay *relay;
    QTAILQ_ENTRY(VirtIOMSGBus) next;
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

/*
 * virtio_msg_bus_forward: pass @msg, received elsewhere as the @len bytes
 * at @buf, unchanged to the backend of @bus.
 */
void virtio_msg_bus_forward(VirtIOMSGBus *bus, const VirtIOMSG *msg,
                            const uint8_t *buf, size_t len);

/* Is the backend of @bus congested (see VirtIOMSGBusDeviceClass)? */
bool virtio_msg_bus_congested(VirtIOMSGBus *bus);

/*
 * May the backend of @bus hand it more received messages now?  (Not while
 * the bus it is relayed to is congested.)
 */
bool virtio_msg_bus_can_receive(VirtIOMSGBus *bus);

/* virtio_msg_bus_process: ask the backend to fetch waiting messages. */
void virtio_msg_bus_process(VirtIOMSGBus *bus);

AddressSpace *virtio_msg_bus_get_dma_as(VirtIOMSGBus *bus);

bool virtio_msg_bus_link_up(VirtIOMSGBus *bus);

/* The virtio-msg bus called @name, of any backend. */
VirtIOMSGBus *virtio_msg_bus_find(const char *name);
/* Is @name a valid name for a new virtio-msg bus (set, unique)? */
bool virtio_msg_bus_check_name(const char *name, Error **errp);
/* The only virtio-msg bus that exists, if there is exactly one. */
VirtIOMSGBus *virtio_msg_bus_find_only(void);

/* Backend operations for the driver side (see VirtIOMSGBusDeviceClass) */
bool virtio_msg_bus_can_wait(VirtIOMSGBus *bus);
bool virtio_msg_bus_wait(VirtIOMSGBus *bus, int64_t timeout_ms);
void virtio_msg_bus_wait_link(VirtIOMSGBus *bus);

/* Forget what waits to be sent for @dev_num (after a device reset). */
void virtio_msg_bus_purge(VirtIOMSGBus *bus, uint16_t dev_num);

/*
 * Called by the backend when the link to the peer goes down: drivers here
 * see their devices fail, devices here are reset.
 */
void virtio_msg_bus_link_down(VirtIOMSGBus *bus);

/* Log and trace a message that is dropped because it is malformed. */
void virtio_msg_bus_drop(VirtIOMSGBus *bus, const VirtIOMSG *msg,
                         const char *why);

#endif
