/*
 * virtio-msg driver side: requests to the devices behind a virtio-msg bus
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/timer.h"
#include "hw/virtio/virtio-msg-driver.h"
#include "trace.h"

typedef struct VirtIOMSGInflight {
    bool used;
    uint8_t type;
    uint8_t id;
    uint16_t dev_num;
    uint16_t token;
    VirtIOMSGDriverDoneFn done;
    void *opaque;
} VirtIOMSGInflight;

typedef struct VirtIOMSGDriverDev {
    const VirtIOMSGDriverOps *ops;
    void *opaque;
    bool failed;
    unsigned inflight;
} VirtIOMSGDriverDev;

struct VirtIOMSGDriver {
    VirtIOMSGBus *bus;
    bool link_waited;
    uint16_t last_token;
    VirtIOMSGDriverDev devs[VIRTIO_MSG_MAX_DEVS];
    VirtIOMSGInflight inflight[VIRTIO_MSG_DRIVER_MAX_INFLIGHT];
};

VirtIOMSGDriver *virtio_msg_driver_get(VirtIOMSGBus *bus)
{
    if (!bus->driver) {
        bus->driver = g_new0(VirtIOMSGDriver, 1);
        bus->driver->bus = bus;
    }
    return bus->driver;
}

void virtio_msg_driver_free(VirtIOMSGBus *bus)
{
    g_free(bus->driver);
    bus->driver = NULL;
}

static const char *bus_name(VirtIOMSGDriver *d)
{
    return BUS(d->bus)->name;
}

bool virtio_msg_driver_register(VirtIOMSGDriver *d, uint16_t dev_num,
                                const VirtIOMSGDriverOps *ops, void *opaque,
                                Error **errp)
{
    if (dev_num >= VIRTIO_MSG_MAX_DEVS) {
        error_setg(errp, "dev-num must be below %d", VIRTIO_MSG_MAX_DEVS);
        return false;
    }
    if (d->bus->relay) {
        error_setg(errp, "virtio-msg bus '%s' is relayed and cannot carry "
                   "driver-side devices", bus_name(d));
        return false;
    }
    if (!virtio_msg_bus_can_wait(d->bus)) {
        error_setg(errp, "virtio-msg bus '%s' cannot carry driver-side "
                   "devices", bus_name(d));
        return false;
    }
    if (d->devs[dev_num].ops) {
        error_setg(errp, "dev-num %u of virtio-msg bus '%s' already has a "
                   "driver", dev_num, bus_name(d));
        return false;
    }
    d->devs[dev_num] = (VirtIOMSGDriverDev) { .ops = ops, .opaque = opaque };
    return true;
}

/* Complete every outstanding request of @dev_num (all if -1) with NULL. */
static void cancel_requests(VirtIOMSGDriver *d, int dev_num)
{
    for (unsigned i = 0; i < VIRTIO_MSG_DRIVER_MAX_INFLIGHT; i++) {
        VirtIOMSGInflight *r = &d->inflight[i];

        if (r->used && (dev_num < 0 || r->dev_num == dev_num)) {
            r->used = false;
            d->devs[r->dev_num].inflight--;
            if (r->done) {
                r->done(r->opaque, NULL);
            }
        }
    }
}

void virtio_msg_driver_unregister(VirtIOMSGDriver *d, uint16_t dev_num)
{
    if (dev_num < VIRTIO_MSG_MAX_DEVS) {
        cancel_requests(d, dev_num);
        d->devs[dev_num] = (VirtIOMSGDriverDev) { };
    }
}

bool virtio_msg_driver_failed(VirtIOMSGDriver *d, uint16_t dev_num)
{
    return dev_num >= VIRTIO_MSG_MAX_DEVS || d->devs[dev_num].failed;
}

void virtio_msg_driver_fail(VirtIOMSGDriver *d, uint16_t dev_num,
                            const char *why)
{
    VirtIOMSGDriverDev *dev;

    if (dev_num >= VIRTIO_MSG_MAX_DEVS) {
        return;
    }
    dev = &d->devs[dev_num];
    cancel_requests(d, dev_num);
    if (dev->failed) {
        return;
    }
    dev->failed = true;
    trace_virtio_msg_driver_fail(bus_name(d), dev_num, why);
    if (dev->ops && dev->ops->failed) {
        dev->ops->failed(dev->opaque, why);
    }
}

