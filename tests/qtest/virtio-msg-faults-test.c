/*
 * QTest: virtio-msg-amp-pci under faults in the middle of traffic
 *
 * The test is the guest driver.  It keeps the device busy (virtio-blk
 * requests posted, completed or not, their EVENT_USED read or not, the
 * device-to-driver queue full, messages waiting in the device's backlog,
 * an MSI-X vector pending) and then migrates, resets, floods or unplugs,
 * and checks what the driver sees afterwards: every reply in order, no
 * stale message, no lost notification, the data on the disk.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qdict.h"
#include "libqos/libqos-malloc.h"
#include "libqos/virtio-msg-amp-pci.h"
#include "standard-headers/linux/virtio_blk.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"

/* after the machine (qvirtio_msg_amp_machine()) */
#define VM_OPTS         "-m 128M -nic none "
#define GUEST_RAM_SIZE  (128 * MiB)
#define IMAGE_SIZE      MiB
#define TIMEOUT_US      (10 * G_USEC_PER_SEC)
#define TICK_NS         (1000 * 1000)          /* 1 ms of virtual time */
#define SLOTS           (QVMSG_AMP_CAPACITY - 1) /* messages a queue holds */
#define MAX_FIFOS       2
#define MAX_REQS        40
#define SECTOR          512
#define BLK_HDR         16
#define MSIX_DATA(n)    (0xfee10000u + (n))
#define RSS_SLACK_KIB   (4 * 1024)
#define STATUS_LIVE     (VIRTIO_CONFIG_S_ACKNOWLEDGE | \
                         VIRTIO_CONFIG_S_DRIVER | \
                         VIRTIO_CONFIG_S_FEATURES_OK | \
                         VIRTIO_CONFIG_S_DRIVER_OK)

/* The AMP device at 04.0 of the root bus, or at 00.0 behind a bridge */
#define AMP_ROOT_DEVFN      QPCI_DEVFN(4, 0)
#define BRIDGE_DEVFN        QPCI_DEVFN(3, 0)
#define AMP_BRIDGED_DEVFN   ((1 << 8) | QPCI_DEVFN(0, 0))
#define AMP_ON_ROOT         "-device virtio-msg-amp-pci,addr=04.0,id=amp0"
#define AMP_BEHIND_BRIDGE   "-device pci-bridge,id=br0,chassis_nr=1," \
                            "shpc=off,addr=03.0 " \
                            "-device virtio-msg-amp-pci,bus=br0,addr=00.0," \
                            "id=amp0"

/* One message the driver took from a device-to-driver queue */
typedef struct Seen {
    VirtIOMSG msg;
    uint16_t used_idx;          /* virtio-blk used index at that moment */
} Seen;

/* One virtio-blk request: header, one sector, status byte */
typedef struct BlkReq {
    uint32_t type;
    uint64_t sector;
    uint64_t addr;
    uint32_t head;
    uint8_t data[SECTOR];       /* written, or expected back */
} BlkReq;

typedef struct Rig {
    QTestState *qts;
    QVirtioMSGAmpPCIBus pbus;
    QPCIBus *bus;
    QVirtioMSGAmp amp;
    QGuestAllocator alloc;
    char *args;                 /* devices, for a migration target */
    char *image;
    bool bridged;
    unsigned num_fifos;
    uint16_t token;
    QVirtQueue *vq;             /* virtio-blk (FIFO 0, dev 0), queue 0 */
    BlkReq req[MAX_REQS];
    unsigned num_reqs;
    uint64_t msix_addr[MAX_FIFOS];
    GArray *sent[MAX_FIFOS];    /* VirtIOMSG: requests, in queue order */
    GArray *seen[MAX_FIFOS];    /* Seen: everything read, in order */
} Rig;

/* Setting up and tearing down */

static void bridge_setup(Rig *r)
{
    QPCIDevice *br = qpci_device_find(r->bus, BRIDGE_DEVFN);
    uint16_t base = (r->bus->mmio_alloc_ptr >> 16) & PCI_MEMORY_RANGE_MASK;
    uint16_t limit = ((r->bus->mmio_limit - 1) >> 16) & PCI_MEMORY_RANGE_MASK;

    g_assert_nonnull(br);
    qpci_config_writeb(br, PCI_PRIMARY_BUS, 0);
    qpci_config_writeb(br, PCI_SECONDARY_BUS, 1);
    qpci_config_writeb(br, PCI_SUBORDINATE_BUS, 1);
    /* forward the part of the MMIO window libqos allocates BARs from */
    qpci_config_writew(br, PCI_MEMORY_BASE, base);
    qpci_config_writew(br, PCI_MEMORY_LIMIT, limit);
    qpci_config_writew(br, PCI_PREF_MEMORY_BASE, base);
    qpci_config_writew(br, PCI_PREF_MEMORY_LIMIT, limit);
    qpci_config_writel(br, PCI_PREF_BASE_UPPER32, 0);
    qpci_config_writel(br, PCI_PREF_LIMIT_UPPER32, 0);
    qpci_device_enable(br);
    g_free(br);
}

/* Find the AMP device on @qts, assign its BARs and enable it. */
static void rig_connect(Rig *r, QTestState *qts)
{
    r->qts = qts;
    r->bus = qvirtio_msg_amp_pci_bus(&r->pbus, qts);
    if (r->bridged) {
        bridge_setup(r);
    }
    g_free(r->amp.pdev);
    r->amp.pdev = NULL;
    qvirtio_msg_amp_init(&r->amp, r->bus,
                         r->bridged ? AMP_BRIDGED_DEVFN : AMP_ROOT_DEVFN);
}

static char *new_image(void)
{
    char *path;
    int fd = g_file_open_tmp("vmsg-faults-XXXXXX.raw", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, IMAGE_SIZE), ==, 0);
    close(fd);
    return path;
}

/*
 * Start QEMU with the AMP device (@bridged: behind a PCI bridge),
 * @num_fifos FIFOs, a virtio-blk device on FIFO 0 dev 0 if @blk, and
 * @more devices.
 */
static void rig_start(Rig *r, bool bridged, unsigned num_fifos, bool blk,
                      const char *more)
{
    const QVirtioMSGAmpMachine *m = qvirtio_msg_amp_machine();
    g_autofree char *disk = NULL;

    memset(r, 0, sizeof(*r));
    r->bridged = bridged;
    r->num_fifos = num_fifos;
    r->token = 0x1000;
    if (blk) {
        r->image = new_image();
        disk = g_strdup_printf(" -blockdev driver=raw,node-name=disk0,"
                               "file.driver=file,file.filename=%s"
                               " -device virtio-blk-device,drive=disk0,"
                               "bus=amp0.fifo0.dev0", r->image);
    }
    r->args = g_strdup_printf("%s,num-fifos=%u%s %s",
                              bridged ? AMP_BEHIND_BRIDGE : AMP_ON_ROOT,
                              num_fifos, disk ? disk : "", more);
    for (unsigned i = 0; i < MAX_FIFOS; i++) {
        r->sent[i] = g_array_new(false, true, sizeof(VirtIOMSG));
        r->seen[i] = g_array_new(false, true, sizeof(Seen));
    }
    alloc_init(&r->alloc, 0, m->ram_base + MiB,
               m->ram_base + GUEST_RAM_SIZE, 4096);
    rig_connect(r, qtest_initf("%s" VM_OPTS "%s", m->args, r->args));
}

static void rig_stop(Rig *r)
{
    qvirtio_msg_amp_destroy(&r->amp);
    qtest_quit(r->qts);
    alloc_destroy(&r->alloc);
    for (unsigned i = 0; i < MAX_FIFOS; i++) {
        g_array_free(r->sent[i], true);
        g_array_free(r->seen[i], true);
    }
    if (r->image) {
        unlink(r->image);
        g_free(r->image);
    }
    g_free(r->vq);
    g_free(r->args);
}

/* The FIFO queues */

