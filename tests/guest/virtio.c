/*
 * Transport-independent virtio driver core: the transport operations,
 * device initialisation and split virtqueues
 *
 * Addresses given to the device are physical addresses: the MMU maps RAM
 * 1:1 and the PCI functions reach guest RAM without translation on "virt"
 * (no IOMMU).
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "virtio.h"

static bool set_status_checked(VirtioDev *vdev, uint8_t status)
{
    uint8_t result;

    if (!vdev->ops->set_status(vdev, status, &result)) {
        return false;
    }
    if (result != status) {
        printf("virtio: %s: status 0x%x written, device reports 0x%x\n",
               vdev->ops->name, status, result);
        return false;
    }
    return true;
}

bool virtio_reset(VirtioDev *vdev)
{
    return set_status_checked(vdev, 0);
}

void virtio_fail(VirtioDev *vdev)
{
    uint8_t result;

    vdev->ops->set_status(vdev, VIRTIO_STATUS_FAILED, &result);
}

bool virtio_init_device(VirtioDev *vdev, uint64_t required,
                        uint64_t optional)
{
    uint8_t status = VIRTIO_STATUS_ACKNOWLEDGE;
    uint64_t offered;

    required |= 1ULL << VIRTIO_F_VERSION_1;
    if (!virtio_reset(vdev) || !set_status_checked(vdev, status)) {
        return false;
    }
    status |= VIRTIO_STATUS_DRIVER;
    if (!set_status_checked(vdev, status) ||
        !vdev->ops->get_features(vdev, &offered)) {
        return false;
    }
    printf("virtio: %s: device features 0x%lx\n", vdev->ops->name, offered);
    if ((offered & required) != required) {
        printf("virtio: %s: required features 0x%lx missing\n",
               vdev->ops->name, required & ~offered);
        virtio_fail(vdev);
        return false;
    }
    vdev->features = required | (offered & optional);
    if (!vdev->ops->set_features(vdev, vdev->features)) {
        return false;
    }
    status |= VIRTIO_STATUS_FEATURES_OK;
    if (!set_status_checked(vdev, status)) {
        printf("virtio: %s: FEATURES_OK refused for 0x%lx\n",
               vdev->ops->name, vdev->features);
        virtio_fail(vdev);
        return false;
    }
    return true;
}

bool virtio_driver_ok(VirtioDev *vdev)
{
    return set_status_checked(vdev, VIRTIO_STATUS_ACKNOWLEDGE |
                              VIRTIO_STATUS_DRIVER |
                              VIRTIO_STATUS_FEATURES_OK |
                              VIRTIO_STATUS_DRIVER_OK);
}

bool virtqueue_create(VirtioDev *vdev, Virtqueue *vq, unsigned index,
                      unsigned max_size)
{
    unsigned dev_max, size = 1;

    memset(vq, 0, sizeof(*vq));
    if (!vdev->ops->queue_max(vdev, index, &dev_max)) {
        return false;
    }
    if (!dev_max) {
        printf("virtio: %s: no queue %u\n", vdev->ops->name, index);
        return false;
    }
    /* split queues have a power-of-two size */
    while (size * 2 <= MIN(dev_max, max_size)) {
        size *= 2;
    }
    vq->index = index;
    vq->size = size;
    vq->desc = heap_alloc(sizeof(VringDesc) * size, 4096);
    vq->avail = heap_alloc(sizeof(VringAvail) + 2 * size + 2, 4096);
    vq->used = heap_alloc(sizeof(VringUsed) + sizeof(VringUsedElem) * size
                          + 2, 4096);
    if (!vq->desc || !vq->avail || !vq->used) {
        printf("virtio: out of memory for queue %u\n", index);
        return false;
    }
    printf("virtio: %s: queue %u: %u entries (device maximum %u)\n",
           vdev->ops->name, index, size, dev_max);
    return vdev->ops->queue_setup(vdev, vq);
}

void virtqueue_push(Virtqueue *vq, uint16_t head)
{
    vq->avail->ring[vq->avail_idx % vq->size] = head;
    vq->avail_idx++;
}

bool virtqueue_kick(VirtioDev *vdev, Virtqueue *vq)
{
    if (vq->published == vq->avail_idx) {
        return true;            /* nothing new */
    }
    vq->published = vq->avail_idx;
    dma_wmb();                  /* descriptors and ring before the index */
    vq->avail->idx = vq->avail_idx;
    dma_mb();                   /* the index before reading used->flags */
    if (vq->used->flags & VRING_USED_F_NO_NOTIFY) {
        return true;
    }
    return vdev->ops->notify(vdev, vq);
}

bool virtqueue_pop(Virtqueue *vq, uint32_t *head, uint32_t *len)
{
    volatile VringUsedElem *e;          /* written by the device */

    if (vq->used->idx == vq->last_used) {
        return false;
    }
    dma_rmb();                  /* the index before the entry */
    e = &vq->used->ring[vq->last_used % vq->size];
    *head = e->id;
    *len = e->len;
    vq->last_used++;
    return true;
}
