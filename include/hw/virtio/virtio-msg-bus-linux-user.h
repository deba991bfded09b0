/*
 * virtio-msg-bus-linux-user: a virtio-msg bus between two QEMU processes
 *
 * Messages travel through two SPSC queues in a sealed memfd that the side
 * owning the listening socket creates and passes over the socket when the
 * other side connects; afterwards the socket only carries doorbells (one
 * byte per batch of messages).  Nothing is created in the file system.
 * See docs/system/devices/virtio/virtio-msg.rst.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_BUS_LINUX_USER_H
#define HW_VIRTIO_VIRTIO_MSG_BUS_LINUX_USER_H

#include "hw/sysbus.h"
#include "chardev/char-fe.h"
#include "hw/virtio/virtio-msg-bus.h"
#include "hw/virtio/virtio-msg-channel.h"

#define TYPE_VIRTIO_MSG_BUS_LINUX_USER "virtio-msg-bus-linux-user"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMSGBusLinuxUser, VIRTIO_MSG_BUS_LINUX_USER)

/* Setup message: magic, version, queue size; the memfd rides along */
#define VIRTIO_MSG_LU_MAGIC         "VMSGLU"
#define VIRTIO_MSG_LU_VERSION       1
#define VIRTIO_MSG_LU_SETUP_SIZE    16
#define VIRTIO_MSG_LU_QUEUE_SIZE    (64 * 1024)
#define VIRTIO_MSG_LU_DOORBELL      'D'

struct VirtIOMSGBusLinuxUser {
    SysBusDevice parent_obj;

    /* Properties */
    CharBackend chr;
    char *name;
    uint32_t connect_timeout_ms;

    VirtIOMSGBus bus;
    bool server;
    /* The link: valid only while up */
    bool up;
    int memfd;
    uint8_t *shm;
    size_t shm_size;
    VirtIOMSGChannel ch;
    /* Connecting side: the setup message received so far */
    uint8_t setup[VIRTIO_MSG_LU_SETUP_SIZE];
    size_t setup_len;
    QEMUTimer *retry_timer;
    QEMUBH *process_bh;
};

#endif
