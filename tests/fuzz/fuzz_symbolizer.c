// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * libFuzzer target: the symbolizer (user/code_symbolizer.c) reading code
 * objects, their str and bytes fields and type objects out of a target whose
 * memory is corrupt. The symbolizer reads through its mem_read_fn seam; here
 * that reads a fake address space instead of process_vm_readv.
 *
 * Input (little-endian), see struct fuzz_header in fuzz_symbolizer.h:
 *   minor selector (3.(8 + b % 6): which frame_layout row), a poke (offset and
 *   byte XORed into the image between two rounds: the object at an address
 *   changes, as when a code object is freed and its address reused), then
 *   QUERIES x (code object, instruction offset, code tag, type object), the
 *   objects given as offsets into the image (0xffffffff: a NULL pointer);
 *   the rest of the input is the memory image, mapped at IMAGE_BASE. Pointers
 *   inside the image are absolute addresses; reads outside it fail (-EFAULT).
 * Each round resolves every query; the second round starts a new epoch, so
 * every cached entry is checked against the poked image. What comes back must
 * be what the recording can store: names that are valid UTF-8 (JSON writers
 * drop a string that is not), lines >= -1; and it must describe the object in
 * memory now: its co_firstlineno, and the tag of its co_filename and co_name
 * when the query gives one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "code_symbolizer.h"
#include "frame_layout.h"
#include "fuzz_symbolizer.h"

struct image {
	uint8_t *bytes;
	size_t len;
};

static int read_image(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct image *img = ctx;

	if (addr < IMAGE_BASE || addr - IMAGE_BASE > img->len ||
	    len > img->len - (addr - IMAGE_BASE))
		return -EFAULT;
	memcpy(buf, img->bytes + (addr - IMAGE_BASE), len);
	return 0;
}

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_symbolizer: %s: %s\n", what, detail);
	abort();
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		uint32_t cp;
		int n;

		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0)
			n = 1, cp = *s & 0x1f;
		else if ((*s & 0xf0) == 0xe0)
			n = 2, cp = *s & 0x0f;
		else if ((*s & 0xf8) == 0xf0)
			n = 3, cp = *s & 0x07;
		else
			return false;
		for (int i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

static void check_name(const char *what, const char *name)
{
	if (!name)
		fail(what, "NULL");
	if (!valid_utf8(name))
		fail(what, "not valid UTF-8");
}

static uint64_t address_of(uint32_t off)
{
	return off == NULL_OBJ ? 0 : IMAGE_BASE + off;
}

/*
 * What the code object's header says in the image as it is now: the round's
 * answer must come from it, not from a cache entry built before the poke.
 */
static void check_current(struct symbolizer *s, const struct image *img, uint64_t code,
			  uint32_t tag, const struct code_location *loc)
{
	const struct frame_layout *l = s->layout;
	uint64_t filename, name, linetable;
	int32_t firstlineno;

	if (read_image((void *)img, code + l->code_firstlineno_off, &firstlineno,
		       sizeof(firstlineno)) ||
	    read_image((void *)img, code + l->code_filename_off, &filename, sizeof(filename)) ||
	    read_image((void *)img, code + l->code_name_off, &name, sizeof(name)) ||
	    read_image((void *)img, code + l->code_linetable_off, &linetable, sizeof(linetable)))
		fail("code object", "named, but its header is not in the image");
	if (loc->firstlineno != firstlineno)
		fail("firstlineno", "not the one in memory now (a stale cache entry)");
	if (tag && pyobjlife_code_tag(filename, name, linetable) != tag)
		fail("tag", "named although the object in memory is not the one recorded");
}

static void resolve(struct symbolizer *s, const struct image *img, const struct fuzz_query *q)
{
	struct code_location loc;
	const char *type;

	if (!symbolizer_code(s, address_of(q->code), q->instr, q->tag, &loc)) {
		check_name("file", loc.file);
		check_name("function", loc.function);
		if (loc.line < -1)
			fail("line", "below -1");
		check_current(s, img, address_of(q->code), q->tag, &loc);
	}
	type = symbolizer_type(s, address_of(q->type));
	if (type)
		check_name("type", type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct frame_layout *layout;
	struct fuzz_header h;
	struct symbolizer s;
	struct image img;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	layout = frame_layout_lookup(3, 8 + h.minor % 6);
	if (!layout)
		fail("no frame layout", "3.8 to 3.13 must all have one");
	/* an exact-size copy: the poke writes to it, and ASan bounds it */
	img.len = size - sizeof(h);
	img.bytes = malloc(img.len ? img.len : 1);
	if (!img.bytes)
		return 0;
	memcpy(img.bytes, data + sizeof(h), img.len);
	symbolizer_init(&s, layout, layout->minor, read_image, &img);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < QUERIES; i++)
			resolve(&s, &img, &h.q[i]);
		symbolizer_next_epoch(&s);
		if (img.len)
			img.bytes[h.poke_off % img.len] ^= h.poke_val;
	}
	symbolizer_free(&s);
	free(img.bytes);
	return 0;
}
