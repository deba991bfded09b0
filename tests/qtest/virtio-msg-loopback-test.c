/*
 * QTest: the driver-side proxies over virtio-msg-bus-loopback
 *
 * One QEMU holds both ends of a virtio-msg bus: virtio device models on
 * the bus are the device side, virtio-msg-proxy-driver devices behind the
 * virtio-mmio transports of -M virt are the driver side.  The test drives
 * the proxies with libqos's virtio-mmio driver, as a guest driver would,
 * and checks that what the real devices do arrives through the proxies.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "libqos/libqos-malloc.h"
#include "libqos/virtio.h"
#include "libqos/virtio-mmio.h"
#include "standard-headers/linux/virtio_blk.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"
#include "standard-headers/linux/virtio_mmio.h"

#define MACHINE         "-M virt -m 128M -nic none " \
                        "-global virtio-mmio.force-legacy=false "
#define LOOPBACK        "-device virtio-msg-bus-loopback,name=lo "
#define PROXY(id, mmio_bus, dev_num) \
    "-device virtio-msg-proxy-driver,id=" id ",bus=virtio-mmio-bus." \
    #mmio_bus ",msg-bus=lo,dev-num=" #dev_num " "
#define RAM_BASE        0x40000000ULL
#define RAM_SIZE        (128 * MiB)
#define MMIO_BASE       0x0a000000ULL
#define MMIO_STRIDE     0x200ULL
#define MMIO_COUNT      32
#define PAGE_SIZE       4096
#define WAIT_US         (10 * G_USEC_PER_SEC)
#define EXIT_WAIT_MS    (60 * 1000)
#define VERSION_1       (1ULL << VIRTIO_F_VERSION_1)
#define RNG_LEN         64
#define SECTOR          512
#define DISK_SIZE       (1 * MiB)

typedef struct LoopTest {
    QTestState *qts;
    QGuestAllocator alloc;      /* guest RAM for rings and buffers */
} LoopTest;

/*
 * A raw image for a virtio-blk-device.  Its name goes away once QEMU has
 * opened it: the test reads it through @fd, and nothing is left behind
 * whatever happens.
 */
typedef struct Disk {
    char *path;
    int fd;
} Disk;

/* A proxy seen through its virtio-mmio transport */
typedef struct Proxy {
    QVirtioMMIODevice mmio;
    QVirtQueue *vq;
} Proxy;

/*
 * Address of the transport behind virtio-mmio-bus.@bus.  Which end of the
 * window bus 0 is at is found once, with a plain virtio-rng-device on it.
 */
static uint64_t mmio_addr(unsigned bus)
{
    static int first = -1;      /* transport index of virtio-mmio-bus.0 */

    if (first < 0) {
        QTestState *qts = qtest_init("-M virt -nic none -device "
                                     "virtio-rng-device,bus=virtio-mmio-bus.0");

        for (int i = 0; i < MMIO_COUNT; i++) {
            uint64_t addr = MMIO_BASE + MMIO_STRIDE * i;

            if (qtest_readl(qts, addr + QVIRTIO_MMIO_DEVICE_ID)) {
                g_assert_cmpint(first, <, 0);
                first = i;
            }
        }
        qtest_quit(qts);
        g_assert(first == 0 || first == MMIO_COUNT - 1);
    }
    g_assert_cmpuint(bus, <, MMIO_COUNT);
    return MMIO_BASE + MMIO_STRIDE * (first ? first - bus : bus);
}

static void test_start(LoopTest *t, const char *devices)
{
    alloc_init(&t->alloc, 0, RAM_BASE + MiB, RAM_BASE + RAM_SIZE, PAGE_SIZE);
    t->qts = qtest_initf(MACHINE LOOPBACK "%s", devices);
}

static void test_stop(LoopTest *t)
{
    alloc_destroy(&t->alloc);
    qtest_quit(t->qts);
}

