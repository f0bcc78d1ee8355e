// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <search.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "unaligned.h"
#include "code_symbolizer.h"

#define MAX_NAME_CHARS	   1024
#define MAX_LINETABLE	   (1u << 20)
#define CODE_HEADER_MAX	   256
#define STR_HEADER_MAX	   80
#define CSTRING_MAX	   256
#define PAGE_SIZE_ASSUMED  4096u
#define UNICODE_KIND(s)	   (((s) >> 2) & 7u)
#define UNICODE_COMPACT(s) (((s) >> 5) & 1u)
#define UNICODE_ASCII(s)   (((s) >> 6) & 1u)

/* The header fields an entry was built from: if any changed, the address was reused. */
struct code_header {
	uint64_t filename, name, qualname, linetable;
	int32_t firstlineno, firsttraceable;
};

#define LINE_MEMO 4

struct code_entry {
	uint64_t addr;
	uint32_t tag;	/* snapshots: the tag the BPF side copied it under (their key) */
	uint64_t epoch; /* when the header was last compared with the target's */
	struct code_header hdr;
	const char *file, *function;
	uint8_t *linetable;
	size_t linetable_len;
	bool linetable_cut; /* a snapshot's window held only the start of the table */
	/*
	 * The last lines looked up, by offset: a burst of new stacks (imports) goes
	 * through the same few calls of the same functions thousands of times, and
	 * a line-table scan was a third of naming a stack.
	 */
	uint32_t memo_offset[LINE_MEMO];
	int memo_line[LINE_MEMO];
	uint8_t memo_used, memo_next;
};

struct type_entry {
	uint64_t addr;
	uint64_t tp_name; /* the name's address when it was read */
	uint64_t epoch;	  /* when it was last compared with the target's */
	const char *name;
};

static int cmp_addr(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

void symbolizer_init(struct symbolizer *s, const struct frame_layout *l, int minor,
		     mem_read_fn read, void *read_ctx)
{
	memset(s, 0, sizeof(*s));
	s->layout = l;
	s->line_format = line_table_format_for(minor);
	s->read = read;
	s->read_ctx = read_ctx;
}

const char *symbolizer_intern(struct symbolizer *s, const char *str)
{
	char *copy;
	void *node = tfind(str, &s->strings, cmp_str);

	if (node)
		return *(const char **)node;
	if (s->stats.strings >= SYMBOLIZER_MAX_STRINGS) {
		s->stats.strings_refused++;
		return SYMBOLIZER_NAME_REFUSED;
	}
	copy = strdup(str);
	if (!copy)
		return "<out of memory>";
	node = tsearch(copy, &s->strings, cmp_str);
	if (!node || *(char **)node != copy) {
		free(copy);
		return node ? *(const char **)node : "<out of memory>";
	}
	s->stats.strings++;
	s->stats.string_bytes += strlen(copy) + 1;
	return copy;
}

/* Append code point cp to out as UTF-8; returns the bytes written (0 if no room). */
static size_t put_utf8(char *out, size_t room, uint32_t cp)
{
	if (cp < 0x80 && room >= 1) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800 && room >= 2) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000 && room >= 3) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp < 0x110000 && room >= 4) {
		out[0] = (char)(0xf0 | cp >> 18);
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		return 4;
	}
	return 0;
}

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF), or 0 when it is not one.
 */
static size_t utf8_sequence_len(const unsigned char *s)
{
	uint32_t cp, min;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* a NUL ends the string here too */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * Copy the C string in to out (cap >= 1) as valid UTF-8, each byte that starts
 * no well-formed sequence replaced by U+FFFD: a type name read from a freed or
 * corrupt type object is arbitrary bytes, and a JSON writer refuses a string
 * that is not UTF-8 (jansson's json_pack fails, and the row holding it is lost).
 */
static void copy_valid_utf8(char *out, size_t cap, const char *in)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)in;
	size_t n = 0;

	while (*s) {
		size_t len = utf8_sequence_len(s);
		const void *from = len ? (const void *)s : replacement;
		size_t w = len ? len : sizeof(replacement) - 1;

		if (w > cap - 1 - n)
			break;
		memcpy(out + n, from, w);
		n += w;
		s += len ? len : 1;
	}
	out[n] = 0;
}

