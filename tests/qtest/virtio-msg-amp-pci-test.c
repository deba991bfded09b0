/*
 * QTest for the virtio-msg-amp-pci device
 *
 * The test plays the driver side of the AMP link and checks the device's
 * registers, its FIFO queues and the virtio-msg messages it answers.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qdict.h"
#include "libqos/libqos-malloc.h"
#include "libqos/virtio-msg-amp-pci.h"
#include "standard-headers/linux/virtio_blk.h"
#include "standard-headers/linux/virtio_config.h"

#define AMP_DEVFN       QPCI_DEVFN(4, 0)
#define AMP_DEVICE      "-device virtio-msg-amp-pci,addr=04.0,id=amp0"
#define AMP_TWO_FIFOS   AMP_DEVICE ",num-fifos=2"
#define RNG_ON(bus)     " -device virtio-rng-device,bus=" bus
#define WAIT_US         (5 * G_USEC_PER_SEC)
#define STEP_NS         (10 * 1000 * 1000)
/* after the machine (qvirtio_msg_amp_machine()) */
#define VM_OPTS         "-m 128M -nic none "
#define RAM_SIZE        (128 * MiB)
#define ACK_DRIVER      (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)
#define VERSION_1       (1ULL << VIRTIO_F_VERSION_1)

typedef struct AmpTest {
    QTestState *qts;
    QVirtioMSGAmpPCIBus pbus;
    QPCIBus *bus;
    QVirtioMSGAmp d;
    QGuestAllocator alloc;      /* guest RAM for rings and buffers */
} AmpTest;

/* (Re-)attach to the AMP device of @qts, keeping the driver's state. */
static void amp_attach(AmpTest *t, QTestState *qts)
{
    t->qts = qts;
    t->bus = qvirtio_msg_amp_pci_bus(&t->pbus, qts);
    g_free(t->d.pdev);
    qvirtio_msg_amp_init(&t->d, t->bus, AMP_DEVFN);
}

static void amp_start(AmpTest *t, const char *devices)
{
    uint64_t ram = qvirtio_msg_amp_machine()->ram_base;

    memset(t, 0, sizeof(*t));
    alloc_init(&t->alloc, 0, ram + MiB, ram + RAM_SIZE, 4096);
    amp_attach(t, qtest_initf("%s" VM_OPTS "%s",
                              qvirtio_msg_amp_machine()->args, devices));
}

static void amp_stop(AmpTest *t)
{
    qvirtio_msg_amp_destroy(&t->d);
    alloc_destroy(&t->alloc);
    qtest_quit(t->qts);
}

static uint32_t bar0_read(AmpTest *t, uint64_t off)
{
    return qpci_io_readl(t->d.pdev, t->d.bar0, off);
}

static void bar0_write(AmpTest *t, uint64_t off, uint32_t val)
{
    qpci_io_writel(t->d.pdev, t->d.bar0, off, val);
}

static uint64_t queue_off(unsigned fifo, uint64_t queue, uint64_t field)
{
    return fifo * QVMSG_AMP_WINDOW + queue + field;
}

static uint32_t queue_read(AmpTest *t, unsigned fifo, uint64_t queue,
                           uint64_t field)
{
    return qpci_io_readl(t->d.pdev, t->d.bar1,
                         queue_off(fifo, queue, field));
}

static void queue_write(AmpTest *t, unsigned fifo, uint64_t queue,
                        uint64_t field, uint32_t val)
{
    qpci_io_writel(t->d.pdev, t->d.bar1, queue_off(fifo, queue, field), val);
}

/* Wait for one raw slot on the device-to-driver queue. */
static void get_slot(AmpTest *t, unsigned fifo,
                     uint8_t buf[QVMSG_AMP_SLOT_SIZE])
{
    gint64 deadline = g_get_monotonic_time() + WAIT_US;

    while (!qvirtio_msg_amp_get(&t->d, fifo, buf)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        qtest_clock_step(t->qts, STEP_NS);
    }
}

/* Let the device run and check it has sent nothing. */
static void assert_silent(AmpTest *t, unsigned fifo)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];

    qtest_clock_step(t->qts, STEP_NS);
    g_assert_false(qvirtio_msg_amp_get(&t->d, fifo, buf));
}

/* Send @req with the given token and wait for its response. */
static void transact(AmpTest *t, unsigned fifo, VirtIOMSG *req,
                     uint16_t token, VirtIOMSG *resp)
{
    req->token = token;
    qvirtio_msg_amp_send(&t->d, fifo, req);
    g_assert_true(qvirtio_msg_amp_wait_response(&t->d, fifo, req, resp,
                                                WAIT_US));
    g_assert_cmpuint(resp->type, ==, req->type | VIRTIO_MSG_TYPE_RESPONSE);
    g_assert_cmpuint(resp->token, ==, token);
}

static void ping(AmpTest *t, unsigned fifo, uint32_t data)
{
    VirtIOMSG req, resp;

    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, 0);
    req.ping.data = data;
    qvirtio_msg_amp_request(&t->d, fifo, &req, &resp);
    g_assert_cmphex(resp.ping.data, ==, data);
}

/* Put a PING on @fifo's queue without ringing the doorbell. */
static bool put_ping(AmpTest *t, unsigned fifo, uint16_t token, uint32_t data)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];
    VirtIOMSG req;

    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, token);
    req.ping.data = data;
    return qvirtio_msg_amp_put(&t->d, fifo, buf,
                               virtio_msg_encode(&req, buf, sizeof(buf)));
}

/* Wait for the next message on @fifo: the reply to put_ping(). */
static void get_ping_reply(AmpTest *t, unsigned fifo, uint16_t token,
                           uint32_t data)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];
    VirtIOMSG resp;

    get_slot(t, fifo, buf);
    g_assert_cmpint(virtio_msg_decode(buf, sizeof(buf), sizeof(buf), &resp),
                    ==, VIRTIO_MSG_OK);
    g_assert_cmphex(resp.type, ==, 0x03);
    g_assert_cmphex(resp.id, ==, VIRTIO_MSG_BUS_PING);
    g_assert_cmpuint(resp.token, ==, token);
    g_assert_cmpuint(resp.ping.data, ==, data);
}

static void get_devices(AmpTest *t, unsigned fifo, VirtIOMSG *resp)
{
    VirtIOMSG req;

    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_GET_DEVICES,
                    0, 0);
    req.devices.offset = 0;
    req.devices.count = 32;
    qvirtio_msg_amp_request(&t->d, fifo, &req, resp);
    g_assert_cmpuint(resp->devices.offset, ==, 0);
    g_assert_cmpuint(resp->devices.count, ==, 32);
}

static uint32_t devices_bitmap(const VirtIOMSG *resp)
{
    return ldl_le_p(resp->devices.bitmap);
}

/* A transport request to @dev with token 1, as drivers in the field send */
static void dev_request(AmpTest *t, VirtIOMSG *req, uint8_t id, uint16_t dev,
                        VirtIOMSG *resp)
{
    virtio_msg_init(req, 0, id, dev, 0);
    transact(t, 0, req, 1, resp);
}

static void get_vqueue(AmpTest *t, uint32_t index, VirtIOMSG *resp)
{
    VirtIOMSG req;

    req.vq.index = index;
    dev_request(t, &req, VIRTIO_MSG_GET_VQUEUE, 0, resp);
    g_assert_cmpuint(resp->vq.index, ==, index);
}

static void set_vqueue(AmpTest *t, uint32_t size, uint64_t base, bool legacy)
{
    VirtIOMSG req, resp;

    memset(&req, 0, sizeof(req));
    req.vq.size = size;
    req.vq.desc = base;
    req.vq.driver = base + 0x1000;
    req.vq.device = base + 0x2000;
    req.vq.legacy = legacy;
    dev_request(t, &req, VIRTIO_MSG_SET_VQUEUE, 0, &resp);
    if (legacy) {
        g_assert_cmpuint(req.size, ==, VIRTIO_MSG_SET_VQUEUE_LEGACY_SIZE);
    }

    get_vqueue(t, 0, &resp);
    g_assert_cmpuint(resp.vq.size, ==, size);
    g_assert_cmphex(resp.vq.desc, ==, base);
    g_assert_cmphex(resp.vq.driver, ==, base + 0x1000);
    g_assert_cmphex(resp.vq.device, ==, base + 0x2000);
}

