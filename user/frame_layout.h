/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Where CPython keeps what a stack walk and symbolization read: the current
 * thread state, its frame chain, code objects, strings and type objects. One
 * row per minor version (GIL, non-debug builds, x86_64); 3.13+ rows are
 * cross-checked against the target's own _Py_DebugOffsets.
 * tests/offsets/check_frame_layout.py checks every field against the DWARF of
 * each installed build.
 */
#ifndef PYOBJLIFE_FRAME_LAYOUT_H
#define PYOBJLIFE_FRAME_LAYOUT_H

#include <stdint.h>
#include "pyobjlife.h"

#define FRAME_LAYOUT_NONE UINT32_MAX /* field absent in this version */

struct frame_layout {
	int major, minor;
	/* finding the thread state of the thread holding the GIL */
	uint32_t tstate_current_off;	  /* _PyRuntime.gilstate.tstate_current (3.8-3.11) */
	uint32_t interp_gil_ptr_off;	  /* interp->ceval.gil, a pointer (3.12+) */
	uint32_t gil_last_holder_off;	  /* _gil_runtime_state.last_holder (3.12+) */
	uint32_t interp_threads_head_off; /* interp->tstate_head / threads.head */
	uint32_t tstate_next_off;
	uint32_t tstate_thread_id_off; /* pthread_self() of the thread = its FS base */
	/* its innermost frame: tstate->frame, tstate->cframe->current_frame, tstate->current_frame
	 */
	uint32_t tstate_frame_off;
	uint32_t cframe_current_off; /* _PyCFrame.current_frame, NONE when frame_off is direct */
	/* the data stack chunk the innermost frames live in and its top (3.11+, else NONE) */
	uint32_t tstate_datastack_chunk_off;
	uint32_t tstate_datastack_top_off;
	/* one frame (PyFrameObject up to 3.10, _PyInterpreterFrame from 3.11) */
	uint32_t frame_code_off;
	uint32_t frame_previous_off;
	uint32_t frame_instr_off; /* f_lasti (int), prev_instr or instr_ptr (pointer) */
	uint32_t frame_owner_off; /* NONE before 3.11 */
	uint32_t frame_size;	  /* bytes one read of a frame covers */
	enum pyobjlife_instr_kind instr_kind;
	uint8_t owner_skip_from; /* owners >= this are shims, not Python frames; 255 none */
	/* code objects */
	uint32_t code_adaptive_off; /* first code unit of the bytecode (3.11+) */
	uint32_t code_code_off;	    /* co_code, a bytes object (up to 3.10) */
	uint32_t code_filename_off;
	uint32_t code_name_off;
	uint32_t code_qualname_off; /* NONE before 3.11 */
	uint32_t code_firstlineno_off;
	uint32_t code_linetable_off;	  /* co_lnotab (3.8, 3.9) or co_linetable */
	uint32_t code_firsttraceable_off; /* _co_firsttraceable (3.11+) */
	/* str and bytes */
	uint32_t unicode_length_off;
	uint32_t unicode_state_off;
	uint32_t ascii_data_off;   /* sizeof(PyASCIIObject) */
	uint32_t compact_data_off; /* sizeof(PyCompactUnicodeObject) */
	uint32_t bytes_size_off;
	uint32_t bytes_data_off;
	/* objects and types */
	uint32_t ob_type_off;
	uint32_t ob_size_off;
	uint32_t tp_name_off;
	uint32_t tp_basicsize_off;
	uint32_t tp_itemsize_off;
	uint32_t tp_flags_off;
	uint32_t tp_dealloc_off;
	/* type flags whose objects carry a 16-byte pre-header beyond the GC head */
	uint64_t preheader_flags;
	/* tp_flags whose objects get ob_size only after birth: all of them in 3.12+ */
	uint64_t size_unset_flags;
	const char *source; /* where the row comes from */
};

/* The table row for major.minor, or NULL. */
const struct frame_layout *frame_layout_lookup(int major, int minor);

/* _Py_DebugOffsets fields that describe the same structures (3.13+). */
struct py_debug_frame_offsets {
	uint64_t threads_head, tstate_next, tstate_thread_id, tstate_current_frame;
	uint64_t tstate_datastack_chunk;
	uint64_t frame_previous, frame_executable, frame_instr_ptr, frame_owner;
	uint64_t code_filename, code_name, code_qualname, code_linetable, code_firstlineno,
		code_adaptive;
	uint64_t ob_type, tp_name, tp_flags, ascii_size;
	uint64_t interp_ceval_gil;
};

/* Decode them from the bytes at &_PyRuntime: 0, -ENOENT no cookie, -ENOTSUP unknown minor. */
int py_debug_frame_offsets_decode(const void *buf, unsigned long len, int minor,
				  struct py_debug_frame_offsets *out);
#define PY_DEBUG_FRAME_OFFSETS_READ_LEN 768

/* Fields of the row that disagree with _Py_DebugOffsets; names the first in `what`. */
int frame_layout_cross_check(const struct frame_layout *l, const struct py_debug_frame_offsets *d,
			     const char **what);

#endif