static void proxy_open(LoopTest *t, Proxy *p, unsigned bus)
{
    memset(p, 0, sizeof(*p));
    qvirtio_mmio_init_device(&p->mmio, t->qts, mmio_addr(bus), PAGE_SIZE);
    /* virtio-msg devices are virtio 1.0 devices: a modern transport */
    g_assert_cmpuint(p->mmio.version, ==, 2);
}

static QVirtioDevice *vdev(Proxy *p)
{
    return &p->mmio.vdev;
}

static void mmio_writel(Proxy *p, uint64_t reg, uint32_t val)
{
    qtest_writel(p->mmio.qts, p->mmio.addr + reg, val);
}

/*
 * Reset the device, negotiate @features (which must be offered), set up
 * queue 0 and set DRIVER_OK.  libqos's virtio-mmio driver only knows the
 * legacy queue PFN register, so the rings are given to the modern
 * registers here.
 */
static void proxy_up(LoopTest *t, Proxy *p, uint64_t features)
{
    QVirtioDevice *d = vdev(p);
    QVirtQueue *vq;

    qvirtio_start_device(d);
    g_assert_cmphex(qvirtio_get_features(d) & features, ==, features);
    qvirtio_set_features(d, features);

    vq = qvirtqueue_setup(d, &t->alloc, 0);
    mmio_writel(p, VIRTIO_MMIO_QUEUE_DESC_LOW, vq->desc);
    mmio_writel(p, VIRTIO_MMIO_QUEUE_DESC_HIGH, vq->desc >> 32);
    mmio_writel(p, VIRTIO_MMIO_QUEUE_AVAIL_LOW, vq->avail);
    mmio_writel(p, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, vq->avail >> 32);
    mmio_writel(p, VIRTIO_MMIO_QUEUE_USED_LOW, vq->used);
    mmio_writel(p, VIRTIO_MMIO_QUEUE_USED_HIGH, vq->used >> 32);
    mmio_writel(p, VIRTIO_MMIO_QUEUE_READY, 1);
    p->vq = vq;

    qvirtio_set_driver_ok(d);
}

/* Forget the queue of a device that was reset */
static void proxy_drop_queue(LoopTest *t, Proxy *p)
{
    qvirtqueue_cleanup(vdev(p)->bus, p->vq, &t->alloc);
    p->vq = NULL;
}

/* Kick the chain at @head and wait for the device to use it. */
static uint32_t proxy_complete(LoopTest *t, Proxy *p, uint32_t head)
{
    uint32_t len = 0;

    qvirtqueue_kick(t->qts, vdev(p), p->vq, head);
    qvirtio_wait_used_elem(t->qts, vdev(p), p->vq, head, &len, WAIT_US);
    return len;
}

/* Read RNG_LEN bytes from a virtio-rng behind @p; check they are random. */
static void rng_read(LoopTest *t, Proxy *p)
{
    uint8_t buf[RNG_LEN];
    uint64_t addr = guest_alloc(&t->alloc, RNG_LEN);
    uint32_t head;
    bool nonzero = false;

    qtest_memset(t->qts, addr, 0, RNG_LEN);
    qvirtqueue_reset_pool(p->vq);
    head = qvirtqueue_add(t->qts, p->vq, addr, RNG_LEN, true, false);
    g_assert_cmpuint(proxy_complete(t, p, head), ==, RNG_LEN);

    qtest_memread(t->qts, addr, buf, RNG_LEN);
    for (int i = 0; i < RNG_LEN; i++) {
        nonzero |= buf[i] != 0;
    }
    g_assert_true(nonzero);
    guest_free(&t->alloc, addr);
}

/*
 * One virtio-blk request on sector @sector: VIRTIO_BLK_T_IN reads into
 * @data, VIRTIO_BLK_T_OUT writes it.  Returns the request's status.
 */
