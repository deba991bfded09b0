/*
 * libFuzzer target: the virtio-msg codec
 *
 * Input: byte 0 picks a bus maximum message size (16 to
 * VIRTIO_MSG_MAX_SIZE), the rest is a message as received.
 *
 * 1. The message is decoded with that bus maximum, with the 64-byte
 *    maximum of the AMP PCI bus and with VIRTIO_MSG_MAX_SIZE.  Whatever
 *    decodes is encoded again into a buffer of exactly the bus maximum
 *    (and into one a byte too small, which must be refused untouched),
 *    the result decodes to the same message and encodes to the same
 *    bytes.
 * 2. The same bytes also fill a VirtIOMSG directly, as a buggy or
 *    hostile caller might: encode must stay inside its buffer and,
 *    when it accepts the message, produce one that decodes to it.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/virtio/virtio-msg-proto.h"
#include "fuzz-common.h"

#define MIN_BUS_MAX     16
#define FILL_BYTE       0xa5

#define KEY(type, id)   (((type) << 8) | (id))
#define REQ             0
#define RESP            VIRTIO_MSG_TYPE_RESPONSE
#define BUS             VIRTIO_MSG_TYPE_BUS

#define SAME(f)         (a->f == b->f)

static bool same_bytes(const void *a, const void *b, size_t len)
{
    return !memcmp(a, b, len);
}

static bool same_vq_addrs(const VirtIOMSG *a, const VirtIOMSG *b)
{
    return SAME(vq.index) && SAME(vq.size) && SAME(vq.desc) &&
           SAME(vq.driver) && SAME(vq.device);
}

static bool same_config_data(const VirtIOMSG *a, const VirtIOMSG *b)
{
    return SAME(config.generation) && SAME(config.offset) &&
           SAME(config.length) &&
           a->config.length <= VIRTIO_MSG_MAX_PAYLOAD &&
           same_bytes(a->config.data, b->config.data, a->config.length);
}

static bool same_blocks(const VirtIOMSG *a, const VirtIOMSG *b)
{
    return SAME(features.index) && SAME(features.num) &&
           a->features.num <= VIRTIO_MSG_MAX_FEATURE_BLOCKS &&
           same_bytes(a->features.blocks, b->features.blocks,
                      a->features.num * sizeof(uint32_t));
}

/*
 * Do @a and @b say the same: the header (but msg_size) and the payload
 * fields that message (type, id) carries on the wire.  A message of no
 * known (type, id) never compares equal.
 */
static bool same_msg(const VirtIOMSG *a, const VirtIOMSG *b)
{
    if (!SAME(type) || !SAME(id) || !SAME(dev_num) || !SAME(token)) {
        return false;
    }
    switch (KEY(a->type, a->id)) {
    case KEY(REQ, VIRTIO_MSG_DEVICE_INFO):
    case KEY(RESP, VIRTIO_MSG_SET_FEATURES):
    case KEY(REQ, VIRTIO_MSG_GET_DEVICE_STATUS):
    case KEY(RESP, VIRTIO_MSG_SET_VQUEUE):
    case KEY(RESP, VIRTIO_MSG_RESET_VQUEUE):
        return true;
    case KEY(RESP, VIRTIO_MSG_DEVICE_INFO):
        return SAME(info.device_id) && SAME(info.vendor_id) &&
               SAME(info.num_feature_bits) && SAME(info.config_size) &&
               SAME(info.max_virtqueues) && SAME(info.admin_vq_start) &&
               SAME(info.admin_vq_count);
    case KEY(REQ, VIRTIO_MSG_GET_FEATURES):
        return SAME(features.index) && SAME(features.num);
    case KEY(RESP, VIRTIO_MSG_GET_FEATURES):
    case KEY(REQ, VIRTIO_MSG_SET_FEATURES):
        return same_blocks(a, b);
    case KEY(REQ, VIRTIO_MSG_GET_CONFIG):
        return SAME(config.offset) && SAME(config.length);
    case KEY(RESP, VIRTIO_MSG_GET_CONFIG):
    case KEY(REQ, VIRTIO_MSG_SET_CONFIG):
        return same_config_data(a, b);
    case KEY(RESP, VIRTIO_MSG_SET_CONFIG):
        /* The data is optional; with length 0 there is nothing to send */
        if (!SAME(config.generation) || !SAME(config.offset) ||
            !SAME(config.length)) {
            return false;
        }
        if (!a->config.length) {
            return true;
        }
        return SAME(config.has_data) &&
               (!a->config.has_data || same_config_data(a, b));
    case KEY(RESP, VIRTIO_MSG_GET_DEVICE_STATUS):
    case KEY(REQ, VIRTIO_MSG_SET_DEVICE_STATUS):
    case KEY(RESP, VIRTIO_MSG_SET_DEVICE_STATUS):
        return SAME(status.status);
    case KEY(REQ, VIRTIO_MSG_GET_VQUEUE):
    case KEY(REQ, VIRTIO_MSG_RESET_VQUEUE):
    case KEY(REQ, VIRTIO_MSG_EVENT_USED):
        return SAME(vq.index);
    case KEY(RESP, VIRTIO_MSG_GET_VQUEUE):
        return same_vq_addrs(a, b) && SAME(vq.max_size);
    case KEY(REQ, VIRTIO_MSG_SET_VQUEUE):
        return same_vq_addrs(a, b) && SAME(vq.legacy);
    case KEY(REQ, VIRTIO_MSG_GET_SHM):
        return SAME(shm.index);
    case KEY(RESP, VIRTIO_MSG_GET_SHM):
        return SAME(shm.index) && SAME(shm.length) && SAME(shm.address);
    case KEY(REQ, VIRTIO_MSG_EVENT_CONFIG):
        return SAME(config.status) && same_config_data(a, b);
    case KEY(REQ, VIRTIO_MSG_EVENT_AVAIL):
        return SAME(vq.index) && SAME(vq.next_offset);
    case KEY(BUS, VIRTIO_MSG_BUS_GET_DEVICES):
        return SAME(devices.offset) && SAME(devices.count);
    case KEY(BUS | RESP, VIRTIO_MSG_BUS_GET_DEVICES):
        return SAME(devices.offset) && SAME(devices.count) &&
               SAME(devices.next_offset) &&
               a->devices.count / 8 <= VIRTIO_MSG_MAX_BITMAP_BYTES &&
               same_bytes(a->devices.bitmap, b->devices.bitmap,
                          a->devices.count / 8);
    case KEY(BUS, VIRTIO_MSG_BUS_PING):
    case KEY(BUS | RESP, VIRTIO_MSG_BUS_PING):
        return SAME(ping.data);
    case KEY(BUS, VIRTIO_MSG_BUS_EVENT_DEVICE):
        return SAME(event_device.dev_num) && SAME(event_device.state);
    }
    return false;
}

