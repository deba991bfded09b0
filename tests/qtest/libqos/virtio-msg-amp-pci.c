/*
 * libqos driver for virtio-msg over the virtio-msg-amp-pci device
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/module.h"
#include "hw/pci/pci_regs.h"
#include "../libqtest.h"
#include "qobject/qdict.h"
#include "qgraph.h"
#include "qgraph_internal.h"
#include "virtio-msg-amp-pci.h"
#include "standard-headers/linux/virtio_blk.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ring.h"

#define QVMSG_TIMEOUT_US (10 * G_USEC_PER_SEC)

static const QVirtioMSGAmpMachine qvirtio_msg_amp_virt = {
    .name = "virt",
    .args = "-M virt -cpu max ",
    .ram_base = 0x40000000ULL,
};

static const QVirtioMSGAmpMachine qvirtio_msg_amp_q35 = {
    .name = "q35",
    .args = "-M q35 ",
    .ram_base = 0,
};

const QVirtioMSGAmpMachine *qvirtio_msg_amp_machine(void)
{
    const char *arch = qtest_get_arch();

    if (g_str_equal(arch, "aarch64")) {
        return &qvirtio_msg_amp_virt;
    }
    if (g_str_equal(arch, "x86_64") || g_str_equal(arch, "i386")) {
        return &qvirtio_msg_amp_q35;
    }
    fprintf(stderr, "virtio-msg-amp-pci: no machine for %s\n", arch);
    g_assert_not_reached();
}

QPCIBus *qvirtio_msg_amp_pci_bus(QVirtioMSGAmpPCIBus *b, QTestState *qts)
{
    if (qvirtio_msg_amp_machine() == &qvirtio_msg_amp_q35) {
        qpci_init_pc(&b->pc, qts, NULL);
        return &b->pc.bus;
    }
    qpci_init_generic(&b->generic, qts, NULL, false);
    return &b->generic.bus;
}

static uint64_t queue_base(unsigned fifo, uint64_t queue)
{
    return fifo * QVMSG_AMP_WINDOW + queue;
}

void qvirtio_msg_amp_doorbell(QVirtioMSGAmp *d, unsigned fifo)
{
    qpci_io_writel(d->pdev, d->bar0, QVMSG_AMP_REG_NOTIFY + 4 * fifo, 1);
}

bool qvirtio_msg_amp_put(QVirtioMSGAmp *d, unsigned fifo, const void *buf,
                         size_t len)
{
    uint64_t q = queue_base(fifo, QVMSG_AMP_TO_DEVICE);
    uint32_t head = qpci_io_readl(d->pdev, d->bar1, q + QVMSG_AMP_Q_HEAD);
    uint32_t tail = qpci_io_readl(d->pdev, d->bar1, q + QVMSG_AMP_Q_TAIL);
    uint8_t slot[QVMSG_AMP_SLOT_SIZE] = { 0 };

    g_assert_cmpuint(head, <, QVMSG_AMP_CAPACITY);
    g_assert_cmpuint(tail, <, QVMSG_AMP_CAPACITY);
    g_assert_cmpuint(len, <=, sizeof(slot));
    if ((head + 1) % QVMSG_AMP_CAPACITY == tail) {
        return false;
    }
    memcpy(slot, buf, len);
    qpci_memwrite(d->pdev, d->bar1,
                  q + QVMSG_AMP_Q_SLOTS + head * QVMSG_AMP_SLOT_SIZE,
                  slot, sizeof(slot));
    qpci_io_writel(d->pdev, d->bar1, q + QVMSG_AMP_Q_HEAD,
                   (head + 1) % QVMSG_AMP_CAPACITY);
    return true;
}

bool qvirtio_msg_amp_get(QVirtioMSGAmp *d, unsigned fifo,
                         uint8_t buf[QVMSG_AMP_SLOT_SIZE])
{
    uint64_t q = queue_base(fifo, QVMSG_AMP_TO_DRIVER);
    uint32_t head = qpci_io_readl(d->pdev, d->bar1, q + QVMSG_AMP_Q_HEAD);
    uint32_t tail = qpci_io_readl(d->pdev, d->bar1, q + QVMSG_AMP_Q_TAIL);

    g_assert_cmpuint(head, <, QVMSG_AMP_CAPACITY);
    g_assert_cmpuint(tail, <, QVMSG_AMP_CAPACITY);
    if (head == tail) {
        return false;
    }
    qpci_memread(d->pdev, d->bar1,
                 q + QVMSG_AMP_Q_SLOTS + tail * QVMSG_AMP_SLOT_SIZE,
                 buf, QVMSG_AMP_SLOT_SIZE);
    qpci_io_writel(d->pdev, d->bar1, q + QVMSG_AMP_Q_TAIL,
                   (tail + 1) % QVMSG_AMP_CAPACITY);
    return true;
}

void qvirtio_msg_amp_send(QVirtioMSGAmp *d, unsigned fifo, VirtIOMSG *msg)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];
    size_t len = virtio_msg_encode(msg, buf, sizeof(buf));

    g_assert_cmpuint(len, >, 0);
    g_assert_true(qvirtio_msg_amp_put(d, fifo, buf, len));
    qvirtio_msg_amp_doorbell(d, fifo);
}

static void record(QVirtioMSGAmp *d, const VirtIOMSG *msg)
{
    if (msg->type == 0 && msg->dev_num == d->dev_num) {
        if (msg->id == VIRTIO_MSG_EVENT_USED && msg->vq.index < 64) {
            d->used_pending |= 1ULL << msg->vq.index;
        } else if (msg->id == VIRTIO_MSG_EVENT_CONFIG) {
            /*
             * Like virtio's ISR (0x3 on a configuration change), which the
             * device tests were written against: a configuration event
             * also counts as a queue interrupt.
             */
            d->config_pending = true;
            d->used_pending = UINT64_MAX;
        }
    }
    if (d->num_events < QVMSG_AMP_MAX_EVENTS) {
        if (!d->events) {
            d->events = g_new0(VirtIOMSG, QVMSG_AMP_MAX_EVENTS);
        }
        d->events[d->num_events++] = *msg;
    }
}

