/*
 * QTest: a virtio-rng device served by a program outside QEMU
 *
 * contrib/virtio-msg-peer/virtio-msg-rng-peer is the device side of a
 * virtio-msg-bus-linux-user link; QEMU (-M virt) is the driver side, with
 * a virtio-msg-proxy-driver-pci standing for the remote entropy device and
 * its guest RAM in a shared memory-backend-file that the peer maps too.
 * The test is the guest driver: it finds the proxied virtio-rng-pci device
 * with libqos, reads random bytes through its virtqueue, and checks what
 * happens when the peer is killed, when a buffer points outside guest RAM,
 * and when a broken peer sends bad setups before the real one shows up.
 *
 * The peer binary is $QTEST_VMSG_RNG_PEER, or
 * contrib/virtio-msg-peer/virtio-msg-rng-peer in the build tree.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "qemu/bswap.h"
#include "qemu/memfd.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qdict.h"
#include "libqos/generic-pcihost.h"
#include "libqos/libqos-malloc.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"

#define RAM_BASE        0x40000000ULL
#define RAM_SIZE        (128 * MiB)
#define PAGE_SIZE       4096
#define RNG_DEVFN       QPCI_DEVFN(4, 0)
#define READ_LEN        4096
#define WAIT_US         (10 * G_USEC_PER_SEC)
#define TIMEOUT_MS      1000            /* the proxy's timeout-ms */
#define VERSION_1       (1ULL << VIRTIO_F_VERSION_1)

/* The setup message of the link (docs/interop/virtio-msg-linux-user.rst) */
#define LU_SETUP_SIZE   16
#define LU_QUEUE_SIZE   65536
#define LU_SEALS        (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

typedef struct Rig {
    char *dir;
    char *sock;
    char *ram;
    GPid peer;
    QTestState *qts;
    QGenericPCIBus gbus;
    QGuestAllocator alloc;
    QVirtioPCIDevice *dev;
    QVirtQueue *vq;
} Rig;

static char *peer_binary(void)
{
    const char *env = g_getenv("QTEST_VMSG_RNG_PEER");

    if (env) {
        return g_strdup(env);
    }
    return g_test_build_filename(G_TEST_BUILT, "..", "..", "contrib",
                                 "virtio-msg-peer", "virtio-msg-rng-peer",
                                 NULL);
}

/* Temporary directory with the guest RAM file; false: no peer binary */
static bool rig_init(Rig *r)
{
    g_autofree char *bin = peer_binary();
    int fd;

    memset(r, 0, sizeof(*r));
    r->peer = -1;
    if (!g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE)) {
        g_autofree char *msg = g_strdup_printf("no peer binary at %s", bin);

        g_test_skip(msg);
        return false;
    }
    r->dir = g_dir_make_tmp("vmsg-rng-peer-XXXXXX", NULL);
    g_assert_nonnull(r->dir);
    r->sock = g_build_filename(r->dir, "sock", NULL);
    r->ram = g_build_filename(r->dir, "ram", NULL);
    /* the peer maps the file before QEMU starts: create it at full size */
    fd = open(r->ram, O_RDWR | O_CREAT | O_EXCL, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, RAM_SIZE), ==, 0);
    close(fd);
    return true;
}

/* A peer must not outlive a test that fails */
static void peer_child_setup(gpointer data)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Start the peer on @sock (NULL: the rig's socket) */
static void peer_start(Rig *r, bool listen, const char *sock)
{
    g_autofree char *bin = peer_binary();
    const char *argv[] = {
        bin, "--socket", sock ? sock : r->sock, "--mem-path", r->ram,
        "--ram-base", "0x40000000", "--ram-size", "128M",
        listen ? "--listen" : NULL, NULL,
    };
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(r->peer, <, 0);
    g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL,
                                peer_child_setup, NULL, &r->peer, &err));
}

/* Is the peer still running? */
static bool peer_running(Rig *r)
{
    return r->peer > 0 && waitpid(r->peer, NULL, WNOHANG) == 0;
}

static void peer_kill(Rig *r)
{
    if (r->peer > 0) {
        kill(r->peer, SIGKILL);
        g_assert_cmpint(waitpid(r->peer, NULL, 0), ==, r->peer);
        g_spawn_close_pid(r->peer);
        r->peer = -1;
    }
}

static void wait_for_path(const char *path)
{
    int64_t t0 = g_get_monotonic_time();

    while (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_assert_cmpint(g_get_monotonic_time() - t0, <, WAIT_US);
        g_usleep(10 * 1000);
    }
}

