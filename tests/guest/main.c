/*
 * Bare-metal guest test program: virtio-blk over virtio-msg-amp-pci or
 * virtio-pci
 *
 * Options come from the kernel command line (-append, /chosen/bootargs):
 *   transport=msg|pci  test=check|bench  qd=N  bs=BYTES  count=N
 *   verbose=0|1 (print every virtio-msg message)
 *   events=0|1 (0: ask the device not to notify used buffers)
 *   wait=MS (virtio-msg: keep sending PING for up to MS milliseconds until
 *   one is answered, for a relayed FIFO whose device side comes later)
 * The last line is "guest-test: PASS ..." or "guest-test: FAIL ...", then
 * the program powers the machine off through PSCI.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fdt.h"
#include "transports.h"
#include "virtio-blk.h"

/* Where QEMU puts the device tree for an ELF image linked above it */
#define DTB_ADDR                0x40000000UL

#define VIRTIO_PCI_VENDOR_ID    0x1af4
#define VIRTIO_PCI_BLK_MODERN   0x1042      /* 0x1040 + VIRTIO_ID_BLOCK */
#define VIRTIO_PCI_BLK_TRANS    0x1001      /* transitional */

typedef struct Options {
    char transport[8];
    char test[8];
    uint64_t qd;
    uint64_t bs;
    uint64_t count;
    uint64_t verbose;
    uint64_t events;
    uint64_t wait_ms;
} Options;

static Options opts = {
    .transport = "msg",
    .test = "check",
    .qd = 4,
    .bs = 4096,
    .count = 10000,
    .events = 1,
};

static const char *verdict_what = "";

static void __attribute__((noreturn)) finish(bool pass, const char *why)
{
    printf("guest-test: %s transport=%s test=%s%s%s\n",
           pass ? "PASS" : "FAIL", opts.transport, opts.test,
           why ? ": " : "", why ? why : "");
    guest_exit();
}

void guest_exception(uint64_t kind, uint64_t esr, uint64_t elr, uint64_t far)
{
    printf("guest: unexpected exception %lu: ESR 0x%lx ELR 0x%lx FAR 0x%lx "
           "(while %s)\n", kind, esr, elr, far, verdict_what);
    finish(false, "exception");
}

static bool set_string(char *dst, size_t size, const char *v, size_t len)
{
    if (len >= size) {
        return false;
    }
    memcpy(dst, v, len);
    dst[len] = '\0';
    return true;
}

/* "key=value key=value ..."; false on an unknown key or a bad value */
static bool parse_options(const char *args)
{
    while (*args) {
        const char *key = args, *val;
        size_t klen, vlen;
        bool ok;

        while (*args && *args != ' ') {
            args++;
        }
        klen = args - key;
        while (*args == ' ') {
            args++;
        }
        if (!klen) {
            continue;
        }
        for (val = key; val < key + klen && *val != '='; val++) {
            /* find '=' */
        }
        if (val == key + klen) {
            printf("options: '%.*s' is not key=value\n", (int)klen, key);
            return false;
        }
        klen = val - key;
        val++;
        vlen = args - val;
        while (vlen && val[vlen - 1] == ' ') {
            vlen--;
        }
        if (klen == 9 && !strncmp(key, "transport", 9)) {
            ok = set_string(opts.transport, sizeof(opts.transport), val, vlen)
                 && (!strcmp(opts.transport, "msg") ||
                     !strcmp(opts.transport, "pci"));
        } else if (klen == 4 && !strncmp(key, "test", 4)) {
            ok = set_string(opts.test, sizeof(opts.test), val, vlen) &&
                 (!strcmp(opts.test, "check") || !strcmp(opts.test, "bench"));
        } else if (klen == 2 && !strncmp(key, "qd", 2)) {
            ok = parse_u64(val, vlen, &opts.qd);
        } else if (klen == 2 && !strncmp(key, "bs", 2)) {
            ok = parse_u64(val, vlen, &opts.bs) && opts.bs <= (64 << 20);
        } else if (klen == 5 && !strncmp(key, "count", 5)) {
            ok = parse_u64(val, vlen, &opts.count);
        } else if (klen == 7 && !strncmp(key, "verbose", 7)) {
            ok = parse_u64(val, vlen, &opts.verbose);
        } else if (klen == 6 && !strncmp(key, "events", 6)) {
            ok = parse_u64(val, vlen, &opts.events);
        } else if (klen == 4 && !strncmp(key, "wait", 4)) {
            ok = parse_u64(val, vlen, &opts.wait_ms);
        } else {
            printf("options: unknown option '%.*s'\n", (int)klen, key);
            return false;
        }
        if (!ok) {
            printf("options: bad value for '%.*s'\n", (int)klen, key);
            return false;
        }
    }
    return true;
}

