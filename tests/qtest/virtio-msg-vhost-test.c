/*
 * QTest for vhost-user backends and IOThreads behind virtio-msg
 *
 * The test is the guest driver of a virtio-msg-amp-pci device (libqos
 * driver of libqos/virtio-msg-amp-pci.h) and uses virtio-blk devices whose
 * queues are not run by the transport's message path:
 *
 * - vhost-user-blk with a qemu-storage-daemon export, on the AMP device's
 *   own FIFO bus and on the device side of the two-QEMU system (a
 *   "-M x-virtio-msg" QEMU on the other end of the AMP device's relay);
 * - virtio-blk-device with an IOThread, on both too, with device reset,
 *   system_reset and migration;
 * - the vhost-user daemon killed while the device is in use and started
 *   again on the same socket (chardev reconnect-ms=);
 * - the transport's ioeventfd property off.
 *
 * Every block test checks the data read back through the device and the
 * bytes in the image file.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/prctl.h>
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "libqos/generic-pcihost.h"
#include "libqos/libqos-malloc.h"
#include "libqos/virtio-msg-amp-pci.h"
#include "standard-headers/linux/virtio_blk.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"

#define AMP_DEVFN       QPCI_DEVFN(4, 0)
#define MACHINE         "-M virt -cpu max -m 128M -nic none "
#define RAM_BASE        0x40000000ULL
#define RAM_SIZE        (128 * MiB)
#define IMAGE_SIZE      MiB
#define WAIT_US         (10 * G_USEC_PER_SEC)
#define CASE_US         (20 * G_USEC_PER_SEC)   /* bound on each case */
#define VERSION_1       (1ULL << VIRTIO_F_VERSION_1)
#define STATUS_LIVE     (VIRTIO_CONFIG_S_ACKNOWLEDGE | \
                         VIRTIO_CONFIG_S_DRIVER | \
                         VIRTIO_CONFIG_S_FEATURES_OK | \
                         VIRTIO_CONFIG_S_DRIVER_OK)

/* Guest RAM shared with the vhost-user daemon */
#define SHARED_MEMFD    "-object memory-backend-memfd,id=mem,size=128M," \
                        "share=on -machine memory-backend=mem "
#define AMP_DEVICE      "-device virtio-msg-amp-pci,addr=04.0,id=amp0"

typedef struct VhostTest {
    gint64 start;
    char *dir;
    char *image;
    char *vu_sock;      /* the daemon's vhost-user socket */
    char *pidfile;      /* the daemon's, written once its export listens */
    char *link;         /* linux-user link between the two QEMUs */
    char *ram;          /* guest RAM file of the two QEMUs */
    GPid daemon;
    QTestState *a;      /* the QEMU whose AMP device the test drives */
    QTestState *b;      /* device side of the two-QEMU system, or NULL */
    QGenericPCIBus gbus;
    QVirtioMSGAmp d;
    QGuestAllocator alloc;
    QVirtQueue *vq;     /* queue 0 of the block device while it is up */
} VhostTest;

static void vt_init(VhostTest *t)
{
    int fd;

    memset(t, 0, sizeof(*t));
    t->start = g_get_monotonic_time();
    t->dir = g_dir_make_tmp("vmsg-vhost-XXXXXX", NULL);
    g_assert_nonnull(t->dir);
    t->image = g_build_filename(t->dir, "disk.raw", NULL);
    t->vu_sock = g_build_filename(t->dir, "vu.sock", NULL);
    t->pidfile = g_build_filename(t->dir, "qsd.pid", NULL);
    t->link = g_build_filename(t->dir, "link.sock", NULL);
    t->ram = g_build_filename(t->dir, "ram", NULL);
    fd = open(t->image, O_CREAT | O_RDWR, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, IMAGE_SIZE), ==, 0);
    close(fd);
}

