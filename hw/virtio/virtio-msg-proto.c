/*
 * virtio-msg wire protocol: encoder and decoder
 *
 * Every message is described by a table entry listing its fixed
 * little-endian fields and, optionally, one variable-length tail (feature
 * blocks, config data or a device bitmap) whose element count is one of
 * the fixed fields.  One generic encoder and one generic decoder walk the
 * table, so the byte layout of each message is written down exactly once.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/virtio/virtio-msg-proto.h"

typedef struct VirtIOMSGField {
    uint8_t wire_off;       /* offset in the message, header included */
    uint8_t width;          /* 2, 4 or 8 bytes */
    uint16_t msg_off;       /* offsetof(VirtIOMSG, ...) */
} VirtIOMSGField;

typedef enum VirtIOMSGTail {
    TAIL_NONE,
    TAIL_BLOCKS,            /* u32[features.num] */
    TAIL_DATA,              /* u8[config.length] */
    TAIL_DATA_OPTIONAL,     /* u8[config.length] if it fits (has_data) */
    TAIL_BITMAP,            /* u8[devices.count / 8] */
} VirtIOMSGTail;

#define LAYOUT_MAX_FIELDS 8

typedef struct VirtIOMSGLayout {
    uint8_t type;           /* VIRTIO_MSG_TYPE_BUS / _RESPONSE bits */
    uint8_t id;
    bool legacy;            /* the 44-byte SET_VQUEUE */
    bool count_in_bytes_x8; /* devices.count must be a multiple of 8 */
    const char *name;
    uint8_t size;           /* fixed part, header included: the minimum */
    VirtIOMSGTail tail;
    VirtIOMSGField fields[LAYOUT_MAX_FIELDS];
} VirtIOMSGLayout;

#define P(n) (VIRTIO_MSG_HDR_SIZE + (n))
#define F16(n, m) { P(n), 2, offsetof(VirtIOMSG, m) }
#define F32(n, m) { P(n), 4, offsetof(VirtIOMSG, m) }
#define F64(n, m) { P(n), 8, offsetof(VirtIOMSG, m) }

#define REQ 0
#define RESP VIRTIO_MSG_TYPE_RESPONSE
#define BUS VIRTIO_MSG_TYPE_BUS