static uint32_t q_index(Rig *r, unsigned fifo, uint64_t queue, uint64_t field)
{
    return qpci_io_readl(r->amp.pdev, r->amp.bar1,
                         fifo * QVMSG_AMP_WINDOW + queue + field);
}

/* Messages waiting in a queue */
static unsigned q_fill(Rig *r, unsigned fifo, uint64_t queue)
{
    uint32_t head = q_index(r, fifo, queue, QVMSG_AMP_Q_HEAD);
    uint32_t tail = q_index(r, fifo, queue, QVMSG_AMP_Q_TAIL);

    g_assert_cmpuint(head, <, QVMSG_AMP_CAPACITY);
    g_assert_cmpuint(tail, <, QVMSG_AMP_CAPACITY);
    return (head + QVMSG_AMP_CAPACITY - tail) % QVMSG_AMP_CAPACITY;
}

static void assert_fifo_zeroed(Rig *r, unsigned fifo)
{
    g_assert_cmpuint(q_index(r, fifo, QVMSG_AMP_TO_DEVICE, QVMSG_AMP_Q_HEAD),
                     ==, 0);
    g_assert_cmpuint(q_index(r, fifo, QVMSG_AMP_TO_DEVICE, QVMSG_AMP_Q_TAIL),
                     ==, 0);
    g_assert_cmpuint(q_index(r, fifo, QVMSG_AMP_TO_DRIVER, QVMSG_AMP_Q_HEAD),
                     ==, 0);
    g_assert_cmpuint(q_index(r, fifo, QVMSG_AMP_TO_DRIVER, QVMSG_AMP_Q_TAIL),
                     ==, 0);
}

/* Messages */

static void msg_ping(VirtIOMSG *m, uint32_t data)
{
    virtio_msg_init(m, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0, 0);
    m->ping.data = data;
}

static void msg_dev(VirtIOMSG *m, uint8_t id, uint16_t dev)
{
    memset(m, 0, sizeof(*m));
    virtio_msg_init(m, 0, id, dev, 0);
}

static void msg_kick(VirtIOMSG *m, uint16_t dev)
{
    msg_dev(m, VIRTIO_MSG_EVENT_AVAIL, dev);
    m->vq.index = 0;
}

/*
 * Put @m on @fifo's driver-to-device queue without ringing the doorbell.
 * A request gets a fresh token and, if @reply, is remembered as owed a
 * reply.  Returns false if the queue is full.
 */
static bool put_msg(Rig *r, unsigned fifo, VirtIOMSG *m, bool reply)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];
    bool request = !VIRTIO_MSG_ID_IS_EVENT(m->id);
    size_t len;

    m->token = request ? r->token++ : 0;
    len = virtio_msg_encode(m, buf, sizeof(buf));
    g_assert_cmpuint(len, >, 0);
    if (!qvirtio_msg_amp_put(&r->amp, fifo, buf, len)) {
        r->token -= request;
        return false;
    }
    if (request && reply) {
        g_array_append_val(r->sent[fifo], *m);
    }
    return true;
}

static void put_ok(Rig *r, unsigned fifo, VirtIOMSG *m)
{
    g_assert_true(put_msg(r, fifo, m, true));
}

static void put_ping(Rig *r, unsigned fifo, uint32_t data)
{
    VirtIOMSG m;

    msg_ping(&m, data);
    put_ok(r, fifo, &m);
}

static void put_dev(Rig *r, unsigned fifo, uint8_t id, uint16_t dev,
                    uint32_t status)
{
    VirtIOMSG m;

    msg_dev(&m, id, dev);
    m.status.status = status;
    put_ok(r, fifo, &m);
}

static uint16_t blk_used_idx(Rig *r)
{
    return r->vq ? qtest_readw(r->qts, r->vq->used + 2) : 0;
}

/* Take one message from @fifo, if any, and log it. */
static bool take(Rig *r, unsigned fifo)
{
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];
    Seen s;

    if (!qvirtio_msg_amp_get(&r->amp, fifo, buf)) {
        return false;
    }
    g_assert_cmpint(virtio_msg_decode(buf, sizeof(buf), sizeof(buf), &s.msg),
                    ==, VIRTIO_MSG_OK);
    s.used_idx = blk_used_idx(r);
    g_array_append_val(r->seen[fifo], s);
    return true;
}

static const Seen *seen_at(Rig *r, unsigned fifo, unsigned i)
{
    return &g_array_index(r->seen[fifo], Seen, i);
}

static unsigned replies_seen(Rig *r, unsigned fifo)
{
    unsigned n = 0;

    for (unsigned i = 0; i < r->seen[fifo]->len; i++) {
        n += !!(seen_at(r, fifo, i)->msg.type & VIRTIO_MSG_TYPE_RESPONSE);
    }
    return n;
}

/*
 * Read @fifo until every request sent has its reply and the virtio-blk
 * used index is at least @used, without ringing the doorbell: the device
 * must retry its backlog by itself.
 */
static void drain(Rig *r, unsigned fifo, uint16_t used)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    for (;;) {
        while (take(r, fifo)) {
            /* read everything there is */
        }
        if (replies_seen(r, fifo) >= r->sent[fifo]->len &&
            blk_used_idx(r) >= used) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        qtest_clock_step(r->qts, TICK_NS);
    }
}

/* Let the device run for @ms of virtual time, reading all it sends. */
static void take_for(Rig *r, unsigned fifo, unsigned ms)
{
    for (unsigned i = 0; i < ms; i++) {
        qtest_clock_step(r->qts, TICK_NS);
        while (take(r, fifo)) {
            /* read everything there is */
        }
    }
}

/* Let the device run for @ms of virtual time: it must send nothing. */
static void assert_quiet(Rig *r, unsigned fifo, unsigned ms)
{
    for (unsigned i = 0; i < ms; i++) {
        qtest_clock_step(r->qts, TICK_NS);
    }
    g_assert_cmpuint(q_fill(r, fifo, QVMSG_AMP_TO_DRIVER), ==, 0);
}

/*
 * The replies the driver read are exactly those owed, in the order the
 * requests were queued: same message, device, token, and for PING data.
 */
static void assert_replies_in_order(Rig *r, unsigned fifo)
{
    unsigned next = 0;

    for (unsigned i = 0; i < r->seen[fifo]->len; i++) {
        const VirtIOMSG *m = &seen_at(r, fifo, i)->msg;
        const VirtIOMSG *req;

        if (!(m->type & VIRTIO_MSG_TYPE_RESPONSE)) {
            continue;
        }
        g_assert_cmpuint(next, <, r->sent[fifo]->len);
        req = &g_array_index(r->sent[fifo], VirtIOMSG, next++);
        g_assert_cmphex(m->type, ==, req->type | VIRTIO_MSG_TYPE_RESPONSE);
        g_assert_cmphex(m->id, ==, req->id);
        g_assert_cmpuint(m->dev_num, ==, req->dev_num);
        g_assert_cmphex(m->token, ==, req->token);
        if (m->type & VIRTIO_MSG_TYPE_BUS && m->id == VIRTIO_MSG_BUS_PING) {
            g_assert_cmphex(m->ping.data, ==, req->ping.data);
        }
    }
    g_assert_cmpuint(next, ==, r->sent[fifo]->len);
}

/* A request to (@fifo, @dev) and its reply, with nothing else around */
static void call(Rig *r, unsigned fifo, uint8_t id, uint16_t dev,
                 uint32_t status, VirtIOMSG *resp)
{
    VirtIOMSG req;

    msg_dev(&req, id, dev);
    req.status.status = status;
    req.token = r->token++;
    qvirtio_msg_amp_send(&r->amp, fifo, &req);
    g_assert_true(qvirtio_msg_amp_wait_response(&r->amp, fifo, &req, resp,
                                                TIMEOUT_US));
}

static uint32_t dev_status(Rig *r, unsigned fifo, uint16_t dev)
{
    VirtIOMSG resp;

    call(r, fifo, VIRTIO_MSG_GET_DEVICE_STATUS, dev, 0, &resp);
    return resp.status.status;
}

