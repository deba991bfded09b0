/*
 * Minimal read-only flattened device tree parser
 *
 * Copyright (c) 2026 The virtio-msg QEMU fork authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef GUEST_FDT_H
#define GUEST_FDT_H

#include "guest.h"

/* Check the blob's header; everything else needs a valid blob. */
bool fdt_init(const void *blob);

/*
 * Node handles are offsets in the structure block; negative means "not
 * found".  A path component without '@' matches a node name with any unit
 * address ("/memory" finds "/memory@40000000").
 */
int fdt_path(const char *path);
int fdt_find_compatible(const char *compatible);

/* A property of the node itself (not of its children), or NULL */
const uint8_t *fdt_prop(int node, const char *name, uint32_t *len);

/* A property as a big-endian number of 1 or 2 cells; def when absent */
uint32_t fdt_prop_u32(int node, const char *name, uint32_t def);

/* Read a big-endian number of @cells 32-bit cells */
uint64_t fdt_cells(const uint8_t *p, unsigned cells);

#endif
