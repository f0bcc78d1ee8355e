// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "unaligned.h"
#include "frame_layout.h"

#define NONE			FRAME_LAYOUT_NONE
#define TPFLAGS_MANAGED_WEAKREF (1ull << 3) /* 3.12+ */
#define TPFLAGS_MANAGED_DICT	(1ull << 4) /* 3.11+ */
/* 3.12+ _PyObject_InitVar sets ob_size after _Py_NewReference: no var size at birth */
#define SIZE_SET_AFTER_BIRTH UINT64_MAX

/* Fields every version 3.8-3.13 has at the same place (PyObject, PyVarObject, PyTypeObject) */
#define OBJECT_AND_TYPE_OFFSETS                                                                    \
	.ob_type_off = 8, .ob_size_off = 16, .tp_name_off = 24, .tp_basicsize_off = 32,            \
	.tp_itemsize_off = 40, .tp_flags_off = 168, .tp_dealloc_off = 48
/* str and bytes: PyASCIIObject lost its wstr pointer in 3.12 */
#define STR_BYTES_OFFSETS_38                                                                       \
	.unicode_length_off = 16, .unicode_state_off = 32, .ascii_data_off = 48,                   \
	.compact_data_off = 72, .bytes_size_off = 16, .bytes_data_off = 32
#define STR_BYTES_OFFSETS_312                                                                      \
	.unicode_length_off = 16, .unicode_state_off = 32, .ascii_data_off = 40,                   \
	.compact_data_off = 56, .bytes_size_off = 16, .bytes_data_off = 32

/*
 * Offsets read from DWARF with gdb, e.g.
 *   gdb -batch -ex 'ptype /o struct _ts' -ex 'ptype /o struct _frame' LIB
 *   gdb -batch -ex 'print (long)&((_PyRuntimeState *)0)->gilstate.tstate_current' LIB
 * on pyenv's 3.8.18 ... 3.13.0 (--enable-shared, GCC 12) and Debian's 3.11.2
 * (python3.11-dbg); tests/offsets/check_frame_layout.py re-reads every field.
 * Sources: Include/cpython/pystate.h (thread state), Include/cpython/frameobject.h
 * (3.8-3.10 frames), Include/internal/pycore_frame.h (3.11+ frames),
 * Include/cpython/code.h, Include/cpython/unicodeobject.h, Include/cpython/object.h.
 */
