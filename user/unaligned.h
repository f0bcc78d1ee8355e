/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* Native-endian loads from byte buffers copied out of a target or an ELF image. */
#ifndef PYOBJLIFE_UNALIGNED_H
#define PYOBJLIFE_UNALIGNED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t load_u64(const void *buf, size_t off)
{
	uint64_t v;

	memcpy(&v, (const unsigned char *)buf + off, sizeof(v));
	return v;
}

static inline uint32_t load_u32(const void *buf, size_t off)
{
	uint32_t v;

	memcpy(&v, (const unsigned char *)buf + off, sizeof(v));
	return v;
}

#endif
