/*
 * QTest for virtio-msg-amp-pci in relay mode
 *
 * Two QEMUs: "A" (-M virt, under this test) has a virtio-msg-amp-pci whose
 * FIFO 0 is relayed to a virtio-msg-bus-linux-user link; "B" (-M
 * x-virtio-msg) is the device side on the other end of that link with a
 * virtio-blk, a virtio-net and a virtio-rng device.  Both map the same
 * guest RAM file.  The test is the guest driver of A: it enumerates and
 * drives B's devices through the FIFO, and checks what happens when B
 * stalls, goes away and comes back, and when A's driver side is reset.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "libqos/generic-pcihost.h"
#include "libqos/libqos-malloc.h"
#include "libqos/virtio-msg-amp-pci.h"
#include "standard-headers/linux/virtio_blk.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"

#define AMP_DEVFN       QPCI_DEVFN(4, 0)
#define RAM_BASE        0x40000000ULL
#define RAM_SIZE        (128 * MiB)
#define WAIT_US         (10 * G_USEC_PER_SEC)
#define DEV_BLK         0
#define DEV_NET         1
#define DEV_RNG         2
#define VERSION_1       (1ULL << VIRTIO_F_VERSION_1)

typedef struct RelayTest {
    char *dir;
    char *sock;
    char *ram;
    char *image;
    int net[2];             /* B's -netdev socket, and our end of it */
    QTestState *a;
    QTestState *b;
    QGenericPCIBus gbus;
    QVirtioMSGAmp d;
    QGuestAllocator alloc;
} RelayTest;

static void start_b(RelayTest *t)
{
    t->b = qtest_initf("-M x-virtio-msg -m 128M "
                       "-object memory-backend-file,id=mem,size=128M,"
                       "mem-path=%s,share=on -machine memory-backend=mem "
                       "-chardev socket,id=c0,path=%s "
                       "-device virtio-msg-bus-linux-user,name=lu,chardev=c0 "
                       "-blockdev driver=raw,node-name=d0,file.driver=file,"
                       "file.filename=%s "
                       "-device virtio-blk-device,drive=d0,bus=lu "
                       "-netdev socket,id=n0,fd=%d "
                       "-device virtio-net-device,netdev=n0,bus=lu "
                       "-device virtio-rng-device,bus=lu",
                       t->ram, t->sock, t->image, t->net[1]);
}

static void relay_start_a(RelayTest *t, bool with_b)
{
    int fd;

    memset(t, 0, sizeof(*t));
    t->dir = g_dir_make_tmp("vmsg-relay-XXXXXX", NULL);
    g_assert_nonnull(t->dir);
    t->sock = g_build_filename(t->dir, "link", NULL);
    t->ram = g_build_filename(t->dir, "ram", NULL);
    t->image = g_build_filename(t->dir, "disk.raw", NULL);
    fd = open(t->image, O_CREAT | O_RDWR, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, MiB), ==, 0);
    close(fd);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, t->net), ==, 0);

    t->a = qtest_initf("-M virt -cpu max -m 128M -nic none "
                       "-object memory-backend-file,id=mem,size=128M,"
                       "mem-path=%s,share=on -machine memory-backend=mem "
                       "-chardev socket,id=c0,path=%s,server=on,wait=off "
                       "-device virtio-msg-bus-linux-user,name=link0,"
                       "chardev=c0 "
                       "-device virtio-msg-amp-pci,addr=04.0,id=amp0,"
                       "relay=link0", t->ram, t->sock);
    if (with_b) {
        start_b(t);
    }
    alloc_init(&t->alloc, 0, RAM_BASE + MiB, RAM_BASE + RAM_SIZE, 4096);
    qpci_init_generic(&t->gbus, t->a, NULL, false);
    qvirtio_msg_amp_init(&t->d, &t->gbus.bus, AMP_DEVFN);
}

static void relay_start(RelayTest *t)
{
    relay_start_a(t, true);
}

static void relay_stop(RelayTest *t)
{
    qvirtio_msg_amp_destroy(&t->d);
    alloc_destroy(&t->alloc);
    if (t->b) {
        qtest_quit(t->b);
    }
    qtest_quit(t->a);
    close(t->net[0]);
    close(t->net[1]);
    unlink(t->sock);
    unlink(t->ram);
    unlink(t->image);
    rmdir(t->dir);
    g_free(t->sock);
    g_free(t->ram);
    g_free(t->image);
    g_free(t->dir);
}