/* The daemon does not outlive a test that crashes */
static void daemon_child_setup(gpointer data)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Start qemu-storage-daemon exporting the image; false if not available */
static bool daemon_start(VhostTest *t)
{
    const char *qsd = g_getenv("QTEST_QEMU_STORAGE_DAEMON_BINARY");
    g_autofree char *blockdev = g_strdup_printf("driver=file,node-name=f0,"
                                                "filename=%s", t->image);
    g_autofree char *export = g_strdup_printf("type=vhost-user-blk,id=e0,"
                                              "node-name=f0,addr.type=unix,"
                                              "addr.path=%s,writable=on",
                                              t->vu_sock);
    const char *argv[] = {
        qsd, "--blockdev", blockdev, "--export", export,
        "--pidfile", t->pidfile, NULL,
    };
    gint64 deadline = g_get_monotonic_time() + WAIT_US;

    if (!qsd) {
        return false;
    }
    g_assert_cmpint(t->daemon, ==, 0);
    g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL,
                                daemon_child_setup, NULL, &t->daemon, NULL));
    /* the pid file is written after the export listens */
    while (!g_file_test(t->pidfile, G_FILE_TEST_EXISTS)) {
        g_assert_cmpint(waitpid(t->daemon, NULL, WNOHANG), ==, 0);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(5 * 1000);
    }
    return true;
}

static void daemon_kill(VhostTest *t)
{
    if (!t->daemon) {
        return;
    }
    kill(t->daemon, SIGKILL);
    waitpid(t->daemon, NULL, 0);
    g_spawn_close_pid(t->daemon);
    t->daemon = 0;
    /* a killed daemon leaves both behind */
    unlink(t->pidfile);
    unlink(t->vu_sock);
}

/* Attach the libqos driver to the AMP device of t->a */
static void amp_attach(VhostTest *t)
{
    qpci_init_generic(&t->gbus, t->a, NULL, false);
    g_free(t->d.pdev);
    t->d.pdev = NULL;
    qvirtio_msg_amp_init(&t->d, &t->gbus.bus, AMP_DEVFN);
}