static void check_fill(const uint8_t *buf, size_t from, size_t to,
                       const char *what)
{
    for (size_t i = from; i < to; i++) {
        fuzz_check(buf[i] == FILL_BYTE, "%s: byte %zu of %zu written",
                   what, i, to);
    }
}

/*
 * Encode @msg into a heap buffer of exactly @buf_size bytes (ASan sees
 * any write past it) and check that nothing past the returned size was
 * written.  Returns the size, the bytes are left in @out.
 */
static size_t encode_exact(const VirtIOMSG *msg, size_t buf_size,
                           uint8_t *out)
{
    VirtIOMSG copy = *msg;
    uint8_t *buf = malloc(buf_size ? buf_size : 1);
    size_t n;

    memset(buf, FILL_BYTE, buf_size);
    n = virtio_msg_encode(&copy, buf, buf_size);
    fuzz_check(n <= buf_size, "encode returned %zu for a %zu-byte buffer",
               n, buf_size);
    if (n) {
        fuzz_check(n >= VIRTIO_MSG_HDR_SIZE && copy.size == n,
                   "encode returned %zu, msg->size %u", n, copy.size);
        fuzz_check(buf[6] == (uint8_t)n && buf[7] == n >> 8,
                   "encoded msg_size differs from the size returned");
        check_fill(buf, n, buf_size, "encode wrote past its result");
        memcpy(out, buf, n);
    } else {
        check_fill(buf, 0, buf_size, "refused encode wrote");
    }
    free(buf);
    return n;
}

/* Decode, from a heap buffer of exactly @len bytes */
static VirtIOMSGDecodeError decode_exact(const uint8_t *bytes, size_t len,
                                         size_t bus_max, VirtIOMSG *msg)
{
    uint8_t *buf = malloc(len ? len : 1);
    VirtIOMSGDecodeError err;

    memcpy(buf, bytes, len);
    err = virtio_msg_decode(buf, len, bus_max, msg);
    fuzz_check(!memcmp(buf, bytes, len), "decode changed its input");
    free(buf);
    return err;
}

