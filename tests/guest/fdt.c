/*
 * Minimal read-only flattened device tree parser
 *
 * Only what the test program needs: look nodes up by path or compatible
 * string and read their properties.  Every offset is checked against the
 * blob's size, so a damaged blob makes a lookup fail, not fault.
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fdt.h"

#define FDT_MAGIC       0xd00dfeed
#define FDT_BEGIN_NODE  1
#define FDT_END_NODE    2
#define FDT_PROP        3
#define FDT_NOP         4
#define FDT_END         9

static const uint8_t *fdt_struct;
static uint32_t fdt_struct_size;
static const char *fdt_strings;
static uint32_t fdt_strings_size;

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}

uint64_t fdt_cells(const uint8_t *p, unsigned cells)
{
    uint64_t v = 0;

    while (cells--) {
        v = (v << 32) | be32(p);
        p += 4;
    }
    return v;
}

bool fdt_init(const void *blob)
{
    const uint8_t *h = blob;
    uint32_t total = be32(h + 4);
    uint32_t off_struct = be32(h + 8), off_strings = be32(h + 12);
    uint32_t size_strings = be32(h + 32), size_struct = be32(h + 36);

    if (be32(h) != FDT_MAGIC || be32(h + 20) < 17 ||
        off_struct > total || size_struct > total - off_struct ||
        off_strings > total || size_strings > total - off_strings) {
        return false;
    }
    fdt_struct = h + off_struct;
    fdt_struct_size = size_struct;
    fdt_strings = (const char *)h + off_strings;
    fdt_strings_size = size_strings;
    return true;
}

/* The tag of the token at @off, or FDT_END if it lies outside the block */
static uint32_t tag_at(int off)
{
    if (off < 0 || off % 4 || (uint32_t)off + 4 > fdt_struct_size) {
        return FDT_END;
    }
    return be32(fdt_struct + off);
}

/* The node name of the FDT_BEGIN_NODE token at @off */
static const char *node_name(int off)
{
    return (const char *)fdt_struct + off + 4;
}

/* The offset of the token following the one at @off, or -1 */
static int next_token(int off)
{
    uint32_t len;

    switch (tag_at(off)) {
    case FDT_BEGIN_NODE:
        len = 0;
        while ((uint32_t)off + 4 + len < fdt_struct_size &&
               fdt_struct[off + 4 + len]) {
            len++;
        }
        return ALIGN_UP(off + 4 + len + 1, 4);
    case FDT_PROP:
        if ((uint32_t)off + 12 > fdt_struct_size) {
            return -1;
        }
        len = be32(fdt_struct + off + 4);
        if (len > fdt_struct_size - off - 12) {
            return -1;
        }
        return ALIGN_UP(off + 12 + len, 4);
    case FDT_END_NODE:
    case FDT_NOP:
        return off + 4;
    default:
        return -1;
    }
}

/* The name of the FDT_PROP token at @off */
static const char *prop_name(int off)
{
    uint32_t nameoff = be32(fdt_struct + off + 8);

    return nameoff < fdt_strings_size ? fdt_strings + nameoff : "";
}

const uint8_t *fdt_prop(int node, const char *name, uint32_t *len)
{
    int off;

    if (tag_at(node) != FDT_BEGIN_NODE) {
        return NULL;
    }
    /* properties come before the subnodes */
    for (off = next_token(node); off >= 0; off = next_token(off)) {
        uint32_t tag = tag_at(off);

        if (tag == FDT_NOP) {
            continue;
        }
        if (tag != FDT_PROP) {
            return NULL;
        }
        if (!strcmp(prop_name(off), name)) {
            *len = be32(fdt_struct + off + 4);
            return fdt_struct + off + 12;
        }
    }
    return NULL;
}

uint32_t fdt_prop_u32(int node, const char *name, uint32_t def)
{
    uint32_t len;
    const uint8_t *p = fdt_prop(node, name, &len);

    return p && len >= 4 ? be32(p) : def;
}

static bool name_matches(const char *name, const char *comp, size_t len)
{
    bool has_unit = false;

    for (size_t i = 0; i < len; i++) {
        has_unit |= comp[i] == '@';
    }
    return !strncmp(name, comp, len) &&
           (name[len] == '\0' || (!has_unit && name[len] == '@'));
}

/* The direct child of @node called @comp (@len characters), or -1 */
static int find_child(int node, const char *comp, size_t len)
{
    int depth = 0;
    int off;

    for (off = next_token(node); off >= 0; off = next_token(off)) {
        switch (tag_at(off)) {
        case FDT_BEGIN_NODE:
            if (depth == 0 && name_matches(node_name(off), comp, len)) {
                return off;
            }
            depth++;
            break;
        case FDT_END_NODE:
            if (depth == 0) {
                return -1;
            }
            depth--;
            break;
        }
    }
    return -1;
}

int fdt_path(const char *path)
{
    int node = 0;

    if (tag_at(node) != FDT_BEGIN_NODE || *path != '/') {
        return -1;
    }
    while (node >= 0) {
        size_t len = 0;

        while (*path == '/') {
            path++;
        }
        if (!*path) {
            break;
        }
        while (path[len] && path[len] != '/') {
            len++;
        }
        node = find_child(node, path, len);
        path += len;
    }
    return node;
}

int fdt_find_compatible(const char *compatible)
{
    int node = -1;
    int off;

    for (off = 0; off >= 0; off = next_token(off)) {
        uint32_t tag = tag_at(off);

        if (tag == FDT_BEGIN_NODE) {
            node = off;
        } else if (tag == FDT_PROP && !strcmp(prop_name(off), "compatible")) {
            /* a list of NUL-terminated strings */
            uint32_t len = be32(fdt_struct + off + 4);
            const char *s = (const char *)fdt_struct + off + 12;
            uint32_t i = 0;

            while (i < len) {
                size_t n = strlen(s + i);

                if (!strcmp(s + i, compatible)) {
                    return node;
                }
                i += n + 1;
            }
        } else if (tag == FDT_END) {
            break;
        }
    }
    return -1;
}