static const VirtIOMSGLayout layouts[] = {
    /* Transport requests and responses */
    { REQ, VIRTIO_MSG_DEVICE_INFO, .name = "DEVICE_INFO", .size = P(0) },
    { RESP, VIRTIO_MSG_DEVICE_INFO, .name = "DEVICE_INFO", .size = P(24),
      .fields = { F32(0, info.device_id), F32(4, info.vendor_id),
                  F32(8, info.num_feature_bits), F32(12, info.config_size),
                  F32(16, info.max_virtqueues),
                  F16(20, info.admin_vq_start),
                  F16(22, info.admin_vq_count) } },
    { REQ, VIRTIO_MSG_GET_FEATURES, .name = "GET_FEATURES", .size = P(8),
      .fields = { F32(0, features.index), F32(4, features.num) } },
    { RESP, VIRTIO_MSG_GET_FEATURES, .name = "GET_FEATURES", .size = P(8),
      .tail = TAIL_BLOCKS,
      .fields = { F32(0, features.index), F32(4, features.num) } },
    { REQ, VIRTIO_MSG_SET_FEATURES, .name = "SET_FEATURES", .size = P(8),
      .tail = TAIL_BLOCKS,
      .fields = { F32(0, features.index), F32(4, features.num) } },
    { RESP, VIRTIO_MSG_SET_FEATURES, .name = "SET_FEATURES", .size = P(0) },
    { REQ, VIRTIO_MSG_GET_CONFIG, .name = "GET_CONFIG", .size = P(8),
      .fields = { F32(0, config.offset), F32(4, config.length) } },
    { RESP, VIRTIO_MSG_GET_CONFIG, .name = "GET_CONFIG", .size = P(12),
      .tail = TAIL_DATA,
      .fields = { F32(0, config.generation), F32(4, config.offset),
                  F32(8, config.length) } },
    { REQ, VIRTIO_MSG_SET_CONFIG, .name = "SET_CONFIG", .size = P(12),
      .tail = TAIL_DATA,
      .fields = { F32(0, config.generation), F32(4, config.offset),
                  F32(8, config.length) } },
    { RESP, VIRTIO_MSG_SET_CONFIG, .name = "SET_CONFIG", .size = P(12),
      .tail = TAIL_DATA_OPTIONAL,
      .fields = { F32(0, config.generation), F32(4, config.offset),
                  F32(8, config.length) } },
    { REQ, VIRTIO_MSG_GET_DEVICE_STATUS, .name = "GET_DEVICE_STATUS",
      .size = P(0) },
    { RESP, VIRTIO_MSG_GET_DEVICE_STATUS, .name = "GET_DEVICE_STATUS",
      .size = P(4), .fields = { F32(0, status.status) } },
    { REQ, VIRTIO_MSG_SET_DEVICE_STATUS, .name = "SET_DEVICE_STATUS",
      .size = P(4), .fields = { F32(0, status.status) } },
    { RESP, VIRTIO_MSG_SET_DEVICE_STATUS, .name = "SET_DEVICE_STATUS",
      .size = P(4), .fields = { F32(0, status.status) } },
    { REQ, VIRTIO_MSG_GET_VQUEUE, .name = "GET_VQUEUE", .size = P(4),
      .fields = { F32(0, vq.index) } },
    { RESP, VIRTIO_MSG_GET_VQUEUE, .name = "GET_VQUEUE", .size = P(40),
      .fields = { F32(0, vq.index), F32(4, vq.max_size), F32(8, vq.size),
                  F64(16, vq.desc), F64(24, vq.driver),
                  F64(32, vq.device) } },
    { REQ, VIRTIO_MSG_SET_VQUEUE, .name = "SET_VQUEUE", .size = P(40),
      .fields = { F32(0, vq.index), F32(8, vq.size), F64(16, vq.desc),
                  F64(24, vq.driver), F64(32, vq.device) } },
    { REQ, VIRTIO_MSG_SET_VQUEUE, .name = "SET_VQUEUE", .legacy = true,
      .size = VIRTIO_MSG_SET_VQUEUE_LEGACY_SIZE,
      .fields = { F32(0, vq.index), F32(8, vq.size), F64(12, vq.desc),
                  F64(20, vq.driver), F64(28, vq.device) } },
    { RESP, VIRTIO_MSG_SET_VQUEUE, .name = "SET_VQUEUE", .size = P(0) },
    { REQ, VIRTIO_MSG_RESET_VQUEUE, .name = "RESET_VQUEUE", .size = P(4),
      .fields = { F32(0, vq.index) } },
    { RESP, VIRTIO_MSG_RESET_VQUEUE, .name = "RESET_VQUEUE", .size = P(0) },
    { REQ, VIRTIO_MSG_GET_SHM, .name = "GET_SHM", .size = P(4),
      .fields = { F32(0, shm.index) } },
    { RESP, VIRTIO_MSG_GET_SHM, .name = "GET_SHM", .size = P(12),
      .fields = { F32(0, shm.index), F32(4, shm.length),
                  F32(8, shm.address) } },
    /* Transport events */
    { REQ, VIRTIO_MSG_EVENT_CONFIG, .name = "EVENT_CONFIG", .size = P(16),
      .tail = TAIL_DATA,
      .fields = { F32(0, config.status), F32(4, config.generation),
                  F32(8, config.offset), F32(12, config.length) } },
    /* next_offset is only meaningful with NOTIFICATION_DATA; may be absent */
    { REQ, VIRTIO_MSG_EVENT_AVAIL, .name = "EVENT_AVAIL", .size = P(4),
      .fields = { F32(0, vq.index), F32(4, vq.next_offset) } },
    { REQ, VIRTIO_MSG_EVENT_USED, .name = "EVENT_USED", .size = P(4),
      .fields = { F32(0, vq.index) } },
    /* Bus messages */
    { BUS, VIRTIO_MSG_BUS_GET_DEVICES, .name = "BUS_GET_DEVICES",
      .count_in_bytes_x8 = true, .size = P(4),
      .fields = { F16(0, devices.offset), F16(2, devices.count) } },
    { BUS | RESP, VIRTIO_MSG_BUS_GET_DEVICES, .name = "BUS_GET_DEVICES",
      .count_in_bytes_x8 = true, .size = P(6), .tail = TAIL_BITMAP,
      .fields = { F16(0, devices.offset), F16(2, devices.count),
                  F16(4, devices.next_offset) } },
    { BUS, VIRTIO_MSG_BUS_PING, .name = "BUS_PING", .size = P(4),
      .fields = { F32(0, ping.data) } },
    { BUS | RESP, VIRTIO_MSG_BUS_PING, .name = "BUS_PING", .size = P(4),
      .fields = { F32(0, ping.data) } },
    { BUS, VIRTIO_MSG_BUS_EVENT_DEVICE, .name = "BUS_EVENT_DEVICE",
      .size = P(4),
      .fields = { F16(0, event_device.dev_num),
                  F16(2, event_device.state) } },
};