/*
 * U+FFFD for what UTF-8 cannot carry: a lone surrogate (file names that were
 * not UTF-8 on disk reach co_filename through surrogateescape) or, in corrupt
 * memory, a value past U+10FFFF. Encoded as they are, they made names that JSON
 * writers refuse, and the rows holding them were lost.
 */
static uint32_t encodable(uint32_t cp)
{
	return (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ? 0xfffd : cp;
}

/*
 * A compact str object as UTF-8 into out (cap >= 1). Names and file names are
 * compact in practice; other kinds of str give an error.
 */
static int read_str(struct symbolizer *s, uint64_t addr, char *out, size_t cap)
{
	const struct frame_layout *l = s->layout;
	uint8_t hdr[STR_HEADER_MAX], *data;
	uint32_t state, kind;
	int64_t len;
	size_t n = 0, data_off;

	out[0] = 0;
	if (!addr || l->unicode_state_off + 4 > sizeof(hdr) ||
	    s->read(s->read_ctx, addr, hdr, l->unicode_state_off + 4))
		return -EFAULT;
	memcpy(&len, hdr + l->unicode_length_off, sizeof(len));
	state = load_u32(hdr, l->unicode_state_off);
	kind = UNICODE_KIND(state);
	if (!UNICODE_COMPACT(state) || (kind != 1 && kind != 2 && kind != 4) || len < 0)
		return -EINVAL;
	if (len > MAX_NAME_CHARS)
		len = MAX_NAME_CHARS;
	data_off = UNICODE_ASCII(state) ? l->ascii_data_off : l->compact_data_off;
	data = malloc((size_t)len * kind + 1);
	if (!data)
		return -ENOMEM;
	if (len && s->read(s->read_ctx, addr + data_off, data, (size_t)len * kind)) {
		free(data);
		return -EFAULT;
	}
	for (int64_t i = 0; i < len; i++) {
		uint32_t cp = kind == 1	  ? data[i]
			      : kind == 2 ? ((uint16_t *)data)[i]
					  : ((uint32_t *)data)[i];
		size_t w = put_utf8(out + n, cap - 1 - n, encodable(cp));

		if (!w)
			break;
		n += w;
	}
	out[n] = 0;
	free(data);
	return 0;
}

/* A bytes object's contents, malloc'ed. */
static int read_bytes(struct symbolizer *s, uint64_t addr, uint8_t **out, size_t *len)
{
	const struct frame_layout *l = s->layout;
	int64_t size;

	*out = NULL;
	*len = 0;
	if (!addr || s->read(s->read_ctx, addr + l->bytes_size_off, &size, sizeof(size)))
		return -EFAULT;
	if (size < 0 || size > MAX_LINETABLE)
		return -EINVAL;
	*out = malloc(size ? (size_t)size : 1);
	if (!*out)
		return -ENOMEM;
	if (size && s->read(s->read_ctx, addr + l->bytes_data_off, *out, (size_t)size)) {
		free(*out);
		*out = NULL;
		return -EFAULT;
	}
	*len = (size_t)size;
	return 0;
}

static uint32_t header_extent(const struct frame_layout *l)
{
	uint32_t offs[] = { l->code_filename_off,    l->code_name_off,
			    l->code_qualname_off,    l->code_linetable_off,
			    l->code_firstlineno_off, l->code_firsttraceable_off };
	uint32_t end = 0;

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		if (offs[i] != FRAME_LAYOUT_NONE && offs[i] + 8 > end)
			end = offs[i] + 8;
	}
	return end;
}

