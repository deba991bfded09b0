/*
 * libqos driver for virtio-msg over the virtio-msg-amp-pci device
 *
 * The test plays the driver side of the AMP link: it puts virtio-msg
 * requests into a FIFO's driver-to-device queue in BAR1, rings the FIFO's
 * doorbell in BAR0 and reads responses and events from the
 * device-to-driver queue.  It implements libqos's virtio bus operations on
 * top of that, so QEMU's virtio device tests run over virtio-msg.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_VIRTIO_MSG_AMP_PCI_H
#define LIBQOS_VIRTIO_MSG_AMP_PCI_H

#include "qgraph.h"
#include "pci.h"
#include "pci-pc.h"
#include "generic-pcihost.h"
#include "virtio.h"
#include "libqos-malloc.h"
#include "hw/virtio/virtio-msg-proto.h"

/* Layout of the device (docs/system/devices/virtio/virtio-msg-amp-pci.rst) */
#define QVMSG_AMP_VENDOR_ID     0x10ee
#define QVMSG_AMP_DEVICE_ID     0x9039
#define QVMSG_AMP_REG_VERSION   0x00
#define QVMSG_AMP_REG_FEATURES  0x04
#define QVMSG_AMP_REG_NOTIFY    0x20
#define QVMSG_AMP_WINDOW        0x4000
#define QVMSG_AMP_TO_DEVICE     0x1000
#define QVMSG_AMP_TO_DRIVER     0x2000
#define QVMSG_AMP_Q_HEAD        0
#define QVMSG_AMP_Q_TAIL        64
#define QVMSG_AMP_Q_SLOTS       128
#define QVMSG_AMP_SLOT_SIZE     64
#define QVMSG_AMP_CAPACITY      62
#define QVMSG_AMP_MAX_EVENTS    256

typedef struct QVirtioMSGAmp {
    QOSGraphObject obj;
    QVirtioDevice vdev;
    QPCIDevice *pdev;
    QPCIBar bar0;
    QPCIBar bar1;
    QTestState *qts;
    /* The virtio device driven through vdev */
    unsigned fifo;
    uint16_t dev_num;
    uint16_t token;
    uint16_t queue_sel;
    /* Events seen while waiting for responses */
    uint64_t used_pending;      /* bit n: EVENT_USED for queue n (n < 64) */
    bool config_pending;
    VirtIOMSG *events;          /* all events, in arrival order */
    unsigned num_events;
} QVirtioMSGAmp;

/*
 * The machine the device's tests run on, chosen by the target of
 * QTEST_QEMU_BINARY: on aarch64 "virt" (RAM at 1 GiB, PCIe through the
 * generic host's ECAM), on x86 "q35" (RAM at 0, configuration space
 * through the 0xcf8/0xcfc ports).
 */
typedef struct QVirtioMSGAmpMachine {
    const char *name;           /* -M @name */
    const char *args;           /* -M @name and its CPU, ending in a space */
    uint64_t ram_base;          /* guest physical address of RAM */
} QVirtioMSGAmpMachine;

const QVirtioMSGAmpMachine *qvirtio_msg_amp_machine(void);

/* Storage for the root PCI bus of that machine */
typedef struct QVirtioMSGAmpPCIBus {
    QGenericPCIBus generic;
    QPCIBusPC pc;
} QVirtioMSGAmpPCIBus;

/* Set up @b as the root PCI bus of the machine of @qts and return it. */
QPCIBus *qvirtio_msg_amp_pci_bus(QVirtioMSGAmpPCIBus *b, QTestState *qts);

/* Map the BARs of the device at @devfn and enable it. */
void qvirtio_msg_amp_init(QVirtioMSGAmp *d, QPCIBus *bus, int devfn);
void qvirtio_msg_amp_destroy(QVirtioMSGAmp *d);

/* Ring FIFO @fifo's doorbell. */
void qvirtio_msg_amp_doorbell(QVirtioMSGAmp *d, unsigned fifo);

