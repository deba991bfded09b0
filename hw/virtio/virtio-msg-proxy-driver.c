/*
 * virtio-msg-proxy-driver: a virtio device whose real device is elsewhere
 *
 * Guest accesses become virtio-msg requests: configuration reads and
 * writes (GET/SET_CONFIG), feature negotiation (SET_FEATURES and
 * SET_DEVICE_STATUS), queue setup at DRIVER_OK (SET_VQUEUE), queue reset
 * (RESET_VQUEUE) and device reset; queue kicks become EVENT_AVAIL.  The
 * remote device's EVENT_USED and EVENT_CONFIG become the guest's
 * interrupts.  The remote side is untrusted and may vanish: what it claims
 * is bounded, and when it does not answer within the bus timeout, or goes
 * away, the device is marked DEVICE_NEEDS_RESET (with a configuration
 * interrupt) until the guest resets it.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "hw/qdev-properties.h"
#include "hw/boards.h"
#include "system/system.h"
#include "hw/virtio/virtio-bus.h"
#include "hw/virtio/virtio-msg-proxy-driver.h"
#include "hw/virtio/virtio-msg.h"
#include "hw/virtio/virtio-msg-bus-linux-user.h"
#include "standard-headers/linux/virtio_ids.h"
#include "migration/vmstate.h"
#include "trace.h"

/* Features the driver-side transports here cannot carry */
#define PROXY_FEATURES_MASKED ((1ULL << VIRTIO_F_IOMMU_PLATFORM) | \
                               (1ULL << VIRTIO_F_NOTIFICATION_DATA))

static void proxy_fail(VirtIOMSGProxyDriver *s, const char *why)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);

    if (!vdev->broken) {
        virtio_error(vdev, "virtio-msg-proxy-driver dev %u: %s", s->dev_num,
                     why);
    }
}

/* Can we talk to the remote device now? */
static bool proxy_usable(VirtIOMSGProxyDriver *s)
{
    return s->ready && !VIRTIO_DEVICE(s)->broken;
}

static bool proxy_request(VirtIOMSGProxyDriver *s, uint8_t id,
                          VirtIOMSG *req, VirtIOMSG *resp)
{
    virtio_msg_init(req, 0, id, s->dev_num, 0);
    if (!virtio_msg_bus_request(s->bus, req, resp, s->timeout_ms)) {
        proxy_fail(s, "the remote device did not answer");
        return false;
    }
    return true;
}

static bool proxy_set_status_remote(VirtIOMSGProxyDriver *s, uint32_t status,
                                    uint32_t *result)
{
    VirtIOMSG req, resp;

    req.status.status = status;
    if (!proxy_request(s, VIRTIO_MSG_SET_DEVICE_STATUS, &req, &resp)) {
        return false;
    }
    *result = resp.status.status;
    return true;
}

static void proxy_set_vqueue(VirtIOMSGProxyDriver *s, uint32_t n)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    VirtIOMSG req, resp;

    memset(&req, 0, sizeof(req));
    req.vq.index = n;
    req.vq.size = virtio_queue_get_num(vdev, n);
    req.vq.desc = virtio_queue_get_desc_addr(vdev, n);
    req.vq.driver = virtio_queue_get_avail_addr(vdev, n);
    req.vq.device = virtio_queue_get_used_addr(vdev, n);
    proxy_request(s, VIRTIO_MSG_SET_VQUEUE, &req, &resp);
}

/* VirtioDeviceClass callbacks */

static uint64_t proxy_get_features(VirtIODevice *vdev, uint64_t features,
                                   Error **errp)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);

    return s->ready ? s->remote_features : features;
}

static int proxy_validate_features(VirtIODevice *vdev)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    VirtIOMSG req, resp;
    uint32_t status;

    if (!proxy_usable(s)) {
        return -EIO;
    }
    req.features.index = 0;
    req.features.num = 2;
    req.features.blocks[0] = vdev->guest_features;
    req.features.blocks[1] = vdev->guest_features >> 32;
    if (!proxy_request(s, VIRTIO_MSG_SET_FEATURES, &req, &resp) ||
        !proxy_set_status_remote(s, vdev->status |
                                 VIRTIO_CONFIG_S_FEATURES_OK, &status)) {
        return -EIO;
    }
    return status & VIRTIO_CONFIG_S_FEATURES_OK ? 0 : -EINVAL;
}

