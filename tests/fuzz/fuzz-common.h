/*
 * Helpers shared by the virtio-msg libFuzzer targets
 *
 * A target reads its input as a little stream of bytes; once the input
 * runs out every read returns zeroes, so any input is a valid program.
 * A broken invariant is reported on stderr and ends in abort(), which
 * libFuzzer records as a crash.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_FUZZ_FUZZ_COMMON_H
#define TESTS_FUZZ_FUZZ_COMMON_H

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct FuzzInput {
    const uint8_t *data;
    size_t size;
    size_t pos;
} FuzzInput;

static inline void fuzz_input_init(FuzzInput *in, const uint8_t *data,
                                   size_t size)
{
    in->data = data;
    in->size = size;
    in->pos = 0;
}

static inline bool fuzz_input_done(const FuzzInput *in)
{
    return in->pos >= in->size;
}

static inline uint8_t fuzz_u8(FuzzInput *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline uint16_t fuzz_u16(FuzzInput *in)
{
    uint16_t v = fuzz_u8(in);

    return v | (uint16_t)fuzz_u8(in) << 8;
}

static inline uint32_t fuzz_u32(FuzzInput *in)
{
    uint32_t v = fuzz_u16(in);

    return v | (uint32_t)fuzz_u16(in) << 16;
}

/* Copy up to @len input bytes to @buf, zero the rest; returns bytes read */
static inline size_t fuzz_bytes(FuzzInput *in, void *buf, size_t len)
{
    size_t n = MIN(len, in->size - MIN(in->pos, in->size));

    memcpy(buf, in->data + in->pos, n);
    memset((uint8_t *)buf + n, 0, len - n);
    in->pos += n;
    return n;
}

#define fuzz_fail(...) do {                                        \
        fprintf(stderr, "%s:%d: invariant broken: ", __FILE__,     \
                __LINE__);                                         \
        fprintf(stderr, __VA_ARGS__);                              \
        fprintf(stderr, "\n");                                     \
        abort();                                                   \
    } while (0)

#define fuzz_check(cond, ...) do {                                 \
        if (!(cond)) {                                             \
            fuzz_fail(__VA_ARGS__);                                \
        }                                                          \
    } while (0)

#endif