static void test_identity(void)
{
    AmpTest t;

    amp_start(&t, AMP_DEVICE);
    g_assert_cmphex(qpci_config_readw(t.d.pdev, PCI_VENDOR_ID), ==, 0x10ee);
    g_assert_cmphex(qpci_config_readw(t.d.pdev, PCI_DEVICE_ID), ==, 0x9039);
    g_assert_cmphex(qpci_config_readb(t.d.pdev, PCI_REVISION_ID), ==, 1);
    g_assert_cmphex(qpci_config_readw(t.d.pdev, PCI_CLASS_DEVICE), ==,
                    0x0880);

    g_assert_cmphex(bar0_read(&t, QVMSG_AMP_REG_VERSION), ==, 1);
    g_assert_cmphex(bar0_read(&t, QVMSG_AMP_REG_FEATURES), ==, 0);
    g_assert_cmphex(bar0_read(&t, 0x08), ==, 0);

    bar0_write(&t, QVMSG_AMP_REG_VERSION, 0xffffffff);
    bar0_write(&t, QVMSG_AMP_REG_FEATURES, 0xffffffff);
    bar0_write(&t, 0x08, 0xffffffff);
    g_assert_cmphex(bar0_read(&t, QVMSG_AMP_REG_VERSION), ==, 1);
    g_assert_cmphex(bar0_read(&t, QVMSG_AMP_REG_FEATURES), ==, 0);
    g_assert_cmphex(bar0_read(&t, 0x08), ==, 0);

    /* doorbell of FIFO 5, which does not exist */
    bar0_write(&t, QVMSG_AMP_REG_NOTIFY + 4 * 5, 1);
    ping(&t, 0, 0x5a5a5a5a);
    amp_stop(&t);
}

static void test_bus_messages(void)
{
    AmpTest t;
    VirtIOMSG req, resp;
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];
    uint8_t slot[QVMSG_AMP_SLOT_SIZE];
    size_t len;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0")
              RNG_ON("amp0.fifo0.dev5"));

    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_GET_DEVICES,
                    0, 0xbeef);
    req.devices.offset = 0;
    req.devices.count = 32;
    len = virtio_msg_encode(&req, buf, sizeof(buf));
    g_assert_cmpuint(len, ==, 12);
    g_assert_true(qvirtio_msg_amp_put(&t.d, 0, buf, len));
    qvirtio_msg_amp_doorbell(&t.d, 0);
    get_slot(&t, 0, slot);
    g_assert_cmphex(slot[0], ==, 0x03);
    g_assert_cmphex(slot[1], ==, 0x02);
    g_assert_cmphex(lduw_le_p(slot + 2), ==, 0);
    g_assert_cmphex(lduw_le_p(slot + 4), ==, 0xbeef);
    g_assert_cmpuint(lduw_le_p(slot + 6), ==, 8 + 6 + 4);
    g_assert_cmpuint(lduw_le_p(slot + 8), ==, 0);
    g_assert_cmpuint(lduw_le_p(slot + 10), ==, 32);
    g_assert_cmpuint(lduw_le_p(slot + 12), ==, 0);
    g_assert_cmphex(ldl_le_p(slot + 14), ==, 0x21);
    assert_silent(&t, 0);

    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, 0);
    req.ping.data = 0xdeadbeef;
    transact(&t, 0, &req, 0x4321, &resp);
    g_assert_cmphex(resp.ping.data, ==, 0xdeadbeef);
    g_assert_cmpuint(resp.size, ==, 12);
    amp_stop(&t);
}

static void test_transport_messages(void)
{
    AmpTest t;
    VirtIOMSG req, resp;
    uint32_t max_size;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));

    dev_request(&t, &req, VIRTIO_MSG_DEVICE_INFO, 0, &resp);
    g_assert_cmpuint(resp.info.device_id, ==, 4);
    g_assert_cmphex(resp.info.vendor_id, ==, 0x554d4551);
    g_assert_cmpuint(resp.info.num_feature_bits, ==, 64);
    g_assert_cmpuint(resp.info.config_size, ==, 0);
    g_assert_cmpuint(resp.info.max_virtqueues, ==, 1);

    req.features.index = 0;
    req.features.num = 2;
    dev_request(&t, &req, VIRTIO_MSG_GET_FEATURES, 0, &resp);
    g_assert_cmpuint(resp.features.index, ==, 0);
    g_assert_cmpuint(resp.features.num, ==, 2);
    g_assert_cmphex(resp.features.blocks[1] & 1, ==, 1);

    dev_request(&t, &req, VIRTIO_MSG_GET_DEVICE_STATUS, 0, &resp);
    g_assert_cmpuint(resp.status.status, ==, 0);
    req.status.status = 3;
    dev_request(&t, &req, VIRTIO_MSG_SET_DEVICE_STATUS, 0, &resp);
    g_assert_cmpuint(resp.status.status, ==, 3);

    get_vqueue(&t, 0, &resp);
    max_size = resp.vq.max_size;
    g_assert_cmpuint(max_size, !=, 0);
    g_assert_cmpuint(resp.vq.size, ==, 0);
    g_assert_cmphex(resp.vq.desc, ==, 0);
    g_assert_cmphex(resp.vq.driver, ==, 0);
    g_assert_cmphex(resp.vq.device, ==, 0);
    get_vqueue(&t, 5, &resp);
    g_assert_cmpuint(resp.vq.max_size, ==, 0);

    set_vqueue(&t, MIN(8, max_size), 0x40100000, false);
    set_vqueue(&t, MIN(4, max_size), 0x40200000, true);

    req.shm.index = 0;
    dev_request(&t, &req, VIRTIO_MSG_GET_SHM, 0, &resp);
    g_assert_cmpuint(resp.shm.index, ==, 0);
    g_assert_cmpuint(resp.shm.length, ==, 0);

    /* tokens are echoed whatever their value */
    virtio_msg_init(&req, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 0);
    transact(&t, 0, &req, 0x1234, &resp);
    virtio_msg_init(&req, 0, VIRTIO_MSG_DEVICE_INFO, 0, 0);
    transact(&t, 0, &req, 0x1234, &resp);
    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, 0);
    transact(&t, 0, &req, 0x1234, &resp);
    virtio_msg_init(&req, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 0);
    transact(&t, 0, &req, 0, &resp);
    amp_stop(&t);
}

/* A raw message: header plus up to two payload words */
typedef struct RawMsg {
    const char *what;
    uint8_t type;
    uint8_t id;
    uint16_t dev_num;
    uint16_t size;
    uint32_t p0;
    uint32_t p1;
} RawMsg;

static const RawMsg malformed[] = {
    { "unknown id", 0, 0x3f, 0, 8 },
    { "msg_size below header", VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING,
      0, 4, 1 },
    { "msg_size above bus maximum", VIRTIO_MSG_TYPE_BUS,
      VIRTIO_MSG_BUS_PING, 0, 200, 2 },
    { "response sent to device", VIRTIO_MSG_TYPE_RESPONSE,
      VIRTIO_MSG_GET_DEVICE_STATUS, 0, 12 },
    { "absent dev_num", 0, VIRTIO_MSG_GET_DEVICE_STATUS, 7, 8 },
    { "queue index out of range", 0, VIRTIO_MSG_GET_VQUEUE, 0, 12, 70000 },
    { "config outside config space", 0, VIRTIO_MSG_GET_CONFIG, 0, 16,
      0, 44 },
    { "EVENT_USED sent to device", 0, VIRTIO_MSG_EVENT_USED, 0, 12 },
};

