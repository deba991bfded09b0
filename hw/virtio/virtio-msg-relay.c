/*
 * virtio-msg relay: joins a bus whose driver is elsewhere to a bus whose
 * devices are elsewhere
 *
 * The relay forwards each decoded, well-formed message unchanged to the
 * other bus, in its own direction only.  It keeps just what it needs to
 * behave when one side goes away: which dev_nums the link has shown to
 * exist (to announce their removal to the driver when the link goes
 * down), and which of them it reset itself when the driver side was reset
 * (to swallow the responses to those resets).  Backpressure crosses the
 * relay: a bus stops taking messages while the other one is congested.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bitmap.h"
#include "hw/virtio/virtio-msg-relay.h"
#include "hw/virtio/virtio-msg.h"
#include "trace.h"

/* Token of the device resets the relay sends on its own */
#define RELAY_RESET_TOKEN   0xffff

struct VirtIOMSGRelay {
    VirtIOMSGBus *driver_bus;   /* the driver's requests come in here */
    VirtIOMSGBus *link;         /* the devices answer here */
    DECLARE_BITMAP(present, VIRTIO_MSG_MAX_DEVS);
    DECLARE_BITMAP(resetting, VIRTIO_MSG_MAX_DEVS);
};

static const char *bus_name(VirtIOMSGBus *bus)
{
    return BUS(bus)->name;
}

static bool bus_has_devices(VirtIOMSGBus *bus)
{
    for (unsigned n = 0; n < VIRTIO_MSG_MAX_DEVS; n++) {
        if (bus->devs[n] && virtio_msg_get_vdev(bus->devs[n])) {
            return true;
        }
    }
    return false;
}

static bool relay_check_bus(VirtIOMSGBus *bus, Error **errp)
{
    if (bus->relay) {
        error_setg(errp, "virtio-msg bus '%s' is already relayed",
                   bus_name(bus));
        return false;
    }
    if (bus->driver || bus_has_devices(bus)) {
        error_setg(errp, "virtio-msg bus '%s' has devices of its own and "
                   "cannot be relayed", bus_name(bus));
        return false;
    }
    return true;
}

bool virtio_msg_relay_connect(VirtIOMSGBus *driver_bus, const char *link_name,
                              Error **errp)
{
    VirtIOMSGBus *link = virtio_msg_bus_find(link_name);
    VirtIOMSGRelay *r;

    if (!link) {
        error_setg(errp, "relay: no virtio-msg bus named '%s' (the link "
                   "must be created before the device relaying to it)",
                   link_name);
        return false;
    }
    if (link == driver_bus) {
        error_setg(errp, "relay: a bus cannot be relayed to itself");
        return false;
    }
    if (!relay_check_bus(driver_bus, errp) || !relay_check_bus(link, errp)) {
        return false;
    }
    r = g_new0(VirtIOMSGRelay, 1);
    r->driver_bus = driver_bus;
    r->link = link;
    driver_bus->relay = r;
    link->relay = r;
    trace_virtio_msg_relay_connect(bus_name(driver_bus), bus_name(link));
    return true;
}

void virtio_msg_relay_disconnect(VirtIOMSGBus *bus)
{
    VirtIOMSGRelay *r = bus->relay;

    if (r) {
        r->driver_bus->relay = NULL;
        r->link->relay = NULL;
        g_free(r);
    }
}

/*
 * What the link says about its devices.  Returns false for the response
 * to a reset of our own, which the driver never asked for.
 */
