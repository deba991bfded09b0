/*
 * virtio transport operations over virtio-msg (virtio-msg-drv.c)
 *
 * Each operation is one request/response exchange with the device, except
 * the notification, which is an EVENT_AVAIL event.  The device's
 * EVENT_USED events are taken by the poll operation; the virtio-blk code
 * looks at the used ring itself, so they only have to be consumed.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "transports.h"

static VmsgVirtio *vmsg_of(VirtioDev *vdev)
{
    return vdev->opaque;
}

static bool vmsg_op_set_status(VirtioDev *vdev, uint8_t status,
                               uint8_t *result)
{
    VmsgVirtio *t = vmsg_of(vdev);
    uint32_t r;

    if (!vmsg_set_status(t->link, t->dev_num, status, &r)) {
        return false;
    }
    /* a value that does not fit in 8 bits is reported as a mismatch */
    *result = r > 0xff ? (uint8_t)~status : r;
    return true;
}

static bool vmsg_op_get_features(VirtioDev *vdev, uint64_t *features)
{
    VmsgVirtio *t = vmsg_of(vdev);

    return vmsg_get_features(t->link, t->dev_num, features);
}

static bool vmsg_op_set_features(VirtioDev *vdev, uint64_t features)
{
    VmsgVirtio *t = vmsg_of(vdev);

    return vmsg_set_features(t->link, t->dev_num, features);
}

/*
 * In chunks of at most 44 bytes; all chunks must carry the same
 * generation, else the configuration changed meanwhile: read again.
 */
static bool vmsg_op_read_config(VirtioDev *vdev, unsigned offset, void *buf,
                                unsigned len)
{
    VmsgVirtio *t = vmsg_of(vdev);

    for (unsigned attempt = 0; attempt < 4; attempt++) {
        uint32_t first = 0, gen;
        bool same = true;

        for (unsigned done = 0; done < len;) {
            unsigned n = MIN(len - done, VMSG_CONFIG_CHUNK);

            if (!vmsg_get_config(t->link, t->dev_num, offset + done,
                                 (uint8_t *)buf + done, n, &gen)) {
                return false;
            }
            if (done == 0) {
                first = gen;
            }
            same &= gen == first;
            done += n;
        }
        if (same) {
            return true;
        }
    }
    printf("virtio-msg: config generation keeps changing\n");
    return false;
}

static bool vmsg_op_queue_max(VirtioDev *vdev, unsigned index,
                              unsigned *max)
{
    VmsgVirtio *t = vmsg_of(vdev);
    uint32_t m;

    if (!vmsg_get_vqueue(t->link, t->dev_num, index, &m)) {
        return false;
    }
    *max = m;
    return true;
}

static bool vmsg_op_queue_setup(VirtioDev *vdev, Virtqueue *vq)
{
    VmsgVirtio *t = vmsg_of(vdev);

    return vmsg_set_vqueue(t->link, t->dev_num, vq->index, vq->size,
                           (uintptr_t)vq->desc, (uintptr_t)vq->avail,
                           (uintptr_t)vq->used);
}

static bool vmsg_op_notify(VirtioDev *vdev, Virtqueue *vq)
{
    VmsgVirtio *t = vmsg_of(vdev);

    return vmsg_event_avail(t->link, t->dev_num, vq->index);
}

static bool vmsg_op_poll(VirtioDev *vdev)
{
    VmsgVirtio *t = vmsg_of(vdev);
    unsigned errors = t->link->errors;

    vmsg_poll(t->link);
    t->link->used_pending[t->dev_num] = 0;
    return t->link->errors == errors;
}

static const VirtioTransportOps vmsg_virtio_ops = {
    .name = "virtio-msg",
    .set_status = vmsg_op_set_status,
    .get_features = vmsg_op_get_features,
    .set_features = vmsg_op_set_features,
    .read_config = vmsg_op_read_config,
    .queue_max = vmsg_op_queue_max,
    .queue_setup = vmsg_op_queue_setup,
    .notify = vmsg_op_notify,
    .poll = vmsg_op_poll,
};

void vmsg_virtio_attach(VirtioDev *vdev, VmsgVirtio *t, VmsgLink *link,
                        uint16_t dev_num)
{
    t->link = link;
    t->dev_num = dev_num;
    memset(vdev, 0, sizeof(*vdev));
    vdev->ops = &vmsg_virtio_ops;
    vdev->opaque = t;
}