static void ping_now(Rig *r, unsigned fifo, uint32_t data)
{
    VirtIOMSG req, resp;

    msg_ping(&req, data);
    qvirtio_msg_amp_request(&r->amp, fifo, &req, &resp);
    g_assert_cmphex(resp.ping.data, ==, data);
}

/*
 * Put PINGs one at a time, ringing the doorbell after each, until the
 * device leaves one in the queue: its backlog is long enough that it
 * pauses.  Returns the number of PINGs put.
 */
static unsigned ping_until_paused(Rig *r, unsigned fifo, uint32_t first)
{
    unsigned n = 0;

    do {
        g_assert_cmpuint(n, <, 4 * (SLOTS + 64));
        put_ping(r, fifo, first + n++);
        qvirtio_msg_amp_doorbell(&r->amp, fifo);
    } while (!q_fill(r, fifo, QVMSG_AMP_TO_DEVICE));
    return n;
}

/* Fill the device-to-driver queue with PING replies; the device runs on. */
static void fill_to_driver(Rig *r, unsigned fifo, uint32_t first)
{
    for (uint32_t i = 0; q_fill(r, fifo, QVMSG_AMP_TO_DRIVER) < SLOTS; i++) {
        g_assert_cmpuint(i, <, SLOTS);
        put_ping(r, fifo, first + i);
        qvirtio_msg_amp_doorbell(&r->amp, fifo);
        g_assert_cmpuint(q_fill(r, fifo, QVMSG_AMP_TO_DEVICE), ==, 0);
    }
}

/* MSI-X: vector n writes MSIX_DATA(n) to msix_addr[n] in guest RAM */

static void msix_write(Rig *r, unsigned vec, unsigned field, uint32_t val)
{
    QPCIDevice *pdev = r->amp.pdev;

    qpci_io_writel(pdev, pdev->msix_table_bar, pdev->msix_table_off +
                   vec * PCI_MSIX_ENTRY_SIZE + field, val);
}

static void msix_mask(Rig *r, unsigned vec, bool masked)
{
    msix_write(r, vec, PCI_MSIX_ENTRY_VECTOR_CTRL,
               masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

static void msix_on(Rig *r)
{
    qpci_msix_enable(r->amp.pdev);
    for (unsigned i = 0; i < r->num_fifos; i++) {
        if (!r->msix_addr[i]) {
            r->msix_addr[i] = guest_alloc(&r->alloc, 4);
        }
        qtest_writel(r->qts, r->msix_addr[i], 0);
        msix_write(r, i, PCI_MSIX_ENTRY_LOWER_ADDR, r->msix_addr[i]);
        msix_write(r, i, PCI_MSIX_ENTRY_UPPER_ADDR, r->msix_addr[i] >> 32);
        msix_write(r, i, PCI_MSIX_ENTRY_DATA, MSIX_DATA(i));
        msix_mask(r, i, false);
        /* what was pending while MSI-X was off has just been sent */
        qtest_writel(r->qts, r->msix_addr[i], 0);
    }
}

/* Has vector @vec fired since last asked?  (Clears the word.) */
static bool msix_fired(Rig *r, unsigned vec)
{
    uint32_t v = qtest_readl(r->qts, r->msix_addr[vec]);

    g_assert(v == 0 || v == MSIX_DATA(vec));
    qtest_writel(r->qts, r->msix_addr[vec], 0);
    return v != 0;
}

/* virtio-blk behind FIFO 0, dev 0 */

static void blk_init(Rig *r)
{
    QVirtioDevice *vdev = &r->amp.vdev;
    VirtIOMSG resp;

    r->amp.fifo = 0;
    r->amp.dev_num = 0;
    call(r, 0, VIRTIO_MSG_DEVICE_INFO, 0, 0, &resp);
    g_assert_cmpuint(resp.info.device_id, ==, VIRTIO_ID_BLOCK);
    vdev->device_type = resp.info.device_id;
    qvirtio_start_device(vdev);
    qvirtio_set_features(vdev, 1ULL << VIRTIO_F_VERSION_1);
    g_free(r->vq);
    r->vq = qvirtqueue_setup(vdev, &r->alloc, 0);
    qvirtio_set_driver_ok(vdev);
    g_assert_cmphex(dev_status(r, 0, 0), ==, STATUS_LIVE);
}

static void pattern(uint8_t *buf, unsigned seed)
{
    for (unsigned i = 0; i < SECTOR; i++) {
        buf[i] = (seed * 0x9d + i * 13 + (i >> 5)) ^ 0x5a;
    }
}

/*
 * Put a request on the ring's descriptors and make it available, without
 * notifying.  A write stores pattern(@seed); a read expects what the
 * write @seed stored.
 */
static BlkReq *blk_post(Rig *r, uint32_t type, uint64_t sector,
                        unsigned seed)
{
    QVirtQueue *vq = r->vq;
    uint8_t hdr[BLK_HDR] = { 0 };
    BlkReq *q;
    uint16_t idx;

    g_assert_cmpuint(r->num_reqs, <, MAX_REQS);
    g_assert_cmpuint(vq->free_head + 3, <=, vq->size);
    q = &r->req[r->num_reqs++];
    q->type = type;
    q->sector = sector;
    q->addr = guest_alloc(&r->alloc, BLK_HDR + SECTOR + 1);
    pattern(q->data, seed);

    stl_le_p(hdr, type);
    stq_le_p(hdr + 8, sector);
    qtest_memwrite(r->qts, q->addr, hdr, sizeof(hdr));
    if (type == VIRTIO_BLK_T_OUT) {
        qtest_memwrite(r->qts, q->addr + BLK_HDR, q->data, SECTOR);
    } else {
        qtest_memset(r->qts, q->addr + BLK_HDR, 0, SECTOR);
    }
    qtest_writeb(r->qts, q->addr + BLK_HDR + SECTOR, 0xff);

    q->head = qvirtqueue_add(r->qts, vq, q->addr, BLK_HDR, false, true);
    qvirtqueue_add(r->qts, vq, q->addr + BLK_HDR, SECTOR,
                   type == VIRTIO_BLK_T_IN, true);
    qvirtqueue_add(r->qts, vq, q->addr + BLK_HDR + SECTOR, 1, true, false);

    idx = qtest_readw(r->qts, vq->avail + 2);
    qtest_writew(r->qts, vq->avail + 4 + 2 * (idx % vq->size), q->head);
    qtest_writew(r->qts, vq->avail + 2, idx + 1);
    return q;
}

static uint8_t blk_status_byte(Rig *r, const BlkReq *q)
{
    return qtest_readb(r->qts, q->addr + BLK_HDR + SECTOR);
}

/* Wait (in real time, the device's I/O is not clocked) for @used. */
static void blk_wait_used(Rig *r, uint16_t used)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (blk_used_idx(r) < used) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
        /* a qtest command lets the main loop run completions */
        qtest_clock_step(r->qts, 1000);
    }
    g_assert_cmpuint(blk_used_idx(r), ==, used);
}

/*
 * Every request posted is in the used ring exactly once, with the length
 * the device wrote and status OK; reads brought back @expect'ed data.
 */
static void blk_check_all_used(Rig *r)
{
    uint16_t used = blk_used_idx(r);
    bool found[MAX_REQS] = { false };

    g_assert_cmpuint(used, ==, r->num_reqs);
    for (uint16_t i = 0; i < used; i++) {
        uint64_t elem = r->vq->used + 4 + 8 * i;
        uint32_t id = qtest_readl(r->qts, elem);
        uint32_t len = qtest_readl(r->qts, elem + 4);
        unsigned k;

        for (k = 0; k < r->num_reqs && r->req[k].head != id; k++) {
            /* look it up */
        }
        g_assert_cmpuint(k, <, r->num_reqs);
        g_assert_false(found[k]);
        found[k] = true;
        g_assert_cmpuint(len, ==,
                         r->req[k].type == VIRTIO_BLK_T_IN ? SECTOR + 1 : 1);
        g_assert_cmpuint(blk_status_byte(r, &r->req[k]), ==,
                         VIRTIO_BLK_S_OK);
        if (r->req[k].type == VIRTIO_BLK_T_IN) {
            uint8_t buf[SECTOR];

            qtest_memread(r->qts, r->req[k].addr + BLK_HDR, buf, SECTOR);
            g_assert_cmpmem(buf, SECTOR, r->req[k].data, SECTOR);
        }
    }
}

