/*
 * virtio-msg wire protocol: message ids, layouts, encoder and decoder
 *
 * This is the only place that knows the byte layout of virtio-msg
 * messages (summarised in docs/system/devices/virtio/virtio-msg-amp-pci.rst).
 * Everything else works on the decoded VirtIOMSG structure.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_VIRTIO_MSG_PROTO_H
#define HW_VIRTIO_VIRTIO_MSG_PROTO_H

/* Header: type, msg_id, dev_num, token, msg_size */
#define VIRTIO_MSG_HDR_SIZE             8

/* Largest message the codec handles; a bus may use a smaller maximum. */
#define VIRTIO_MSG_MAX_SIZE             256
#define VIRTIO_MSG_MAX_PAYLOAD          (VIRTIO_MSG_MAX_SIZE - \
                                         VIRTIO_MSG_HDR_SIZE)

/* Bits of the header's type byte; bits 2..7 are reserved. */
#define VIRTIO_MSG_TYPE_RESPONSE        0x01
#define VIRTIO_MSG_TYPE_BUS             0x02

/* Transport message ids */
#define VIRTIO_MSG_DEVICE_INFO          0x02
#define VIRTIO_MSG_GET_FEATURES         0x03
#define VIRTIO_MSG_SET_FEATURES         0x04
#define VIRTIO_MSG_GET_CONFIG           0x05
#define VIRTIO_MSG_SET_CONFIG           0x06
#define VIRTIO_MSG_GET_DEVICE_STATUS    0x07
#define VIRTIO_MSG_SET_DEVICE_STATUS    0x08
#define VIRTIO_MSG_GET_VQUEUE           0x09
#define VIRTIO_MSG_SET_VQUEUE           0x0a
#define VIRTIO_MSG_RESET_VQUEUE         0x0b
#define VIRTIO_MSG_GET_SHM              0x0c
#define VIRTIO_MSG_EVENT_CONFIG         0x40
#define VIRTIO_MSG_EVENT_AVAIL          0x41
#define VIRTIO_MSG_EVENT_USED           0x42

/* Bus message ids (type has VIRTIO_MSG_TYPE_BUS, dev_num 0) */
#define VIRTIO_MSG_BUS_GET_DEVICES      0x02
#define VIRTIO_MSG_BUS_PING             0x03
#define VIRTIO_MSG_BUS_EVENT_DEVICE     0x40

/* Ids 0x40..0x7f are events: they never have a response. */
#define VIRTIO_MSG_ID_IS_EVENT(id)      ((id) >= 0x40 && (id) <= 0x7f)

/* EVENT_DEVICE states */
#define VIRTIO_MSG_DEVICE_READY         1
#define VIRTIO_MSG_DEVICE_REMOVED       2

/* EVENT_AVAIL next_offset: bits 30..0 offset, bit 31 wrap counter */
#define VIRTIO_MSG_AVAIL_WRAP           (1u << 31)
#define VIRTIO_MSG_AVAIL_OFFSET_MASK    0x7fffffffu

/* Number of feature bits a device reports (drivers insist on 64). */
#define VIRTIO_MSG_FEATURE_BITS         64

/* Size of the legacy (unaligned) SET_VQUEUE request. */
#define VIRTIO_MSG_SET_VQUEUE_LEGACY_SIZE 44

#define VIRTIO_MSG_MAX_FEATURE_BLOCKS   ((VIRTIO_MSG_MAX_PAYLOAD - 8) / 4)
#define VIRTIO_MSG_MAX_BITMAP_BYTES     (VIRTIO_MSG_MAX_PAYLOAD - 6)

/*
 * A decoded message.  Which member of the union is valid depends on
 * (type, id); the comments name the messages that use each member.
 */
typedef struct VirtIOMSG {
    uint8_t type;
    uint8_t id;
    uint16_t dev_num;
    uint16_t token;
    /* Total size on the wire: set by virtio_msg_encode()/decode(). */
    uint16_t size;
    union {
        /* DEVICE_INFO response */
        struct {
            uint32_t device_id;
            uint32_t vendor_id;
            uint32_t num_feature_bits;
            uint32_t config_size;
            uint32_t max_virtqueues;
            uint16_t admin_vq_start;
            uint16_t admin_vq_count;
        } info;
        /* GET_FEATURES request/response, SET_FEATURES request */
        struct {
            uint32_t index;
            uint32_t num;
            /* blocks[] is used by GET_FEATURES responses and SET_FEATURES */
            uint32_t blocks[VIRTIO_MSG_MAX_FEATURE_BLOCKS];
        } features;
        /*
         * GET_CONFIG request (offset, length), GET_CONFIG response,
         * SET_CONFIG request/response, EVENT_CONFIG (all fields).
         * data[] holds length bytes; for a SET_CONFIG response it is
         * only sent when has_data is set.
         */
        struct {
            uint32_t status;        /* EVENT_CONFIG only */
            uint32_t generation;
            uint32_t offset;
            uint32_t length;
            bool has_data;
            uint8_t data[VIRTIO_MSG_MAX_PAYLOAD];
        } config;
        /* GET/SET_DEVICE_STATUS */
        struct {
            uint32_t status;
        } status;
        /*
         * GET_VQUEUE request (index) and response, SET_VQUEUE request,
         * RESET_VQUEUE request (index), EVENT_AVAIL (index, next_offset),
         * EVENT_USED (index).
         */
        struct {
            uint32_t index;
            uint32_t max_size;
            uint32_t size;
            uint32_t next_offset;
            uint64_t desc;
            uint64_t driver;
            uint64_t device;
            bool legacy;            /* SET_VQUEUE arrived in 44-byte form */
        } vq;
        /* GET_SHM request (index) and response */
        struct {
            uint32_t index;
            uint32_t length;
            uint32_t address;
        } shm;
        /* Bus GET_DEVICES request (offset, count) and response */
        struct {
            uint16_t offset;
            uint16_t count;
            uint16_t next_offset;
            uint8_t bitmap[VIRTIO_MSG_MAX_BITMAP_BYTES];
        } devices;
        /* Bus PING request/response */
        struct {
            uint32_t data;
        } ping;
        /* Bus EVENT_DEVICE */
        struct {
            uint16_t dev_num;
            uint16_t state;
        } event_device;
    };
} VirtIOMSG;