static int read_code_header(struct symbolizer *s, uint64_t code, struct code_header *h)
{
	const struct frame_layout *l = s->layout;
	uint8_t buf[CODE_HEADER_MAX];
	uint32_t extent = header_extent(l);

	if (!code || extent > sizeof(buf) || s->read(s->read_ctx, code, buf, extent))
		return -EFAULT;
	memset(h, 0, sizeof(*h));
	h->filename = load_u64(buf, l->code_filename_off);
	h->name = load_u64(buf, l->code_name_off);
	if (l->code_qualname_off != FRAME_LAYOUT_NONE)
		h->qualname = load_u64(buf, l->code_qualname_off);
	h->linetable = load_u64(buf, l->code_linetable_off);
	h->firstlineno = (int32_t)load_u32(buf, l->code_firstlineno_off);
	h->firsttraceable = l->code_firsttraceable_off != FRAME_LAYOUT_NONE
				    ? (int32_t)load_u32(buf, l->code_firsttraceable_off)
				    : 0;
	return 0;
}

static int read_names(struct symbolizer *s, struct code_entry *e)
{
	char name[MAX_NAME_CHARS * 4 + 1];

	if (read_str(s, e->hdr.filename, name, sizeof(name)))
		return -EFAULT;
	e->file = symbolizer_intern(s, name);
	if (read_str(s, e->hdr.qualname ? e->hdr.qualname : e->hdr.name, name, sizeof(name)))
		return -EFAULT;
	e->function = symbolizer_intern(s, name);
	return 0;
}

static int build_entry(struct symbolizer *s, struct code_entry *e)
{
	int err = read_names(s, e);

	return err ? err : read_bytes(s, e->hdr.linetable, &e->linetable, &e->linetable_len);
}

static void free_code(void *p)
{
	struct code_entry *e = p;

	free(e->linetable);
	free(e);
}

/*
 * A tree of code entries past its bound (entries or line-table bytes) starts
 * over: names already given stay valid (interned).
 */
static void bound_entries(void **tree, uint64_t *entries, uint64_t *bytes, uint64_t *flushes)
{
	if (*entries < SYMBOLIZER_MAX_CODES && *bytes < SYMBOLIZER_MAX_LINETABLE_BYTES)
		return;
	tdestroy(*tree, free_code);
	*tree = NULL;
	*entries = *bytes = 0;
	(*flushes)++;
}

static void bound_code_cache(struct symbolizer *s)
{
	bound_entries(&s->codes, &s->stats.codes, &s->stats.linetable_bytes,
		      &s->stats.code_flushes);
}

/* Whether a header is the code object the BPF side tagged `tag` (its name and table pointers). */
static bool header_has_tag(const struct code_header *h, uint32_t tag)
{
	return pyobjlife_code_tag(h->filename, h->name, h->linetable) == tag;
}

/* `recheck`: compare with the target's memory even if this batch already did. */
static struct code_entry *lookup_code(struct symbolizer *s, uint64_t code, bool recheck)
{
	struct code_header now;
	struct code_entry *e, **node;

	node = tfind(&code, &s->codes, cmp_addr);
	if (node && (*node)->epoch == s->epoch && !recheck)
		return *node;
	if (read_code_header(s, code, &now))
		return NULL;
	if (node && !memcmp(&(*node)->hdr, &now, sizeof(now))) {
		(*node)->epoch = s->epoch;
		return *node;
	}
	if (node) {
		/* the object at this address is not the one we named: forget the old one */
		e = *node;
		tdelete(&code, &s->codes, cmp_addr);
		s->stats.codes--;
		s->stats.linetable_bytes -= e->linetable_len;
		free_code(e);
		s->stats.replaced++;
	}
	bound_code_cache(s);
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->addr = code;
	e->epoch = s->epoch;
	e->hdr = now;
	if (build_entry(s, e) || !tsearch(e, &s->codes, cmp_addr)) {
		free_code(e);
		return NULL;
	}
	s->stats.code_objects++;
	s->stats.codes++;
	s->stats.linetable_bytes += e->linetable_len;
	return e;
}

void symbolizer_next_epoch(struct symbolizer *s)
{
	s->epoch++;
}

