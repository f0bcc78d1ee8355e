/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Names for what the BPF side recorded as addresses: code objects (file,
 * function, first line, line table) and type objects (tp_name), read out of the
 * target's memory and cached by address. A code object can be freed and its
 * address reused by another: every lookup re-reads the few header fields the
 * cache entry was built from and rebuilds the entry when they changed. A class
 * can be too: its name is read again once per batch.
 */
#ifndef PYOBJLIFE_CODE_SYMBOLIZER_H
#define PYOBJLIFE_CODE_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "frame_layout.h"
#include "line_table.h"
#include "pyobjlife.h"

/* Reads the target's memory: 0, or -errno (-EFAULT for a short read). */
typedef int (*mem_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

struct code_location {
	const char *file;     /* interned: valid until symbolizer_free() */
	const char *function; /* co_qualname (3.11+) or co_name */
	int line;	      /* -1 when the instruction has no line */
	int firstlineno;
	bool incomplete; /* a frame that has not started its first traceable instruction */
};

/*
 * The caches stay bounded: past SYMBOLIZER_MAX_CODES code objects (or
 * SYMBOLIZER_MAX_LINETABLE_BYTES of their line tables) or SYMBOLIZER_MAX_TYPES
 * types, that cache is emptied and refilled as names are asked for again (what
 * was named stays named: names are interned). Interned names are never freed,
 * so past SYMBOLIZER_MAX_STRINGS distinct ones a new name is given as
 * SYMBOLIZER_NAME_REFUSED and counted.
 */
#define SYMBOLIZER_MAX_CODES	       65536u
#define SYMBOLIZER_MAX_LINETABLE_BYTES (64u << 20)
#define SYMBOLIZER_MAX_TYPES	       65536u
#define SYMBOLIZER_MAX_STRINGS	       262144u
#define SYMBOLIZER_NAME_REFUSED	       "<name not kept: too many distinct names>"

struct symbolizer_stats {
	uint64_t code_objects; /* distinct code objects read */
	uint64_t replaced;     /* cache entries found stale (address reused) and re-read */
	uint64_t read_errors;  /* code or type objects that could not be read */
	uint64_t stale;	       /* recorded code objects freed before they were named */
	/* what the caches hold now, and what their bounds cost */
	uint64_t codes, linetable_bytes, types, strings, string_bytes;
	uint64_t code_flushes, type_flushes; /* caches emptied at their bound */
	uint64_t strings_refused;	     /* names not kept past SYMBOLIZER_MAX_STRINGS */
	/* code objects copied by the BPF side (symbolizer_add_snapshot) */
	uint64_t snapshots, snapshot_bytes; /* held now, and their line tables' bytes */
	uint64_t snapshot_errors;	    /* copies that did not name their code object */
	uint64_t snapshot_flushes;	    /* held copies emptied at the caches' bound */
	uint64_t named_from_snapshots;	    /* frames named from a copy */
};

struct symbolizer {
	const struct frame_layout *layout;
	enum line_table_format line_format;
	mem_read_fn read;
	void *read_ctx;
	void *codes;	 /* tsearch tree of struct code_entry, by address */
	void *types;	 /* tsearch tree of struct type_entry, by address */
	void *strings;	 /* tsearch tree of interned strings */
	void *snapshots; /* tsearch tree of struct code_entry, by (address, tag) */
	struct symbolizer_stats stats;
	uint64_t epoch;
};

void symbolizer_init(struct symbolizer *s, const struct frame_layout *l, int minor,
		     mem_read_fn read, void *read_ctx);
void symbolizer_free(struct symbolizer *s);

/*
 * Resolve (code object, byte offset). `tag` is pyobjlife_code_tag() as the BPF
 * side read it when the stack was recorded (0: not known). Returns 0, -EFAULT
 * when the code object is unreadable, -ESTALE when the object now at that
 * address is not the one recorded (freed and its address reused).
 */
int symbolizer_code(struct symbolizer *s, uint64_t code, uint32_t offset, uint32_t tag,
		    struct code_location *out);

/*
 * Keep what the BPF side copied of a code object when a stored stack first held
 * it (`size`: the record's, line table included): frames with that (address,
 * tag) are named from the copy from then on,
 * never from the target's memory. 0, or -errno when the copy names nothing
 * (counted in snapshot_errors; such frames are named from the target's memory).
 */
int symbolizer_add_snapshot(struct symbolizer *s, const struct code_snapshot_event *snap,
			    size_t size);

/*
 * Start a new batch: a code object already checked against the target in this
 * batch is not re-read (one poll interval's worth of stacks share the reads).
 */
void symbolizer_next_epoch(struct symbolizer *s);

/*
 * The tp_name (interned) of the type now at that address, or the last one read
 * there when it is unreadable now, or NULL when it never was.
 */
const char *symbolizer_type(struct symbolizer *s, uint64_t type);

/* Intern a string: the same pointer for equal strings, valid until symbolizer_free(). */
const char *symbolizer_intern(struct symbolizer *s, const char *str);

/* Intern `len` bytes copied from the target (NUL or not, valid UTF-8 or not), as a name. */
const char *symbolizer_intern_raw(struct symbolizer *s, const char *raw, size_t len);

#endif