/* PSCI conduit, RAM size and options from the device tree */
static void read_device_tree(void)
{
    const uint8_t *p;
    uint32_t len;
    int node, root;
    uint64_t ram_base = DTB_ADDR, ram_size = 128 << 20;

    if (!fdt_init((const void *)DTB_ADDR)) {
        printf("guest: no device tree at 0x%lx\n", DTB_ADDR);
        finish(false, "no device tree");
    }
    node = fdt_path("/psci");
    p = fdt_prop(node, "method", &len);
    psci_set_conduit(p && len >= 4 && !strncmp((const char *)p, "smc", 3));

    root = fdt_path("/");
    node = fdt_path("/memory");
    p = fdt_prop(node, "reg", &len);
    if (p) {
        unsigned ac = fdt_prop_u32(root, "#address-cells", 2);
        unsigned sc = fdt_prop_u32(root, "#size-cells", 1);

        if (len >= (ac + sc) * 4) {
            ram_base = fdt_cells(p, ac);
            ram_size = fdt_cells(p + ac * 4, sc);
        }
    }
    heap_init(ram_base + ram_size);

    node = fdt_path("/chosen");
    p = fdt_prop(node, "bootargs", &len);
    printf("guest: bootargs \"%s\", RAM 0x%lx-0x%lx\n",
           p && len ? (const char *)p : "", ram_base,
           ram_base + ram_size - 1);
    if (p && len && !parse_options((const char *)p)) {
        finish(false, "bad options");
    }
}

static VmsgLink link;
static VmsgVirtio vmsg_transport;
static VpciVirtio vpci_transport;
static PciHost pci;

/* virtio-msg: find the AMP device, then a virtio-blk behind it */
/*
 * A relayed FIFO answers only once its device side is there: PING until an
 * answer comes, for up to opts.wait_ms.  (A late answer to an earlier
 * PING would count as a protocol error.)
 */
static bool wait_device_side(void)
{
    uint64_t deadline = timer_deadline_ms(opts.wait_ms);
    unsigned timeout_ms = link.timeout_ms;
    unsigned tries = 0;
    bool ok;

    link.timeout_ms = 200;
    do {
        tries++;
        ok = vmsg_ping(&link, 0x1234abcd);
    } while (!ok && !timer_expired(deadline));
    link.timeout_ms = timeout_ms;
    if (ok && tries > 1) {
        printf("vmsg: device side answered after %u PINGs\n", tries);
    }
    return ok;
}

