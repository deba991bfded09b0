/*
 * virtio-msg-bus-linux-user: a virtio-msg bus between two QEMU processes
 *
 * The side whose chardev listens creates a sealed memfd holding two SPSC
 * queues (its transmit queue first) each time the other side connects, and
 * passes it over the socket in a setup message.  Both sides then ring each
 * other with one-byte doorbells.  The bus carries both directions: requests
 * and EVENT_AVAIL go to the transports of the devices plugged here,
 * responses, EVENT_USED and EVENT_CONFIG to the drivers registered here
 * (virtio-msg-proxy-driver).  The other process is untrusted: indices are
 * sanitised by the queue code, the memfd must be sealed against shrinking,
 * and a peer that goes away only takes the link down.
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
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "system/runstate.h"
#include "hw/virtio/virtio-msg-bus-linux-user.h"
#include "trace.h"

#define RETRY_NS (5 * SCALE_MS)

static QTAILQ_HEAD(, VirtIOMSGBusLinuxUser) lu_devices =
    QTAILQ_HEAD_INITIALIZER(lu_devices);

VirtIOMSGBusLinuxUser *virtio_msg_bus_linux_user_find(const char *name)
{
    VirtIOMSGBusLinuxUser *s;

    QTAILQ_FOREACH(s, &lu_devices, next) {
        if (!g_strcmp0(s->name, name)) {
            return s;
        }
    }
    return NULL;
}

static void lu_doorbell(VirtIOMSGBusLinuxUser *s)
{
    uint8_t b = VIRTIO_MSG_LU_DOORBELL;

    /*
     * If the socket is full the peer has doorbells it has not read yet and
     * will look at the queue anyway: a failed write loses nothing.
     */
    qemu_chr_fe_write(&s->chr, &b, 1);
}

static void lu_flush_backlog(VirtIOMSGBusLinuxUser *s)
{
    if (virtio_msg_backlog_flush(&s->backlog, &s->tx)) {
        lu_doorbell(s);
    }
    if (s->backlog.count) {
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
    if (!s->backlog.count && spsc_send(&s->tx, buf, len)) {
        lu_doorbell(s);
        return;
    }
    if (virtio_msg_backlog_add(&s->backlog, msg, buf, len) ==
        VIRTIO_MSG_BACKLOG_FULL) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: peer does not consume its queue and %d messages "
                      "wait; dropping %s for dev %u\n", s->name,
                      VIRTIO_MSG_BACKLOG_MAX,
                      virtio_msg_name(msg->type, msg->id), msg->dev_num);
    }
    timer_mod(s->retry_timer,
              qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + RETRY_NS);
}

/* Handle what the peer sent, at most one queue's worth per call. */
static void lu_process(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus)
{
    VirtIOMSGBusLinuxUser *s = VIRTIO_MSG_BUS_LINUX_USER(bd);
    uint8_t slot[SPSC_SLOT_SIZE];

    for (uint32_t n = 0; s->up && n < s->rx.capacity; n++) {
        if (!spsc_recv(&s->rx, slot)) {
            return;
        }
        virtio_msg_bus_receive(&s->bus, slot, sizeof(slot));
    }
    if (s->up) {
        qemu_bh_schedule(s->process_bh);
    }
}

static bool lu_link_up(VirtIOMSGBusDevice *bd, VirtIOMSGBus *bus)
{
    return VIRTIO_MSG_BUS_LINUX_USER(bd)->up;
}

static void lu_process_bh(void *opaque)
{
    VirtIOMSGBusLinuxUser *s = opaque;

    virtio_msg_bus_process(&s->bus);
}

static void lu_retry(void *opaque)
{
    VirtIOMSGBusLinuxUser *s = opaque;

    if (s->up) {
        lu_flush_backlog(s);
    }
}

static void lu_attach_queues(VirtIOMSGBusLinuxUser *s)
{
    uint8_t *first = s->shm;
    uint8_t *second = s->shm + VIRTIO_MSG_LU_QUEUE_SIZE;

    /* the listening side transmits on the first queue */
    spsc_init(&s->tx, s->server ? first : second, VIRTIO_MSG_LU_QUEUE_SIZE);
    spsc_init(&s->rx, s->server ? second : first, VIRTIO_MSG_LU_QUEUE_SIZE);
    virtio_msg_backlog_reset(&s->backlog);
    s->up = true;
    trace_virtio_msg_lu_link(s->name, true);
}

static void lu_unmap(VirtIOMSGBusLinuxUser *s)
{
    if (s->shm) {
        qemu_memfd_free(s->shm, s->shm_size, s->memfd);
    } else if (s->memfd >= 0) {
        close(s->memfd);
    }
    s->shm = NULL;
    s->memfd = -1;
}

/* Listening side: a peer connected; give it fresh queues. */
static void lu_server_setup(VirtIOMSGBusLinuxUser *s)
{
    uint8_t setup[VIRTIO_MSG_LU_SETUP_SIZE] = { 0 };
    Error *err = NULL;

    lu_unmap(s);
    s->shm_size = 2 * VIRTIO_MSG_LU_QUEUE_SIZE;
    s->shm = qemu_memfd_alloc("virtio-msg-linux-user", s->shm_size,
                              F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL,
                              &s->memfd, &err);
    if (!s->shm) {
        error_report_err(err);
        return;
    }
    memset(s->shm, 0, s->shm_size);
    memcpy(setup, VIRTIO_MSG_LU_MAGIC, 6);
    stw_le_p(setup + 6, VIRTIO_MSG_LU_VERSION);
    stl_le_p(setup + 8, VIRTIO_MSG_LU_QUEUE_SIZE);
    qemu_chr_fe_set_msgfds(&s->chr, &s->memfd, 1);
    if (qemu_chr_fe_write_all(&s->chr, setup, sizeof(setup)) !=
        sizeof(setup)) {
        warn_report("%s: could not send the setup to the peer", s->name);
        return;
    }
    lu_attach_queues(s);
}

