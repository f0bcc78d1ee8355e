// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Naming code objects from what the BPF side copied (EV_CODE_SNAPSHOT): a fake
 * target's memory holds a 3.12 (and a 3.8) code object, its name strings and
 * line table, laid out as the frame layout table says; copies are built from it
 * the way the BPF side builds them, and the symbolizer must name frames from
 * them after the fake target's memory is gone. The expected names and lines are
 * the fixture's own (line = first line + code unit), never the symbolizer's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "code_symbolizer.h"
#include "frame_layout.h"

#define CODE_ADDR     0x7f0000010000ull
#define FILE_ADDR     0x7f0000020000ull
#define NAME_ADDR     0x7f0000030000ull
#define QUALNAME_ADDR 0x7f0000040000ull
#define TABLE_ADDR    0x7f0000050000ull
#define FIRSTLINENO   100
#define UNICODE_STATE 0x64 /* kind 1, compact, ascii */

/* One object of the fake target: `len` bytes at `addr`. */
struct region {
	uint64_t addr;
	uint8_t bytes[40000];
	size_t len;
};

struct fake_target {
	struct region code, file, name, qualname, table;
	bool gone; /* the process exited: nothing is readable */
};

static int read_fake(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake_target *t = ctx;
	struct region *all[] = { &t->code, &t->file, &t->name, &t->qualname, &t->table };

	for (size_t i = 0; !t->gone && i < sizeof(all) / sizeof(all[0]); i++) {
		if (addr >= all[i]->addr && addr + len <= all[i]->addr + all[i]->len) {
			memcpy(buf, all[i]->bytes + (addr - all[i]->addr), len);
			return 0;
		}
	}
	return -EFAULT;
}

