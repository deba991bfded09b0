/*
 * Unit tests for the virtio-msg wire codec
 *
 * Every message is encoded and compared with bytes written down by hand
 * from the wire tables, then those bytes are decoded again.  The values
 * are chosen so that every byte of a multi-byte field differs, which
 * catches wrong offsets, widths and byte order.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/virtio/virtio-msg-proto.h"

#define REQ     0
#define RESP    VIRTIO_MSG_TYPE_RESPONSE
#define BUS     VIRTIO_MSG_TYPE_BUS

/* The AMP PCI bus: one 64-byte FIFO slot per message */
#define BUS_MAX 64

/* Filler for bytes the codec must neither read nor write */
#define SENTINEL 0xee

#define HDR(t, i, d, k) .type = (t), .id = (i), .dev_num = (d), .token = (k)
#define WIRE(a) .wire = (a), .len = sizeof(a)

/*
 * Expected wire bytes.  Header: type, msg_id, dev_num (le16), token (le16),
 * msg_size (le16); then the payload as in the wire tables.
 */

/* Transport requests and responses */

static const uint8_t device_info_req[] = {
    0x00, 0x02, 0x01, 0x00, 0x01, 0x10, 0x08, 0x00,
};

static const uint8_t device_info_resp[] = {
    0x01, 0x02, 0x01, 0x00, 0x01, 0x10, 0x20, 0x00,
    0x44, 0x33, 0x22, 0x11,                     /* device_id */
    0x88, 0x77, 0x66, 0x55,                     /* vendor_id */
    0x40, 0x00, 0x00, 0x00,                     /* num_feature_bits */
    0xb0, 0xa0, 0x02, 0x01,                     /* config_size */
    0x0d, 0xf0, 0x00, 0x00,                     /* max_virtqueues */
    0x57, 0x13,                                 /* admin_vq_start */
    0x68, 0x24,                                 /* admin_vq_count */
};

static const uint8_t get_features_req[] = {
    0x00, 0x03, 0x02, 0x03, 0x02, 0x20, 0x10, 0x00,
    0xd4, 0xc3, 0xb2, 0xa1,                     /* block_index */
    0x02, 0x00, 0x00, 0x00,                     /* num_blocks */
};

static const uint8_t get_features_resp[] = {
    0x01, 0x03, 0x02, 0x03, 0x02, 0x20, 0x1c, 0x00,
    0x01, 0x00, 0x00, 0x00,                     /* block_index */
    0x03, 0x00, 0x00, 0x00,                     /* num_blocks */
    0x44, 0x33, 0x22, 0x11,                     /* bits 32..63 */
    0x88, 0x77, 0x66, 0x55,                     /* bits 64..95 */
    0xcc, 0xbb, 0xaa, 0x99,                     /* bits 96..127 */
};

static const uint8_t set_features_req[] = {
    0x00, 0x04, 0x03, 0x04, 0x03, 0x30, 0x18, 0x00,
    0x00, 0x00, 0x00, 0x00,                     /* block_index */
    0x02, 0x00, 0x00, 0x00,                     /* num_blocks */
    0xef, 0xbe, 0xad, 0xde,                     /* bits 0..31 */
    0x00, 0x00, 0x00, 0x01,                     /* bits 32..63 */
};

static const uint8_t set_features_resp[] = {
    0x01, 0x04, 0x03, 0x04, 0x03, 0x30, 0x08, 0x00,
};

static const uint8_t get_config_req[] = {
    0x00, 0x05, 0x04, 0x05, 0x04, 0x40, 0x10, 0x00,
    0xcd, 0xab, 0x00, 0x00,                     /* offset */
    0x2c, 0x00, 0x00, 0x00,                     /* length */
};

static const uint8_t get_config_resp[] = {
    0x01, 0x05, 0x04, 0x05, 0x04, 0x40, 0x19, 0x00,
    0x4d, 0x5c, 0x6b, 0x7a,                     /* generation */
    0xcd, 0xab, 0x00, 0x00,                     /* offset */
    0x05, 0x00, 0x00, 0x00,                     /* length */
    0xde, 0xad, 0xbe, 0xef, 0x42,               /* data */
};

static const uint8_t set_config_req[] = {
    0x00, 0x06, 0x05, 0x06, 0x05, 0x50, 0x17, 0x00,
    0x04, 0x03, 0x02, 0x01,                     /* generation */
    0x08, 0x10, 0x00, 0x00,                     /* offset */
    0x03, 0x00, 0x00, 0x00,                     /* length */
    0xa5, 0x5a, 0xc3,                           /* data */
};

static const uint8_t set_config_resp_echo[] = {
    0x01, 0x06, 0x05, 0x06, 0x05, 0x50, 0x17, 0x00,
    0x05, 0x03, 0x02, 0x01,                     /* generation */
    0x08, 0x10, 0x00, 0x00,                     /* offset */
    0x03, 0x00, 0x00, 0x00,                     /* length applied */
    0xa5, 0x5a, 0xc3,                           /* echo */
};

static const uint8_t set_config_resp_no_echo[] = {
    0x01, 0x06, 0x06, 0x06, 0x06, 0x60, 0x14, 0x00,
    0x0d, 0x0c, 0x0b, 0x0a,                     /* generation */
    0x00, 0x20, 0x00, 0x00,                     /* offset */
    0x02, 0x00, 0x00, 0x00,                     /* length applied */
};

static const uint8_t get_device_status_req[] = {
    0x00, 0x07, 0x06, 0x07, 0x06, 0x70, 0x08, 0x00,
};

static const uint8_t get_device_status_resp[] = {
    0x01, 0x07, 0x06, 0x07, 0x06, 0x70, 0x0c, 0x00,
    0x0f, 0x56, 0x34, 0x12,                     /* status */
};

static const uint8_t set_device_status_req[] = {
    0x00, 0x08, 0x07, 0x08, 0x07, 0x80, 0x0c, 0x00,
    0x0b, 0x43, 0x65, 0x87,                     /* status */
};

static const uint8_t set_device_status_resp[] = {
    0x01, 0x08, 0x07, 0x08, 0x07, 0x80, 0x0c, 0x00,
    0x03, 0x00, 0x00, 0x40,                     /* resulting status */
};