static uint8_t blk_request(LoopTest *t, Proxy *p, uint32_t type,
                           uint64_t sector, uint8_t data[SECTOR])
{
    struct virtio_blk_outhdr hdr = {
        .type = cpu_to_le32(type),
        .sector = cpu_to_le64(sector),
    };
    bool in = type == VIRTIO_BLK_T_IN;
    uint64_t hdr_addr = guest_alloc(&t->alloc, sizeof(hdr));
    uint64_t data_addr = guest_alloc(&t->alloc, SECTOR);
    uint64_t status_addr = guest_alloc(&t->alloc, 1);
    uint32_t head;
    uint8_t status;

    qtest_memwrite(t->qts, hdr_addr, &hdr, sizeof(hdr));
    if (in) {
        qtest_memset(t->qts, data_addr, 0, SECTOR);
    } else {
        qtest_memwrite(t->qts, data_addr, data, SECTOR);
    }
    qtest_writeb(t->qts, status_addr, 0xff);

    qvirtqueue_reset_pool(p->vq);
    head = qvirtqueue_add(t->qts, p->vq, hdr_addr, sizeof(hdr), false, true);
    qvirtqueue_add(t->qts, p->vq, data_addr, SECTOR, in, true);
    qvirtqueue_add(t->qts, p->vq, status_addr, 1, true, false);
    /* the device writes the data of a read, and the status in any case */
    g_assert_cmpuint(proxy_complete(t, p, head), ==, in ? SECTOR + 1 : 1);

    status = qtest_readb(t->qts, status_addr);
    if (in) {
        qtest_memread(t->qts, data_addr, data, SECTOR);
    }
    guest_free(&t->alloc, hdr_addr);
    guest_free(&t->alloc, data_addr);
    guest_free(&t->alloc, status_addr);
    return status;
}

static uint8_t pattern(unsigned seed, uint64_t sector, unsigned i)
{
    return (seed * 31 + sector * 7 + i * 13 + (i >> 8)) & 0xff;
}

static void fill_sector(uint8_t *buf, unsigned seed, uint64_t sector)
{
    for (unsigned i = 0; i < SECTOR; i++) {
        buf[i] = pattern(seed, sector, i);
    }
}

/*
 * A raw image of DISK_SIZE bytes, every sector filled with pattern 1.
 * Returns the options of a virtio-blk-device with it, on bus lo.
 */
static char *disk_create(Disk *disk)
{
    g_autofree uint8_t *image = g_malloc(DISK_SIZE);

    disk->path = NULL;
    disk->fd = g_file_open_tmp("vmsg-loopback-XXXXXX.img", &disk->path,
                               NULL);
    g_assert_cmpint(disk->fd, >=, 0);
    for (uint64_t s = 0; s < DISK_SIZE / SECTOR; s++) {
        fill_sector(image + s * SECTOR, 1, s);
    }
    g_assert_cmpint(qemu_write_full(disk->fd, image, DISK_SIZE), ==,
                    DISK_SIZE);
    return g_strdup_printf("-drive if=none,id=disk0,file=%s,format=raw "
                           "-device virtio-blk-device,id=blk0,drive=disk0,"
                           "bus=lo ", disk->path);
}

/* QEMU has the image open: remove its name */
static void disk_unlink(Disk *disk)
{
    unlink(disk->path);
    g_free(disk->path);
    disk->path = NULL;
}

static void disk_close(Disk *disk)
{
    close(disk->fd);
}

static void disk_read_sector(Disk *disk, uint64_t sector,
                             uint8_t buf[SECTOR])
{
    g_assert_cmpint(pread(disk->fd, buf, SECTOR, sector * SECTOR), ==,
                    SECTOR);
}