static void send_raw(AmpTest *t, const RawMsg *m, uint16_t token)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE] = { 0 };

    buf[0] = m->type;
    buf[1] = m->id;
    stw_le_p(buf + 2, m->dev_num);
    stw_le_p(buf + 4, token);
    stw_le_p(buf + 6, m->size);
    stl_le_p(buf + 8, m->p0);
    stl_le_p(buf + 12, m->p1);
    g_assert_true(qvirtio_msg_amp_put(&t->d, 0, buf, sizeof(buf)));
    qvirtio_msg_amp_doorbell(&t->d, 0);
}

static void test_malformed(void)
{
    AmpTest t;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    for (size_t i = 0; i < ARRAY_SIZE(malformed); i++) {
        g_test_message("%s", malformed[i].what);
        send_raw(&t, &malformed[i], 1);
        assert_silent(&t, 0);
        ping(&t, 0, i);
        g_assert_cmpuint(t.d.num_events, ==, 0);
    }
    amp_stop(&t);
}

static void assert_alive(AmpTest *t)
{
    QDict *rsp = qtest_qmp(t->qts, "{ 'execute': 'query-status' }");

    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
}

static void reset_queues(AmpTest *t, unsigned fifo)
{
    queue_write(t, fifo, QVMSG_AMP_TO_DEVICE, QVMSG_AMP_Q_HEAD, 0);
    queue_write(t, fifo, QVMSG_AMP_TO_DEVICE, QVMSG_AMP_Q_TAIL, 0);
    queue_write(t, fifo, QVMSG_AMP_TO_DRIVER, QVMSG_AMP_Q_HEAD, 0);
    queue_write(t, fifo, QVMSG_AMP_TO_DRIVER, QVMSG_AMP_Q_TAIL, 0);
}

static void test_hostile_indices(void)
{
    static const uint32_t heads[] = { 0xffffffff, 62, 1000 };
    AmpTest t;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    for (size_t i = 0; i < ARRAY_SIZE(heads); i++) {
        queue_write(&t, 0, QVMSG_AMP_TO_DEVICE, QVMSG_AMP_Q_HEAD, heads[i]);
        qvirtio_msg_amp_doorbell(&t.d, 0);
        qtest_clock_step(t.qts, STEP_NS);
        assert_alive(&t);

        /* also a hostile tail on the device-to-driver queue */
        queue_write(&t, 0, QVMSG_AMP_TO_DRIVER, QVMSG_AMP_Q_TAIL, heads[i]);
        qvirtio_msg_amp_doorbell(&t.d, 0);
        qtest_clock_step(t.qts, STEP_NS);
        assert_alive(&t);

        /* the driver re-initialises its queues */
        reset_queues(&t, 0);
        ping(&t, 0, i);
    }
    amp_stop(&t);
}

static void test_backpressure(void)
{
    enum { N = 100 };
    AmpTest t;
    gint64 deadline;
    uint32_t i, stalls = 0;

    amp_start(&t, AMP_DEVICE);
    deadline = g_get_monotonic_time() + WAIT_US;
    for (i = 0; i < N; i++) {
        while (!put_ping(&t, 0, i + 1, i)) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            qvirtio_msg_amp_doorbell(&t.d, 0);
            qtest_clock_step(t.qts, STEP_NS);
            stalls++;
        }
    }
    qvirtio_msg_amp_doorbell(&t.d, 0);
    /* the driver-to-device queue filled up at least once */
    g_assert_cmpuint(stalls, >, 0);

    for (i = 0; i < N; i++) {
        get_ping_reply(&t, 0, i + 1, i);
    }
    assert_silent(&t, 0);
    amp_stop(&t);
}

static void test_system_reset(void)
{
    AmpTest t;
    VirtIOMSG req;
    QDict *rsp;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    ping(&t, 0, 1);
    ping(&t, 0, 2);
    /* leave a reply unconsumed */
    virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, 9);
    req.ping.data = 3;
    qvirtio_msg_amp_send(&t.d, 0, &req);
    qtest_clock_step(t.qts, STEP_NS);
    g_assert_cmpuint(queue_read(&t, 0, QVMSG_AMP_TO_DRIVER, QVMSG_AMP_Q_HEAD),
                     !=, 0);

    rsp = qtest_qmp(t.qts, "{ 'execute': 'system_reset' }");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    qtest_qmp_eventwait(t.qts, "RESET");

    /* BARs and the command register were reset too */
    qvirtio_msg_amp_destroy(&t.d);
    qvirtio_msg_amp_init(&t.d, t.bus, AMP_DEVFN);
    g_assert_cmpuint(queue_read(&t, 0, QVMSG_AMP_TO_DEVICE, QVMSG_AMP_Q_HEAD),
                     ==, 0);
    g_assert_cmpuint(queue_read(&t, 0, QVMSG_AMP_TO_DEVICE, QVMSG_AMP_Q_TAIL),
                     ==, 0);
    g_assert_cmpuint(queue_read(&t, 0, QVMSG_AMP_TO_DRIVER, QVMSG_AMP_Q_HEAD),
                     ==, 0);
    g_assert_cmpuint(queue_read(&t, 0, QVMSG_AMP_TO_DRIVER, QVMSG_AMP_Q_TAIL),
                     ==, 0);
    ping(&t, 0, 4);
    amp_stop(&t);
}

static void test_two_fifos(void)
{
    AmpTest t;
    VirtIOMSG resp;
    uint8_t msix;

    amp_start(&t, AMP_TWO_FIFOS RNG_ON("amp0.fifo1"));
    get_devices(&t, 1, &resp);
    g_assert_cmphex(devices_bitmap(&resp), ==, 0x1);
    get_devices(&t, 0, &resp);
    g_assert_cmphex(devices_bitmap(&resp), ==, 0);
    ping(&t, 1, 0x1111);
    assert_silent(&t, 0);

    msix = qpci_find_capability(t.d.pdev, PCI_CAP_ID_MSIX, 0);
    g_assert_cmpuint(msix, !=, 0);
    g_assert_cmpuint(qpci_config_readw(t.d.pdev, msix + PCI_MSIX_FLAGS) &
                     PCI_MSIX_FLAGS_QSIZE, ==, 1);
    amp_stop(&t);
}

/* The MSI-X message of vector n lands at addr[n] in guest RAM */
typedef struct AmpMsix {
    uint64_t addr[2];
} AmpMsix;

static const uint32_t msix_data[2] = { 0x1111, 0x2222 };

static void msix_entry_write(AmpTest *t, uint16_t entry, uint64_t field,
                             uint32_t val)
{
    qpci_io_writel(t->d.pdev, t->d.pdev->msix_table_bar,
                   t->d.pdev->msix_table_off + entry * PCI_MSIX_ENTRY_SIZE +
                   field, val);
}

