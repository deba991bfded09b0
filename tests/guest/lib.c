/*
 * C library subset, timer, allocator and power-off of the bare-metal guest
 * test program
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "guest.h"

/*
 * The compiler may emit calls to memcpy/memset/memcmp on its own; this file
 * is built with -fno-tree-loop-distribute-patterns so that these loops are
 * not turned back into calls to themselves.
 */
void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;

    while (n--) {
        *d++ = *s++;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;

    while (n--) {
        *d++ = c;
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;

    for (; n; n--, x++, y++) {
        if (*x != *y) {
            return *x - *y;
        }
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;

    while (s[n]) {
        n++;
    }
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b) {
            return (uint8_t)*a - (uint8_t)*b;
        }
        if (!*a) {
            break;
        }
    }
    return 0;
}

int strcmp(const char *a, const char *b)
{
    return strncmp(a, b, SIZE_MAX);
}

/* Decimal, or hexadecimal with 0x; optional suffix k/K or m/M (binary) */
bool parse_u64(const char *s, size_t len, uint64_t *val)
{
    unsigned base = 10;
    uint64_t v = 0;
    size_t i = 0;

    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i == len) {
        return false;
    }
    for (; i < len; i++) {
        char c = s[i];
        unsigned d;

        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (base == 16 && c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else if (i == len - 1 && (c == 'k' || c == 'K')) {
            v <<= 10;
            break;
        } else if (i == len - 1 && (c == 'm' || c == 'M')) {
            v <<= 20;
            break;
        } else {
            return false;
        }
        if (v > (UINT64_MAX - d) / base) {
            return false;
        }
        v = v * base + d;
    }
    *val = v;
    return true;
}

/* Generic timer: the virtual counter, always readable at EL1 */

uint64_t timer_now(void)
{
    uint64_t v;

    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
    return v;
}

uint64_t timer_freq(void)
{
    uint64_t v;

    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

uint64_t timer_deadline_ms(uint64_t ms)
{
    return timer_now() + ms * timer_freq() / 1000;
}

bool timer_expired(uint64_t deadline)
{
    return timer_now() > deadline;
}

uint64_t timer_ticks_to_us(uint64_t ticks)
{
    uint64_t f = timer_freq();

    /* split to avoid overflowing ticks * 1000000 */
    return ticks / f * 1000000 + ticks % f * 1000000 / f;
}

/* Allocator: memory is never freed, the program runs once */

static uint64_t heap_next, heap_end;

void heap_init(uint64_t ram_end)
{
    heap_next = (uintptr_t)__heap_start;
    heap_end = ram_end;
}

void *heap_alloc(size_t size, size_t align)
{
    uint64_t p = ALIGN_UP(heap_next, align);

    if (p > heap_end || size > heap_end - p) {
        return NULL;
    }
    heap_next = p + size;
    memset((void *)p, 0, size);
    return (void *)p;
}

uint64_t heap_free_bytes(void)
{
    return heap_end - heap_next;
}

/* PSCI: SYSTEM_OFF makes QEMU exit (status 0) */

#define PSCI_SYSTEM_OFF 0x84000008

static bool psci_smc;

void psci_set_conduit(bool use_smc)
{
    psci_smc = use_smc;
}

void guest_exit(void)
{
    register uint64_t x0 __asm__("x0") = PSCI_SYSTEM_OFF;

    if (psci_smc) {
        __asm__ volatile("smc #0" : "+r"(x0) :: "memory");
    } else {
        __asm__ volatile("hvc #0" : "+r"(x0) :: "memory");
    }
    printf("guest: PSCI SYSTEM_OFF failed (%ld), halting\n", (long)x0);
    for (;;) {
        __asm__ volatile("wfi");
    }
}
