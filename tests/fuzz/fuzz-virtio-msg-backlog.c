/*
 * libFuzzer target: the virtio-msg backlog, flushed into an SPSC queue
 *
 * Input: a byte picks the queue capacity (2 to 64 slots, in a heap
 * window of exactly that size); then each operation is one byte and its
 * operands: add a message (EVENT_USED, EVENT_CONFIG, EVENT_AVAIL,
 * requests, responses, bus EVENT_DEVICE, bus PING), add a burst of them,
 * flush, let the peer receive from the queue, purge a device, reset.
 * Messages are encoded with the codec; a running token tells them apart.
 *
 * A reference model written from the documented rules predicts every
 * result: QUEUED, COALESCED (an EVENT_USED keeps the waiting one, an
 * EVENT_CONFIG or EVENT_AVAIL replaces it in place) or FULL; the count
 * (never above VIRTIO_MSG_BACKLOG_MAX); how many messages a flush moves;
 * and the exact bytes, in order, the peer receives.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "migration/vmstate.h"
#include "hw/virtio/virtio-msg-proto.h"
#include "hw/virtio/virtio-msg-spsc.h"
#include "hw/virtio/virtio-msg-backlog.h"
#include "fuzz-common.h"

/*
 * The backlog's VMState description refers to these; migration is not
 * exercised here, so they only need to exist.
 */
const VMStateInfo vmstate_info_uint8 = { .name = "uint8" };
const VMStateInfo vmstate_info_uint32 = { .name = "uint32" };

#define MAX_SLOTS       64
#define NUM_DEVS        4
#define NUM_QUEUES      4

/*
 * The model's code gives libFuzzer no useful feedback and, instrumented,
 * costs as much as the backlog itself: leave it out of the coverage.
 */
#define NO_COVERAGE     __attribute__((no_sanitize("coverage")))

enum {
    OP_ADD,
    OP_ADD2,
    OP_ADD3,
    OP_BURST,
    OP_FLUSH,
    OP_RECV,
    OP_PURGE,
    OP_RESET,
    OP_COUNT
};

enum {
    KIND_USED,
    KIND_CONFIG,
    KIND_AVAIL,
    KIND_RESPONSE,
    KIND_REQUEST,
    KIND_EVENT_DEVICE,
    KIND_PING,
    KIND_COUNT
};

/* A message of the model: what the rules look at, and its bytes */
typedef struct ModelMsg {
    uint8_t type;
    uint8_t id;
    uint16_t dev_num;       /* header */
    uint32_t index;         /* queue of EVENT_USED and EVENT_AVAIL */
    uint16_t named_dev;     /* device an EVENT_DEVICE names */
    uint8_t bytes[SPSC_SLOT_SIZE];
} ModelMsg;

typedef struct Fuzz {
    VirtIOMSGBacklog b;
    SPSCQueue q;
    uint8_t *mem;
    uint32_t cap;
    uint16_t token;
    /* The backlog, oldest first from waiting_head */
    ModelMsg waiting[VIRTIO_MSG_BACKLOG_MAX];
    uint32_t waiting_head, nwaiting;
    /* In the queue, oldest first */
    ModelMsg sent[MAX_SLOTS];
    uint32_t sent_head, nsent;
} Fuzz;

static const uint8_t response_ids[] = {
    VIRTIO_MSG_SET_DEVICE_STATUS, VIRTIO_MSG_RESET_VQUEUE,
    VIRTIO_MSG_GET_CONFIG, VIRTIO_MSG_GET_VQUEUE, VIRTIO_MSG_DEVICE_INFO,
    VIRTIO_MSG_SET_FEATURES, VIRTIO_MSG_GET_DEVICE_STATUS,
    VIRTIO_MSG_SET_VQUEUE,
};