#define TYPE_BITS (VIRTIO_MSG_TYPE_RESPONSE | VIRTIO_MSG_TYPE_BUS)

/* EVENT_AVAIL may omit next_offset: fields past msg_size read as 0. */
static const VirtIOMSGLayout *find_layout(uint8_t type, uint8_t id,
                                          bool legacy)
{
    for (size_t i = 0; i < ARRAY_SIZE(layouts); i++) {
        if (layouts[i].type == (type & TYPE_BITS) && layouts[i].id == id &&
            layouts[i].legacy == legacy) {
            return &layouts[i];
        }
    }
    return NULL;
}

static bool id_known(uint8_t id)
{
    for (size_t i = 0; i < ARRAY_SIZE(layouts); i++) {
        if (layouts[i].id == id) {
            return true;
        }
    }
    return false;
}

size_t virtio_msg_min_size(uint8_t type, uint8_t id)
{
    const VirtIOMSGLayout *l = find_layout(type, id, true);

    if (!l) {
        l = find_layout(type, id, false);
    }
    return l ? l->size : 0;
}

const char *virtio_msg_name(uint8_t type, uint8_t id)
{
    const VirtIOMSGLayout *l = find_layout(type, id, false);

    if (!l) {
        l = find_layout(type ^ VIRTIO_MSG_TYPE_RESPONSE, id, false);
    }
    return l ? l->name : "UNKNOWN";
}

const char *virtio_msg_decode_error_str(VirtIOMSGDecodeError err)
{
    switch (err) {
    case VIRTIO_MSG_OK:
        return "ok";
    case VIRTIO_MSG_ERR_SHORT:
        return "message too short";
    case VIRTIO_MSG_ERR_LONG:
        return "message larger than the bus maximum";
    case VIRTIO_MSG_ERR_TYPE:
        return "type bits do not match the message id";
    case VIRTIO_MSG_ERR_UNKNOWN_ID:
        return "unknown message id";
    case VIRTIO_MSG_ERR_LENGTH:
        return "length or count field out of range";
    }
    return "unknown error";
}

/* Number of elements and bytes of a message's variable tail. */
static bool tail_size(const VirtIOMSGLayout *l, const VirtIOMSG *msg,
                      size_t *bytes)
{
    switch (l->tail) {
    case TAIL_NONE:
        *bytes = 0;
        return true;
    case TAIL_BLOCKS:
        if (msg->features.num > VIRTIO_MSG_MAX_FEATURE_BLOCKS) {
            return false;
        }
        *bytes = (size_t)msg->features.num * 4;
        return true;
    case TAIL_DATA:
    case TAIL_DATA_OPTIONAL:
        if (msg->config.length > VIRTIO_MSG_MAX_PAYLOAD) {
            return false;
        }
        *bytes = msg->config.length;
        return true;
    case TAIL_BITMAP:
        *bytes = msg->devices.count / 8;
        return *bytes <= VIRTIO_MSG_MAX_BITMAP_BYTES;
    }
    return false;
}

/* End of the last fixed field; past l->size only for optional fields. */
static size_t fixed_end(const VirtIOMSGLayout *l)
{
    size_t end = l->size;

    for (int i = 0; i < LAYOUT_MAX_FIELDS && l->fields[i].width; i++) {
        end = MAX(end, (size_t)l->fields[i].wire_off + l->fields[i].width);
    }
    return end;
}

static uint8_t *tail_ptr(const VirtIOMSGLayout *l, VirtIOMSG *msg)
{
    switch (l->tail) {
    case TAIL_BLOCKS:
        return (uint8_t *)msg->features.blocks;
    case TAIL_DATA:
    case TAIL_DATA_OPTIONAL:
        return msg->config.data;
    case TAIL_BITMAP:
        return msg->devices.bitmap;
    default:
        return NULL;
    }
}

