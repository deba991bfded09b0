/*
 * virtio-msg driver library: messages over the virtio-msg-amp-pci FIFOs
 *
 * A small, self-contained example of the driver side of virtio-msg, for
 * people writing a virtio-msg driver for a co-processor.  It provides
 *  - the message format (an 8-byte header and a payload, little-endian)
 *    with encode/decode and payload accessors,
 *  - the FIFO of virtio-msg-amp-pci: send a message into the
 *    driver-to-device queue and ring the doorbell, take messages from the
 *    device-to-driver queue,
 *  - requests: each request gets a token and waits for the response with
 *    the same msg_id, dev_num and token; events and anything else that
 *    arrives meanwhile are recorded, not lost,
 *  - one helper per message the test program uses.
 *
 * It polls: the device's MSI-X vector is never enabled, the driver looks
 * at the device-to-driver queue in a loop bounded by the generic timer.
 * A driver with interrupts would run vmsg_poll() from its handler.
 *
 * One request is outstanding at a time, which is what the device and the
 * existing Linux drivers do.  Byte layouts follow the virtio-msg draft of
 * December 2025 (see docs/system/devices/virtio/virtio-msg-amp-pci.rst).
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VIRTIO_MSG_DRV_H
#define VIRTIO_MSG_DRV_H

#include "guest.h"

/* virtio-msg-amp-pci: PCI identity, BAR0 registers, BAR1 FIFO windows */
#define VMSG_AMP_VENDOR_ID      0x10ee
#define VMSG_AMP_DEVICE_ID      0x9039
#define VMSG_AMP_REG_VERSION    0x00
#define VMSG_AMP_REG_NOTIFY     0x20        /* + 4 * fifo */
#define VMSG_AMP_WINDOW_SIZE    0x4000      /* per FIFO, in BAR1 */
#define VMSG_AMP_TO_DEVICE      0x1000      /* driver produces */
#define VMSG_AMP_TO_DRIVER      0x2000      /* device produces */

/* Queue layout: head (producer), tail (consumer), 62 slots of 64 bytes */
#define VMSG_Q_HEAD             0
#define VMSG_Q_TAIL             64
#define VMSG_Q_SLOTS            128
#define VMSG_Q_SLOT_SIZE        64
#define VMSG_Q_CAPACITY         ((4096 - VMSG_Q_SLOTS) / VMSG_Q_SLOT_SIZE)

/* Message header */
#define VMSG_HDR_SIZE           8
#define VMSG_MAX_SIZE           64          /* the bus maximum: one slot */
#define VMSG_MAX_PAYLOAD        (VMSG_MAX_SIZE - VMSG_HDR_SIZE)
#define VMSG_TYPE_RESPONSE      0x01
#define VMSG_TYPE_BUS           0x02

/* Transport messages (to the device of dev_num) */
#define VMSG_DEVICE_INFO        0x02
#define VMSG_GET_FEATURES       0x03
#define VMSG_SET_FEATURES       0x04
#define VMSG_GET_CONFIG         0x05
#define VMSG_SET_CONFIG         0x06
#define VMSG_GET_DEVICE_STATUS  0x07
#define VMSG_SET_DEVICE_STATUS  0x08
#define VMSG_GET_VQUEUE         0x09
#define VMSG_SET_VQUEUE         0x0a
#define VMSG_RESET_VQUEUE       0x0b
#define VMSG_GET_SHM            0x0c
#define VMSG_EVENT_CONFIG       0x40
#define VMSG_EVENT_AVAIL        0x41
#define VMSG_EVENT_USED         0x42

/* Bus messages (type VMSG_TYPE_BUS, dev_num 0) */
#define VMSG_BUS_GET_DEVICES    0x02
#define VMSG_BUS_PING           0x03
#define VMSG_BUS_EVENT_DEVICE   0x40

#define VMSG_MAX_DEVS           32          /* dev_num 0..31 per FIFO */
#define VMSG_CONFIG_CHUNK       44          /* 64 - 8 - 12 */

/* A decoded message: the header fields and the payload bytes */
typedef struct VmsgMsg {
    uint8_t type;
    uint8_t id;
    uint16_t dev_num;
    uint16_t token;
    uint16_t size;                      /* header included */
    uint8_t payload[VMSG_MAX_PAYLOAD];
} VmsgMsg;

/* Start a message with @payload_len zeroed payload bytes */
void vmsg_init(VmsgMsg *m, uint8_t type, uint8_t id, uint16_t dev_num,
               unsigned payload_len);
/* Serialise into a 64-byte slot image; returns the message size */
unsigned vmsg_encode(const VmsgMsg *m, uint8_t buf[VMSG_MAX_SIZE]);
/* Parse a 64-byte slot image; false if the header is not valid */
bool vmsg_decode(const uint8_t buf[VMSG_MAX_SIZE], VmsgMsg *m);