static bool attach_msg(VirtioDev *vdev)
{
    PciDev *pdev = pci_find(&pci, VMSG_AMP_VENDOR_ID, VMSG_AMP_DEVICE_ID);
    uint32_t version, bitmap;
    int blk = -1;

    if (!pdev) {
        printf("guest: no virtio-msg-amp-pci (%04x:%04x) found\n",
               VMSG_AMP_VENDOR_ID, VMSG_AMP_DEVICE_ID);
        return false;
    }
    if (!pdev->bar[0] || !pdev->bar[1]) {
        printf("guest: virtio-msg-amp-pci BAR0/BAR1 not assigned\n");
        return false;
    }
    version = mmio_read32(pdev->bar[0] + VMSG_AMP_REG_VERSION);
    printf("vmsg: virtio-msg-amp-pci at %02x:%02x.%u, version %u, "
           "BAR0 0x%lx BAR1 0x%lx\n", pdev->bus, pdev->slot, pdev->fn,
           version, pdev->bar[0], pdev->bar[1]);
    if (version != 1) {
        printf("vmsg: unsupported version %u\n", version);
        return false;
    }

    vmsg_link_init(&link, pdev->bar[0], pdev->bar[1], 0);
    link.verbose = opts.verbose;
    verdict_what = "talking to virtio-msg-amp-pci";
    if (opts.wait_ms && !wait_device_side()) {
        return false;
    }
    if (!vmsg_ping(&link, 0x1234abcd) || !vmsg_get_devices(&link, &bitmap)) {
        return false;
    }
    printf("vmsg: PING answered, GET_DEVICES bitmap 0x%08x\n", bitmap);
    for (unsigned n = 0; n < VMSG_MAX_DEVS; n++) {
        VmsgDeviceInfo info;

        if (!(bitmap & (1u << n))) {
            continue;
        }
        if (!vmsg_device_info(&link, n, &info)) {
            return false;
        }
        printf("vmsg: dev %u: device_id %u vendor 0x%x %u feature bits, "
               "config %u bytes, %u queues\n", n, info.device_id,
               info.vendor_id, info.num_feature_bits, info.config_size,
               info.max_virtqueues);
        if (info.device_id == VIRTIO_ID_BLOCK && blk < 0) {
            blk = n;
        }
    }
    if (blk < 0) {
        printf("vmsg: no virtio-blk device behind virtio-msg-amp-pci\n");
        return false;
    }
    printf("vmsg: using dev %d\n", blk);
    vmsg_virtio_attach(vdev, &vmsg_transport, &link, blk);
    return true;
}

static bool attach_pci(VirtioDev *vdev)
{
    PciDev *pdev = pci_find(&pci, VIRTIO_PCI_VENDOR_ID,
                            VIRTIO_PCI_BLK_MODERN);

    if (!pdev) {
        pdev = pci_find(&pci, VIRTIO_PCI_VENDOR_ID, VIRTIO_PCI_BLK_TRANS);
    }
    if (!pdev) {
        printf("guest: no virtio-blk-pci found\n");
        return false;
    }
    printf("vpci: virtio-blk-pci at %02x:%02x.%u\n", pdev->bus, pdev->slot,
           pdev->fn);
    return vpci_virtio_attach(vdev, &vpci_transport, pdev);
}

int main(void)
{
    bool msg, ok;
    VirtioDev vdev;
    Vblk blk;

    printf("\nguest: virtio-blk test program for virtio-msg (aarch64)\n");
    verdict_what = "reading the device tree";
    read_device_tree();
    printf("guest: transport=%s test=%s qd=%lu bs=%lu count=%lu, "
           "timer %lu Hz\n", opts.transport, opts.test, opts.qd, opts.bs,
           opts.count, timer_freq());
    msg = !strcmp(opts.transport, "msg");

    verdict_what = "enumerating PCI";
    if (!pci_host_init(&pci)) {
        finish(false, "no PCI host bridge");
    }
    pci_scan(&pci);

    verdict_what = "attaching the transport";
    if (!(msg ? attach_msg(&vdev) : attach_pci(&vdev))) {
        finish(false, "no device");
    }
    verdict_what = "bringing virtio-blk up";
    if (!vblk_init(&blk, &vdev, opts.events)) {
        finish(false, "virtio-blk initialisation failed");
    }

    if (!strcmp(opts.test, "check")) {
        verdict_what = "running the check";
        ok = vblk_check(&blk, msg ? 'M' : 'P', opts.qd);
    } else {
        verdict_what = "running the benchmark";
        ok = vblk_bench(&blk, opts.qd, opts.bs, opts.count);
    }
    if (!ok) {
        virtio_fail(&vdev);
        finish(false, "I/O failed");
    }

    verdict_what = "resetting the device";
    if (!virtio_reset(&vdev)) {
        finish(false, "device reset failed");
    }
    if (msg) {
        vmsg_poll(&link);
        printf("vmsg: %lu messages sent, %lu received, %lu events, "
               "%u protocol errors\n", link.sent, link.received,
               link.events, link.errors);
        if (link.errors) {
            finish(false, "protocol errors");
        }
    }
    finish(true, NULL);
}