/* The driver side QEMU, its AMP device's devices on its own FIFO bus */
static void start_amp(VhostTest *t, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void start_amp(VhostTest *t, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *devices = NULL;

    va_start(ap, fmt);
    devices = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    t->a = qtest_initf(MACHINE AMP_DEVICE " %s", devices);
    alloc_init(&t->alloc, 0, RAM_BASE + MiB, RAM_BASE + RAM_SIZE, 4096);
    amp_attach(t);
}

/* A QEMU with the RAM file and the linux-user link (bus "lu" on B) */
#define RAM_FILE "-object memory-backend-file,id=mem,size=128M," \
                 "mem-path=%s,share=on -machine memory-backend=mem "

/*
 * The two-QEMU system: A relays its AMP device's FIFO 0 to the link, B is
 * the device side with @devices on its bus "lu".  The driver side is the
 * AMP device in relay mode rather than a proxy so that the same libqos
 * driver, with the same checks (every request answered, EVENT_USED for
 * every used buffer), drives the device in both setups.
 */
static void start_relay(VhostTest *t, const char *devices)
{
    t->a = qtest_initf(MACHINE RAM_FILE
                       "-chardev socket,id=c0,path=%s,server=on,wait=off "
                       "-device virtio-msg-bus-linux-user,name=link0,"
                       "chardev=c0 " AMP_DEVICE ",relay=link0",
                       t->ram, t->link);
    t->b = qtest_initf("-M x-virtio-msg -m 128M " RAM_FILE
                       "-chardev socket,id=c0,path=%s "
                       "-device virtio-msg-bus-linux-user,name=lu,"
                       "chardev=c0 %s", t->ram, t->link, devices);
    alloc_init(&t->alloc, 0, RAM_BASE + MiB, RAM_BASE + RAM_SIZE, 4096);
    amp_attach(t);
}

static void vt_finish(VhostTest *t)
{
    qvirtio_msg_amp_destroy(&t->d);
    if (t->b) {
        qtest_quit(t->b);
    }
    if (t->a) {
        alloc_destroy(&t->alloc);
        qtest_quit(t->a);
    }
    daemon_kill(t);
    unlink(t->image);
    unlink(t->link);
    unlink(t->ram);
    unlink(t->vu_sock);
    unlink(t->pidfile);
    g_assert_cmpint(rmdir(t->dir), ==, 0);
    g_assert_cmpint(g_get_monotonic_time() - t->start, <, CASE_US);
    g_free(t->image);
    g_free(t->vu_sock);
    g_free(t->pidfile);
    g_free(t->link);
    g_free(t->ram);
    g_free(t->dir);
}

/* vt_init() and a storage daemon; false (test skipped) without one */
static bool vt_init_with_daemon(VhostTest *t)
{
    vt_init(t);
    if (!daemon_start(t)) {
        vt_finish(t);
        g_test_skip("QTEST_QEMU_STORAGE_DAEMON_BINARY not set");
        return false;
    }
    return true;
}

static bool try_request(VhostTest *t, VirtIOMSG *req, VirtIOMSG *resp,
                        gint64 timeout_us)
{
    return qvirtio_msg_amp_try_request(&t->d, 0, req, resp, timeout_us);
}

static uint32_t get_status(VhostTest *t)
{
    VirtIOMSG req, resp;

    virtio_msg_init(&req, 0, VIRTIO_MSG_GET_DEVICE_STATUS, 0, 0);
    g_assert_true(try_request(t, &req, &resp, WAIT_US));
    return resp.status.status;
}

/* Bring the block device (dev_num 0) up with queue 0 */
static void blk_up(VhostTest *t)
{
    VirtIOMSG req, resp;

    g_assert_cmphex(qvirtio_msg_amp_get_devices(&t->d, 0), ==, 0x1);
    virtio_msg_init(&req, 0, VIRTIO_MSG_DEVICE_INFO, 0, 0);
    g_assert_true(try_request(t, &req, &resp, WAIT_US));
    g_assert_cmpuint(resp.info.device_id, ==, VIRTIO_ID_BLOCK);
    t->d.fifo = 0;
    t->d.dev_num = 0;
    t->d.used_pending = 0;
    t->d.vdev.device_type = VIRTIO_ID_BLOCK;
    qvirtio_start_device(&t->d.vdev);
    g_assert_cmphex(qvirtio_get_features(&t->d.vdev) & VERSION_1, ==,
                    VERSION_1);
    qvirtio_set_features(&t->d.vdev, VERSION_1);
    t->vq = qvirtqueue_setup(&t->d.vdev, &t->alloc, 0);
    qvirtio_set_driver_ok(&t->d.vdev);
    g_assert_cmphex(get_status(t), ==, STATUS_LIVE);
}

/* Forget the queue (the device was reset, or is about to be) */
static void blk_forget(VhostTest *t)
{
    qvirtqueue_cleanup(t->d.vdev.bus, t->vq, &t->alloc);
    t->vq = NULL;
}

static void blk_down(VhostTest *t)
{
    qvirtio_reset(&t->d.vdev);
    g_assert_cmphex(get_status(t), ==, 0);
    blk_forget(t);
}

static void pattern(uint8_t data[512], uint8_t seed)
{
    for (int i = 0; i < 512; i++) {
        data[i] = seed + i * 7;
    }
}

/*
 * One request.  A notification that arrived before it is stale: a vhost-user
 * backend built on libvhost-user (qemu-storage-daemon) signals its call
 * eventfd whenever it gets one (SET_VRING_CALL, at every vhost start), so a
 * spurious EVENT_USED follows each DRIVER_OK.  Left pending, it would let
 * the driver take the used element (the backend writes the ring directly)
 * before the request's own EVENT_USED has crossed the bus.
 */
static uint8_t blk_rw(VhostTest *t, uint32_t type, uint64_t sector,
                      uint8_t data[512])
{
    t->d.used_pending &= ~(1ULL << t->vq->index);
    return qvirtio_msg_amp_blk_rw(&t->d, &t->alloc, t->vq, type, sector,
                                  data);
}

/* Kick a write of @seed's pattern to @sector without waiting for it */
static uint32_t blk_submit_write(VhostTest *t, uint64_t sector, uint8_t seed,
                                 uint64_t *addr)
{
    uint8_t hdr[16], data[512];
    uint32_t head;

    pattern(data, seed);
    stl_le_p(hdr, VIRTIO_BLK_T_OUT);
    stl_le_p(hdr + 4, 0);
    stq_le_p(hdr + 8, sector);
    *addr = guest_alloc(&t->alloc, sizeof(hdr) + sizeof(data) + 1);
    qtest_memwrite(t->a, *addr, hdr, sizeof(hdr));
    qtest_memwrite(t->a, *addr + sizeof(hdr), data, sizeof(data));
    qtest_writeb(t->a, *addr + sizeof(hdr) + sizeof(data), 0xff);
    head = qvirtqueue_add(t->a, t->vq, *addr, sizeof(hdr), false, true);
    qvirtqueue_add(t->a, t->vq, *addr + sizeof(hdr), sizeof(data), false,
                   true);
    qvirtqueue_add(t->a, t->vq, *addr + sizeof(hdr) + sizeof(data), 1, true,
                   false);
    t->d.used_pending &= ~(1ULL << t->vq->index);
    qvirtqueue_kick(t->a, &t->d.vdev, t->vq, head);
    return head;
}

/* Whether the request at @head completed within @timeout_us */
static bool blk_wait(VhostTest *t, uint32_t head, uint64_t addr,
                     gint64 timeout_us)
{
    gint64 deadline = g_get_monotonic_time() + timeout_us;
    uint32_t got, len;

    while (!qvirtqueue_get_buf(t->a, t->vq, &got, &len)) {
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        qvirtio_msg_amp_poll(&t->d, 0);
        g_usleep(1000);
    }
    g_assert_cmpuint(got, ==, head);
    g_assert_cmpuint(len, ==, 1);
    g_assert_cmpuint(qtest_readb(t->a, addr + 16 + 512), ==,
                     VIRTIO_BLK_S_OK);
    guest_free(&t->alloc, addr);
    return true;
}

static void blk_write(VhostTest *t, uint64_t sector, uint8_t seed)
{
    uint8_t data[512];


    pattern(data, seed);
    g_assert_cmpuint(blk_rw(t, VIRTIO_BLK_T_OUT, sector, data), ==,
                     VIRTIO_BLK_S_OK);
}

/* Read @sector through the device and from the image: both hold @seed's */
static void blk_check(VhostTest *t, uint64_t sector, uint8_t seed)
{
    uint8_t data[512], back[512], file[512];
    int fd;

    pattern(data, seed);
    memset(back, 0, sizeof(back));
    g_assert_cmpuint(blk_rw(t, VIRTIO_BLK_T_IN, sector, back), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(back, sizeof(back), data, sizeof(data));

    fd = open(t->image, O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, file, sizeof(file), sector * 512), ==,
                    sizeof(file));
    close(fd);
    g_assert_cmpmem(file, sizeof(file), data, sizeof(data));
}

static void blk_write_check(VhostTest *t, uint64_t sector, uint8_t seed)
{
    blk_write(t, sector, seed);
    blk_check(t, sector, seed);
}

/* Write and check a few sectors, not only the first */
static void blk_io(VhostTest *t, uint8_t seed)
{
    blk_write_check(t, 0, seed);
    blk_write_check(t, 7, seed + 1);
    blk_write_check(t, IMAGE_SIZE / 512 - 1, seed + 2);
}

/* 1. qemu-storage-daemon's vhost-user-blk export on the AMP device's bus */
static void test_vhost_user_blk_amp(void)
{
    VhostTest t;

    if (!vt_init_with_daemon(&t)) {
        return;
    }
    start_amp(&t, SHARED_MEMFD "-chardev socket,id=vu,path=%s "
              "-device vhost-user-blk,chardev=vu,bus=amp0.fifo0",
              t.vu_sock);
    blk_up(&t);
    blk_io(&t, 0x10);
    /* down and up again: vhost stops and starts */
    blk_down(&t);
    blk_up(&t);
    blk_check(&t, 7, 0x11);
    blk_write_check(&t, 100, 0x13);
    blk_down(&t);
    vt_finish(&t);
}

/* 2. The same export on the device side of the two-QEMU system */
static void test_vhost_user_blk_relay(void)
{
    g_autofree char *devices = NULL;
    VhostTest t;

    if (!vt_init_with_daemon(&t)) {
        return;
    }
    devices = g_strdup_printf("-chardev socket,id=vu,path=%s "
                              "-device vhost-user-blk,chardev=vu,bus=lu",
                              t.vu_sock);
    start_relay(&t, devices);
    qvirtio_msg_amp_wait_link(&t.d, 0, WAIT_US);
    blk_up(&t);
    blk_io(&t, 0x20);
    blk_down(&t);
    blk_up(&t);
    blk_check(&t, 7, 0x21);
    blk_down(&t);
    vt_finish(&t);
}

static char *iothread_devices(VhostTest *t, const char *bus)
{
    return g_strdup_printf("-object iothread,id=io0 "
                           "-blockdev driver=raw,node-name=d0,"
                           "file.driver=file,file.filename=%s "
                           "-device virtio-blk-device,drive=d0,iothread=io0,"
                           "bus=%s", t->image, bus);
}

/* Migrate t->a to a new QEMU with the same @devices; it replaces t->a. */
static void migrate(VhostTest *t, const char *devices)
{
    g_autofree char *path = g_build_filename(t->dir, "mig.sock", NULL);
    g_autofree char *uri = g_strdup_printf("unix:%s", path);
    g_autofree char *args = g_strdup_printf(MACHINE AMP_DEVICE " %s",
                                            devices);
    QTestState *dst = qvirtio_msg_amp_migrate(t->a, args, uri);

    qtest_quit(t->a);
    unlink(path);
    t->a = dst;
    amp_attach(t);
}

/*
 * 3. virtio-blk with an IOThread on the AMP device's bus: I/O, device
 * reset, system_reset, and migration with the queue live.
 */
static void test_iothread_amp(void)
{
    VhostTest t;
    g_autofree char *devices = NULL;

    vt_init(&t);
    devices = iothread_devices(&t, "amp0.fifo0");
    start_amp(&t, "%s", devices);
    blk_up(&t);
    blk_io(&t, 0x30);

    /* device reset (SET_DEVICE_STATUS 0) and a new initialisation */
    blk_down(&t);
    blk_up(&t);
    blk_check(&t, 7, 0x31);
    blk_write_check(&t, 8, 0x34);

    /* system_reset: the PCI device and the virtio device start over */
    qtest_system_reset(t.a);
    blk_forget(&t);
    amp_attach(&t);
    g_assert_cmphex(get_status(&t), ==, 0);
    blk_up(&t);
    blk_check(&t, 8, 0x34);
    blk_write_check(&t, 9, 0x35);

    /* migration with the device live: the driver goes on with its queue */
    blk_write(&t, 10, 0x36);
    migrate(&t, devices);
    g_assert_cmphex(get_status(&t), ==, STATUS_LIVE);
    blk_check(&t, 10, 0x36);
    blk_check(&t, 9, 0x35);
    blk_write_check(&t, 11, 0x37);
    blk_down(&t);
    blk_up(&t);
    blk_check(&t, 11, 0x37);
    blk_down(&t);
    vt_finish(&t);
}

/* 4. virtio-blk with an IOThread on the device side of the two QEMUs */
static void test_iothread_relay(void)
{
    VhostTest t;
    g_autofree char *devices = NULL;

    vt_init(&t);
    devices = iothread_devices(&t, "lu");
    start_relay(&t, devices);
    qvirtio_msg_amp_wait_link(&t.d, 0, WAIT_US);
    blk_up(&t);
    blk_io(&t, 0x40);
    blk_down(&t);
    blk_up(&t);
    blk_check(&t, 7, 0x41);
    blk_down(&t);
    vt_finish(&t);
}

static const char *run_state(QTestState *qts)
{
    static char state[32];
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-status' }");

    g_strlcpy(state, qdict_get_str(qdict_get_qdict(rsp, "return"), "status"),
              sizeof(state));
    qobject_unref(rsp);
    return state;
}

/*
 * 5. The vhost-user daemon is killed while the device is in use and a new
 * one is started on the same socket; the chardev reconnects (reconnect-ms).
 *
 * What happens: on the disconnect vhost-user-blk stops vhost (the backend
 * cannot give the ring state back, QEMU takes the used index as the last
 * available one) and the device stays DRIVER_OK; the transport goes on
 * answering, and a request kicked meanwhile just waits in the ring.  On
 * the reconnect vhost-user-blk starts vhost again by itself because the
 * device is DRIVER_OK: the transport hands out the host and guest
 * notifiers again (set_guest_notifiers, host notifiers signalled once at
 * enable), the new daemon finds the waiting request and completes it,
 * and I/O goes on without any action of the driver.  A driver that resets
 * and re-initialises the device (vhost stop, then start at DRIVER_OK) gets
 * a working device with the data intact too.
 */
static void test_vhost_user_reconnect(void)
{
    VhostTest t;
    uint64_t addr;
    uint32_t head;

    if (!vt_init_with_daemon(&t)) {
        return;
    }
    start_amp(&t, SHARED_MEMFD "-chardev socket,id=vu,path=%s,"
              "reconnect-ms=100 "
              "-device vhost-user-blk,chardev=vu,bus=amp0.fifo0",
              t.vu_sock);
    blk_up(&t);
    blk_io(&t, 0x50);

    /* the daemon dies: QEMU, the FIFO and the transport keep answering */
    daemon_kill(&t);
    g_assert_cmpstr(run_state(t.a), ==, "running");
    qvirtio_msg_amp_ping(&t.d, 0, 0x5a5a);
    g_assert_cmphex(get_status(&t), ==, STATUS_LIVE);
    head = blk_submit_write(&t, 30, 0x5c, &addr);
    g_assert_false(blk_wait(&t, head, addr, 300 * 1000));
    g_assert_cmpstr(run_state(t.a), ==, "running");
    qvirtio_msg_amp_ping(&t.d, 0, 0xa5a5);

    /* a new daemon: the waiting request completes, I/O goes on */
    g_assert_true(daemon_start(&t));
    g_assert_true(blk_wait(&t, head, addr, WAIT_US));
    blk_check(&t, 30, 0x5c);
    blk_write_check(&t, 31, 0x5d);

    /* the driver re-initialises the device: all the data is there */
    blk_down(&t);
    blk_up(&t);
    blk_check(&t, 0, 0x50);
    blk_check(&t, 7, 0x51);
    blk_check(&t, IMAGE_SIZE / 512 - 1, 0x52);
    blk_check(&t, 30, 0x5c);
    blk_write_check(&t, 32, 0x5e);

    /* killed again, this time the driver resets while it is gone */
    daemon_kill(&t);
    qvirtio_msg_amp_ping(&t.d, 0, 0x1234);
    blk_down(&t);
    g_assert_true(daemon_start(&t));
    blk_up(&t);
    blk_check(&t, 32, 0x5e);
    blk_write_check(&t, 33, 0x5f);
    blk_down(&t);
    vt_finish(&t);
}

/*
 * 6. -global virtio-msg.ioeventfd=off: the transport does not use host
 * notifiers for the device models it runs itself, so an IOThread is refused
 * at realize.  vhost still works: it enables the host notifiers itself
 * (virtio_bus_set_host_notifier() only needs the transport's
 * ioeventfd_assign), and EVENT_AVAIL signals an enabled host notifier
 * whatever the property says, as with virtio-pci's ioeventfd=off.
 */
static void test_no_ioeventfd(void)
{
    g_autofree char *cmd = g_strdup_printf("%s " MACHINE "-display none "
                                           "-global virtio-msg.ioeventfd=off "
                                           AMP_DEVICE " -object iothread,"
                                           "id=io0 -blockdev driver=null-co,"
                                           "node-name=d0 -device "
                                           "virtio-blk-device,drive=d0,"
                                           "iothread=io0,bus=amp0.fifo0",
                                           g_getenv("QTEST_QEMU_BINARY"));
    g_auto(GStrv) argv = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    VhostTest t;
    int status;

    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, NULL));
    g_assert_cmpint(status, !=, 0);
    g_assert_nonnull(strstr(err, "ioeventfd is required for iothread"));

    if (!vt_init_with_daemon(&t)) {
        return;
    }
    start_amp(&t, SHARED_MEMFD "-global virtio-msg.ioeventfd=off "
              "-chardev socket,id=vu,path=%s "
              "-device vhost-user-blk,chardev=vu,bus=amp0.fifo0",
              t.vu_sock);
    blk_up(&t);
    blk_io(&t, 0x60);
    blk_down(&t);
    vt_finish(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virtio-msg-vhost/vhost-user-blk/amp",
                   test_vhost_user_blk_amp);
    qtest_add_func("/virtio-msg-vhost/vhost-user-blk/relay",
                   test_vhost_user_blk_relay);
    qtest_add_func("/virtio-msg-vhost/iothread/amp", test_iothread_amp);
    qtest_add_func("/virtio-msg-vhost/iothread/relay", test_iothread_relay);
    qtest_add_func("/virtio-msg-vhost/vhost-user-blk/reconnect",
                   test_vhost_user_reconnect);
    qtest_add_func("/virtio-msg-vhost/no-ioeventfd", test_no_ioeventfd);
    return g_test_run();
}