/* The image file holds pattern(@seed + i) at sector @first + i. */
static void assert_on_disk(Rig *r, uint64_t first, unsigned seed, unsigned n)
{
    uint8_t want[SECTOR], got[SECTOR];
    int fd = open(r->image, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpint(pread(fd, got, SECTOR, (first + i) * SECTOR), ==,
                        SECTOR);
        pattern(want, seed + i);
        g_assert_cmpmem(got, SECTOR, want, SECTOR);
    }
    close(fd);
}

/* Read @n sectors from @first through virtio-blk: pattern(@seed + i). */
static void blk_read_back(Rig *r, uint64_t first, unsigned seed, unsigned n)
{
    uint16_t used = blk_used_idx(r);
    VirtIOMSG kick;

    for (unsigned i = 0; i < n; i++) {
        blk_post(r, VIRTIO_BLK_T_IN, first + i, seed + i);
    }
    msg_kick(&kick, 0);
    put_ok(r, 0, &kick);
    qvirtio_msg_amp_doorbell(&r->amp, 0);
    blk_wait_used(r, used + n);
    drain(r, 0, used + n);
    blk_check_all_used(r);
}

/*
 * The driver learns of every completion: the last EVENT_USED it read
 * came when the used index had its final value.  Returns the number of
 * EVENT_USED read.
 */
static unsigned assert_completions_notified(Rig *r)
{
    const Seen *last = NULL;
    unsigned n = 0;

    for (unsigned i = 0; i < r->seen[0]->len; i++) {
        const Seen *s = seen_at(r, 0, i);

        if (s->msg.type == 0 && s->msg.id == VIRTIO_MSG_EVENT_USED &&
            s->msg.dev_num == 0) {
            g_assert_cmpuint(s->msg.vq.index, ==, 0);
            last = s;
            n++;
        }
    }
    g_assert_nonnull(last);
    g_assert_cmpuint(last->used_idx, ==, blk_used_idx(r));
    return n;
}

/*
 * Writes of pattern(@seed + i) to sectors @first + i, made available and
 * kicked through the queue; the kick is put but the doorbell not rung.
 */
static void blk_write_batch(Rig *r, uint64_t first, unsigned seed,
                            unsigned n)
{
    VirtIOMSG kick;

    for (unsigned i = 0; i < n; i++) {
        blk_post(r, VIRTIO_BLK_T_OUT, first + i, seed + i);
    }
    msg_kick(&kick, 0);
    put_ok(r, 0, &kick);
}

/*
 * Busy traffic on FIFO 0 with virtio-blk at dev 0 and another device at
 * dev 1, up to the point where the device pauses:
 *  - batch 1 (sectors 10..13) completed, its EVENT_USED unread in the
 *    device-to-driver queue;
 *  - that queue full of PING replies, more replies in the backlog;
 *  - batch 2 (sectors 20..22, and a read of sector 10) completed while
 *    the queue was full: its EVENT_USED waits in the backlog;
 *  - PINGs until the backlog is long enough for the device to pause.
 */
static void busy_until_paused(Rig *r)
{
    blk_write_batch(r, 10, 10, 4);
    qvirtio_msg_amp_doorbell(&r->amp, 0);
    blk_wait_used(r, 4);
    g_assert_cmpuint(q_fill(r, 0, QVMSG_AMP_TO_DRIVER), >, 0);

    fill_to_driver(r, 0, 0x1000);
    for (int i = 0; i < 5; i++) {
        put_ping(r, 0, 0x2000 + i);
    }
    put_dev(r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 0);
    qvirtio_msg_amp_doorbell(&r->amp, 0);

    blk_write_batch(r, 20, 20, 3);
    blk_post(r, VIRTIO_BLK_T_IN, 10, 10);
    qvirtio_msg_amp_doorbell(&r->amp, 0);
    blk_wait_used(r, 8);
    g_assert_cmpuint(q_fill(r, 0, QVMSG_AMP_TO_DEVICE), ==, 0);
    g_assert_cmpuint(q_fill(r, 0, QVMSG_AMP_TO_DRIVER), ==, SLOTS);

    ping_until_paused(r, 0, 0x3000);
    g_assert_cmpuint(q_fill(r, 0, QVMSG_AMP_TO_DRIVER), ==, SLOTS);
    g_assert_cmpuint(blk_used_idx(r), ==, 8);
}

/*
 * Migration with virtio-blk requests in flight, the device-to-driver
 * queue full, replies and an EVENT_USED in the backlog and an MSI-X
 * vector pending.  On the destination everything arrives, in order, and
 * the disk holds what was written.
 */

/* Migrate to a new QEMU; the rig talks to the destination afterwards. */
static void migrate_rig(Rig *r)
{
    g_autofree char *uri = g_strdup_printf("unix:%s/vmsg-faults-%d.sock",
                                           g_get_tmp_dir(), (int)getpid());
    QTestState *src = r->qts;
    QTestState *dst = qtest_initf("%s" VM_OPTS "%s -incoming defer",
                                  qvirtio_msg_amp_machine()->args, r->args);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    const char *st;
    QDict *rsp;

    qtest_qmp_assert_success(dst, "{ 'execute': 'migrate-incoming',"
                             " 'arguments': { 'uri': %s } }", uri);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             " 'arguments': { 'uri': %s } }", uri);
    for (;;) {
        rsp = qtest_qmp(src, "{ 'execute': 'query-migrate' }");
        st = qdict_get_try_str(qdict_get_qdict(rsp, "return"), "status");
        g_assert_nonnull(st);
        g_assert_cmpstr(st, !=, "failed");
        if (!strcmp(st, "completed")) {
            qobject_unref(rsp);
            break;
        }
        qobject_unref(rsp);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(5 * 1000);
    }
    qtest_qmp_eventwait(dst, "RESUME");
    qtest_quit(src);
    rig_connect(r, dst);
}

