// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Line tables: hand-built tables of each format with known answers, then
 * random and truncated tables, each copied to a buffer of exactly its length
 * so that a read past it is a real out-of-bounds read (under ASan, a crash).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "line_table.h"

#define FUZZ_ROUNDS  20000
#define FUZZ_MAX_LEN 64

struct expect {
	uint32_t offset;
	int line;
};

/* Look up through an exact-size heap copy of the table. */
static int lookup(enum line_table_format f, const uint8_t *tab, size_t len, int first, uint32_t off)
{
	uint8_t *copy = malloc(len ? len : 1);
	int line;

	assert_non_null(copy);
	if (len)
		memcpy(copy, tab, len);
	line = line_table_lookup(f, len ? copy : NULL, len, first, off);
	free(copy);
	return line;
}

static void check_all(enum line_table_format f, const uint8_t *tab, size_t len, int first,
		      const struct expect *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int got = lookup(f, tab, len, first, e[i].offset);

		if (got != e[i].line)
			fail_msg("format %d offset %u: expected %d, got %d", f, e[i].offset,
				 e[i].line, got);
	}
}

static void test_format_for_minor(void **state)
{
	(void)state;
	assert_int_equal(line_table_format_for(7), 0);
	assert_int_equal(line_table_format_for(8), LINE_TABLE_LNOTAB);
	assert_int_equal(line_table_format_for(9), LINE_TABLE_LNOTAB);
	assert_int_equal(line_table_format_for(10), LINE_TABLE_LINETABLE_310);
	assert_int_equal(line_table_format_for(11), LINE_TABLE_LOCATIONS);
	assert_int_equal(line_table_format_for(13), LINE_TABLE_LOCATIONS);
	assert_int_equal(line_table_format_for(14), 0);
	assert_int_equal(line_table_format_for(-1), 0);
}

static void test_lnotab(void **state)
{
	/* line 11 from 0, 13 from 6, 12 from 10 (negative delta), and the last line ever after */
	static const uint8_t tab[] = { 0, 1, 6, 2, 4, 0xff };
	static const struct expect e[] = {
		{ 0, 11 },  { 4, 11 },	  { 6, 13 },	      { 8, 13 },
		{ 10, 12 }, { 1000, 12 }, { UINT32_MAX, 10 },
	};

	(void)state;
	check_all(LINE_TABLE_LNOTAB, tab, sizeof(tab), 10, e, sizeof(e) / sizeof(e[0]));
	/* a one-line code object has an empty co_lnotab */
	assert_int_equal(lookup(LINE_TABLE_LNOTAB, tab, 0, 7, 40), 7);
	/* an odd last byte is no pair */
	assert_int_equal(lookup(LINE_TABLE_LNOTAB, tab, 3, 10, 100), 11);
}

static void test_linetable_310(void **state)
{
	/* 6 bytes +1, 4 bytes without a line, an empty range +100 (split: 127 -27), 2 bytes +2 */
	static const uint8_t tab[] = { 6, 1, 4, 0x80, 0, 127, 0, (uint8_t)-27, 2, 2 };
	static const struct expect e[] = {
		{ 0, 11 },	    { 5, 11 },
		{ 6, -1 },	    { 8, -1 },
		{ 10, 113 },	    { 11, 113 },
		{ 12, -1 },	    { 0x7fffffff, -1 },
		{ UINT32_MAX, 10 }, { UINT32_MAX - 1, 10 },
	};

	(void)state;
	check_all(LINE_TABLE_LINETABLE_310, tab, sizeof(tab), 10, e, sizeof(e) / sizeof(e[0]));
	assert_int_equal(lookup(LINE_TABLE_LINETABLE_310, tab, 0, 10, 0), -1);
}

static void test_locations(void **state)
{
	static const uint8_t tab[] = {
		0xe8, 0x04,			    /* no columns, 1 unit, +2 */
		0xf9,				    /* no location, 2 units */
		0xd8, 0x01, 0x05,		    /* one line +1, 1 unit, columns 1..5 */
		0x82, 0x11,			    /* short form, 3 units, same line */
		0xf0, 0x07, 0x00, 0x01, 0x46, 0x01, /* long, 1 unit, -3, end +0, cols 0..69 */
		0xe8, 0x48, 0x03, /* no columns, 1 unit, +100 as a two-group varint */
	};
	static const struct expect e[] = {
		{ 0, 7 },  { 1, 7 },  { 2, -1 },   { 5, -1 },  { 6, 8 },	  { 8, 8 },
		{ 13, 8 }, { 14, 5 }, { 16, 105 }, { 18, -1 }, { UINT32_MAX, 5 },
	};

	(void)state;
	check_all(LINE_TABLE_LOCATIONS, tab, sizeof(tab), 5, e, sizeof(e) / sizeof(e[0]));
}