static void proxy_set_status(VirtIODevice *vdev, uint8_t val)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    uint32_t status;

    if (!proxy_usable(s) || val == vdev->status) {
        return;
    }
    if ((val & VIRTIO_CONFIG_S_DRIVER_OK) &&
        !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        /* the queues are set up by now: hand them to the device */
        for (int n = 0; n < VIRTIO_QUEUE_MAX; n++) {
            if (!virtio_queue_get_num(vdev, n)) {
                break;
            }
            if (virtio_queue_get_desc_addr(vdev, n)) {
                proxy_set_vqueue(s, n);
            }
        }
    }
    if (proxy_set_status_remote(s, val, &status) &&
        (status & VIRTIO_CONFIG_S_NEEDS_RESET)) {
        proxy_fail(s, "the remote device needs a reset");
    }
}

static void proxy_reset(VirtIODevice *vdev)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    VirtIOMSG req, resp;

    /* a reset is also how the guest recovers a device that failed */
    if (!s->ready || !virtio_msg_bus_link_up(s->bus)) {
        return;
    }
    virtio_msg_init(&req, 0, VIRTIO_MSG_SET_DEVICE_STATUS, s->dev_num, 0);
    req.status.status = 0;
    virtio_msg_bus_request(s->bus, &req, &resp, s->timeout_ms);
}

static void proxy_get_config(VirtIODevice *vdev, uint8_t *config)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    uint32_t chunk = virtio_msg_max_config_chunk(s->bus ?
                                                 s->bus->max_msg_size : 64);
    VirtIOMSG req, resp;

    if (!proxy_usable(s)) {
        return;
    }
    for (uint32_t off = 0; off < vdev->config_len; off += chunk) {
        req.config.offset = off;
        req.config.length = MIN(chunk, vdev->config_len - off);
        if (!proxy_request(s, VIRTIO_MSG_GET_CONFIG, &req, &resp)) {
            return;
        }
        if (resp.config.offset != off ||
            resp.config.length != req.config.length) {
            proxy_fail(s, "the remote device answered another config range");
            return;
        }
        memcpy(config + off, resp.config.data, resp.config.length);
        s->generation = resp.config.generation;
    }
    memcpy(s->shadow_config, config, vdev->config_len);
}

/* Write the bytes of @config that differ from what the device has. */
static void proxy_set_config(VirtIODevice *vdev, const uint8_t *config)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    uint32_t chunk = virtio_msg_max_config_chunk(s->bus->max_msg_size);
    VirtIOMSG req, resp;
    uint32_t off = 0;

    while (proxy_usable(s) && off < vdev->config_len) {
        uint32_t len = 0;

        if (config[off] == s->shadow_config[off]) {
            off++;
            continue;
        }
        while (off + len < vdev->config_len && len < chunk &&
               config[off + len] != s->shadow_config[off + len]) {
            len++;
        }
        req.config.generation = s->generation;
        req.config.offset = off;
        req.config.length = len;
        memcpy(req.config.data, config + off, len);
        if (!proxy_request(s, VIRTIO_MSG_SET_CONFIG, &req, &resp)) {
            return;
        }
        s->generation = resp.config.generation;
        if (resp.config.length == len) {
            memcpy(s->shadow_config + off, config + off, len);
        }
        off += len;
    }
}

static void proxy_handle_output(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    VirtIOMSG ev;

    if (!proxy_usable(s)) {
        return;
    }
    virtio_msg_init(&ev, 0, VIRTIO_MSG_EVENT_AVAIL, s->dev_num, 0);
    ev.vq.index = virtio_get_queue_index(vq);
    ev.vq.next_offset = 0;
    virtio_msg_bus_send(s->bus, &ev);
}

static void proxy_queue_reset(VirtIODevice *vdev, uint32_t n)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    VirtIOMSG req, resp;

    if (proxy_usable(s)) {
        req.vq.index = n;
        proxy_request(s, VIRTIO_MSG_RESET_VQUEUE, &req, &resp);
    }
}

static void proxy_queue_enable(VirtIODevice *vdev, uint32_t n)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);

    if (proxy_usable(s) && (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        proxy_set_vqueue(s, n);
    }
}

/* Events from the remote device */

static void proxy_notify_queue(VirtIOMSGProxyDriver *s, uint32_t n)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    BusState *qbus = qdev_get_parent_bus(DEVICE(vdev));
    VirtioBusClass *k = VIRTIO_BUS_GET_CLASS(qbus);

    if (n >= VIRTIO_QUEUE_MAX || !virtio_queue_get_num(vdev, n) ||
        vdev->broken || !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        return;
    }
    trace_virtio_msg_proxy_notify(s->dev_num, n, virtio_queue_vector(vdev, n));
    /* the device side has applied the ring's suppression rules already */
    qatomic_or(&vdev->isr, 1);
    if (k->notify) {
        k->notify(qbus->parent, virtio_queue_vector(vdev, n));
    }
}