static bool try_request(RelayTest *t, VirtIOMSG *req, VirtIOMSG *resp,
                        gint64 timeout_us)
{
    return qvirtio_msg_amp_try_request(&t->d, 0, req, resp, timeout_us);
}

/* The devices B shows through the relay */
static uint32_t get_devices(RelayTest *t)
{
    return qvirtio_msg_amp_get_devices(&t->d, 0);
}

static uint32_t device_id(RelayTest *t, uint16_t dev)
{
    VirtIOMSG req, resp;

    virtio_msg_init(&req, 0, VIRTIO_MSG_DEVICE_INFO, dev, 0);
    g_assert_true(try_request(t, &req, &resp, WAIT_US));
    return resp.info.device_id;
}

static uint32_t get_status(RelayTest *t, uint16_t dev)
{
    VirtIOMSG req, resp;

    virtio_msg_init(&req, 0, VIRTIO_MSG_GET_DEVICE_STATUS, dev, 0);
    g_assert_true(try_request(t, &req, &resp, WAIT_US));
    return resp.status.status;
}

/* Bring device @dev up with queues 0..@nvqs-1; the driver uses t->d.vdev */
static void device_up(RelayTest *t, uint16_t dev, unsigned nvqs,
                      QVirtQueue **vqs)
{
    t->d.dev_num = dev;
    t->d.used_pending = 0;
    t->d.vdev.device_type = device_id(t, dev);
    qvirtio_start_device(&t->d.vdev);
    g_assert_cmphex(qvirtio_get_features(&t->d.vdev) & VERSION_1, ==,
                    VERSION_1);
    qvirtio_set_features(&t->d.vdev, VERSION_1);
    for (unsigned i = 0; i < nvqs; i++) {
        vqs[i] = qvirtqueue_setup(&t->d.vdev, &t->alloc, i);
    }
    qvirtio_set_driver_ok(&t->d.vdev);
    g_assert_cmphex(get_status(t, dev), ==, VIRTIO_CONFIG_S_ACKNOWLEDGE |
                    VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
                    VIRTIO_CONFIG_S_DRIVER_OK);
}

static void device_down(RelayTest *t, unsigned nvqs, QVirtQueue **vqs)
{
    qvirtio_reset(&t->d.vdev);
    for (unsigned i = 0; i < nvqs; i++) {
        qvirtqueue_cleanup(t->d.vdev.bus, vqs[i], &t->alloc);
    }
}

static uint32_t run(RelayTest *t, QVirtQueue *vq, uint32_t head)
{
    return qvirtio_msg_amp_run(&t->d, vq, head);
}

static void blk_check(RelayTest *t, uint64_t sector, uint8_t seed)
{
    uint8_t data[512], back[512], file[512];
    QVirtQueue *vq;
    int fd;

    for (int i = 0; i < 512; i++) {
        data[i] = seed + i * 7;
    }
    device_up(t, DEV_BLK, 1, &vq);
    g_assert_cmpuint(qvirtio_msg_amp_blk_rw(&t->d, &t->alloc, vq,
                                            VIRTIO_BLK_T_OUT, sector, data),
                     ==, 0);
    memset(back, 0, sizeof(back));
    g_assert_cmpuint(qvirtio_msg_amp_blk_rw(&t->d, &t->alloc, vq,
                                            VIRTIO_BLK_T_IN, sector, back),
                     ==, 0);
    g_assert_cmpint(memcmp(back, data, 512), ==, 0);
    device_down(t, 1, &vq);

    /* the image of B holds it */
    fd = open(t->image, O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, file, 512, sector * 512), ==, 512);
    close(fd);
    g_assert_cmpint(memcmp(file, data, 512), ==, 0);
}

static void rng_check_at(RelayTest *t, uint16_t dev)
{
    QVirtQueue *vq;

    device_up(t, dev, 1, &vq);
    qvirtio_msg_amp_rng_read(&t->d, &t->alloc, vq);
    qvirtio_msg_amp_rng_read(&t->d, &t->alloc, vq);
    device_down(t, 1, &vq);
}