/* Read sector 0, write sector 1 and check the image, through @p. */
static void blk_io(LoopTest *t, Proxy *p, Disk *disk, unsigned seed)
{
    uint8_t want[SECTOR], got[SECTOR];

    fill_sector(want, 1, 0);
    g_assert_cmpuint(blk_request(t, p, VIRTIO_BLK_T_IN, 0, got), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(got, SECTOR, want, SECTOR);

    fill_sector(want, seed, 1);
    g_assert_cmpuint(blk_request(t, p, VIRTIO_BLK_T_OUT, 1, want), ==,
                     VIRTIO_BLK_S_OK);
    disk_read_sector(disk, 1, got);
    g_assert_cmpmem(got, SECTOR, want, SECTOR);

    /* and back through the proxy */
    memset(got, 0, SECTOR);
    g_assert_cmpuint(blk_request(t, p, VIRTIO_BLK_T_IN, 1, got), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(got, SECTOR, want, SECTOR);
}

/* QMP helpers */

static QDict *virtio_status(LoopTest *t, const char *path)
{
    return qtest_qmp_assert_success_ref(t->qts,
        "{ 'execute': 'x-query-virtio-status', 'arguments': { 'path': %s } }",
        path);
}

static bool virtio_broken(LoopTest *t, const char *path)
{
    QDict *st = virtio_status(t, path);
    bool broken = qdict_get_bool(st, "broken");

    qobject_unref(st);
    return broken;
}

static bool virtio_started(LoopTest *t, const char *path)
{
    QDict *st = virtio_status(t, path);
    bool started = qdict_get_bool(st, "started");

    qobject_unref(st);
    return started;
}

/* The name x-query-virtio gives for @path, NULL if it is not listed */
static char *virtio_listed(QList *list, const char *path)
{
    QListEntry *e;

    QLIST_FOREACH_ENTRY(list, e) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(dev, "path"), path)) {
            return g_strdup(qdict_get_str(dev, "name"));
        }
    }
    return NULL;
}

/* 1. The guest sees the remote devices' identity */

static void test_identity(void)
{
    Disk disk;
    g_autofree char *blk = disk_create(&disk);
    g_autofree char *devices = g_strdup_printf(
        "-device virtio-rng-device,id=rng0,bus=lo.dev1 %s"
        PROXY("prng", 0, 1) PROXY("pblk", 1, 0), blk);
    static const struct {
        const char *path, *name;
    } expect[] = {
        { "/machine/peripheral/prng", "virtio-msg-proxy-driver" },
        { "/machine/peripheral/pblk", "virtio-msg-proxy-driver" },
        { "/machine/peripheral/rng0", "virtio-rng" },
        { "/machine/peripheral/blk0", "virtio-blk" },
    };
    LoopTest t = { };
    Proxy rng, blk_proxy;
    QDict *rsp;
    QList *list;

    test_start(&t, devices);
    disk_unlink(&disk);
    proxy_open(&t, &rng, 0);
    proxy_open(&t, &blk_proxy, 1);
    g_assert_cmpuint(vdev(&rng)->device_type, ==, VIRTIO_ID_RNG);
    g_assert_cmpuint(vdev(&blk_proxy)->device_type, ==, VIRTIO_ID_BLOCK);
    g_assert_cmphex(qvirtio_get_features(vdev(&rng)) & VERSION_1, ==,
                    VERSION_1);
    g_assert_cmphex(qvirtio_get_features(vdev(&blk_proxy)) & VERSION_1, ==,
                    VERSION_1);

    rsp = qtest_qmp(t.qts, "{ 'execute': 'x-query-virtio' }");
    list = qdict_get_qlist(rsp, "return");
    g_assert(list);
    for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
        g_autofree char *name = virtio_listed(list, expect[i].path);

        g_assert_cmpstr(name, ==, expect[i].name);
    }
    qobject_unref(rsp);
    g_assert_false(virtio_broken(&t, "/machine/peripheral/prng"));
    g_assert_false(virtio_broken(&t, "/machine/peripheral/pblk"));

    test_stop(&t);
    disk_close(&disk);
}

/* 2. Entropy from the virtio-rng behind the proxy */

static void test_rng(void)
{
    LoopTest t = { };
    Proxy p;

    test_start(&t, "-device virtio-rng-device,id=rng0,bus=lo "
               PROXY("prng", 0, 0));
    proxy_open(&t, &p, 0);
    g_assert_cmpuint(vdev(&p)->device_type, ==, VIRTIO_ID_RNG);
    proxy_up(&t, &p, VERSION_1);
    /* the real device was started by the proxy's DRIVER_OK */
    g_assert_true(virtio_started(&t, "/machine/peripheral/rng0"));

    rng_read(&t, &p);
    rng_read(&t, &p);

    proxy_drop_queue(&t, &p);
    test_stop(&t);
}