static void put_u64(uint8_t *p, uint32_t off, uint64_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void put_u32(uint8_t *p, uint32_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void make_str(const struct frame_layout *l, struct region *r, uint64_t addr, const char *s)
{
	memset(r, 0, sizeof(*r));
	r->addr = addr;
	put_u64(r->bytes, l->unicode_length_off, strlen(s));
	put_u32(r->bytes, l->unicode_state_off, UNICODE_STATE);
	memcpy(r->bytes + l->ascii_data_off, s, strlen(s) + 1);
	r->len = l->ascii_data_off + strlen(s) + 1;
}

/*
 * A line table giving code unit k the line FIRSTLINENO + k, for `units` units:
 * 3.11+ "no column" entries (code 13, one unit, line delta +1), or 3.8
 * co_lnotab pairs (2 bytes of bytecode, +1 line).
 */
static void make_table(const struct frame_layout *l, struct region *r, int minor, size_t units)
{
	uint8_t *data = r->bytes + l->bytes_data_off;
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	r->addr = TABLE_ADDR;
	for (size_t k = 0; k < units; k++) {
		if (minor >= 11) {
			data[n++] = 0x80 | (13 << 3); /* code 13, length 1 */
			data[n++] = k ? 2 : 0;	      /* svarint: +1, or 0 for the first */
		} else if (k) {
			data[n++] = 2; /* 2 bytes of bytecode... */
			data[n++] = 1; /* ...one line further */
		}
	}
	put_u64(r->bytes, l->bytes_size_off, n);
	r->len = l->bytes_data_off + n;
}

static void make_target(struct fake_target *t, const struct frame_layout *l, int minor,
			size_t units)
{
	memset(&t->code, 0, sizeof(t->code));
	t->code.addr = CODE_ADDR;
	t->code.len = 256;
	put_u64(t->code.bytes, l->code_filename_off, FILE_ADDR);
	put_u64(t->code.bytes, l->code_name_off, NAME_ADDR);
	if (l->code_qualname_off != FRAME_LAYOUT_NONE)
		put_u64(t->code.bytes, l->code_qualname_off, QUALNAME_ADDR);
	put_u64(t->code.bytes, l->code_linetable_off, TABLE_ADDR);
	put_u32(t->code.bytes, l->code_firstlineno_off, FIRSTLINENO);
	make_str(l, &t->file, FILE_ADDR, "/srv/app/handlers.py");
	make_str(l, &t->name, NAME_ADDR, "handle");
	make_str(l, &t->qualname, QUALNAME_ADDR, "Server.handle");
	make_table(l, &t->table, minor, units);
	t->gone = false;
}

static uint64_t get_u64(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

struct fixture {
	struct fake_target t;
	struct symbolizer s;
	const struct frame_layout *l;
	int minor;
};

/* The tag the BPF side computes from the code object's filename, name and table pointers. */
static uint32_t tag_of(const struct fixture *f)
{
	return pyobjlife_code_tag(get_u64(f->t.code.bytes, f->l->code_filename_off),
				  get_u64(f->t.code.bytes, f->l->code_name_off),
				  get_u64(f->t.code.bytes, f->l->code_linetable_off));
}

/* Move the filename so that its page ends `bytes` past its start. */
static void move_filename(struct fixture *f, size_t bytes)
{
	f->t.file.addr = FILE_ADDR + PYOBJLIFE_SNAP_PAGE - bytes;
	put_u64(f->t.code.bytes, f->l->code_filename_off, f->t.file.addr);
}

/* Copy one part as the BPF side does: its whole window, or up to `cut` bytes of it. */
static void copy_part(struct code_snapshot_event *e, int part, uint8_t *dst, size_t window,
		      const struct region *r, size_t cut)
{
	size_t n = r->len < window ? r->len : window;

	e->addr[part] = r->addr;
	memcpy(dst, r->bytes, cut && cut < n ? cut : n);
	e->copied |= cut && cut < window ? SNAP_COPIED_TO_PAGE_END(part) : SNAP_COPIED_FULL(part);
}

/*
 * The copy the BPF side would send, with a line-table window of `window`
 * bytes. A filename whose window runs past its page's end (move_filename) is
 * copied up to there. Returns the record and its size.
 */
static struct code_snapshot_event *make_copy(const struct fixture *f, uint32_t window, size_t *size)
{
	const struct fake_target *t = &f->t;
	size_t file_page_end = PYOBJLIFE_SNAP_PAGE - (t->file.addr & (PYOBJLIFE_SNAP_PAGE - 1));
	struct code_snapshot_event *e;

	*size = sizeof(*e) + window;
	e = calloc(1, *size);
	assert_non_null(e);
	e->kind = EV_CODE_SNAPSHOT;
	e->code = CODE_ADDR;
	e->tag = tag_of(f);
	e->linetable_window = window;
	copy_part(e, SNAP_HEADER, e->header, sizeof(e->header), &t->code, 0);
	copy_part(e, SNAP_FILENAME, e->filename, sizeof(e->filename), &t->file, file_page_end);
	copy_part(e, SNAP_NAME, e->name, sizeof(e->name), &t->name, 0);
	copy_part(e, SNAP_QUALNAME, e->qualname, sizeof(e->qualname), &t->qualname, 0);
	copy_part(e, SNAP_LINETABLE, e->linetable, window, &t->table, 0);
	/* the BPF side reads exactly the table's object (up to the window) */
	e->linetable_copied = t->table.len < window ? t->table.len : window;
	return e;
}

static struct fixture *setup_for(int minor, size_t units)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->minor = minor;
	f->l = frame_layout_lookup(3, minor);
	assert_non_null(f->l);
	make_target(&f->t, f->l, minor, units);
	symbolizer_init(&f->s, f->l, minor, read_fake, &f->t);
	return f;
}

static void teardown_fixture(struct fixture *f)
{
	symbolizer_free(&f->s);
	free(f);
}

static void add_copy(struct fixture *f, uint32_t window)
{
	size_t size;
	struct code_snapshot_event *e = make_copy(f, window, &size);

	assert_int_equal(symbolizer_add_snapshot(&f->s, e, size), 0);
	free(e);
}

/* `tag`: as the stack carries it (the code object's when the stack was stored) */
static void assert_frame_tagged(struct fixture *f, uint32_t tag, uint32_t unit,
				const char *function, int line)
{
	struct code_location loc;

	assert_int_equal(symbolizer_code(&f->s, CODE_ADDR, unit * 2, tag, &loc), 0);
	assert_string_equal(loc.file, "/srv/app/handlers.py");
	assert_string_equal(loc.function, function);
	assert_int_equal(loc.line, line);
}

static void assert_frame(struct fixture *f, uint32_t unit, const char *function, int line)
{
	assert_frame_tagged(f, tag_of(f), unit, function, line);
}

/* The process is gone: the frame is named from the copy alone. */
static void test_named_after_exit(void **state)
{
	struct fixture *f = setup_for(12, 40);

	(void)state;
	add_copy(f, PYOBJLIFE_SNAP_TABLE_SMALL);
	f->t.gone = true;
	assert_frame(f, 0, "Server.handle", FIRSTLINENO);
	assert_frame(f, 17, "Server.handle", FIRSTLINENO + 17);
	assert_int_equal(f->s.stats.snapshot_errors, 0);
	assert_true(f->s.stats.named_from_snapshots >= 2);
	/* without the copy the same frame is unreadable */
	symbolizer_free(&f->s);
	symbolizer_init(&f->s, f->l, f->minor, read_fake, &f->t);
	{
		struct code_location loc;

		assert_int_equal(symbolizer_code(&f->s, CODE_ADDR, 0, tag_of(f), &loc), -EFAULT);
	}
	teardown_fixture(f);
}

/* Another code object took the address: the copy still names the one the stack saw. */
static void test_copy_outlives_address_reuse(void **state)
{
	struct fixture *f = setup_for(12, 40);
	struct code_location loc;
	uint32_t seen;

	(void)state;
	add_copy(f, PYOBJLIFE_SNAP_TABLE_SMALL);
	seen = tag_of(f);
	make_str(f->l, &f->t.qualname, QUALNAME_ADDR, "Other.thing");
	put_u64(f->t.code.bytes, f->l->code_filename_off, FILE_ADDR + 64);
	make_str(f->l, &f->t.file, FILE_ADDR + 64, "/srv/app/other.py");
	assert_frame_tagged(f, seen, 3, "Server.handle", FIRSTLINENO + 3);
	/* a stack stored after the reuse carries the new object's tag: named from memory */
	assert_int_equal(symbolizer_code(&f->s, CODE_ADDR, 0, tag_of(f), &loc), 0);
	assert_string_equal(loc.function, "Other.thing");
	assert_string_equal(loc.file, "/srv/app/other.py");
	/*
	 * Same file and name strings, compiled anew 50 lines further down: its new line
	 * table makes it another tag; each stack gets its own object's lines.
	 */
	make_target(&f->t, f->l, f->minor, 40);
	f->t.table.addr = TABLE_ADDR + 0x1000;
	put_u64(f->t.code.bytes, f->l->code_linetable_off, f->t.table.addr);
	put_u32(f->t.code.bytes, f->l->code_firstlineno_off, FIRSTLINENO + 50);
	assert_int_not_equal(tag_of(f), seen);
	assert_frame(f, 3, "Server.handle", FIRSTLINENO + 50 + 3);
	assert_frame_tagged(f, seen, 3, "Server.handle", FIRSTLINENO + 3);
	teardown_fixture(f);
}

/* A filename near the end of its page: the copy up to the page's end is enough. */
static void test_filename_cut_at_page_end(void **state)
{
	struct fixture *f = setup_for(12, 10);

	(void)state;
	move_filename(f, f->t.file.len);
	add_copy(f, PYOBJLIFE_SNAP_TABLE_SMALL);
	f->t.gone = true;
	assert_frame(f, 2, "Server.handle", FIRSTLINENO + 2);
	teardown_fixture(f);
}

/* A filename cut before its end names nothing: counted, and the frame falls back. */
static void test_filename_cut_short(void **state)
{
	struct fixture *f = setup_for(12, 10);
	struct code_snapshot_event *e;
	struct code_location loc;
	size_t size;

	(void)state;
	move_filename(f, f->l->ascii_data_off + 4);
	e = make_copy(f, PYOBJLIFE_SNAP_TABLE_SMALL, &size);
	assert_int_equal(symbolizer_add_snapshot(&f->s, e, size), -EFAULT);
	free(e);
	assert_int_equal(f->s.stats.snapshot_errors, 1);
	/* the target is still there: named from its memory */
	assert_frame(f, 1, "Server.handle", FIRSTLINENO + 1);
	f->t.gone = true;
	symbolizer_free(&f->s);
	symbolizer_init(&f->s, f->l, f->minor, read_fake, &f->t);
	assert_int_equal(symbolizer_code(&f->s, CODE_ADDR, 2, tag_of(f), &loc), -EFAULT);
	teardown_fixture(f);
}

/*
 * A line table longer than the window is cut: lines it reaches come from the
 * copy; past it, from the target while the same code object is there, else
 * "no line" (never a wrong line).
 */
static void check_cut_table(int minor, const char *function)
{
	/* 600 units: 1200 table bytes (3.12) or 1198 (3.8), past a 1 KiB window */
	struct fixture *f = setup_for(minor, 600);
	uint32_t reached = 300, past = 590;

	add_copy(f, PYOBJLIFE_SNAP_TABLE_SMALL);
	assert_frame(f, reached, function, FIRSTLINENO + (int)reached);
	assert_frame(f, past, function, FIRSTLINENO + (int)past);
	f->t.gone = true;
	symbolizer_free(&f->s);
	symbolizer_init(&f->s, f->l, minor, read_fake, &f->t);
	add_copy(f, PYOBJLIFE_SNAP_TABLE_SMALL);
	assert_frame(f, reached, function, FIRSTLINENO + (int)reached);
	assert_frame(f, past, function, -1);
	teardown_fixture(f);
}

static void test_cut_table_312(void **state)
{
	(void)state;
	check_cut_table(12, "Server.handle");
}

static void test_cut_table_38(void **state)
{
	(void)state;
	check_cut_table(8, "handle");
}

/*
 * A qualname longer than its window, lying in the target just past the line
 * table: its characters must not be taken from the table's window, whose bytes
 * past the table are stale ring memory (an older record's), never the target's.
 */
static void test_long_name_not_read_from_stale_bytes(void **state)
{
	struct fixture *f = setup_for(12, 10);
	char name[151];
	uint64_t at = TABLE_ADDR + 64;
	struct code_snapshot_event *e;
	struct code_location loc;
	size_t size;

	(void)state;
	memset(name, 'q', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	make_str(f->l, &f->t.qualname, at, name);
	put_u64(f->t.code.bytes, f->l->code_qualname_off, at);
	e = make_copy(f, PYOBJLIFE_SNAP_TABLE_SMALL, &size);
	/* an older record's bytes where the name's characters would be */
	memset(e->linetable + (at - TABLE_ADDR) + f->l->ascii_data_off, 'S', sizeof(name) - 1);
	assert_int_equal(symbolizer_add_snapshot(&f->s, e, size), -EFAULT);
	free(e);
	f->t.gone = true;
	assert_int_equal(symbolizer_code(&f->s, CODE_ADDR, 2, tag_of(f), &loc), -EFAULT);
	teardown_fixture(f);
}

/* Records that do not hold what they claim are refused and counted. */
static void test_malformed_copies(void **state)
{
	struct fixture *f = setup_for(12, 10);
	struct code_snapshot_event *e;
	size_t size;

	(void)state;
	e = make_copy(f, PYOBJLIFE_SNAP_TABLE_SMALL, &size);
	assert_int_equal(symbolizer_add_snapshot(&f->s, e, size - 1), -EINVAL);
	e->tag ^= 2; /* the header read names other strings than the tag */
	assert_int_equal(symbolizer_add_snapshot(&f->s, e, size), -ESTALE);
	e->tag ^= 2;
	e->addr[SNAP_LINETABLE] += 8; /* a table that is not the header's */
	assert_int_equal(symbolizer_add_snapshot(&f->s, e, size), -EFAULT);
	free(e);
	assert_int_equal(f->s.stats.snapshot_errors, 3);
	assert_int_equal(f->s.stats.snapshots, 0);
	teardown_fixture(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_after_exit),
		cmocka_unit_test(test_copy_outlives_address_reuse),
		cmocka_unit_test(test_filename_cut_at_page_end),
		cmocka_unit_test(test_filename_cut_short),
		cmocka_unit_test(test_cut_table_312),
		cmocka_unit_test(test_cut_table_38),
		cmocka_unit_test(test_long_name_not_read_from_stale_bytes),
		cmocka_unit_test(test_malformed_copies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