static void msix_set_masked(AmpTest *t, uint16_t entry, bool masked)
{
    msix_entry_write(t, entry, PCI_MSIX_ENTRY_VECTOR_CTRL,
                     masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
    g_assert(qpci_msix_masked(t->d.pdev, entry) == masked);
}

/* Enable MSI-X; vector n writes msix_data[n] to a zeroed word of RAM. */
static void msix_setup(AmpTest *t, AmpMsix *m)
{
    qpci_msix_enable(t->d.pdev);
    g_assert_cmpuint(qpci_msix_table_size(t->d.pdev), ==, 2);
    for (uint16_t i = 0; i < 2; i++) {
        m->addr[i] = guest_alloc(&t->alloc, 4);
        qtest_writel(t->qts, m->addr[i], 0);
        msix_entry_write(t, i, PCI_MSIX_ENTRY_LOWER_ADDR, m->addr[i]);
        msix_entry_write(t, i, PCI_MSIX_ENTRY_UPPER_ADDR, m->addr[i] >> 32);
        msix_entry_write(t, i, PCI_MSIX_ENTRY_DATA, msix_data[i]);
        msix_set_masked(t, i, false);
        g_assert_false(qpci_msix_pending(t->d.pdev, i));
    }
}

/*
 * Let the device's bottom half run, check that exactly the vectors in
 * @fired (bit n: vector n) have sent their message, and zero the words.
 */
static void assert_msix(AmpTest *t, const AmpMsix *m, unsigned fired)
{
    qtest_clock_step(t->qts, STEP_NS);
    for (unsigned i = 0; i < 2; i++) {
        g_assert_cmphex(qtest_readl(t->qts, m->addr[i]), ==,
                        (fired & (1u << i)) ? msix_data[i] : 0);
        qtest_writel(t->qts, m->addr[i], 0);
    }
}

static void test_msix(void)
{
    enum { BATCH = 5 };
    AmpTest t;
    AmpMsix m;

    amp_start(&t, AMP_TWO_FIFOS RNG_ON("amp0.fifo0") RNG_ON("amp0.fifo1"));
    msix_setup(&t, &m);

    /* each FIFO raises its own vector */
    ping(&t, 1, 1);
    assert_msix(&t, &m, 1u << 1);
    ping(&t, 0, 2);
    assert_msix(&t, &m, 1u << 0);

    /* a batch of requests behind one doorbell */
    for (uint16_t i = 0; i < BATCH; i++) {
        g_assert_true(put_ping(&t, 0, i + 1, i));
    }
    qvirtio_msg_amp_doorbell(&t.d, 0);
    for (uint16_t i = 0; i < BATCH; i++) {
        get_ping_reply(&t, 0, i + 1, i);
    }
    assert_msix(&t, &m, 1u << 0);
    /* and nothing more comes afterwards */
    assert_msix(&t, &m, 0);

    /* a masked vector is held pending, and sent when unmasked */
    msix_set_masked(&t, 0, true);
    ping(&t, 0, 3);
    assert_msix(&t, &m, 0);
    g_assert_true(qpci_msix_pending(t.d.pdev, 0));
    g_assert_false(qpci_msix_pending(t.d.pdev, 1));
    msix_set_masked(&t, 0, false);
    assert_msix(&t, &m, 1u << 0);
    g_assert_false(qpci_msix_pending(t.d.pdev, 0));

    qpci_msix_disable(t.d.pdev);
    amp_stop(&t);
}

static void check_bad_num_fifos(const char *num)
{
    g_autofree char *dev = g_strdup_printf("virtio-msg-amp-pci,num-fifos=%s",
                                           num);
    const char *argv[] = {
        g_getenv("QTEST_QEMU_BINARY"), "-M",
        qvirtio_msg_amp_machine()->name, "-display", "none",
        "-nodefaults", "-device", dev, NULL,
    };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    g_assert_nonnull(argv[0]);
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT,
                               NULL, NULL, &out, &err, &status, NULL));
    g_assert_cmpint(status, !=, 0);
    g_assert_nonnull(strstr(err, "num-fifos"));
}

static void test_bad_num_fifos(void)
{
    check_bad_num_fifos("0");
    check_bad_num_fifos("9");
}

static void test_32_devices(void)
{
    GString *devs = g_string_new(AMP_DEVICE);
    AmpTest t;
    VirtIOMSG resp;

    for (int i = 0; i < 32; i++) {
        g_string_append(devs, RNG_ON("amp0.fifo0"));
    }
    amp_start(&t, devs->str);
    get_devices(&t, 0, &resp);
    g_assert_cmphex(devices_bitmap(&resp), ==, 0xffffffff);
    amp_stop(&t);
    g_string_free(devs, true);
}

/* Wait for the bus event announcing @dev_num in @state. */
static void wait_device_event(AmpTest *t, uint16_t dev_num, uint16_t state)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];
    VirtIOMSG ev;

    get_slot(t, 0, buf);
    g_assert_cmpint(virtio_msg_decode(buf, sizeof(buf), sizeof(buf), &ev),
                    ==, VIRTIO_MSG_OK);
    g_assert_cmphex(ev.type, ==, VIRTIO_MSG_TYPE_BUS);
    g_assert_cmphex(ev.id, ==, VIRTIO_MSG_BUS_EVENT_DEVICE);
    g_assert_cmpuint(ev.token, ==, 0);
    g_assert_cmpuint(ev.event_device.dev_num, ==, dev_num);
    g_assert_cmpuint(ev.event_device.state, ==, state);
}

static void test_hotplug(void)
{
    AmpTest t;
    VirtIOMSG resp;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    qtest_qmp_device_add(t.qts, "virtio-rng-device", "hp",
                         "{'bus': 'amp0.fifo0'}");
    wait_device_event(&t, 1, VIRTIO_MSG_DEVICE_READY);
    get_devices(&t, 0, &resp);
    g_assert_cmphex(devices_bitmap(&resp), ==, 0x3);

    qtest_qmp_device_del(t.qts, "hp");
    wait_device_event(&t, 1, VIRTIO_MSG_DEVICE_REMOVED);
    get_devices(&t, 0, &resp);
    g_assert_cmphex(devices_bitmap(&resp), ==, 0x1);
    amp_stop(&t);
}

/* Find an event @id (EVENT_USED: for queue @index) of our device. */
static const VirtIOMSG *find_event(AmpTest *t, unsigned from, uint8_t id,
                                   uint32_t index)
{
    return qvirtio_msg_amp_find_event(&t->d, from, id, index);
}

/* Wait for an event that arrived after event number @from. */
static const VirtIOMSG *wait_event(AmpTest *t, unsigned from, uint8_t id,
                                   uint32_t index)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_US;
    const VirtIOMSG *ev;

    for (;;) {
        qvirtio_msg_amp_poll(&t->d, t->d.fifo);
        ev = find_event(t, from, id, index);
        if (ev) {
            return ev;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        qtest_clock_step(t->qts, STEP_NS);
    }
}

/* Send a message the device must drop without a reply. */
static void send_dropped(AmpTest *t, VirtIOMSG *req, uint8_t id)
{
    virtio_msg_init(req, 0, id, 0, 1);
    qvirtio_msg_amp_send(&t->d, 0, req);
    assert_silent(t, 0);
}

static uint64_t device_features(AmpTest *t)
{
    VirtIOMSG req, resp;

    req.features.index = 0;
    req.features.num = 2;
    dev_request(t, &req, VIRTIO_MSG_GET_FEATURES, 0, &resp);
    g_assert_cmpuint(resp.features.num, ==, 2);
    return resp.features.blocks[0] |
           ((uint64_t)resp.features.blocks[1] << 32);
}

static uint32_t set_status(AmpTest *t, uint32_t status)
{
    VirtIOMSG req, resp;

    req.status.status = status;
    dev_request(t, &req, VIRTIO_MSG_SET_DEVICE_STATUS, 0, &resp);
    return resp.status.status;
}

static uint32_t get_status(AmpTest *t)
{
    VirtIOMSG req, resp;

    dev_request(t, &req, VIRTIO_MSG_GET_DEVICE_STATUS, 0, &resp);
    return resp.status.status;
}