static const uint8_t get_vqueue_req[] = {
    0x00, 0x09, 0x08, 0x09, 0x08, 0x90, 0x0c, 0x00,
    0x02, 0x00, 0x01, 0x00,                     /* index */
};

static const uint8_t get_vqueue_resp[] = {
    0x01, 0x09, 0x08, 0x09, 0x08, 0x90, 0x30, 0x00,
    0x02, 0x00, 0x01, 0x00,                     /* index */
    0x00, 0x01, 0x00, 0x00,                     /* max_size */
    0x80, 0x00, 0x00, 0x00,                     /* size */
    0x00, 0x00, 0x00, 0x00,                     /* reserved */
    0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* desc */
    0x00, 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, /* driver */
    0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, /* device */
};

static const uint8_t set_vqueue_req[] = {
    0x00, 0x0a, 0x09, 0x0a, 0x09, 0xa0, 0x30, 0x00,
    0x03, 0x00, 0x00, 0x00,                     /* index */
    0x00, 0x00, 0x00, 0x00,                     /* reserved */
    0x00, 0x04, 0x00, 0x00,                     /* size */
    0x00, 0x00, 0x00, 0x00,                     /* reserved */
    0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, /* desc */
    0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f, /* driver */
    0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, /* device */
};

static const uint8_t set_vqueue_req_legacy[] = {
    0x00, 0x0a, 0x09, 0x0a, 0x0a, 0xa0, 0x2c, 0x00,
    0x05, 0x00, 0x00, 0x00,                     /* index */
    0x00, 0x00, 0x00, 0x00,                     /* unused */
    0x00, 0x02, 0x00, 0x00,                     /* size */
    0x44, 0x44, 0x33, 0x33, 0x22, 0x22, 0x11, 0x11, /* desc */
    0x88, 0x88, 0x77, 0x77, 0x66, 0x66, 0x55, 0x55, /* driver */
    0xcc, 0xcc, 0xbb, 0xbb, 0xaa, 0xaa, 0x99, 0x99, /* device */
};

static const uint8_t set_vqueue_resp[] = {
    0x01, 0x0a, 0x09, 0x0a, 0x09, 0xa0, 0x08, 0x00,
};

static const uint8_t reset_vqueue_req[] = {
    0x00, 0x0b, 0x0a, 0x0b, 0x0a, 0xb0, 0x0c, 0x00,
    0xfe, 0xff, 0x00, 0x00,                     /* index */
};

static const uint8_t reset_vqueue_resp[] = {
    0x01, 0x0b, 0x0a, 0x0b, 0x0a, 0xb0, 0x08, 0x00,
};

static const uint8_t get_shm_req[] = {
    0x00, 0x0c, 0x0b, 0x0c, 0x0b, 0xc0, 0x0c, 0x00,
    0x02, 0x00, 0x00, 0x00,                     /* index */
};

static const uint8_t get_shm_resp[] = {
    0x01, 0x0c, 0x0b, 0x0c, 0x0b, 0xc0, 0x14, 0x00,
    0x02, 0x00, 0x00, 0x00,                     /* index */
    0x00, 0x00, 0x40, 0x00,                     /* length */
    0x00, 0xee, 0xff, 0xc0,                     /* address */
};

/* Transport events */

static const uint8_t event_config[] = {
    0x00, 0x40, 0x0c, 0x0d, 0x00, 0x00, 0x1a, 0x00,
    0x4f, 0x00, 0x00, 0x00,                     /* device_status */
    0xef, 0xcd, 0xab, 0x89,                     /* generation */
    0x10, 0x00, 0x00, 0x00,                     /* offset */
    0x02, 0x00, 0x00, 0x00,                     /* length */
    0x5a, 0xa5,                                 /* data */
};

static const uint8_t event_config_no_data[] = {
    0x00, 0x40, 0x0d, 0x0d, 0x00, 0x00, 0x18, 0x00,
    0x40, 0x00, 0x00, 0x00,                     /* device_status */
    0x24, 0x13, 0x02, 0x01,                     /* generation */
    0x00, 0x00, 0x00, 0x00,                     /* offset */
    0x00, 0x00, 0x00, 0x00,                     /* length */
};

static const uint8_t event_avail[] = {
    0x00, 0x41, 0x0d, 0x0e, 0x00, 0x00, 0x10, 0x00,
    0x01, 0x00, 0x00, 0x00,                     /* vq_index */
    0x34, 0x12, 0x00, 0x80,                     /* next_offset, wrap */
};

static const uint8_t event_used[] = {
    0x00, 0x42, 0x0e, 0x0f, 0x00, 0x00, 0x0c, 0x00,
    0x01, 0x00, 0x02, 0x00,                     /* vq_index */
};

/* Bus messages */

static const uint8_t bus_get_devices_req[] = {
    0x02, 0x02, 0x00, 0x00, 0x0c, 0xc0, 0x0c, 0x00,
    0x00, 0x01,                                 /* offset */
    0x20, 0x00,                                 /* count */
};

static const uint8_t bus_get_devices_resp[] = {
    0x03, 0x02, 0x00, 0x00, 0x0c, 0xc0, 0x12, 0x00,
    0x00, 0x01,                                 /* offset */
    0x20, 0x00,                                 /* count */
    0x20, 0x01,                                 /* next_offset */
    0x01, 0x80, 0x5a, 0xc3,                     /* bitmap */
};

static const uint8_t bus_ping_req[] = {
    0x02, 0x03, 0x00, 0x00, 0x0d, 0xd0, 0x0c, 0x00,
    0x0d, 0xf0, 0xfe, 0xca,                     /* data */
};

static const uint8_t bus_ping_resp[] = {
    0x03, 0x03, 0x00, 0x00, 0x0d, 0xd0, 0x0c, 0x00,
    0x0d, 0xf0, 0xfe, 0xca,                     /* data */
};

static const uint8_t bus_event_device_ready[] = {
    0x02, 0x40, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00,
    0x23, 0x01,                                 /* dev_num */
    0x01, 0x00,                                 /* state: READY */
};

static const uint8_t bus_event_device_removed[] = {
    0x02, 0x40, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00,
    0x56, 0x04,                                 /* dev_num */
    0x02, 0x00,                                 /* state: REMOVED */
};

typedef struct RoundTripCase {
    const char *name;
    const uint8_t *wire;
    size_t len;
    /* The message; also what decoding @wire must give (but msg->size) */
    VirtIOMSG msg;
} RoundTripCase;