bool virtio_msg_driver_wait_link(VirtIOMSGDriver *d)
{
    if (!d->link_waited) {
        d->link_waited = true;
        virtio_msg_bus_wait_link(d->bus);
    }
    return virtio_msg_bus_link_up(d->bus);
}

static bool token_busy(VirtIOMSGDriver *d, uint16_t token)
{
    for (unsigned i = 0; i < VIRTIO_MSG_DRIVER_MAX_INFLIGHT; i++) {
        if (d->inflight[i].used && d->inflight[i].token == token) {
            return true;
        }
    }
    return false;
}

static bool send_request(VirtIOMSGDriver *d, VirtIOMSG *req,
                         VirtIOMSGDriverDoneFn done, void *opaque)
{
    VirtIOMSGInflight *r = NULL;

    if (req->dev_num >= VIRTIO_MSG_MAX_DEVS ||
        !virtio_msg_bus_link_up(d->bus)) {
        return false;
    }
    for (unsigned i = 0; !r && i < VIRTIO_MSG_DRIVER_MAX_INFLIGHT; i++) {
        if (!d->inflight[i].used) {
            r = &d->inflight[i];
        }
    }
    if (!r) {
        trace_virtio_msg_driver_full(bus_name(d), req->dev_num);
        return false;
    }
    /* a token no outstanding request uses (0 is for events) */
    do {
        d->last_token = d->last_token + 1 ? d->last_token + 1 : 1;
    } while (token_busy(d, d->last_token));
    req->token = d->last_token;
    *r = (VirtIOMSGInflight) {
        .used = true, .type = req->type, .id = req->id,
        .dev_num = req->dev_num, .token = req->token,
        .done = done, .opaque = opaque,
    };
    d->devs[req->dev_num].inflight++;
    virtio_msg_bus_send(d->bus, req);
    return true;
}

bool virtio_msg_driver_send(VirtIOMSGDriver *d, VirtIOMSG *req,
                            VirtIOMSGDriverDoneFn done, void *opaque)
{
    if (virtio_msg_driver_failed(d, req->dev_num)) {
        return false;
    }
    return send_request(d, req, done, opaque);
}

void virtio_msg_driver_send_event(VirtIOMSGDriver *d, VirtIOMSG *ev)
{
    if (!virtio_msg_driver_failed(d, ev->dev_num) &&
        virtio_msg_bus_link_up(d->bus)) {
        ev->token = 0;
        virtio_msg_bus_send(d->bus, ev);
    }
}

bool virtio_msg_driver_wait(VirtIOMSGDriver *d, uint16_t dev_num,
                            int64_t deadline_ms)
{
    VirtIOMSGDriverDev *dev;

    if (dev_num >= VIRTIO_MSG_MAX_DEVS) {
        return false;
    }
    dev = &d->devs[dev_num];
    while (dev->inflight) {
        int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

        if (!virtio_msg_bus_link_up(d->bus)) {
            virtio_msg_driver_fail(d, dev_num, "the virtio-msg link is down");
            return false;
        }
        if (now >= deadline_ms) {
            trace_virtio_msg_driver_timeout(bus_name(d), dev_num,
                                            dev->inflight);
            virtio_msg_driver_fail(d, dev_num,
                                   "the remote device did not answer");
            return false;
        }
        /* Blocks until the peer rings, hangs up, or the time is over */
        if (!virtio_msg_bus_wait(d->bus, deadline_ms - now) &&
            dev->inflight) {
            virtio_msg_driver_fail(d, dev_num,
                                   virtio_msg_bus_link_up(d->bus) ?
                                   "the remote device cannot answer" :
                                   "the virtio-msg link is down");
            return false;
        }
    }
    return true;
}

typedef struct SyncRequest {
    VirtIOMSG *resp;
    bool answered;
} SyncRequest;