/* Take and decode one message; the device must never send garbage. */
static bool get_msg(QVirtioMSGAmp *d, unsigned fifo, VirtIOMSG *msg)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];

    if (!qvirtio_msg_amp_get(d, fifo, buf)) {
        return false;
    }
    g_assert_cmpint(virtio_msg_decode(buf, sizeof(buf), sizeof(buf), msg),
                    ==, VIRTIO_MSG_OK);
    return true;
}

void qvirtio_msg_amp_poll(QVirtioMSGAmp *d, unsigned fifo)
{
    VirtIOMSG msg;

    while (get_msg(d, fifo, &msg)) {
        record(d, &msg);
    }
}

bool qvirtio_msg_amp_wait_response(QVirtioMSGAmp *d, unsigned fifo,
                                   const VirtIOMSG *req, VirtIOMSG *resp,
                                   gint64 timeout_us)
{
    gint64 deadline = g_get_monotonic_time() + timeout_us;

    for (;;) {
        while (get_msg(d, fifo, resp)) {
            if ((resp->type & VIRTIO_MSG_TYPE_RESPONSE) &&
                resp->id == req->id && resp->token == req->token &&
                resp->dev_num == req->dev_num) {
                return true;
            }
            record(d, resp);
        }
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        /* let a backlog retry run */
        qtest_clock_step(d->qts, 1000 * 1000);
    }
}

void qvirtio_msg_amp_request(QVirtioMSGAmp *d, unsigned fifo, VirtIOMSG *req,
                             VirtIOMSG *resp)
{
    req->token = ++d->token ? d->token : ++d->token;
    qvirtio_msg_amp_send(d, fifo, req);
    g_assert_true(qvirtio_msg_amp_wait_response(d, fifo, req, resp,
                                                QVMSG_TIMEOUT_US));
}