static bool relay_note(VirtIOMSGRelay *r, const VirtIOMSG *msg)
{
    if (!(msg->type & VIRTIO_MSG_TYPE_BUS)) {
        if (msg->dev_num >= VIRTIO_MSG_MAX_DEVS) {
            return true;
        }
        set_bit(msg->dev_num, r->present);
        if ((msg->type & VIRTIO_MSG_TYPE_RESPONSE) &&
            msg->id == VIRTIO_MSG_SET_DEVICE_STATUS &&
            msg->token == RELAY_RESET_TOKEN &&
            test_and_clear_bit(msg->dev_num, r->resetting)) {
            return false;
        }
        return true;
    }
    if (msg->id == VIRTIO_MSG_BUS_GET_DEVICES) {
        for (uint32_t i = 0; i < msg->devices.count; i++) {
            uint32_t n = msg->devices.offset + i;

            if (n >= VIRTIO_MSG_MAX_DEVS) {
                break;
            }
            if (msg->devices.bitmap[i / 8] & (1 << (i % 8))) {
                set_bit(n, r->present);
            } else {
                clear_bit(n, r->present);
            }
        }
    } else if (msg->id == VIRTIO_MSG_BUS_EVENT_DEVICE &&
               msg->event_device.dev_num < VIRTIO_MSG_MAX_DEVS) {
        if (msg->event_device.state == VIRTIO_MSG_DEVICE_REMOVED) {
            clear_bit(msg->event_device.dev_num, r->present);
        } else if (msg->event_device.state == VIRTIO_MSG_DEVICE_READY) {
            set_bit(msg->event_device.dev_num, r->present);
        }
    }
    return true;
}

void virtio_msg_relay_forward(VirtIOMSGBus *bus, const VirtIOMSG *msg,
                              const uint8_t *buf, size_t len)
{
    VirtIOMSGRelay *r = bus->relay;
    bool from_driver = bus == r->driver_bus;
    VirtIOMSGBus *to = from_driver ? r->link : r->driver_bus;

    if (virtio_msg_is_for_driver(msg) == from_driver) {
        virtio_msg_bus_drop(bus, msg, from_driver ?
                            "device-to-driver message from the driver" :
                            "driver-to-device message from the devices");
        return;
    }
    if (msg->size > to->max_msg_size) {
        virtio_msg_bus_drop(bus, msg, "larger than the relayed bus carries");
        return;
    }
    if (!from_driver && !relay_note(r, msg)) {
        trace_virtio_msg_relay_swallow(bus_name(bus), msg->dev_num);
        return;
    }
    virtio_msg_bus_forward(to, msg, buf, MIN(len, msg->size));
}

bool virtio_msg_relay_can_receive(VirtIOMSGBus *bus)
{
    VirtIOMSGRelay *r = bus->relay;

    return !virtio_msg_bus_congested(bus == r->driver_bus ? r->link :
                                     r->driver_bus);
}

void virtio_msg_relay_link_down(VirtIOMSGBus *bus)
{
    VirtIOMSGRelay *r = bus->relay;
    unsigned long n;

    if (bus != r->link) {
        return;
    }
    bitmap_zero(r->resetting, VIRTIO_MSG_MAX_DEVS);
    for (n = find_first_bit(r->present, VIRTIO_MSG_MAX_DEVS);
         n < VIRTIO_MSG_MAX_DEVS;
         n = find_next_bit(r->present, VIRTIO_MSG_MAX_DEVS, n + 1)) {
        VirtIOMSG ev;

        virtio_msg_init(&ev, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_EVENT_DEVICE,
                        0, 0);
        ev.event_device.dev_num = n;
        ev.event_device.state = VIRTIO_MSG_DEVICE_REMOVED;
        trace_virtio_msg_relay_removed(bus_name(r->driver_bus), n);
        virtio_msg_bus_send(r->driver_bus, &ev);
    }
    bitmap_zero(r->present, VIRTIO_MSG_MAX_DEVS);
}

/*
 * The driver is gone with its rings: stop the devices it used before they
 * touch that memory again.
 */
void virtio_msg_relay_driver_reset(VirtIOMSGBus *bus)
{
    VirtIOMSGRelay *r = bus->relay;
    unsigned long n;

    if (!r || bus != r->driver_bus || !virtio_msg_bus_link_up(r->link)) {
        return;
    }
    for (n = find_first_bit(r->present, VIRTIO_MSG_MAX_DEVS);
         n < VIRTIO_MSG_MAX_DEVS;
         n = find_next_bit(r->present, VIRTIO_MSG_MAX_DEVS, n + 1)) {
        VirtIOMSG req;

        virtio_msg_init(&req, 0, VIRTIO_MSG_SET_DEVICE_STATUS, n,
                        RELAY_RESET_TOKEN);
        req.status.status = 0;
        set_bit(n, r->resetting);
        trace_virtio_msg_relay_reset(bus_name(r->link), n);
        virtio_msg_bus_send(r->link, &req);
    }
}