/*
 * Start the driver side.  @chardev_opts follow the socket path: QEMU
 * connects by default, with reconnect-ms so that it keeps trying while
 * the peer is not there yet.
 */
static void qemu_start(Rig *r, const char *chardev_opts)
{
    r->qts = qtest_initf(
        "-M virt -cpu max -m 128M -nic none "
        "-object memory-backend-file,id=mem,size=128M,mem-path=%s,share=on "
        "-machine memory-backend=mem "
        "-chardev socket,id=c0,path=%s%s "
        "-device virtio-msg-bus-linux-user,name=lu,chardev=c0,"
        "connect-timeout-ms=20000 "
        "-device virtio-msg-proxy-driver-pci,id=rng0,msg-bus=lu,dev-num=0,"
        "virtio-id=4,timeout-ms=%u,addr=04.0",
        r->ram, r->sock, chardev_opts, TIMEOUT_MS);
    alloc_init(&r->alloc, 0, RAM_BASE + MiB, RAM_BASE + RAM_SIZE, PAGE_SIZE);
    qpci_init_generic(&r->gbus, r->qts, NULL, false);
}

static void rig_cleanup(Rig *r)
{
    if (r->vq) {
        qvirtqueue_cleanup(r->dev->vdev.bus, r->vq, &r->alloc);
    }
    if (r->dev) {
        qvirtio_pci_device_disable(r->dev);
        g_free(r->dev->pdev);
        g_free(r->dev);
    }
    if (r->qts) {
        alloc_destroy(&r->alloc);
        qtest_quit(r->qts);
    }
    peer_kill(r);
    if (r->dir) {
        unlink(r->sock);
        unlink(r->ram);
        g_assert_cmpint(rmdir(r->dir), ==, 0);
    }
    g_free(r->sock);
    g_free(r->ram);
    g_free(r->dir);
}

static QVirtioDevice *vdev(Rig *r)
{
    return &r->dev->vdev;
}

static uint8_t dev_status(Rig *r)
{
    return vdev(r)->bus->get_status(vdev(r));
}

/* What x-query-virtio-status says about the proxy */
static bool proxy_broken(Rig *r)
{
    QDict *st = qtest_qmp_assert_success_ref(r->qts,
        "{ 'execute': 'x-query-virtio-status',"
        "  'arguments': { 'path': '/machine/peripheral/rng0/virtio-backend' }"
        "}");
    bool broken = qdict_get_bool(st, "broken");

    qobject_unref(st);
    return broken;
}

static void qmp_alive(Rig *r)
{
    QDict *ret = qtest_qmp_assert_success_ref(r->qts,
                                              "{ 'execute': 'query-status' }");

    g_assert_cmpstr(qdict_get_str(ret, "status"), ==, "running");
    qobject_unref(ret);
}

/* The guest driver: reset, features, the one virtqueue, DRIVER_OK */
static void rng_bring_up(Rig *r)
{
    uint64_t features;

    if (!r->dev) {
        r->dev = virtio_pci_new(&r->gbus.bus,
                                &(QPCIAddress) { .devfn = RNG_DEVFN });
        g_assert_nonnull(r->dev);
        /* the remote device's type: virtio-rng, modern */
        g_assert_cmphex(r->dev->vdev.device_type, ==, VIRTIO_ID_RNG);
        g_assert_cmphex(qpci_config_readw(r->dev->pdev, PCI_DEVICE_ID), ==,
                        0x1040 + VIRTIO_ID_RNG);
        qvirtio_pci_device_enable(r->dev);
    } else if (r->vq) {
        qvirtqueue_cleanup(vdev(r)->bus, r->vq, &r->alloc);
        r->vq = NULL;
    }
    qvirtio_start_device(vdev(r));
    features = qvirtio_get_features(vdev(r));
    g_assert_cmphex(features & VERSION_1, ==, VERSION_1);
    qvirtio_set_features(vdev(r), VERSION_1);
    r->vq = qvirtqueue_setup(vdev(r), &r->alloc, 0);
    g_assert_cmpuint(r->vq->size, ==, 1024);   /* the peer's maximum */
    qvirtio_set_driver_ok(vdev(r));
    g_assert_cmphex(dev_status(r), ==,
                    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/*
 * Post @n device-writable buffers of @lens bytes (zeroed) as one chain,
 * kick, and wait for the used element; @out gets the bytes.  Returns the
 * used length.
 */
static uint32_t rng_read_chain(Rig *r, const uint32_t *lens, unsigned n,
                               uint8_t *out)
{
    uint64_t addr[4];
    uint32_t head = 0, len = 0, total = 0;

    g_assert_cmpuint(n, <=, ARRAY_SIZE(addr));
    for (unsigned i = 0; i < n; i++) {
        uint32_t d;

        addr[i] = guest_alloc(&r->alloc, lens[i]);
        qtest_memset(r->qts, addr[i], 0, lens[i]);
        d = qvirtqueue_add(r->qts, r->vq, addr[i], lens[i], true, i + 1 < n);
        if (i == 0) {
            head = d;
        }
    }
    qvirtqueue_kick(r->qts, vdev(r), r->vq, head);
    qvirtio_wait_used_elem(r->qts, vdev(r), r->vq, head, &len, WAIT_US);
    for (unsigned i = 0; i < n; i++) {
        qtest_memread(r->qts, addr[i], out + total, lens[i]);
        total += lens[i];
        guest_free(&r->alloc, addr[i]);
    }
    return len;
}

static uint32_t rng_read(Rig *r, uint8_t *out, uint32_t len)
{
    return rng_read_chain(r, &len, 1, out);
}

static bool all_zero(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i]) {
            return false;
        }
    }
    return true;
}

