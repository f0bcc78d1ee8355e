/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Where the cycle collector keeps its state, per CPython minor version (GIL,
 * non-debug builds, x86_64). tests/offsets/check_gc_layout.sh checks every
 * field against the DWARF of each installed build.
 */
#ifndef PYOBJLIFE_GC_LAYOUT_H
#define PYOBJLIFE_GC_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

struct gc_layout {
	int major, minor;
	uint32_t main_interp_off;   /* _PyRuntime.interpreters.main */
	uint32_t gc_off;	    /* gc state in the main interpreter (or _PyRuntime) */
	bool gc_in_runtime;	    /* 3.8: _PyRuntime.gc instead of interp->gc */
	uint32_t generations_off;   /* _gc_runtime_state.generations */
	uint32_t gen_stride;	    /* sizeof(struct gc_generation) */
	uint32_t gen_threshold_off; /* gc_generation.threshold */
	uint32_t gen_count_off;	    /* gc_generation.count */
	uint32_t stats_off;	    /* _gc_runtime_state.generation_stats */
	uint32_t collecting_off;    /* _gc_runtime_state.collecting */
	const char *source;	    /* where the row comes from */
};

/* The table row for major.minor, or NULL. */
const struct gc_layout *gc_layout_lookup(int major, int minor);

/* The first fields of _Py_DebugOffsets (3.13+), read from the interpreter's image. */
struct py_debug_offsets {
	uint64_t version;	/* PY_VERSION_HEX */
	uint64_t free_threaded; /* 1 in 3.13t/3.14t builds */
	uint64_t runtime_size;
	uint64_t interpreters_head;
	uint64_t interp_size;
	uint64_t interp_gc;
};

/*
 * Decode the start of _Py_DebugOffsets from the bytes at &_PyRuntime for the
 * given minor version: 0, -ENOENT without the "xdebugpy" cookie, -ENOTSUP for
 * a minor version whose field order we do not know.
 */
int py_debug_offsets_decode(const void *buf, unsigned long len, int minor,
			    struct py_debug_offsets *out);
#define PY_DEBUG_OFFSETS_READ_LEN 96

/*
 * Check a table row against _Py_DebugOffsets; returns the number of fields
 * that disagree and names the first in `what`.
 */
int gc_layout_cross_check(const struct gc_layout *l, const struct py_debug_offsets *d,
			  const char **what);

#endif