const VirtIOMSG *qvirtio_msg_amp_find_event(QVirtioMSGAmp *d, unsigned from,
                                            uint8_t id, uint32_t index)
{
    for (unsigned i = from; i < d->num_events; i++) {
        const VirtIOMSG *ev = &d->events[i];

        if (ev->type == 0 && ev->id == id && ev->dev_num == d->dev_num &&
            ev->token == 0 &&
            (id != VIRTIO_MSG_EVENT_USED || ev->vq.index == index)) {
            return ev;
        }
    }
    return NULL;
}

uint32_t qvirtio_msg_amp_run(QVirtioMSGAmp *d, QVirtQueue *vq, uint32_t head)
{
    unsigned from = d->num_events;
    uint32_t len;

    /*
     * Forget an EVENT_USED that came without a new used buffer (a vhost
     * backend signals its call eventfd when it gets it): the wait must be
     * for this request's.
     */
    d->used_pending &= ~(1ULL << MIN(vq->index, 63));
    qvirtqueue_kick(d->qts, &d->vdev, vq, head);
    qvirtio_wait_used_elem(d->qts, &d->vdev, vq, head, &len,
                           QVMSG_TIMEOUT_US);
    g_assert_nonnull(qvirtio_msg_amp_find_event(d, from,
                                                VIRTIO_MSG_EVENT_USED,
                                                vq->index));
    return len;
}

void qvirtio_msg_amp_rng_read(QVirtioMSGAmp *d, QGuestAllocator *alloc,
                              QVirtQueue *vq)
{
    uint8_t buf[64], zero[64] = { 0 };
    uint64_t addr = guest_alloc(alloc, sizeof(buf));
    uint32_t head;

    qtest_memwrite(d->qts, addr, zero, sizeof(zero));
    head = qvirtqueue_add(d->qts, vq, addr, sizeof(buf), true, false);
    g_assert_cmpuint(qvirtio_msg_amp_run(d, vq, head), ==, sizeof(buf));
    qtest_memread(d->qts, addr, buf, sizeof(buf));
    g_assert_cmpint(memcmp(buf, zero, sizeof(buf)), !=, 0);
    guest_free(alloc, addr);
}

uint8_t qvirtio_msg_amp_blk_rw(QVirtioMSGAmp *d, QGuestAllocator *alloc,
                               QVirtQueue *vq, uint32_t type, uint64_t sector,
                               uint8_t data[512])
{
    uint8_t hdr[16];
    uint64_t addr = guest_alloc(alloc, sizeof(hdr) + 512 + 1);
    uint64_t status_addr = addr + sizeof(hdr) + 512;
    bool in = type == VIRTIO_BLK_T_IN;
    uint32_t head;
    uint8_t status;

    stl_le_p(hdr, type);
    stl_le_p(hdr + 4, 0);
    stq_le_p(hdr + 8, sector);
    qtest_memwrite(d->qts, addr, hdr, sizeof(hdr));
    qtest_memwrite(d->qts, addr + sizeof(hdr), data, 512);
    qtest_writeb(d->qts, status_addr, 0xff);

    head = qvirtqueue_add(d->qts, vq, addr, sizeof(hdr), false, true);
    qvirtqueue_add(d->qts, vq, addr + sizeof(hdr), 512, in, true);
    qvirtqueue_add(d->qts, vq, status_addr, 1, true, false);
    g_assert_cmpuint(qvirtio_msg_amp_run(d, vq, head), ==,
                     in ? 512 + 1 : 1);

    status = qtest_readb(d->qts, status_addr);
    if (in) {
        qtest_memread(d->qts, addr + sizeof(hdr), data, 512);
    }
    guest_free(alloc, addr);
    return status;
}