static void sync_done(void *opaque, const VirtIOMSG *resp)
{
    SyncRequest *sr = opaque;

    if (resp) {
        *sr->resp = *resp;
        sr->answered = true;
    }
}

bool virtio_msg_driver_request(VirtIOMSGDriver *d, VirtIOMSG *req,
                               VirtIOMSG *resp, uint32_t timeout_ms)
{
    SyncRequest sr = { .resp = resp };
    int64_t deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + timeout_ms;

    if (!virtio_msg_driver_send(d, req, sync_done, &sr)) {
        return false;
    }
    virtio_msg_driver_wait(d, req->dev_num, deadline);
    return sr.answered;
}

bool virtio_msg_driver_reset_device(VirtIOMSGDriver *d, uint16_t dev_num,
                                    uint32_t timeout_ms)
{
    int64_t deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + timeout_ms;
    SyncRequest sr;
    VirtIOMSG req, resp;

    if (dev_num >= VIRTIO_MSG_MAX_DEVS) {
        return false;
    }
    cancel_requests(d, dev_num);
    virtio_msg_init(&req, 0, VIRTIO_MSG_SET_DEVICE_STATUS, dev_num, 0);
    req.status.status = 0;
    sr = (SyncRequest) { .resp = &resp };
    if (!send_request(d, &req, sync_done, &sr)) {
        virtio_msg_driver_fail(d, dev_num, "the virtio-msg link is down");
        return false;
    }
    if (!virtio_msg_driver_wait(d, dev_num, deadline) || !sr.answered) {
        return false;
    }
    if (resp.status.status != 0) {
        virtio_msg_driver_fail(d, dev_num, "the remote device did not reset");
        return false;
    }
    d->devs[dev_num].failed = false;
    return true;
}

static void complete(VirtIOMSGDriver *d, const VirtIOMSG *msg)
{
    for (unsigned i = 0; i < VIRTIO_MSG_DRIVER_MAX_INFLIGHT; i++) {
        VirtIOMSGInflight *r = &d->inflight[i];

        if (r->used && r->token == msg->token &&
            r->dev_num == msg->dev_num && r->id == msg->id &&
            r->type == (msg->type & ~VIRTIO_MSG_TYPE_RESPONSE)) {
            r->used = false;
            d->devs[r->dev_num].inflight--;
            if (r->done) {
                r->done(r->opaque, msg);
            }
            return;
        }
    }
    virtio_msg_bus_drop(d->bus, msg, "response to no outstanding request");
}

void virtio_msg_driver_receive(VirtIOMSGDriver *d, const VirtIOMSG *msg)
{
    VirtIOMSGDriverDev *dev;

    if (msg->type & VIRTIO_MSG_TYPE_RESPONSE) {
        complete(d, msg);
        return;
    }
    if (msg->type & VIRTIO_MSG_TYPE_BUS) {
        /* EVENT_DEVICE: a device came or went */
        if (msg->event_device.state == VIRTIO_MSG_DEVICE_REMOVED &&
            msg->event_device.dev_num < VIRTIO_MSG_MAX_DEVS &&
            d->devs[msg->event_device.dev_num].ops) {
            virtio_msg_driver_fail(d, msg->event_device.dev_num,
                                   "the remote device was removed");
        }
        return;
    }
    dev = msg->dev_num < VIRTIO_MSG_MAX_DEVS ? &d->devs[msg->dev_num] : NULL;
    if (!dev || !dev->ops) {
        virtio_msg_bus_drop(d->bus, msg, "event for a device with no driver");
        return;
    }
    if (!dev->failed && dev->ops->event) {
        dev->ops->event(dev->opaque, msg);
    }
}

void virtio_msg_driver_link_down(VirtIOMSGDriver *d)
{
    cancel_requests(d, -1);
    for (uint16_t i = 0; i < VIRTIO_MSG_MAX_DEVS; i++) {
        if (d->devs[i].ops) {
            virtio_msg_driver_fail(d, i, "the virtio-msg peer went away");
        }
    }
}
