/*
 * virtio-msg driver library: messages over the virtio-msg-amp-pci FIFOs
 *
 * See virtio-msg-drv.h for what it does and how it is meant to be used.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "virtio-msg-drv.h"

/* Messages: header, encode/decode */

void vmsg_init(VmsgMsg *m, uint8_t type, uint8_t id, uint16_t dev_num,
               unsigned payload_len)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->id = id;
    m->dev_num = dev_num;
    m->size = VMSG_HDR_SIZE + payload_len;
}

unsigned vmsg_encode(const VmsgMsg *m, uint8_t buf[VMSG_MAX_SIZE])
{
    memset(buf, 0, VMSG_MAX_SIZE);
    buf[0] = m->type;
    buf[1] = m->id;
    put_le16(buf + 2, m->dev_num);
    put_le16(buf + 4, m->token);
    put_le16(buf + 6, m->size);
    memcpy(buf + VMSG_HDR_SIZE, m->payload, m->size - VMSG_HDR_SIZE);
    return m->size;
}

bool vmsg_decode(const uint8_t buf[VMSG_MAX_SIZE], VmsgMsg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = buf[0];
    m->id = buf[1];
    m->dev_num = get_le16(buf + 2);
    m->token = get_le16(buf + 4);
    m->size = get_le16(buf + 6);
    if (m->size < VMSG_HDR_SIZE || m->size > VMSG_MAX_SIZE) {
        return false;
    }
    memcpy(m->payload, buf + VMSG_HDR_SIZE, m->size - VMSG_HDR_SIZE);
    return true;
}

const char *vmsg_name(uint8_t type, uint8_t id)
{
    static const char *const transport[] = {
        [VMSG_DEVICE_INFO] = "DEVICE_INFO",
        [VMSG_GET_FEATURES] = "GET_FEATURES",
        [VMSG_SET_FEATURES] = "SET_FEATURES",
        [VMSG_GET_CONFIG] = "GET_CONFIG",
        [VMSG_SET_CONFIG] = "SET_CONFIG",
        [VMSG_GET_DEVICE_STATUS] = "GET_DEVICE_STATUS",
        [VMSG_SET_DEVICE_STATUS] = "SET_DEVICE_STATUS",
        [VMSG_GET_VQUEUE] = "GET_VQUEUE",
        [VMSG_SET_VQUEUE] = "SET_VQUEUE",
        [VMSG_RESET_VQUEUE] = "RESET_VQUEUE",
        [VMSG_GET_SHM] = "GET_SHM",
    };

    if (type & VMSG_TYPE_BUS) {
        switch (id) {
        case VMSG_BUS_GET_DEVICES:
            return "GET_DEVICES";
        case VMSG_BUS_PING:
            return "PING";
        case VMSG_BUS_EVENT_DEVICE:
            return "EVENT_DEVICE";
        }
        return "bus message ?";
    }
    switch (id) {
    case VMSG_EVENT_CONFIG:
        return "EVENT_CONFIG";
    case VMSG_EVENT_AVAIL:
        return "EVENT_AVAIL";
    case VMSG_EVENT_USED:
        return "EVENT_USED";
    }
    if (id < ARRAY_SIZE(transport) && transport[id]) {
        return transport[id];
    }
    return "message ?";
}

static void vmsg_print(const char *dir, const VmsgMsg *m)
{
    printf("vmsg: %s %s%s dev %u token %u size %u\n", dir,
           vmsg_name(m->type, m->id),
           m->type & VMSG_TYPE_RESPONSE ? " response" : "",
           m->dev_num, m->token, m->size);
}

/* The FIFO: two single-producer single-consumer queues in BAR1 */

void vmsg_link_init(VmsgLink *l, uintptr_t bar0, uintptr_t bar1,
                    unsigned fifo)
{
    uintptr_t window = bar1 + fifo * VMSG_AMP_WINDOW_SIZE;

    memset(l, 0, sizeof(*l));
    l->doorbell = bar0 + VMSG_AMP_REG_NOTIFY + 4 * fifo;
    l->txq = window + VMSG_AMP_TO_DEVICE;
    l->rxq = window + VMSG_AMP_TO_DRIVER;
    l->timeout_ms = 5000;
}

/*
 * Index values written by the peer are not trusted: out of range means
 * a broken peer (or a lost reset), which is reported once per reading.
 */
static bool read_index(VmsgLink *l, uintptr_t q, unsigned off,
                       uint32_t *val)
{
    *val = mmio_read32(q + off);
    if (*val >= VMSG_Q_CAPACITY) {
        printf("vmsg: queue %s index %u out of range\n",
               off == VMSG_Q_HEAD ? "head" : "tail", *val);
        l->errors++;
        return false;
    }
    return true;
}