/* Random bytes: most of them not zero, and never the same twice */
static void check_random(const uint8_t *a, const uint8_t *b, size_t len)
{
    size_t zeros = 0;

    g_assert_false(all_zero(a, len));
    g_assert_false(all_zero(b, len));
    g_assert_true(memcmp(a, b, len) != 0);
    for (size_t i = 0; i < len; i++) {
        zeros += !a[i];
    }
    /* about len / 256 expected */
    g_assert_cmpuint(zeros, <, len / 32);
}

/* Two reads of 4 KiB, then a chain of three buffers */
static void read_and_check(Rig *r)
{
    static const uint32_t lens[] = { 100, 1000, 2996 };
    g_autofree uint8_t *a = g_malloc(READ_LEN);
    g_autofree uint8_t *b = g_malloc(READ_LEN);

    g_assert_cmpuint(rng_read(r, a, READ_LEN), ==, READ_LEN);
    g_assert_cmpuint(rng_read(r, b, READ_LEN), ==, READ_LEN);
    check_random(a, b, READ_LEN);
    g_assert_cmpuint(rng_read_chain(r, lens, ARRAY_SIZE(lens), b), ==,
                     READ_LEN);
    check_random(a, b, READ_LEN);
    g_assert_false(proxy_broken(r));
}

/*
 * The peer listens, QEMU connects, the device works: @buf holds READ_LEN
 * bytes read from it.  False if the test is skipped.
 */
static bool rig_up(Rig *r, uint8_t *buf)
{
    if (!rig_init(r)) {
        return false;
    }
    peer_start(r, true, NULL);
    wait_for_path(r->sock);
    qemu_start(r, "");
    rng_bring_up(r);
    g_assert_cmpuint(rng_read(r, buf, READ_LEN), ==, READ_LEN);
    return true;
}

/* The peer listens, QEMU connects */
static void test_peer_listens(void)
{
    Rig r;

    if (!rig_init(&r)) {
        return;
    }
    peer_start(&r, true, NULL);
    wait_for_path(r.sock);
    qemu_start(&r, ",reconnect-ms=100");
    rng_bring_up(&r);
    read_and_check(&r);
    /* a device reset, confirmed by the peer, and everything again */
    rng_bring_up(&r);
    read_and_check(&r);
    g_assert_true(peer_running(&r));
    rig_cleanup(&r);
}

/* QEMU listens, the peer connects (and retries until QEMU is there) */
static void test_peer_connects(void)
{
    Rig r;

    if (!rig_init(&r)) {
        return;
    }
    peer_start(&r, false, NULL);
    qemu_start(&r, ",server=on,wait=off");
    rng_bring_up(&r);
    read_and_check(&r);
    g_assert_true(peer_running(&r));
    rig_cleanup(&r);
}

/* Wait until the guest sees DEVICE_NEEDS_RESET */
static void wait_needs_reset(Rig *r)
{
    int64_t t0 = g_get_monotonic_time();

    while (!(dev_status(r) & VIRTIO_CONFIG_S_NEEDS_RESET)) {
        g_assert_cmpint(g_get_monotonic_time() - t0, <, WAIT_US);
        g_usleep(10 * 1000);
    }
}