static void test_malformed_tables_have_no_line(void **state)
{
	/* the first entry lacks bit 7 */
	static const uint8_t no_entry[] = { 0x68, 0x04 };
	/* the varint says another group follows, and the table ends */
	static const uint8_t cut_varint[] = { 0xe8, 0x44 };
	/* +2^30 twice overflows an int */
	static const uint8_t huge[] = { 0xe8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x02,
					0xe8, 0x40, 0x40, 0x40, 0x40, 0x40, 0x02 };

	(void)state;
	assert_int_equal(lookup(LINE_TABLE_LOCATIONS, no_entry, sizeof(no_entry), 1, 0), -1);
	assert_int_equal(lookup(LINE_TABLE_LOCATIONS, cut_varint, sizeof(cut_varint), 1, 0), -1);
	assert_int_equal(lookup(LINE_TABLE_LOCATIONS, huge, sizeof(huge), 1, 0), 1 + (1 << 30));
	assert_int_equal(lookup(LINE_TABLE_LOCATIONS, huge, sizeof(huge), 1, 2), -1);
	/* a first line beyond int's end, or negative lines, are no lines */
	assert_int_equal(lookup(LINE_TABLE_LNOTAB, (const uint8_t[]){ 0, 1 }, 2, INT_MAX, 0), -1);
	assert_int_equal(lookup(LINE_TABLE_LNOTAB, (const uint8_t[]){ 0, 0xff }, 2, 0, 0), -1);
	assert_int_equal(lookup(0, huge, sizeof(huge), 1, 0), -1);
	assert_int_equal(lookup(99, huge, sizeof(huge), 1, UINT32_MAX), -1);
}

/* xorshift64: the same tables on every run, so a failure reproduces */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint32_t random_offset(uint64_t *s)
{
	switch (next_random(s) % 4) {
	case 0:
		return UINT32_MAX;
	case 1:
		return (uint32_t)next_random(s);
	default:
		return (uint32_t)(next_random(s) % (4 * FUZZ_MAX_LEN));
	}
}

static void test_random_tables(void **state)
{
	static const int firsts[] = { 0, 1, 1000, INT_MAX, INT_MIN, -5 };
	uint64_t s = 0x9e3779b97f4a7c15ull;
	uint8_t tab[FUZZ_MAX_LEN];

	(void)state;
	for (int round = 0; round < FUZZ_ROUNDS; round++) {
		size_t len = next_random(&s) % (FUZZ_MAX_LEN + 1);
		int first = firsts[next_random(&s) % (sizeof(firsts) / sizeof(firsts[0]))];

		for (size_t i = 0; i < len; i++)
			tab[i] = (uint8_t)next_random(&s);
		for (int f = 0; f <= LINE_TABLE_LOCATIONS + 1; f++)
			assert_true(lookup(f, tab, len, first, random_offset(&s)) >= -1);
	}
}

/*
 * Every prefix of a table decodes within bounds, and the ranges a 3.10+ prefix
 * still holds whole give the lines the whole table gives.
 */
static void test_truncated_tables(void **state)
{
	static const uint8_t loc[] = { 0xe8, 0x04, 0xf9, 0xd8, 0x01, 0x05, 0x82, 0x11, 0xf0,
				       0x07, 0x00, 0x01, 0x46, 0x01, 0xe8, 0x48, 0x03 };
	static const uint8_t l310[] = { 6, 1, 4, 0x80, 0, 127, 0, (uint8_t)-27, 2, 2 };
	static const struct {
		enum line_table_format f;
		const uint8_t *tab;
		size_t len;
	} tables[] = {
		{ LINE_TABLE_LOCATIONS, loc, sizeof(loc) },
		{ LINE_TABLE_LINETABLE_310, l310, sizeof(l310) },
	};

	(void)state;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (size_t cut = 0; cut <= tables[t].len; cut++) {
			for (uint32_t off = 0; off < 40; off++) {
				int part = lookup(tables[t].f, tables[t].tab, cut, 5, off);
				int whole =
					lookup(tables[t].f, tables[t].tab, tables[t].len, 5, off);

				if (part != -1)
					assert_int_equal(part, whole);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_for_minor),
		cmocka_unit_test(test_lnotab),
		cmocka_unit_test(test_linetable_310),
		cmocka_unit_test(test_locations),
		cmocka_unit_test(test_malformed_tables_have_no_line),
		cmocka_unit_test(test_random_tables),
		cmocka_unit_test(test_truncated_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
