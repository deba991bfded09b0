/*
 * PL011 console and a small printf for the bare-metal guest test program
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "guest.h"

/*
 * The PL011 of QEMU's "virt" machine (fixed by the board's memory map).
 * QEMU's model needs no set-up: the data register just transmits.
 */
#define UART_BASE       0x09000000UL
#define UART_DR         0x00
#define UART_FR         0x18
#define UART_FR_TXFF    (1 << 5)

void uart_putc(char c)
{
    if (c == '\n') {
        uart_putc('\r');
    }
    while (mmio_read32(UART_BASE + UART_FR) & UART_FR_TXFF) {
        /* wait for room in the transmit FIFO */
    }
    mmio_write32(UART_BASE + UART_DR, (uint8_t)c);
}

/* Output sink: the UART or a bounded buffer */
typedef struct Out {
    char *buf;          /* NULL: UART */
    size_t size;
    size_t len;
} Out;

static void out_char(Out *o, char c)
{
    if (!o->buf) {
        uart_putc(c);
    } else if (o->len + 1 < o->size) {
        o->buf[o->len] = c;
    }
    o->len++;
}

static void out_number(Out *o, uint64_t v, unsigned base, bool negative,
                       unsigned width, char pad)
{
    char digits[24];
    unsigned n = 0;

    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (negative) {
        if (pad == '0') {
            out_char(o, '-');
        } else {
            digits[n++] = '-';
        }
        if (width) {
            width--;
        }
    }
    while (width > n) {
        out_char(o, pad);
        width--;
    }
    while (n) {
        out_char(o, digits[--n]);
    }
}

/* %[0][width][.*][l|ll|z](d|u|x|s|c|p|%); the precision is for %s */
static void out_format(Out *o, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        unsigned width = 0, longs = 0;
        size_t prec = SIZE_MAX;
        char pad = ' ';
        uint64_t u;
        int64_t s;
        const char *str;

        if (*fmt != '%') {
            out_char(o, *fmt);
            continue;
        }
        fmt++;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + (*fmt++ - '0');
        }
        if (fmt[0] == '.' && fmt[1] == '*') {
            prec = va_arg(ap, int);
            fmt += 2;
        }
        while (*fmt == 'l' || *fmt == 'z') {
            longs = 2;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
            s = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            out_number(o, s < 0 ? -(uint64_t)s : (uint64_t)s, 10, s < 0,
                       width, pad);
            break;
        case 'u':
        case 'x':
            u = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
            out_number(o, u, *fmt == 'u' ? 10 : 16, false, width, pad);
            break;
        case 'p':
            out_char(o, '0');
            out_char(o, 'x');
            out_number(o, (uintptr_t)va_arg(ap, void *), 16, false, width,
                       pad);
            break;
        case 'c':
            out_char(o, (char)va_arg(ap, int));
            break;
        case 's':
            str = va_arg(ap, const char *);
            if (!str) {
                str = "(null)";
            }
            for (u = strlen(str); width > u; width--) {
                out_char(o, ' ');
            }
            while (*str && prec--) {
                out_char(o, *str++);
            }
            break;
        case '%':
            out_char(o, '%');
            break;
        default:
            out_char(o, '%');
            if (!*fmt) {
                return;
            }
            out_char(o, *fmt);
            break;
        }
    }
}

int printf(const char *fmt, ...)
{
    Out o = { 0 };
    va_list ap;

    va_start(ap, fmt);
    out_format(&o, fmt, ap);
    va_end(ap);
    return o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    Out o = { .buf = buf, .size = size };
    va_list ap;

    va_start(ap, fmt);
    out_format(&o, fmt, ap);
    va_end(ap);
    if (size) {
        buf[MIN(o.len, size - 1)] = '\0';
    }
    return o.len;
}
