/*
 * Unit tests for the virtio-msg backlog: messages that wait for room in a
 * full SPSC queue.  They keep their order, notifications coalesce but
 * never across a reset or EVENT_DEVICE of their device, and a reset
 * device's messages can be purged.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/virtio/virtio-msg-spsc.h"
#include "hw/virtio/virtio-msg-backlog.h"

#define WINDOW_SIZE     4096

/* A message as the backlog gets it: decoded header and encoded bytes */
typedef struct BLMsg {
    VirtIOMSG msg;
    uint8_t buf[SPSC_SLOT_SIZE];
    size_t len;
} BLMsg;

/* A 16-byte message: header, then payload words @p0 and @p1 */
static BLMsg bl_msg(uint8_t type, uint8_t id, uint16_t dev_num,
                    uint32_t p0, uint32_t p1)
{
    BLMsg m;

    memset(&m, 0, sizeof(m));
    m.msg.type = type;
    m.msg.id = id;
    m.msg.dev_num = dev_num;
    m.msg.size = m.len = VIRTIO_MSG_HDR_SIZE + 8;
    if (id == VIRTIO_MSG_EVENT_CONFIG) {
        m.msg.config.status = p0;
        m.msg.config.generation = p1;
    } else if (type & VIRTIO_MSG_TYPE_BUS) {
        m.msg.event_device.dev_num = p0;
        m.msg.event_device.state = p0 >> 16;
    } else {
        m.msg.vq.index = p0;
    }
    m.buf[0] = type;
    m.buf[1] = id;
    stw_le_p(m.buf + 2, dev_num);
    stw_le_p(m.buf + 6, m.len);
    stl_le_p(m.buf + 8, p0);
    stl_le_p(m.buf + 12, p1);
    return m;
}

static BLMsg bl_used(uint16_t dev_num, uint32_t queue)
{
    return bl_msg(0, VIRTIO_MSG_EVENT_USED, dev_num, queue, 0);
}

static BLMsg bl_config(uint16_t dev_num, uint32_t generation)
{
    return bl_msg(0, VIRTIO_MSG_EVENT_CONFIG, dev_num, 0xf, generation);
}

/* A reply of @dev_num to request @id, telling @tag apart */
static BLMsg bl_reply(uint8_t id, uint16_t dev_num, uint32_t tag)
{
    return bl_msg(VIRTIO_MSG_TYPE_RESPONSE, id, dev_num, tag, 0);
}

static BLMsg bl_event_device(uint16_t dev_num, uint16_t state)
{
    return bl_msg(VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_EVENT_DEVICE, 0,
                  dev_num | ((uint32_t)state << 16), 0);
}

static VirtIOMSGBacklogResult bl_add(VirtIOMSGBacklog *b, const BLMsg *m)
{
    return virtio_msg_backlog_add(b, &m->msg, m->buf, m->len);
}

static void bl_add_queued(VirtIOMSGBacklog *b, const BLMsg *m)
{
    g_assert_cmpint(bl_add(b, m), ==, VIRTIO_MSG_BACKLOG_QUEUED);
}

/* Flush @b into an empty queue: exactly @expect come out, in order. */
static void bl_expect(VirtIOMSGBacklog *b, const BLMsg *expect, size_t n)
{
    g_autofree uint8_t *window = g_malloc0(WINDOW_SIZE);
    uint8_t slot[SPSC_SLOT_SIZE];
    SPSCQueue q;

    g_assert_cmpuint(b->count, ==, n);
    spsc_init(&q, window, WINDOW_SIZE);
    g_assert_cmpuint(n, <, q.capacity);
    g_assert_cmpuint(virtio_msg_backlog_flush(b, &q), ==, n);
    g_assert_cmpuint(b->count, ==, 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t want[SPSC_SLOT_SIZE] = { 0 };

        memcpy(want, expect[i].buf, expect[i].len);
        g_assert_true(spsc_recv(&q, slot));
        g_assert_cmpmem(slot, sizeof(slot), want, sizeof(want));
    }
    g_assert_true(spsc_empty(&q));
}

/* Move the backlog's head to @head, empty. */
static void bl_rotate(VirtIOMSGBacklog *b, uint32_t head)
{
    BLMsg m = bl_reply(VIRTIO_MSG_GET_DEVICE_STATUS, 9, 0);

    while (b->head != head) {
        bl_add_queued(b, &m);
        bl_expect(b, &m, 1);
    }
}

static VirtIOMSGBacklog *bl_new(void)
{
    VirtIOMSGBacklog *b = g_new0(VirtIOMSGBacklog, 1);

    virtio_msg_backlog_reset(b);
    return b;
}

