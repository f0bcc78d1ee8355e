// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * check_line_tables [DUMP]: read dump_code_lines.py's output (a file, or stdin
 * when DUMP is absent or "-") and check every (offset, line) it holds against
 * line_table_lookup. Prints "PASS: N code objects, M offsets", or "FAIL: ..."
 * with the first mismatches and exits 1.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "line_table.h"

#define MAX_SHOWN 10
#define HEX_SHOWN 80 /* a mismatch shows this much of its table */

struct totals {
	unsigned long codes, offsets, mismatches;
	unsigned long lineno; /* of the dump, for messages */
};

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode HEX ("-" = empty) into a buffer of exactly its size, so that any
 * read past the table is a real out-of-bounds read for sanitizers. */
static int decode_hex(const char *hex, uint8_t **tab, size_t *len)
{
	size_t n = strcmp(hex, "-") ? strlen(hex) : 0;

	if (n % 2)
		return -EINVAL;
	*len = n / 2;
	*tab = malloc(*len ? *len : 1);
	if (!*tab)
		return -ENOMEM;
	for (size_t i = 0; i < *len; i++) {
		int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(*tab);
			return -EINVAL;
		}
		(*tab)[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static bool parse_long(const char *s, char **end, long *v)
{
	errno = 0;
	*v = strtol(s, end, 10);
	return *end != s && !errno;
}

static void report_mismatch(struct totals *t, int minor, int firstlineno, const char *hex,
			    long offset, long want, int got)
{
	if (++t->mismatches > MAX_SHOWN)
		return;
	printf("mismatch: dump line %lu, 3.%d firstlineno %d, offset %ld: expected %ld, got %d"
	       " (table %.*s%s)\n",
	       t->lineno, minor, firstlineno, offset, want, got, HEX_SHOWN, hex,
	       strlen(hex) > HEX_SHOWN ? "..." : "");
}

/* Check the "offset:line" pairs of one dump line against the decoded table. */
static int check_pairs(struct totals *t, char *save, int minor, int firstlineno, const char *hex,
		       const uint8_t *tab, size_t len)
{
	enum line_table_format f = line_table_format_for(minor);
	char *tok, *end;

	while ((tok = strtok_r(NULL, " \n", &save))) {
		long offset, want;
		int got;

		if (!parse_long(tok, &end, &offset) || *end != ':' ||
		    !parse_long(end + 1, &end, &want) || *end)
			return -EINVAL;
		/* -1 is f_lasti before the first instruction, 0xffffffff as the target holds it */
		got = line_table_lookup(f, tab, len, firstlineno, (uint32_t)offset);
		t->offsets++;
		if (got != want)
			report_mismatch(t, minor, firstlineno, hex, offset, want, got);
	}
	return 0;
}

/* One dump line: "minor firstlineno HEX offset:line ...". */
static int check_line(struct totals *t, char *line)
{
	char *save, *end, *tok[3];
	long minor, first;
	uint8_t *tab;
	size_t len;
	int err;

	tok[0] = strtok_r(line, " \n", &save);
	tok[1] = strtok_r(NULL, " \n", &save);
	tok[2] = strtok_r(NULL, " \n", &save);
	if (!tok[2] || !parse_long(tok[0], &end, &minor) || *end ||
	    !parse_long(tok[1], &end, &first) || *end)
		return -EINVAL;
	if (!line_table_format_for((int)minor)) {
		printf("FAIL: dump line %lu: no line table format for 3.%ld\n", t->lineno, minor);
		exit(1);
	}
	err = decode_hex(tok[2], &tab, &len);
	if (err)
		return err;
	t->codes++;
	err = check_pairs(t, save, (int)minor, (int)first, tok[2], tab, len);
	free(tab);
	return err;
}

static FILE *open_dump(int argc, char **argv)
{
	FILE *in;

	if (argc < 2 || !strcmp(argv[1], "-"))
		return stdin;
	in = fopen(argv[1], "r");
	if (!in) {
		printf("FAIL: cannot open %s: %s\n", argv[1], strerror(errno));
		exit(1);
	}
	return in;
}

int main(int argc, char **argv)
{
	struct totals t = { 0 };
	FILE *in = open_dump(argc, argv);
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, in) >= 0) {
		t.lineno++;
		if (check_line(&t, line)) {
			printf("FAIL: dump line %lu is malformed\n", t.lineno);
			return 1;
		}
	}
	free(line);
	if (!t.codes) {
		printf("FAIL: the dump holds no code objects\n");
		return 1;
	}
	if (t.mismatches) {
		printf("FAIL: %lu of %lu offsets in %lu code objects disagree with Python\n",
		       t.mismatches, t.offsets, t.codes);
		return 1;
	}
	printf("PASS: %lu code objects, %lu offsets\n", t.codes, t.offsets);
	return 0;
}
