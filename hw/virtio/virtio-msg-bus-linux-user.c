/*
 * virtio-msg-bus-linux-user: a virtio-msg bus between two QEMU processes
 *
 * The side whose chardev listens creates a sealed memfd holding two SPSC
 * queues (its transmit queue first) each time the other side connects, and
 * passes it over the socket in a setup message.  Both sides then ring each
 * other with one-byte doorbells.  The bus carries both directions: requests
 * and EVENT_AVAIL go to the transports of the devices plugged here,
 * responses and device events to the driver side (virtio-msg-driver.c).
 *
 * The other process is untrusted.  Indices are sanitised by the queue code,
 * the memfd must be sealed against shrinking, and a peer that goes away
 * only takes the link down.  The link is a state of its own: while it is
 * down there is no mapping, no queue, no backlog and no pending work, so
 * nothing is sent or processed; each connection starts from scratch.
 * Waits of the driver side block on the socket (never the main loop) and
 * are bounded by their caller.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/memfd.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "chardev/char-socket.h"
#include "io/channel-socket.h"
#include "io/net-listener.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "system/runstate.h"
#include "hw/virtio/virtio-msg-bus-linux-user.h"
#include "trace.h"

#define RETRY_NS (5 * SCALE_MS)

static void lu_doorbell(VirtIOMSGBusLinuxUser *s)
{
    uint8_t b = VIRTIO_MSG_LU_DOORBELL;

    /*
     * If the socket is full the peer has doorbells it has not read yet and
     * will look at the queue anyway: a failed write loses nothing.
     */
    qemu_chr_fe_write(&s->chr, &b, 1);
}

/*
 * Keep going later: the backlog waits for room, or messages wait for us
 * (at once if we can take them; else when the retry timer fires)
 */
static void lu_schedule(VirtIOMSGBusLinuxUser *s)
{
    if (!s->up) {
        return;
    }
    if (s->ch.more && virtio_msg_channel_can_receive(&s->ch, &s->bus)) {
        qemu_bh_schedule(s->process_bh);
    }
    if (virtio_msg_channel_busy(&s->ch)) {
        timer_mod(s->retry_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + RETRY_NS);
    }
}

static void lu_send(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                    const VirtIOMSG *msg, const uint8_t *buf, size_t len)
{
    VirtIOMSGBusLinuxUser *s = VIRTIO_MSG_BUS_LINUX_USER(bd);

    if (!s->up) {
        trace_virtio_msg_lu_send_down(s->name,
                                      virtio_msg_name(msg->type, msg->id),
                                      msg->dev_num);
        return;
    }
    switch (virtio_msg_channel_send(&s->ch, msg, buf, len)) {
    case VIRTIO_MSG_CHANNEL_SENT:
        lu_doorbell(s);
        break;
    case VIRTIO_MSG_CHANNEL_WAITING:
        lu_schedule(s);
        break;
    case VIRTIO_MSG_CHANNEL_DROPPED:
        break;
    }
}

/* Flush the backlog, handle what the peer sent, plan what is left. */
static uint32_t lu_run(VirtIOMSGBusLinuxUser *s)
{
    uint32_t n;

    if (!s->up) {
        return 0;
    }
    if (virtio_msg_channel_flush(&s->ch)) {
        lu_doorbell(s);
    }
    n = virtio_msg_channel_receive(&s->ch, &s->bus);
    if (s->up && virtio_msg_channel_flush(&s->ch)) {
        lu_doorbell(s);
    }
    lu_schedule(s);
    return n;
}

static void lu_process(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus)
{
    lu_run(VIRTIO_MSG_BUS_LINUX_USER(bd));
}

static bool lu_link_up(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus)
{
    return VIRTIO_MSG_BUS_LINUX_USER(bd)->up;
}

static void lu_process_bh(void *opaque)
{
    lu_run(opaque);
}

static bool lu_congested(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus)
{
    return virtio_msg_channel_congested(&VIRTIO_MSG_BUS_LINUX_USER(bd)->ch);
}

static void lu_retry(void *opaque)
{
    lu_run(opaque);
}

static void lu_unmap(VirtIOMSGBusLinuxUser *s)
{
    if (s->shm) {
        qemu_memfd_free(s->shm, s->shm_size, s->memfd);
    } else if (s->memfd >= 0) {
        close(s->memfd);
    }
    s->shm = NULL;
    s->shm_size = 0;
    s->memfd = -1;
}