bool qvirtio_msg_amp_try_request(QVirtioMSGAmp *d, unsigned fifo,
                                 VirtIOMSG *req, VirtIOMSG *resp,
                                 gint64 timeout_us)
{
    req->token = ++d->token ? d->token : ++d->token;
    qvirtio_msg_amp_send(d, fifo, req);
    return qvirtio_msg_amp_wait_response(d, fifo, req, resp, timeout_us);
}

void qvirtio_msg_amp_ping(QVirtioMSGAmp *d, unsigned fifo, uint32_t data)
{
    VirtIOMSG req, resp;

    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, 0);
    req.ping.data = data;
    qvirtio_msg_amp_request(d, fifo, &req, &resp);
    g_assert_cmphex(resp.ping.data, ==, data);
}

void qvirtio_msg_amp_wait_link(QVirtioMSGAmp *d, unsigned fifo,
                               gint64 timeout_us)
{
    gint64 deadline = g_get_monotonic_time() + timeout_us;
    VirtIOMSG req, resp;

    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, 0);
    while (!qvirtio_msg_amp_try_request(d, fifo, &req, &resp, 100 * 1000)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    }
}

uint32_t qvirtio_msg_amp_get_devices(QVirtioMSGAmp *d, unsigned fifo)
{
    VirtIOMSG req, resp;

    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_GET_DEVICES,
                    0, 0);
    req.devices.offset = 0;
    req.devices.count = 32;
    qvirtio_msg_amp_request(d, fifo, &req, &resp);
    g_assert_cmpuint(resp.devices.offset, ==, 0);
    g_assert_cmpuint(resp.devices.count, ==, 32);
    return ldl_le_p(resp.devices.bitmap);
}

/* The "status" of query-migrate (@migration) or query-status on @qts */
static bool qmp_status_is(QTestState *qts, bool migration, const char *want)
{
    QDict *rsp = migration ? qtest_qmp(qts, "{ 'execute': 'query-migrate' }")
                           : qtest_qmp(qts, "{ 'execute': 'query-status' }");
    const char *status = qdict_get_try_str(qdict_get_qdict(rsp, "return"),
                                           "status");
    bool is;

    g_assert_cmpstr(status, !=, "failed");
    is = !g_strcmp0(status, want);
    qobject_unref(rsp);
    return is;
}

static void wait_status(QTestState *qts, bool migration, const char *want,
                        gint64 deadline)
{
    while (!qmp_status_is(qts, migration, want)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(5 * 1000);
    }
}

QTestState *qvirtio_msg_amp_migrate(QTestState *src, const char *dst_args,
                                    const char *uri)
{
    QTestState *dst = qtest_initf("%s -incoming defer", dst_args);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    qtest_qmp_assert_success(dst, "{ 'execute': 'migrate-incoming', "
                             "'arguments': { 'uri': %s } }", uri);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate', "
                             "'arguments': { 'uri': %s } }", uri);
    wait_status(src, true, "completed", deadline);
    wait_status(dst, false, "running", deadline);
    return dst;
}

/* A transport request to the device behind the QVirtioDevice */
static void transport_request(QVirtioMSGAmp *d, VirtIOMSG *req, uint8_t id,
                              VirtIOMSG *resp)
{
    virtio_msg_init(req, 0, id, d->dev_num, 0);
    qvirtio_msg_amp_request(d, d->fifo, req, resp);
}

static QVirtioMSGAmp *to_amp(QVirtioDevice *vdev)
{
    return container_of(vdev, QVirtioMSGAmp, vdev);
}

static void config_read(QVirtioDevice *vdev, uint64_t off, void *buf,
                        uint32_t len)
{
    QVirtioMSGAmp *d = to_amp(vdev);
    VirtIOMSG req, resp;

    req.config.offset = off;
    req.config.length = len;
    transport_request(d, &req, VIRTIO_MSG_GET_CONFIG, &resp);
    g_assert_cmpuint(resp.config.offset, ==, off);
    g_assert_cmpuint(resp.config.length, ==, len);
    memcpy(buf, resp.config.data, len);
}