static const struct frame_layout layouts[] = {
	{
		.major = 3,
		.minor = 8,
		.tstate_current_off = 1368,
		.interp_gil_ptr_off = NONE,
		.gil_last_holder_off = NONE,
		.interp_threads_head_off = 8,
		.tstate_next_off = 8,
		.tstate_thread_id_off = 176,
		.tstate_frame_off = 24,
		.cframe_current_off = NONE,
		.tstate_datastack_chunk_off = NONE,
		.tstate_datastack_top_off = NONE,
		.frame_code_off = 32,
		.frame_previous_off = 24,
		.frame_instr_off = 104,
		.frame_owner_off = NONE,
		.frame_size = 112,
		.instr_kind = INSTR_LASTI_BYTES,
		.owner_skip_from = 255,
		.code_adaptive_off = NONE,
		.code_code_off = 48,
		.code_filename_off = 104,
		.code_name_off = 112,
		.code_qualname_off = NONE,
		.code_firstlineno_off = 40,
		.code_linetable_off = 120,
		.code_firsttraceable_off = NONE,
		STR_BYTES_OFFSETS_38,
		OBJECT_AND_TYPE_OFFSETS,
		.preheader_flags = 0,
		.size_unset_flags = 0,
		.source = "3.8: PyFrameObject chain from _PyRuntime.gilstate.tstate_current "
			  "(DWARF of 3.8.18)",
	},
	{
		.major = 3,
		.minor = 9,
		.tstate_current_off = 568,
		.interp_gil_ptr_off = NONE,
		.gil_last_holder_off = NONE,
		.interp_threads_head_off = 8,
		.tstate_next_off = 8,
		.tstate_thread_id_off = 176,
		.tstate_frame_off = 24,
		.cframe_current_off = NONE,
		.tstate_datastack_chunk_off = NONE,
		.tstate_datastack_top_off = NONE,
		.frame_code_off = 32,
		.frame_previous_off = 24,
		.frame_instr_off = 104,
		.frame_owner_off = NONE,
		.frame_size = 112,
		.instr_kind = INSTR_LASTI_BYTES,
		.owner_skip_from = 255,
		.code_adaptive_off = NONE,
		.code_code_off = 48,
		.code_filename_off = 104,
		.code_name_off = 112,
		.code_qualname_off = NONE,
		.code_firstlineno_off = 40,
		.code_linetable_off = 120,
		.code_firsttraceable_off = NONE,
		STR_BYTES_OFFSETS_38,
		OBJECT_AND_TYPE_OFFSETS,
		.preheader_flags = 0,
		.size_unset_flags = 0,
		.source = "3.9: PyFrameObject chain from _PyRuntime.gilstate.tstate_current "
			  "(DWARF of 3.9.18)",
	},
	{
		.major = 3,
		.minor = 10,
		.tstate_current_off = 568,
		.interp_gil_ptr_off = NONE,
		.gil_last_holder_off = NONE,
		.interp_threads_head_off = 8,
		.tstate_next_off = 8,
		.tstate_thread_id_off = 176,
		.tstate_frame_off = 24,
		.cframe_current_off = NONE,
		.tstate_datastack_chunk_off = NONE,
		.tstate_datastack_top_off = NONE,
		.frame_code_off = 32,
		.frame_previous_off = 24,
		.frame_instr_off = 96,
		.frame_owner_off = NONE,
		.frame_size = 104,
		.instr_kind = INSTR_LASTI_UNITS,
		.owner_skip_from = 255,
		.code_adaptive_off = NONE,
		.code_code_off = 48,
		.code_filename_off = 104,
		.code_name_off = 112,
		.code_qualname_off = NONE,
		.code_firstlineno_off = 40,
		.code_linetable_off = 120,
		.code_firsttraceable_off = NONE,
		STR_BYTES_OFFSETS_38,
		OBJECT_AND_TYPE_OFFSETS,
		.preheader_flags = 0,
		.size_unset_flags = 0,
		.source = "3.10: PyFrameObject chain, f_lasti in code units (DWARF of 3.10.13)",
	},
	{
		.major = 3,
		.minor = 11,
		.tstate_current_off = 576,
		.interp_gil_ptr_off = NONE,
		.gil_last_holder_off = NONE,
		.interp_threads_head_off = 16,
		.tstate_next_off = 8,
		.tstate_thread_id_off = 152,
		.tstate_frame_off = 56,
		.cframe_current_off = 8,
		.tstate_datastack_chunk_off = 296,
		.tstate_datastack_top_off = 304,
		.frame_code_off = 32,
		.frame_previous_off = 48,
		.frame_instr_off = 56,
		.frame_owner_off = 69,
		.frame_size = 72,
		.instr_kind = INSTR_POINTER,
		.owner_skip_from = 255,
		.code_adaptive_off = 184,
		.code_code_off = NONE,
		.code_filename_off = 112,
		.code_name_off = 120,
		.code_qualname_off = 128,
		.code_firstlineno_off = 72,
		.code_linetable_off = 136,
		.code_firsttraceable_off = 168,
		STR_BYTES_OFFSETS_38,
		OBJECT_AND_TYPE_OFFSETS,
		.preheader_flags = TPFLAGS_MANAGED_DICT,
		.size_unset_flags = 0,
		.source = "3.11: _PyInterpreterFrame chain via tstate->cframe (DWARF of 3.11.7, "
			  "Debian 3.11.2)",
	},
	{
		.major = 3,
		.minor = 12,
		.tstate_current_off = NONE,
		.interp_gil_ptr_off = 384,
		.gil_last_holder_off = 8,
		.interp_threads_head_off = 72,
		.tstate_next_off = 8,
		.tstate_thread_id_off = 136,
		.tstate_frame_off = 56,
		.cframe_current_off = 0,
		.tstate_datastack_chunk_off = 232,
		.tstate_datastack_top_off = 240,
		.frame_code_off = 0,
		.frame_previous_off = 8,
		.frame_instr_off = 56,
		.frame_owner_off = 70,
		.frame_size = 72,
		.instr_kind = INSTR_POINTER,
		.owner_skip_from = 3,
		.code_adaptive_off = 192,
		.code_code_off = NONE,
		.code_filename_off = 112,
		.code_name_off = 120,
		.code_qualname_off = 128,
		.code_firstlineno_off = 68,
		.code_linetable_off = 136,
		.code_firsttraceable_off = 176,
		STR_BYTES_OFFSETS_312,
		OBJECT_AND_TYPE_OFFSETS,
		.preheader_flags = TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF,
		.size_unset_flags = SIZE_SET_AFTER_BIRTH,
		.source = "3.12: GIL holder (interp->ceval.gil->last_holder), cframe chain "
			  "(DWARF of 3.12.1)",
	},
	{
		.major = 3,
		.minor = 13,
		.tstate_current_off = NONE,
		.interp_gil_ptr_off = 16,
		.gil_last_holder_off = 8,
		.interp_threads_head_off = 7344,
		.tstate_next_off = 8,
		.tstate_thread_id_off = 152,
		.tstate_frame_off = 72,
		.cframe_current_off = NONE,
		.tstate_datastack_chunk_off = 232,
		.tstate_datastack_top_off = 240,
		.frame_code_off = 0,
		.frame_previous_off = 8,
		.frame_instr_off = 56,
		.frame_owner_off = 70,
		.frame_size = 72,
		.instr_kind = INSTR_POINTER,
		.owner_skip_from = 3,
		.code_adaptive_off = 200,
		.code_code_off = NONE,
		.code_filename_off = 112,
		.code_name_off = 120,
		.code_qualname_off = 128,
		.code_firstlineno_off = 68,
		.code_linetable_off = 136,
		.code_firsttraceable_off = 184,
		STR_BYTES_OFFSETS_312,
		OBJECT_AND_TYPE_OFFSETS,
		.preheader_flags = TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF,
		.size_unset_flags = SIZE_SET_AFTER_BIRTH,
		.source = "3.13: tstate->current_frame chain (DWARF of 3.13.0, cross-checked with "
			  "_Py_DebugOffsets)",
	},
};