/* Close file descriptors the peer sent that nobody asked for. */
static void lu_drop_fds(VirtIOMSGBusLinuxUser *s)
{
    int fds[TCP_MAX_FDS];
    int n = qemu_chr_fe_get_msgfds(&s->chr, fds, TCP_MAX_FDS);

    for (int i = 0; i < n; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
}

/* Forget everything about the current connection. */
static void lu_link_down(VirtIOMSGBusLinuxUser *s)
{
    bool was_up = s->up;

    s->up = false;
    s->setup_len = 0;
    virtio_msg_channel_detach(&s->ch);
    timer_del(s->retry_timer);
    qemu_bh_cancel(s->process_bh);
    lu_unmap(s);
    lu_drop_fds(s);
    if (was_up) {
        trace_virtio_msg_lu_link(s->name, false);
        if (!runstate_check(RUN_STATE_SHUTDOWN)) {
            virtio_msg_bus_link_down(&s->bus);
        }
    }
}

/* Drop a connection (failed setup, protocol error): the next starts clean */
static void lu_drop_connection(VirtIOMSGBusLinuxUser *s, const char *why)
{
    trace_virtio_msg_lu_drop_connection(s->name, why);
    warn_report("%s: %s; dropping the connection", s->name, why);
    lu_link_down(s);
    qemu_chr_fe_disconnect(&s->chr);
}

static void lu_link_up_now(VirtIOMSGBusLinuxUser *s)
{
    uint8_t *first = s->shm;
    uint8_t *second = s->shm + VIRTIO_MSG_LU_QUEUE_SIZE;

    /* the listening side transmits on the first queue */
    virtio_msg_channel_attach(&s->ch, s->server ? first : second,
                              VIRTIO_MSG_LU_QUEUE_SIZE,
                              s->server ? second : first,
                              VIRTIO_MSG_LU_QUEUE_SIZE);
    s->up = true;
    trace_virtio_msg_lu_link(s->name, true);
}

/* Listening side: a peer connected; give it fresh queues. */
static void lu_server_setup(VirtIOMSGBusLinuxUser *s)
{
    uint8_t setup[VIRTIO_MSG_LU_SETUP_SIZE] = { 0 };
    Error *err = NULL;

    lu_link_down(s);
    s->shm_size = 2 * VIRTIO_MSG_LU_QUEUE_SIZE;
    s->shm = qemu_memfd_alloc("virtio-msg-linux-user", s->shm_size,
                              F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL,
                              &s->memfd, &err);
    if (!s->shm) {
        error_report_err(err);
        lu_drop_connection(s, "cannot allocate the queues");
        return;
    }
    memset(s->shm, 0, s->shm_size);
    memcpy(setup, VIRTIO_MSG_LU_MAGIC, 6);
    stw_le_p(setup + 6, VIRTIO_MSG_LU_VERSION);
    stl_le_p(setup + 8, VIRTIO_MSG_LU_QUEUE_SIZE);
    qemu_chr_fe_set_msgfds(&s->chr, &s->memfd, 1);
    if (qemu_chr_fe_write_all(&s->chr, setup, sizeof(setup)) !=
        sizeof(setup)) {
        qemu_chr_fe_set_msgfds(&s->chr, NULL, 0);
        lu_drop_connection(s, "could not send the setup to the peer");
        return;
    }
    lu_link_up_now(s);
}

/* The connected socket, or -1 */
static int lu_socket_fd(VirtIOMSGBusLinuxUser *s)
{
    SocketChardev *sc = SOCKET_CHARDEV(qemu_chr_fe_get_driver(&s->chr));

    return sc->state == TCP_CHARDEV_STATE_CONNECTED && sc->sioc ?
           sc->sioc->fd : -1;
}

/* Is anything but doorbells already waiting behind the setup message? */
static bool lu_garbage_follows(VirtIOMSGBusLinuxUser *s)
{
    uint8_t buf[64];
    int fd = lu_socket_fd(s);
    ssize_t n = fd < 0 ? 0 : recv(fd, buf, sizeof(buf),
                                  MSG_PEEK | MSG_DONTWAIT);

    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] != VIRTIO_MSG_LU_DOORBELL) {
            return true;
        }
    }
    return false;
}