static uint8_t qvmsg_config_readb(QVirtioDevice *vdev, uint64_t off)
{
    uint8_t v;

    config_read(vdev, off, &v, 1);
    return v;
}

static uint16_t qvmsg_config_readw(QVirtioDevice *vdev, uint64_t off)
{
    uint8_t b[2];

    config_read(vdev, off, b, sizeof(b));
    return lduw_le_p(b);
}

static uint32_t qvmsg_config_readl(QVirtioDevice *vdev, uint64_t off)
{
    uint8_t b[4];

    config_read(vdev, off, b, sizeof(b));
    return ldl_le_p(b);
}

static uint64_t qvmsg_config_readq(QVirtioDevice *vdev, uint64_t off)
{
    uint8_t b[8];

    config_read(vdev, off, b, sizeof(b));
    return ldq_le_p(b);
}

static uint64_t qvmsg_get_features(QVirtioDevice *vdev)
{
    VirtIOMSG req, resp;

    req.features.index = 0;
    req.features.num = 2;
    transport_request(to_amp(vdev), &req, VIRTIO_MSG_GET_FEATURES, &resp);
    g_assert_cmpuint(resp.features.num, ==, 2);
    return resp.features.blocks[0] |
           ((uint64_t)resp.features.blocks[1] << 32);
}

static void qvmsg_set_features(QVirtioDevice *vdev, uint64_t features)
{
    VirtIOMSG req, resp;

    vdev->features = features;
    req.features.index = 0;
    req.features.num = 2;
    req.features.blocks[0] = features;
    req.features.blocks[1] = features >> 32;
    transport_request(to_amp(vdev), &req, VIRTIO_MSG_SET_FEATURES, &resp);
}

static uint64_t qvmsg_get_guest_features(QVirtioDevice *vdev)
{
    return vdev->features;
}

static uint8_t qvmsg_get_status(QVirtioDevice *vdev)
{
    VirtIOMSG req, resp;

    transport_request(to_amp(vdev), &req, VIRTIO_MSG_GET_DEVICE_STATUS,
                      &resp);
    return resp.status.status;
}

static void qvmsg_set_status(QVirtioDevice *vdev, uint8_t status)
{
    VirtIOMSG req, resp;

    req.status.status = status;
    transport_request(to_amp(vdev), &req, VIRTIO_MSG_SET_DEVICE_STATUS,
                      &resp);
}

static bool qvmsg_get_queue_isr_status(QVirtioDevice *vdev, QVirtQueue *vq)
{
    QVirtioMSGAmp *d = to_amp(vdev);
    uint64_t bit = 1ULL << MIN(vq->index, 63);

    qvirtio_msg_amp_poll(d, d->fifo);
    if (d->used_pending & bit) {
        d->used_pending &= ~bit;
        return true;
    }
    return false;
}

static void qvmsg_wait_config_isr_status(QVirtioDevice *vdev,
                                         gint64 timeout_us)
{
    QVirtioMSGAmp *d = to_amp(vdev);
    gint64 start = g_get_monotonic_time();

    for (;;) {
        qvirtio_msg_amp_poll(d, d->fifo);
        if (d->config_pending) {
            d->config_pending = false;
            return;
        }
        g_assert(g_get_monotonic_time() - start <= timeout_us);
        qtest_clock_step(d->qts, 100);
    }
}

static void qvmsg_queue_select(QVirtioDevice *vdev, uint16_t index)
{
    to_amp(vdev)->queue_sel = index;
}

static uint16_t qvmsg_get_queue_size(QVirtioDevice *vdev)
{
    QVirtioMSGAmp *d = to_amp(vdev);
    VirtIOMSG req, resp;

    req.vq.index = d->queue_sel;
    transport_request(d, &req, VIRTIO_MSG_GET_VQUEUE, &resp);
    g_assert_cmpuint(resp.vq.index, ==, d->queue_sel);
    return resp.vq.max_size;
}