static void proxy_event(void *opaque, const VirtIOMSG *msg)
{
    VirtIOMSGProxyDriver *s = opaque;

    if (!msg) {
        proxy_fail(s, "the virtio-msg peer went away");
        return;
    }
    trace_virtio_msg_proxy_event(s->dev_num, virtio_msg_name(msg->type,
                                                              msg->id));
    if (msg->id == VIRTIO_MSG_EVENT_USED) {
        proxy_notify_queue(s, msg->vq.index);
    } else if (msg->config.status & VIRTIO_CONFIG_S_NEEDS_RESET) {
        proxy_fail(s, "the remote device needs a reset");
    } else {
        virtio_notify_config(VIRTIO_DEVICE(s));
    }
}

/*
 * Device ids QEMU's virtio code has names and feature tables for (what
 * the id is used for here, in QMP queries); a peer must not pick another.
 */
static bool proxy_device_id_known(uint32_t id)
{
    return id >= VIRTIO_ID_NET && id <= VIRTIO_ID_GPIO &&
           id != 14 && id != 15;
}

/* Take the remote device's identity; false if it is unusable. */
static bool proxy_fetch_identity(VirtIOMSGProxyDriver *s, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    VirtIOMSG req, resp;
    uint32_t nq;

    if (!proxy_request(s, VIRTIO_MSG_DEVICE_INFO, &req, &resp)) {
        error_setg(errp, "no answer to DEVICE_INFO");
        return false;
    }
    if (!proxy_device_id_known(resp.info.device_id) ||
        (s->virtio_id && resp.info.device_id != s->virtio_id)) {
        error_setg(errp, "the remote device has virtio id %u%s",
                   resp.info.device_id, s->virtio_id ? ", not virtio-id" : "");
        return false;
    }
    if (resp.info.config_size > VIRTIO_MSG_PROXY_MAX_CONFIG ||
        resp.info.max_virtqueues > VIRTIO_MSG_PROXY_MAX_QUEUES) {
        error_setg(errp, "the remote device claims %u bytes of config and "
                   "%u queues", resp.info.config_size,
                   resp.info.max_virtqueues);
        return false;
    }
    vdev->device_id = resp.info.device_id;
    g_free(vdev->config);
    g_free(s->shadow_config);
    vdev->config_len = resp.info.config_size;
    vdev->config = g_malloc0(MAX(vdev->config_len, 1));
    s->shadow_config = g_malloc0(MAX(vdev->config_len, 1));

    nq = resp.info.max_virtqueues;
    for (uint32_t n = 0; n < nq; n++) {
        req.vq.index = n;
        if (!proxy_request(s, VIRTIO_MSG_GET_VQUEUE, &req, &resp)) {
            error_setg(errp, "no answer to GET_VQUEUE");
            return false;
        }
        if (!resp.vq.max_size || resp.vq.max_size > VIRTQUEUE_MAX_SIZE) {
            error_setg(errp, "queue %u has size %u", n, resp.vq.max_size);
            return false;
        }
        virtio_add_queue(vdev, resp.vq.max_size, proxy_handle_output);
    }

    req.features.index = 0;
    req.features.num = 2;
    if (!proxy_request(s, VIRTIO_MSG_GET_FEATURES, &req, &resp) ||
        resp.features.num < 2) {
        error_setg(errp, "no answer to GET_FEATURES");
        return false;
    }
    s->remote_features = (resp.features.blocks[0] |
                          (uint64_t)resp.features.blocks[1] << 32) &
                         ~PROXY_FEATURES_MASKED;
    vdev->host_features = s->remote_features;
    s->ready = true;
    trace_virtio_msg_proxy_ready(s->dev_num, vdev->device_id,
                                 vdev->config_len, nq, s->remote_features);
    return true;
}

void virtio_msg_proxy_driver_connect(VirtIOMSGProxyDriver *s)
{
    VirtIOMSGBusLinuxUser *link;
    Error *err = NULL;

    if (s->bus) {
        return;     /* done already */
    }
    link = virtio_msg_bus_linux_user_find(s->msg_bus);
    if (!link) {
        error_report("virtio-msg-proxy-driver: no virtio-msg bus named '%s'",
                     s->msg_bus);
        exit(1);
    }
    s->bus = &link->bus;
    s->timeout_ms = link->timeout_ms;
    if (!virtio_msg_bus_register_driver(s->bus, s->dev_num, proxy_event, s,
                                        &err)) {
        error_report_err(err);
        exit(1);
    }
    /*
     * What the peer does (or fails to do) must not end this QEMU: without a
     * usable remote device the proxy stays a failed device.
     */
    if (!virtio_msg_bus_linux_user_wait_link(link,
                                             link->connect_timeout_ms)) {
        error_setg(&err, "no peer within %u ms", link->connect_timeout_ms);
    } else {
        proxy_fetch_identity(s, &err);
    }
    if (err) {
        error_reportf_err(err, "virtio-msg-proxy-driver: dev %u on '%s': ",
                          s->dev_num, s->msg_bus);
        proxy_fail(s, "no usable remote device");
    }
}