static void test_backlog_coalesce(void)
{
    VirtIOMSGBacklog *b = bl_new();
    BLMsg reply = bl_reply(VIRTIO_MSG_GET_DEVICE_STATUS, 1, 7);
    BLMsg u10 = bl_used(1, 0), u11 = bl_used(1, 1), u20 = bl_used(2, 0);
    BLMsg c1 = bl_config(1, 1), c1b = bl_config(1, 2);
    BLMsg c2 = bl_config(2, 1);

    bl_add_queued(b, &u10);
    bl_add_queued(b, &reply);
    bl_add_queued(b, &c1);
    bl_add_queued(b, &u11);
    bl_add_queued(b, &u20);
    bl_add_queued(b, &c2);
    /* the same event again: nothing new to say */
    g_assert_cmpint(bl_add(b, &u10), ==, VIRTIO_MSG_BACKLOG_COALESCED);
    g_assert_cmpint(bl_add(b, &u11), ==, VIRTIO_MSG_BACKLOG_COALESCED);
    g_assert_cmpint(bl_add(b, &u20), ==, VIRTIO_MSG_BACKLOG_COALESCED);
    /* a newer EVENT_CONFIG takes the place of the waiting one */
    g_assert_cmpint(bl_add(b, &c1b), ==, VIRTIO_MSG_BACKLOG_COALESCED);
    /* replies never coalesce */
    bl_add_queued(b, &reply);
    {
        const BLMsg expect[] = { u10, reply, c1b, u11, u20, c2, reply };

        bl_expect(b, expect, ARRAY_SIZE(expect));
    }
    g_free(b);
}

/*
 * Notifications of a device never coalesce across its barriers: the
 * replies to SET_DEVICE_STATUS and RESET_VQUEUE, and EVENT_DEVICE.
 */
static void test_backlog_coalesce_barriers(void)
{
    const BLMsg barriers[] = {
        bl_reply(VIRTIO_MSG_SET_DEVICE_STATUS, 1, 0),
        bl_reply(VIRTIO_MSG_RESET_VQUEUE, 1, 0),
        bl_reply(VIRTIO_MSG_RESET_VQUEUE, 1, 3),
        bl_event_device(1, VIRTIO_MSG_DEVICE_REMOVED),
        bl_event_device(1, VIRTIO_MSG_DEVICE_READY),
    };
    /* ... but the same messages about another device are not */
    const BLMsg others[] = {
        bl_reply(VIRTIO_MSG_SET_DEVICE_STATUS, 2, 0),
        bl_reply(VIRTIO_MSG_RESET_VQUEUE, 2, 0),
        bl_event_device(2, VIRTIO_MSG_DEVICE_REMOVED),
        bl_reply(VIRTIO_MSG_GET_DEVICE_STATUS, 1, 0),
        bl_msg(VIRTIO_MSG_TYPE_BUS | VIRTIO_MSG_TYPE_RESPONSE,
               VIRTIO_MSG_BUS_PING, 0, 1, 0),
    };
    BLMsg u = bl_used(1, 0), c = bl_config(1, 1), cb = bl_config(1, 2);
    BLMsg cc = bl_config(1, 3);
    VirtIOMSGBacklog *b = bl_new();

    for (int rot = 0; rot < 2; rot++) {
        /* the second round wraps around the end of the ring */
        bl_rotate(b, rot ? VIRTIO_MSG_BACKLOG_MAX - 2 : 0);
        for (size_t i = 0; i < ARRAY_SIZE(barriers); i++) {
            const BLMsg expect[] = { u, c, barriers[i], u, cb };

            bl_add_queued(b, &u);
            bl_add_queued(b, &c);
            bl_add_queued(b, &barriers[i]);
            bl_add_queued(b, &u);
            bl_add_queued(b, &cb);
            /* after the barrier they coalesce again, with the new ones */
            g_assert_cmpint(bl_add(b, &u), ==, VIRTIO_MSG_BACKLOG_COALESCED);
            g_assert_cmpint(bl_add(b, &cb), ==,
                            VIRTIO_MSG_BACKLOG_COALESCED);
            bl_expect(b, expect, ARRAY_SIZE(expect));
        }
        for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
            const BLMsg expect[] = { u, cc, others[i] };

            bl_add_queued(b, &u);
            bl_add_queued(b, &c);
            bl_add_queued(b, &others[i]);
            g_assert_cmpint(bl_add(b, &u), ==, VIRTIO_MSG_BACKLOG_COALESCED);
            g_assert_cmpint(bl_add(b, &cc), ==,
                            VIRTIO_MSG_BACKLOG_COALESCED);
            bl_expect(b, expect, ARRAY_SIZE(expect));
        }
    }
    g_free(b);
}

/* purge drops the transport messages of one device, keeps the rest. */
/*
 * Driver side: kicks of a queue coalesce, the newest next_offset wins, and
 * never across a request of the device (status, queue setup or reset).
 */