static void qvmsg_set_queue_address(QVirtioDevice *vdev, QVirtQueue *vq)
{
    VirtIOMSG req, resp;

    memset(&req, 0, sizeof(req));
    req.vq.index = vq->index;
    req.vq.size = vq->size;
    req.vq.desc = vq->desc;
    req.vq.driver = vq->avail;
    req.vq.device = vq->used;
    transport_request(to_amp(vdev), &req, VIRTIO_MSG_SET_VQUEUE, &resp);
}

static QVirtQueue *qvmsg_virtqueue_setup(QVirtioDevice *vdev,
                                         QGuestAllocator *alloc,
                                         uint16_t index)
{
    QVirtioMSGAmp *d = to_amp(vdev);
    QVirtQueue *vq = g_new0(QVirtQueue, 1);
    uint64_t addr;

    vq->vdev = vdev;
    vq->index = index;
    qvmsg_queue_select(vdev, index);
    vq->size = qvmsg_get_queue_size(vdev);
    g_assert_cmpint(vq->size, !=, 0);
    g_assert_cmpint(vq->size & (vq->size - 1), ==, 0);
    vq->free_head = 0;
    vq->num_free = vq->size;
    vq->align = 4096;
    vq->indirect = vdev->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
    vq->event = vdev->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);

    addr = guest_alloc(alloc, qvring_size(vq->size, vq->align));
    qvring_init(d->qts, alloc, vq, addr);
    qvmsg_set_queue_address(vdev, vq);
    return vq;
}

static void qvmsg_virtqueue_cleanup(QVirtQueue *vq, QGuestAllocator *alloc)
{
    guest_free(alloc, vq->desc);
    g_free(vq);
}

static void qvmsg_virtqueue_kick(QVirtioDevice *vdev, QVirtQueue *vq)
{
    QVirtioMSGAmp *d = to_amp(vdev);
    VirtIOMSG ev;

    virtio_msg_init(&ev, 0, VIRTIO_MSG_EVENT_AVAIL, d->dev_num, 0);
    ev.vq.index = vq->index;
    ev.vq.next_offset = 0;
    if (vdev->features & (1ULL << VIRTIO_F_NOTIFICATION_DATA)) {
        /* split ring: the next available index */
        ev.vq.next_offset = qtest_readw(d->qts, vq->avail + 2);
    }
    qvirtio_msg_amp_send(d, d->fifo, &ev);
}

const QVirtioBus qvirtio_msg_amp_bus = {
    .config_readb = qvmsg_config_readb,
    .config_readw = qvmsg_config_readw,
    .config_readl = qvmsg_config_readl,
    .config_readq = qvmsg_config_readq,
    .get_features = qvmsg_get_features,
    .set_features = qvmsg_set_features,
    .get_guest_features = qvmsg_get_guest_features,
    .get_status = qvmsg_get_status,
    .set_status = qvmsg_set_status,
    .get_queue_isr_status = qvmsg_get_queue_isr_status,
    .wait_config_isr_status = qvmsg_wait_config_isr_status,
    .queue_select = qvmsg_queue_select,
    .get_queue_size = qvmsg_get_queue_size,
    .set_queue_address = qvmsg_set_queue_address,
    .virtqueue_setup = qvmsg_virtqueue_setup,
    .virtqueue_cleanup = qvmsg_virtqueue_cleanup,
    .virtqueue_kick = qvmsg_virtqueue_kick,
};

