/*
 * virtio-msg-proxy-driver: a virtio device whose real device is elsewhere
 *
 * Guest accesses become virtio-msg requests through the driver-side engine
 * of a virtio-msg bus (virtio-msg-driver.c): feature negotiation
 * (SET_FEATURES and SET_DEVICE_STATUS), queue setup at DRIVER_OK
 * (SET_VQUEUE), configuration writes (SET_CONFIG), queue reset
 * (RESET_VQUEUE) and device reset; queue kicks become EVENT_AVAIL.
 * Configuration reads are served from a copy kept by generation and
 * refreshed after EVENT_CONFIG.  The remote device's EVENT_USED and
 * EVENT_CONFIG become the guest's interrupts.
 *
 * The remote side is untrusted and may be slow or vanish.  What it claims
 * is bounded, and every guest action waits for it at most once, for at
 * most timeout-ms: all the requests an action needs are sent together and
 * share one deadline.  A device that misses it, that the peer removes, or
 * whose link goes down, is failed (virtio_error(): DEVICE_NEEDS_RESET with
 * a configuration interrupt once the guest negotiated VERSION_1, "broken"
 * in any case); it then fails every request at once until a guest reset
 * that the remote device confirms.  A device that never got a usable
 * identity stays failed, across resets too.
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
#include "qemu/module.h"
#include "qemu/timer.h"
#include "hw/qdev-properties.h"
#include "system/system.h"
#include "hw/virtio/virtio-bus.h"
#include "hw/virtio/virtio-msg-proxy-driver.h"
#include "hw/virtio/virtio-msg.h"
#include "standard-headers/linux/virtio_ids.h"
#include "migration/vmstate.h"
#include "trace.h"

/* Features the driver-side transports here cannot carry */
#define PROXY_FEATURES_MASKED ((1ULL << VIRTIO_F_IOMMU_PLATFORM) | \
                               (1ULL << VIRTIO_F_NOTIFICATION_DATA))

/* Most config chunks a config space can take (64-byte bus: 44 bytes) */
#define PROXY_MAX_CONFIG_CHUNKS 128

/* Can we talk to the remote device now? */
static bool proxy_usable(VirtIOMSGProxyDriver *s)
{
    return s->ready && !virtio_msg_driver_failed(s->driver, s->dev_num);
}

static int64_t proxy_deadline(VirtIOMSGProxyDriver *s)
{
    return qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + s->timeout_ms;
}

static void proxy_fail(VirtIOMSGProxyDriver *s, const char *why)
{
    virtio_msg_driver_fail(s->driver, s->dev_num, why);
}

/* One request of a batch and its answer */
typedef struct ProxyReply {
    VirtIOMSG req;
    VirtIOMSG resp;
    bool answered;
    VirtIOMSGProxyRefresh *refresh;     /* part of a config refresh */
} ProxyReply;

/* The config space read again after EVENT_CONFIG, without waiting */
struct VirtIOMSGProxyRefresh {
    VirtIOMSGProxyDriver *s;
    unsigned n;                 /* chunks asked for */
    unsigned left;              /* not answered yet */
    bool again;                 /* another EVENT_CONFIG came meanwhile */
    ProxyReply chunks[PROXY_MAX_CONFIG_CHUNKS];
};

static void proxy_refresh_done(VirtIOMSGProxyRefresh *rf);

static void proxy_reply_done(void *opaque, const VirtIOMSG *resp)
{
    ProxyReply *r = opaque;

    if (resp) {
        r->resp = *resp;
        r->answered = true;
    }
    if (r->refresh) {
        proxy_refresh_done(r->refresh);
    }
}

/*
 * Send @r->req (message @id; payload filled in by the caller).  Its answer
 * arrives in @r during proxy_wait().
 */
static bool proxy_send(VirtIOMSGProxyDriver *s, uint8_t id, ProxyReply *r)
{
    virtio_msg_init(&r->req, 0, id, s->dev_num, 0);
    r->answered = false;
    return virtio_msg_driver_send(s->driver, &r->req, proxy_reply_done, r);
}