/*
 * Put @len bytes (at most one slot) on FIFO @fifo's driver-to-device queue
 * without ringing the doorbell.  Returns false if the queue is full.
 */
bool qvirtio_msg_amp_put(QVirtioMSGAmp *d, unsigned fifo, const void *buf,
                         size_t len);

/* Take one slot from FIFO @fifo's device-to-driver queue, if any. */
bool qvirtio_msg_amp_get(QVirtioMSGAmp *d, unsigned fifo,
                         uint8_t buf[QVMSG_AMP_SLOT_SIZE]);

/* Encode @msg, put it on FIFO @fifo and ring the doorbell. */
void qvirtio_msg_amp_send(QVirtioMSGAmp *d, unsigned fifo, VirtIOMSG *msg);

/*
 * Wait up to @timeout_us for the response to the request (id, dev_num,
 * token) of @req on FIFO @fifo; events that arrive meanwhile are recorded.
 * Returns false on timeout.
 */
bool qvirtio_msg_amp_wait_response(QVirtioMSGAmp *d, unsigned fifo,
                                   const VirtIOMSG *req, VirtIOMSG *resp,
                                   gint64 timeout_us);

/* Send @req (a fresh token is assigned) and wait for its response. */
void qvirtio_msg_amp_request(QVirtioMSGAmp *d, unsigned fifo, VirtIOMSG *req,
                             VirtIOMSG *resp);

/*
 * Send @req (a fresh token is assigned) and wait up to @timeout_us for its
 * response; false if none came.
 */
bool qvirtio_msg_amp_try_request(QVirtioMSGAmp *d, unsigned fifo,
                                 VirtIOMSG *req, VirtIOMSG *resp,
                                 gint64 timeout_us);

/* PING with @data on FIFO @fifo; the answer must echo it. */
void qvirtio_msg_amp_ping(QVirtioMSGAmp *d, unsigned fifo, uint32_t data);

/* PING until one is answered (a relayed FIFO whose peer comes later). */
void qvirtio_msg_amp_wait_link(QVirtioMSGAmp *d, unsigned fifo,
                               gint64 timeout_us);

/* GET_DEVICES for dev_nums 0 to 31: the bitmap of those present. */
uint32_t qvirtio_msg_amp_get_devices(QVirtioMSGAmp *d, unsigned fifo);

/*
 * Migrate @src to a new QEMU started with @dst_args and "-incoming defer",
 * through @uri; returns it once it runs (@src is left to the caller).
 */
QTestState *qvirtio_msg_amp_migrate(QTestState *src, const char *dst_args,
                                    const char *uri);

/* Read and record everything waiting on FIFO @fifo. */
void qvirtio_msg_amp_poll(QVirtioMSGAmp *d, unsigned fifo);

/*
 * The first event @id (for EVENT_USED: of queue @index) of the device
 * behind @d among the events recorded since event number @from.
 */
const VirtIOMSG *qvirtio_msg_amp_find_event(QVirtioMSGAmp *d, unsigned from,
                                            uint8_t id, uint32_t index);

/*
 * Kick @head on @vq of the device behind @d, wait until it is used and
 * check that an EVENT_USED announced it; returns the length written.
 */
uint32_t qvirtio_msg_amp_run(QVirtioMSGAmp *d, QVirtQueue *vq, uint32_t head);

/* virtio-rng: have it fill a 64-byte buffer, check it is not all zero. */
void qvirtio_msg_amp_rng_read(QVirtioMSGAmp *d, QGuestAllocator *alloc,
                              QVirtQueue *vq);

/*
 * virtio-blk: one request of @type (VIRTIO_BLK_T_IN/OUT) on sector
 * @sector with the 512 bytes at @data; returns the request's status.
 */
uint8_t qvirtio_msg_amp_blk_rw(QVirtioMSGAmp *d, QGuestAllocator *alloc,
                               QVirtQueue *vq, uint32_t type, uint64_t sector,
                               uint8_t data[512]);

extern const QVirtioBus qvirtio_msg_amp_bus;

#endif