static void test_migrate_busy(void)
{
    Rig r;
    unsigned kick3_at, n;
    VirtIOMSG kick;

    rig_start(&r, false, 1, true,
              "-device virtio-rng-device,bus=amp0.fifo0.dev1");
    blk_init(&r);
    msix_on(&r);
    msix_mask(&r, 0, true);

    busy_until_paused(&r);
    /* interrupts came while masked: pending, not delivered */
    g_assert_true(qpci_msix_pending(r.amp.pdev, 0));
    g_assert_false(msix_fired(&r, 0));

    /*
     * Batch 3 (sectors 30, 31 and a read of sector 20) is kicked behind
     * the paused PING.  Free slots one by one until the device has taken
     * the kick: it pauses again behind the next PING, and batch 3 may
     * still be in flight when migration starts.
     */
    blk_write_batch(&r, 30, 30, 2);
    blk_post(&r, VIRTIO_BLK_T_IN, 20, 20);
    kick3_at = (q_index(&r, 0, QVMSG_AMP_TO_DEVICE, QVMSG_AMP_Q_HEAD) +
                QVMSG_AMP_CAPACITY - 1) % QVMSG_AMP_CAPACITY;
    put_ping(&r, 0, 0x4000);
    put_dev(&r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 0);
    put_ping(&r, 0, 0x4001);
    for (n = 0; ; n++) {
        uint32_t past = (q_index(&r, 0, QVMSG_AMP_TO_DEVICE,
                                 QVMSG_AMP_Q_TAIL) + QVMSG_AMP_CAPACITY -
                         kick3_at) % QVMSG_AMP_CAPACITY;

        if (past >= 1 && past <= 3) {
            break;
        }
        g_assert_cmpuint(n, <, 8);
        g_assert_true(take(&r, 0));
        qvirtio_msg_amp_doorbell(&r.amp, 0);
    }
    /* ... and pauses again before the end */
    g_assert_cmpuint(q_fill(&r, 0, QVMSG_AMP_TO_DEVICE), >, 0);
    g_assert_cmpuint(q_fill(&r, 0, QVMSG_AMP_TO_DRIVER), ==, SLOTS);

    /* batch 4: kicked, but the kick waits in the driver-to-device queue */
    for (unsigned i = 0; i < 3; i++) {
        blk_post(&r, VIRTIO_BLK_T_OUT, 40 + i, 40 + i);
    }
    blk_post(&r, VIRTIO_BLK_T_IN, 11, 11);
    blk_post(&r, VIRTIO_BLK_T_IN, 21, 21);
    msg_kick(&kick, 0);
    put_ok(&r, 0, &kick);
    put_ping(&r, 0, 0x5000);
    put_dev(&r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 0);
    qvirtio_msg_amp_doorbell(&r.amp, 0);
    g_assert_cmpuint(blk_used_idx(&r), <=, 11);

    migrate_rig(&r);

    /* the state came along: full queue, waiting kick, pending vector */
    qpci_msix_enable(r.amp.pdev);
    g_assert_true(qpci_msix_pending(r.amp.pdev, 0));
    g_assert_true(qpci_msix_masked(r.amp.pdev, 0));
    g_assert_false(msix_fired(&r, 0));
    g_assert_cmpuint(q_fill(&r, 0, QVMSG_AMP_TO_DRIVER), ==, SLOTS);
    g_assert_cmpuint(q_fill(&r, 0, QVMSG_AMP_TO_DEVICE), >=, 3);

    msix_mask(&r, 0, false);
    qtest_clock_step(r.qts, 1000);
    g_assert_true(msix_fired(&r, 0));
    g_assert_false(qpci_msix_pending(r.amp.pdev, 0));

    drain(&r, 0, r.num_reqs);
    assert_quiet(&r, 0, 20);

    /* the first message was batch 1's notification */
    g_assert_cmphex(seen_at(&r, 0, 0)->msg.id, ==, VIRTIO_MSG_EVENT_USED);
    g_assert_cmpuint(seen_at(&r, 0, 0)->used_idx, >=, 4);
    assert_replies_in_order(&r, 0);
    for (unsigned i = 0; i < r.seen[0]->len; i++) {
        const VirtIOMSG *m = &seen_at(&r, 0, i)->msg;

        if (m->id == VIRTIO_MSG_GET_DEVICE_STATUS) {
            g_assert_cmphex(m->status.status, ==,
                            m->dev_num ? 0 : STATUS_LIVE);
        }
    }
    g_assert_cmpuint(assert_completions_notified(&r), >=, 2);
    blk_check_all_used(&r);

    /* what the disk holds, read through the device and from the file */
    blk_read_back(&r, 10, 10, 4);
    blk_read_back(&r, 20, 20, 3);
    blk_read_back(&r, 30, 30, 2);
    blk_read_back(&r, 40, 40, 3);
    assert_on_disk(&r, 10, 10, 4);
    assert_on_disk(&r, 20, 20, 3);
    assert_on_disk(&r, 30, 30, 2);
    assert_on_disk(&r, 40, 40, 3);
    assert_replies_in_order(&r, 0);
    assert_completions_notified(&r);

    /* interrupts flow again */
    g_assert_true(msix_fired(&r, 0));
    ping_now(&r, 0, 0x600d);
    qtest_clock_step(r.qts, 1000);
    g_assert_true(msix_fired(&r, 0));
    rig_stop(&r);
}

/*
 * GET_DEVICE_STATUS replies: before request number @after (in queue
 * order) dev 0 reads @before0 and dev 1 @before1, from there on both 0.
 */
static void assert_status_replies(Rig *r, unsigned after, uint32_t before0,
                                  uint32_t before1)
{
    unsigned k = 0;

    for (unsigned i = 0; i < r->seen[0]->len; i++) {
        const VirtIOMSG *m = &seen_at(r, 0, i)->msg;

        if (!(m->type & VIRTIO_MSG_TYPE_RESPONSE)) {
            continue;
        }
        if (m->id == VIRTIO_MSG_GET_DEVICE_STATUS) {
            g_assert_cmphex(m->status.status, ==,
                            k >= after ? 0 : m->dev_num ? before1 : before0);
        }
        k++;
    }
}

/*
 * Faults in the middle of traffic: busy_until_paused(), then batch 3
 * (sectors 30, 31) kicked with the kick waiting in the queue behind the
 * paused PING, and more requests behind it.  Returns the number of
 * requests owed a reply before those.
 */
static unsigned busy_with_waiting_kick(Rig *r)
{
    unsigned before;

    busy_until_paused(r);
    before = r->sent[0]->len;
    blk_write_batch(r, 30, 30, 2);
    put_ping(r, 0, 0x4000);
    put_dev(r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 0);
    put_dev(r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 0);
    qvirtio_msg_amp_doorbell(&r->amp, 0);
    g_assert_cmpuint(q_fill(r, 0, QVMSG_AMP_TO_DEVICE), ==, 5);
    g_assert_cmpuint(q_fill(r, 0, QVMSG_AMP_TO_DRIVER), ==, SLOTS);
    return before;
}

