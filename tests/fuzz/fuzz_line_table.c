// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * libFuzzer target: the line-table decoders (user/line_table.c) of every
 * format, fed the bytes a target's co_lnotab or co_linetable could hold.
 *
 * Input: one byte choosing the CPython minor version (3.(8 + b % 6): 3.8/3.9
 * co_lnotab, 3.10 co_linetable, 3.11-3.13 location tables), firstlineno as a
 * little-endian int32, then the table. The table is the tail of libFuzzer's
 * buffer, which ends exactly where the table does: a read past it is an ASan
 * report. Every instruction offset the table can reach is looked up (a spread
 * of them for long tables), with odd, negative and huge offsets, and the
 * answers are checked against what the header promises:
 *   - a line is >= 0, or -1 for none;
 *   - a negative offset gives firstlineno (or -1 when that is negative);
 *   - the tables of 3.10+ are read forward only: cutting one where an entry
 *     starts never changes a line the shorter table still gives.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "line_table.h"

#define HEADER_LEN     5   /* minor selector + firstlineno */
#define MAX_LOOKUPS    256 /* offsets per input: the decoders walk from the start each time */
#define UNIT	       2   /* bytes per code unit, the offsets' granularity */
#define MAX_ENTRY_SPAN 16  /* most bytes of bytecode one table byte can cover (3.11+: 8 units) */
#define LNOTAB_SPAN    255 /* co_lnotab and 3.10: one u8 byte delta per two table bytes */

static void fail(const char *what, int minor, int firstlineno, uint32_t offset, int got, int want)
{
	fprintf(stderr, "fuzz_line_table: %s: 3.%d firstlineno %d offset %u: got %d, expected %d\n",
		what, minor, firstlineno, offset, got, want);
	abort();
}

/* The bytecode length the table could describe at most. */
static uint64_t reach_of(enum line_table_format f, size_t len)
{
	if (f == LINE_TABLE_LOCATIONS)
		return (uint64_t)len * MAX_ENTRY_SPAN;
	return (uint64_t)(len / 2) * LNOTAB_SPAN;
}

/* The longest prefix of the table ending where an entry starts, shorter than the table. */
static size_t entry_boundary(enum line_table_format f, const uint8_t *tab, size_t len)
{
	size_t cut = len / 2;

	if (f == LINE_TABLE_LINETABLE_310)
		return cut & ~(size_t)1; /* (length, delta) pairs */
	while (cut > 0 && !(tab[cut] & 0x80))
		cut--; /* a 3.11+ entry starts with bit 7 set, its payload never has it */
	return cut;
}

static void check_offset(enum line_table_format f, int minor, const uint8_t *tab, size_t len,
			 size_t cut, int firstlineno, uint32_t offset)
{
	int line = line_table_lookup(f, tab, len, firstlineno, offset);

	if (line < -1)
		fail("line below -1", minor, firstlineno, offset, line, -1);
	if ((int32_t)offset < 0 && line != (firstlineno >= 0 ? firstlineno : -1))
		fail("negative offset", minor, firstlineno, offset, line, firstlineno);
	if (f != LINE_TABLE_LNOTAB && cut) {
		int prefix = line_table_lookup(f, tab, cut, firstlineno, offset);

		if (prefix != -1 && prefix != line)
			fail("a later entry changed an earlier line", minor, firstlineno, offset,
			     line, prefix);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t odd[] = { 1, 3, 0x7fffffff, 0x80000000u, 0xfffffffeu, 0xffffffffu };
	const uint8_t *tab = data + HEADER_LEN;
	enum line_table_format f;
	size_t len, cut;
	uint64_t reach, step;
	int32_t firstlineno;
	int minor;

	if (size < HEADER_LEN)
		return 0;
	minor = 8 + data[0] % 6;
	memcpy(&firstlineno, data + 1, sizeof(firstlineno));
	len = size - HEADER_LEN;
	f = line_table_format_for(minor);
	cut = entry_boundary(f, tab, len);
	reach = reach_of(f, len) + UNIT;
	step = reach / MAX_LOOKUPS > UNIT ? (reach / MAX_LOOKUPS) & ~(uint64_t)1 : UNIT;
	for (uint64_t off = 0; off <= reach && off <= UINT32_MAX; off += step)
		check_offset(f, minor, tab, len, cut, firstlineno, (uint32_t)off);
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		check_offset(f, minor, tab, len, cut, firstlineno, odd[i]);
	/* no table at all: what a code object whose table could not be read gives */
	check_offset(f, minor, NULL, len, 0, firstlineno, 0);
	return 0;
}