static void rng_check(RelayTest *t)
{
    rng_check_at(t, DEV_RNG);
}

/* One frame each way through B's -netdev socket (4-byte BE length) */
static void net_check(RelayTest *t)
{
    static const uint8_t frame[60] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56,
        0x08, 0x00, 'v', 'i', 'r', 't', 'i', 'o', '-', 'm', 's', 'g',
    };
    enum { HDR = 12 };      /* virtio_net_hdr_v1 with VERSION_1 */
    uint8_t buf[HDR + sizeof(frame)], rx[4 + sizeof(frame)];
    uint8_t rxbuf[HDR + 1514];
    QVirtQueue *vqs[2];
    uint64_t addr;
    uint32_t head, len;

    device_up(t, DEV_NET, 2, vqs);

    /* receive: post a buffer, then B's backend gets a frame */
    addr = guest_alloc(&t->alloc, sizeof(rxbuf));
    head = qvirtqueue_add(t->a, vqs[0], addr, sizeof(rxbuf), true, false);
    qvirtqueue_kick(t->a, &t->d.vdev, vqs[0], head);
    stl_be_p(rx, sizeof(frame));
    memcpy(rx + 4, frame, sizeof(frame));
    g_assert_cmpint(write(t->net[0], rx, sizeof(rx)), ==, sizeof(rx));
    qvirtio_wait_used_elem(t->a, &t->d.vdev, vqs[0], head, &len, WAIT_US);
    g_assert_cmpuint(len, ==, HDR + sizeof(frame));
    qtest_memread(t->a, addr + HDR, buf, sizeof(frame));
    g_assert_cmpint(memcmp(buf, frame, sizeof(frame)), ==, 0);
    guest_free(&t->alloc, addr);

    /* transmit: B's backend writes the frame to our end of the socket */
    memset(buf, 0, HDR);
    memcpy(buf + HDR, frame, sizeof(frame));
    addr = guest_alloc(&t->alloc, sizeof(buf));
    qtest_memwrite(t->a, addr, buf, sizeof(buf));
    head = qvirtqueue_add(t->a, vqs[1], addr, sizeof(buf), false, false);
    run(t, vqs[1], head);
    g_assert_cmpint(recv(t->net[0], rx, sizeof(rx), MSG_WAITALL), ==,
                    sizeof(rx));
    g_assert_cmpuint(ldl_be_p(rx), ==, sizeof(frame));
    g_assert_cmpint(memcmp(rx + 4, frame, sizeof(frame)), ==, 0);
    guest_free(&t->alloc, addr);

    device_down(t, 2, vqs);
}

static void wait_link(RelayTest *t)
{
    qvirtio_msg_amp_wait_link(&t->d, 0, WAIT_US);
}

/* The guest's driver uses B's three devices through the relay. */
static void test_relay_io(void)
{
    RelayTest t;

    relay_start(&t);
    wait_link(&t);
    qvirtio_msg_amp_ping(&t.d, 0, 0x12345678);
    g_assert_cmphex(get_devices(&t), ==, 0x7);
    g_assert_cmpuint(device_id(&t, DEV_BLK), ==, VIRTIO_ID_BLOCK);
    g_assert_cmpuint(device_id(&t, DEV_NET), ==, VIRTIO_ID_NET);
    g_assert_cmpuint(device_id(&t, DEV_RNG), ==, VIRTIO_ID_RNG);
    blk_check(&t, 5, 0x11);
    net_check(&t);
    rng_check(&t);
    relay_stop(&t);
}

static bool wait_removed(RelayTest *t, uint16_t dev, unsigned from)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_US;

    for (;;) {
        qvirtio_msg_amp_poll(&t->d, 0);
        for (unsigned i = from; i < t->d.num_events; i++) {
            const VirtIOMSG *ev = &t->d.events[i];

            if (ev->id == VIRTIO_MSG_BUS_EVENT_DEVICE &&
                (ev->type & VIRTIO_MSG_TYPE_BUS) &&
                ev->event_device.dev_num == dev &&
                ev->event_device.state == VIRTIO_MSG_DEVICE_REMOVED) {
                return true;
            }
        }
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        qtest_clock_step(t->a, 1000 * 1000);
    }
}

