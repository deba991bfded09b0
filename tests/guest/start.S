/*
 * Entry point of the bare-metal guest test program (aarch64)
 *
 * QEMU's arm boot code starts an ELF kernel at its entry point with the
 * MMU off, at EL1 on "-M virt" (EL2 with virtualization=on), and puts the
 * device tree at the start of RAM (0x40000000) when the ELF image is
 * linked above it; x0 is not set for an ELF kernel.
 *
 * Before any C code runs this file:
 *  - drops from EL2 to EL1 if needed,
 *  - sets the stack and zeroes .bss,
 *  - builds an identity map of the low 1 TiB with 1 GiB blocks: the
 *    RAM range 1 GiB..256 GiB is Normal write-back cacheable memory,
 *    everything else (UART, PCI ECAM and MMIO windows, flash) is
 *    Device-nGnRE,
 *  - turns the MMU and the caches on, and installs exception vectors.
 *
 * With the MMU off every data access is a Device access, which must be
 * aligned; compiled C code (struct copies, byte buffers) is not written
 * with that in mind, hence the MMU.  Everything here uses aligned 64-bit
 * stores only.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

/* Block descriptor bits (stage 1, 4 KiB granule) */
#define DESC_BLOCK      0x1             /* valid, block (level 1) */
#define DESC_TABLE      0x3             /* valid, table (level 0) */
#define DESC_ATTR(n)    ((n) << 2)      /* MAIR_EL1 attribute index */
#define DESC_SH_INNER   (3 << 8)
#define DESC_AF         (1 << 10)
#define DESC_PXN        (1 << 53)
#define DESC_UXN        (1 << 54)

#define DEVICE_BLOCK    (DESC_BLOCK | DESC_ATTR(0) | DESC_AF | \
                         DESC_PXN | DESC_UXN)
#define NORMAL_BLOCK    (DESC_BLOCK | DESC_ATTR(1) | DESC_AF | DESC_SH_INNER)

/* MAIR_EL1: attr0 Device-nGnRE, attr1 Normal inner/outer write-back */
#define MAIR_VALUE      0xff04

/*
 * TCR_EL1: T0SZ 24 (40-bit VA, lookup starts at level 0), inner/outer
 * write-back walks, inner shareable, 4 KiB granule, TTBR1 walks off
 * (EPD1), IPS 40 bits.
 */
#define TCR_VALUE       (24 | (1 << 8) | (1 << 10) | (3 << 12) | \
                         (1 << 23) | (2 << 32))

/* SCTLR_EL1 bits */
#define SCTLR_M         (1 << 0)
#define SCTLR_A         (1 << 1)
#define SCTLR_C         (1 << 2)
#define SCTLR_I         (1 << 12)

/* 1 GiB blocks mapped as Normal memory: 1 .. 255 (virt's RAM range) */
#define RAM_FIRST_GB    1
#define RAM_END_GB      256
#define NUM_GB          1024

    .section .text.start, "ax"
    .global _start
_start:
    mrs     x0, CurrentEL
    lsr     x0, x0, #2
    cmp     x0, #2
    b.eq    from_el2
    cmp     x0, #1
    b.eq    at_el1
    /* EL3 is not supported: nothing to print with yet, so just stop */
1:  wfe
    b       1b

from_el2:
    mov     x0, #(1 << 31)              /* HCR_EL2.RW: EL1 is AArch64 */
    msr     hcr_el2, x0
    mov     x0, #3                      /* EL1 may use the counters */
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mov     x0, #0x3c5                  /* EL1h, DAIF masked */
    msr     spsr_el2, x0
    adr     x0, at_el1
    msr     elr_el2, x0
    eret

at_el1:
    ldr     x0, =__stack_top
    mov     sp, x0

    /* zero .bss (both ends are 16-byte aligned, see guest.ld) */
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
2:  cmp     x0, x1
    b.hs    3f
    stp     xzr, xzr, [x0], #16
    b       2b
3:
    /* no traps for FP/SIMD (CPACR_EL1.FPEN = 3) */
    mov     x0, #(3 << 20)
    msr     cpacr_el1, x0

    /* level 1 entries: NUM_GB consecutive 1 GiB blocks */
    ldr     x0, =page_l1
    mov     x1, #0
4:  lsl     x2, x1, #30
    ldr     x3, =DEVICE_BLOCK
    cmp     x1, #RAM_FIRST_GB
    b.lo    5f
    cmp     x1, #RAM_END_GB
    b.hs    5f
    ldr     x3, =NORMAL_BLOCK
5:  orr     x2, x2, x3
    str     x2, [x0, x1, lsl #3]
    add     x1, x1, #1
    cmp     x1, #NUM_GB
    b.lo    4b

    /* level 0: two entries of 512 GiB, each a level 1 table */
    ldr     x1, =page_l0
    orr     x2, x0, #DESC_TABLE
    str     x2, [x1]
    add     x2, x2, #4096
    str     x2, [x1, #8]

    ldr     x0, =MAIR_VALUE
    msr     mair_el1, x0
    ldr     x0, =TCR_VALUE
    msr     tcr_el1, x0
    msr     ttbr0_el1, x1
    dsb     sy
    tlbi    vmalle1
    dsb     sy
    isb

    ldr     x0, =vectors
    msr     vbar_el1, x0

    mrs     x0, sctlr_el1
    mov     x1, #(SCTLR_M | SCTLR_C | SCTLR_I)
    orr     x0, x0, x1
    bic     x0, x0, #SCTLR_A
    msr     sctlr_el1, x0
    isb

    bl      main
    bl      guest_exit
6:  wfi
    b       6b

/*
 * Exception vectors: every exception is unexpected here (interrupts stay
 * masked, the program polls).  Report it and power off.
 */
    .macro vector kind
    .balign 0x80
    mov     x0, #\kind
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
    b       exception_entry
    .endm

    .balign 0x800
vectors:
    .irp kind, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    vector \kind
    .endr

exception_entry:
    ldr     x4, =__stack_top
    mov     sp, x4
    bl      guest_exception
7:  wfi
    b       7b

    .section .bss.pagetables, "aw", %nobits
    .balign 4096
page_l0:
    .space  4096
page_l1:
    .space  NUM_GB * 8