/* Connecting side: the setup message has arrived; check and map it. */
static void lu_client_setup(VirtIOMSGBusLinuxUser *s)
{
    struct stat st;
    int fd = -1;
    int seals;
    void *p;

    if (qemu_chr_fe_get_msgfds(&s->chr, &fd, 1) != 1 || fd < 0) {
        warn_report("%s: setup from the peer carries no memory", s->name);
        return;
    }
    seals = fcntl(fd, F_GET_SEALS);
    if (memcmp(s->setup, VIRTIO_MSG_LU_MAGIC, 6) ||
        lduw_le_p(s->setup + 6) != VIRTIO_MSG_LU_VERSION ||
        ldl_le_p(s->setup + 8) != VIRTIO_MSG_LU_QUEUE_SIZE ||
        seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(fd, &st) < 0 ||
        st.st_size < 2 * VIRTIO_MSG_LU_QUEUE_SIZE) {
        warn_report("%s: the peer sent an invalid setup; ignored", s->name);
        close(fd);
        return;
    }
    p = mmap(NULL, 2 * VIRTIO_MSG_LU_QUEUE_SIZE, PROT_READ | PROT_WRITE,
             MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        warn_report("%s: cannot map the peer's queues: %s", s->name,
                    strerror(errno));
        close(fd);
        return;
    }
    lu_unmap(s);
    s->memfd = fd;
    s->shm = p;
    s->shm_size = 2 * VIRTIO_MSG_LU_QUEUE_SIZE;
    lu_attach_queues(s);
}

static void lu_link_down(VirtIOMSGBusLinuxUser *s)
{
    bool was_up = s->up;

    s->up = false;
    s->setup_len = 0;
    timer_del(s->retry_timer);
    lu_unmap(s);
    if (was_up && !runstate_check(RUN_STATE_SHUTDOWN)) {
        trace_virtio_msg_lu_link(s->name, false);
        /* drivers here see their device fail; devices here are reset */
        virtio_msg_bus_link_lost(&s->bus);
        bus_cold_reset(BUS(&s->bus));
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

static void lu_read(void *opaque, const uint8_t *buf, int size)
{
    VirtIOMSGBusLinuxUser *s = opaque;

    if (!s->up && !s->server) {
        size = MIN(size, VIRTIO_MSG_LU_SETUP_SIZE - s->setup_len);
        memcpy(s->setup + s->setup_len, buf, size);
        s->setup_len += size;
        if (s->setup_len == VIRTIO_MSG_LU_SETUP_SIZE) {
            lu_client_setup(s);
            s->setup_len = 0;
        }
        return;
    }
    /* doorbells: whatever arrived, look at the queue */
    virtio_msg_bus_process(&s->bus);
    lu_flush_backlog(s);
}

static void lu_event(void *opaque, QEMUChrEvent event)
{
    VirtIOMSGBusLinuxUser *s = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        if (s->server) {
            lu_server_setup(s);
        }
        break;
    case CHR_EVENT_CLOSED:
        lu_link_down(s);
        break;
    default:
        break;
    }
}

bool virtio_msg_bus_linux_user_wait_link(VirtIOMSGBusLinuxUser *s,
                                         uint32_t timeout_ms)
{
    int64_t deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + timeout_ms;

    while (!s->up && qemu_clock_get_ms(QEMU_CLOCK_REALTIME) < deadline) {
        main_loop_wait(false);
    }
    return s->up;
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
    if (!s->name || !*s->name) {
        error_setg(errp, "name: a bus name is required");
        return;
    }
    if (virtio_msg_bus_linux_user_find(s->name)) {
        error_setg(errp, "a virtio-msg bus named '%s' already exists",
                   s->name);
        return;
    }
    s->server = SOCKET_CHARDEV(chr)->is_listen;
    s->memfd = -1;
    s->retry_timer = timer_new_ns(QEMU_CLOCK_REALTIME, lu_retry, s);
    s->process_bh = qemu_bh_new_guarded(lu_process_bh, s,
                                        &dev->mem_reentrancy_guard);
    if (!virtio_msg_bus_init(&s->bus, dev, s->name, 0, SPSC_SLOT_SIZE,
                             errp)) {
        return;
    }
    QTAILQ_INSERT_TAIL(&lu_devices, s, next);
    qemu_chr_fe_set_handlers(&s->chr, lu_can_read, lu_read, lu_event, NULL,
                             s, NULL, true);
}

static void lu_unrealize(DeviceState *dev)
{
    VirtIOMSGBusLinuxUser *s = VIRTIO_MSG_BUS_LINUX_USER(dev);

    qemu_chr_fe_deinit(&s->chr, false);
    QTAILQ_REMOVE(&lu_devices, s, next);
    timer_free(s->retry_timer);
    qemu_bh_delete(s->process_bh);
    lu_unmap(s);
}

static const Property lu_properties[] = {
    DEFINE_PROP_CHR("chardev", VirtIOMSGBusLinuxUser, chr),
    DEFINE_PROP_STRING("name", VirtIOMSGBusLinuxUser, name),
    DEFINE_PROP_UINT32("timeout-ms", VirtIOMSGBusLinuxUser, timeout_ms,
                       2000),
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
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    bdc->send = lu_send;
    bdc->process = lu_process;
    bdc->link_up = lu_link_up;
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