/* Connecting side: the setup message has arrived; check and map it. */
static void lu_client_setup(VirtIOMSGBusLinuxUser *s)
{
    int fds[TCP_MAX_FDS];
    int nfds = qemu_chr_fe_get_msgfds(&s->chr, fds, TCP_MAX_FDS);
    int fd = nfds == 1 ? fds[0] : -1;
    struct stat st;
    int seals;
    void *p;

    if (nfds != 1 || fd < 0) {
        for (int i = 0; i < nfds; i++) {
            if (fds[i] >= 0) {
                close(fds[i]);
            }
        }
        lu_drop_connection(s, "the setup from the peer does not carry exactly "
                        "one file descriptor");
        return;
    }
    seals = fcntl(fd, F_GET_SEALS);
    if (memcmp(s->setup, VIRTIO_MSG_LU_MAGIC, 6) ||
        lduw_le_p(s->setup + 6) != VIRTIO_MSG_LU_VERSION ||
        ldl_le_p(s->setup + 8) != VIRTIO_MSG_LU_QUEUE_SIZE ||
        seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(fd, &st) < 0 ||
        st.st_size < 2 * VIRTIO_MSG_LU_QUEUE_SIZE) {
        close(fd);
        lu_drop_connection(s, "the peer sent an invalid setup (magic, version, "
                        "size, or an unsealed or short memfd)");
        return;
    }
    if (lu_garbage_follows(s)) {
        close(fd);
        lu_drop_connection(s, "the peer's setup is followed by bytes that "
                           "are not doorbells");
        return;
    }
    p = mmap(NULL, 2 * VIRTIO_MSG_LU_QUEUE_SIZE, PROT_READ | PROT_WRITE,
             MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        lu_drop_connection(s, "cannot map the peer's queues");
        return;
    }
    lu_unmap(s);
    s->memfd = fd;
    s->shm = p;
    s->shm_size = 2 * VIRTIO_MSG_LU_QUEUE_SIZE;
    lu_link_up_now(s);
}

/* Connecting side, link down: collect the setup message. */
static void lu_setup_input(VirtIOMSGBusLinuxUser *s, const uint8_t *buf,
                           size_t size)
{
    size = MIN(size, VIRTIO_MSG_LU_SETUP_SIZE - s->setup_len);
    memcpy(s->setup + s->setup_len, buf, size);
    s->setup_len += size;
    if (s->setup_len == VIRTIO_MSG_LU_SETUP_SIZE) {
        s->setup_len = 0;
        lu_client_setup(s);
    }
}

static int lu_can_read(void *opaque)
{
    VirtIOMSGBusLinuxUser *s = opaque;

    /* read the setup message on its own, so its memfd is ours to take */
    if (!s->up && !s->server) {
        return VIRTIO_MSG_LU_SETUP_SIZE - s->setup_len;
    }
    return 64;
}

/*
 * After the setup the socket carries doorbells only: anything else (an
 * oversized setup, garbage) means the peer does not follow the protocol.
 */
static bool lu_doorbells_ok(VirtIOMSGBusLinuxUser *s, const uint8_t *buf,
                            int size)
{
    lu_drop_fds(s);
    for (int i = 0; i < size; i++) {
        if (buf[i] != VIRTIO_MSG_LU_DOORBELL) {
            lu_drop_connection(s, "the peer sent something other than a "
                            "doorbell");
            return false;
        }
    }
    return true;
}

static void lu_read(void *opaque, const uint8_t *buf, int size)
{
    VirtIOMSGBusLinuxUser *s = opaque;

    if (!s->up) {
        if (!s->server) {
            lu_setup_input(s, buf, size);
        }
        return;
    }
    /* doorbells: whatever arrived, look at the queue */
    if (lu_doorbells_ok(s, buf, size)) {
        lu_run(s);
    }
}

static void lu_event(void *opaque, QEMUChrEvent event)
{
    VirtIOMSGBusLinuxUser *s = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        if (s->server) {
            lu_server_setup(s);
        } else {
            lu_link_down(s);
        }
        break;
    case CHR_EVENT_CLOSED:
        lu_link_down(s);
        break;
    default:
        break;
    }
}

/*
 * Block until @fd (or, with @fd < 0, a listening socket of ours) can be
 * read, or @timeout_ms pass.  Returns true if it can.
 */