static void busy_rig_start(Rig *r, bool bridged)
{
    VirtIOMSG resp;

    rig_start(r, bridged, 1, true,
              "-device virtio-rng-device,bus=amp0.fifo0.dev1");
    blk_init(r);
    msix_on(r);
    call(r, 0, VIRTIO_MSG_SET_DEVICE_STATUS, 1,
         VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, &resp);
    g_assert_cmphex(resp.status.status, ==,
                    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
}

/* Forget the driver's state: it starts over after a fault. */
static void driver_forget(Rig *r)
{
    for (unsigned i = 0; i < MAX_FIFOS; i++) {
        g_array_set_size(r->sent[i], 0);
        g_array_set_size(r->seen[i], 0);
    }
    g_free(r->vq);
    r->vq = NULL;
    r->num_reqs = 0;
}

/*
 * After the fault, a fresh driver brings virtio-blk up again; what was
 * written and completed before (batch 1) is on the disk, and new writes
 * work.
 */
static void fresh_driver_works(Rig *r)
{
    VirtIOMSG resp;

    blk_init(r);
    blk_write_batch(r, 50, 50, 4);
    qvirtio_msg_amp_doorbell(&r->amp, 0);
    blk_wait_used(r, 4);
    drain(r, 0, 4);
    assert_completions_notified(r);
    blk_read_back(r, 10, 10, 4);
    blk_read_back(r, 50, 50, 4);
    assert_on_disk(r, 10, 10, 4);
    assert_on_disk(r, 50, 50, 4);
    assert_replies_in_order(r, 0);
    call(r, 0, VIRTIO_MSG_GET_VQUEUE, 1, 0, &resp);
    g_assert_cmpuint(resp.vq.max_size, !=, 0);
}

/*
 * The device after a reset of its function: zeroed queues, nothing
 * pending, nothing sent by itself; the first messages the driver reads
 * are the replies to its first requests, and both devices are reset.
 */
static void assert_clean_after_reset(Rig *r)
{
    VirtIOMSG resp;

    driver_forget(r);
    rig_connect(r, r->qts);
    assert_fifo_zeroed(r, 0);
    qpci_msix_enable(r->amp.pdev);
    g_assert_true(qpci_msix_masked(r->amp.pdev, 0));
    g_assert_false(qpci_msix_pending(r->amp.pdev, 0));
    assert_quiet(r, 0, 20);
    assert_fifo_zeroed(r, 0);
    g_assert_false(qpci_msix_pending(r->amp.pdev, 0));
    qpci_msix_disable(r->amp.pdev);
    msix_on(r);

    put_ping(r, 0, 0xaaaa);
    put_dev(r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 0);
    put_dev(r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 0);
    qvirtio_msg_amp_doorbell(&r->amp, 0);
    drain(r, 0, 0);
    g_assert_cmpuint(r->seen[0]->len, ==, 3);
    assert_replies_in_order(r, 0);
    assert_status_replies(r, 0, 0, 0);
    g_assert_true(msix_fired(r, 0));
    assert_quiet(r, 0, 20);

    call(r, 0, VIRTIO_MSG_GET_VQUEUE, 0, 0, &resp);
    g_assert_cmpuint(resp.vq.max_size, !=, 0);
    g_assert_cmpuint(resp.vq.size, ==, 0);
    g_assert_cmphex(resp.vq.desc, ==, 0);
    g_assert_cmphex(resp.vq.driver, ==, 0);
    g_assert_cmphex(resp.vq.device, ==, 0);
}

/* system_reset (QMP) with everything busy */
static void test_system_reset_busy(void)
{
    Rig r;

    busy_rig_start(&r, false);
    busy_with_waiting_kick(&r);
    qtest_qmp_assert_success(r.qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(r.qts, "RESET");
    assert_clean_after_reset(&r);
    fresh_driver_works(&r);
    rig_stop(&r);
}

/*
 * A reset of the PCI bus the function is on, by the guest: the device
 * sits behind a PCI-PCI bridge whose Secondary Bus Reset bit is pulsed.
 * (The function has no FLR: it is a conventional PCI device without a
 * PCI Express capability, and QEMU has no QMP command to reset a single
 * device; a secondary bus reset is the PCI reset a guest can do.)
 */
static void test_bus_reset_busy(void)
{
    QPCIDevice *br;
    uint16_t ctl;
    Rig r;

    busy_rig_start(&r, true);
    busy_with_waiting_kick(&r);
    br = qpci_device_find(r.bus, BRIDGE_DEVFN);
    g_assert_nonnull(br);
    ctl = qpci_config_readw(br, PCI_BRIDGE_CONTROL);
    qpci_config_writew(br, PCI_BRIDGE_CONTROL,
                       ctl | PCI_BRIDGE_CTL_BUS_RESET);
    qpci_config_writew(br, PCI_BRIDGE_CONTROL, ctl);
    g_free(br);
    /* the function's own configuration was reset */
    g_assert_cmphex(qpci_config_readw(r.amp.pdev, PCI_COMMAND), ==, 0);
    assert_clean_after_reset(&r);
    fresh_driver_works(&r);
    rig_stop(&r);
}

/*
 * Bus Master Enable cleared with everything busy: the devices are reset
 * and stop touching memory, but messages keep flowing (the FIFOs are in
 * the function's BAR) and everything owed arrives, in order; the kick
 * that was waiting finds a reset device and does nothing.
 */
static void test_bus_master_off_busy(void)
{
    uint16_t cmd;
    unsigned after;
    Rig r;

    busy_rig_start(&r, false);
    after = busy_with_waiting_kick(&r);
    cmd = qpci_config_readw(r.amp.pdev, PCI_COMMAND);
    qpci_config_writew(r.amp.pdev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);

    drain(&r, 0, 0);
    assert_quiet(&r, 0, 20);
    assert_replies_in_order(&r, 0);
    assert_status_replies(&r, after, STATUS_LIVE,
                          VIRTIO_CONFIG_S_ACKNOWLEDGE |
                          VIRTIO_CONFIG_S_DRIVER);
    /* batches 1 and 2 completed, batch 3 was never touched */
    g_assert_cmpuint(blk_used_idx(&r), ==, 8);
    g_assert_cmpuint(blk_status_byte(&r, &r.req[8]), ==, 0xff);
    g_assert_cmpuint(blk_status_byte(&r, &r.req[9]), ==, 0xff);
    assert_completions_notified(&r);
    g_assert_cmphex(dev_status(&r, 0, 0), ==, 0);

    qpci_config_writew(r.amp.pdev, PCI_COMMAND, cmd);
    driver_forget(&r);
    fresh_driver_works(&r);
    rig_stop(&r);
}

/*
 * A guest floods both FIFOs (num-fifos=2) and consumes nothing for
 * VMSG_FLOOD_SECONDS (default 3) of wall time: PINGs and
 * GET_DEVICE_STATUS for two devices on each FIFO, plus hot-plug events
 * on FIFO 1.  QEMU's memory stays bounded, and once the guest drains,
 * every reply arrives, in order per FIFO.
 */

#define FLOOD_DEVICES \
    "-device virtio-rng-device,bus=amp0.fifo0.dev0 " \
    "-device virtio-rng-device,bus=amp0.fifo0.dev1 " \
    "-device virtio-rng-device,bus=amp0.fifo1.dev0 " \
    "-device virtio-rng-device,bus=amp0.fifo1.dev1"
#define FLOOD_HOTPLUGS  40
#define FLOOD_HP_DEV    5

static const uint32_t flood_status[MAX_FIFOS][2] = {
    { VIRTIO_CONFIG_S_ACKNOWLEDGE,
      VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER },
    { VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
      VIRTIO_CONFIG_S_ACKNOWLEDGE },
};

static double flood_seconds(void)
{
    const char *env = g_getenv("VMSG_FLOOD_SECONDS");
    double secs = env ? g_ascii_strtod(env, NULL) : 0;

    return secs > 0 ? secs : 3;
}

static long rss_kib(Rig *r)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status",
                                            (int)qtest_pid(r->qts));
    g_autofree char *text = NULL;
    const char *line, *end;
    long kib;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    line = strstr(text, "VmRSS:");
    g_assert_nonnull(line);
    g_assert_cmpint(qemu_strtol(line + strlen("VmRSS:"), &end, 10, &kib),
                    ==, 0);
    return kib;
}

/* Put message @k of the flood on @fifo: a PING or a status request. */
static bool flood_put(Rig *r, unsigned fifo, unsigned k)
{
    VirtIOMSG m;

    if (k % 3 == 0) {
        msg_ping(&m, (fifo << 24) | k);
    } else {
        msg_dev(&m, VIRTIO_MSG_GET_DEVICE_STATUS, k % 3 - 1);
    }
    return put_msg(r, fifo, &m, true);
}

static void hotplug_cycle(Rig *r)
{
    g_autofree char *bus = g_strdup_printf("amp0.fifo1.dev%d", FLOOD_HP_DEV);

    qtest_qmp_device_add(r->qts, "virtio-rng-device", "churn",
                         "{ 'bus': %s }", bus);
    qtest_qmp_device_del(r->qts, "churn");
}