bool vmsg_send(VmsgLink *l, const VmsgMsg *m)
{
    uint64_t deadline = timer_deadline_ms(l->timeout_ms);
    uint8_t buf[VMSG_MAX_SIZE] __attribute__((aligned(8)));
    uint32_t head, tail;
    uintptr_t slot;

    vmsg_encode(m, buf);
    for (;;) {
        if (!read_index(l, l->txq, VMSG_Q_HEAD, &head) ||
            !read_index(l, l->txq, VMSG_Q_TAIL, &tail)) {
            return false;
        }
        if ((head + 1) % VMSG_Q_CAPACITY != tail) {
            break;
        }
        if (timer_expired(deadline)) {
            printf("vmsg: timeout waiting for room in the driver-to-device "
                   "queue to send %s\n", vmsg_name(m->type, m->id));
            return false;
        }
    }

    /* the whole slot, in 32-bit stores: the window is a PCI BAR */
    slot = l->txq + VMSG_Q_SLOTS + head * VMSG_Q_SLOT_SIZE;
    for (unsigned i = 0; i < VMSG_MAX_SIZE; i += 4) {
        mmio_write32(slot + i, get_le32(buf + i));
    }
    dma_wmb();                  /* the slot before the head */
    mmio_write32(l->txq + VMSG_Q_HEAD, (head + 1) % VMSG_Q_CAPACITY);
    dma_wmb();                  /* the head before the doorbell */
    mmio_write32(l->doorbell, 1);
    l->sent++;
    if (l->verbose) {
        vmsg_print("sent", m);
    }
    return true;
}

bool vmsg_receive(VmsgLink *l, VmsgMsg *m)
{
    uint8_t buf[VMSG_MAX_SIZE] __attribute__((aligned(8)));
    uint32_t head, tail;
    uintptr_t slot;

    if (!read_index(l, l->rxq, VMSG_Q_HEAD, &head) ||
        !read_index(l, l->rxq, VMSG_Q_TAIL, &tail) || head == tail) {
        return false;
    }
    dma_rmb();                  /* the head before the slot */
    slot = l->rxq + VMSG_Q_SLOTS + tail * VMSG_Q_SLOT_SIZE;
    for (unsigned i = 0; i < VMSG_MAX_SIZE; i += 4) {
        put_le32(buf + i, mmio_read32(slot + i));
    }
    dma_mb();                   /* the slot copied before giving it back */
    mmio_write32(l->rxq + VMSG_Q_TAIL, (tail + 1) % VMSG_Q_CAPACITY);
    l->received++;

    if (!vmsg_decode(buf, m)) {
        printf("vmsg: received a message with invalid msg_size %u "
               "(type 0x%x id 0x%x)\n", get_le16(buf + 6), buf[0], buf[1]);
        l->errors++;
        m->type = 0xff;
        return true;
    }
    if (l->verbose) {
        vmsg_print("received", m);
    }
    return true;
}

/* Record an event from the device (or complain about anything else) */
static void handle_unsolicited(VmsgLink *l, const VmsgMsg *m)
{
    if (m->type == 0xff) {
        return;                 /* already reported */
    }
    l->events++;
    if (m->type == 0 && m->id == VMSG_EVENT_USED &&
        m->dev_num < VMSG_MAX_DEVS && vmsg_payload_len(m) >= 4) {
        l->used_pending[m->dev_num] |= 1ULL << MIN(vmsg_get32(m, 0), 63);
        return;
    }
    if (m->type == 0 && m->id == VMSG_EVENT_CONFIG &&
        m->dev_num < VMSG_MAX_DEVS && vmsg_payload_len(m) >= 16) {
        l->config_events[m->dev_num]++;
        l->last_config_status[m->dev_num] = vmsg_get32(m, 0);
        printf("vmsg: EVENT_CONFIG dev %u status 0x%x generation %u\n",
               m->dev_num, vmsg_get32(m, 0), vmsg_get32(m, 4));
        return;
    }
    if (m->type == VMSG_TYPE_BUS && m->id == VMSG_BUS_EVENT_DEVICE &&
        vmsg_payload_len(m) >= 4) {
        printf("vmsg: EVENT_DEVICE dev %u state %u\n",
               vmsg_get16(m, 0), vmsg_get16(m, 2));
        return;
    }
    printf("vmsg: unexpected message from the device:\n");
    vmsg_print("received", m);
    l->errors++;
}

void vmsg_poll(VmsgLink *l)
{
    VmsgMsg m;

    while (vmsg_receive(l, &m)) {
        handle_unsolicited(l, &m);
    }
}

