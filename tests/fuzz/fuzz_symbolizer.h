/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The input of fuzz_symbolizer, shared with make_symbolizer_seeds: a header,
 * then a memory image mapped at IMAGE_BASE (little-endian throughout).
 */
#ifndef PYOBJLIFE_FUZZ_SYMBOLIZER_H
#define PYOBJLIFE_FUZZ_SYMBOLIZER_H

#include <stdint.h>

#define IMAGE_BASE 0x7f5a00000000ull
#define QUERIES	   4
#define NULL_OBJ   0xffffffffu /* an object offset that stands for a NULL pointer */

/* One frame to name: objects as offsets into the image. */
struct fuzz_query {
	uint32_t code, instr, tag, type;
};

struct fuzz_header {
	uint8_t minor; /* 3.(8 + minor % 6): the frame_layout row */
	uint8_t poke_val;
	uint8_t pad[2];
	uint32_t poke_off; /* image[poke_off % len] ^= poke_val between the two rounds */
	struct fuzz_query q[QUERIES];
};

#endif