/* Payload accessors: @off is the payload offset (P+off) */
static inline unsigned vmsg_payload_len(const VmsgMsg *m)
{
    return m->size - VMSG_HDR_SIZE;
}

static inline uint16_t vmsg_get16(const VmsgMsg *m, unsigned off)
{
    return get_le16(m->payload + off);
}

static inline uint32_t vmsg_get32(const VmsgMsg *m, unsigned off)
{
    return get_le32(m->payload + off);
}

static inline uint64_t vmsg_get64(const VmsgMsg *m, unsigned off)
{
    return get_le64(m->payload + off);
}

static inline void vmsg_put16(VmsgMsg *m, unsigned off, uint16_t v)
{
    put_le16(m->payload + off, v);
}

static inline void vmsg_put32(VmsgMsg *m, unsigned off, uint32_t v)
{
    put_le32(m->payload + off, v);
}

static inline void vmsg_put64(VmsgMsg *m, unsigned off, uint64_t v)
{
    put_le64(m->payload + off, v);
}

/* A printable name of a message ID, for diagnostics */
const char *vmsg_name(uint8_t type, uint8_t id);

/* One FIFO of a virtio-msg-amp-pci device, seen from the driver */
typedef struct VmsgLink {
    uintptr_t doorbell;                 /* BAR0 NOTIFY register */
    uintptr_t txq;                      /* driver-to-device queue */
    uintptr_t rxq;                      /* device-to-driver queue */
    unsigned timeout_ms;                /* bound of every wait */
    uint16_t last_token;

    /* What arrived besides the responses, per dev_num */
    uint64_t used_pending[VMSG_MAX_DEVS];   /* EVENT_USED, bit = vq */
    uint32_t config_events[VMSG_MAX_DEVS];  /* EVENT_CONFIG count */
    uint32_t last_config_status[VMSG_MAX_DEVS];

    /* Statistics and protocol errors found in the device's messages */
    uint64_t sent, received, events;
    unsigned errors;
    bool verbose;                       /* print every message */
} VmsgLink;

/* Attach to FIFO @fifo of a device whose BAR0 and BAR1 are at @bar0/@bar1 */
void vmsg_link_init(VmsgLink *l, uintptr_t bar0, uintptr_t bar1,
                    unsigned fifo);

/* Queue a message and ring the doorbell; waits (bounded) for a free slot */
bool vmsg_send(VmsgLink *l, const VmsgMsg *m);

/*
 * Take one message from the device-to-driver queue.  Returns false if the
 * queue is empty.  A message with an invalid header is consumed, counted
 * in l->errors and reported with type 0xff.
 */
bool vmsg_receive(VmsgLink *l, VmsgMsg *m);

/* Take everything queued; events are recorded, responses are errors */
void vmsg_poll(VmsgLink *l);

/*
 * Send @req with a fresh token and wait for its response: the same msg_id
 * with the response bit, the same bus bit, dev_num and token, and at least
 * @min_payload bytes of payload.  False (with a message saying what was
 * awaited) on timeout or on a malformed response.
 */
bool vmsg_request(VmsgLink *l, VmsgMsg *req, VmsgMsg *resp,
                  unsigned min_payload);

/* Bus messages */
bool vmsg_get_devices(VmsgLink *l, uint32_t *bitmap);
bool vmsg_ping(VmsgLink *l, uint32_t data);

/* Transport messages */
typedef struct VmsgDeviceInfo {
    uint32_t device_id;
    uint32_t vendor_id;
    uint32_t num_feature_bits;
    uint32_t config_size;
    uint32_t max_virtqueues;
} VmsgDeviceInfo;

bool vmsg_device_info(VmsgLink *l, uint16_t dev, VmsgDeviceInfo *info);
bool vmsg_get_features(VmsgLink *l, uint16_t dev, uint64_t *features);
bool vmsg_set_features(VmsgLink *l, uint16_t dev, uint64_t features);
bool vmsg_get_config(VmsgLink *l, uint16_t dev, uint32_t offset,
                     void *buf, uint32_t len, uint32_t *generation);
bool vmsg_get_status(VmsgLink *l, uint16_t dev, uint32_t *status);
bool vmsg_set_status(VmsgLink *l, uint16_t dev, uint32_t status,
                     uint32_t *result);
bool vmsg_get_vqueue(VmsgLink *l, uint16_t dev, uint32_t index,
                     uint32_t *max_size);
bool vmsg_set_vqueue(VmsgLink *l, uint16_t dev, uint32_t index,
                     uint32_t size, uint64_t desc, uint64_t driver,
                     uint64_t device);
/* Notify virtqueue @index of @dev (an event: no response) */
bool vmsg_event_avail(VmsgLink *l, uint16_t dev, uint32_t index);

#endif