/* 3. Block I/O and the config space of the virtio-blk behind the proxy */

static void test_blk(void)
{
    Disk disk;
    g_autofree char *devices = disk_create(&disk);
    g_autofree char *all = g_strconcat(devices, PROXY("pblk", 0, 0), NULL);
    LoopTest t = { };
    Proxy p;

    test_start(&t, all);
    disk_unlink(&disk);
    proxy_open(&t, &p, 0);
    g_assert_cmpuint(vdev(&p)->device_type, ==, VIRTIO_ID_BLOCK);

    /*
     * Capacity, in 512-byte sectors, through GET_CONFIG: before feature
     * negotiation (libqos's config accessors refuse that: plain reads),
     * then as a driver would read it.
     */
    g_assert_cmpuint(qtest_readl(t.qts, p.mmio.addr +
                                 QVIRTIO_MMIO_DEVICE_SPECIFIC), ==,
                     DISK_SIZE / SECTOR);
    g_assert_cmpuint(qtest_readl(t.qts, p.mmio.addr +
                                 QVIRTIO_MMIO_DEVICE_SPECIFIC + 4), ==, 0);

    proxy_up(&t, &p, VERSION_1);
    g_assert_cmpuint(qvirtio_config_readq(vdev(&p), 0), ==,
                     DISK_SIZE / SECTOR);
    blk_io(&t, &p, &disk, 2);
    g_assert_cmpuint(qvirtio_config_readq(vdev(&p), 0), ==,
                     DISK_SIZE / SECTOR);

    proxy_drop_queue(&t, &p);
    test_stop(&t);
    disk_close(&disk);
}

/* 4. A reset reaches the real device, and the device comes up again */

static void test_reset(void)
{
    Disk disk;
    g_autofree char *blk = disk_create(&disk);
    g_autofree char *devices = g_strdup_printf(
        "-device virtio-rng-device,id=rng0,bus=lo.dev1 %s"
        PROXY("prng", 0, 1) PROXY("pblk", 1, 0), blk);
    static const char *const real[] = {
        "/machine/peripheral/rng0", "/machine/peripheral/blk0",
    };
    LoopTest t = { };
    Proxy rng, blk_proxy;

    test_start(&t, devices);
    disk_unlink(&disk);
    proxy_open(&t, &rng, 0);
    proxy_open(&t, &blk_proxy, 1);

    for (unsigned round = 0; round < 3; round++) {
        proxy_up(&t, &rng, VERSION_1);
        proxy_up(&t, &blk_proxy, VERSION_1);
        for (size_t i = 0; i < ARRAY_SIZE(real); i++) {
            g_assert_true(virtio_started(&t, real[i]));
        }
        rng_read(&t, &rng);
        blk_io(&t, &blk_proxy, &disk, 3 + round);

        /* status 0, read back as 0; the real devices are reset too */
        qvirtio_reset(vdev(&rng));
        qvirtio_reset(vdev(&blk_proxy));
        proxy_drop_queue(&t, &rng);
        proxy_drop_queue(&t, &blk_proxy);
        for (size_t i = 0; i < ARRAY_SIZE(real); i++) {
            g_assert_false(virtio_started(&t, real[i]));
        }
        g_assert_false(virtio_broken(&t, "/machine/peripheral/prng"));
        g_assert_false(virtio_broken(&t, "/machine/peripheral/pblk"));
    }

    test_stop(&t);
    disk_close(&disk);
}

/* 5. A dev-num with no device behind it */