bool vmsg_request(VmsgLink *l, VmsgMsg *req, VmsgMsg *resp,
                  unsigned min_payload)
{
    uint8_t want_type = (req->type & VMSG_TYPE_BUS) | VMSG_TYPE_RESPONSE;
    uint64_t deadline;

    /* token 0 is what events carry: skip it */
    if (++l->last_token == 0) {
        l->last_token = 1;
    }
    req->token = l->last_token;
    if (!vmsg_send(l, req)) {
        return false;
    }

    deadline = timer_deadline_ms(l->timeout_ms);
    for (;;) {
        while (vmsg_receive(l, resp)) {
            /* bits 2..7 of type are reserved: ignore them */
            if ((resp->type & 3) == want_type && resp->id == req->id &&
                resp->dev_num == req->dev_num &&
                resp->token == req->token) {
                if (vmsg_payload_len(resp) < min_payload) {
                    printf("vmsg: %s response of dev %u too short: "
                           "%u payload bytes, expected %u\n",
                           vmsg_name(req->type, req->id), req->dev_num,
                           vmsg_payload_len(resp), min_payload);
                    l->errors++;
                    return false;
                }
                return true;
            }
            if (resp->type != 0xff && (resp->type & VMSG_TYPE_RESPONSE)) {
                printf("vmsg: waiting for %s response (dev %u token %u), "
                       "got a %s response (dev %u token %u)\n",
                       vmsg_name(req->type, req->id), req->dev_num,
                       req->token, vmsg_name(resp->type, resp->id),
                       resp->dev_num, resp->token);
                l->errors++;
                continue;
            }
            handle_unsolicited(l, resp);
        }
        if (timer_expired(deadline)) {
            printf("vmsg: timeout after %u ms waiting for the %s response "
                   "(dev %u token %u)\n", l->timeout_ms,
                   vmsg_name(req->type, req->id), req->dev_num, req->token);
            return false;
        }
    }
}

/* Bus messages */

bool vmsg_get_devices(VmsgLink *l, uint32_t *bitmap)
{
    VmsgMsg req, resp;

    vmsg_init(&req, VMSG_TYPE_BUS, VMSG_BUS_GET_DEVICES, 0, 4);
    vmsg_put16(&req, 0, 0);                 /* offset */
    vmsg_put16(&req, 2, VMSG_MAX_DEVS);     /* count */
    if (!vmsg_request(l, &req, &resp, 6 + VMSG_MAX_DEVS / 8)) {
        return false;
    }
    if (vmsg_get16(&resp, 0) != 0 || vmsg_get16(&resp, 2) != VMSG_MAX_DEVS) {
        printf("vmsg: GET_DEVICES answered offset %u count %u, asked 0 %u\n",
               vmsg_get16(&resp, 0), vmsg_get16(&resp, 2), VMSG_MAX_DEVS);
        l->errors++;
        return false;
    }
    *bitmap = vmsg_get32(&resp, 6);
    return true;
}

bool vmsg_ping(VmsgLink *l, uint32_t data)
{
    VmsgMsg req, resp;

    vmsg_init(&req, VMSG_TYPE_BUS, VMSG_BUS_PING, 0, 4);
    vmsg_put32(&req, 0, data);
    if (!vmsg_request(l, &req, &resp, 4)) {
        return false;
    }
    if (vmsg_get32(&resp, 0) != data) {
        printf("vmsg: PING 0x%x answered 0x%x\n", data,
               vmsg_get32(&resp, 0));
        l->errors++;
        return false;
    }
    return true;
}

/* Transport messages */

bool vmsg_device_info(VmsgLink *l, uint16_t dev, VmsgDeviceInfo *info)
{
    VmsgMsg req, resp;

    vmsg_init(&req, 0, VMSG_DEVICE_INFO, dev, 0);
    if (!vmsg_request(l, &req, &resp, 24)) {
        return false;
    }
    info->device_id = vmsg_get32(&resp, 0);
    info->vendor_id = vmsg_get32(&resp, 4);
    info->num_feature_bits = vmsg_get32(&resp, 8);
    info->config_size = vmsg_get32(&resp, 12);
    info->max_virtqueues = vmsg_get32(&resp, 16);
    return true;
}