const struct frame_layout *frame_layout_lookup(int major, int minor)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (layouts[i].major == major && layouts[i].minor == minor)
			return &layouts[i];
	}
	return NULL;
}

/*
 * _Py_DebugOffsets is a fixed sequence of u64 fields (Include/internal/
 * pycore_runtime.h in 3.13, pycore_debug_offsets.h in 3.14). Positions of the
 * fields we use, in bytes from &_PyRuntime.
 */
struct debug_offsets_positions {
	size_t threads_head, interp_ceval_gil;
	size_t tstate; /* thread_state sub-struct: size, prev, next, interp, current_frame,
			  thread_id, native_thread_id, datastack_chunk, status */
	size_t frame;  /* interpreter_frame: size, previous, executable, instr_ptr,
			  localsplus, owner */
	size_t code;   /* code_object: size, filename, name, qualname, linetable,
			  firstlineno, argcount, localsplusnames, localspluskinds,
			  co_code_adaptive */
	size_t pyobject, type_object, unicode;
};

static const struct debug_offsets_positions positions_313 = {
	.threads_head = 48 + 3 * 8,
	.interp_ceval_gil = 48 + 8 * 8,
	.tstate = 152,
	.frame = 224,
	.code = 272,
	.pyobject = 352,
	.type_object = 368,
	.unicode = 536,
};

int py_debug_frame_offsets_decode(const void *buf, unsigned long len, int minor,
				  struct py_debug_frame_offsets *out)
{
	const unsigned char *p = buf;
	const struct debug_offsets_positions *pos;