/* The peer dies in the middle: QEMU keeps running, the device fails */
static void test_peer_killed(void)
{
    g_autofree uint8_t *buf = g_malloc(READ_LEN);
    uint32_t head, idx, len;
    uint64_t addr;
    int64_t t0;
    Rig r;

    if (!rig_up(&r, buf)) {
        return;
    }
    g_assert_false(all_zero(buf, READ_LEN));

    /* a buffer is posted, then the peer is killed before it is kicked */
    addr = guest_alloc(&r.alloc, READ_LEN);
    qtest_memset(r.qts, addr, 0, READ_LEN);
    head = qvirtqueue_add(r.qts, r.vq, addr, READ_LEN, true, false);
    peer_kill(&r);
    wait_needs_reset(&r);
    g_assert_true(proxy_broken(&r));

    /* the kick goes nowhere and does not wait */
    t0 = g_get_monotonic_time();
    qvirtqueue_kick(r.qts, vdev(&r), r.vq, head);
    qmp_alive(&r);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, TIMEOUT_MS * 1000LL);
    g_usleep(100 * 1000);
    g_assert_false(qvirtqueue_get_buf(r.qts, r.vq, &idx, &len));
    qtest_memread(r.qts, addr, buf, READ_LEN);
    g_assert_true(all_zero(buf, READ_LEN));

    /* a guest reset fails at once: nobody can confirm it */
    t0 = g_get_monotonic_time();
    vdev(&r)->bus->set_status(vdev(&r), 0);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, TIMEOUT_MS * 1000LL);
    g_assert_true(proxy_broken(&r));
    qmp_alive(&r);
    guest_free(&r.alloc, addr);
    rig_cleanup(&r);
}

/*
 * The guest hands the peer a buffer outside its RAM: the peer fails the
 * device (DEVICE_NEEDS_RESET), survives, and works again after a reset.
 */
static void test_bad_buffer(void)
{
    g_autofree uint8_t *buf = g_malloc(READ_LEN);
    uint32_t head, idx, len;
    Rig r;

    if (!rig_up(&r, buf)) {
        return;
    }

    /* below RAM, and a buffer that runs past its end */
    head = qvirtqueue_add(r.qts, r.vq, 0x1000, READ_LEN, true, false);
    qvirtqueue_kick(r.qts, vdev(&r), r.vq, head);
    wait_needs_reset(&r);
    g_assert_true(proxy_broken(&r));
    g_assert_false(qvirtqueue_get_buf(r.qts, r.vq, &idx, &len));
    g_assert_true(peer_running(&r));
    qmp_alive(&r);

    rng_bring_up(&r);
    g_assert_false(proxy_broken(&r));
    head = qvirtqueue_add(r.qts, r.vq, RAM_BASE + RAM_SIZE - 16, 32, true,
                          false);
    qvirtqueue_kick(r.qts, vdev(&r), r.vq, head);
    wait_needs_reset(&r);
    g_assert_true(peer_running(&r));

    rng_bring_up(&r);
    read_and_check(&r);
    g_assert_true(peer_running(&r));
    rig_cleanup(&r);
}

/* Setups a broken peer sends; QEMU must drop each connection itself */
typedef enum BadSetup {
    BAD_HANG_UP,        /* closes the connection before any setup */
    BAD_MAGIC,
    BAD_VERSION,
    BAD_QUEUE_SIZE,
    BAD_NO_FD,
    BAD_TWO_FDS,
    BAD_UNSEALED,
    BAD_SMALL_MEMFD,
    BAD_GARBAGE_AFTER,
    BAD_COUNT,
} BadSetup;

typedef struct BadPeer {
    Rig *rig;
    char *real_sock;    /* where the real peer listens meanwhile */
    int listen_fd;
    unsigned dropped;   /* connections QEMU closed after a bad setup */
} BadPeer;