/* Wait for every request sent; false if the device failed meanwhile. */
static bool proxy_wait(VirtIOMSGProxyDriver *s, int64_t deadline)
{
    return virtio_msg_driver_wait(s->driver, s->dev_num, deadline);
}

/* One request, one wait */
static bool proxy_request(VirtIOMSGProxyDriver *s, uint8_t id, ProxyReply *r)
{
    return proxy_send(s, id, r) && proxy_wait(s, proxy_deadline(s)) &&
           r->answered;
}

/* A status the device reports; false (device failed) if it needs reset */
static bool proxy_check_status(VirtIOMSGProxyDriver *s, uint32_t status)
{
    if (status & VIRTIO_CONFIG_S_NEEDS_RESET) {
        proxy_fail(s, "the remote device needs a reset");
        return false;
    }
    s->remote_status = status;
    return true;
}

static uint32_t proxy_config_chunk(VirtIOMSGProxyDriver *s)
{
    return virtio_msg_max_config_chunk(s->bus->max_msg_size);
}

/* Send GET_CONFIG for the whole config space, one chunk per reply. */
static bool proxy_send_config_reads(VirtIOMSGProxyDriver *s,
                                    ProxyReply *replies, unsigned *n)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    uint32_t chunk = proxy_config_chunk(s);

    for (uint32_t off = 0; off < vdev->config_len; off += chunk) {
        ProxyReply *r = &replies[(*n)++];

        r->req.config.offset = off;
        r->req.config.length = MIN(chunk, vdev->config_len - off);
        if (!proxy_send(s, VIRTIO_MSG_GET_CONFIG, r)) {
            return false;
        }
    }
    return true;
}

/* Take the config chunks read into the cache. */
static bool proxy_take_config(VirtIOMSGProxyDriver *s,
                              const ProxyReply *replies, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const VirtIOMSG *req = &replies[i].req, *resp = &replies[i].resp;

        if (!replies[i].answered ||
            resp->config.offset != req->config.offset ||
            resp->config.length != req->config.length) {
            proxy_fail(s, "the remote device answered another config range");
            return false;
        }
        memcpy(s->config_cache + req->config.offset, resp->config.data,
               req->config.length);
        s->generation = resp->config.generation;
    }
    s->config_valid = true;
    return true;
}

static void proxy_refresh_config(VirtIOMSGProxyDriver *s)
{
    g_autofree ProxyReply *replies = g_new0(ProxyReply,
                                            PROXY_MAX_CONFIG_CHUNKS);
    int64_t deadline = proxy_deadline(s);
    unsigned n = 0;

    if (proxy_send_config_reads(s, replies, &n) && proxy_wait(s, deadline)) {
        proxy_take_config(s, replies, n);
    }
}

/*
 * After EVENT_CONFIG: read the config space again, all chunks at once,
 * and raise the guest's config interrupt once the copy is fresh, so that
 * the reads the guest then makes are served without a round trip.
 */
static void proxy_refresh_start(VirtIOMSGProxyDriver *s)
{
    VirtIOMSGProxyRefresh *rf = s->refresh;
    uint32_t chunk = proxy_config_chunk(s);
    unsigned want = DIV_ROUND_UP(VIRTIO_DEVICE(s)->config_len, chunk);
    unsigned n = 0;

    if (rf->left) {
        rf->again = true;
        return;
    }
    rf->again = false;
    memset(rf->chunks, 0, sizeof(rf->chunks));
    for (unsigned i = 0; i < want; i++) {
        rf->chunks[i].refresh = rf;
    }
    /* answers may come while we send: count them all in first */
    rf->left = want + 1;
    if (!proxy_send_config_reads(s, rf->chunks, &n)) {
        n--;                            /* the last one was not sent */
    }
    rf->n = n;
    rf->left -= want - n;
    proxy_refresh_done(rf);             /* the extra count */
}