static void test_backlog_coalesce_avail(void)
{
    BLMsg a5 = bl_msg(0, VIRTIO_MSG_EVENT_AVAIL, 1, 0, 5);
    BLMsg a7 = bl_msg(0, VIRTIO_MSG_EVENT_AVAIL, 1, 0, 7);
    BLMsg a9 = bl_msg(0, VIRTIO_MSG_EVENT_AVAIL, 1, 0, 9);
    BLMsg q1 = bl_msg(0, VIRTIO_MSG_EVENT_AVAIL, 1, 1, 3);
    BLMsg other = bl_msg(0, VIRTIO_MSG_EVENT_AVAIL, 2, 0, 4);
    BLMsg other_req = bl_msg(0, VIRTIO_MSG_SET_DEVICE_STATUS, 2, 0, 0);
    BLMsg req = bl_msg(0, VIRTIO_MSG_RESET_VQUEUE, 1, 0, 0);
    const BLMsg expect[] = { a7, q1, other, other_req, req, a9 };
    VirtIOMSGBacklog *b = bl_new();

    bl_add_queued(b, &a5);
    bl_add_queued(b, &q1);
    bl_add_queued(b, &other);
    bl_add_queued(b, &other_req);
    /* another device's request is no barrier: a7 replaces a5 */
    g_assert_cmpint(bl_add(b, &a7), ==, VIRTIO_MSG_BACKLOG_COALESCED);
    bl_add_queued(b, &req);
    /* the device's own request is one: a9 waits behind it */
    bl_add_queued(b, &a9);
    bl_expect(b, expect, ARRAY_SIZE(expect));
    g_free(b);
}

static void test_backlog_purge(void)
{
    const BLMsg r1 = bl_reply(VIRTIO_MSG_GET_DEVICE_STATUS, 1, 1);
    const BLMsg r2 = bl_reply(VIRTIO_MSG_GET_DEVICE_STATUS, 2, 2);
    const BLMsg s1 = bl_reply(VIRTIO_MSG_SET_DEVICE_STATUS, 1, 0);
    const BLMsg r2b = bl_reply(VIRTIO_MSG_GET_CONFIG, 2, 3);
    const BLMsg ping = bl_msg(VIRTIO_MSG_TYPE_BUS | VIRTIO_MSG_TYPE_RESPONSE,
                              VIRTIO_MSG_BUS_PING, 0, 1, 0);
    const BLMsg ev1 = bl_event_device(1, VIRTIO_MSG_DEVICE_READY);
    const BLMsg u1 = bl_used(1, 0), c1 = bl_config(1, 1);
    const BLMsg u2 = bl_used(2, 0);
    VirtIOMSGBacklog *b = bl_new();

    for (int rot = 0; rot < 2; rot++) {
        bl_rotate(b, rot ? VIRTIO_MSG_BACKLOG_MAX - 3 : 0);
        bl_add_queued(b, &u1);
        bl_add_queued(b, &r2);
        bl_add_queued(b, &r1);
        bl_add_queued(b, &ping);
        bl_add_queued(b, &s1);
        bl_add_queued(b, &ev1);
        bl_add_queued(b, &c1);
        bl_add_queued(b, &u2);
        bl_add_queued(b, &r2b);
        virtio_msg_backlog_purge(b, 1);
        g_assert_cmpuint(b->count, ==, 5);
        /* nothing of device 1 waits any more: new ones queue afresh */
        bl_add_queued(b, &u1);
        g_assert_cmpint(bl_add(b, &u2), ==, VIRTIO_MSG_BACKLOG_COALESCED);
        {
            const BLMsg expect[] = { r2, ping, ev1, u2, r2b, u1 };

            bl_expect(b, expect, ARRAY_SIZE(expect));
        }
    }

    /* purging a device with nothing waiting changes nothing */
    bl_add_queued(b, &r2);
    bl_add_queued(b, &ping);
    virtio_msg_backlog_purge(b, 1);
    virtio_msg_backlog_purge(b, 0);
    {
        const BLMsg expect[] = { r2, ping };

        bl_expect(b, expect, ARRAY_SIZE(expect));
    }
    virtio_msg_backlog_purge(b, 2);
    g_assert_cmpuint(b->count, ==, 0);
    g_free(b);
}

int main(int argc, char *argv[])
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-msg-backlog/coalesce", test_backlog_coalesce);
    g_test_add_func("/virtio-msg-backlog/coalesce-barriers",
                    test_backlog_coalesce_barriers);
    g_test_add_func("/virtio-msg-backlog/coalesce-avail",
                    test_backlog_coalesce_avail);
    g_test_add_func("/virtio-msg-backlog/purge", test_backlog_purge);
    return g_test_run();
}
