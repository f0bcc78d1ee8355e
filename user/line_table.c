// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Line tables, after CPython's Objects/lnotab_notes.txt (3.8-3.10) and
 * Objects/locations.md (3.11+). Every decoder walks forward from the start,
 * bounds each read by len, and keeps the running line in 64 bits so that no
 * byte sequence can overflow it; a line outside int makes the table invalid,
 * as CPython itself keeps it in an int.
 */
#include <limits.h>
#include <stdbool.h>
#include "line_table.h"

#define NO_LINE (-1)

/* 3.10: a line delta of -128 marks a range without a line */
#define LINETABLE_310_NO_LINE (-128)

/* 3.11+ entry header: 1CCCCLLL, code C, length L + 1 code units */
#define LOC_ENTRY_START 0x80
#define LOC_CODE(b)	(((b) >> 3) & 15)
#define LOC_UNITS(b)	(((b)&7) + 1)
#define LOC_CODE_UNIT	2 /* sizeof(_Py_CODEUNIT) */

enum loc_code {
	LOC_ONE_LINE0 = 10, /* 10..12: line delta 0..2, start and end column bytes */
	LOC_ONE_LINE2 = 12,
	LOC_NO_COLUMNS = 13, /* svarint line delta */
	LOC_LONG = 14,	     /* svarint line delta, then end line and columns */
	LOC_NONE = 15,	     /* no location at all */
};

/* varint groups: 6 value bits, 0x40 = another group follows */
#define VARINT_BITS	6
#define VARINT_MASK	0x3f
#define VARINT_CONTINUE 0x40

enum line_table_format line_table_format_for(int minor)
{
	switch (minor) {
	case 8:
	case 9:
		return LINE_TABLE_LNOTAB;
	case 10:
		return LINE_TABLE_LINETABLE_310;
	case 11:
	case 12:
	case 13:
		return LINE_TABLE_LOCATIONS;
	default:
		/* newer tables may keep the 3.11 shape, but nobody checked them */
		return LINE_TABLE_UNKNOWN;
	}
}

static bool fits_int(int64_t line)
{
	return line >= INT_MIN && line <= INT_MAX;
}

/* The value returned for a decoded line: negative lines do not exist. */
static int line_or_none(int64_t line)
{
	return line >= 0 && line <= INT_MAX ? (int)line : NO_LINE;
}

/*
 * 3.8/3.9 co_lnotab: (u8 byte delta, s8 line delta) pairs. A pair's line delta
 * applies from the address its byte delta reaches; an odd last byte is not a
 * pair and is ignored, as CPython counts len / 2 pairs.
 */
static int lnotab_lookup(const uint8_t *tab, size_t len, int firstlineno, uint32_t offset)
{
	int64_t line = firstlineno;
	uint64_t addr = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += tab[i];
		if (addr > offset)
			break;
		line += (int8_t)tab[i + 1];
		if (!fits_int(line))
			return NO_LINE;
	}
	return line_or_none(line);
}

/*
 * 3.10 co_linetable: (u8 range length, s8 line delta) pairs; ranges follow one
 * another from offset 0. Empty ranges carry line deltas too large for one s8.
 * A -128 delta leaves the running line alone and the range without a line.
 */
static int linetable_310_lookup(const uint8_t *tab, size_t len, int firstlineno, uint32_t offset)
{
	int64_t line = firstlineno;
	uint64_t end = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		int delta = (int8_t)tab[i + 1];

		end += tab[i];
		if (delta != LINETABLE_310_NO_LINE)
			line += delta;
		if (!fits_int(line))
			return NO_LINE;
		/* earlier ranges ended at or before offset, so this one starts there or before */
		if (offset < end)
			return delta == LINETABLE_310_NO_LINE ? NO_LINE : line_or_none(line);
	}
	return NO_LINE;
}

/*
 * Unsigned varint at tab[pos]. Bits past the 32nd are dropped (CPython's own
 * reader shifts an unsigned int); false when the table ends inside it.
 */
static bool read_varint(const uint8_t *tab, size_t len, size_t pos, uint32_t *val)
{
	unsigned shift = 0;
	uint32_t v = 0;

	for (; pos < len; pos++) {
		uint8_t b = tab[pos];

		if (shift < 32)
			v |= (uint32_t)(b & VARINT_MASK) << shift;
		if (!(b & VARINT_CONTINUE)) {
			*val = v;
			return true;
		}
		if (shift < 32)
			shift += VARINT_BITS;
	}
	return false;
}

/* Signed varint: the low bit is the sign, the rest the magnitude. */
static bool read_svarint(const uint8_t *tab, size_t len, size_t pos, int64_t *val)
{
	uint32_t u;

	if (!read_varint(tab, len, pos, &u))
		return false;
	*val = u & 1 ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
	return true;
}

/* Line delta of the 3.11+ entry whose header byte is tab[pos]. */
static bool loc_line_delta(const uint8_t *tab, size_t len, size_t pos, int64_t *delta)
{
	int code = LOC_CODE(tab[pos]);

	if (code == LOC_NO_COLUMNS || code == LOC_LONG)
		return read_svarint(tab, len, pos + 1, delta);
	if (code >= LOC_ONE_LINE0 && code <= LOC_ONE_LINE2)
		*delta = code - LOC_ONE_LINE0;
	else
		*delta = 0; /* short forms stay on the line; LOC_NONE has no line to move */
	return true;
}

/*
 * The next entry starts at the next byte with bit 7 set: payload bytes never
 * have it, and skipping this way (as CPython does) spares parsing columns.
 */
static size_t loc_next_entry(const uint8_t *tab, size_t len, size_t pos)
{
	for (pos++; pos < len; pos++) {
		if (tab[pos] & LOC_ENTRY_START)
			break;
	}
	return pos;
}

/* 3.11+ location table: one entry per run of 1-8 code units, from offset 0. */
static int locations_lookup(const uint8_t *tab, size_t len, int firstlineno, uint32_t offset)
{
	int64_t line = firstlineno;
	uint64_t end = 0;

	for (size_t pos = 0; pos < len; pos = loc_next_entry(tab, len, pos)) {
		uint8_t head = tab[pos];
		int64_t delta;

		/* only the first byte can lack it; then this is not a location table */
		if (!(head & LOC_ENTRY_START))
			return NO_LINE;
		if (!loc_line_delta(tab, len, pos, &delta))
			return NO_LINE;
		line += delta;
		if (!fits_int(line))
			return NO_LINE;
		end += (uint64_t)LOC_UNITS(head) * LOC_CODE_UNIT;
		if (offset < end)
			return LOC_CODE(head) == LOC_NONE ? NO_LINE : line_or_none(line);
	}
	return NO_LINE;
}

int line_table_lookup(enum line_table_format f, const uint8_t *tab, size_t len, int firstlineno,
		      uint32_t offset)
{
	if (f < LINE_TABLE_LNOTAB || f > LINE_TABLE_LOCATIONS)
		return NO_LINE;
	/* before the first instruction: the frame reports its first line, like PyCode_Addr2Line */
	if ((int32_t)offset < 0)
		return line_or_none(firstlineno);
	if (!tab)
		len = 0;
	switch (f) {
	case LINE_TABLE_LNOTAB:
		return lnotab_lookup(tab, len, firstlineno, offset);
	case LINE_TABLE_LINETABLE_310:
		return linetable_310_lookup(tab, len, firstlineno, offset);
	case LINE_TABLE_LOCATIONS:
		return locations_lookup(tab, len, firstlineno, offset);
	default:
		return NO_LINE;
	}
}