static const uint8_t request_ids[] = {
    VIRTIO_MSG_SET_DEVICE_STATUS, VIRTIO_MSG_RESET_VQUEUE,
    VIRTIO_MSG_SET_VQUEUE, VIRTIO_MSG_GET_CONFIG, VIRTIO_MSG_GET_FEATURES,
    VIRTIO_MSG_GET_DEVICE_STATUS,
};

/* Build message @kind from the input; false if it does not encode */
NO_COVERAGE
static bool make_msg(Fuzz *f, FuzzInput *in, int kind, VirtIOMSG *msg,
                     ModelMsg *m, size_t *len)
{
    uint16_t dev = fuzz_u8(in) % NUM_DEVS;
    uint8_t arg = fuzz_u8(in);

    memset(msg, 0, sizeof(*msg));
    memset(m, 0, sizeof(*m));
    switch (kind) {
    case KIND_USED:
    case KIND_AVAIL:
        virtio_msg_init(msg, 0, kind == KIND_USED ? VIRTIO_MSG_EVENT_USED
                                                  : VIRTIO_MSG_EVENT_AVAIL,
                        dev, f->token);
        msg->vq.index = arg % NUM_QUEUES;
        msg->vq.next_offset = arg;
        break;
    case KIND_CONFIG:
        virtio_msg_init(msg, 0, VIRTIO_MSG_EVENT_CONFIG, dev, f->token);
        msg->config.status = arg;
        msg->config.generation = f->token;
        msg->config.length = arg % 9;
        memset(msg->config.data, arg, msg->config.length);
        break;
    case KIND_RESPONSE:
    case KIND_REQUEST:
        virtio_msg_init(msg, kind == KIND_RESPONSE, 0, dev, f->token);
        msg->id = kind == KIND_RESPONSE
                  ? response_ids[arg % ARRAY_SIZE(response_ids)]
                  : request_ids[arg % ARRAY_SIZE(request_ids)];
        msg->status.status = arg;
        break;
    case KIND_EVENT_DEVICE:
        virtio_msg_init(msg, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_EVENT_DEVICE,
                        0, f->token);
        msg->event_device.dev_num = dev;
        msg->event_device.state = arg & 1 ? VIRTIO_MSG_DEVICE_READY
                                          : VIRTIO_MSG_DEVICE_REMOVED;
        break;
    case KIND_PING:
        virtio_msg_init(msg, VIRTIO_MSG_TYPE_BUS | (arg & 1),
                        VIRTIO_MSG_BUS_PING, 0, f->token);
        msg->ping.data = arg;
        break;
    }
    f->token++;
    *len = virtio_msg_encode(msg, m->bytes, sizeof(m->bytes));
    if (!*len) {
        return false;
    }
    m->type = msg->type;
    m->id = msg->id;
    m->dev_num = msg->dev_num;
    m->index = msg->vq.index;
    m->named_dev = msg->event_device.dev_num;
    return true;
}

/* The @i-th oldest message of the model's backlog */
NO_COVERAGE
static ModelMsg *waiting(Fuzz *f, uint32_t i)
{
    return &f->waiting[(f->waiting_head + i) % VIRTIO_MSG_BACKLOG_MAX];
}

NO_COVERAGE
static bool is_notification(const ModelMsg *m)
{
    return m->type == 0 && (m->id == VIRTIO_MSG_EVENT_USED ||
                            m->id == VIRTIO_MSG_EVENT_CONFIG ||
                            m->id == VIRTIO_MSG_EVENT_AVAIL);
}

/*
 * Does waiting message @w keep a new notification @n from coalescing with
 * one older than @w?  A bus EVENT_DEVICE naming the device; on the device
 * side a SET_DEVICE_STATUS or RESET_VQUEUE reply of the device; for an
 * EVENT_AVAIL (driver side) any request of the device.
 */