/*
 * Whether a cut co_lnotab (3.8, 3.9) reaches `offset`: past its last entry a
 * lookup gives the last line, which a cut table must not. The later formats
 * answer "no line" past their end by themselves.
 */
static bool cut_table_reaches(enum line_table_format f, const struct code_entry *e, uint32_t offset)
{
	uint64_t end = 0;

	if (f != LINE_TABLE_LNOTAB || (int32_t)offset < 0)
		return true;
	for (size_t i = 0; i + 1 < e->linetable_len; i += 2)
		end += e->linetable[i];
	return offset < end;
}

static int code_line(const struct symbolizer *s, struct code_entry *e, uint32_t offset)
{
	int line;

	for (int i = 0; i < e->memo_used; i++) {
		if (e->memo_offset[i] == offset)
			return e->memo_line[i];
	}
	if (e->linetable_cut && !cut_table_reaches(s->line_format, e, offset))
		line = -1;
	else
		line = line_table_lookup(s->line_format, e->linetable, e->linetable_len,
					 e->hdr.firstlineno, offset);
	e->memo_offset[e->memo_next] = offset;
	e->memo_line[e->memo_next] = line;
	e->memo_next = (e->memo_next + 1) % LINE_MEMO;
	if (e->memo_used < LINE_MEMO)
		e->memo_used++;
	return line;
}

/* ---- what the BPF side copied of a code object (EV_CODE_SNAPSHOT) ---- */

static int cmp_snapshot(const void *a, const void *b)
{
	const struct code_entry *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->tag < y->tag ? -1 : x->tag > y->tag;
}

struct snapshot_part {
	uint64_t addr;
	const uint8_t *bytes;
	size_t len; /* bytes copied */
};

static void snapshot_parts(const struct code_snapshot_event *e, struct snapshot_part *p)
{
	const uint8_t *bytes[SNAP_PARTS] = { e->header, e->filename, e->name, e->qualname,
					     e->linetable };
	const size_t window[SNAP_PARTS] = { sizeof(e->header), sizeof(e->filename), sizeof(e->name),
					    sizeof(e->qualname), e->linetable_window };

	for (int i = 0; i < SNAP_PARTS; i++) {
		size_t len = 0;

		if (i == SNAP_LINETABLE)
			len = e->linetable_copied; /* the rest of its window is stale ring memory */
		else if (e->copied & SNAP_COPIED_FULL(i))
			len = window[i];
		else if (e->copied & SNAP_COPIED_TO_PAGE_END(i))
			len = PYOBJLIFE_SNAP_PAGE - (e->addr[i] & (PYOBJLIFE_SNAP_PAGE - 1));
		if (len > window[i])
			len = window[i];
		p[i] = (struct snapshot_part){ e->addr[i], bytes[i], len };
	}
}

/* A mem_read_fn over a snapshot: what lies wholly inside one copied part. */
static int read_snapshot(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct snapshot_part *p = ctx;

	for (int i = 0; i < SNAP_PARTS; i++) {
		uint64_t at = addr - p[i].addr;

		if (p[i].addr && addr >= p[i].addr && at <= p[i].len && len <= p[i].len - at) {
			memcpy(buf, p[i].bytes + at, len);
			return 0;
		}
	}
	return -EFAULT;
}

/* The line table's copied start; a longer table is kept cut (see code_line). */
static int snapshot_linetable(const struct frame_layout *l, const struct snapshot_part *p,
			      struct code_entry *e)
{
	int64_t size;
	size_t have;

	if (!p->addr || p->addr != e->hdr.linetable || p->len < l->bytes_data_off ||
	    l->bytes_size_off + sizeof(size) > p->len)
		return -EFAULT;
	memcpy(&size, p->bytes + l->bytes_size_off, sizeof(size));
	if (size < 0 || size > MAX_LINETABLE)
		return -EINVAL;
	have = p->len - l->bytes_data_off;
	if ((size_t)size > have)
		e->linetable_cut = true;
	else
		have = (size_t)size;
	e->linetable = malloc(have ? have : 1);
	if (!e->linetable)
		return -ENOMEM;
	memcpy(e->linetable, p->bytes + l->bytes_data_off, have);
	e->linetable_len = have;
	return 0;
}