static int bad_memfd(size_t size, int seals)
{
    int fd = memfd_create("vmsg-bad-peer", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    if (seals) {
        g_assert_cmpint(fcntl(fd, F_ADD_SEALS, seals), ==, 0);
    }
    return fd;
}

static void bad_send(int sock, BadSetup kind)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } control = { };
    uint8_t setup[LU_SETUP_SIZE + 4] = { };
    struct iovec iov = { .iov_base = setup, .iov_len = LU_SETUP_SIZE };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    int fds[2] = { -1, -1 };
    int nfds = kind == BAD_NO_FD ? 0 : kind == BAD_TWO_FDS ? 2 : 1;

    memcpy(setup, "VMSGLU", 6);
    stw_le_p(setup + 6, 1);
    stl_le_p(setup + 8, LU_QUEUE_SIZE);
    switch (kind) {
    case BAD_MAGIC:
        setup[0] = 'X';
        break;
    case BAD_VERSION:
        stw_le_p(setup + 6, 2);
        break;
    case BAD_QUEUE_SIZE:
        stl_le_p(setup + 8, LU_QUEUE_SIZE / 2);
        break;
    case BAD_GARBAGE_AFTER:
        memcpy(setup + LU_SETUP_SIZE, "DDX!", 4);
        iov.iov_len += 4;
        break;
    default:
        break;
    }
    for (int i = 0; i < nfds; i++) {
        fds[i] = bad_memfd(kind == BAD_SMALL_MEMFD ? LU_QUEUE_SIZE
                                                   : 2 * LU_QUEUE_SIZE,
                           kind == BAD_UNSEALED ? 0 : LU_SEALS);
    }
    if (nfds) {
        struct cmsghdr *c;

        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    g_assert_cmpint(sendmsg(sock, &msg, MSG_NOSIGNAL), ==, iov.iov_len);
    for (int i = 0; i < nfds; i++) {
        close(fds[i]);
    }
}

/* True once QEMU closed @sock (whatever it sent before) */
static bool closed_by_qemu(int sock)
{
    int64_t t0 = g_get_monotonic_time();
    uint8_t buf[64];

    while (g_get_monotonic_time() - t0 < WAIT_US) {
        struct pollfd pfd = { .fd = sock, .events = POLLIN };
        ssize_t n;

        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        n = read(sock, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            return true;
        }
    }
    return false;
}

/*
 * Serve one bad setup per connection, then hand over to the real peer.
 * QEMU connects again as soon as it dropped a connection: the path must
 * lead to the real peer before the last bad setup is sent, or QEMU's next
 * connection would wait in the backlog of a socket that nobody serves.
 */
static gpointer bad_peer_thread(gpointer opaque)
{
    BadPeer *b = opaque;
    bool handed_over = false;

    for (int kind = 0; kind < BAD_COUNT; kind++) {
        struct pollfd pfd = { .fd = b->listen_fd, .events = POLLIN };
        int sock;

        if (poll(&pfd, 1, WAIT_US / 1000) <= 0) {
            break;
        }
        sock = accept(b->listen_fd, NULL, NULL);
        if (sock < 0) {
            break;
        }
        if (kind == BAD_COUNT - 1) {
            handed_over = rename(b->real_sock, b->rig->sock) == 0;
        }
        if (kind == BAD_HANG_UP) {
            /* QEMU must connect again, not give up on the link */
            b->dropped++;
        } else {
            bad_send(sock, kind);
            if (closed_by_qemu(sock)) {
                b->dropped++;
            }
        }
        close(sock);
    }
    if (!handed_over) {
        rename(b->real_sock, b->rig->sock);
    }
    close(b->listen_fd);
    return NULL;
}

/*
 * A broken peer gets QEMU's first connections: it hangs up at once, then
 * sends bad setups; QEMU drops each, keeps connecting, and takes the real
 * peer that listens afterwards.
 */
static void test_bad_setups(void)
{
    g_autofree uint8_t *buf = g_malloc(READ_LEN);
    GThread *thread;
    BadPeer b = { };
    Rig r;

    if (!rig_init(&r)) {
        return;
    }
    b.rig = &r;
    b.real_sock = g_build_filename(r.dir, "real-sock", NULL);
    b.listen_fd = qtest_socket_server(r.sock);
    peer_start(&r, true, b.real_sock);
    wait_for_path(b.real_sock);
    thread = g_thread_new("bad-peer", bad_peer_thread, &b);
    /* QEMU waits (connect-timeout-ms) for the link before it runs */
    qemu_start(&r, ",reconnect-ms=50");
    g_thread_join(thread);
    g_assert_cmpuint(b.dropped, ==, BAD_COUNT);
    qmp_alive(&r);
    rng_bring_up(&r);
    g_assert_cmpuint(rng_read(&r, buf, READ_LEN), ==, READ_LEN);
    g_assert_false(all_zero(buf, READ_LEN));
    g_assert_true(peer_running(&r));
    unlink(b.real_sock);
    g_free(b.real_sock);
    rig_cleanup(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("virtio-msg-rng-peer/peer-listens", test_peer_listens);
    qtest_add_func("virtio-msg-rng-peer/peer-connects", test_peer_connects);
    qtest_add_func("virtio-msg-rng-peer/peer-killed", test_peer_killed);
    qtest_add_func("virtio-msg-rng-peer/bad-buffer", test_bad_buffer);
    qtest_add_func("virtio-msg-rng-peer/bad-setups", test_bad_setups);
    return g_test_run();
}