NO_COVERAGE
static bool model_barrier(const ModelMsg *w, const ModelMsg *n)
{
    if (w->type & VIRTIO_MSG_TYPE_BUS) {
        return w->id == VIRTIO_MSG_BUS_EVENT_DEVICE &&
               w->named_dev == n->dev_num;
    }
    if (w->dev_num != n->dev_num) {
        return false;
    }
    if (n->id == VIRTIO_MSG_EVENT_AVAIL) {
        return w->type == 0 && !VIRTIO_MSG_ID_IS_EVENT(w->id);
    }
    return (w->type & VIRTIO_MSG_TYPE_RESPONSE) &&
           (w->id == VIRTIO_MSG_SET_DEVICE_STATUS ||
            w->id == VIRTIO_MSG_RESET_VQUEUE);
}

NO_COVERAGE
static VirtIOMSGBacklogResult model_add(Fuzz *f, const ModelMsg *n)
{
    if (is_notification(n)) {
        for (uint32_t i = f->nwaiting; i-- > 0;) {
            ModelMsg *w = waiting(f, i);

            if (model_barrier(w, n)) {
                break;
            }
            if (w->type == n->type && w->id == n->id &&
                w->dev_num == n->dev_num &&
                (n->id == VIRTIO_MSG_EVENT_CONFIG || w->index == n->index)) {
                if (n->id != VIRTIO_MSG_EVENT_USED) {
                    *w = *n;
                }
                return VIRTIO_MSG_BACKLOG_COALESCED;
            }
        }
    }
    if (f->nwaiting == VIRTIO_MSG_BACKLOG_MAX) {
        return VIRTIO_MSG_BACKLOG_FULL;
    }
    *waiting(f, f->nwaiting++) = *n;
    return VIRTIO_MSG_BACKLOG_QUEUED;
}

static void check_count(Fuzz *f)
{
    fuzz_check(f->b.count <= VIRTIO_MSG_BACKLOG_MAX &&
               f->b.head < VIRTIO_MSG_BACKLOG_MAX,
               "backlog head %u count %u", f->b.head, f->b.count);
    fuzz_check(f->b.count == f->nwaiting, "backlog count %u, model %u",
               f->b.count, f->nwaiting);
    fuzz_check(spsc_used(&f->q) == f->nsent, "queue holds %u, model %u",
               spsc_used(&f->q), f->nsent);
}

static VirtIOMSGBacklogResult add_checked(Fuzz *f, const VirtIOMSG *msg,
                                          const ModelMsg *m, size_t len)
{
    VirtIOMSGBacklogResult want, got;

    want = model_add(f, m);
    got = virtio_msg_backlog_add(&f->b, msg, m->bytes, len);
    fuzz_check(got == want, "add of 0x%x/0x%x dev %u token %u: %d, model %d",
               m->type, m->id, m->dev_num, msg->token, got, want);
    return got;
}

/*
 * Add one message of @kind, or @n copies of it that differ in token.
 * Once two copies were not queued, the others would do the same again.
 */
static void op_add(Fuzz *f, FuzzInput *in, int kind, uint32_t n)
{
    VirtIOMSG msg;
    ModelMsg m;
    size_t len;
    uint32_t not_queued = 0;

    if (!make_msg(f, in, kind, &msg, &m, &len)) {
        fuzz_fail("kind %d does not encode", kind);
    }
    add_checked(f, &msg, &m, len);
    for (uint32_t i = 1; i < n && not_queued < 2; i++) {
        msg.token = f->token++;
        stw_le_p(m.bytes + 4, msg.token);
        if (add_checked(f, &msg, &m, len) != VIRTIO_MSG_BACKLOG_QUEUED) {
            not_queued++;
        }
    }
}

static void op_flush(Fuzz *f)
{
    uint32_t room = f->cap - 1 - f->nsent;
    uint32_t want = MIN(room, f->nwaiting);
    uint32_t got = virtio_msg_backlog_flush(&f->b, &f->q);

    fuzz_check(got == want, "flush moved %u, model %u", got, want);
    for (uint32_t i = 0; i < want; i++) {
        f->sent[(f->sent_head + f->nsent++) % MAX_SLOTS] = *waiting(f, i);
    }
    f->waiting_head = (f->waiting_head + want) % VIRTIO_MSG_BACKLOG_MAX;
    f->nwaiting -= want;
}