static void proxy_refresh_done(VirtIOMSGProxyRefresh *rf)
{
    VirtIOMSGProxyDriver *s = rf->s;
    bool fresh = true;

    if (--rf->left) {
        return;
    }
    for (unsigned i = 0; i < rf->n; i++) {
        fresh &= rf->chunks[i].answered;
    }
    fresh = fresh && proxy_usable(s) && proxy_take_config(s, rf->chunks,
                                                            rf->n);
    if (rf->again && proxy_usable(s)) {
        proxy_refresh_start(s);
    } else if (fresh) {
        virtio_notify_config(VIRTIO_DEVICE(s));
    }
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
    int64_t deadline = proxy_deadline(s);
    ProxyReply feat = { }, status = { };

    if (!proxy_usable(s)) {
        return -EIO;
    }
    feat.req.features.index = 0;
    feat.req.features.num = 2;
    feat.req.features.blocks[0] = vdev->guest_features;
    feat.req.features.blocks[1] = vdev->guest_features >> 32;
    status.req.status.status = vdev->status | VIRTIO_CONFIG_S_FEATURES_OK;
    if (!proxy_send(s, VIRTIO_MSG_SET_FEATURES, &feat) ||
        !proxy_send(s, VIRTIO_MSG_SET_DEVICE_STATUS, &status) ||
        !proxy_wait(s, deadline) || !status.answered ||
        !proxy_check_status(s, status.resp.status.status)) {
        return -EIO;
    }
    return s->remote_status & VIRTIO_CONFIG_S_FEATURES_OK ? 0 : -EINVAL;
}

static void proxy_fill_vqueue(VirtIOMSGProxyDriver *s, uint32_t n,
                              VirtIOMSG *req)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);

    memset(&req->vq, 0, sizeof(req->vq));
    req->vq.index = n;
    req->vq.size = virtio_queue_get_num(vdev, n);
    req->vq.desc = virtio_queue_get_desc_addr(vdev, n);
    req->vq.driver = virtio_queue_get_avail_addr(vdev, n);
    req->vq.device = virtio_queue_get_used_addr(vdev, n);
}

/*
 * Does the size the driver chose for queue @n fit the remote device?  (The
 * virtio core may offer the driver more entries than the remote maximum:
 * QEMU 10.0.13 gives every queue 1024.)  If not, fail the device now rather
 * than wait for a request the device will drop.
 */
static bool proxy_queue_fits(VirtIOMSGProxyDriver *s, uint32_t n)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    uint32_t size = virtio_queue_get_num(vdev, n);

    if (size <= s->queue_max[n]) {
        return true;
    }
    qemu_log_mask(LOG_GUEST_ERROR, "virtio-msg-proxy-driver dev %u: queue "
                  "%u has %u entries, the remote device takes at most %u\n",
                  s->dev_num, n, size, s->queue_max[n]);
    proxy_fail(s, "a queue is larger than the remote device takes");
    return false;
}

static void proxy_set_status(VirtIODevice *vdev, uint8_t val)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    g_autofree ProxyReply *vqs = NULL;
    int64_t deadline = proxy_deadline(s);
    ProxyReply status = { };

    if (!proxy_usable(s)) {
        /* the status written replaces DEVICE_NEEDS_RESET: set it again */
        if (s->connected && val) {
            qemu_bh_schedule(s->refail_bh);
        }
        return;
    }
    /* 0 is the reset's; FEATURES_OK was sent by validate_features */
    if (val == 0 || val == s->remote_status) {
        return;
    }
    if ((val & VIRTIO_CONFIG_S_DRIVER_OK) &&
        !(s->remote_status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        /* the queues are set up by now: hand them over with the status */
        vqs = g_new0(ProxyReply, s->num_queues);
        for (uint32_t n = 0; n < s->num_queues; n++) {
            if (!virtio_queue_get_desc_addr(vdev, n)) {
                continue;
            }
            if (!proxy_queue_fits(s, n)) {
                return;
            }
            proxy_fill_vqueue(s, n, &vqs[n].req);
            if (!proxy_send(s, VIRTIO_MSG_SET_VQUEUE, &vqs[n])) {
                return;
            }
        }
    }
    status.req.status.status = val;
    if (proxy_send(s, VIRTIO_MSG_SET_DEVICE_STATUS, &status) &&
        proxy_wait(s, deadline) && status.answered) {
        proxy_check_status(s, status.resp.status.status);
    }
}