/* Why a buffer was not accepted as a message. */
typedef enum VirtIOMSGDecodeError {
    VIRTIO_MSG_OK = 0,
    VIRTIO_MSG_ERR_SHORT,       /* shorter than the header or its minimum */
    VIRTIO_MSG_ERR_LONG,        /* msg_size above bytes received / bus max */
    VIRTIO_MSG_ERR_TYPE,        /* type bits wrong for the id */
    VIRTIO_MSG_ERR_UNKNOWN_ID,  /* no such message */
    VIRTIO_MSG_ERR_LENGTH,      /* a length/count field does not fit */
} VirtIOMSGDecodeError;

/**
 * virtio_msg_decode:
 * @buf: the bytes received (copied out of shared memory already)
 * @len: how many bytes of @buf may be read
 * @bus_max: the bus's maximum message size
 * @msg: filled in on success
 *
 * Never reads beyond min(@len, msg_size) bytes of @buf.
 *
 * Returns: VIRTIO_MSG_OK, or why the message is malformed.
 */
VirtIOMSGDecodeError virtio_msg_decode(const void *buf, size_t len,
                                       size_t bus_max, VirtIOMSG *msg);

/**
 * virtio_msg_encode:
 * @msg: the message; @msg->size is set to the encoded size
 * @buf: output
 * @buf_size: size of @buf, normally the bus maximum message size
 *
 * Returns: the number of bytes written, or 0 if the message is not a known
 * (type, id) or does not fit in @buf_size bytes.
 */
size_t virtio_msg_encode(VirtIOMSG *msg, void *buf, size_t buf_size);

/**
 * virtio_msg_min_size:
 * Returns: the smallest valid msg_size of the message (type, id), or 0 if
 * there is no such message.
 */
size_t virtio_msg_min_size(uint8_t type, uint8_t id);

/**
 * virtio_msg_name:
 * Returns: a printable name for the message (type, id), for traces.
 */
const char *virtio_msg_name(uint8_t type, uint8_t id);

/** virtio_msg_decode_error_str: printable reason for a decode error. */
const char *virtio_msg_decode_error_str(VirtIOMSGDecodeError err);

/*
 * Largest config chunk and feature block count that fit a response on a
 * bus whose maximum message size is @bus_max.
 */
static inline uint32_t virtio_msg_max_config_chunk(size_t bus_max)
{
    return bus_max - VIRTIO_MSG_HDR_SIZE - 12;
}

static inline uint32_t virtio_msg_max_feature_blocks(size_t bus_max)
{
    return (bus_max - VIRTIO_MSG_HDR_SIZE - 8) / 4;
}

/* Fill in the header of a message (the payload is left alone). */
static inline void virtio_msg_init(VirtIOMSG *msg, uint8_t type, uint8_t id,
                                   uint16_t dev_num, uint16_t token)
{
    msg->type = type;
    msg->id = id;
    msg->dev_num = dev_num;
    msg->token = token;
    msg->size = 0;
}

/*
 * Does @msg travel from the device side to the driver side (responses,
 * EVENT_USED, EVENT_CONFIG, the bus's EVENT_DEVICE)?
 */
static inline bool virtio_msg_is_for_driver(const VirtIOMSG *msg)
{
    if (msg->type & VIRTIO_MSG_TYPE_RESPONSE) {
        return true;
    }
    if (msg->type & VIRTIO_MSG_TYPE_BUS) {
        return msg->id == VIRTIO_MSG_BUS_EVENT_DEVICE;
    }
    return msg->id == VIRTIO_MSG_EVENT_USED ||
           msg->id == VIRTIO_MSG_EVENT_CONFIG;
}

/* Start the response to @req: same id, dev_num and token. */
static inline void virtio_msg_init_response(VirtIOMSG *resp,
                                            const VirtIOMSG *req)
{
    virtio_msg_init(resp, req->type | VIRTIO_MSG_TYPE_RESPONSE, req->id,
                    req->dev_num, req->token);
}

#endif
