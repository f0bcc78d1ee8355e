// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * make_symbolizer_seeds OUTDIR: the seeds of fuzz_symbolizer, one per CPython
 * 3.8-3.13, each a memory image laid out with that version's frame_layout row
 * as the interpreter lays its objects out: a code object whose co_filename is
 * an ASCII str, co_name a two-byte str, co_qualname (3.11+) a four-byte str,
 * its line table a bytes object in the version's format, and a type object
 * with its tp_name. The queries name the code object with and without its tag,
 * before the first instruction, through NULL and through an object that is
 * not a code object; the poke changes co_firstlineno between the rounds, as a
 * code object freed and another allocated at its address would.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "frame_layout.h"
#include "fuzz_symbolizer.h"
#include "line_table.h"
#include "pyobjlife.h"

/* where each object goes in the image */
enum {
	CODE_AT = 0x000,
	FILENAME_AT = 0x200,
	NAME_AT = 0x300,
	QUALNAME_AT = 0x400,
	LINETABLE_AT = 0x500,
	TYPE_AT = 0x600,
	TP_NAME_AT = 0x700,
	IMAGE_LEN = 0x780,
};

/* PyASCIIObject.state: kind in bits 2-4, compact bit 5, ascii bit 6 */
#define STATE(kind, ascii) ((kind) << 2 | 1u << 5 | (ascii) << 6)

static uint8_t image[IMAGE_LEN];

static void put(uint32_t at, const void *v, size_t len)
{
	memcpy(image + at, v, len);
}

static void put_u64(uint32_t at, uint64_t v)
{
	put(at, &v, sizeof(v));
}

static void put_u32(uint32_t at, uint32_t v)
{
	put(at, &v, sizeof(v));
}

/* A compact str of `len` code points of `kind` bytes each. */
static void put_str(const struct frame_layout *l, uint32_t at, const void *chars, int64_t len,
		    unsigned kind, bool ascii)
{
	put(at + l->unicode_length_off, &len, sizeof(len));
	put_u32(at + l->unicode_state_off, STATE(kind, ascii));
	put(at + (ascii ? l->ascii_data_off : l->compact_data_off), chars, (size_t)len * kind);
}

static void put_line_table(const struct frame_layout *l, enum line_table_format f)
{
	static const uint8_t lnotab[] = { 2, 1, 4, 1, 6, 2 };
	static const uint8_t linetable_310[] = { 2, 0, 4, 1, 6, 2, 4, 0x80, 2, 1 };
	static const uint8_t locations[] = { 0xE9, 0x02, 0xD0, 0x05, 0x10, 0xD9,
					     0x01, 0x09, 0xF8, 0xE8, 0x41, 0x01 };
	const uint8_t *tab = f == LINE_TABLE_LNOTAB	     ? lnotab
			     : f == LINE_TABLE_LINETABLE_310 ? linetable_310
							     : locations;
	int64_t len = f == LINE_TABLE_LNOTAB	      ? sizeof(lnotab)
		      : f == LINE_TABLE_LINETABLE_310 ? sizeof(linetable_310)
						      : sizeof(locations);

	put(LINETABLE_AT + l->bytes_size_off, &len, sizeof(len));
	put(LINETABLE_AT + l->bytes_data_off, tab, (size_t)len);
}

static void lay_out(const struct frame_layout *l, struct fuzz_header *h)
{
	static const char filename[] = "/usr/lib/python3/json/decoder.py";
	static const uint16_t name[] = { 'r', 'a', 'w', '_', 0x540d, 0x524d }; /* raw_名前 */
	static const uint32_t qualname[] = { 'J', 'S', 'O', 'N', '.', 0x1f600 };
	static const char tp_name[] = "collections.OrderedDict";

	memset(image, 0, sizeof(image));
	put_str(l, FILENAME_AT, filename, sizeof(filename) - 1, 1, true);
	put_str(l, NAME_AT, name, sizeof(name) / sizeof(name[0]), 2, false);
	put_str(l, QUALNAME_AT, qualname, sizeof(qualname) / sizeof(qualname[0]), 4, false);
	put_line_table(l, line_table_format_for(l->minor));
	put_u64(CODE_AT + l->code_filename_off, IMAGE_BASE + FILENAME_AT);
	put_u64(CODE_AT + l->code_name_off, IMAGE_BASE + NAME_AT);
	if (l->code_qualname_off != FRAME_LAYOUT_NONE)
		put_u64(CODE_AT + l->code_qualname_off, IMAGE_BASE + QUALNAME_AT);
	put_u64(CODE_AT + l->code_linetable_off, IMAGE_BASE + LINETABLE_AT);
	put_u32(CODE_AT + l->code_firstlineno_off, 42);
	if (l->code_firsttraceable_off != FRAME_LAYOUT_NONE)
		put_u32(CODE_AT + l->code_firsttraceable_off, 1);
	put_u64(TYPE_AT + l->tp_name_off, IMAGE_BASE + TP_NAME_AT);
	put(TP_NAME_AT, tp_name, sizeof(tp_name));

	memset(h, 0, sizeof(*h));
	h->minor = (uint8_t)(l->minor - 8);
	h->poke_off = CODE_AT + l->code_firstlineno_off;
	h->poke_val = 0x01;
	h->q[0] = (struct fuzz_query){ CODE_AT, 4,
				       pyobjlife_code_tag(IMAGE_BASE + FILENAME_AT,
							  IMAGE_BASE + NAME_AT,
							  IMAGE_BASE + LINETABLE_AT),
				       TYPE_AT };
	h->q[1] = (struct fuzz_query){ CODE_AT, 0xffffffffu, 0, NULL_OBJ };
	h->q[2] = (struct fuzz_query){ NULL_OBJ, 0, 0, FILENAME_AT };
	h->q[3] = (struct fuzz_query){ FILENAME_AT, 8, 1, TYPE_AT };
}

static int write_seed(const char *dir, int minor, const struct fuzz_header *h)
{
	char path[4096];
	FILE *f;
	int bad;

	snprintf(path, sizeof(path), "%s/image-3.%d", dir, minor);
	f = fopen(path, "we");
	if (!f) {
		perror(path);
		return -errno;
	}
	bad = fwrite(h, sizeof(*h), 1, f) != 1 || fwrite(image, sizeof(image), 1, f) != 1;
	if (fclose(f) || bad) {
		fprintf(stderr, "make_symbolizer_seeds: cannot write %s\n", path);
		return -EIO;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fuzz_header h;

	if (argc != 2) {
		fprintf(stderr, "usage: make_symbolizer_seeds OUTDIR\n");
		return 64;
	}
	for (int minor = 8; minor <= 13; minor++) {
		const struct frame_layout *l = frame_layout_lookup(3, minor);

		if (!l) {
			fprintf(stderr, "make_symbolizer_seeds: no frame layout for 3.%d\n", minor);
			return 1;
		}
		lay_out(l, &h);
		if (write_seed(argv[1], minor, &h))
			return 1;
	}
	return 0;
}