static const RoundTripCase roundtrip_cases[] = {
    {
        "device-info-req", WIRE(device_info_req),
        { HDR(REQ, VIRTIO_MSG_DEVICE_INFO, 0x0001, 0x1001) },
    }, {
        "device-info-resp", WIRE(device_info_resp),
        { HDR(RESP, VIRTIO_MSG_DEVICE_INFO, 0x0001, 0x1001),
          .info = { .device_id = 0x11223344, .vendor_id = 0x55667788,
                    .num_feature_bits = VIRTIO_MSG_FEATURE_BITS,
                    .config_size = 0x0102a0b0, .max_virtqueues = 0xf00d,
                    .admin_vq_start = 0x1357, .admin_vq_count = 0x2468 } },
    }, {
        "get-features-req", WIRE(get_features_req),
        { HDR(REQ, VIRTIO_MSG_GET_FEATURES, 0x0302, 0x2002),
          .features = { .index = 0xa1b2c3d4, .num = 2 } },
    }, {
        "get-features-resp", WIRE(get_features_resp),
        { HDR(RESP, VIRTIO_MSG_GET_FEATURES, 0x0302, 0x2002),
          .features = { .index = 1, .num = 3,
                        .blocks = { 0x11223344, 0x55667788, 0x99aabbcc } } },
    }, {
        "set-features-req", WIRE(set_features_req),
        { HDR(REQ, VIRTIO_MSG_SET_FEATURES, 0x0403, 0x3003),
          .features = { .index = 0, .num = 2,
                        .blocks = { 0xdeadbeef, 0x01000000 } } },
    }, {
        "set-features-resp", WIRE(set_features_resp),
        { HDR(RESP, VIRTIO_MSG_SET_FEATURES, 0x0403, 0x3003) },
    }, {
        "get-config-req", WIRE(get_config_req),
        { HDR(REQ, VIRTIO_MSG_GET_CONFIG, 0x0504, 0x4004),
          .config = { .offset = 0xabcd, .length = 44 } },
    }, {
        "get-config-resp", WIRE(get_config_resp),
        { HDR(RESP, VIRTIO_MSG_GET_CONFIG, 0x0504, 0x4004),
          .config = { .generation = 0x7a6b5c4d, .offset = 0xabcd,
                      .length = 5,
                      .data = { 0xde, 0xad, 0xbe, 0xef, 0x42 } } },
    }, {
        "set-config-req", WIRE(set_config_req),
        { HDR(REQ, VIRTIO_MSG_SET_CONFIG, 0x0605, 0x5005),
          .config = { .generation = 0x01020304, .offset = 0x1008,
                      .length = 3, .data = { 0xa5, 0x5a, 0xc3 } } },
    }, {
        "set-config-resp-echo", WIRE(set_config_resp_echo),
        { HDR(RESP, VIRTIO_MSG_SET_CONFIG, 0x0605, 0x5005),
          .config = { .generation = 0x01020305, .offset = 0x1008,
                      .length = 3, .has_data = true,
                      .data = { 0xa5, 0x5a, 0xc3 } } },
    }, {
        "set-config-resp-no-echo", WIRE(set_config_resp_no_echo),
        { HDR(RESP, VIRTIO_MSG_SET_CONFIG, 0x0606, 0x6006),
          .config = { .generation = 0x0a0b0c0d, .offset = 0x2000,
                      .length = 2, .has_data = false } },
    }, {
        "get-device-status-req", WIRE(get_device_status_req),
        { HDR(REQ, VIRTIO_MSG_GET_DEVICE_STATUS, 0x0706, 0x7006) },
    }, {
        "get-device-status-resp", WIRE(get_device_status_resp),
        { HDR(RESP, VIRTIO_MSG_GET_DEVICE_STATUS, 0x0706, 0x7006),
          .status = { .status = 0x1234560f } },
    }, {
        "set-device-status-req", WIRE(set_device_status_req),
        { HDR(REQ, VIRTIO_MSG_SET_DEVICE_STATUS, 0x0807, 0x8007),
          .status = { .status = 0x8765430b } },
    }, {
        "set-device-status-resp", WIRE(set_device_status_resp),
        { HDR(RESP, VIRTIO_MSG_SET_DEVICE_STATUS, 0x0807, 0x8007),
          .status = { .status = 0x40000003 } },
    }, {
        "get-vqueue-req", WIRE(get_vqueue_req),
        { HDR(REQ, VIRTIO_MSG_GET_VQUEUE, 0x0908, 0x9008),
          .vq = { .index = 0x00010002 } },
    }, {
        "get-vqueue-resp", WIRE(get_vqueue_resp),
        { HDR(RESP, VIRTIO_MSG_GET_VQUEUE, 0x0908, 0x9008),
          .vq = { .index = 0x00010002, .max_size = 0x100, .size = 0x80,
                  .desc = 0x1122334455667788ULL,
                  .driver = 0x99aabbccddeeff00ULL,
                  .device = 0x0123456789abcdefULL } },
    }, {
        "set-vqueue-req", WIRE(set_vqueue_req),
        { HDR(REQ, VIRTIO_MSG_SET_VQUEUE, 0x0a09, 0xa009),
          .vq = { .index = 3, .size = 0x400,
                  .desc = 0xfedcba9876543210ULL,
                  .driver = 0x0f1e2d3c4b5a6978ULL,
                  .device = 0x8796a5b4c3d2e1f0ULL } },
    }, {
        "set-vqueue-req-legacy", WIRE(set_vqueue_req_legacy),
        { HDR(REQ, VIRTIO_MSG_SET_VQUEUE, 0x0a09, 0xa00a),
          .vq = { .index = 5, .size = 0x200,
                  .desc = 0x1111222233334444ULL,
                  .driver = 0x5555666677778888ULL,
                  .device = 0x9999aaaabbbbccccULL, .legacy = true } },
    }, {
        "set-vqueue-resp", WIRE(set_vqueue_resp),
        { HDR(RESP, VIRTIO_MSG_SET_VQUEUE, 0x0a09, 0xa009) },
    }, {
        "reset-vqueue-req", WIRE(reset_vqueue_req),
        { HDR(REQ, VIRTIO_MSG_RESET_VQUEUE, 0x0b0a, 0xb00a),
          .vq = { .index = 0xfffe } },
    }, {
        "reset-vqueue-resp", WIRE(reset_vqueue_resp),
        { HDR(RESP, VIRTIO_MSG_RESET_VQUEUE, 0x0b0a, 0xb00a) },
    }, {
        "get-shm-req", WIRE(get_shm_req),
        { HDR(REQ, VIRTIO_MSG_GET_SHM, 0x0c0b, 0xc00b),
          .shm = { .index = 2 } },
    }, {
        "get-shm-resp", WIRE(get_shm_resp),
        { HDR(RESP, VIRTIO_MSG_GET_SHM, 0x0c0b, 0xc00b),
          .shm = { .index = 2, .length = 0x00400000,
                   .address = 0xc0ffee00 } },
    }, {
        "event-config", WIRE(event_config),
        { HDR(REQ, VIRTIO_MSG_EVENT_CONFIG, 0x0d0c, 0),
          .config = { .status = 0x4f, .generation = 0x89abcdef,
                      .offset = 0x10, .length = 2,
                      .data = { 0x5a, 0xa5 } } },
    }, {
        "event-config-no-data", WIRE(event_config_no_data),
        { HDR(REQ, VIRTIO_MSG_EVENT_CONFIG, 0x0d0d, 0),
          .config = { .status = 0x40, .generation = 0x01021324 } },
    }, {
        "event-avail", WIRE(event_avail),
        { HDR(REQ, VIRTIO_MSG_EVENT_AVAIL, 0x0e0d, 0),
          .vq = { .index = 1,
                  .next_offset = VIRTIO_MSG_AVAIL_WRAP | 0x1234 } },
    }, {
        "event-used", WIRE(event_used),
        { HDR(REQ, VIRTIO_MSG_EVENT_USED, 0x0f0e, 0),
          .vq = { .index = 0x00020001 } },
    }, {
        "bus-get-devices-req", WIRE(bus_get_devices_req),
        { HDR(BUS, VIRTIO_MSG_BUS_GET_DEVICES, 0, 0xc00c),
          .devices = { .offset = 0x100, .count = 32 } },
    }, {
        "bus-get-devices-resp", WIRE(bus_get_devices_resp),
        { HDR(BUS | RESP, VIRTIO_MSG_BUS_GET_DEVICES, 0, 0xc00c),
          .devices = { .offset = 0x100, .count = 32, .next_offset = 0x120,
                       .bitmap = { 0x01, 0x80, 0x5a, 0xc3 } } },
    }, {
        "bus-ping-req", WIRE(bus_ping_req),
        { HDR(BUS, VIRTIO_MSG_BUS_PING, 0, 0xd00d),
          .ping = { .data = 0xcafef00d } },
    }, {
        "bus-ping-resp", WIRE(bus_ping_resp),
        { HDR(BUS | RESP, VIRTIO_MSG_BUS_PING, 0, 0xd00d),
          .ping = { .data = 0xcafef00d } },
    }, {
        "bus-event-device-ready", WIRE(bus_event_device_ready),
        { HDR(BUS, VIRTIO_MSG_BUS_EVENT_DEVICE, 0, 0),
          .event_device = { .dev_num = 0x0123,
                            .state = VIRTIO_MSG_DEVICE_READY } },
    }, {
        "bus-event-device-removed", WIRE(bus_event_device_removed),
        { HDR(BUS, VIRTIO_MSG_BUS_EVENT_DEVICE, 0, 0),
          .event_device = { .dev_num = 0x0456,
                            .state = VIRTIO_MSG_DEVICE_REMOVED } },
    },
};