static void test_flood(void)
{
    double secs = flood_seconds();
    unsigned k[MAX_FIFOS] = { 0 }, hotplugs = 0, rounds = 0;
    long rss_before, rss_flooded, rss_drained;
    gint64 start;
    Rig r;

    rig_start(&r, false, 2, false, FLOOD_DEVICES);
    for (unsigned f = 0; f < MAX_FIFOS; f++) {
        for (uint16_t dev = 0; dev < 2; dev++) {
            VirtIOMSG resp;

            call(&r, f, VIRTIO_MSG_SET_DEVICE_STATUS, dev,
                 flood_status[f][dev], &resp);
            g_assert_cmphex(resp.status.status, ==, flood_status[f][dev]);
        }
        /* warm up: one full queue and a backlog, drained */
        fill_to_driver(&r, f, 0);
        hotplug_cycle(&r);
        drain(&r, f, 0);
        take_for(&r, f, 20);
        g_array_set_size(r.sent[f], 0);
        g_array_set_size(r.seen[f], 0);
    }
    rss_before = rss_kib(&r);

    start = g_get_monotonic_time();
    while (g_get_monotonic_time() - start < secs * G_USEC_PER_SEC) {
        for (unsigned f = 0; f < MAX_FIFOS; f++) {
            while (flood_put(&r, f, k[f])) {
                k[f]++;
            }
            qvirtio_msg_amp_doorbell(&r.amp, f);
        }
        if (hotplugs < FLOOD_HOTPLUGS && rounds % 8 == 0) {
            hotplug_cycle(&r);
            hotplugs++;
        }
        qtest_clock_step(r.qts, TICK_NS);
        rounds++;
    }
    rss_flooded = rss_kib(&r);
    g_test_message("flood: %u rounds, %u and %u messages, %u hot-plugs, "
                   "VmRSS %ld -> %ld KiB", rounds, k[0], k[1], hotplugs,
                   rss_before, rss_flooded);
    /* the device stopped taking requests: both queues stayed full */
    for (unsigned f = 0; f < MAX_FIFOS; f++) {
        g_assert_cmpuint(q_fill(&r, f, QVMSG_AMP_TO_DEVICE), ==, SLOTS);
        g_assert_cmpuint(q_fill(&r, f, QVMSG_AMP_TO_DRIVER), ==, SLOTS);
    }
    g_assert_cmpint(rss_flooded - rss_before, <, RSS_SLACK_KIB);

    for (unsigned f = 0; f < MAX_FIFOS; f++) {
        unsigned events = 0;

        drain(&r, f, 0);
        assert_quiet(&r, f, 20);
        assert_replies_in_order(&r, f);
        g_assert_cmpuint(r.sent[f]->len, ==, k[f]);
        for (unsigned i = 0; i < r.seen[f]->len; i++) {
            const VirtIOMSG *m = &seen_at(&r, f, i)->msg;

            if (m->type & VIRTIO_MSG_TYPE_RESPONSE) {
                if (m->id == VIRTIO_MSG_GET_DEVICE_STATUS) {
                    g_assert_cmphex(m->status.status, ==,
                                    flood_status[f][m->dev_num]);
                }
                continue;
            }
            /* hot-plug events on FIFO 1 only, READY and REMOVED in turn */
            g_assert_cmpuint(f, ==, 1);
            g_assert_cmphex(m->type, ==, VIRTIO_MSG_TYPE_BUS);
            g_assert_cmphex(m->id, ==, VIRTIO_MSG_BUS_EVENT_DEVICE);
            g_assert_cmpuint(m->event_device.dev_num, ==, FLOOD_HP_DEV);
            g_assert_cmpuint(m->event_device.state, ==,
                             events % 2 ? VIRTIO_MSG_DEVICE_REMOVED :
                             VIRTIO_MSG_DEVICE_READY);
            events++;
        }
        g_assert_cmpuint(events, ==, f ? 2 * hotplugs : 0);
    }
    rss_drained = rss_kib(&r);
    g_test_message("drained: VmRSS %ld KiB", rss_drained);
    g_assert_cmpint(rss_drained - rss_before, <, RSS_SLACK_KIB);
    ping_now(&r, 0, 0xf10d);
    ping_now(&r, 1, 0xf11d);
    rig_stop(&r);
}

/*
 * Unplug and replug of a virtio device while its replies wait in the
 * backlog (the device-to-driver queue is full).  What the driver must
 * see: the removed device's replies and notifications before its
 * EVENT_DEVICE REMOVED, nothing of that dev_num until READY, and only the
 * new device's messages after READY, the new device's EVENT_USED among
 * them (not merged into the old device's waiting one).  The removed
 * device had a request still in progress (rate-limited virtio-rng): it
 * never completes and does not disturb anything later.
 */

static uint16_t ring_used_idx(Rig *r, QVirtQueue *vq)
{
    return qtest_readw(r->qts, vq->used + 2);
}

/* A 64-byte zeroed buffer for virtio-rng, made available on @vq */
static uint64_t rng_post(Rig *r, QVirtQueue *vq)
{
    uint64_t addr = guest_alloc(&r->alloc, 64);
    uint16_t idx = qtest_readw(r->qts, vq->avail + 2);
    uint32_t head;

    qtest_memset(r->qts, addr, 0, 64);
    head = qvirtqueue_add(r->qts, vq, addr, 64, true, false);
    qtest_writew(r->qts, vq->avail + 4 + 2 * (idx % vq->size), head);
    qtest_writew(r->qts, vq->avail + 2, idx + 1);
    return addr;
}

static void wait_ring_used(Rig *r, QVirtQueue *vq, uint16_t used)
{
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;

    while (ring_used_idx(r, vq) < used) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
        qtest_clock_step(r->qts, 1000);
    }
}

/* Index in the log of EVENT_DEVICE(@dev, @state); exactly one of them */
static unsigned find_event_device(Rig *r, uint16_t dev, uint16_t state)
{
    unsigned at = UINT_MAX;

    for (unsigned i = 0; i < r->seen[0]->len; i++) {
        const VirtIOMSG *m = &seen_at(r, 0, i)->msg;

        if (m->type == VIRTIO_MSG_TYPE_BUS &&
            m->id == VIRTIO_MSG_BUS_EVENT_DEVICE &&
            m->event_device.dev_num == dev &&
            m->event_device.state == state) {
            g_assert_cmpuint(at, ==, UINT_MAX);
            at = i;
        }
    }
    g_assert_cmpuint(at, !=, UINT_MAX);
    return at;
}