static void proxy_machine_done(Notifier *notifier, void *data)
{
    virtio_msg_proxy_driver_connect(container_of(notifier,
                                                 VirtIOMSGProxyDriver,
                                                 machine_done));
}

static void proxy_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(dev);
    DeviceState *transport = qdev_get_parent_bus(dev)->parent;

    if (s->dev_num >= VIRTIO_MSG_MAX_DEVS) {
        error_setg(errp, "dev-num must be below %d", VIRTIO_MSG_MAX_DEVS);
        return;
    }
    if (object_dynamic_cast(OBJECT(transport), TYPE_VIRTIO_MSG)) {
        error_setg(errp, "a virtio-msg-proxy-driver cannot sit on a "
                   "virtio-msg bus: give bus=virtio-mmio-bus.N, or put it "
                   "before the virtio-msg bus device on the command line");
        return;
    }
    if (object_property_find(OBJECT(transport), "force-legacy") &&
        object_property_get_bool(OBJECT(transport), "force-legacy", NULL)) {
        error_setg(errp, "virtio-msg devices are virtio 1.0 devices: use "
                   "-global virtio-mmio.force-legacy=false");
        return;
    }
    /* a stand-in identity until the remote device's is known */
    virtio_init(vdev, VIRTIO_ID_RNG, 0);
    vdev->name = TYPE_VIRTIO_MSG_PROXY_DRIVER;
    s->shadow_config = g_malloc0(1);
    s->machine_done.notify = proxy_machine_done;
    qemu_add_machine_init_done_notifier(&s->machine_done);
}

static void proxy_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(dev);

    qemu_remove_machine_init_done_notifier(&s->machine_done);
    if (s->bus) {
        virtio_msg_bus_unregister_driver(s->bus, s->dev_num);
    }
    for (int n = 0; n < VIRTIO_QUEUE_MAX; n++) {
        if (!virtio_queue_get_num(vdev, n)) {
            break;
        }
        virtio_delete_queue(virtio_get_queue(vdev, n));
    }
    g_free(s->shadow_config);
    virtio_cleanup(vdev);
}

static const VMStateDescription vmstate_proxy = {
    .name = TYPE_VIRTIO_MSG_PROXY_DRIVER,
    .unmigratable = 1,
};

static const Property proxy_properties[] = {
    DEFINE_PROP_STRING("msg-bus", VirtIOMSGProxyDriver, msg_bus),
    DEFINE_PROP_UINT16("dev-num", VirtIOMSGProxyDriver, dev_num, 0),
    DEFINE_PROP_UINT32("virtio-id", VirtIOMSGProxyDriver, virtio_id, 0),
};

static void proxy_instance_init(Object *obj)
{
    VIRTIO_MSG_PROXY_DRIVER(obj)->msg_bus = g_strdup("linux-user");
}

static void proxy_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    dc->desc = "virtio device served by a remote virtio-msg device";
    /* its identity is taken when the machine is built */
    dc->hotpluggable = false;
    dc->vmsd = &vmstate_proxy;
    device_class_set_props(dc, proxy_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    vdc->realize = proxy_realize;
    vdc->unrealize = proxy_unrealize;
    vdc->get_features = proxy_get_features;
    vdc->validate_features = proxy_validate_features;
    vdc->set_status = proxy_set_status;
    vdc->reset = proxy_reset;
    vdc->get_config = proxy_get_config;
    vdc->set_config = proxy_set_config;
    vdc->queue_reset = proxy_queue_reset;
    vdc->queue_enable = proxy_queue_enable;
}

static const TypeInfo proxy_types[] = {
    {
        .name = TYPE_VIRTIO_MSG_PROXY_DRIVER,
        .parent = TYPE_VIRTIO_DEVICE,
        .instance_size = sizeof(VirtIOMSGProxyDriver),
        .instance_init = proxy_instance_init,
        .class_init = proxy_class_init,
    },
};

DEFINE_TYPES(proxy_types)
