/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * CPython's bytecode-offset to source-line tables (co_lnotab, co_linetable),
 * decoded from bytes copied out of the target process. The bytes are
 * untrusted: whatever they hold, a lookup reads only tab[0..len) and returns
 * a line or -1. tests/linetable checks every instruction of each installed
 * interpreter's standard library against that interpreter's own answer.
 */
#ifndef PYOBJLIFE_LINE_TABLE_H
#define PYOBJLIFE_LINE_TABLE_H

#include <stddef.h>
#include <stdint.h>

enum line_table_format {
	LINE_TABLE_UNKNOWN = 0,
	LINE_TABLE_LNOTAB = 1,	  /* 3.8, 3.9: co_lnotab */
	LINE_TABLE_LINETABLE_310, /* 3.10: co_linetable */
	LINE_TABLE_LOCATIONS,	  /* 3.11+: PEP 626/657 location table */
};

/* The format a CPython 3.<minor> uses, or 0 for an unknown minor version. */
enum line_table_format line_table_format_for(int minor);

/*
 * Source line of the instruction at byte offset `offset` (offset of the code
 * unit in the bytecode, in bytes, for every version).
 *
 * An offset that is negative as an int32 (3.8/3.9 f_lasti = -1 before the
 * first instruction, 3.10's -1 * 2, 3.11's prev_instr one unit before the
 * code) gives firstlineno, as PyCode_Addr2Line does.
 *
 * Returns the line (>= 0), or -1 when the instruction has no line (3.10 "no
 * line" entries, 3.11+ code 15 entries), the offset lies past the table
 * (3.10+; a co_lnotab does not record the code length, so past its last entry
 * the last line holds), the table is malformed (3.11+ entry not starting with
 * bit 7, varint cut off by the end) or the line would not fit an int.
 */
int line_table_lookup(enum line_table_format f, const uint8_t *tab, size_t len, int firstlineno,
		      uint32_t offset);

#endif