static void check_decoded(const uint8_t *wire, size_t len, size_t bus_max)
{
    uint8_t out[VIRTIO_MSG_MAX_SIZE], again[VIRTIO_MSG_MAX_SIZE];
    VirtIOMSG msg, back;
    VirtIOMSGDecodeError err;
    size_t n, n2, min;

    err = virtio_msg_decode(wire, len, bus_max, &msg);
    fuzz_check(strcmp(virtio_msg_decode_error_str(err), "unknown error"),
               "decode returned %d", err);
    if (err != VIRTIO_MSG_OK) {
        return;
    }
    min = virtio_msg_min_size(msg.type, msg.id);
    fuzz_check(!(msg.type & ~(VIRTIO_MSG_TYPE_RESPONSE | VIRTIO_MSG_TYPE_BUS)),
               "reserved type bits kept");
    fuzz_check(min >= VIRTIO_MSG_HDR_SIZE && msg.size >= min &&
               msg.size <= len && msg.size <= bus_max,
               "decoded msg_size %u: min %zu, len %zu, bus max %zu",
               msg.size, min, len, bus_max);
    fuzz_check(strcmp(virtio_msg_name(msg.type, msg.id), "UNKNOWN"),
               "decoded message 0x%x/0x%x has no name", msg.type, msg.id);
    fuzz_check(!VIRTIO_MSG_ID_IS_EVENT(msg.id) ||
               !(msg.type & VIRTIO_MSG_TYPE_RESPONSE),
               "an event decoded as a response");

    n = encode_exact(&msg, bus_max, out);
    fuzz_check(n, "decoded message 0x%x/0x%x (size %u) does not encode",
               msg.type, msg.id, msg.size);
    /* Re-encoding never grows, but for EVENT_AVAIL's optional word */
    fuzz_check(n <= msg.size ||
               (msg.type == REQ && msg.id == VIRTIO_MSG_EVENT_AVAIL &&
                n == VIRTIO_MSG_HDR_SIZE + 8),
               "0x%x/0x%x: %u bytes re-encode to %zu",
               msg.type, msg.id, msg.size, n);
    fuzz_check(!encode_exact(&msg, n - 1, again),
               "0x%x/0x%x of %zu bytes encoded into %zu",
               msg.type, msg.id, n, n - 1);

    err = decode_exact(out, n, bus_max, &back);
    fuzz_check(err == VIRTIO_MSG_OK, "re-encoded 0x%x/0x%x: %s",
               msg.type, msg.id, virtio_msg_decode_error_str(err));
    fuzz_check(back.size == n, "re-decoded size %u, encoded %zu",
               back.size, n);
    fuzz_check(same_msg(&msg, &back), "0x%x/0x%x changed in a round trip",
               msg.type, msg.id);
    n2 = encode_exact(&back, bus_max, again);
    fuzz_check(n2 == n && !memcmp(out, again, n),
               "0x%x/0x%x: second encode differs", msg.type, msg.id);
}

/* Read a bool member's byte, which may hold anything, as 0 or 1 */
static void sanitize_bool(bool *b)
{
    uint8_t v;

    memcpy(&v, b, 1);
    *b = v & 1;
}

static void check_raw_encode(const uint8_t *bytes, size_t len,
                             size_t buf_size)
{
    uint8_t out[VIRTIO_MSG_MAX_SIZE];
    size_t off = offsetof(VirtIOMSG, info);
    VirtIOMSG msg, back;
    VirtIOMSGDecodeError err;
    size_t n;

    memset(&msg, 0, sizeof(msg));
    if (len < VIRTIO_MSG_HDR_SIZE) {
        return;
    }
    msg.type = bytes[0];
    msg.id = bytes[1];
    msg.dev_num = lduw_le_p(bytes + 2);
    msg.token = lduw_le_p(bytes + 4);
    msg.size = lduw_le_p(bytes + 6);
    memcpy((uint8_t *)&msg + off, bytes + VIRTIO_MSG_HDR_SIZE,
           MIN(len - VIRTIO_MSG_HDR_SIZE, sizeof(msg) - off));
    sanitize_bool(&msg.config.has_data);
    sanitize_bool(&msg.vq.legacy);

    n = encode_exact(&msg, buf_size, out);
    if (!n) {
        return;
    }
    msg.type &= VIRTIO_MSG_TYPE_RESPONSE | VIRTIO_MSG_TYPE_BUS;
    fuzz_check(virtio_msg_min_size(msg.type, msg.id),
               "0x%x/0x%x is no message, yet encodes", msg.type, msg.id);
    if (msg.type & VIRTIO_MSG_TYPE_BUS &&
        msg.id == VIRTIO_MSG_BUS_GET_DEVICES && msg.devices.count % 8) {
        return;     /* the caller's duty: count is a multiple of 8 */
    }
    err = decode_exact(out, n, VIRTIO_MSG_MAX_SIZE, &back);
    fuzz_check(err == VIRTIO_MSG_OK, "encoded 0x%x/0x%x: %s",
               msg.type, msg.id, virtio_msg_decode_error_str(err));
    fuzz_check(same_msg(&msg, &back),
               "0x%x/0x%x changed from encode to decode", msg.type, msg.id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t fixed_max[] = { 64, VIRTIO_MSG_MAX_SIZE };
    size_t bus_max;

    if (size < 1) {
        return 0;
    }
    bus_max = MIN_BUS_MAX + data[0] % (VIRTIO_MSG_MAX_SIZE - MIN_BUS_MAX + 1);
    data++;
    size--;

    /* libFuzzer's buffer is exactly @size bytes: ASan sees overreads */
    check_decoded(data, size, bus_max);
    for (size_t i = 0; i < ARRAY_SIZE(fixed_max); i++) {
        check_decoded(data, size, fixed_max[i]);
    }
    check_raw_encode(data, size, bus_max);
    return 0;
}