static void op_recv(Fuzz *f, uint32_t n)
{
    uint8_t buf[SPSC_SLOT_SIZE];

    for (uint32_t i = 0; !n || i < n; i++) {
        bool ok = spsc_recv(&f->q, buf);

        fuzz_check(ok == (f->nsent > 0), "recv %d, model holds %u",
                   ok, f->nsent);
        if (!ok) {
            return;
        }
        fuzz_check(!memcmp(buf, f->sent[f->sent_head].bytes, sizeof(buf)),
                   "received token %u, model 0x%x/0x%x token %u",
                   lduw_le_p(buf + 4), f->sent[f->sent_head].type,
                   f->sent[f->sent_head].id,
                   lduw_le_p(f->sent[f->sent_head].bytes + 4));
        f->sent_head = (f->sent_head + 1) % MAX_SLOTS;
        f->nsent--;
    }
}

static void op_purge(Fuzz *f, uint16_t dev)
{
    uint32_t kept = 0;

    virtio_msg_backlog_purge(&f->b, dev);
    for (uint32_t i = 0; i < f->nwaiting; i++) {
        const ModelMsg *w = waiting(f, i);

        if (!(w->type & VIRTIO_MSG_TYPE_BUS) && w->dev_num == dev) {
            continue;
        }
        if (kept != i) {
            *waiting(f, kept) = *w;
        }
        kept++;
    }
    f->nwaiting = kept;
}

static void run_op(Fuzz *f, FuzzInput *in)
{
    int op = fuzz_u8(in) % OP_COUNT;
    uint32_t n;
    int kind;

    switch (op) {
    case OP_ADD:
    case OP_ADD2:
    case OP_ADD3:
        op_add(f, in, fuzz_u8(in) % KIND_COUNT, 1);
        break;
    case OP_BURST:
        /* Up to 765 messages: fills the backlog */
        n = fuzz_u8(in) * 3;
        kind = fuzz_u8(in) % KIND_COUNT;
        op_add(f, in, kind, n);
        break;
    case OP_FLUSH:
        op_flush(f);
        break;
    case OP_RECV:
        op_recv(f, fuzz_u8(in) % 8);
        break;
    case OP_PURGE:
        op_purge(f, fuzz_u8(in) % NUM_DEVS);
        break;
    case OP_RESET:
        virtio_msg_backlog_reset(&f->b);
        f->nwaiting = 0;
        break;
    }
    check_count(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Fuzz fz;
    Fuzz *f = &fz;
    FuzzInput in;
    size_t win;

    fuzz_input_init(&in, data, size);
    f->cap = 2 + fuzz_u8(&in) % (MAX_SLOTS - 1);
    win = SPSC_SLOTS_OFFSET + (size_t)f->cap * SPSC_SLOT_SIZE;
    f->mem = malloc(win);
    memset(f->mem, 0, win);
    spsc_init(&f->q, f->mem, win);
    fuzz_check(f->q.capacity == f->cap, "capacity %u", f->q.capacity);

    memset(f->b.slots, 0xa5, sizeof(f->b.slots));
    f->b.head = fuzz_u16(&in) % VIRTIO_MSG_BACKLOG_MAX;
    f->b.count = 0;
    f->waiting_head = fuzz_u16(&in) % VIRTIO_MSG_BACKLOG_MAX;
    f->nwaiting = f->nsent = f->sent_head = 0;
    f->token = 0;

    while (!fuzz_input_done(&in)) {
        run_op(f, &in);
    }
    /* Everything still waiting comes out, in order */
    do {
        op_flush(f);
        op_recv(f, 0);
        check_count(f);
    } while (f->nwaiting);
    free(f->mem);
    return 0;
}