static bool all_bytes_are(const uint8_t *p, size_t len, uint8_t val)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != val) {
            return false;
        }
    }
    return true;
}

/*
 * @got must be @want with size @len.  The whole structure is compared:
 * besides every field of the message's union member this checks that the
 * decoder left everything else zero.
 */
static void check_msg_equal(const VirtIOMSG *got, const VirtIOMSG *want,
                            size_t len)
{
    VirtIOMSG w;

    memcpy(&w, want, sizeof(w));
    w.size = len;
    g_assert_cmphex(got->type, ==, w.type);
    g_assert_cmphex(got->id, ==, w.id);
    g_assert_cmphex(got->dev_num, ==, w.dev_num);
    g_assert_cmphex(got->token, ==, w.token);
    g_assert_cmpuint(got->size, ==, w.size);
    g_assert_cmpmem(got, sizeof(*got), &w, sizeof(w));
}

/* Decode @len bytes that sit at the start of a buffer of @buf_len bytes */
static void check_decode(const uint8_t *wire, size_t len, size_t buf_len,
                         const VirtIOMSG *want)
{
    uint8_t *buf = g_malloc(buf_len);
    VirtIOMSG got;

    memset(buf, SENTINEL, buf_len);
    memcpy(buf, wire, len);
    memset(&got, SENTINEL, sizeof(got));
    g_assert_cmpint(virtio_msg_decode(buf, buf_len, VIRTIO_MSG_MAX_SIZE, &got),
                    ==, VIRTIO_MSG_OK);
    check_msg_equal(&got, want, len);
    g_free(buf);
}

/*
 * Encode @msg and compare with @expected, then decode @expected and
 * compare with @msg.
 */
static void check_roundtrip(const VirtIOMSG *msg, const uint8_t *expected,
                            size_t len)
{
    uint8_t buf[VIRTIO_MSG_MAX_SIZE + 16];
    VirtIOMSG m;

    /* Into exactly @len bytes, touching nothing after them */
    memcpy(&m, msg, sizeof(m));
    memset(buf, SENTINEL, sizeof(buf));
    g_assert_cmpuint(virtio_msg_encode(&m, buf, len), ==, len);
    g_assert_cmpuint(m.size, ==, len);
    g_assert_cmpmem(buf, len, expected, len);
    g_assert_true(all_bytes_are(buf + len, sizeof(buf) - len, SENTINEL));

    /* One byte less does not fit and writes nothing */
    memset(buf, SENTINEL, sizeof(buf));
    g_assert_cmpuint(virtio_msg_encode(&m, buf, len - 1), ==, 0);
    g_assert_true(all_bytes_are(buf, sizeof(buf), SENTINEL));

    /* From a buffer of exactly msg_size bytes (ASan catches overreads) */
    check_decode(expected, len, len, msg);
    /* From a larger buffer: nothing after msg_size is used */
    check_decode(expected, len, len + 16, msg);
}