static bool lu_poll(VirtIOMSGBusLinuxUser *s, int fd, int64_t timeout_ms)
{
    SocketChardev *sc = SOCKET_CHARDEV(qemu_chr_fe_get_driver(&s->chr));
    GPollFD pfds[8];
    int n = 0;

    if (fd >= 0) {
        pfds[n++] = (GPollFD) { .fd = fd, .events = G_IO_IN };
    } else if (sc->listener) {
        for (size_t i = 0; i < sc->listener->nsioc && n < 8; i++) {
            pfds[n++] = (GPollFD) { .fd = sc->listener->sioc[i]->fd,
                                    .events = G_IO_IN };
        }
    }
    if (!n) {
        return false;
    }
    return g_poll(pfds, n, MIN(timeout_ms, INT_MAX)) > 0;
}

/* Read one byte the poll said is there (0 bytes: the peer hung up). */
static bool lu_read_byte(VirtIOMSGBusLinuxUser *s, uint8_t *b)
{
    return qemu_chr_fe_read_all(&s->chr, b, 1) == 1;
}

static bool lu_wait(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                    int64_t timeout_ms)
{
    VirtIOMSGBusLinuxUser *s = VIRTIO_MSG_BUS_LINUX_USER(bd);
    uint8_t b;
    int fd;

    /* what is in the queue already (its doorbell may be gone) */
    if (lu_run(s) || !s->up) {
        return s->up;
    }
    fd = lu_socket_fd(s);
    if (fd >= 0 && lu_poll(s, fd, timeout_ms) && lu_read_byte(s, &b) &&
        lu_doorbells_ok(s, &b, 1)) {
        lu_run(s);
    }
    return s->up;
}

/*
 * Connecting side with reconnect-ms, not connected yet: one connection
 * attempt now, or a pause until the next one.  qemu_chr_fe_wait_connected()
 * would retry forever, so it is given no reconnect delay; the chardev's
 * own retries are re-armed by lu_wait_link() if we give up.  Returns false
 * when @left_ms is over or the chardev does not reconnect.
 */
static bool lu_connect_once(VirtIOMSGBusLinuxUser *s, int64_t left_ms)
{
    SocketChardev *sc = SOCKET_CHARDEV(qemu_chr_fe_get_driver(&s->chr));
    int64_t reconnect_ms = sc->reconnect_time_ms;
    int ret;

    if (!reconnect_ms) {
        return false;
    }
    sc->reconnect_time_ms = 0;
    ret = qemu_chr_fe_wait_connected(&s->chr, NULL);
    sc->reconnect_time_ms = reconnect_ms;
    if (ret == 0) {
        return true;
    }
    if (left_ms <= reconnect_ms) {
        return false;
    }
    g_usleep(reconnect_ms * 1000);
    return true;
}

/* Sleep reconnect-ms (not past @deadline); false if it does not reconnect */
static bool lu_pause(VirtIOMSGBusLinuxUser *s, int64_t deadline)
{
    SocketChardev *sc = SOCKET_CHARDEV(qemu_chr_fe_get_driver(&s->chr));
    int64_t left = deadline - qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

    if (!sc->reconnect_time_ms || left <= 0) {
        return false;
    }
    g_usleep(MIN(sc->reconnect_time_ms, left) * 1000);
    return true;
}

static void lu_wait_link_until(VirtIOMSGBusLinuxUser *s)
{
    int64_t deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                       s->connect_timeout_ms;

    while (!s->up) {
        int64_t left = deadline - qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
        int fd = lu_socket_fd(s);
        uint8_t b;

        if (left <= 0) {
            return;
        }
        if (fd < 0) {
            if (s->server) {
                /* take the first connection (OPENED sets the link up) */
                if (!lu_poll(s, -1, left) ||
                    qemu_chr_fe_wait_connected(&s->chr, NULL) < 0) {
                    return;
                }
            } else if (!lu_connect_once(s, left)) {
                return;
            }
            continue;
        }
        if (s->server) {
            return;     /* connected, but its setup failed */
        }
        if (!lu_poll(s, fd, left)) {
            return;
        }
        if (!lu_read_byte(s, &b)) {
            /* hung up before its setup: connect again after a pause */
            qemu_chr_fe_disconnect(&s->chr);
            if (!lu_pause(s, deadline)) {
                return;
            }
            continue;
        }
        lu_setup_input(s, &b, 1);
    }
}

