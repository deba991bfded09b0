/*
 * x-virtio-msg: a machine without CPUs that only hosts virtio-msg devices
 *
 * It is the device half of a two-QEMU AMP system: virtio device models
 * behind a virtio-msg bus (a bus device that reaches the other QEMU) serve a
 * driver running in another QEMU.  Its RAM is the driver side's RAM (a
 * shared memory backend) mapped at the same guest physical address, so
 * ring and buffer addresses need no translation.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "hw/boards.h"
#include "hw/sysbus.h"
#include "exec/address-spaces.h"
#include "hw/virtio/virtio-msg-bus.h"

#define TYPE_VIRTIO_MSG_MACHINE MACHINE_TYPE_NAME("x-virtio-msg")
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOMSGMachineState, VIRTIO_MSG_MACHINE)

/* Where -M virt puts its RAM: the driver side's default */
#define VIRTIO_MSG_MACHINE_RAM_BASE (1 * GiB)

struct VirtIOMSGMachineState {
    MachineState parent_obj;

    uint64_t ram_base;
};

static void virtio_msg_machine_init(MachineState *machine)
{
    VirtIOMSGMachineState *s = VIRTIO_MSG_MACHINE(machine);

    if (machine->cpu_type) {
        error_report("-M x-virtio-msg has no CPUs: -cpu is not supported");
        exit(1);
    }
    if (machine->kernel_filename || machine->initrd_filename ||
        machine->firmware) {
        error_report("-M x-virtio-msg runs no guest code: -kernel, -initrd "
                     "and -bios are not supported");
        exit(1);
    }
    if (machine->ram) {
        memory_region_add_subregion(get_system_memory(), s->ram_base,
                                    machine->ram);
    }
}

static void virtio_msg_machine_get_ram_base(Object *obj, Visitor *v,
                                            const char *name, void *opaque,
                                            Error **errp)
{
    visit_type_uint64(v, name, &VIRTIO_MSG_MACHINE(obj)->ram_base, errp);
}

static void virtio_msg_machine_set_ram_base(Object *obj, Visitor *v,
                                            const char *name, void *opaque,
                                            Error **errp)
{
    visit_type_uint64(v, name, &VIRTIO_MSG_MACHINE(obj)->ram_base, errp);
}

static void virtio_msg_machine_instance_init(Object *obj)
{
    VIRTIO_MSG_MACHINE(obj)->ram_base = VIRTIO_MSG_MACHINE_RAM_BASE;
}

static void virtio_msg_machine_class_init(ObjectClass *oc, void *data)
{
    MachineClass *mc = MACHINE_CLASS(oc);

    mc->desc = "virtio-msg device side: virtio devices only, no CPUs "
               "(experimental)";
    mc->init = virtio_msg_machine_init;
    /* "none" machines need a CPU count; none is ever created */
    mc->max_cpus = 1;
    mc->default_ram_size = 0;
    mc->default_ram_id = "ram";
    mc->no_serial = 1;
    mc->no_parallel = 1;
    mc->no_floppy = 1;
    mc->no_cdrom = 1;
    mc->default_nic = NULL;
    /* any virtio-msg bus device (they implement this interface) */
    machine_class_allow_dynamic_sysbus_dev(mc, TYPE_VIRTIO_MSG_BUS_DEVICE);

    object_class_property_add(oc, "ram-base", "uint64",
                              virtio_msg_machine_get_ram_base,
                              virtio_msg_machine_set_ram_base, NULL, NULL);
    object_class_property_set_description(oc, "ram-base",
        "Guest physical address of RAM, as on the driver side "
        "(default 0x40000000, as -M virt)");
}

static const TypeInfo virtio_msg_machine_types[] = {
    {
        .name = TYPE_VIRTIO_MSG_MACHINE,
        .parent = TYPE_MACHINE,
        .instance_size = sizeof(VirtIOMSGMachineState),
        .instance_init = virtio_msg_machine_instance_init,
        .class_init = virtio_msg_machine_class_init,
    },
};

DEFINE_TYPES(virtio_msg_machine_types)