static void test_missing_device(void)
{
    LoopTest t = { };
    Proxy good, bad;
    QVirtioDevice *d;
    QDict *rsp;

    test_start(&t, "-device virtio-rng-device,id=rng0,bus=lo "
               PROXY("prng", 0, 0)
               "-device virtio-msg-proxy-driver,id=pbad,"
               "bus=virtio-mmio-bus.1,msg-bus=lo,dev-num=5,timeout-ms=100 ");
    proxy_open(&t, &good, 0);
    proxy_open(&t, &bad, 1);

    g_assert_true(virtio_broken(&t, "/machine/peripheral/pbad"));
    g_assert_false(virtio_broken(&t, "/machine/peripheral/prng"));

    /* the failed device refuses to be set up, and stays failed */
    d = vdev(&bad);
    qvirtio_start_device(d);
    d->bus->set_features(d, VERSION_1);
    d->bus->set_status(d, d->bus->get_status(d) |
                       VIRTIO_CONFIG_S_FEATURES_OK);
    g_assert_cmphex(d->bus->get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK, ==,
                    0);
    g_assert_true(virtio_broken(&t, "/machine/peripheral/pbad"));

    /* the other proxy works */
    proxy_up(&t, &good, VERSION_1);
    rng_read(&t, &good);
    proxy_drop_queue(&t, &good);

    rsp = qtest_qmp_assert_success_ref(t.qts,
                                       "{ 'execute': 'query-status' }");
    g_assert_cmpstr(qdict_get_str(rsp, "status"), ==, "running");
    qobject_unref(rsp);
    test_stop(&t);
}

/* 6. Configuration errors end QEMU at startup, with a message */

/*
 * Run QEMU with @args; it must exit (not crash) with status 1 and print
 * @message on stderr.  It is killed if it is still running after
 * EXIT_WAIT_MS.
 */
static void assert_startup_error(const char *args, const char *message)
{
    const char *binary = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = g_strdup_printf("%s -nodefaults -display none -S "
                                           MACHINE LOOPBACK "%s", binary,
                                           args);
    g_auto(GStrv) argv = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) out = g_string_new("");
    gint64 deadline = g_get_monotonic_time() + EXIT_WAIT_MS * 1000LL;
    GPid pid;
    int fd, status;
    char buf[256];
    ssize_t n;

    g_assert(binary);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, &err));
    g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD |
                                           G_SPAWN_STDOUT_TO_DEV_NULL,
                                           NULL, NULL, &pid, NULL, NULL,
                                           &fd, &err));
    /* collect stderr until QEMU closes it by exiting */
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left = deadline - g_get_monotonic_time();

        if (left <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            g_error("QEMU did not exit: %s", out->str);
        }
        if (poll(&pfd, 1, left / 1000 + 1) <= 0) {
            continue;
        }
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        g_string_append_len(out, buf, n);
    }
    close(fd);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_spawn_close_pid(pid);

    if (g_test_verbose()) {
        g_test_message("QEMU said: %s", out->str);
    }
    g_assert_false(WIFSIGNALED(status));
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(out->str, message));
}

static void test_no_such_bus(void)
{
    assert_startup_error("-device virtio-rng-device,bus=lo "
                         "-device virtio-msg-proxy-driver,"
                         "bus=virtio-mmio-bus.0,msg-bus=nowhere,dev-num=0",
                         "no virtio-msg bus named 'nowhere'");
}

static void test_duplicate_dev_num(void)
{
    assert_startup_error("-device virtio-rng-device,bus=lo "
                         PROXY("p0", 0, 0) PROXY("p1", 1, 0),
                         "dev-num 0 of virtio-msg bus 'lo' already has a "
                         "driver");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_device("virtio-msg-bus-loopback") ||
        !qtest_has_device("virtio-msg-proxy-driver")) {
        g_test_skip("virtio-msg-bus-loopback is not in this QEMU");
        return g_test_run();
    }
    qtest_add_func("/virtio-msg-loopback/identity", test_identity);
    qtest_add_func("/virtio-msg-loopback/rng", test_rng);
    qtest_add_func("/virtio-msg-loopback/blk", test_blk);
    qtest_add_func("/virtio-msg-loopback/reset", test_reset);
    qtest_add_func("/virtio-msg-loopback/missing-device",
                   test_missing_device);
    qtest_add_func("/virtio-msg-loopback/config-error/no-such-bus",
                   test_no_such_bus);
    qtest_add_func("/virtio-msg-loopback/config-error/duplicate-dev-num",
                   test_duplicate_dev_num);
    return g_test_run();
}