static void test_roundtrip(const void *opaque)
{
    const RoundTripCase *c = opaque;

    check_roundtrip(&c->msg, c->wire, c->len);
}

/* Reserved type bits 2..7 are ignored when received and sent as 0. */
static void test_reserved_type_bits(void)
{
    static const uint8_t reserved[] = { 0xfc, 0x04, 0x80, 0x54 };

    for (size_t i = 0; i < ARRAY_SIZE(roundtrip_cases); i++) {
        const RoundTripCase *c = &roundtrip_cases[i];

        for (size_t j = 0; j < ARRAY_SIZE(reserved); j++) {
            g_autofree uint8_t *wire = g_memdup2(c->wire, c->len);
            uint8_t buf[VIRTIO_MSG_MAX_SIZE];
            VirtIOMSG m;

            wire[0] |= reserved[j];
            g_assert_cmpint(virtio_msg_decode(wire, c->len, BUS_MAX, &m),
                            ==, VIRTIO_MSG_OK);
            check_msg_equal(&m, &c->msg, c->len);

            memcpy(&m, &c->msg, sizeof(m));
            m.type |= reserved[j];
            g_assert_cmpuint(virtio_msg_encode(&m, buf, sizeof(buf)), ==,
                             c->len);
            g_assert_cmpmem(buf, c->len, c->wire, c->len);
        }
    }
}

typedef struct MalformedCase {
    const char *name;
    VirtIOMSGDecodeError err;
    size_t len;             /* bytes handed to the decoder */
    uint8_t bytes[80];
} MalformedCase;

static const MalformedCase malformed_cases[] = {
    /* Sizes */
    {
        "empty", VIRTIO_MSG_ERR_SHORT, 0,
    }, {
        "short-header", VIRTIO_MSG_ERR_SHORT, 7,
        { 0x00, 0x02, 0x01, 0x00, 0x01, 0x00, 0x08 },
    }, {
        "msg-size-0", VIRTIO_MSG_ERR_SHORT, 8,
        { 0x00, 0x02, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00 },
    }, {
        "msg-size-7", VIRTIO_MSG_ERR_SHORT, 8,
        { 0x00, 0x02, 0x01, 0x00, 0x01, 0x00, 0x07, 0x00 },
    }, {
        "get-config-req-12", VIRTIO_MSG_ERR_SHORT, 12,
        { 0x00, 0x05, 0x01, 0x00, 0x02, 0x00, 0x0c, 0x00,
          0x00, 0x00, 0x00, 0x00 },
    }, {
        "device-info-resp-28", VIRTIO_MSG_ERR_SHORT, 28,
        { 0x01, 0x02, 0x01, 0x00, 0x03, 0x00, 0x1c, 0x00 },
    }, {
        "get-vqueue-resp-44", VIRTIO_MSG_ERR_SHORT, 44,
        { 0x01, 0x09, 0x01, 0x00, 0x04, 0x00, 0x2c, 0x00 },
    }, {
        "set-vqueue-req-40", VIRTIO_MSG_ERR_SHORT, 40,
        { 0x00, 0x0a, 0x01, 0x00, 0x05, 0x00, 0x28, 0x00 },
    }, {
        "bus-ping-req-10", VIRTIO_MSG_ERR_SHORT, 10,
        { 0x02, 0x03, 0x00, 0x00, 0x06, 0x00, 0x0a, 0x00, 0x01, 0x02 },
    }, {
        "above-bus-max", VIRTIO_MSG_ERR_LONG, 72,
        { 0x00, 0x06, 0x01, 0x00, 0x07, 0x00, 0x48, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x34, 0x00, 0x00, 0x00 },
    }, {
        "above-bus-max-by-1", VIRTIO_MSG_ERR_LONG, 65,
        { 0x00, 0x06, 0x01, 0x00, 0x07, 0x00, 0x41, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x2d, 0x00, 0x00, 0x00 },
    }, {
        "above-received", VIRTIO_MSG_ERR_LONG, 16,
        { 0x01, 0x0c, 0x01, 0x00, 0x08, 0x00, 0x14, 0x00,
          0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00 },
    }, {
        "above-received-by-1", VIRTIO_MSG_ERR_LONG, 15,
        { 0x00, 0x41, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00,
          0x01, 0x00, 0x00, 0x00, 0x34, 0x12, 0x00 },
    },
    /* Type bits that do not match the id */
    {
        "response-on-event-used", VIRTIO_MSG_ERR_TYPE, 12,
        { 0x01, 0x42, 0x01, 0x00, 0x00, 0x00, 0x0c, 0x00,
          0x01, 0x00, 0x00, 0x00 },
    }, {
        "response-on-event-config", VIRTIO_MSG_ERR_TYPE, 24,
        { 0x01, 0x40, 0x01, 0x00, 0x00, 0x00, 0x18, 0x00 },
    }, {
        "response-on-bus-event-device", VIRTIO_MSG_ERR_TYPE, 12,
        { 0x03, 0x40, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00,
          0x01, 0x00, 0x01, 0x00 },
    }, {
        "bus-on-get-config", VIRTIO_MSG_ERR_TYPE, 16,
        { 0x02, 0x05, 0x00, 0x00, 0x09, 0x00, 0x10, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00 },
    }, {
        "bus-on-event-avail", VIRTIO_MSG_ERR_TYPE, 16,
        { 0x02, 0x41, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00 },
    }, {
        "bus-response-on-get-shm", VIRTIO_MSG_ERR_TYPE, 20,
        { 0x03, 0x0c, 0x00, 0x00, 0x0a, 0x00, 0x14, 0x00 },
    },
    /* Unknown ids */
    {
        "unknown-0x00", VIRTIO_MSG_ERR_UNKNOWN_ID, 8,
        { 0x00, 0x00, 0x01, 0x00, 0x0b, 0x00, 0x08, 0x00 },
    }, {
        "unknown-0x3f", VIRTIO_MSG_ERR_UNKNOWN_ID, 8,
        { 0x00, 0x3f, 0x01, 0x00, 0x0b, 0x00, 0x08, 0x00 },
    }, {
        "unknown-0x43", VIRTIO_MSG_ERR_UNKNOWN_ID, 8,
        { 0x00, 0x43, 0x01, 0x00, 0x00, 0x00, 0x08, 0x00 },
    }, {
        "unknown-0x80", VIRTIO_MSG_ERR_UNKNOWN_ID, 8,
        { 0x00, 0x80, 0x01, 0x00, 0x0b, 0x00, 0x08, 0x00 },
    }, {
        "unknown-bus-0xff", VIRTIO_MSG_ERR_UNKNOWN_ID, 8,
        { 0x03, 0xff, 0x00, 0x00, 0x0b, 0x00, 0x08, 0x00 },
    },
    /* Length and count fields that do not fit */
    {
        "get-config-resp-length", VIRTIO_MSG_ERR_LENGTH, 28,
        { 0x01, 0x05, 0x01, 0x00, 0x0c, 0x00, 0x1c, 0x00,
          0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x09, 0x00, 0x00, 0x00 },
    }, {
        "get-config-resp-length-huge", VIRTIO_MSG_ERR_LENGTH, 20,
        { 0x01, 0x05, 0x01, 0x00, 0x0c, 0x00, 0x14, 0x00,
          0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0xff, 0xff, 0xff, 0xff },
    }, {
        "set-config-req-length", VIRTIO_MSG_ERR_LENGTH, 23,
        { 0x00, 0x06, 0x01, 0x00, 0x0d, 0x00, 0x17, 0x00,
          0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x04, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc },
    }, {
        "event-config-length", VIRTIO_MSG_ERR_LENGTH, 26,
        { 0x00, 0x40, 0x01, 0x00, 0x00, 0x00, 0x1a, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00 },
    }, {
        "set-features-num-blocks", VIRTIO_MSG_ERR_LENGTH, 24,
        { 0x00, 0x04, 0x01, 0x00, 0x0e, 0x00, 0x18, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00 },
    }, {
        "set-features-num-blocks-wrap", VIRTIO_MSG_ERR_LENGTH, 20,
        { 0x00, 0x04, 0x01, 0x00, 0x0e, 0x00, 0x14, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x40 },
    }, {
        "get-features-resp-num-blocks", VIRTIO_MSG_ERR_LENGTH, 20,
        { 0x01, 0x03, 0x01, 0x00, 0x0f, 0x00, 0x14, 0x00,
          0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00 },
    }, {
        "bus-get-devices-req-count", VIRTIO_MSG_ERR_LENGTH, 12,
        { 0x02, 0x02, 0x00, 0x00, 0x10, 0x00, 0x0c, 0x00,
          0x00, 0x00, 0x0c, 0x00 },
    }, {
        "bus-get-devices-resp-count", VIRTIO_MSG_ERR_LENGTH, 16,
        { 0x03, 0x02, 0x00, 0x00, 0x10, 0x00, 0x10, 0x00,
          0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0xff, 0xff },
    }, {
        "bus-get-devices-resp-bitmap", VIRTIO_MSG_ERR_LENGTH, 18,
        { 0x03, 0x02, 0x00, 0x00, 0x10, 0x00, 0x12, 0x00,
          0x00, 0x00, 0x28, 0x00, 0x00, 0x00,
          0xff, 0xff, 0xff, 0xff },
    },
};

