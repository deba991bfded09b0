/*
 * Common definitions of the bare-metal guest test program
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/*
 * Barriers.  Devices (QEMU's device models) see memory as an outer
 * shareable observer, so the DMA barriers use the "osh" domain.
 */
#define mb()            __asm__ volatile("dsb sy" : : : "memory")
#define dma_wmb()       __asm__ volatile("dmb oshst" : : : "memory")
#define dma_rmb()       __asm__ volatile("dmb oshld" : : : "memory")
#define dma_mb()        __asm__ volatile("dmb osh" : : : "memory")

/* Register accessors (little-endian, naturally aligned) */
static inline uint8_t mmio_read8(uintptr_t addr)
{
    return *(volatile uint8_t *)addr; /* device access */
}

static inline uint16_t mmio_read16(uintptr_t addr)
{
    return *(volatile uint16_t *)addr; /* device access */
}

static inline uint32_t mmio_read32(uintptr_t addr)
{
    return *(volatile uint32_t *)addr; /* device access */
}

static inline void mmio_write8(uintptr_t addr, uint8_t v)
{
    *(volatile uint8_t *)addr = v; /* device access */
}

static inline void mmio_write16(uintptr_t addr, uint16_t v)
{
    *(volatile uint16_t *)addr = v; /* device access */
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
    *(volatile uint32_t *)addr = v; /* device access */
}

/* Little-endian byte buffer accessors (any alignment) */
static inline uint16_t get_le16(const uint8_t *p)
{
    return p[0] | (p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
    return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t get_le64(const uint8_t *p)
{
    return get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, v);
    put_le16(p + 2, v >> 16);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, v);
    put_le32(p + 4, v >> 32);
}

/* uart.c: PL011 console */
void uart_putc(char c);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* lib.c: C library subset */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
bool parse_u64(const char *s, size_t len, uint64_t *val);

/* lib.c: generic timer (CNTVCT_EL0 at CNTFRQ_EL0) */
uint64_t timer_now(void);
uint64_t timer_freq(void);
uint64_t timer_deadline_ms(uint64_t ms);
bool timer_expired(uint64_t deadline);
uint64_t timer_ticks_to_us(uint64_t ticks);

/* lib.c: bump allocator over the RAM above the image */
extern char __heap_start[];             /* guest.ld: end of the image */
void heap_init(uint64_t ram_end);
void *heap_alloc(size_t size, size_t align);
uint64_t heap_free_bytes(void);

/* lib.c: power off through PSCI; does not return */
void psci_set_conduit(bool use_smc);
void guest_exit(void) __attribute__((noreturn));

/* main.c: called by the exception vectors (start.S) */
void guest_exception(uint64_t kind, uint64_t esr, uint64_t elr, uint64_t far);
int main(void);

#endif