/*
 * Make a device without a usable remote device look failed, again: the
 * virtio core overwrites the status, and clears "broken", when the call
 * in which the device failed (a status write, a reset) returns.
 */
static void proxy_refail_bh(void *opaque)
{
    VirtIOMSGProxyDriver *s = opaque;
    VirtIODevice *vdev = VIRTIO_DEVICE(s);

    if (proxy_usable(s)) {
        return;
    }
    if (!vdev->broken ||
        (virtio_vdev_has_feature(vdev, VIRTIO_F_VERSION_1) &&
         !(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET))) {
        virtio_error(vdev, "virtio-msg-proxy-driver dev %u: no usable remote "
                     "device", s->dev_num);
    }
}

static void proxy_reset(VirtIODevice *vdev)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);

    s->remote_status = 0;
    /*
     * The remote device must stop using the rings before the guest reuses
     * their memory: only a confirmed reset makes the device usable again.
     */
    if (s->ready && s->bus &&
        virtio_msg_driver_reset_device(s->driver, s->dev_num,
                                       s->timeout_ms)) {
        s->config_valid = false;
        return;
    }
    /* virtio_reset() clears "broken" after us: set it again */
    if (s->refail_bh && s->connected) {
        qemu_bh_schedule(s->refail_bh);
    }
}

static void proxy_get_config(VirtIODevice *vdev, uint8_t *config)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);

    if (!s->config_valid && proxy_usable(s)) {
        proxy_refresh_config(s);
    }
    memcpy(config, s->config_cache, vdev->config_len);
}

/* Write the bytes of @config that differ from the device's. */
static void proxy_set_config(VirtIODevice *vdev, const uint8_t *config)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    uint32_t chunk = proxy_config_chunk(s);
    int64_t deadline = proxy_deadline(s);
    uint32_t off = 0;

    while (proxy_usable(s) && s->config_valid && off < vdev->config_len) {
        ProxyReply r = { };
        uint32_t len = 0;

        if (config[off] == s->config_cache[off]) {
            off++;
            continue;
        }
        while (off + len < vdev->config_len && len < chunk &&
               config[off + len] != s->config_cache[off + len]) {
            len++;
        }
        r.req.config.generation = s->generation;
        r.req.config.offset = off;
        r.req.config.length = len;
        memcpy(r.req.config.data, config + off, len);
        if (!proxy_send(s, VIRTIO_MSG_SET_CONFIG, &r) ||
            !proxy_wait(s, deadline) || !r.answered) {
            return;
        }
        s->generation = r.resp.config.generation;
        if (r.resp.config.length == len) {
            memcpy(s->config_cache + off, config + off, len);
        }
        off += len;
    }
    /* a write may change other fields: read them again when asked */
    s->config_valid = false;
}

static void proxy_handle_output(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    VirtIOMSG ev = { };

    if (!proxy_usable(s)) {
        return;
    }
    virtio_msg_init(&ev, 0, VIRTIO_MSG_EVENT_AVAIL, s->dev_num, 0);
    ev.vq.index = virtio_get_queue_index(vq);
    virtio_msg_driver_send_event(s->driver, &ev);
}

static void proxy_queue_reset(VirtIODevice *vdev, uint32_t n)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    ProxyReply r = { };

    if (proxy_usable(s)) {
        r.req.vq.index = n;
        proxy_request(s, VIRTIO_MSG_RESET_VQUEUE, &r);
    }
}

