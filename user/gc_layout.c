// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "unaligned.h"
#include "gc_layout.h"

/*
 * Offsets read from DWARF with gdb, e.g.
 *   gdb -batch -ex 'print (long)&((struct pyruntimestate *)0)->interpreters.main' LIB
 *   gdb -batch -ex 'print (long)&((struct _is *)0)->gc' LIB
 *   gdb -batch -ex 'ptype /o struct _gc_runtime_state' LIB
 * on pyenv's 3.8.18 ... 3.13.0 (--enable-shared, GCC 12) and Debian's 3.11.2
 * (python3.11-dbg). struct gc_generation is {PyGC_Head head; int threshold;
 * int count;} (24 bytes) and generation_stats[] three Py_ssize_t in every row.
 */
static const struct gc_layout layouts[] = {
	{ 3, 8, 40, 344, true, 24, 24, 16, 20, 128, 200,
	  "3.8: Include/internal/pycore_pymem.h, _PyRuntime.gc (DWARF of 3.8.18)" },
	{ 3, 9, 40, 616, false, 24, 24, 16, 20, 128, 200,
	  "3.9: Include/internal/pycore_interp.h, interp->gc (DWARF of 3.9.18)" },
	{ 3, 10, 40, 616, false, 24, 24, 16, 20, 128, 200,
	  "3.10: Include/internal/pycore_interp.h, interp->gc (DWARF of 3.10.13)" },
	{ 3, 11, 48, 648, false, 24, 24, 16, 20, 128, 200,
	  "3.11: Include/internal/pycore_interp.h, interp->gc (DWARF of 3.11.7, Debian 3.11.2)" },
	{ 3, 12, 48, 112, false, 24, 24, 16, 20, 128, 200,
	  "3.12: Include/internal/pycore_interp.h, interp->gc (DWARF of 3.12.1)" },
	{ 3, 13, 640, 7400, false, 24, 24, 16, 20, 128, 200,
	  "3.13: Include/internal/pycore_interp.h, interp->gc (DWARF of 3.13.0, "
	  "cross-checked with _Py_DebugOffsets)" },
};

const struct gc_layout *gc_layout_lookup(int major, int minor)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (layouts[i].major == major && layouts[i].minor == minor)
			return &layouts[i];
	}
	return NULL;
}

int py_debug_offsets_decode(const void *buf, unsigned long len, int minor,
			    struct py_debug_offsets *out)
{
	const unsigned char *p = buf;
	/* interpreter_state: size, id, next, threads_head, [threads_main (3.14)], gc */
	size_t gc_field;

	if (len < PY_DEBUG_OFFSETS_READ_LEN)
		return -EINVAL;
	if (memcmp(p, "xdebugpy", 8))
		return -ENOENT;
	if (minor == 13)
		gc_field = 48 + 4 * 8;
	else if (minor == 14)
		gc_field = 48 + 5 * 8;
	else
		return -ENOTSUP;
	out->version = load_u64(p, 8);
	out->free_threaded = load_u64(p, 16);
	out->runtime_size = load_u64(p, 24);
	out->interpreters_head = load_u64(p, 40);
	out->interp_size = load_u64(p, 48);
	out->interp_gc = load_u64(p, gc_field);
	return 0;
}

int gc_layout_cross_check(const struct gc_layout *l, const struct py_debug_offsets *d,
			  const char **what)
{
	int bad = 0;

	*what = NULL;
	/* interpreters.main directly follows interpreters.head (a pointer) */
	if (l->main_interp_off != d->interpreters_head + 8) {
		bad++;
		*what = "_PyRuntime.interpreters.main";
	}
	if (!l->gc_in_runtime && l->gc_off != d->interp_gc) {
		bad++;
		if (!*what)
			*what = "interp->gc";
	}
	return bad;
}