void qvirtio_msg_amp_init(QVirtioMSGAmp *d, QPCIBus *bus, int devfn)
{
    d->pdev = qpci_device_find(bus, devfn);
    g_assert_nonnull(d->pdev);
    g_assert_cmphex(qpci_config_readw(d->pdev, PCI_VENDOR_ID), ==,
                    QVMSG_AMP_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(d->pdev, PCI_DEVICE_ID), ==,
                    QVMSG_AMP_DEVICE_ID);
    qpci_device_enable(d->pdev);
    d->bar0 = qpci_iomap(d->pdev, 0, NULL);
    d->bar1 = qpci_iomap(d->pdev, 1, NULL);
    d->qts = bus->qts;
    d->vdev.bus = &qvirtio_msg_amp_bus;
}

void qvirtio_msg_amp_destroy(QVirtioMSGAmp *d)
{
    g_free(d->events);
    d->events = NULL;
    g_free(d->pdev);
    d->pdev = NULL;
}

/* Find the first device on FIFO 0 and drive it through vdev. */
static void qvirtio_msg_amp_attach_first(QVirtioMSGAmp *d)
{
    VirtIOMSG req, resp;
    int n;

    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_GET_DEVICES,
                    0, 0);
    req.devices.offset = 0;
    req.devices.count = 32;
    qvirtio_msg_amp_request(d, 0, &req, &resp);
    for (n = 0; n < 32; n++) {
        if (resp.devices.bitmap[n / 8] & (1 << (n % 8))) {
            break;
        }
    }
    g_assert_cmpint(n, <, 32);
    d->fifo = 0;
    d->dev_num = n;
    transport_request(d, &req, VIRTIO_MSG_DEVICE_INFO, &resp);
    d->vdev.device_type = resp.info.device_id;
}

/* qgraph node: virtio-msg-amp-pci, producing "virtio-msg-bus" */

static void *qvirtio_msg_amp_get_driver(void *obj, const char *interface)
{
    QVirtioMSGAmp *d = obj;

    if (!g_strcmp0(interface, "virtio-msg-bus")) {
        return &d->vdev;
    }
    if (!g_strcmp0(interface, "pci-device")) {
        return d->pdev;
    }
    fprintf(stderr, "%s not present in virtio-msg-amp-pci\n", interface);
    g_assert_not_reached();
}

static void qvirtio_msg_amp_start_hw(QOSGraphObject *obj)
{
    QVirtioMSGAmp *d = (QVirtioMSGAmp *)obj;

    qvirtio_start_device(&d->vdev);
}

static void qvirtio_msg_amp_destructor(QOSGraphObject *obj)
{
    qvirtio_msg_amp_destroy((QVirtioMSGAmp *)obj);
}

static void *qvirtio_msg_amp_create(void *pci_bus, QGuestAllocator *alloc,
                                    void *addr)
{
    QVirtioMSGAmp *d = g_new0(QVirtioMSGAmp, 1);

    qvirtio_msg_amp_init(d, pci_bus, ((QPCIAddress *)addr)->devfn);
    qvirtio_msg_amp_attach_first(d);
    d->obj.get_driver = qvirtio_msg_amp_get_driver;
    d->obj.start_hw = qvirtio_msg_amp_start_hw;
    d->obj.destructor = qvirtio_msg_amp_destructor;
    return d;
}

/*
 * The virtio device models over virtio-msg.  Each node reuses the
 * constructor of upstream's "<model>" node (the QVirtioDevice it gets is
 * ours) but consumes "virtio-msg-bus", so the device is plugged into the
 * AMP device's FIFO bus instead of the first free virtio bus.
 */
typedef struct QVirtioMSGModel {
    const char *model;              /* upstream node and -device name */
    const char *device_opts;
    const char *before_cmd_line;
    const char *after_cmd_line;
    const char *interfaces[3];
} QVirtioMSGModel;

#define QVMSG_BUS "bus=vmsg0.fifo0"