static void proxy_queue_enable(VirtIODevice *vdev, uint32_t n)
{
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(vdev);
    ProxyReply r = { };

    if (proxy_usable(s) && (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
        proxy_queue_fits(s, n)) {
        proxy_fill_vqueue(s, n, &r.req);
        proxy_request(s, VIRTIO_MSG_SET_VQUEUE, &r);
    }
}

/* Events from the remote device (VirtIOMSGDriverOps) */

static void proxy_notify_queue(VirtIOMSGProxyDriver *s, uint32_t n)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    BusState *qbus = qdev_get_parent_bus(DEVICE(vdev));
    VirtioBusClass *k = VIRTIO_BUS_GET_CLASS(qbus);

    if (n >= s->num_queues || !virtio_queue_get_num(vdev, n) ||
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

    trace_virtio_msg_proxy_event(s->dev_num, virtio_msg_name(msg->type,
                                                              msg->id));
    if (!s->ready) {
        return;
    }
    if (msg->id == VIRTIO_MSG_EVENT_USED) {
        proxy_notify_queue(s, msg->vq.index);
        return;
    }
    /*
     * Only DEVICE_NEEDS_RESET counts: the status an event carries is not
     * an answer to ours, so it must not change what we believe the device
     * has (a lying peer could make us skip a status write).
     */
    if (msg->config.status & VIRTIO_CONFIG_S_NEEDS_RESET) {
        proxy_fail(s, "the remote device needs a reset");
        return;
    }
    /* the config changed: the guest hears of it once the copy is fresh */
    s->config_valid = false;
    proxy_refresh_start(s);
}

static void proxy_failed(void *opaque, const char *why)
{
    VirtIOMSGProxyDriver *s = opaque;
    VirtIODevice *vdev = VIRTIO_DEVICE(s);

    if (!vdev->broken) {
        virtio_error(vdev, "virtio-msg-proxy-driver dev %u: %s", s->dev_num,
                     why);
    }
    if (s->refail_bh) {
        qemu_bh_schedule(s->refail_bh);
    }
}

static const VirtIOMSGDriverOps proxy_driver_ops = {
    .event = proxy_event,
    .failed = proxy_failed,
};

/*
 * Device ids whose QEMU device model is in this build, so that every part
 * of QEMU that looks at a device id (QMP introspection included) knows
 * it; a peer must not pick another.
 */
static bool proxy_device_id_supported(uint32_t id)
{
    static const struct {
        uint32_t id;
        const char *type;
    } known[] = {
        { VIRTIO_ID_NET, "virtio-net-device" },
        { VIRTIO_ID_BLOCK, "virtio-blk-device" },
        { VIRTIO_ID_CONSOLE, "virtio-serial-device" },
        { VIRTIO_ID_RNG, "virtio-rng-device" },
        { VIRTIO_ID_BALLOON, "virtio-balloon-device" },
        { VIRTIO_ID_SCSI, "virtio-scsi-device" },
        { VIRTIO_ID_GPU, "virtio-gpu-device" },
        { VIRTIO_ID_INPUT, "virtio-input-device" },
        { VIRTIO_ID_CRYPTO, "virtio-crypto-device" },
        { VIRTIO_ID_IOMMU, "virtio-iommu-device" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
        if (known[i].id == id) {
            return object_class_by_name(known[i].type) != NULL;
        }
    }
    return false;
}

/* Check DEVICE_INFO and take the device id, config size and queues */
static bool proxy_take_info(VirtIOMSGProxyDriver *s, const VirtIOMSG *info,
                            Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);

    if (!proxy_device_id_supported(info->info.device_id) ||
        (s->virtio_id && info->info.device_id != s->virtio_id)) {
        error_setg(errp, "the remote device has virtio id %u%s",
                   info->info.device_id,
                   s->virtio_id ? ", not virtio-id" : ", unsupported here");
        return false;
    }
    if (info->info.config_size > VIRTIO_MSG_PROXY_MAX_CONFIG ||
        DIV_ROUND_UP(info->info.config_size, proxy_config_chunk(s)) >
        PROXY_MAX_CONFIG_CHUNKS ||
        info->info.max_virtqueues > VIRTIO_MSG_PROXY_MAX_QUEUES) {
        error_setg(errp, "the remote device claims %u bytes of config and "
                   "%u queues", info->info.config_size,
                   info->info.max_virtqueues);
        return false;
    }
    g_free(vdev->config);
    g_free(s->config_cache);
    vdev->config_len = info->info.config_size;
    vdev->config = g_malloc0(MAX(vdev->config_len, 1));
    s->config_cache = g_malloc0(MAX(vdev->config_len, 1));
    s->num_queues = info->info.max_virtqueues;
    return true;
}

/* Take the remote device's identity; false if it is unusable. */
static bool proxy_fetch_identity(VirtIOMSGProxyDriver *s, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    g_autofree ProxyReply *vqs = NULL;
    g_autofree ProxyReply *config = g_new0(ProxyReply,
                                           PROXY_MAX_CONFIG_CHUNKS);
    ProxyReply info = { }, feat = { };
    unsigned nconfig = 0;
    int64_t deadline;

    if (!proxy_request(s, VIRTIO_MSG_DEVICE_INFO, &info)) {
        error_setg(errp, "no answer to DEVICE_INFO");
        return false;
    }
    if (!proxy_take_info(s, &info.resp, errp)) {
        return false;
    }

    /* everything else at once, with one deadline */
    deadline = proxy_deadline(s);
    vqs = g_new0(ProxyReply, s->num_queues);
    feat.req.features.index = 0;
    feat.req.features.num = 2;
    if (!proxy_send(s, VIRTIO_MSG_GET_FEATURES, &feat)) {
        goto no_answer;
    }
    for (uint32_t n = 0; n < s->num_queues; n++) {
        vqs[n].req.vq.index = n;
        if (!proxy_send(s, VIRTIO_MSG_GET_VQUEUE, &vqs[n])) {
            goto no_answer;
        }
    }
    if (!proxy_send_config_reads(s, config, &nconfig) ||
        !proxy_wait(s, deadline)) {
        goto no_answer;
    }
    if (!feat.answered || feat.resp.features.num < 2) {
        error_setg(errp, "bad answer to GET_FEATURES");
        return false;
    }
    for (uint32_t n = 0; n < s->num_queues; n++) {
        uint32_t size = vqs[n].resp.vq.max_size;

        if (!vqs[n].answered || vqs[n].resp.vq.index != n || !size ||
            size > VIRTQUEUE_MAX_SIZE) {
            error_setg(errp, "queue %u has size %u", n, size);
            return false;
        }
    }
    if (!proxy_take_config(s, config, nconfig)) {
        error_setg(errp, "bad answer to GET_CONFIG");
        return false;
    }

    vdev->device_id = info.resp.info.device_id;
    for (uint32_t n = 0; n < s->num_queues; n++) {
        s->queue_max[n] = vqs[n].resp.vq.max_size;
        virtio_add_queue(vdev, s->queue_max[n], proxy_handle_output);
    }
    s->remote_features = (feat.resp.features.blocks[0] |
                          (uint64_t)feat.resp.features.blocks[1] << 32) &
                         ~PROXY_FEATURES_MASKED;
    vdev->host_features = s->remote_features;
    s->ready = true;
    trace_virtio_msg_proxy_ready(s->dev_num, vdev->device_id,
                                 vdev->config_len, s->num_queues,
                                 s->remote_features);
    return true;

no_answer:
    error_setg(errp, "no answer to the identity requests");
    return false;
}

void virtio_msg_proxy_driver_connect(VirtIOMSGProxyDriver *s)
{
    Error *err = NULL;

    if (s->connected) {
        return;     /* done already */
    }
    s->connected = true;
    if (!virtio_msg_driver_wait_link(s->driver)) {
        error_setg(&err, "the link to the peer is not up");
    } else {
        proxy_fetch_identity(s, &err);
    }
    if (err) {
        /* what the peer does or fails to do must not end this QEMU */
        error_reportf_err(err, "virtio-msg-proxy-driver: dev %u on '%s': ",
                          s->dev_num, BUS(s->bus)->name);
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

    if (object_dynamic_cast(OBJECT(transport), TYPE_VIRTIO_MSG)) {
        error_setg(errp, "a virtio-msg-proxy-driver cannot sit on a "
                   "virtio-msg bus: give bus=virtio-mmio-bus.N");
        return;
    }
    if (object_property_find(OBJECT(transport), "force-legacy") &&
        object_property_get_bool(OBJECT(transport), "force-legacy", NULL)) {
        error_setg(errp, "virtio-msg devices are virtio 1.0 devices: use "
                   "-global virtio-mmio.force-legacy=false");
        return;
    }
    if (!s->timeout_ms) {
        error_setg(errp, "timeout-ms must not be 0");
        return;
    }
    s->bus = s->msg_bus ? virtio_msg_bus_find(s->msg_bus)
                        : virtio_msg_bus_find_only();
    if (!s->bus) {
        if (s->msg_bus) {
            error_setg(errp, "msg-bus: no virtio-msg bus named '%s' (create "
                       "its bus device before the proxies)", s->msg_bus);
        } else {
            error_setg(errp, "msg-bus: name the virtio-msg bus (there is "
                       "not exactly one; create it before the proxies)");
        }
        return;
    }
    s->driver = virtio_msg_driver_get(s->bus);
    if (!virtio_msg_driver_register(s->driver, s->dev_num, &proxy_driver_ops,
                                    s, errp)) {
        s->driver = NULL;
        return;
    }
    /* a stand-in identity until the remote device's is known */
    virtio_init(vdev, VIRTIO_ID_RNG, 0);
    vdev->name = TYPE_VIRTIO_MSG_PROXY_DRIVER;
    s->config_cache = g_malloc0(1);
    s->refresh = g_new0(VirtIOMSGProxyRefresh, 1);
    s->refresh->s = s;
    s->refail_bh = qemu_bh_new(proxy_refail_bh, s);
    s->machine_done.notify = proxy_machine_done;
    qemu_add_machine_init_done_notifier(&s->machine_done);
}

static void proxy_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOMSGProxyDriver *s = VIRTIO_MSG_PROXY_DRIVER(dev);

    qemu_remove_machine_init_done_notifier(&s->machine_done);
    virtio_msg_driver_unregister(s->driver, s->dev_num);
    g_free(s->refresh);
    qemu_bh_delete(s->refail_bh);
    for (uint32_t n = 0; n < s->num_queues && s->ready; n++) {
        virtio_delete_queue(virtio_get_queue(vdev, n));
    }
    g_free(s->config_cache);
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
    DEFINE_PROP_UINT32("timeout-ms", VirtIOMSGProxyDriver, timeout_ms, 2000),
};

static void proxy_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    dc->desc = "virtio device served by a remote virtio-msg device";
    /* its identity is taken when the machine is built */
    dc->hotpluggable = false;
    dc->vmsd = &vmstate_proxy;
    device_class_set_props(dc, proxy_properties);
    object_class_property_set_description(klass, "msg-bus",
        "name of the virtio-msg bus of the remote device (default: the "
        "only virtio-msg bus)");
    object_class_property_set_description(klass, "dev-num",
        "device number of the remote device on that bus");
    object_class_property_set_description(klass, "virtio-id",
        "virtio device id the remote device must have (0: any)");
    object_class_property_set_description(klass, "timeout-ms",
        "longest wait for the remote device per guest action; a device "
        "that misses it fails until the guest resets it");
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
        .class_init = proxy_class_init,
    },
};

DEFINE_TYPES(proxy_types)
