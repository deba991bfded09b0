/*
 * virtio-msg-proxy-driver-pci: virtio-msg-proxy-driver behind virtio-pci
 *
 * The PCI device id of a modern virtio-pci device is 0x1040 plus the
 * virtio device id, which for a proxy is known only once the remote device
 * has answered: it is set when the machine is complete, before the guest
 * runs, so stock drivers bind to it.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "hw/boards.h"
#include "system/system.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/virtio/virtio-msg-proxy-driver.h"

#define TYPE_VIRTIO_MSG_PROXY_DRIVER_PCI "virtio-msg-proxy-driver-pci-base"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMSGProxyDriverPCI,
                           VIRTIO_MSG_PROXY_DRIVER_PCI)

/* Enough MSI-X vectors for the queues a proxy accepts, plus config */
#define PROXY_PCI_VECTORS (VIRTIO_MSG_PROXY_MAX_QUEUES + 1)

struct VirtIOMSGProxyDriverPCI {
    VirtIOPCIProxy parent_obj;
    VirtIOMSGProxyDriver vdev;
    Notifier machine_done;
};

static void proxy_pci_machine_done(Notifier *notifier, void *data)
{
    VirtIOMSGProxyDriverPCI *s = container_of(notifier,
                                              VirtIOMSGProxyDriverPCI,
                                              machine_done);
    PCIDevice *pci = PCI_DEVICE(s);

    virtio_msg_proxy_driver_connect(&s->vdev);
    if (!s->vdev.ready) {
        return;     /* a failed device; no driver should bind it */
    }
    pci_config_set_device_id(pci->config, PCI_DEVICE_ID_VIRTIO_10_BASE +
                             VIRTIO_DEVICE(&s->vdev)->device_id);
}

static void proxy_pci_realize(VirtIOPCIProxy *vpci_dev, Error **errp)
{
    VirtIOMSGProxyDriverPCI *s = VIRTIO_MSG_PROXY_DRIVER_PCI(vpci_dev);

    if (vpci_dev->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        vpci_dev->nvectors = PROXY_PCI_VECTORS;
    }
    virtio_pci_force_virtio_1(vpci_dev);
    if (!qdev_realize(DEVICE(&s->vdev), BUS(&vpci_dev->bus), errp)) {
        return;
    }
    s->machine_done.notify = proxy_pci_machine_done;
    qemu_add_machine_init_done_notifier(&s->machine_done);
}

static void proxy_pci_instance_init(Object *obj)
{
    VirtIOMSGProxyDriverPCI *s = VIRTIO_MSG_PROXY_DRIVER_PCI(obj);

    /* this also makes msg-bus, dev-num and virtio-id properties of ours */
    virtio_instance_init_common(obj, &s->vdev, sizeof(s->vdev),
                                TYPE_VIRTIO_MSG_PROXY_DRIVER);
}

static const Property proxy_pci_properties[] = {
    DEFINE_PROP_UINT32("vectors", VirtIOPCIProxy, nvectors,
                       DEV_NVECTORS_UNSPECIFIED),
};

static void proxy_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *k = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pcidev_k = PCI_DEVICE_CLASS(klass);

    k->realize = proxy_pci_realize;
    dc->desc = "virtio-pci device served by a remote virtio-msg device";
    /* its identity is taken when the machine is built */
    dc->hotpluggable = false;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    pcidev_k->vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET;
    pcidev_k->device_id = PCI_DEVICE_ID_VIRTIO_10_BASE;
    pcidev_k->revision = VIRTIO_PCI_ABI_VERSION;
    pcidev_k->class_id = PCI_CLASS_OTHERS;
    device_class_set_props(dc, proxy_pci_properties);
}

static const VirtioPCIDeviceTypeInfo proxy_pci_info = {
    .base_name = TYPE_VIRTIO_MSG_PROXY_DRIVER_PCI,
    .generic_name = "virtio-msg-proxy-driver-pci",
    .instance_size = sizeof(VirtIOMSGProxyDriverPCI),
    .instance_init = proxy_pci_instance_init,
    .class_init = proxy_pci_class_init,
};

static void proxy_pci_register(void)
{
    virtio_pci_types_register(&proxy_pci_info);
}

type_init(proxy_pci_register)