/* Copies past the bound go too: a later stack's frames are then named from the target. */
static void bound_snapshots(struct symbolizer *s)
{
	bound_entries(&s->snapshots, &s->stats.snapshots, &s->stats.snapshot_bytes,
		      &s->stats.snapshot_flushes);
}

/* Name and line table from the copy, through the same readers as the target's memory. */
static int build_from_snapshot(struct symbolizer *s, const struct code_snapshot_event *snap,
			       struct code_entry *e)
{
	struct snapshot_part parts[SNAP_PARTS];
	mem_read_fn live = s->read;
	void *live_ctx = s->read_ctx;
	int err;

	snapshot_parts(snap, parts);
	s->read = read_snapshot;
	s->read_ctx = parts;
	err = read_code_header(s, snap->code, &e->hdr);
	/* the header changed between the BPF side's two reads: not the code object tagged */
	if (!err && !header_has_tag(&e->hdr, snap->tag))
		err = -ESTALE;
	if (!err)
		err = read_names(s, e);
	s->read = live;
	s->read_ctx = live_ctx;
	return err ? err : snapshot_linetable(s->layout, &parts[SNAP_LINETABLE], e);
}

int symbolizer_add_snapshot(struct symbolizer *s, const struct code_snapshot_event *snap,
			    size_t size)
{
	struct code_entry *e, **node;
	int err;

	if (size < sizeof(*snap) || size - sizeof(*snap) < snap->linetable_window) {
		s->stats.snapshot_errors++;
		return -EINVAL;
	}
	bound_snapshots(s);
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->addr = snap->code;
	e->tag = snap->tag;
	err = build_from_snapshot(s, snap, e);
	if (err) {
		s->stats.snapshot_errors++;
		free_code(e);
		return err;
	}
	node = tsearch(e, &s->snapshots, cmp_snapshot);
	if (!node || *node != e) {
		/* copied again after the BPF side's set let it go: the first copy stays */
		free_code(e);
		return node ? 0 : -ENOMEM;
	}
	s->stats.snapshots++;
	s->stats.snapshot_bytes += e->linetable_len;
	return 0;
}

static void locate(const struct symbolizer *s, struct code_entry *e, uint32_t offset,
		   struct code_location *out)
{
	out->file = e->file;
	out->function = e->function;
	out->firstlineno = e->hdr.firstlineno;
	out->line = code_line(s, e, offset);
	/* 3.11+: frames pushed but not yet at their first traceable instruction */
	out->incomplete = s->layout->code_firsttraceable_off != FRAME_LAYOUT_NONE &&
			  (int64_t)(int32_t)offset < (int64_t)e->hdr.firsttraceable * 2;
}

/*
 * A line past the end of a copy's cut table (a long function's): from the
 * target's memory, if the code object there is still the one copied.
 */
static void line_from_target(struct symbolizer *s, const struct code_entry *copy, uint32_t offset,
			     struct code_location *out)
{
	struct code_entry *e = lookup_code(s, copy->addr, false);

	if (e && !memcmp(&e->hdr, &copy->hdr, sizeof(e->hdr)))
		out->line = code_line(s, e, offset);
}

int symbolizer_code(struct symbolizer *s, uint64_t code, uint32_t offset, uint32_t tag,
		    struct code_location *out)
{
	struct code_entry probe = { .addr = code, .tag = tag }, **copied, *e;

	/* the copy made when the stack was stored is the object the stack saw */
	copied = tag ? tfind(&probe, &s->snapshots, cmp_snapshot) : NULL;
	if (copied) {
		s->stats.named_from_snapshots++;
		locate(s, *copied, offset, out);
		if (out->line < 0 && (*copied)->linetable_cut)
			line_from_target(s, *copied, offset, out);
		return 0;
	}
	e = lookup_code(s, code, false);