static void test_malformed(const void *opaque)
{
    const MalformedCase *c = opaque;
    /* Exactly @len bytes: reading past them is an overread */
    g_autofree uint8_t *buf = g_memdup2(c->bytes, c->len);
    VirtIOMSG m;

    g_assert_cmpuint(c->len, <=, sizeof(c->bytes));
    g_assert_cmpint(virtio_msg_decode(buf, c->len, BUS_MAX, &m), ==, c->err);
}

/* The codec's own maximum applies even on a bus that allows more. */
static void test_decode_codec_max(void)
{
    g_autofree uint8_t *buf = g_malloc0(VIRTIO_MSG_MAX_SIZE + 1);
    uint32_t length = VIRTIO_MSG_MAX_SIZE - 20;
    VirtIOMSG m;

    /* SET_CONFIG carrying 236 bytes: 256 bytes in all */
    buf[1] = VIRTIO_MSG_SET_CONFIG;
    stw_le_p(buf + 6, VIRTIO_MSG_MAX_SIZE);
    stl_le_p(buf + 16, length);
    memset(buf + 20, 0x5a, length);
    g_assert_cmpint(virtio_msg_decode(buf, VIRTIO_MSG_MAX_SIZE, 1024, &m),
                    ==, VIRTIO_MSG_OK);
    g_assert_cmpuint(m.config.length, ==, length);
    g_assert_true(all_bytes_are(m.config.data, length, 0x5a));
    /* ... but not on the 64-byte bus */
    g_assert_cmpint(virtio_msg_decode(buf, VIRTIO_MSG_MAX_SIZE, BUS_MAX, &m),
                    ==, VIRTIO_MSG_ERR_LONG);

    /* One byte more than the codec handles */
    stw_le_p(buf + 6, VIRTIO_MSG_MAX_SIZE + 1);
    g_assert_cmpint(virtio_msg_decode(buf, VIRTIO_MSG_MAX_SIZE + 1, 1024, &m),
                    ==, VIRTIO_MSG_ERR_LONG);
}

/*
 * Decoding reads at most min(len, msg_size) bytes: the bytes after them
 * are a sentinel that must not show up in the message.
 */
static void test_decode_bounded(void)
{
    uint8_t buf[BUS_MAX];
    size_t len = sizeof(get_config_resp);
    VirtIOMSG m;

    memset(buf, SENTINEL, sizeof(buf));
    memcpy(buf, get_config_resp, len);

    /* msg_size says 25, only 24 were received */
    g_assert_cmpint(virtio_msg_decode(buf, len - 1, BUS_MAX, &m),
                    ==, VIRTIO_MSG_ERR_LONG);

    g_assert_cmpint(virtio_msg_decode(buf, sizeof(buf), BUS_MAX, &m),
                    ==, VIRTIO_MSG_OK);
    g_assert_cmpuint(m.size, ==, len);
    g_assert_cmpuint(m.config.length, ==, 5);
    g_assert_true(all_bytes_are(m.config.data + 5,
                                sizeof(m.config.data) - 5, 0));

    /* A SET_CONFIG response whose echo would run past msg_size has none */
    memset(buf, SENTINEL, sizeof(buf));
    memcpy(buf, set_config_resp_no_echo, sizeof(set_config_resp_no_echo));
    g_assert_cmpint(virtio_msg_decode(buf, sizeof(buf), BUS_MAX, &m),
                    ==, VIRTIO_MSG_OK);
    g_assert_false(m.config.has_data);
    g_assert_true(all_bytes_are(m.config.data, sizeof(m.config.data), 0));
}