static void lu_wait_link(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus)
{
    VirtIOMSGBusLinuxUser *s = VIRTIO_MSG_BUS_LINUX_USER(bd);

    lu_wait_link_until(s);
    if (!s->server && lu_socket_fd(s) < 0) {
        /* given up: let the chardev's own reconnection timer run again */
        qemu_chr_fe_disconnect(&s->chr);
    }
}

static void lu_purge(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus,
                     uint16_t dev_num)
{
    virtio_msg_channel_purge(&VIRTIO_MSG_BUS_LINUX_USER(bd)->ch, dev_num);
}

static void lu_realize(DeviceState *dev, Error **errp)
{
    VirtIOMSGBusLinuxUser *s = VIRTIO_MSG_BUS_LINUX_USER(dev);
    Chardev *chr = qemu_chr_fe_get_driver(&s->chr);

    if (!chr || !object_dynamic_cast(OBJECT(chr), TYPE_CHARDEV_SOCKET) ||
        !qemu_chr_has_feature(chr, QEMU_CHAR_FEATURE_FD_PASS)) {
        error_setg(errp, "chardev: a unix socket chardev is required");
        return;
    }
    if (!virtio_msg_bus_check_name(s->name, errp)) {
        return;
    }
    s->server = SOCKET_CHARDEV(chr)->is_listen;
    s->memfd = -1;
    virtio_msg_channel_init(&s->ch, s->name);
    s->retry_timer = timer_new_ns(QEMU_CLOCK_REALTIME, lu_retry, s);
    s->process_bh = qemu_bh_new_guarded(lu_process_bh, s,
                                        &dev->mem_reentrancy_guard);
    if (!virtio_msg_bus_init(&s->bus, dev, s->name, 0, SPSC_SLOT_SIZE,
                             errp)) {
        return;
    }
    qemu_chr_fe_set_handlers(&s->chr, lu_can_read, lu_read, lu_event, NULL,
                             s, NULL, true);
}

static void lu_unrealize(DeviceState *dev)
{
    VirtIOMSGBusLinuxUser *s = VIRTIO_MSG_BUS_LINUX_USER(dev);

    qemu_chr_fe_deinit(&s->chr, false);
    s->up = false;
    virtio_msg_channel_detach(&s->ch);
    timer_free(s->retry_timer);
    qemu_bh_delete(s->process_bh);
    lu_unmap(s);
}

static const Property lu_properties[] = {
    DEFINE_PROP_CHR("chardev", VirtIOMSGBusLinuxUser, chr),
    DEFINE_PROP_STRING("name", VirtIOMSGBusLinuxUser, name),
    DEFINE_PROP_UINT32("connect-timeout-ms", VirtIOMSGBusLinuxUser,
                       connect_timeout_ms, 30000),
};

static const VMStateDescription vmstate_lu = {
    .name = TYPE_VIRTIO_MSG_BUS_LINUX_USER,
    .unmigratable = 1,
};

static void lu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtIOMSGBusDeviceClass *bdc = VIRTIO_MSG_BUS_DEVICE_CLASS(klass);

    dc->realize = lu_realize;
    dc->unrealize = lu_unrealize;
    dc->desc = "virtio-msg bus to another QEMU process (shared memory "
               "queues, socket doorbells)";
    dc->user_creatable = true;
    dc->vmsd = &vmstate_lu;
    device_class_set_props(dc, lu_properties);
    object_class_property_set_description(klass, "chardev",
        "unix socket chardev to the other QEMU (the listening side creates "
        "the queues)");
    object_class_property_set_description(klass, "name",
        "name of the virtio-msg bus (msg-bus of the proxies)");
    object_class_property_set_description(klass, "connect-timeout-ms",
        "how long the driver side waits for the link once, when the "
        "machine is built");
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    bdc->send = lu_send;
    bdc->process = lu_process;
    bdc->link_up = lu_link_up;
    bdc->wait = lu_wait;
    bdc->wait_link = lu_wait_link;
    bdc->purge = lu_purge;
    bdc->congested = lu_congested;
}

static const TypeInfo lu_types[] = {
    {
        .name = TYPE_VIRTIO_MSG_BUS_LINUX_USER,
        .parent = TYPE_SYS_BUS_DEVICE,
        .instance_size = sizeof(VirtIOMSGBusLinuxUser),
        .class_init = lu_class_init,
        .interfaces = (InterfaceInfo[]) {
            { TYPE_VIRTIO_MSG_BUS_DEVICE },
            { }
        },
    },
};

DEFINE_TYPES(lu_types)