/*
 * B goes away: the guest is told its devices are removed, requests get no
 * answer (the guest driver's timeouts apply), A keeps running.  A new B
 * serves the devices again after the guest re-enumerates.
 */
static void test_relay_restart(void)
{
    RelayTest t;
    VirtIOMSG req, resp;
    unsigned from;

    relay_start(&t);
    wait_link(&t);
    g_assert_cmphex(get_devices(&t), ==, 0x7);
    blk_check(&t, 1, 0x22);

    from = t.d.num_events;
    qtest_kill_qemu(t.b);
    qtest_quit(t.b);
    t.b = NULL;
    g_assert_true(wait_removed(&t, DEV_BLK, from));
    g_assert_true(wait_removed(&t, DEV_NET, from));
    g_assert_true(wait_removed(&t, DEV_RNG, from));

    virtio_msg_init(&req, 0, VIRTIO_MSG_DEVICE_INFO, DEV_RNG, 0);
    g_assert_false(try_request(&t, &req, &resp, 300 * 1000));
    qtest_qmp_assert_success(t.a, "{'execute': 'query-status'}");

    start_b(&t);
    wait_link(&t);
    g_assert_cmphex(get_devices(&t), ==, 0x7);
    blk_check(&t, 2, 0x33);
    rng_check(&t);
    relay_stop(&t);
}

/*
 * B stops (SIGSTOP) while the guest keeps sending: backpressure crosses the
 * relay until the guest's own queue is full, A stays responsive, and once B
 * runs again every request is answered, in order.
 */
static void test_relay_stall(void)
{
    RelayTest t;
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];
    unsigned sent = 0, got = 0;
    bool full = false;
    gint64 deadline;

    relay_start(&t);
    wait_link(&t);
    kill(qtest_pid(t.b), SIGSTOP);

    deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (!full && g_get_monotonic_time() < deadline) {
        VirtIOMSG req;

        virtio_msg_init(&req, VIRTIO_MSG_TYPE_BUS, VIRTIO_MSG_BUS_PING, 0,
                        sent + 1);
        req.ping.data = sent;
        if (!qvirtio_msg_amp_put(&t.d, 0, buf,
                                 virtio_msg_encode(&req, buf, sizeof(buf)))) {
            /* the relay stopped taking them: is it for good? */
            qvirtio_msg_amp_doorbell(&t.d, 0);
            qtest_clock_step(t.a, 20 * 1000 * 1000);
            full = !qvirtio_msg_amp_put(&t.d, 0, buf,
                                        virtio_msg_encode(&req, buf,
                                                          sizeof(buf)));
            if (full) {
                break;
            }
        }
        sent++;
        if (sent % 16 == 0) {
            qvirtio_msg_amp_doorbell(&t.d, 0);
        }
    }
    g_assert_true(full);
    g_test_message("%u requests taken before backpressure", sent);
    /* more than the guest's queue: the link's queue took its share */
    g_assert_cmpuint(sent, >, 2 * QVMSG_AMP_CAPACITY);
    qtest_qmp_assert_success(t.a, "{'execute': 'query-status'}");

    kill(qtest_pid(t.b), SIGCONT);
    qvirtio_msg_amp_doorbell(&t.d, 0);
    deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (got < sent) {
        VirtIOMSG resp;

        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (!qvirtio_msg_amp_get(&t.d, 0, buf)) {
            qvirtio_msg_amp_doorbell(&t.d, 0);
            qtest_clock_step(t.a, 1000 * 1000);
            continue;
        }
        g_assert_cmpint(virtio_msg_decode(buf, sizeof(buf), sizeof(buf),
                                          &resp), ==, VIRTIO_MSG_OK);
        g_assert_cmphex(resp.id, ==, VIRTIO_MSG_BUS_PING);
        g_assert_cmpuint(resp.token, ==, got + 1);
        g_assert_cmpuint(resp.ping.data, ==, got);
        got++;
    }
    qvirtio_msg_amp_ping(&t.d, 0, 0xabcd);
    relay_stop(&t);
}

