/*
 * Transport-independent virtio driver core: the transport operations,
 * device initialisation and split virtqueues
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"

#define VIRTIO_STATUS_ACKNOWLEDGE       0x01
#define VIRTIO_STATUS_DRIVER            0x02
#define VIRTIO_STATUS_DRIVER_OK         0x04
#define VIRTIO_STATUS_FEATURES_OK       0x08
#define VIRTIO_STATUS_NEEDS_RESET       0x40
#define VIRTIO_STATUS_FAILED            0x80

#define VIRTIO_F_VERSION_1              32

#define VIRTIO_ID_BLOCK                 2

/* Split virtqueue layout (virtio 1.x, little-endian) */
#define VRING_DESC_F_NEXT               1
#define VRING_DESC_F_WRITE              2
#define VRING_AVAIL_F_NO_INTERRUPT      1
#define VRING_USED_F_NO_NOTIFY          1

typedef struct VringDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} VringDesc;

typedef struct VringAvail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[];
} VringAvail;

typedef struct VringUsedElem {
    uint32_t id;
    uint32_t len;
} VringUsedElem;

typedef struct VringUsed {
    uint16_t flags;
    uint16_t idx;
    VringUsedElem ring[];
} VringUsed;

typedef struct Virtqueue {
    unsigned index;
    unsigned size;
    VringDesc *desc;
    volatile VringAvail *avail;         /* shared with the device */
    volatile VringUsed *used;           /* written by the device */
    uint16_t avail_idx;                 /* next avail->idx to publish */
    uint16_t published;                 /* avail->idx last written */
    uint16_t last_used;                 /* next used entry to take */
} Virtqueue;

typedef struct VirtioDev VirtioDev;

/*
 * What a transport provides.  Every operation returns false after printing
 * why it failed (timeout, malformed reply, device refusal).
 */
typedef struct VirtioTransportOps {
    const char *name;
    /* write the device status; *result is the status the device reports */
    bool (*set_status)(VirtioDev *vdev, uint8_t status, uint8_t *result);
    bool (*get_features)(VirtioDev *vdev, uint64_t *features);
    bool (*set_features)(VirtioDev *vdev, uint64_t features);
    bool (*read_config)(VirtioDev *vdev, unsigned offset, void *buf,
                        unsigned len);
    /* maximum size of a queue; 0 if it does not exist */
    bool (*queue_max)(VirtioDev *vdev, unsigned index, unsigned *max);
    /* give the device the queue's size and addresses and enable it */
    bool (*queue_setup)(VirtioDev *vdev, Virtqueue *vq);
    bool (*notify)(VirtioDev *vdev, Virtqueue *vq);
    /* take the device's notifications (optional), false on errors */
    bool (*poll)(VirtioDev *vdev);
} VirtioTransportOps;

struct VirtioDev {
    const VirtioTransportOps *ops;
    void *opaque;                       /* the transport's own state */
    uint32_t device_id;
    uint64_t features;                  /* negotiated */
};

/*
 * Reset, ACKNOWLEDGE, DRIVER, negotiate: the device must offer
 * VIRTIO_F_VERSION_1 and everything in @required; the driver accepts those
 * plus whatever of @optional is offered.  Ends with FEATURES_OK confirmed.
 */
bool virtio_init_device(VirtioDev *vdev, uint64_t required,
                        uint64_t optional);
/* Set DRIVER_OK and check that the device took it */
bool virtio_driver_ok(VirtioDev *vdev);
/* Write 0 to the status (device reset) */
bool virtio_reset(VirtioDev *vdev);
/* Set FAILED, for a driver that gives up on the device */
void virtio_fail(VirtioDev *vdev);

/* Allocate and set up queue @index with at most @max_size entries */
bool virtqueue_create(VirtioDev *vdev, Virtqueue *vq, unsigned index,
                      unsigned max_size);
/* Make the chain starting at descriptor @head available (not notified) */
void virtqueue_push(Virtqueue *vq, uint16_t head);
/* Publish the pushed chains and notify the device if it wants it */
bool virtqueue_kick(VirtioDev *vdev, Virtqueue *vq);
/* Take one used chain: false if none */
bool virtqueue_pop(Virtqueue *vq, uint32_t *head, uint32_t *len);

#endif
