/*
 * virtio-msg transport, device side
 *
 * Each TYPE_VIRTIO_MSG device is the transport of one dev_num on a
 * virtio-msg bus.  It implements the transport messages of the virtio-msg
 * wire protocol on top of QEMU's virtio core, so any virtio device model
 * works unchanged behind it.  Queue n notifies the driver with vector n
 * (EVENT_USED), configuration changes with VIRTIO_MSG_CONFIG_VECTOR
 * (EVENT_CONFIG).
 *
 * Host notifiers: with ioeventfd on (the default), EVENT_AVAIL for a queue
 * whose host notifier is enabled (from DRIVER_OK, or when a vhost backend
 * or an IOThread takes the queue over) signals that notifier instead of
 * running the device model in the message path: the software form of an
 * ioeventfd.  Guest notifiers: a backend's call eventfd (and the config
 * notifier) is read in the main loop and becomes EVENT_USED (EVENT_CONFIG)
 * through the bus, like any other notification.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-msg.h"
#include "migration/vmstate.h"
#include "trace.h"

/* An EVENT_AVAIL this long carries next_offset (header, index, offset) */
#define EVENT_AVAIL_DATA_SIZE (VIRTIO_MSG_HDR_SIZE + 8)

VirtIODevice *virtio_msg_get_vdev(VirtIOMSGTransport *xport)
{
    return virtio_bus_get_device(&xport->bus);
}

static VirtIOMSGBus *msg_bus_of(VirtIOMSGTransport *xport)
{
    return VIRTIO_MSG_BUS(qdev_get_parent_bus(DEVICE(xport)));
}

static void virtio_msg_drop(VirtIOMSGTransport *xport, const VirtIOMSG *msg,
                            const char *why)
{
    virtio_msg_bus_drop(msg_bus_of(xport), msg, why);
}

static void virtio_msg_reset_transport(VirtIOMSGTransport *xport)
{
    VirtIODevice *vdev = virtio_msg_get_vdev(xport);

    xport->guest_features = 0;
    virtio_bus_reset(&xport->bus);
    if (vdev) {
        vdev->config_vector = VIRTIO_MSG_CONFIG_VECTOR;
        /* a reset does not give back access to memory */
        virtio_set_disabled(vdev, xport->dma_off);
    }
}

void virtio_msg_set_dma_enabled(VirtIOMSGTransport *xport, bool enabled)
{
    VirtIODevice *vdev = virtio_msg_get_vdev(xport);

    xport->dma_off = !enabled;
    if (!enabled) {
        virtio_msg_reset_transport(xport);
    } else if (vdev) {
        virtio_set_disabled(vdev, false);
    }
}

/* A queue index the device has (max_size != 0)? */
static bool queue_exists(VirtIODevice *vdev, uint32_t index)
{
    return index < VIRTIO_QUEUE_MAX && virtio_queue_get_max_num(vdev, index);
}

/* Is [offset, offset + length) inside the config space and the bus limit? */
static bool config_range_ok(VirtIOMSGTransport *xport, VirtIODevice *vdev,
                            uint32_t offset, uint32_t length)
{
    uint16_t bus_max = msg_bus_of(xport)->max_msg_size;

    return length <= virtio_msg_max_config_chunk(bus_max)
           && offset <= vdev->config_len
           && length <= vdev->config_len - offset;
}

static void refresh_config(VirtIODevice *vdev)
{
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_GET_CLASS(vdev);

    if (vdc->get_config && vdev->config_len) {
        vdc->get_config(vdev, vdev->config);
    }
}

static void handle_device_info(VirtIOMSGTransport *xport, VirtIODevice *vdev,
                               VirtIOMSG *resp)
{
    resp->info.device_id = vdev->device_id;
    resp->info.vendor_id = VIRTIO_MSG_VENDOR_ID;
    resp->info.num_feature_bits = VIRTIO_MSG_FEATURE_BITS;
    resp->info.config_size = vdev->config_len;
    resp->info.max_virtqueues = virtio_get_num_queues(vdev);
    resp->info.admin_vq_start = 0;
    resp->info.admin_vq_count = 0;
}