/*
 * A's driver side is reset (system_reset) with a device running: the relay
 * resets B's device, and the guest's fresh FIFO gets nothing but what it
 * asks for.
 */
static void test_relay_driver_reset(void)
{
    RelayTest t;
    QVirtQueue *vq;
    uint8_t buf[QVMSG_AMP_SLOT_SIZE];

    relay_start(&t);
    wait_link(&t);
    g_assert_cmphex(get_devices(&t), ==, 0x7);
    device_up(&t, DEV_RNG, 1, &vq);
    qvirtio_msg_amp_rng_read(&t.d, &t.alloc, vq);

    qtest_system_reset(t.a);
    qvirtqueue_cleanup(t.d.vdev.bus, vq, &t.alloc);
    qvirtio_msg_amp_destroy(&t.d);
    qvirtio_msg_amp_init(&t.d, &t.gbus.bus, AMP_DEVFN);
    qtest_clock_step(t.a, 50 * 1000 * 1000);
    g_usleep(200 * 1000);
    qtest_clock_step(t.a, 50 * 1000 * 1000);
    g_assert_false(qvirtio_msg_amp_get(&t.d, 0, buf));
    g_assert_cmphex(get_status(&t, DEV_RNG), ==, 0);
    rng_check(&t);
    relay_stop(&t);
}

/*
 * The device side is the stand-alone program of contrib/virtio-msg-peer,
 * not QEMU: the guest's driver finds and uses its virtio-rng.
 */
static void test_relay_peer(void)
{
    const char *env = g_getenv("QTEST_VMSG_RNG_PEER");
    g_autofree char *peer = env ? g_strdup(env) :
        g_build_filename(g_getenv("G_TEST_BUILDDIR"), "..", "..", "contrib",
                         "virtio-msg-peer", "virtio-msg-rng-peer", NULL);
    RelayTest t;
    GPid pid;

    if (!g_file_test(peer, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("virtio-msg-rng-peer not built");
        return;
    }
    relay_start_a(&t, false);
    {
        const char *argv[] = {
            peer, "--socket", t.sock, "--mem-path", t.ram, NULL,
        };

        g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                    G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                    &pid, NULL));
    }
    wait_link(&t);
    g_assert_cmphex(get_devices(&t), ==, 0x1);
    g_assert_cmpuint(device_id(&t, 0), ==, VIRTIO_ID_RNG);
    rng_check_at(&t, 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    g_spawn_close_pid(pid);
    g_assert_true(wait_removed(&t, 0, 0));
    relay_stop(&t);
}

/* Configuration errors are reported at startup. */
static void check_bad_relay(const char *extra, const char *msg)
{
    g_autofree char *args = g_strdup_printf("-M virt -display none "
                                            "-nodefaults %s", extra);
    g_auto(GStrv) argv = NULL;
    g_autofree char *cmd = g_strdup_printf("%s %s",
                                           g_getenv("QTEST_QEMU_BINARY"),
                                           args);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, NULL));
    g_assert_cmpint(status, !=, 0);
    g_assert_nonnull(strstr(err, msg));
}

static void test_relay_bad_config(void)
{
    check_bad_relay("-device virtio-msg-amp-pci,relay=nowhere",
                    "no virtio-msg bus named 'nowhere'");
    check_bad_relay("-device virtio-msg-bus-loopback,name=lb "
                    "-device virtio-rng-device,bus=lb "
                    "-device virtio-msg-amp-pci,relay=lb",
                    "has devices of its own");
    check_bad_relay("-device virtio-msg-bus-loopback,name=lb "
                    "-device virtio-msg-amp-pci,id=amp0,relay=lb "
                    "-device virtio-rng-device,bus=amp0.fifo0",
                    "is relayed");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/virtio-msg-relay/io", test_relay_io);
    qtest_add_func("/virtio-msg-relay/restart", test_relay_restart);
    qtest_add_func("/virtio-msg-relay/stall", test_relay_stall);
    qtest_add_func("/virtio-msg-relay/driver-reset", test_relay_driver_reset);
    qtest_add_func("/virtio-msg-relay/peer", test_relay_peer);
    qtest_add_func("/virtio-msg-relay/bad-config", test_relay_bad_config);
    return g_test_run();
}