VirtIOMSGDecodeError virtio_msg_decode(const void *buf, size_t len,
                                       size_t bus_max, VirtIOMSG *msg)
{
    const uint8_t *p = buf;
    const VirtIOMSGLayout *l;
    size_t size, tail;

    memset(msg, 0, sizeof(*msg));
    if (len < VIRTIO_MSG_HDR_SIZE) {
        return VIRTIO_MSG_ERR_SHORT;
    }
    msg->type = p[0] & TYPE_BITS;       /* bits 2..7 are reserved */
    msg->id = p[1];
    msg->dev_num = lduw_le_p(p + 2);
    msg->token = lduw_le_p(p + 4);
    msg->size = lduw_le_p(p + 6);
    size = msg->size;

    if (size > bus_max || size > VIRTIO_MSG_MAX_SIZE || size > len) {
        return VIRTIO_MSG_ERR_LONG;
    }
    if (size < VIRTIO_MSG_HDR_SIZE) {
        return VIRTIO_MSG_ERR_SHORT;
    }

    l = find_layout(msg->type, msg->id, false);
    if (!l) {
        return id_known(msg->id) ? VIRTIO_MSG_ERR_TYPE
                                 : VIRTIO_MSG_ERR_UNKNOWN_ID;
    }
    if (size < l->size) {
        /* The legacy SET_VQUEUE is the aligned one minus 4 bytes */
        const VirtIOMSGLayout *legacy = find_layout(msg->type, msg->id, true);

        if (!legacy || size < legacy->size) {
            return VIRTIO_MSG_ERR_SHORT;
        }
        l = legacy;
        msg->vq.legacy = true;
    }

    for (int i = 0; i < LAYOUT_MAX_FIELDS && l->fields[i].width; i++) {
        const VirtIOMSGField *f = &l->fields[i];
        void *dst = (uint8_t *)msg + f->msg_off;

        if (f->wire_off + f->width > size) {
            continue;   /* optional trailing field (EVENT_AVAIL) */
        }
        switch (f->width) {
        case 2:
            *(uint16_t *)dst = lduw_le_p(p + f->wire_off);
            break;
        case 4:
            *(uint32_t *)dst = ldl_le_p(p + f->wire_off);
            break;
        case 8:
            *(uint64_t *)dst = ldq_le_p(p + f->wire_off);
            break;
        }
    }

    if (l->count_in_bytes_x8 && msg->devices.count % 8) {
        return VIRTIO_MSG_ERR_LENGTH;
    }
    if (!tail_size(l, msg, &tail)) {
        return VIRTIO_MSG_ERR_LENGTH;
    }
    if (l->size + tail > size) {
        if (l->tail != TAIL_DATA_OPTIONAL) {
            return VIRTIO_MSG_ERR_LENGTH;
        }
        tail = 0;
    } else if (l->tail == TAIL_DATA_OPTIONAL) {
        msg->config.has_data = true;
    }
    if (l->tail == TAIL_BLOCKS) {
        for (size_t i = 0; i < msg->features.num; i++) {
            msg->features.blocks[i] = ldl_le_p(p + l->size + 4 * i);
        }
    } else if (tail) {
        memcpy(tail_ptr(l, msg), p + l->size, tail);
    }
    return VIRTIO_MSG_OK;
}

size_t virtio_msg_encode(VirtIOMSG *msg, void *buf, size_t buf_size)
{
    const VirtIOMSGLayout *l;
    uint8_t *p = buf;
    size_t size, tail;
    bool legacy;

    /* Only a SET_VQUEUE request has a legacy form (not its response) */
    legacy = !(msg->type & TYPE_BITS) && msg->id == VIRTIO_MSG_SET_VQUEUE &&
             msg->vq.legacy;
    l = find_layout(msg->type, msg->id, legacy);
    if (!l || !tail_size(l, msg, &tail)) {
        return 0;
    }
    if (l->tail == TAIL_DATA_OPTIONAL && !msg->config.has_data) {
        tail = 0;
    }
    /* Optional trailing fields (EVENT_AVAIL next_offset) are always sent */
    size = MAX(l->size + tail, fixed_end(l));
    if (size > buf_size || size > VIRTIO_MSG_MAX_SIZE) {
        return 0;
    }

    memset(p, 0, size);
    msg->size = size;
    p[0] = msg->type & TYPE_BITS;
    p[1] = msg->id;
    stw_le_p(p + 2, msg->dev_num);
    stw_le_p(p + 4, msg->token);
    stw_le_p(p + 6, msg->size);

    for (int i = 0; i < LAYOUT_MAX_FIELDS && l->fields[i].width; i++) {
        const VirtIOMSGField *f = &l->fields[i];
        const void *src = (const uint8_t *)msg + f->msg_off;

        switch (f->width) {
        case 2:
            stw_le_p(p + f->wire_off, *(const uint16_t *)src);
            break;
        case 4:
            stl_le_p(p + f->wire_off, *(const uint32_t *)src);
            break;
        case 8:
            stq_le_p(p + f->wire_off, *(const uint64_t *)src);
            break;
        }
    }

    if (l->tail == TAIL_BLOCKS) {
        for (size_t i = 0; i < msg->features.num; i++) {
            stl_le_p(p + l->size + 4 * i, msg->features.blocks[i]);
        }
    } else if (tail) {
        memcpy(p + l->size, tail_ptr(l, msg), tail);
    }
    return size;
}