/* EVENT_AVAIL without NOTIFICATION_DATA may be sent without next_offset. */
static void test_decode_event_avail_short(void)
{
    static const uint8_t wire[] = {
        0x00, 0x41, 0x05, 0x00, 0x00, 0x00, 0x0c, 0x00,
        0x03, 0x02, 0x01, 0x00,                 /* vq_index */
        SENTINEL, SENTINEL, SENTINEL, SENTINEL, /* not part of the message */
    };
    VirtIOMSG m;

    g_assert_cmpint(virtio_msg_decode(wire, sizeof(wire), BUS_MAX, &m),
                    ==, VIRTIO_MSG_OK);
    g_assert_cmpuint(m.size, ==, 12);
    g_assert_cmphex(m.vq.index, ==, 0x00010203);
    g_assert_cmphex(m.vq.next_offset, ==, 0);
}

/* Message sizes between the legacy and the aligned SET_VQUEUE */
static void test_decode_set_vqueue_layout(void)
{
    VirtIOMSG m;

    g_assert_cmpint(virtio_msg_decode(set_vqueue_req, sizeof(set_vqueue_req),
                                      BUS_MAX, &m), ==, VIRTIO_MSG_OK);
    g_assert_false(m.vq.legacy);
    g_assert_cmphex(m.vq.desc, ==, 0xfedcba9876543210ULL);

    g_assert_cmpint(virtio_msg_decode(set_vqueue_req_legacy,
                                      sizeof(set_vqueue_req_legacy),
                                      BUS_MAX, &m), ==, VIRTIO_MSG_OK);
    g_assert_true(m.vq.legacy);
    g_assert_cmphex(m.vq.desc, ==, 0x1111222233334444ULL);
    g_assert_cmpuint(virtio_msg_min_size(REQ, VIRTIO_MSG_SET_VQUEUE), ==,
                     VIRTIO_MSG_SET_VQUEUE_LEGACY_SIZE);
}

/* A GET_CONFIG response whose data does not fit the buffer */
static void test_encode_too_big(void)
{
    uint8_t buf[BUS_MAX + 8];
    VirtIOMSG m = {
        HDR(RESP, VIRTIO_MSG_GET_CONFIG, 1, 2),
        .config = { .length = 60 },
    };

    memset(buf, SENTINEL, sizeof(buf));
    g_assert_cmpuint(virtio_msg_encode(&m, buf, BUS_MAX), ==, 0);
    g_assert_true(all_bytes_are(buf, sizeof(buf), SENTINEL));

    /* The largest chunk that fits fills the 64 bytes exactly */
    m.config.length = virtio_msg_max_config_chunk(BUS_MAX);
    g_assert_cmpuint(m.config.length, ==, 44);
    g_assert_cmpuint(virtio_msg_encode(&m, buf, BUS_MAX), ==, BUS_MAX);
    g_assert_cmpuint(m.size, ==, BUS_MAX);
    g_assert_cmpuint(lduw_le_p(buf + 6), ==, BUS_MAX);
    g_assert_true(all_bytes_are(buf + BUS_MAX, 8, SENTINEL));

    /* Larger than the codec can represent at all */
    m.config.length = VIRTIO_MSG_MAX_PAYLOAD + 1;
    g_assert_cmpuint(virtio_msg_encode(&m, buf, sizeof(buf)), ==, 0);
}

static void test_encode_feature_blocks(void)
{
    uint8_t buf[VIRTIO_MSG_MAX_SIZE];
    VirtIOMSG m = { HDR(REQ, VIRTIO_MSG_SET_FEATURES, 1, 2) };

    m.features.num = virtio_msg_max_feature_blocks(BUS_MAX);
    g_assert_cmpuint(m.features.num, ==, 12);
    g_assert_cmpuint(virtio_msg_encode(&m, buf, BUS_MAX), ==, BUS_MAX);

    m.features.num++;
    g_assert_cmpuint(virtio_msg_encode(&m, buf, BUS_MAX), ==, 0);

    m.features.num = VIRTIO_MSG_MAX_FEATURE_BLOCKS + 1;
    g_assert_cmpuint(virtio_msg_encode(&m, buf, sizeof(buf)), ==, 0);
}

static void test_encode_unknown(void)
{
    static const struct {
        uint8_t type;
        uint8_t id;
    } unknown[] = {
        { REQ, 0x3f },
        { REQ, 0x80 },
        { REQ, 0x00 },
        { BUS, VIRTIO_MSG_GET_CONFIG },
        { RESP, VIRTIO_MSG_EVENT_USED },
        { BUS | RESP, VIRTIO_MSG_BUS_EVENT_DEVICE },
    };
    uint8_t buf[BUS_MAX];

    for (size_t i = 0; i < ARRAY_SIZE(unknown); i++) {
        VirtIOMSG m = { HDR(unknown[i].type, unknown[i].id, 1, 2) };

        memset(buf, SENTINEL, sizeof(buf));
        g_assert_cmpuint(virtio_msg_encode(&m, buf, sizeof(buf)), ==, 0);
        g_assert_true(all_bytes_are(buf, sizeof(buf), SENTINEL));
    }
}

static void test_encode_set_config_no_echo(void)
{
    uint8_t buf[BUS_MAX];
    VirtIOMSG m = {
        HDR(RESP, VIRTIO_MSG_SET_CONFIG, 3, 4),
        .config = { .length = 8, .has_data = false },
    };

    g_assert_cmpuint(virtio_msg_encode(&m, buf, sizeof(buf)), ==, 20);
    m.config.has_data = true;
    g_assert_cmpuint(virtio_msg_encode(&m, buf, sizeof(buf)), ==, 28);
}

/*
 * A response built in place over the decoded request: the legacy flag of
 * a 44-byte SET_VQUEUE must not change how its (empty) response looks.
 */