static const QVirtioMSGModel qvirtio_msg_models[] = {
    { "virtio-blk-device", "drive=drive0," QVMSG_BUS, NULL, NULL,
      { "virtio-blk" } },
    { "virtio-net-device", "netdev=hs0," QVMSG_BUS, NULL, NULL,
      { "virtio-net" } },
    { "virtio-rng-device", QVMSG_BUS, NULL, NULL,
      { "virtio", "virtio-rng" } },
    { "virtio-scsi-device", "id=vs0," QVMSG_BUS,
      "-drive id=drv0,if=none,file=null-co://,"
      "file.read-zeroes=on,format=raw",
      "-device scsi-hd,bus=vs0.0,drive=drv0",
      { "virtio-scsi" } },
    { "virtio-serial-device", "id=vser0," QVMSG_BUS, NULL, NULL,
      { "virtio", "virtio-serial" } },
    { "virtio-balloon-device", QVMSG_BUS, NULL, NULL,
      { "virtio", "virtio-balloon" } },
    { "virtio-9p-device", "fsdev=fsdev0,mount_tag=qtest," QVMSG_BUS,
      "-fsdev synth,id=fsdev0", NULL,
      { "virtio", "virtio-9p" } },
};

static void *qvirtio_msg_model_create(const char *model, void *vdev,
                                      QGuestAllocator *alloc, void *addr)
{
    QOSGraphNode *upstream = qos_graph_get_node(model);

    g_assert_nonnull(upstream);
    return upstream->u.driver.constructor(vdev, alloc, addr);
}

#define QVMSG_MODEL_CREATE(i) \
    static void *qvirtio_msg_model_create_##i(void *vdev, \
                                              QGuestAllocator *alloc, \
                                              void *addr) \
    { \
        return qvirtio_msg_model_create(qvirtio_msg_models[i].model, \
                                        vdev, alloc, addr); \
    }

QVMSG_MODEL_CREATE(0)
QVMSG_MODEL_CREATE(1)
QVMSG_MODEL_CREATE(2)
QVMSG_MODEL_CREATE(3)
QVMSG_MODEL_CREATE(4)
QVMSG_MODEL_CREATE(5)
QVMSG_MODEL_CREATE(6)

static QOSCreateDriverFunc const qvirtio_msg_model_creators[] = {
    qvirtio_msg_model_create_0, qvirtio_msg_model_create_1,
    qvirtio_msg_model_create_2, qvirtio_msg_model_create_3,
    qvirtio_msg_model_create_4, qvirtio_msg_model_create_5,
    qvirtio_msg_model_create_6,
};

QEMU_BUILD_BUG_ON(ARRAY_SIZE(qvirtio_msg_models) !=
                  ARRAY_SIZE(qvirtio_msg_model_creators));

static void virtio_msg_amp_pci_register_nodes(void)
{
    QPCIAddress addr = { .devfn = QPCI_DEVFN(4, 0) };
    QOSGraphEdgeOptions opts = { .extra_device_opts = "addr=04.0,id=vmsg0" };

    add_qpci_address(&opts, &addr);
    qos_node_create_driver("virtio-msg-amp-pci", qvirtio_msg_amp_create);
    qos_node_consumes("virtio-msg-amp-pci", "pci-bus", &opts);
    qos_node_produces("virtio-msg-amp-pci", "virtio-msg-bus");

    for (size_t i = 0; i < ARRAY_SIZE(qvirtio_msg_models); i++) {
        const QVirtioMSGModel *m = &qvirtio_msg_models[i];
        g_autofree char *node = g_strdup_printf("%s@vmsg", m->model);
        QOSGraphEdgeOptions dev_opts = {
            .extra_device_opts = m->device_opts,
            .before_cmd_line = m->before_cmd_line,
            .after_cmd_line = m->after_cmd_line,
        };

        qos_node_create_driver_named(node, m->model,
                                     qvirtio_msg_model_creators[i]);
        qos_node_consumes(node, "virtio-msg-bus", &dev_opts);
        for (int j = 0; j < ARRAY_SIZE(m->interfaces) && m->interfaces[j];
             j++) {
            qos_node_produces(node, m->interfaces[j]);
        }
    }
}

libqos_init(virtio_msg_amp_pci_register_nodes);