/* Offer feature block 1 only; returns the status FEATURES_OK reaches. */
static uint32_t features_ok(AmpTest *t, uint32_t block1)
{
    VirtIOMSG req, resp;

    req.features.index = 0;
    req.features.num = 2;
    req.features.blocks[0] = 0;
    req.features.blocks[1] = block1;
    dev_request(t, &req, VIRTIO_MSG_SET_FEATURES, 0, &resp);
    return set_status(t, ACK_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
}

static void assert_vqueue_unset(AmpTest *t)
{
    VirtIOMSG resp;

    get_vqueue(t, 0, &resp);
    g_assert_cmpuint(resp.vq.max_size, !=, 0);
    g_assert_cmpuint(resp.vq.size, ==, 0);
    g_assert_cmphex(resp.vq.desc, ==, 0);
    g_assert_cmphex(resp.vq.driver, ==, 0);
    g_assert_cmphex(resp.vq.device, ==, 0);
}

static void assert_vqueue_is(AmpTest *t, const QVirtQueue *vq)
{
    VirtIOMSG resp;

    get_vqueue(t, vq->index, &resp);
    g_assert_cmpuint(resp.vq.size, ==, vq->size);
    g_assert_cmphex(resp.vq.desc, ==, vq->desc);
    g_assert_cmphex(resp.vq.driver, ==, vq->avail);
    g_assert_cmphex(resp.vq.device, ==, vq->used);
}

/* The driver init sequence up to DRIVER_OK, with queue 0 set up. */
static QVirtQueue *driver_init(AmpTest *t, uint64_t features)
{
    VirtIOMSG req, resp;
    QVirtQueue *vq;

    dev_request(t, &req, VIRTIO_MSG_DEVICE_INFO, 0, &resp);
    t->d.vdev.device_type = resp.info.device_id;
    qvirtio_start_device(&t->d.vdev);
    g_assert_cmphex(qvirtio_get_features(&t->d.vdev) & features, ==,
                    features);
    qvirtio_set_features(&t->d.vdev, features);
    vq = qvirtqueue_setup(&t->d.vdev, &t->alloc, 0);
    assert_vqueue_is(t, vq);
    qvirtio_set_driver_ok(&t->d.vdev);
    g_assert_cmphex(get_status(t), ==, VIRTIO_CONFIG_S_ACKNOWLEDGE |
                    VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
                    VIRTIO_CONFIG_S_DRIVER_OK);
    return vq;
}

static void rng_io(AmpTest *t, QVirtQueue *vq)
{
    qvirtio_msg_amp_rng_read(&t->d, &t->alloc, vq);
}

static uint8_t blk_io(AmpTest *t, QVirtQueue *vq, uint32_t type,
                      uint64_t sector, uint8_t data[512])
{
    return qvirtio_msg_amp_blk_rw(&t->d, &t->alloc, vq, type, sector, data);
}

static void get_config(AmpTest *t, uint32_t offset, uint32_t length,
                       VirtIOMSG *resp)
{
    VirtIOMSG req;

    req.config.offset = offset;
    req.config.length = length;
    dev_request(t, &req, VIRTIO_MSG_GET_CONFIG, 0, resp);
    g_assert_cmpuint(resp->config.offset, ==, offset);
    g_assert_cmpuint(resp->config.length, ==, length);
}

static uint64_t get_capacity(AmpTest *t, uint32_t *generation)
{
    VirtIOMSG resp;

    get_config(t, offsetof(struct virtio_blk_config, capacity), 8, &resp);
    *generation = resp.config.generation;
    return ldq_le_p(resp.config.data);
}

/* A raw image of @size bytes in a temporary file */
static char *make_image(size_t size)
{
    char *path;
    int fd = g_file_open_tmp("vmsg-blk-XXXXXX.raw", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

static char *blk_devices(const char *image)
{
    return g_strdup_printf(AMP_DEVICE " -blockdev driver=raw,node-name=d0,"
                           "file.driver=file,file.filename=%s"
                           " -device virtio-blk-device,drive=d0,"
                           "bus=amp0.fifo0.dev0", image);
}

static void test_blk_config(void)
{
    g_autofree char *image = make_image(MiB);
    g_autofree char *devs = blk_devices(image);
    const uint32_t wce = offsetof(struct virtio_blk_config, wce);
    AmpTest t;
    VirtIOMSG req, resp;
    const VirtIOMSG *ev;
    QVirtQueue *vq;
    uint32_t config_size, gen, gen2;
    unsigned from;
    uint8_t old;

    amp_start(&t, devs);
    dev_request(&t, &req, VIRTIO_MSG_DEVICE_INFO, 0, &resp);
    g_assert_cmpuint(resp.info.device_id, ==, 2);
    config_size = resp.info.config_size;
    g_assert_cmpuint(config_size, >, 44);
    g_assert_cmpuint(get_capacity(&t, &gen), ==, MiB / 512);
    g_assert_cmpuint(gen, ==, 0);

    /* past the end of the config space, and longer than a 64-byte reply */
    req.config.offset = config_size - 4;
    req.config.length = 8;
    send_dropped(&t, &req, VIRTIO_MSG_GET_CONFIG);
    req.config.offset = 0;
    req.config.length = 45;
    send_dropped(&t, &req, VIRTIO_MSG_GET_CONFIG);

    /* a stale generation is refused */
    get_config(&t, wce, 1, &resp);
    old = resp.config.data[0];
    req.config.generation = gen + 1;
    req.config.offset = wce;
    req.config.length = 1;
    req.config.data[0] = !old;
    dev_request(&t, &req, VIRTIO_MSG_SET_CONFIG, 0, &resp);
    g_assert_cmpuint(resp.config.length, ==, 0);
    g_assert_cmpuint(resp.config.generation, ==, gen);
    get_config(&t, wce, 1, &resp);
    g_assert_cmpuint(resp.config.data[0], ==, old);
    g_assert_cmpuint(resp.config.generation, ==, gen);

    /* a resize is announced with EVENT_CONFIG */
    vq = driver_init(&t, VERSION_1);
    from = t.d.num_events;
    qtest_qmp_assert_success(t.qts, "{ 'execute': 'block_resize', "
                             "'arguments': { 'node-name': 'd0', "
                             "'size': %" PRId64 " } }", 2 * MiB);
    ev = wait_event(&t, from, VIRTIO_MSG_EVENT_CONFIG, 0);
    g_assert_cmphex(ev->config.status, ==, 0xf);
    g_assert_cmpuint(ev->config.generation, !=, gen);
    g_assert_cmpuint(ev->config.length, ==, 0);
    g_assert_cmpuint(get_capacity(&t, &gen2), ==, 2 * MiB / 512);
    g_assert_cmpuint(gen2, ==, ev->config.generation);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
    unlink(image);
}

static void test_rng_io(void)
{
    AmpTest t;
    QVirtQueue *vq;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    g_assert_cmphex(device_features(&t) &
                    (1ULL << VIRTIO_F_NOTIFICATION_DATA), ==, 0);
    vq = driver_init(&t, VERSION_1);
    rng_io(&t, vq);
    rng_io(&t, vq);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

/*
 * VIRTIO_F_NOTIFICATION_DATA is offered by the transport only when asked
 * for (virtio-msg.notification-data=on).  Without it, negotiating the bit
 * fails and next_offset in EVENT_AVAIL is ignored; with it, kicks carry
 * the next available index and I/O completes.
 */
static void test_notification_data(void)
{
    const uint64_t nd = 1ULL << VIRTIO_F_NOTIFICATION_DATA;
    AmpTest t;
    QVirtQueue *vq;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    g_assert_cmphex(device_features(&t) & nd, ==, 0);
    g_assert_cmphex(set_status(&t, ACK_DRIVER), ==, ACK_DRIVER);
    g_assert_cmphex(features_ok(&t, (nd | VERSION_1) >> 32), ==, ACK_DRIVER);

    vq = driver_init(&t, VERSION_1);
    /* our kicks now carry next_offset 1, then 2 */
    t.d.vdev.features |= nd;
    rng_io(&t, vq);
    rng_io(&t, vq);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);

    amp_start(&t, "-global virtio-msg.notification-data=on "
              AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    g_assert_cmphex(device_features(&t) & nd, ==, nd);
    vq = driver_init(&t, VERSION_1 | nd);
    g_assert_cmphex(get_status(&t), ==, 0xf);
    rng_io(&t, vq);
    rng_io(&t, vq);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

static void test_ring_reset(void)
{
    const uint64_t features = VERSION_1 | (1ULL << VIRTIO_F_RING_RESET);
    AmpTest t;
    VirtIOMSG req, resp;
    QVirtQueue *vq;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    vq = driver_init(&t, features);
    rng_io(&t, vq);
    /* a queue the device does not have */
    req.vq.index = 1;
    send_dropped(&t, &req, VIRTIO_MSG_RESET_VQUEUE);
    req.vq.index = 0;
    dev_request(&t, &req, VIRTIO_MSG_RESET_VQUEUE, 0, &resp);
    g_assert_cmpuint(resp.size, ==, VIRTIO_MSG_HDR_SIZE);
    assert_vqueue_unset(&t);
    g_assert_cmphex(get_status(&t), ==, 0xf);

    /* set it up again: it reads back and works */
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    vq = qvirtqueue_setup(&t.d.vdev, &t.alloc, 0);
    assert_vqueue_is(&t, vq);
    rng_io(&t, vq);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

static void test_device_reset(void)
{
    AmpTest t;
    QVirtQueue *vq;
    uint64_t offered;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    offered = device_features(&t);
    vq = driver_init(&t, VERSION_1);
    rng_io(&t, vq);

    g_assert_cmphex(set_status(&t, 0), ==, 0);
    g_assert_cmphex(get_status(&t), ==, 0);
    assert_vqueue_unset(&t);
    g_assert_cmphex(device_features(&t), ==, offered);

    /* a feature the device does not offer: FEATURES_OK is refused */
    g_assert_cmphex(offered >> 63, ==, 0);
    g_assert_cmphex(set_status(&t, ACK_DRIVER), ==, ACK_DRIVER);
    g_assert_cmphex(features_ok(&t, (VERSION_1 >> 32) | (1u << 31)), ==,
                    ACK_DRIVER);
    g_assert_cmphex(get_status(&t), ==, ACK_DRIVER);

    /* with offered ones only it is accepted */
    g_assert_cmphex(features_ok(&t, VERSION_1 >> 32), ==,
                    ACK_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

/* Migrate @src to a new QEMU started with @args; returns it running. */
static QTestState *migrate(QTestState *src, const char *args)
{
    g_autofree char *uri = g_strdup_printf("unix:%s/vmsg-mig-%d.sock",
                                           g_get_tmp_dir(), getpid());
    g_autofree char *dst_args = g_strdup_printf("%s" VM_OPTS "%s",
                                                qvirtio_msg_amp_machine()->args,
                                                args);

    return qvirtio_msg_amp_migrate(src, dst_args, uri);
}

static void test_migration(void)
{
    g_autofree char *image = make_image(MiB);
    g_autofree char *devs = blk_devices(image);
    uint8_t pattern[512], data[512];
    QTestState *src;
    QVirtQueue *vq;
    AmpTest t;

    for (int i = 0; i < sizeof(pattern); i++) {
        pattern[i] = i * 7 + 3;
    }
    amp_start(&t, devs);
    vq = driver_init(&t, VERSION_1);
    g_assert_cmpuint(blk_io(&t, vq, VIRTIO_BLK_T_OUT, 3, pattern), ==,
                     VIRTIO_BLK_S_OK);

    src = t.qts;
    amp_attach(&t, migrate(src, devs));
    qtest_quit(src);

    g_assert_cmphex(get_status(&t), ==, 0xf);
    assert_vqueue_is(&t, vq);
    memset(data, 0, sizeof(data));
    g_assert_cmpuint(blk_io(&t, vq, VIRTIO_BLK_T_IN, 3, data), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(data, sizeof(data), pattern, sizeof(pattern));
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
    unlink(image);
}

static void test_driver_reinit(void)
{
    AmpTest t;
    VirtIOMSG resp;
    QVirtQueue *vq;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    vq = driver_init(&t, VERSION_1);
    rng_io(&t, vq);

    /* a reloading driver starts its queues over, without a reset */
    reset_queues(&t, 0);
    get_devices(&t, 0, &resp);
    g_assert_cmphex(devices_bitmap(&resp), ==, 0x1);
    g_assert_cmphex(get_status(&t), ==, 0xf);
    assert_vqueue_is(&t, vq);
    rng_io(&t, vq);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

/* RESET_VQUEUE of queue @index; its reply is empty. */
static void reset_vqueue(AmpTest *t, uint32_t index)
{
    VirtIOMSG req, resp;

    req.vq.index = index;
    dev_request(t, &req, VIRTIO_MSG_RESET_VQUEUE, 0, &resp);
    g_assert_cmpuint(resp.size, ==, VIRTIO_MSG_HDR_SIZE);
}

/* Status up to FEATURES_OK with VIRTIO_F_VERSION_1; returns max_size. */
static uint32_t init_to_features_ok(AmpTest *t)
{
    VirtIOMSG resp;

    g_assert_cmphex(set_status(t, 0), ==, 0);
    g_assert_cmphex(set_status(t, ACK_DRIVER), ==, ACK_DRIVER);
    g_assert_cmphex(features_ok(t, VERSION_1 >> 32), ==,
                    ACK_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
    get_vqueue(t, 0, &resp);
    g_assert_cmpuint(resp.vq.max_size, !=, 0);
    return resp.vq.max_size;
}

/*
 * Linux sends RESET_VQUEUE for each queue when it removes a device, with
 * or without VIRTIO_F_RING_RESET, and waits for the replies: they come.
 * Without RING_RESET the queue is reset only while the device does not
 * run.
 */
static void test_reset_vqueue_no_ring_reset(void)
{
    AmpTest t;
    VirtIOMSG req;
    QVirtQueue *vq;
    uint32_t max_size;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    /* freshly reset */
    reset_vqueue(&t, 0);
    assert_vqueue_unset(&t);

    /* not running yet: the queue is reset */
    max_size = init_to_features_ok(&t);
    set_vqueue(&t, max_size, 0x40100000, false);
    reset_vqueue(&t, 0);
    assert_vqueue_unset(&t);
    g_assert_cmphex(get_status(&t), ==,
                    ACK_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);

    /* queues the device does not have: dropped */
    req.vq.index = 1;
    send_dropped(&t, &req, VIRTIO_MSG_RESET_VQUEUE);
    req.vq.index = 70000;
    send_dropped(&t, &req, VIRTIO_MSG_RESET_VQUEUE);

    /* running: answered, but the queue is kept and keeps working */
    vq = driver_init(&t, VERSION_1);
    rng_io(&t, vq);
    reset_vqueue(&t, 0);
    g_assert_cmphex(get_status(&t), ==, 0xf);
    assert_vqueue_is(&t, vq);
    rng_io(&t, vq);

    /* removal as Linux does it: device reset, then each queue */
    g_assert_cmphex(set_status(&t, 0), ==, 0);
    reset_vqueue(&t, 0);
    assert_vqueue_unset(&t);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

/*
 * SET_VQUEUE may set a queue again during initialisation; once the
 * device runs, a set queue is live and SET_VQUEUE on it is dropped.
 */
static void test_set_vqueue_live(void)
{
    AmpTest t;
    VirtIOMSG req;
    QVirtQueue *vq;
    uint32_t max_size;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    max_size = init_to_features_ok(&t);
    set_vqueue(&t, max_size, 0x40100000, false);
    set_vqueue(&t, max_size / 2, 0x40200000, false);
    set_vqueue(&t, max_size, 0x40300000, true);

    vq = driver_init(&t, VERSION_1);
    rng_io(&t, vq);
    for (int legacy = 0; legacy < 2; legacy++) {
        memset(&req, 0, sizeof(req));
        req.vq.size = vq->size / 2;
        req.vq.desc = 0x40400000;
        req.vq.driver = 0x40401000;
        req.vq.device = 0x40402000;
        req.vq.legacy = legacy;
        send_dropped(&t, &req, VIRTIO_MSG_SET_VQUEUE);
        assert_vqueue_is(&t, vq);
    }
    g_assert_cmphex(get_status(&t), ==, 0xf);
    rng_io(&t, vq);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

/* virtio-msg has no legacy interface: FEATURES_OK needs VERSION_1. */
static void test_features_ok_needs_version_1(void)
{
    AmpTest t;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    g_assert_cmphex(device_features(&t) & VERSION_1, ==, VERSION_1);
    g_assert_cmphex(set_status(&t, ACK_DRIVER), ==, ACK_DRIVER);
    g_assert_cmphex(features_ok(&t, 0), ==, ACK_DRIVER);
    g_assert_cmphex(get_status(&t), ==, ACK_DRIVER);
    g_assert_cmphex(features_ok(&t, VERSION_1 >> 32), ==,
                    ACK_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
    amp_stop(&t);
}

static uint16_t used_idx(AmpTest *t, QVirtQueue *vq)
{
    return qtest_readw(t->qts, vq->used + 2);
}

/* Make @head available without notifying the device. */
static void make_available(AmpTest *t, QVirtQueue *vq, uint32_t head)
{
    uint16_t idx = qtest_readw(t->qts, vq->avail + 2);

    qtest_writew(t->qts, vq->avail + 4 + 2 * (idx % vq->size), head);
    qtest_writew(t->qts, vq->avail + 2, idx + 1);
}

/*
 * A 12-byte EVENT_AVAIL for queue 0, without next_offset; the rest of the
 * slot holds @junk, as drivers may write whole slots.
 */
static void kick_short(AmpTest *t, uint32_t junk)
{
    const RawMsg m = { "short EVENT_AVAIL", 0, VIRTIO_MSG_EVENT_AVAIL, 0,
                       VIRTIO_MSG_HDR_SIZE + 4, 0, junk };

    send_raw(t, &m, 0);
}

/* A 64-byte zeroed buffer for the device to write into */
static uint64_t zeroed_buffer(AmpTest *t)
{
    uint8_t zero[64] = { 0 };
    uint64_t addr = guest_alloc(&t->alloc, sizeof(zero));

    qtest_memwrite(t->qts, addr, zero, sizeof(zero));
    return addr;
}

static bool buffer_is_zero(AmpTest *t, uint64_t addr)
{
    uint8_t buf[64], zero[64] = { 0 };

    qtest_memread(t->qts, addr, buf, sizeof(buf));
    return !memcmp(buf, zero, sizeof(buf));
}

/*
 * With VIRTIO_F_NOTIFICATION_DATA, an EVENT_AVAIL without next_offset
 * (msg_size 12) is an ordinary notification: the device reads the avail
 * index from the ring, it does not take a missing next_offset for 0.
 */
static void test_short_event_avail(void)
{
    const uint64_t nd = 1ULL << VIRTIO_F_NOTIFICATION_DATA;
    AmpTest t;
    QVirtQueue *vq;
    uint64_t addr;
    uint32_t head, len;

    amp_start(&t, "-global virtio-msg.notification-data=on "
              AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    vq = driver_init(&t, VERSION_1 | nd);
    rng_io(&t, vq);
    rng_io(&t, vq);
    g_assert_cmpuint(used_idx(&t, vq), ==, 2);

    /* nothing new: nothing happens */
    kick_short(&t, 0);
    assert_silent(&t, 0);
    kick_short(&t, 0x7fffffff);
    assert_silent(&t, 0);
    g_assert_cmpuint(used_idx(&t, vq), ==, 2);

    /* one new buffer: exactly that one is used */
    addr = zeroed_buffer(&t);
    head = qvirtqueue_add(t.qts, vq, addr, 64, true, false);
    make_available(&t, vq, head);
    kick_short(&t, 0);
    qvirtio_wait_used_elem(t.qts, &t.d.vdev, vq, head, &len, WAIT_US);
    g_assert_cmpuint(len, ==, 64);
    g_assert_false(buffer_is_zero(&t, addr));
    qtest_clock_step(t.qts, STEP_NS);
    g_assert_cmpuint(used_idx(&t, vq), ==, 3);
    g_assert_cmphex(get_status(&t), ==, 0xf);
    guest_free(&t.alloc, addr);

    /* and kicks with next_offset still work */
    rng_io(&t, vq);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

/* Put a transport request on FIFO 0 without ringing the doorbell. */
static void put_request(AmpTest *t, uint8_t id, uint16_t dev,
                        uint16_t token, uint32_t status)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];
    VirtIOMSG req;

    virtio_msg_init(&req, 0, id, dev, token);
    req.status.status = status;
    g_assert_true(qvirtio_msg_amp_put(&t->d, 0, buf,
                                      virtio_msg_encode(&req, buf,
                                                        sizeof(buf))));
}

/* The next message on FIFO 0 must be the reply (@id, @dev, @token). */
static void expect_reply(AmpTest *t, uint8_t type, uint8_t id, uint16_t dev,
                         uint16_t token, VirtIOMSG *resp)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];

    get_slot(t, 0, buf);
    g_assert_cmpint(virtio_msg_decode(buf, sizeof(buf), sizeof(buf), resp),
                    ==, VIRTIO_MSG_OK);
    g_assert_cmphex(resp->type, ==, type | VIRTIO_MSG_TYPE_RESPONSE);
    g_assert_cmphex(resp->id, ==, id);
    g_assert_cmpuint(resp->dev_num, ==, dev);
    g_assert_cmpuint(resp->token, ==, token);
}

static void expect_status(AmpTest *t, uint8_t id, uint16_t dev,
                          uint16_t token, uint32_t status)
{
    VirtIOMSG resp;

    expect_reply(t, 0, id, dev, token, &resp);
    g_assert_cmphex(resp.status.status, ==, status);
}

/*
 * Replies a reset device has not sent yet (they wait because the driver
 * does not consume its queue) are dropped by SET_DEVICE_STATUS(0); those
 * of other devices, bus replies and the reset's own reply are kept.
 */
static void test_reset_purges_backlog(void)
{
    AmpTest t;
    VirtIOMSG resp;
    uint16_t i;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0")
              RNG_ON("amp0.fifo0.dev1"));
    g_assert_cmphex(set_status(&t, ACK_DRIVER), ==, ACK_DRIVER);

    /* fill the device-to-driver queue with replies nobody reads */
    for (i = 0; i < QVMSG_AMP_CAPACITY - 1; i++) {
        put_request(&t, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 1000 + i, 0);
    }
    qvirtio_msg_amp_doorbell(&t.d, 0);
    qtest_clock_step(t.qts, STEP_NS);
    /* all taken, and the replies fill the queue */
    g_assert_cmpuint(queue_read(&t, 0, QVMSG_AMP_TO_DEVICE, QVMSG_AMP_Q_TAIL),
                     ==, queue_read(&t, 0, QVMSG_AMP_TO_DEVICE,
                                    QVMSG_AMP_Q_HEAD));
    g_assert_cmpuint((queue_read(&t, 0, QVMSG_AMP_TO_DRIVER,
                                 QVMSG_AMP_Q_HEAD) + 1) % QVMSG_AMP_CAPACITY,
                     ==, queue_read(&t, 0, QVMSG_AMP_TO_DRIVER,
                                    QVMSG_AMP_Q_TAIL));

    /* these replies wait in the device's backlog */
    put_request(&t, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 1, 0);
    put_request(&t, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 2, 0);
    g_assert_true(put_ping(&t, 0, 3, 0x3333));
    put_request(&t, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 4, 0);
    put_request(&t, VIRTIO_MSG_SET_DEVICE_STATUS, 0, 5, 0);
    put_request(&t, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 6, 0);
    qvirtio_msg_amp_doorbell(&t.d, 0);
    qtest_clock_step(t.qts, STEP_NS);

    for (i = 0; i < QVMSG_AMP_CAPACITY - 1; i++) {
        expect_status(&t, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 1000 + i,
                      ACK_DRIVER);
    }
    /* tokens 1 and 4 are gone */
    expect_status(&t, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 2, 0);
    expect_reply(&t, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, 3, &resp);
    g_assert_cmphex(resp.ping.data, ==, 0x3333);
    expect_status(&t, VIRTIO_MSG_SET_DEVICE_STATUS, 0, 5, 0);
    expect_status(&t, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 6, 0);
    assert_silent(&t, 0);
    amp_stop(&t);
}

/*
 * GET_VQUEUE reads back the size SET_VQUEUE set, not max_size, and the
 * device uses it: with a 4-entry ring, request n lands in used slot n % 4.
 */
static void test_vqueue_size(void)
{
    AmpTest t;
    VirtIOMSG req, resp;
    QVirtQueue *vq = g_new0(QVirtQueue, 1);
    uint32_t max_size;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0"));
    dev_request(&t, &req, VIRTIO_MSG_DEVICE_INFO, 0, &resp);
    t.d.vdev.device_type = resp.info.device_id;
    qvirtio_start_device(&t.d.vdev);
    qvirtio_set_features(&t.d.vdev, VERSION_1);
    get_vqueue(&t, 0, &resp);
    max_size = resp.vq.max_size;
    g_assert_cmpuint(max_size, >, 4);

    vq->vdev = &t.d.vdev;
    vq->index = 0;
    vq->size = 4;
    vq->align = 4096;
    qvring_init(t.qts, &t.alloc, vq,
                guest_alloc(&t.alloc, qvring_size(vq->size, vq->align)));
    memset(&req, 0, sizeof(req));
    req.vq.size = vq->size;
    req.vq.desc = vq->desc;
    req.vq.driver = vq->avail;
    req.vq.device = vq->used;
    dev_request(&t, &req, VIRTIO_MSG_SET_VQUEUE, 0, &resp);
    get_vqueue(&t, 0, &resp);
    g_assert_cmpuint(resp.vq.max_size, ==, max_size);
    assert_vqueue_is(&t, vq);
    qvirtio_set_driver_ok(&t.d.vdev);

    for (int n = 0; n < 2 * vq->size + 1; n++) {
        uint64_t elem = vq->used + 4 + 8 * (n % vq->size);

        /* reuse descriptor 0; poison the used slot the reply must fill */
        vq->free_head = 0;
        vq->num_free = vq->size;
        qtest_writel(t.qts, elem, 0xdead);
        qtest_writel(t.qts, elem + 4, 0xdead);
        rng_io(&t, vq);
        g_assert_cmphex(qtest_readl(t.qts, elem), ==, 0);
        g_assert_cmphex(qtest_readl(t.qts, elem + 4), ==, 64);
    }
    g_assert_cmphex(get_status(&t), ==, 0xf);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

static void set_bus_master(AmpTest *t, bool on)
{
    uint16_t cmd = qpci_config_readw(t->d.pdev, PCI_COMMAND);

    cmd = on ? cmd | PCI_COMMAND_MASTER : cmd & ~PCI_COMMAND_MASTER;
    qpci_config_writew(t->d.pdev, PCI_COMMAND, cmd);
    g_assert_cmphex(qpci_config_readw(t->d.pdev, PCI_COMMAND), ==, cmd);
}

/* Post a request for a zeroed buffer and kick: it must stay untouched. */
static void assert_no_dma(AmpTest *t, QVirtQueue *vq)
{
    uint64_t addr = zeroed_buffer(t);
    uint16_t used = used_idx(t, vq);

    qvirtqueue_kick(t->qts, &t->d.vdev, vq,
                    qvirtqueue_add(t->qts, vq, addr, 64, true, false));
    for (int i = 0; i < 10; i++) {
        qtest_clock_step(t->qts, STEP_NS);
    }
    g_assert_true(buffer_is_zero(t, addr));
    g_assert_cmpuint(used_idx(t, vq), ==, used);
    guest_free(&t->alloc, addr);
}

static uint32_t status_of(AmpTest *t, uint16_t dev)
{
    VirtIOMSG req, resp;

    dev_request(t, &req, VIRTIO_MSG_GET_DEVICE_STATUS, dev, &resp);
    return resp.status.status;
}

/*
 * Clearing Bus Master Enable resets the devices behind the function, and
 * while it is clear they do not reach guest memory.
 */
static void test_bus_master_enable(void)
{
    AmpTest t;
    VirtIOMSG req, resp;
    QVirtQueue *vq;

    amp_start(&t, AMP_DEVICE RNG_ON("amp0.fifo0.dev0")
              RNG_ON("amp0.fifo0.dev1"));
    vq = driver_init(&t, VERSION_1);
    rng_io(&t, vq);
    req.status.status = ACK_DRIVER;
    dev_request(&t, &req, VIRTIO_MSG_SET_DEVICE_STATUS, 1, &resp);
    g_assert_cmphex(resp.status.status, ==, ACK_DRIVER);

    set_bus_master(&t, false);
    g_assert_cmphex(status_of(&t, 0), ==, 0);
    g_assert_cmphex(status_of(&t, 1), ==, 0);
    assert_vqueue_unset(&t);
    /* messages do not need bus mastering */
    ping(&t, 0, 0x1234);
    assert_no_dma(&t, vq);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);

    /* set up again while bus mastering is off: it cannot reach the ring */
    vq = driver_init(&t, VERSION_1);
    assert_no_dma(&t, vq);
    /* writing the command register with the bit still clear: no reset */
    set_bus_master(&t, false);
    g_assert_cmphex(status_of(&t, 0), ==, 0xf);
    /* nor does setting it */
    set_bus_master(&t, true);
    g_assert_cmphex(status_of(&t, 0), ==, 0xf);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);

    /* with bus mastering back, a fresh start works */
    vq = driver_init(&t, VERSION_1);
    rng_io(&t, vq);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    amp_stop(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/virtio-msg-amp-pci/identity", test_identity);
    qtest_add_func("/virtio-msg-amp-pci/bus-messages", test_bus_messages);
    qtest_add_func("/virtio-msg-amp-pci/transport-messages",
                   test_transport_messages);
    qtest_add_func("/virtio-msg-amp-pci/malformed", test_malformed);
    qtest_add_func("/virtio-msg-amp-pci/hostile-indices",
                   test_hostile_indices);
    qtest_add_func("/virtio-msg-amp-pci/backpressure", test_backpressure);
    qtest_add_func("/virtio-msg-amp-pci/system-reset", test_system_reset);
    qtest_add_func("/virtio-msg-amp-pci/two-fifos", test_two_fifos);
    qtest_add_func("/virtio-msg-amp-pci/msix", test_msix);
    qtest_add_func("/virtio-msg-amp-pci/bad-num-fifos", test_bad_num_fifos);
    qtest_add_func("/virtio-msg-amp-pci/32-devices", test_32_devices);
    qtest_add_func("/virtio-msg-amp-pci/hotplug", test_hotplug);
    qtest_add_func("/virtio-msg-amp-pci/blk-config", test_blk_config);
    qtest_add_func("/virtio-msg-amp-pci/rng-io", test_rng_io);
    qtest_add_func("/virtio-msg-amp-pci/notification-data",
                   test_notification_data);
    qtest_add_func("/virtio-msg-amp-pci/ring-reset", test_ring_reset);
    qtest_add_func("/virtio-msg-amp-pci/device-reset", test_device_reset);
    qtest_add_func("/virtio-msg-amp-pci/migration", test_migration);
    qtest_add_func("/virtio-msg-amp-pci/driver-reinit", test_driver_reinit);
    qtest_add_func("/virtio-msg-amp-pci/reset-vqueue-no-ring-reset",
                   test_reset_vqueue_no_ring_reset);
    qtest_add_func("/virtio-msg-amp-pci/set-vqueue-live",
                   test_set_vqueue_live);
    qtest_add_func("/virtio-msg-amp-pci/features-ok-needs-version-1",
                   test_features_ok_needs_version_1);
    qtest_add_func("/virtio-msg-amp-pci/short-event-avail",
                   test_short_event_avail);
    qtest_add_func("/virtio-msg-amp-pci/reset-purges-backlog",
                   test_reset_purges_backlog);
    qtest_add_func("/virtio-msg-amp-pci/vqueue-size", test_vqueue_size);
    qtest_add_func("/virtio-msg-amp-pci/bus-master-enable",
                   test_bus_master_enable);

    return g_test_run();
}