static void test_response_in_place(void)
{
    static const uint8_t expected[] = {
        0x01, 0x0a, 0x09, 0x0a, 0x0a, 0xa0, 0x08, 0x00,
    };
    uint8_t buf[BUS_MAX];
    VirtIOMSG m;

    g_assert_cmpint(virtio_msg_decode(set_vqueue_req_legacy,
                                      sizeof(set_vqueue_req_legacy),
                                      BUS_MAX, &m), ==, VIRTIO_MSG_OK);
    virtio_msg_init_response(&m, &m);
    g_assert_cmpuint(virtio_msg_encode(&m, buf, sizeof(buf)), ==,
                     sizeof(expected));
    g_assert_cmpmem(buf, sizeof(expected), expected, sizeof(expected));
}

static void test_name(void)
{
    g_assert_cmpstr(virtio_msg_name(REQ, VIRTIO_MSG_GET_CONFIG), ==,
                    "GET_CONFIG");
    g_assert_cmpstr(virtio_msg_name(RESP, VIRTIO_MSG_GET_CONFIG), ==,
                    "GET_CONFIG");
    g_assert_cmpstr(virtio_msg_name(REQ, VIRTIO_MSG_SET_VQUEUE), ==,
                    "SET_VQUEUE");
    g_assert_cmpstr(virtio_msg_name(REQ, VIRTIO_MSG_EVENT_USED), ==,
                    "EVENT_USED");
    g_assert_cmpstr(virtio_msg_name(BUS, VIRTIO_MSG_BUS_PING), ==,
                    "BUS_PING");
    g_assert_cmpstr(virtio_msg_name(BUS | RESP, VIRTIO_MSG_BUS_GET_DEVICES),
                    ==, "BUS_GET_DEVICES");
    g_assert_cmpstr(virtio_msg_name(BUS, VIRTIO_MSG_BUS_EVENT_DEVICE), ==,
                    "BUS_EVENT_DEVICE");
    g_assert_cmpstr(virtio_msg_name(REQ, 0x3f), ==, "UNKNOWN");
    g_assert_cmpstr(virtio_msg_name(REQ, 0x80), ==, "UNKNOWN");
    g_assert_cmpstr(virtio_msg_name(BUS, VIRTIO_MSG_GET_CONFIG), ==,
                    "UNKNOWN");
}

static void test_min_size(void)
{
    static const struct {
        uint8_t type;
        uint8_t id;
        size_t size;
    } sizes[] = {
        { REQ, VIRTIO_MSG_SET_VQUEUE, 44 },
        { RESP, VIRTIO_MSG_SET_VQUEUE, 8 },
        { RESP, VIRTIO_MSG_GET_VQUEUE, 48 },
        { REQ, VIRTIO_MSG_DEVICE_INFO, 8 },
        { RESP, VIRTIO_MSG_DEVICE_INFO, 32 },
        { REQ, VIRTIO_MSG_GET_CONFIG, 16 },
        { RESP, VIRTIO_MSG_GET_CONFIG, 20 },
        { REQ, VIRTIO_MSG_EVENT_CONFIG, 24 },
        { REQ, VIRTIO_MSG_EVENT_AVAIL, 12 },
        { BUS, VIRTIO_MSG_BUS_GET_DEVICES, 12 },
        { BUS | RESP, VIRTIO_MSG_BUS_GET_DEVICES, 14 },
        { BUS, VIRTIO_MSG_BUS_EVENT_DEVICE, 12 },
        { BUS, VIRTIO_MSG_GET_CONFIG, 0 },
        { REQ, 0x80, 0 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        g_assert_cmpuint(virtio_msg_min_size(sizes[i].type, sizes[i].id),
                         ==, sizes[i].size);
    }
}

static void test_decode_error_str(void)
{
    static const VirtIOMSGDecodeError errs[] = {
        VIRTIO_MSG_OK, VIRTIO_MSG_ERR_SHORT, VIRTIO_MSG_ERR_LONG,
        VIRTIO_MSG_ERR_TYPE, VIRTIO_MSG_ERR_UNKNOWN_ID, VIRTIO_MSG_ERR_LENGTH,
    };

    for (size_t i = 0; i < ARRAY_SIZE(errs); i++) {
        const char *s = virtio_msg_decode_error_str(errs[i]);

        g_assert_nonnull(s);
        for (size_t j = 0; j < i; j++) {
            g_assert_cmpstr(s, !=, virtio_msg_decode_error_str(errs[j]));
        }
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    for (size_t i = 0; i < ARRAY_SIZE(roundtrip_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/virtio-msg-proto/roundtrip/%s",
                            roundtrip_cases[i].name);

        g_test_add_data_func(path, &roundtrip_cases[i], test_roundtrip);
    }
    for (size_t i = 0; i < ARRAY_SIZE(malformed_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/virtio-msg-proto/malformed/%s",
                            malformed_cases[i].name);

        g_test_add_data_func(path, &malformed_cases[i], test_malformed);
    }
    g_test_add_func("/virtio-msg-proto/decode/reserved-type-bits",
                    test_reserved_type_bits);
    g_test_add_func("/virtio-msg-proto/decode/codec-max",
                    test_decode_codec_max);
    g_test_add_func("/virtio-msg-proto/decode/bounded", test_decode_bounded);
    g_test_add_func("/virtio-msg-proto/decode/event-avail-short",
                    test_decode_event_avail_short);
    g_test_add_func("/virtio-msg-proto/decode/set-vqueue-layout",
                    test_decode_set_vqueue_layout);
    g_test_add_func("/virtio-msg-proto/encode/too-big", test_encode_too_big);
    g_test_add_func("/virtio-msg-proto/encode/feature-blocks",
                    test_encode_feature_blocks);
    g_test_add_func("/virtio-msg-proto/encode/unknown", test_encode_unknown);
    g_test_add_func("/virtio-msg-proto/encode/set-config-no-echo",
                    test_encode_set_config_no_echo);
    g_test_add_func("/virtio-msg-proto/encode/response-in-place",
                    test_response_in_place);
    g_test_add_func("/virtio-msg-proto/name", test_name);
    g_test_add_func("/virtio-msg-proto/min-size", test_min_size);
    g_test_add_func("/virtio-msg-proto/decode-error-str",
                    test_decode_error_str);
    return g_test_run();
}
