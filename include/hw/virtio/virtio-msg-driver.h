/*
 * virtio-msg driver side: requests to the devices behind a virtio-msg bus
 *
 * The driver-side engine of one virtio-msg bus.  Users (the proxies)
 * register per dev_num; requests get a token from a table that allows
 * several outstanding requests at once, each with a completion callback.
 * A wait blocks on the bus backend (its file descriptor), never on the main
 * loop, and is bounded: when a device does not answer before the deadline,
 * or the link goes down, the device is failed, its outstanding requests
 * complete with no response, and every later request of that device fails
 * at once until virtio_msg_driver_reset_device() succeeds.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_DRIVER_H
#define HW_VIRTIO_VIRTIO_MSG_DRIVER_H

#include "hw/virtio/virtio-msg-bus.h"

/* Requests that may be outstanding on one bus at once */
#define VIRTIO_MSG_DRIVER_MAX_INFLIGHT  256

typedef struct VirtIOMSGDriver VirtIOMSGDriver;

typedef struct VirtIOMSGDriverOps {
    /* EVENT_USED or EVENT_CONFIG from the remote device */
    void (*event)(void *opaque, const VirtIOMSG *msg);
    /*
     * The remote device failed: no answer in time, link loss, or the
     * device was removed.  Called once per failure.
     */
    void (*failed)(void *opaque, const char *why);
} VirtIOMSGDriverOps;

/* Completion of a request: @resp is NULL when it failed. */
typedef void (*VirtIOMSGDriverDoneFn)(void *opaque, const VirtIOMSG *resp);

/* The driver-side engine of @bus, created on first use. */
VirtIOMSGDriver *virtio_msg_driver_get(VirtIOMSGBus *bus);

/* Free the engine of @bus, if any (when the bus goes away). */
void virtio_msg_driver_free(VirtIOMSGBus *bus);

bool virtio_msg_driver_register(VirtIOMSGDriver *d, uint16_t dev_num,
                                const VirtIOMSGDriverOps *ops, void *opaque,
                                Error **errp);
void virtio_msg_driver_unregister(VirtIOMSGDriver *d, uint16_t dev_num);

/*
 * Wait once per bus, as long as the bus backend is configured to, for the
 * link to come up.  Blocks (no main loop).  Returns whether the link is up.
 */
bool virtio_msg_driver_wait_link(VirtIOMSGDriver *d);

/*
 * Send the request @req for its dev_num with a fresh token; @done is
 * called with the response, or with NULL if the device fails first.
 * Returns false (and @done is not called) when the device is failed or the
 * link is down.
 */
bool virtio_msg_driver_send(VirtIOMSGDriver *d, VirtIOMSG *req,
                            VirtIOMSGDriverDoneFn done, void *opaque);

/*
 * Wait until every outstanding request of @dev_num has completed, or
 * until @deadline_ms (QEMU_CLOCK_REALTIME), after which the device is
 * failed.  Returns true when all completed with a response.
 */
bool virtio_msg_driver_wait(VirtIOMSGDriver *d, uint16_t dev_num,
                            int64_t deadline_ms);

/*
 * Send @req and wait up to @timeout_ms for its response, stored in @resp.
 * Returns false if the device failed (now or before).
 */
bool virtio_msg_driver_request(VirtIOMSGDriver *d, VirtIOMSG *req,
                               VirtIOMSG *resp, uint32_t timeout_ms);

/* Send the event @ev (EVENT_AVAIL) unless the device is failed. */
void virtio_msg_driver_send_event(VirtIOMSGDriver *d, VirtIOMSG *ev);

/* Fail @dev_num now (callback included), e.g. after a bad answer. */
void virtio_msg_driver_fail(VirtIOMSGDriver *d, uint16_t dev_num,
                            const char *why);
bool virtio_msg_driver_failed(VirtIOMSGDriver *d, uint16_t dev_num);

/*
 * Reset the remote device @dev_num: drop its outstanding requests, send
 * SET_DEVICE_STATUS(0) even if it is failed, and wait up to @timeout_ms.
 * The device is usable again (not failed) only if it answers with status
 * 0; returns whether it did.
 */
bool virtio_msg_driver_reset_device(VirtIOMSGDriver *d, uint16_t dev_num,
                                    uint32_t timeout_ms);

/*
 * Called by the bus: a response or a device-to-driver event (EVENT_USED,
 * EVENT_CONFIG, bus EVENT_DEVICE) has arrived.
 */
void virtio_msg_driver_receive(VirtIOMSGDriver *d, const VirtIOMSG *msg);

/* Called by the bus: the link went down; every device fails. */
void virtio_msg_driver_link_down(VirtIOMSGDriver *d);

#endif