static void test_unplug_replug_backlog(void)
{
    const uint32_t ack_drv = VIRTIO_CONFIG_S_ACKNOWLEDGE |
                             VIRTIO_CONFIG_S_DRIVER;
    QVirtioDevice *vdev;
    QVirtQueue *old_vq, *new_vq;
    uint16_t old_from, new_from;
    unsigned removed, ready, driver_ok_at = UINT_MAX;
    unsigned old_used = 0, new_used_after = 0;
    uint64_t new_buf;
    uint8_t data[64], zero[64] = { 0 };
    VirtIOMSG m, resp;
    QDict *rsp;
    Rig r;

    rig_start(&r, false, 1, false,
              "-device virtio-rng-device,bus=amp0.fifo0.dev0 "
              "-device virtio-rng-device,id=victim,bus=amp0.fifo0.dev1,"
              "max-bytes=64,period=60000");
    vdev = &r.amp.vdev;
    r.amp.fifo = 0;
    r.amp.dev_num = 1;
    vdev->device_type = VIRTIO_ID_RNG;
    qvirtio_start_device(vdev);
    qvirtio_set_features(vdev, 1ULL << VIRTIO_F_VERSION_1);
    old_vq = qvirtqueue_setup(vdev, &r.alloc, 0);
    qvirtio_set_driver_ok(vdev);
    call(&r, 0, VIRTIO_MSG_SET_DEVICE_STATUS, 0, ack_drv, &resp);

    /* the queue full; replies of dev 1 and its EVENT_USED in the backlog */
    fill_to_driver(&r, 0, 0);
    old_from = r.token;
    put_dev(&r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 0);
    put_ping(&r, 0, 0x100);
    put_dev(&r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 0);
    rng_post(&r, old_vq);
    rng_post(&r, old_vq);       /* over the rate limit: stays in progress */
    msg_kick(&m, 1);
    put_ok(&r, 0, &m);
    put_dev(&r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 0);
    qvirtio_msg_amp_doorbell(&r.amp, 0);
    wait_ring_used(&r, old_vq, 1);
    g_assert_cmpuint(q_fill(&r, 0, QVMSG_AMP_TO_DEVICE), ==, 0);
    g_assert_cmpuint(q_fill(&r, 0, QVMSG_AMP_TO_DRIVER), ==, SLOTS);

    qtest_qmp_device_del(r.qts, "victim");
    /* for the removed dev_num: dropped; the rest goes on */
    msg_dev(&m, VIRTIO_MSG_GET_DEVICE_STATUS, 1);
    g_assert_true(put_msg(&r, 0, &m, false));
    put_ping(&r, 0, 0x200);
    qvirtio_msg_amp_doorbell(&r.amp, 0);
    g_assert_cmpuint(q_fill(&r, 0, QVMSG_AMP_TO_DEVICE), ==, 0);

    qtest_qmp_device_add(r.qts, "virtio-rng-device", "victim",
                         "{ 'bus': 'amp0.fifo0.dev1' }");
    /* the new device brought up without waiting for any reply */
    new_from = r.token;
    put_dev(&r, 0, VIRTIO_MSG_SET_DEVICE_STATUS, 1, ack_drv);
    msg_dev(&m, VIRTIO_MSG_SET_FEATURES, 1);
    m.features.index = 0;
    m.features.num = 2;
    m.features.blocks[1] = (1ULL << VIRTIO_F_VERSION_1) >> 32;
    put_ok(&r, 0, &m);
    put_dev(&r, 0, VIRTIO_MSG_SET_DEVICE_STATUS, 1,
            ack_drv | VIRTIO_CONFIG_S_FEATURES_OK);
    new_vq = g_new0(QVirtQueue, 1);
    new_vq->vdev = vdev;
    new_vq->size = 8;
    new_vq->num_free = 8;
    new_vq->align = 4096;
    qvring_init(r.qts, &r.alloc, new_vq,
                guest_alloc(&r.alloc, qvring_size(8, 4096)));
    msg_dev(&m, VIRTIO_MSG_SET_VQUEUE, 1);
    m.vq.size = new_vq->size;
    m.vq.desc = new_vq->desc;
    m.vq.driver = new_vq->avail;
    m.vq.device = new_vq->used;
    put_ok(&r, 0, &m);
    put_dev(&r, 0, VIRTIO_MSG_SET_DEVICE_STATUS, 1, STATUS_LIVE);
    new_buf = rng_post(&r, new_vq);
    msg_kick(&m, 1);
    put_ok(&r, 0, &m);
    put_dev(&r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 0);
    qvirtio_msg_amp_doorbell(&r.amp, 0);

    drain(&r, 0, 0);
    wait_ring_used(&r, new_vq, 1);
    take_for(&r, 0, 20);
    assert_replies_in_order(&r, 0);

    removed = find_event_device(&r, 1, VIRTIO_MSG_DEVICE_REMOVED);
    ready = find_event_device(&r, 1, VIRTIO_MSG_DEVICE_READY);
    g_assert_cmpuint(removed, <, ready);
    for (unsigned i = 0; i < r.seen[0]->len; i++) {
        const VirtIOMSG *msg = &seen_at(&r, 0, i)->msg;
        bool reply = msg->type & VIRTIO_MSG_TYPE_RESPONSE;

        if ((msg->type & VIRTIO_MSG_TYPE_BUS) || msg->dev_num != 1) {
            continue;
        }
        /* nothing of dev 1 between its removal and its return */
        g_assert_true(i < removed || i > ready);
        if (reply && msg->token < new_from) {
            /* the old device answered before it went */
            g_assert_cmpuint(msg->token, >=, old_from);
            g_assert_cmpuint(i, <, removed);
            g_assert_cmphex(msg->status.status, ==, STATUS_LIVE);
        } else if (reply) {
            g_assert_cmpuint(i, >, ready);
            if (msg->id == VIRTIO_MSG_SET_DEVICE_STATUS &&
                msg->status.status == STATUS_LIVE) {
                driver_ok_at = i;
            }
        } else {
            g_assert_cmphex(msg->id, ==, VIRTIO_MSG_EVENT_USED);
            if (i < removed) {
                old_used++;
            } else if (i > driver_ok_at && driver_ok_at != UINT_MAX) {
                new_used_after++;
            }
        }
    }
    g_assert_cmpuint(old_used, ==, 1);
    g_assert_cmpuint(new_used_after, ==, 1);
    qtest_memread(r.qts, new_buf, data, sizeof(data));
    g_assert_cmpint(memcmp(data, zero, sizeof(data)), !=, 0);

    /* past the old device's rate-limit period: nothing moves */
    qtest_clock_step(r.qts, 61 * 1000 * (int64_t)TICK_NS);
    g_assert_cmpuint(ring_used_idx(&r, old_vq), ==, 1);
    assert_quiet(&r, 0, 20);
    rsp = qtest_qmp(r.qts, "{ 'execute': 'query-status' }");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);

    msg_dev(&m, 0, 0);
    virtio_msg_init(&m, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_GET_DEVICES,
                    0, 0);
    m.devices.offset = 0;
    m.devices.count = 32;
    qvirtio_msg_amp_request(&r.amp, 0, &m, &resp);
    g_assert_cmphex(resp.devices.bitmap[0], ==, 0x3);
    g_assert_cmphex(dev_status(&r, 0, 1), ==, STATUS_LIVE);
    g_free(old_vq);
    g_free(new_vq);
    rig_stop(&r);
}

/*
 * Unplug and replug while the device is paused (its backlog long) and a
 * request for the unplugged dev_num still waits in the driver-to-device
 * queue: the device reads that request only after the replug.  Nothing
 * of that dev_num may come between REMOVED and READY, nor anything from
 * the old device after REMOVED; if the request is answered, it is by the
 * new device (status 0), after READY.
 */
static void test_unplug_replug_paused(void)
{
    unsigned removed, ready, answered = UINT_MAX;
    uint16_t token;
    VirtIOMSG m, resp;
    Rig r;

    rig_start(&r, false, 1, false,
              "-device virtio-rng-device,bus=amp0.fifo0.dev0 "
              "-device virtio-rng-device,id=victim,bus=amp0.fifo0.dev1");
    call(&r, 0, VIRTIO_MSG_SET_DEVICE_STATUS, 1,
         VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, &resp);
    ping_until_paused(&r, 0, 0);
    put_dev(&r, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 1, 0);
    token = r.token - 1;
    put_ping(&r, 0, 0x100);
    qvirtio_msg_amp_doorbell(&r.amp, 0);
    g_assert_cmpuint(q_fill(&r, 0, QVMSG_AMP_TO_DEVICE), ==, 3);

    qtest_qmp_device_del(r.qts, "victim");
    qtest_qmp_device_add(r.qts, "virtio-rng-device", "victim",
                         "{ 'bus': 'amp0.fifo0.dev1' }");
    drain(&r, 0, 0);
    take_for(&r, 0, 20);

    removed = find_event_device(&r, 1, VIRTIO_MSG_DEVICE_REMOVED);
    ready = find_event_device(&r, 1, VIRTIO_MSG_DEVICE_READY);
    g_assert_cmpuint(removed, <, ready);
    for (unsigned i = 0; i < r.seen[0]->len; i++) {
        const VirtIOMSG *msg = &seen_at(&r, 0, i)->msg;

        if ((msg->type & VIRTIO_MSG_TYPE_BUS) || msg->dev_num != 1) {
            continue;
        }
        g_assert_cmpuint(i, >, ready);
        g_assert_cmphex(msg->type, ==, VIRTIO_MSG_TYPE_RESPONSE);
        g_assert_cmphex(msg->token, ==, token);
        g_assert_cmphex(msg->status.status, ==, 0);
        answered = i;
    }
    g_test_message("request queued before the unplug: %s",
                   answered == UINT_MAX ? "dropped" :
                   "answered by the new device after READY");
    if (answered == UINT_MAX) {
        g_array_remove_index(r.sent[0], r.sent[0]->len - 2);
    }
    assert_replies_in_order(&r, 0);
    assert_quiet(&r, 0, 20);
    g_assert_cmphex(dev_status(&r, 0, 1), ==, 0);
    msg_ping(&m, 0x5151);
    qvirtio_msg_amp_request(&r.amp, 0, &m, &resp);
    g_assert_cmphex(resp.ping.data, ==, 0x5151);
    rig_stop(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/virtio-msg-faults/migrate-busy", test_migrate_busy);
    qtest_add_func("/virtio-msg-faults/system-reset-busy",
                   test_system_reset_busy);
    qtest_add_func("/virtio-msg-faults/bus-reset-busy", test_bus_reset_busy);
    qtest_add_func("/virtio-msg-faults/bus-master-off-busy",
                   test_bus_master_off_busy);
    qtest_add_func("/virtio-msg-faults/flood", test_flood);
    qtest_add_func("/virtio-msg-faults/unplug-replug-backlog",
                   test_unplug_replug_backlog);
    qtest_add_func("/virtio-msg-faults/unplug-replug-paused",
                   test_unplug_replug_paused);
    return g_test_run();
}