	if (len < PY_DEBUG_FRAME_OFFSETS_READ_LEN)
		return -EINVAL;
	if (memcmp(p, "xdebugpy", 8))
		return -ENOENT;
	if (minor != 13)
		return -ENOTSUP;
	pos = &positions_313;
	out->threads_head = load_u64(p, pos->threads_head);
	out->interp_ceval_gil = load_u64(p, pos->interp_ceval_gil);
	out->tstate_next = load_u64(p, pos->tstate + 2 * 8);
	out->tstate_current_frame = load_u64(p, pos->tstate + 4 * 8);
	out->tstate_thread_id = load_u64(p, pos->tstate + 5 * 8);
	out->tstate_datastack_chunk = load_u64(p, pos->tstate + 7 * 8);
	out->frame_previous = load_u64(p, pos->frame + 1 * 8);
	out->frame_executable = load_u64(p, pos->frame + 2 * 8);
	out->frame_instr_ptr = load_u64(p, pos->frame + 3 * 8);
	out->frame_owner = load_u64(p, pos->frame + 5 * 8);
	out->code_filename = load_u64(p, pos->code + 1 * 8);
	out->code_name = load_u64(p, pos->code + 2 * 8);
	out->code_qualname = load_u64(p, pos->code + 3 * 8);
	out->code_linetable = load_u64(p, pos->code + 4 * 8);
	out->code_firstlineno = load_u64(p, pos->code + 5 * 8);
	out->code_adaptive = load_u64(p, pos->code + 9 * 8);
	out->ob_type = load_u64(p, pos->pyobject + 1 * 8);
	out->tp_name = load_u64(p, pos->type_object + 1 * 8);
	out->tp_flags = load_u64(p, pos->type_object + 3 * 8);
	out->ascii_size = load_u64(p, pos->unicode + 3 * 8);
	return 0;
}

struct field_pair {
	const char *name;
	uint64_t table, target;
};

int frame_layout_cross_check(const struct frame_layout *l, const struct py_debug_frame_offsets *d,
			     const char **what)
{
	const struct field_pair pairs[] = {
		{ "interp->threads.head", l->interp_threads_head_off, d->threads_head },
		{ "interp->ceval.gil", l->interp_gil_ptr_off, d->interp_ceval_gil },
		{ "tstate->next", l->tstate_next_off, d->tstate_next },
		{ "tstate->current_frame", l->tstate_frame_off, d->tstate_current_frame },
		{ "tstate->thread_id", l->tstate_thread_id_off, d->tstate_thread_id },
		{ "tstate->datastack_chunk", l->tstate_datastack_chunk_off,
		  d->tstate_datastack_chunk },
		{ "frame->previous", l->frame_previous_off, d->frame_previous },
		{ "frame->f_executable", l->frame_code_off, d->frame_executable },
		{ "frame->instr_ptr", l->frame_instr_off, d->frame_instr_ptr },
		{ "frame->owner", l->frame_owner_off, d->frame_owner },
		{ "code->co_filename", l->code_filename_off, d->code_filename },
		{ "code->co_name", l->code_name_off, d->code_name },
		{ "code->co_qualname", l->code_qualname_off, d->code_qualname },
		{ "code->co_linetable", l->code_linetable_off, d->code_linetable },
		{ "code->co_firstlineno", l->code_firstlineno_off, d->code_firstlineno },
		{ "code->co_code_adaptive", l->code_adaptive_off, d->code_adaptive },
		{ "ob_type", l->ob_type_off, d->ob_type },
		{ "tp_name", l->tp_name_off, d->tp_name },
		{ "tp_flags", l->tp_flags_off, d->tp_flags },
		{ "sizeof(PyASCIIObject)", l->ascii_data_off, d->ascii_size },
	};
	int bad = 0;

	*what = NULL;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (pairs[i].table == pairs[i].target)
			continue;
		if (!bad)
			*what = pairs[i].name;
		bad++;
	}
	return bad;
}
