// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Print pyobjlife's frame layout table row for one minor version as "name value"
 * lines, for check_frame_layout.py. Absent fields (FRAME_LAYOUT_NONE) print "none".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "frame_layout.h"

/* One uint32_t offset of the row, or "none" for FRAME_LAYOUT_NONE. */
static void put(const char *name, uint32_t v)
{
	if (v == FRAME_LAYOUT_NONE)
		printf("%s none\n", name);
	else
		printf("%s %" PRIu32 "\n", name, v);
}

#define PUT(l, field) put(#field, (l)->field)

int main(int argc, char **argv)
{
	const struct frame_layout *l;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MINOR\n", argv[0]);
		return 2;
	}
	l = frame_layout_lookup(3, atoi(argv[1]));
	if (!l)
		return 1;
	PUT(l, tstate_current_off);
	PUT(l, interp_gil_ptr_off);
	PUT(l, gil_last_holder_off);
	PUT(l, interp_threads_head_off);
	PUT(l, tstate_next_off);
	PUT(l, tstate_thread_id_off);
	PUT(l, tstate_frame_off);
	PUT(l, cframe_current_off);
	PUT(l, tstate_datastack_chunk_off);
	PUT(l, tstate_datastack_top_off);
	PUT(l, frame_code_off);
	PUT(l, frame_previous_off);
	PUT(l, frame_instr_off);
	PUT(l, frame_owner_off);
	PUT(l, frame_size);
	PUT(l, code_adaptive_off);
	PUT(l, code_code_off);
	PUT(l, code_filename_off);
	PUT(l, code_name_off);
	PUT(l, code_qualname_off);
	PUT(l, code_firstlineno_off);
	PUT(l, code_linetable_off);
	PUT(l, code_firsttraceable_off);
	PUT(l, unicode_length_off);
	PUT(l, unicode_state_off);
	PUT(l, ascii_data_off);
	PUT(l, compact_data_off);
	PUT(l, bytes_size_off);
	PUT(l, bytes_data_off);
	PUT(l, ob_type_off);
	PUT(l, ob_size_off);
	PUT(l, tp_name_off);
	PUT(l, tp_basicsize_off);
	PUT(l, tp_itemsize_off);
	PUT(l, tp_flags_off);
	PUT(l, tp_dealloc_off);
	printf("instr_kind %d\n", (int)l->instr_kind);
	printf("owner_skip_from %u\n", (unsigned)l->owner_skip_from);
	printf("preheader_flags %" PRIu64 "\n", l->preheader_flags);
	printf("size_unset_flags %" PRIu64 "\n", l->size_unset_flags);
	return 0;
}