/* Feature bits 0..63: blocks 0 and 1 */
bool vmsg_get_features(VmsgLink *l, uint16_t dev, uint64_t *features)
{
    VmsgMsg req, resp;

    vmsg_init(&req, 0, VMSG_GET_FEATURES, dev, 8);
    vmsg_put32(&req, 0, 0);                 /* block_index */
    vmsg_put32(&req, 4, 2);                 /* num_blocks */
    if (!vmsg_request(l, &req, &resp, 8 + 2 * 4)) {
        return false;
    }
    if (vmsg_get32(&resp, 0) != 0 || vmsg_get32(&resp, 4) != 2) {
        printf("vmsg: GET_FEATURES answered blocks %u+%u, asked 0+2\n",
               vmsg_get32(&resp, 0), vmsg_get32(&resp, 4));
        l->errors++;
        return false;
    }
    *features = vmsg_get32(&resp, 8) | (uint64_t)vmsg_get32(&resp, 12) << 32;
    return true;
}

bool vmsg_set_features(VmsgLink *l, uint16_t dev, uint64_t features)
{
    VmsgMsg req, resp;

    vmsg_init(&req, 0, VMSG_SET_FEATURES, dev, 8 + 2 * 4);
    vmsg_put32(&req, 0, 0);
    vmsg_put32(&req, 4, 2);
    vmsg_put32(&req, 8, features);
    vmsg_put32(&req, 12, features >> 32);
    return vmsg_request(l, &req, &resp, 0);
}

bool vmsg_get_config(VmsgLink *l, uint16_t dev, uint32_t offset,
                     void *buf, uint32_t len, uint32_t *generation)
{
    VmsgMsg req, resp;

    if (len > VMSG_CONFIG_CHUNK) {
        return false;
    }
    vmsg_init(&req, 0, VMSG_GET_CONFIG, dev, 8);
    vmsg_put32(&req, 0, offset);
    vmsg_put32(&req, 4, len);
    if (!vmsg_request(l, &req, &resp, 12 + len)) {
        return false;
    }
    if (vmsg_get32(&resp, 4) != offset || vmsg_get32(&resp, 8) != len) {
        printf("vmsg: GET_CONFIG answered offset %u length %u, "
               "asked %u %u\n", vmsg_get32(&resp, 4), vmsg_get32(&resp, 8),
               offset, len);
        l->errors++;
        return false;
    }
    *generation = vmsg_get32(&resp, 0);
    memcpy(buf, resp.payload + 12, len);
    return true;
}

bool vmsg_get_status(VmsgLink *l, uint16_t dev, uint32_t *status)
{
    VmsgMsg req, resp;

    vmsg_init(&req, 0, VMSG_GET_DEVICE_STATUS, dev, 0);
    if (!vmsg_request(l, &req, &resp, 4)) {
        return false;
    }
    *status = vmsg_get32(&resp, 0);
    return true;
}

bool vmsg_set_status(VmsgLink *l, uint16_t dev, uint32_t status,
                     uint32_t *result)
{
    VmsgMsg req, resp;

    vmsg_init(&req, 0, VMSG_SET_DEVICE_STATUS, dev, 4);
    vmsg_put32(&req, 0, status);
    if (!vmsg_request(l, &req, &resp, 4)) {
        return false;
    }
    *result = vmsg_get32(&resp, 0);
    return true;
}

bool vmsg_get_vqueue(VmsgLink *l, uint16_t dev, uint32_t index,
                     uint32_t *max_size)
{
    VmsgMsg req, resp;

    vmsg_init(&req, 0, VMSG_GET_VQUEUE, dev, 4);
    vmsg_put32(&req, 0, index);
    if (!vmsg_request(l, &req, &resp, 40)) {
        return false;
    }
    if (vmsg_get32(&resp, 0) != index) {
        printf("vmsg: GET_VQUEUE answered for queue %u, asked %u\n",
               vmsg_get32(&resp, 0), index);
        l->errors++;
        return false;
    }
    *max_size = vmsg_get32(&resp, 4);
    return true;
}

/* The aligned 48-byte layout */
bool vmsg_set_vqueue(VmsgLink *l, uint16_t dev, uint32_t index,
                     uint32_t size, uint64_t desc, uint64_t driver,
                     uint64_t device)
{
    VmsgMsg req, resp;

    vmsg_init(&req, 0, VMSG_SET_VQUEUE, dev, 40);
    vmsg_put32(&req, 0, index);
    vmsg_put32(&req, 8, size);
    vmsg_put64(&req, 16, desc);
    vmsg_put64(&req, 24, driver);
    vmsg_put64(&req, 32, device);
    return vmsg_request(l, &req, &resp, 0);
}

bool vmsg_event_avail(VmsgLink *l, uint16_t dev, uint32_t index)
{
    VmsgMsg ev;

    /* next_offset is 0: VIRTIO_F_NOTIFICATION_DATA is not negotiated */
    vmsg_init(&ev, 0, VMSG_EVENT_AVAIL, dev, 8);
    vmsg_put32(&ev, 0, index);
    return vmsg_send(l, &ev);
}