	/* not the object the stack saw: it may have taken the address since this batch checked */
	if (e && tag && !header_has_tag(&e->hdr, tag)) {
		struct code_entry *now = lookup_code(s, code, true);

		/* unreadable now: the one the stack saw is gone all the same */
		e = now ? now : e;
	}
	if (!e) {
		s->stats.read_errors++;
		return -EFAULT;
	}
	if (tag && !header_has_tag(&e->hdr, tag)) {
		s->stats.stale++;
		return -ESTALE;
	}
	locate(s, e, offset, out);
	return 0;
}

/* A NUL-terminated string of the target, read page by page so a short one near a hole works. */
static int read_cstring(struct symbolizer *s, uint64_t addr, char *out, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		size_t chunk = PAGE_SIZE_ASSUMED - ((addr + n) % PAGE_SIZE_ASSUMED);

		if (chunk > cap - 1 - n)
			chunk = cap - 1 - n;
		if (s->read(s->read_ctx, addr + n, out + n, chunk))
			return -EFAULT;
		if (memchr(out + n, 0, chunk))
			return 0;
		n += chunk;
	}
	out[cap - 1] = 0;
	return 0;
}

const char *symbolizer_intern_raw(struct symbolizer *s, const char *raw, size_t len)
{
	char term[CSTRING_MAX], name[CSTRING_MAX * 3]; /* each raw byte may become U+FFFD */

	if (len >= sizeof(term))
		len = sizeof(term) - 1;
	memcpy(term, raw, len);
	term[len] = 0;
	copy_valid_utf8(name, sizeof(name), term);
	return symbolizer_intern(s, name);
}

static int read_type_name(struct symbolizer *s, uint64_t type, uint64_t *tp_name, char *name,
			  size_t cap)
{
	if (!type ||
	    s->read(s->read_ctx, type + s->layout->tp_name_off, tp_name, sizeof(*tp_name)) ||
	    !*tp_name || read_cstring(s, *tp_name, name, cap))
		return -EFAULT;
	return 0;
}

/*
 * A heap type (a class) can be freed and another one made at its address, as
 * code objects can: once per batch the name is read again, and an entry whose
 * name changed is renamed. An unreadable type keeps the name it had (the
 * target may have exited before the last batch).
 */
const char *symbolizer_type(struct symbolizer *s, uint64_t type)
{
	struct type_entry *e, **node;
	char raw[CSTRING_MAX], name[CSTRING_MAX * 3]; /* each raw byte may become U+FFFD */
	uint64_t tp_name;

	/* bounded: past the limit the cache starts over (names are re-read per batch anyway) */
	if (s->stats.types >= SYMBOLIZER_MAX_TYPES) {
		tdestroy(s->types, free);
		s->types = NULL;
		s->stats.types = 0;
		s->stats.type_flushes++;
	}
	node = tfind(&type, &s->types, cmp_addr);
	if (node && (*node)->epoch == s->epoch)
		return (*node)->name;
	if (read_type_name(s, type, &tp_name, raw, sizeof(raw))) {
		if (node)
			return (*node)->name;
		s->stats.read_errors++;
		return NULL;
	}
	copy_valid_utf8(name, sizeof(name), raw);
	if (node) {
		e = *node;
		if (e->tp_name != tp_name || strcmp(e->name, name)) {
			e->name = symbolizer_intern(s, name);
			e->tp_name = tp_name;
			s->stats.replaced++;
		}
		e->epoch = s->epoch;
		return e->name;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	*e = (struct type_entry){ .addr = type, .tp_name = tp_name, .epoch = s->epoch };
	e->name = symbolizer_intern(s, name);
	if (!tsearch(e, &s->types, cmp_addr)) {
		free(e);
		return NULL;
	}
	s->stats.types++;
	return e->name;
}

void symbolizer_free(struct symbolizer *s)
{
	tdestroy(s->codes, free_code);
	tdestroy(s->snapshots, free_code);
	tdestroy(s->types, free);
	tdestroy(s->strings, free);
	s->codes = s->snapshots = s->types = s->strings = NULL;
}