static void handle_get_features(VirtIOMSGTransport *xport, VirtIODevice *vdev,
                                const VirtIOMSG *msg, VirtIOMSG *resp)
{
    uint32_t max = virtio_msg_max_feature_blocks(
        msg_bus_of(xport)->max_msg_size);
    uint32_t num = MIN(msg->features.num, max);

    resp->features.index = msg->features.index;
    resp->features.num = num;
    for (uint32_t i = 0; i < num; i++) {
        uint64_t block = (uint64_t)msg->features.index + i;

        resp->features.blocks[i] = block < 2 ?
            (uint32_t)(vdev->host_features >> (32 * block)) : 0;
    }
}

static void handle_set_features(VirtIOMSGTransport *xport,
                                const VirtIOMSG *msg)
{
    for (uint32_t i = 0; i < msg->features.num; i++) {
        uint64_t block = (uint64_t)msg->features.index + i;

        if (block < 2) {
            xport->guest_features =
                deposit64(xport->guest_features, 32 * block, 32,
                          msg->features.blocks[i]);
        }
    }
}

static void handle_set_status(VirtIOMSGTransport *xport, VirtIODevice *vdev,
                              uint32_t val)
{
    val &= 0xff;
    if (val == 0) {
        virtio_msg_reset_transport(xport);
        /*
         * Replies and events that still wait to be sent come from before
         * the reset: the driver must not see them after its reply.
         */
        virtio_msg_bus_purge(msg_bus_of(xport), xport->dev_num);
        return;
    }
    if ((val & VIRTIO_CONFIG_S_FEATURES_OK) &&
        !(vdev->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
        if (!virtio_has_feature(xport->guest_features, VIRTIO_F_VERSION_1)) {
            /* virtio-msg has no legacy interface */
            qemu_log_mask(LOG_GUEST_ERROR,
                          "%s: dev %u: FEATURES_OK without "
                          "VIRTIO_F_VERSION_1 refused\n",
                          BUS(msg_bus_of(xport))->name, xport->dev_num);
            val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
        } else if (virtio_set_features(vdev, xport->guest_features) < 0) {
            val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
        }
    }
    if (!(val & VIRTIO_CONFIG_S_DRIVER_OK)) {
        virtio_bus_stop_ioeventfd(&xport->bus);
    }
    if (virtio_set_status(vdev, val) < 0) {
        virtio_set_status(vdev, val & ~VIRTIO_CONFIG_S_FEATURES_OK);
    }
    if (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) {
        virtio_bus_start_ioeventfd(&xport->bus);
    }
    vdev->config_vector = VIRTIO_MSG_CONFIG_VECTOR;
}

static void handle_get_vqueue(VirtIODevice *vdev, uint32_t index,
                              VirtIOMSG *resp)
{
    resp->vq.index = index;
    if (!queue_exists(vdev, index)) {
        return;     /* max_size 0: no such queue */
    }
    resp->vq.max_size = virtio_queue_get_max_num(vdev, index);
    resp->vq.desc = virtio_queue_get_desc_addr(vdev, index);
    if (resp->vq.desc) {
        resp->vq.size = virtio_queue_get_num(vdev, index);
        resp->vq.driver = virtio_queue_get_avail_addr(vdev, index);
        resp->vq.device = virtio_queue_get_used_addr(vdev, index);
    }
}

static bool handle_set_vqueue(VirtIOMSGTransport *xport, VirtIODevice *vdev,
                              const VirtIOMSG *msg)
{
    uint32_t n = msg->vq.index;

    if (!queue_exists(vdev, n)) {
        virtio_msg_drop(xport, msg, "no such virtqueue");
        return false;
    }
    if (!msg->vq.size || msg->vq.size > virtio_queue_get_max_num(vdev, n)) {
        virtio_msg_drop(xport, msg, "virtqueue size out of range");
        return false;
    }
    /*
     * A live queue (set up, device running, not reset since) cannot be
     * moved under the device's feet: RESET_VQUEUE or a device reset first.
     * Before DRIVER_OK the driver may set a queue again.
     */
    if ((vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
        virtio_queue_get_desc_addr(vdev, n)) {
        virtio_msg_drop(xport, msg, "virtqueue is live (reset it first)");
        return false;
    }
    virtio_queue_set_num(vdev, n, msg->vq.size);
    virtio_queue_set_rings(vdev, n, msg->vq.desc, msg->vq.driver,
                           msg->vq.device);
    virtio_queue_set_vector(vdev, n, n);
    if (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) {
        /* re-enabled after RESET_VQUEUE */
        virtio_queue_enable(vdev, n);
    }
    return true;
}

/*
 * RESET_VQUEUE is valid with VIRTIO_F_RING_RESET only, but the Linux
 * driver sends it for every queue when it removes a device, negotiated or
 * not, and waits for each reply.  So it is always answered; without
 * RING_RESET the queue is reset only while the device is not running.
 */
static void handle_reset_vqueue(VirtIOMSGTransport *xport,
                                VirtIODevice *vdev, uint32_t n)
{
    if (!virtio_vdev_has_feature(vdev, VIRTIO_F_RING_RESET) &&
        (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "%s: dev %u: RESET_VQUEUE %u of a running device "
                      "without VIRTIO_F_RING_RESET: queue kept\n",
                      BUS(msg_bus_of(xport))->name, xport->dev_num, n);
        return;
    }
    virtio_queue_reset(vdev, n);
}

static bool handle_get_config(VirtIOMSGTransport *xport, VirtIODevice *vdev,
                              const VirtIOMSG *msg, VirtIOMSG *resp)
{
    if (!config_range_ok(xport, vdev, msg->config.offset,
                         msg->config.length)) {
        virtio_msg_drop(xport, msg, "config offset/length out of range");
        return false;
    }
    refresh_config(vdev);
    resp->config.generation = vdev->generation;
    resp->config.offset = msg->config.offset;
    resp->config.length = msg->config.length;
    memcpy(resp->config.data, vdev->config + msg->config.offset,
           msg->config.length);
    return true;
}

static bool handle_set_config(VirtIOMSGTransport *xport, VirtIODevice *vdev,
                              const VirtIOMSG *msg, VirtIOMSG *resp)
{
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_GET_CLASS(vdev);

    if (!config_range_ok(xport, vdev, msg->config.offset,
                         msg->config.length)) {
        virtio_msg_drop(xport, msg, "config offset/length out of range");
        return false;
    }
    resp->config.offset = msg->config.offset;
    if (msg->config.generation != vdev->generation) {
        trace_virtio_msg_stale_config(xport->dev_num, msg->config.generation,
                                      vdev->generation);
        resp->config.length = 0;
    } else {
        refresh_config(vdev);
        memcpy(vdev->config + msg->config.offset, msg->config.data,
               msg->config.length);
        if (vdc->set_config) {
            vdc->set_config(vdev, vdev->config);
        }
        resp->config.length = msg->config.length;
    }
    resp->config.generation = vdev->generation;
    return true;
}

static void handle_event_avail(VirtIOMSGTransport *xport, VirtIODevice *vdev,
                               const VirtIOMSG *msg)
{
    uint32_t n = msg->vq.index;

    if (!queue_exists(vdev, n)) {
        virtio_msg_drop(xport, msg, "no such virtqueue");
        return;
    }
    if (!(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        virtio_msg_drop(xport, msg, "queue notified before DRIVER_OK");
        return;
    }
    if (xport->dma_off) {
        virtio_msg_drop(xport, msg, "queue notified with DMA off");
        return;
    }
    /* A short EVENT_AVAIL (no next_offset) is a plain notification */
    if (virtio_vdev_has_feature(vdev, VIRTIO_F_NOTIFICATION_DATA) &&
        msg->size >= EVENT_AVAIL_DATA_SIZE) {
        uint32_t off = msg->vq.next_offset & VIRTIO_MSG_AVAIL_OFFSET_MASK;
        bool wrap = msg->vq.next_offset & VIRTIO_MSG_AVAIL_WRAP;
        uint16_t shadow = virtio_vdev_has_feature(vdev, VIRTIO_F_RING_PACKED)
                          ? (off & 0x7fff) | (wrap << 15) : off;

        virtio_queue_set_shadow_avail_idx(virtio_get_queue(vdev, n), shadow);
    }
    virtio_queue_notify(vdev, n);
}

void virtio_msg_handle(VirtIOMSGTransport *xport, const VirtIOMSG *msg)
{
    VirtIODevice *vdev = virtio_msg_get_vdev(xport);
    VirtIOMSG resp;

    if (!vdev) {
        virtio_msg_drop(xport, msg, "no device with this dev_num");
        return;
    }
    virtio_msg_init_response(&resp, msg);

    switch (msg->id) {
    case VIRTIO_MSG_DEVICE_INFO:
        handle_device_info(xport, vdev, &resp);
        break;
    case VIRTIO_MSG_GET_FEATURES:
        handle_get_features(xport, vdev, msg, &resp);
        break;
    case VIRTIO_MSG_SET_FEATURES:
        handle_set_features(xport, msg);
        break;
    case VIRTIO_MSG_GET_CONFIG:
        if (!handle_get_config(xport, vdev, msg, &resp)) {
            return;
        }
        break;
    case VIRTIO_MSG_SET_CONFIG:
        if (!handle_set_config(xport, vdev, msg, &resp)) {
            return;
        }
        break;
    case VIRTIO_MSG_GET_DEVICE_STATUS:
        resp.status.status = vdev->status;
        break;
    case VIRTIO_MSG_SET_DEVICE_STATUS:
        handle_set_status(xport, vdev, msg->status.status);
        resp.status.status = vdev->status;
        break;
    case VIRTIO_MSG_GET_VQUEUE:
        if (msg->vq.index >= VIRTIO_QUEUE_MAX) {
            virtio_msg_drop(xport, msg, "virtqueue index out of range");
            return;
        }
        handle_get_vqueue(vdev, msg->vq.index, &resp);
        break;
    case VIRTIO_MSG_SET_VQUEUE:
        if (!handle_set_vqueue(xport, vdev, msg)) {
            return;
        }
        break;
    case VIRTIO_MSG_RESET_VQUEUE:
        if (!queue_exists(vdev, msg->vq.index)) {
            virtio_msg_drop(xport, msg, "no such virtqueue");
            return;
        }
        handle_reset_vqueue(xport, vdev, msg->vq.index);
        break;
    case VIRTIO_MSG_GET_SHM:
        /* No shared memory regions: length 0 */
        resp.shm.index = msg->shm.index;
        resp.shm.length = 0;
        resp.shm.address = 0;
        break;
    case VIRTIO_MSG_EVENT_AVAIL:
        handle_event_avail(xport, vdev, msg);
        return;
    default:
        virtio_msg_drop(xport, msg, "device-to-driver event sent to device");
        return;
    }
    virtio_msg_bus_send(msg_bus_of(xport), &resp);
}

/* VirtioBusClass callbacks; @d is the transport */

static void virtio_msg_notify(DeviceState *d, uint16_t vector)
{
    VirtIOMSGTransport *xport = VIRTIO_MSG(d);
    VirtIODevice *vdev = virtio_msg_get_vdev(xport);
    VirtIOMSG ev;

    if (!vdev) {
        return;
    }
    if (vector == VIRTIO_MSG_CONFIG_VECTOR) {
        virtio_msg_init(&ev, 0, VIRTIO_MSG_EVENT_CONFIG, xport->dev_num, 0);
        ev.config.status = vdev->status;
        ev.config.generation = vdev->generation;
        ev.config.offset = 0;
        ev.config.length = 0;
    } else if (vector < VIRTIO_QUEUE_MAX) {
        virtio_msg_init(&ev, 0, VIRTIO_MSG_EVENT_USED, xport->dev_num, 0);
        ev.vq.index = vector;
    } else {
        return;
    }
    virtio_msg_bus_send(msg_bus_of(xport), &ev);
}

static void virtio_msg_pre_plugged(DeviceState *d, Error **errp)
{
    VirtIODevice *vdev = virtio_msg_get_vdev(VIRTIO_MSG(d));

    virtio_add_feature(&vdev->host_features, VIRTIO_F_VERSION_1);
    if (VIRTIO_MSG(d)->notification_data) {
        virtio_add_feature(&vdev->host_features, VIRTIO_F_NOTIFICATION_DATA);
    }
}

/*
 * Queue notifications arrive as messages; virtio_queue_notify() signals
 * the host notifier of a queue that has one, so there is nothing to wire.
 */
static bool virtio_msg_ioeventfd_enabled(DeviceState *d)
{
    return VIRTIO_MSG(d)->ioeventfd;
}

static int virtio_msg_ioeventfd_assign(DeviceState *d, EventNotifier *notifier,
                                       int n, bool assign)
{
    return 0;
}

static void virtio_msg_vmstate_change(DeviceState *d, bool running)
{
    VirtIOMSGTransport *xport = VIRTIO_MSG(d);

    if (running) {
        virtio_bus_start_ioeventfd(&xport->bus);
    } else {
        virtio_bus_stop_ioeventfd(&xport->bus);
    }
}

/* Notifier @n of @vdev (VIRTIO_CONFIG_IRQ_IDX: the config notifier) */
static int set_guest_notifier(VirtIODevice *vdev, int n, bool assign)
{
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_GET_CLASS(vdev);
    bool config = n == VIRTIO_CONFIG_IRQ_IDX;
    EventNotifier *notifier = config ? virtio_config_get_guest_notifier(vdev)
        : virtio_queue_get_guest_notifier(virtio_get_queue(vdev, n));

    if (assign) {
        int r = event_notifier_init(notifier, 0);

        if (r < 0) {
            return r;
        }
    }
    /* read in the main loop, it becomes EVENT_USED or EVENT_CONFIG */
    if (config) {
        virtio_config_set_guest_notifier_fd_handler(vdev, assign, false);
    } else {
        virtio_queue_set_guest_notifier_fd_handler(virtio_get_queue(vdev, n),
                                                   assign, false);
    }
    if (!assign) {
        event_notifier_cleanup(notifier);
    }
    if (vdc->guest_notifier_mask && vdev->use_guest_notifier_mask) {
        vdc->guest_notifier_mask(vdev, n, !assign);
    }
    return 0;
}

static int virtio_msg_set_guest_notifiers(DeviceState *d, int nvqs,
                                          bool assign)
{
    VirtIODevice *vdev = virtio_msg_get_vdev(VIRTIO_MSG(d));
    int n, r;

    if (!vdev) {
        return -ENODEV;
    }
    nvqs = MIN(nvqs, VIRTIO_QUEUE_MAX);
    for (n = 0; n < nvqs; n++) {
        if (!virtio_queue_get_num(vdev, n)) {
            break;
        }
        r = set_guest_notifier(vdev, n, assign);
        if (r < 0) {
            goto undo;
        }
    }
    r = set_guest_notifier(vdev, VIRTIO_CONFIG_IRQ_IDX, assign);
    if (r == 0) {
        return 0;
    }
undo:
    while (--n >= 0) {
        set_guest_notifier(vdev, n, !assign);
    }
    return r;
}

/* Every queue has its vector (its index): the notifiers are always used */
static bool virtio_msg_query_guest_notifiers(DeviceState *d)
{
    return true;
}

static void virtio_msg_device_plugged(DeviceState *d, Error **errp)
{
    VirtIOMSGTransport *xport = VIRTIO_MSG(d);

    virtio_msg_get_vdev(xport)->config_vector = VIRTIO_MSG_CONFIG_VECTOR;
    xport->guest_features = 0;
}

static AddressSpace *virtio_msg_get_dma_as(DeviceState *d)
{
    return virtio_msg_bus_get_dma_as(msg_bus_of(VIRTIO_MSG(d)));
}

static bool virtio_msg_queue_enabled(DeviceState *d, int n)
{
    VirtIODevice *vdev = virtio_msg_get_vdev(VIRTIO_MSG(d));

    return vdev && virtio_queue_get_desc_addr(vdev, n) != 0;
}

/*
 * Vectors are not migrated: they follow from the queue index, so restore
 * them when the virtio device state is loaded.
 */
static void virtio_msg_save_nothing(DeviceState *d, QEMUFile *f)
{
}

static void virtio_msg_save_queue(DeviceState *d, int n, QEMUFile *f)
{
}

static int virtio_msg_load_config(DeviceState *d, QEMUFile *f)
{
    virtio_msg_get_vdev(VIRTIO_MSG(d))->config_vector =
        VIRTIO_MSG_CONFIG_VECTOR;
    return 0;
}

static int virtio_msg_load_queue(DeviceState *d, int n, QEMUFile *f)
{
    virtio_queue_set_vector(virtio_msg_get_vdev(VIRTIO_MSG(d)), n, n);
    return 0;
}

static void virtio_msg_virtio_bus_class_init(ObjectClass *klass, void *data)
{
    BusClass *bc = BUS_CLASS(klass);
    VirtioBusClass *k = VIRTIO_BUS_CLASS(klass);

    bc->max_dev = 1;
    k->notify = virtio_msg_notify;
    k->pre_plugged = virtio_msg_pre_plugged;
    k->device_plugged = virtio_msg_device_plugged;
    k->get_dma_as = virtio_msg_get_dma_as;
    k->queue_enabled = virtio_msg_queue_enabled;
    k->ioeventfd_enabled = virtio_msg_ioeventfd_enabled;
    k->ioeventfd_assign = virtio_msg_ioeventfd_assign;
    k->set_guest_notifiers = virtio_msg_set_guest_notifiers;
    k->query_guest_notifiers = virtio_msg_query_guest_notifiers;
    k->vmstate_change = virtio_msg_vmstate_change;
    k->save_config = virtio_msg_save_nothing;
    k->load_config = virtio_msg_load_config;
    k->save_queue = virtio_msg_save_queue;
    k->load_queue = virtio_msg_load_queue;
    k->has_variable_vring_alignment = true;
}

/* The transport device */

static void virtio_msg_realize(DeviceState *d, Error **errp)
{
    VirtIOMSGTransport *xport = VIRTIO_MSG(d);
    VirtIOMSGBus *bus = msg_bus_of(xport);
    g_autofree char *name = NULL;

    if (xport->dev_num >= VIRTIO_MSG_MAX_DEVS) {
        error_setg(errp, "dev-num must be below %d", VIRTIO_MSG_MAX_DEVS);
        return;
    }
    name = g_strdup_printf("%s.dev%u", BUS(bus)->name, xport->dev_num);
    qbus_init(&xport->bus, sizeof(xport->bus), TYPE_VIRTIO_MSG_VIRTIO_BUS,
              d, name);
    qbus_set_hotplug_handler(BUS(&xport->bus), OBJECT(bus));
}

static void virtio_msg_reset_hold(Object *obj, ResetType type)
{
    virtio_msg_reset_transport(VIRTIO_MSG(obj));
}

static bool virtio_msg_dma_off_needed(void *opaque)
{
    return ((VirtIOMSGTransport *)opaque)->dma_off;
}

static const VMStateDescription vmstate_virtio_msg_dma_off = {
    .name = "virtio-msg/dma-off",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = virtio_msg_dma_off_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(dma_off, VirtIOMSGTransport),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_msg = {
    .name = "virtio-msg",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(guest_features, VirtIOMSGTransport),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_virtio_msg_dma_off,
        NULL
    },
};

static const Property virtio_msg_properties[] = {
    DEFINE_PROP_UINT16("dev-num", VirtIOMSGTransport, dev_num, 0),
    DEFINE_PROP_BOOL("notification-data", VirtIOMSGTransport, notification_data,
                     false),
    DEFINE_PROP_BOOL("ioeventfd", VirtIOMSGTransport, ioeventfd, true),
};

static void virtio_msg_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    dc->realize = virtio_msg_realize;
    dc->vmsd = &vmstate_virtio_msg;
    dc->bus_type = TYPE_VIRTIO_MSG_BUS;
    dc->desc = "virtio-msg transport (one dev_num of a virtio-msg bus)";
    /* Created by the virtio-msg bus, one per dev_num */
    dc->user_creatable = false;
    rc->phases.hold = virtio_msg_reset_hold;
    device_class_set_props(dc, virtio_msg_properties);
    object_class_property_set_description(klass, "dev-num",
        "device number on the virtio-msg bus (set by the bus)");
    object_class_property_set_description(klass, "notification-data",
        "offer VIRTIO_F_NOTIFICATION_DATA (EVENT_AVAIL carries the next "
        "available offset)");
    object_class_property_set_description(klass, "ioeventfd",
        "queue notifications go through the queue's host notifier (needed "
        "by vhost backends and IOThreads)");
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo virtio_msg_types[] = {
    {
        .name = TYPE_VIRTIO_MSG,
        .parent = TYPE_DEVICE,
        .instance_size = sizeof(VirtIOMSGTransport),
        .class_init = virtio_msg_class_init,
    }, {
        .name = TYPE_VIRTIO_MSG_VIRTIO_BUS,
        .parent = TYPE_VIRTIO_BUS,
        .instance_size = sizeof(VirtioBusState),
        .class_init = virtio_msg_virtio_bus_class_init,
    },
};

DEFINE_TYPES(virtio_msg_types)
