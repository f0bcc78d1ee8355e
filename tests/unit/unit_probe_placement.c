// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Probe placement on fixed byte sequences. The real prologues were copied from
 * the installed builds (pyenv 3.9-3.13 libpython, Debian's /usr/bin/python3.11)
 * with objdump; each expected answer is worked out from the x86 semantics in the
 * comment beside it (which instruction the kernel emulates, which registers an
 * instruction writes, where jumps land), not from running this code. The
 * emulated / single-stepped split is the one measured in
 * uprobe-cost-model.md, section 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "probe_placement.h"

static const struct probe_needs needs_rdi = { .regs = GPR_BIT(GPR_RDI) };
static const struct probe_needs needs_rdi_rsi = { .regs = GPR_BIT(GPR_RDI) | GPR_BIT(GPR_RSI) };
static const struct probe_needs needs_rdi_stack = { .regs = GPR_BIT(GPR_RDI), .stack = true };

static struct probe_placement place_bytes(const uint8_t *code, size_t len, size_t size,
					  uint64_t vaddr, const char *symbol,
					  const struct probe_needs *needs,
					  enum probe_placement_policy policy)
{
	struct probe_placement pl;
	struct probe_site_code c = {
		.bytes = code, .len = len, .size = size, .vaddr = vaddr, .symbol = symbol
	};

	assert_int_equal(probe_place(&c, needs, policy, &pl), 0);
	return pl;
}

/* a whole function: every byte given is the function */
#define PLACE(code, needs)                                                                         \
	place_bytes(code, sizeof(code), sizeof(code), 0x1000, NULL, needs, PLACEMENT_CHEAPEST)

static void assert_placed(const struct probe_placement *pl, uint32_t offset,
			  enum probe_cost_class cost, const char *insn)
{
	if (pl->offset != offset || pl->cost != cost || strcmp(pl->insn, insn))
		fail_msg("placed at +%u %s (%s), expected +%u %s (%s); reason: %s", pl->offset,
			 pl->insn, probe_cost_class_name(pl->cost), offset, insn,
			 probe_cost_class_name(cost), pl->reason);
}

static void assert_reason_has(const struct probe_placement *pl, const char *what)
{
	if (!strstr(pl->reason, what))
		fail_msg("reason \"%s\" does not mention \"%s\"", pl->reason, what);
}

/* ---- real prologues (objdump of the installed builds) ---- */

/* _Py_NewReference, libpython3.9.so.1.0: 46 bytes at 0xff440 */
#define PY39_NEW_REFERENCE_VADDR 0xff440
#define PY39_NEW_REFERENCE_SIZE	 46
static const uint8_t py39_new_reference[] = {
	0x48, 0x8b, 0x05, 0x71, 0x44, 0x25, 0x00, 0x53, 0x48, 0x89, 0xfb, 0x8b,
	0x40, 0x04, 0x85, 0xc0, 0x75, 0x0e, 0x48, 0xc7, 0x03, 0x01, 0x00, 0x00,
	0x00, 0x5b, 0xc3, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xe8, 0x1b, 0x48, 0xf6,
	0xff, 0x48, 0xc7, 0x03, 0x01, 0x00, 0x00, 0x00, 0x5b, 0xc3,
};

/* _Py_NewReference, libpython3.12.so.1.0: 46 bytes at 0x1c95d0 */
#define PY312_NEW_REFERENCE_VADDR 0x1c95d0
#define PY312_NEW_REFERENCE_SIZE  46
static const uint8_t py312_new_reference[] = {
	0x48, 0x8b, 0x05, 0x29, 0xa7, 0x37, 0x00, 0x53, 0x48, 0x89, 0xfb, 0x8b,
	0x80, 0xd4, 0x0a, 0x00, 0x00, 0x85, 0xc0, 0x75, 0x0b, 0x48, 0xc7, 0x03,
	0x01, 0x00, 0x00, 0x00, 0x5b, 0xc3, 0x66, 0x90, 0xe8, 0xcb, 0x91, 0x12,
	0x00, 0x48, 0xc7, 0x03, 0x01, 0x00, 0x00, 0x00, 0x5b, 0xc3,
};

/* _Py_NewReference, libpython3.13.so.1.0: 41 bytes at 0x14e4e0 */
#define PY313_NEW_REFERENCE_VADDR 0x14e4e0
#define PY313_NEW_REFERENCE_SIZE  41
static const uint8_t py313_new_reference[] = {
	0x48, 0x8b, 0x15, 0xc9, 0xc7, 0x39, 0x00, 0x48, 0xc7, 0x07, 0x01, 0x00, 0x00, 0x00,
	0x48, 0x8b, 0x82, 0x48, 0x28, 0x00, 0x00, 0x48, 0x85, 0xc0, 0x74, 0x0e, 0x48, 0x8b,
	0x92, 0x50, 0x28, 0x00, 0x00, 0x31, 0xf6, 0xff, 0xe0, 0x0f, 0x1f, 0x00, 0xc3,
};

/* _Py_NewReference, python3.11: 49 bytes at 0x4d1040 */
#define DEB311_NEW_REFERENCE_VADDR 0x4d1040
#define DEB311_NEW_REFERENCE_SIZE  49
static const uint8_t deb311_new_reference[] = {
	0x8b, 0x05, 0xbe, 0x39, 0x56, 0x00, 0x85, 0xc0, 0x75, 0x08, 0x48, 0xc7, 0x07,
	0x01, 0x00, 0x00, 0x00, 0xc3, 0x48, 0x83, 0xec, 0x18, 0x48, 0x89, 0x7c, 0x24,
	0x08, 0xe8, 0xa0, 0x34, 0x0c, 0x00, 0x48, 0x8b, 0x7c, 0x24, 0x08, 0x48, 0xc7,
	0x07, 0x01, 0x00, 0x00, 0x00, 0x48, 0x83, 0xc4, 0x18, 0xc3,
};

/* _PyObject_GC_New, python3.11: 685 bytes at 0x4d0820 */
#define DEB311_GC_NEW_VADDR 0x4d0820
#define DEB311_GC_NEW_SIZE  685
static const uint8_t deb311_gc_new[] = {
	0x48, 0xba, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x41, 0x54, 0x55, 0x48, 0x89,
	0xfd, 0x53, 0x48, 0x83, 0xec, 0x10, 0x48, 0x8b, 0x87, 0xa8, 0x00, 0x00, 0x00, 0x48, 0x89,
	0xc3, 0x48, 0xc1, 0xe8, 0x03, 0x48, 0xc1, 0xeb, 0x0d, 0x83, 0xe0, 0x02, 0x83, 0xe3, 0x02,
	0x48, 0x01, 0xc3, 0x48, 0x8b, 0x47, 0x20, 0x4c, 0x8b, 0x25, 0x05, 0x5c, 0x58, 0x00, 0x48,
	0xc1, 0xe3, 0x03, 0x48, 0x29, 0xda, 0x48, 0x39, 0xc2, 0x0f, 0x82, 0x61, 0x46, 0xf5, 0xff,
	0x48, 0x01, 0xd8, 0x48, 0x89, 0xc6, 0x0f, 0x88, 0xf4, 0x01, 0x00, 0x00, 0x48, 0x8b, 0x05,
	0xca, 0x46, 0x48, 0x00, 0x48, 0x8b, 0x3d, 0xbb, 0x46, 0x48, 0x00, 0x48, 0x3d, 0xe0, 0x0b,
	0x4d, 0x00, 0x0f, 0x85, 0xcf, 0x01, 0x00, 0x00, 0x48, 0x8d, 0x46, 0xff, 0x48, 0x3d, 0xff,
	0x01, 0x00, 0x00, 0x0f, 0x87, 0x0f, 0x01, 0x00, 0x00, 0x8d, 0x7e, 0xff, 0xc1, 0xef, 0x04,
	0x8d, 0x04, 0x3f, 0x48, 0x8b, 0x14, 0xc5, 0x20, 0x4d, 0x95, 0x00, 0x4c, 0x8b, 0x42, 0x10,
	0x4c, 0x39, 0xc2, 0x0f, 0x84, 0xd0, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x42, 0x08, 0x83, 0x02,
	0x01, 0x48, 0x8b, 0x08, 0x48, 0x89, 0x4a, 0x08, 0x48, 0x85, 0xc9, 0x74, 0x6e, 0x66, 0x0f,
	0xef, 0xc0, 0x48, 0x01, 0xc3, 0x0f, 0x11, 0x00, 0x48, 0x8b, 0x3d, 0x7d, 0x5b, 0x58, 0x00,
	0x4c, 0x8b, 0x67, 0x10, 0x0f, 0x11, 0x43, 0xf0, 0x41, 0x8b, 0x84, 0x24, 0xb4, 0x02, 0x00,
	0x00, 0x41, 0x8b, 0x94, 0x24, 0xb0, 0x02, 0x00, 0x00, 0x83, 0xc0, 0x01, 0x41, 0x89, 0x84,
	0x24, 0xb4, 0x02, 0x00, 0x00, 0x39, 0xd0, 0x0f, 0x8f, 0xe3, 0x00, 0x00, 0x00, 0x48, 0x89,
	0x6b, 0x08, 0xf6, 0x85, 0xa9, 0x00, 0x00, 0x00, 0x02, 0x75, 0x6d, 0x8b, 0x05, 0xe3, 0x40,
	0x56, 0x00, 0x85, 0xc0, 0x0f, 0x85, 0x5b, 0x01, 0x00, 0x00, 0x48, 0xc7, 0x03, 0x01, 0x00,
	0x00, 0x00, 0x48, 0x83, 0xc4, 0x10, 0x48, 0x89, 0xd8, 0x5b, 0x5d, 0x41, 0x5c, 0xc3, 0x0f,
	0x1f, 0x40, 0x00, 0x8b, 0x72, 0x28, 0x39, 0x72, 0x2c, 0x72, 0x28, 0x83, 0xc7, 0x01, 0x89,
	0xf1, 0xc1, 0xe7, 0x04, 0x48, 0x01, 0xd1, 0x01, 0xf7, 0x48, 0x89, 0x4a, 0x08, 0x89, 0x7a,
	0x28, 0x48, 0xc7, 0x01, 0x00, 0x00, 0x00, 0x00, 0xe9, 0x6a, 0xff, 0xff, 0xff, 0x0f, 0x1f,
	0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x52, 0x18, 0x49, 0x89, 0x50, 0x18, 0x4c,
	0x89, 0x42, 0x10, 0xe9, 0x51, 0xff, 0xff, 0xff, 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00,
	0x48, 0x83, 0x45, 0x00, 0x01, 0xeb, 0x8c, 0x48, 0x89, 0x74, 0x24, 0x08, 0xe8, 0x47, 0x03,
	0x00, 0x00, 0x48, 0x8b, 0x74, 0x24, 0x08, 0x48, 0x85, 0xc0, 0x0f, 0x85, 0x2b, 0xff, 0xff,
	0xff, 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x05, 0xb1, 0x46,
	0x48, 0x00, 0x48, 0x8b, 0x3d, 0xa2, 0x46, 0x48, 0x00, 0x48, 0x3d, 0xd0, 0xc9, 0x4c, 0x00,
	0x0f, 0x85, 0xfc, 0x00, 0x00, 0x00, 0x48, 0x85, 0xf6, 0xbf, 0x01, 0x00, 0x00, 0x00, 0x48,
	0x0f, 0x45, 0xfe, 0xe8, 0x35, 0xec, 0xf4, 0xff, 0x48, 0x85, 0xc0, 0x0f, 0x84, 0x87, 0x00,
	0x00, 0x00, 0x48, 0x83, 0x05, 0x94, 0xe4, 0x5a, 0x00, 0x01, 0xe9, 0xe1, 0xfe, 0xff, 0xff,
	0x41, 0x83, 0xbc, 0x24, 0x94, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x84, 0x0e, 0xff, 0xff, 0xff,
	0x85, 0xd2, 0x0f, 0x84, 0x06, 0xff, 0xff, 0xff, 0x41, 0x83, 0xbc, 0x24, 0x50, 0x03, 0x00,
	0x00, 0x00, 0x0f, 0x85, 0xf7, 0xfe, 0xff, 0xff, 0x48, 0x83, 0x7f, 0x60, 0x00, 0x0f, 0x85,
	0xec, 0xfe, 0xff, 0xff, 0x41, 0x8b, 0x84, 0x24, 0xe0, 0x02, 0x00, 0x00, 0x49, 0x8d, 0x8c,
	0x24, 0xc8, 0x02, 0x00, 0x00, 0x41, 0xc7, 0x84, 0x24, 0x50, 0x03, 0x00, 0x00, 0x01, 0x00,
	0x00, 0x00, 0x41, 0x39, 0x84, 0x24, 0xe4, 0x02, 0x00, 0x00, 0x7f, 0x49, 0xbe, 0x01, 0x00,
	0x00, 0x00, 0x8b, 0x01, 0x39, 0x41, 0x04, 0x7f, 0x5e, 0x48, 0x83, 0xe9, 0x18, 0x85, 0xf6,
	0x74, 0x5b, 0x31, 0xf6, 0xeb, 0xed, 0xff, 0xd0, 0x48, 0x85, 0xc0, 0x0f, 0x85, 0x67, 0xfe,
	0xff, 0xff, 0x4c, 0x89, 0xe7, 0xe8, 0x9d, 0x69, 0x18, 0x00, 0x48, 0x89, 0xc3, 0x48, 0x85,
	0xdb, 0x0f, 0x85, 0x8f, 0xfe, 0xff, 0xff, 0xe9, 0xac, 0xfe, 0xff, 0xff, 0x48, 0x89, 0xdf,
	0xe8, 0x74, 0x3a, 0x0c, 0x00, 0xe9, 0x98, 0xfe, 0xff, 0xff, 0x49, 0x8b, 0x84, 0x24, 0x68,
	0x03, 0x00, 0x00, 0xbe, 0x04, 0x00, 0x00, 0x00, 0x48, 0x99, 0x48, 0xf7, 0xfe, 0x49, 0x39,
	0x84, 0x24, 0x70, 0x03, 0x00, 0x00, 0x7c, 0x9b, 0xbe, 0x02, 0x00, 0x00, 0x00, 0xe8, 0x69,
	0x3e, 0x14, 0x00, 0x31, 0xd2, 0x41, 0x89, 0x94, 0x24, 0x50, 0x03, 0x00, 0x00, 0xe9, 0x48,
	0xfe, 0xff, 0xff, 0xff, 0xd0, 0xe9, 0x0e, 0xff, 0xff, 0xff,
};

/* PyType_GenericAlloc, python3.11: 837 bytes at 0x4ddd90 */
#define DEB311_GENERIC_ALLOC_HEAD_VADDR 0x4ddd90
#define DEB311_GENERIC_ALLOC_HEAD_SIZE	837
static const uint8_t deb311_generic_alloc_head[] = {
	0x41, 0x56, 0x49, 0x89, 0xfe, 0x41, 0x55, 0x49,
	0x89, 0xf5, 0x41, 0x54, 0x55, 0x53, 0x48, 0x8d,
};

/* gc_collect_main, libpython3.12.so.1.0: 5066 bytes at 0x3035a0 */
#define PY312_COLLECTOR_HEAD_VADDR 0x3035a0
#define PY312_COLLECTOR_HEAD_SIZE  5066
static const uint8_t py312_collector_head[] = {
	0x41, 0x57, 0x41, 0x56, 0x41, 0x55, 0x41, 0x54,
	0x55, 0x53, 0x48, 0x81, 0xec, 0x18, 0x01, 0x00,
};

/* _Py_Dealloc, libpython3.12.so.1.0: 7 bytes at 0x1c9a10 */
#define PY312_DEALLOC_VADDR 0x1c9a10
#define PY312_DEALLOC_SIZE  7
static const uint8_t py312_dealloc[] = {
	0x48, 0x8b, 0x47, 0x08, 0xff, 0x60, 0x30,
};

/*
 * 3.9 (3.10 to 3.12 alike): mov 0x254471(%rip),%rax; push %rbx; mov %rdi,%rbx; ...
 * +0 rip-relative load: single-stepped. +7 push %rbx: emulated; the load wrote
 * only %rax, and the only jump (jne at +0x10) lands on +0x20, past it.
 */
static void test_new_reference_pyenv_3_9_and_3_12(void **state)
{
	struct probe_placement pl = place_bytes(py39_new_reference, sizeof(py39_new_reference),
						PY39_NEW_REFERENCE_SIZE, PY39_NEW_REFERENCE_VADDR,
						"_Py_NewReference", &needs_rdi, PLACEMENT_CHEAPEST);

	(void)state;
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "pushq %rbx");
	assert_int_equal(pl.entry_cost, PROBE_COST_SINGLE_STEP);
	assert_string_equal(pl.entry_insn, "movq 0x254471(%rip), %rax");
	pl = place_bytes(py312_new_reference, sizeof(py312_new_reference), PY312_NEW_REFERENCE_SIZE,
			 PY312_NEW_REFERENCE_VADDR, "_Py_NewReference", &needs_rdi,
			 PLACEMENT_CHEAPEST);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "pushq %rbx");
	assert_null(pl.alternative);
}

/*
 * 3.13: mov 0x39c7c9(%rip),%rdx; movq $1,(%rdi); mov 0x2848(%rdx),%rax;
 * test %rax,%rax; je +0x28. Nothing before the je at +24 writes %rdi (the movq
 * stores through it), nothing branches, and the only jumps (je, jmp *%rax) do
 * not land inside: +24, the je itself, emulated.
 */
static void test_new_reference_pyenv_3_13(void **state)
{
	struct probe_placement pl = place_bytes(py313_new_reference, sizeof(py313_new_reference),
						PY313_NEW_REFERENCE_SIZE, PY313_NEW_REFERENCE_VADDR,
						"_Py_NewReference", &needs_rdi, PLACEMENT_CHEAPEST);
	struct probe_needs rdi_rdx = { .regs = GPR_BIT(GPR_RDI) | GPR_BIT(GPR_RDX) };

	(void)state;
	assert_placed(&pl, 24, PROBE_COST_EMULATED, "je 0x14e508");
	/* a program that read %rdx too: the first instruction writes it, nowhere to go */
	pl = place_bytes(py313_new_reference, sizeof(py313_new_reference), PY313_NEW_REFERENCE_SIZE,
			 PY313_NEW_REFERENCE_VADDR, "_Py_NewReference", &rdi_rdx,
			 PLACEMENT_CHEAPEST);
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "movq 0x39c7c9(%rip), %rdx");
	assert_reason_has(&pl, "%rdx");
	assert_non_null(pl.alternative);
}

/* Debian 3.11: mov 0x5639be(%rip),%eax; test %eax,%eax; jne: the jne at +8 */
static void test_new_reference_debian_3_11(void **state)
{
	struct probe_placement pl = place_bytes(
		deb311_new_reference, sizeof(deb311_new_reference), DEB311_NEW_REFERENCE_SIZE,
		DEB311_NEW_REFERENCE_VADDR, "_Py_NewReference", &needs_rdi, PLACEMENT_CHEAPEST);

	(void)state;
	assert_placed(&pl, 8, PROBE_COST_EMULATED, "jne 0x4d1052");
}

/*
 * Debian 3.11 _PyObject_GC_New(type): movabs $0x7fffffffffffffff,%rdx (10 bytes,
 * single-stepped, writes only %rdx); push %r12 at +10, emulated. None of the
 * function's jumps lands in +1..+10 (they go to +0xb2 and beyond).
 */
static void test_gc_new_debian_3_11(void **state)
{
	struct probe_placement pl = place_bytes(deb311_gc_new, sizeof(deb311_gc_new),
						DEB311_GC_NEW_SIZE, DEB311_GC_NEW_VADDR,
						"_PyObject_GC_New", &needs_rdi, PLACEMENT_CHEAPEST);

	(void)state;
	assert_placed(&pl, 10, PROBE_COST_EMULATED, "pushq %r12");
	assert_int_equal(pl.entry_cost, PROBE_COST_SINGLE_STEP);
}

/* Debian 3.11 PyType_GenericAlloc(type, n) starts with push %r14: stays, emulated */
static void test_generic_alloc_debian_3_11(void **state)
{
	struct probe_placement pl =
		place_bytes(deb311_generic_alloc_head, sizeof(deb311_generic_alloc_head),
			    DEB311_GENERIC_ALLOC_HEAD_SIZE, DEB311_GENERIC_ALLOC_HEAD_VADDR,
			    "PyType_GenericAlloc", &needs_rdi_rsi, PLACEMENT_CHEAPEST);

	(void)state;
	assert_placed(&pl, 0, PROBE_COST_EMULATED, "pushq %r14");
	assert_reason_has(&pl, "entry instruction is emulated");
}

/* The collector shares its site with a return probe: it stays at +0 (push %r15 there) */
static void test_collector_stays_for_return_probe(void **state)
{
	static const char why[] = "stays at +0: a return probe shares the site";
	struct probe_needs fixed = { .fixed = why };
	static const uint8_t rip_first[] = { 0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00, /* mov */
					     0x53, 0x5b, 0xc3 };
	struct probe_placement pl = place_bytes(
		py312_collector_head, sizeof(py312_collector_head), PY312_COLLECTOR_HEAD_SIZE,
		PY312_COLLECTOR_HEAD_VADDR, "gc_collect_main", &fixed, PLACEMENT_CHEAPEST);

	(void)state;
	assert_placed(&pl, 0, PROBE_COST_EMULATED, "pushq %r15");
	/* even where the push at +7 would be cheaper */
	pl = PLACE(rip_first, &fixed);
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "movq 0x10(%rip), %rax");
	assert_string_equal(pl.reason, why);
}

/* _Py_Dealloc: mov 0x8(%rdi),%rax; jmp *0x30(%rax): an indirect jump ends it, stays */
static void test_dealloc_has_no_cheap_point(void **state)
{
	struct probe_placement pl =
		place_bytes(py312_dealloc, sizeof(py312_dealloc), PY312_DEALLOC_SIZE,
			    PY312_DEALLOC_VADDR, "_Py_Dealloc", &needs_rdi, PLACEMENT_CHEAPEST);

	(void)state;
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "movq 8(%rdi), %rax");
	assert_reason_has(&pl, "leaves the entry block");
	assert_non_null(pl.alternative);
	assert_non_null(strstr(pl.alternative, "_PyObject_Free"));
}

/* A USDT site: one nop, size unknown */
static void test_usdt_nop(void **state)
{
	static const uint8_t nop[] = { 0x90, 0x48, 0x89, 0xc7 };
	struct probe_needs fixed = { .fixed = "a USDT site" };
	struct probe_placement pl =
		place_bytes(nop, sizeof(nop), 0, 0x4000, NULL, &fixed, PLACEMENT_CHEAPEST);

	(void)state;
	assert_placed(&pl, 0, PROBE_COST_EMULATED, "nop");
}

static void test_policy_entry(void **state)
{
	struct probe_placement pl = place_bytes(py312_new_reference, sizeof(py312_new_reference),
						PY312_NEW_REFERENCE_SIZE, PY312_NEW_REFERENCE_VADDR,
						"_Py_NewReference", &needs_rdi, PLACEMENT_ENTRY);

	(void)state;
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "movq 0x37a729(%rip), %rax");
}

/* ---- synthetic prologues ---- */

/* uprobe-cost-model.md, section 1: each first instruction and its measured path */
static void test_cost_classes_as_measured(void **state)
{
	static const struct {
		uint8_t bytes[10];
		size_t len;
		enum probe_cost_class cls;
	} t[] = {
		{ { 0x55 }, 1, PROBE_COST_EMULATED },			      /* push %rbp */
		{ { 0x41, 0x54 }, 2, PROBE_COST_EMULATED },		      /* push %r12 */
		{ { 0x90 }, 1, PROBE_COST_EMULATED },			      /* nop */
		{ { 0x66, 0x90 }, 2, PROBE_COST_EMULATED },		      /* xchg %ax,%ax */
		{ { 0x0f, 0x1f, 0x40, 0x00 }, 4, PROBE_COST_EMULATED },	      /* nopl 0(%rax) */
		{ { 0x66, 0x0f, 0x1f, 0x44, 0, 0 }, 6, PROBE_COST_EMULATED }, /* nopw */
		{ { 0x0f, 0x1f, 0x44, 0, 0 }, 5, PROBE_COST_EMULATED },	      /* nop5 */
		{ { 0x0f, 0x1f, 0x44, 0, 8 }, 5, PROBE_COST_EMULATED },	      /* clang's nop5 */
		{ { 0xe8, 0, 0, 0, 0 }, 5, PROBE_COST_EMULATED },	      /* call rel32 */
		{ { 0xe9, 0, 0, 0, 0 }, 5, PROBE_COST_EMULATED },	      /* jmp rel32 */
		{ { 0x78, 0x02 }, 2, PROBE_COST_EMULATED },		      /* js rel8 */
		{ { 0x0f, 0x85, 0, 0, 0, 0 }, 6, PROBE_COST_EMULATED },	      /* jne rel32 */
		{ { 0xf3, 0x0f, 0x1e, 0xfa }, 4, PROBE_COST_SINGLE_STEP },    /* endbr64 */
		{ { 0x48, 0x83, 0xec, 0x18 }, 4, PROBE_COST_SINGLE_STEP },    /* sub $0x18,%rsp */
		{ { 0x48, 0x89, 0xf8 }, 3, PROBE_COST_SINGLE_STEP },	      /* mov %rdi,%rax */
		{ { 0x48, 0x8b, 0x05, 0, 0, 0, 0 }, 7, PROBE_COST_SINGLE_STEP }, /* mov x(%rip) */
		{ { 0x48, 0x85, 0xff }, 3, PROBE_COST_SINGLE_STEP },	   /* test %rdi,%rdi */
		{ { 0x48, 0x8d, 0x47, 0x01 }, 4, PROBE_COST_SINGLE_STEP }, /* lea 1(%rdi),%rax */
		/* from the kernel's rules, not measured: pause is REP NOP, 41 90 is xchg %r8d,%eax
		 */
		{ { 0xf3, 0x90 }, 2, PROBE_COST_SINGLE_STEP },
		{ { 0x41, 0x90 }, 2, PROBE_COST_SINGLE_STEP },
		/* a cs-prefixed nop: the kernel refuses the prefix; a REX.W push is not its form */
		{ { 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 }, 9, PROBE_COST_SINGLE_STEP },
		{ { 0x48, 0x55 }, 2, PROBE_COST_SINGLE_STEP },
		{ { 0x66, 0xe9, 0, 0 },
		  4,
		  PROBE_COST_SINGLE_STEP }, /* jmpw: 0x66 branches refused */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (probe_cost_class_of(t[i].bytes, t[i].len) != t[i].cls)
			fail_msg("case %zu (first byte %02x): %s, expected %s", i, t[i].bytes[0],
				 probe_cost_class_name(probe_cost_class_of(t[i].bytes, t[i].len)),
				 probe_cost_class_name(t[i].cls));
	}
}

#define MOV_RIP_RAX 0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00 /* mov 0x100(%rip),%rax */

/* The emulated push comes after a write to %rdi: the program would read the new value */
static void test_argument_written_first(void **state)
{
	static const uint8_t mov_rsi_rdi[] = { 0x48, 0x89, 0xf7, 0x53, 0x5b, 0xc3 };
	static const uint8_t mov_esi_edi[] = { 0x89, 0xf7, 0x53, 0x5b, 0xc3 };	 /* zero-extends */
	static const uint8_t mov_dil[] = { 0x40, 0xb7, 0x00, 0x53, 0x5b, 0xc3 }; /* low byte */
	static const uint8_t pop_rdi[] = { 0x48, 0x8b, 0xc7, 0x5f, 0x53, 0x5b, 0xc3 };
	struct probe_placement pl;

	(void)state;
	pl = PLACE(mov_rsi_rdi, &needs_rdi);
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "movq %rsi, %rdi");
	assert_reason_has(&pl, "writes %rdi");
	pl = PLACE(mov_esi_edi, &needs_rdi);
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "movl %esi, %edi");
	pl = PLACE(mov_dil, &needs_rdi);
	assert_int_equal(pl.offset, 0);
	/* mov %rdi,%rax then pop %rdi: the pop is not emulated and writes %rdi */
	pl = PLACE(pop_rdi, &needs_rdi);
	assert_int_equal(pl.offset, 0);
}

/* Writes to registers the program does not read do not matter */
static void test_other_registers_written(void **state)
{
	/* mov %rsi,%rax; lea 1(%rsi),%rsi; push %rbx */
	static const uint8_t code[] = {
		0x48, 0x89, 0xf0, 0x48, 0x8d, 0x76, 0x01, 0x53, 0x5b, 0xc3
	};
	struct probe_placement pl;

	(void)state;
	pl = PLACE(code, &needs_rdi);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "pushq %rbx");
	/* a typed var allocator's program reads %rsi (nitems) too: the lea changed it */
	pl = PLACE(code, &needs_rdi_rsi);
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "movq %rsi, %rax");
	assert_reason_has(&pl, "+3");
	assert_reason_has(&pl, "%rsi");
}

/* A conditional branch first is itself emulated: it stays at 0 */
static void test_conditional_branch_first(void **state)
{
	static const uint8_t code[] = { 0x78, 0x02, 0x53, 0x5b, 0x31, 0xc0, 0xc3 };
	struct probe_placement pl = PLACE(code, &needs_rdi);

	(void)state;
	assert_placed(&pl, 0, PROBE_COST_EMULATED, "js 0x1004");
}

/*
 * Debian 3.11 PyObject_Malloc's shape: sub $0x18,%rsp; test %rdi,%rdi; js: the js
 * at +7 is the first branch and runs on every call. A program reading stack
 * arguments must stay before the sub.
 */
static void test_branch_after_single_steps_and_rsp(void **state)
{
	static const uint8_t code[] = { 0x48, 0x83, 0xec, 0x18, 0x48, 0x85, 0xff, 0x78, 0x05,
					0x48, 0x83, 0xc4, 0x18, 0xc3, 0x31, 0xc0, 0xc3 };
	struct probe_placement pl;

	(void)state;
	pl = PLACE(code, &needs_rdi);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "js 0x100e");
	pl = PLACE(code, &needs_rdi_stack);
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "subq $0x18, %rsp");
	assert_reason_has(&pl, "%rsp");
}

/* A store into the frame before the push: stack arguments may have changed */
static void test_stack_store_first(void **state)
{
	/* mov %rdi,0x8(%rsp); push %rbx; pop %rbx; ret */
	static const uint8_t code[] = { 0x48, 0x89, 0x7c, 0x24, 0x08, 0x53, 0x5b, 0xc3 };
	struct probe_placement pl;

	(void)state;
	pl = PLACE(code, &needs_rdi);
	assert_placed(&pl, 5, PROBE_COST_EMULATED, "pushq %rbx");
	pl = PLACE(code, &needs_rdi_stack);
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "movq %rdi, 8(%rsp)");
	assert_reason_has(&pl, "stack");
}

/* endbr64 is not emulated (measured: 9.6 us); the push after it is */
static void test_endbr_then_push(void **state)
{
	static const uint8_t code[] = {
		0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5, 0x5d, 0xc3
	};
	struct probe_placement pl = PLACE(code, &needs_rdi_stack);

	(void)state;
	/* even for a program that reads the stack: endbr64 writes nothing */
	assert_placed(&pl, 4, PROBE_COST_EMULATED, "pushq %rbp");
}

static void test_nop_forms(void **state)
{
	static const uint8_t nop2[] = { MOV_RIP_RAX, 0x66, 0x90, 0xc3 };
	static const uint8_t nop4[] = { MOV_RIP_RAX, 0x0f, 0x1f, 0x40, 0x00, 0xc3 };
	static const uint8_t nop5[] = { MOV_RIP_RAX, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3 };
	static const uint8_t nop6[] = { MOV_RIP_RAX, 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3 };
	/* pause (f3 90) is single-stepped and writes nothing: the push after it */
	static const uint8_t pause[] = { MOV_RIP_RAX, 0xf3, 0x90, 0x53, 0x5b, 0xc3 };
	/* 41 90 is xchg %r8d,%eax, not a nop: it writes only %r8 and %rax */
	static const uint8_t xchg_r8[] = { MOV_RIP_RAX, 0x41, 0x90, 0x53, 0x5b, 0xc3 };
	/* a cs-prefixed nop the kernel refuses: the push after it */
	static const uint8_t cs_nop[] = { 0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00,
					  0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00,
					  0x00, 0x00, 0x53, 0x5b, 0xc3 };
	struct probe_placement pl;

	(void)state;
	pl = PLACE(nop2, &needs_rdi);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "nop");
	pl = PLACE(nop4, &needs_rdi);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "nopl (%rax)");
	pl = PLACE(nop5, &needs_rdi);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "nopl (%rax, %rax)");
	pl = PLACE(nop6, &needs_rdi);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "nopw (%rax, %rax)");
	pl = PLACE(pause, &needs_rdi);
	assert_placed(&pl, 9, PROBE_COST_EMULATED, "pushq %rbx");
	pl = PLACE(xchg_r8, &needs_rdi);
	assert_placed(&pl, 9, PROBE_COST_EMULATED, "pushq %rbx");
	pl = PLACE(cs_nop, &needs_rdi);
	assert_placed(&pl, 16, PROBE_COST_EMULATED, "pushq %rbx");
}

/* A later jump back into the entry block would fire the probe again */
static void test_jump_target_in_entry_block(void **state)
{
	/* mov 0x100(%rip),%rax; push %rbx (+7); mov %rax,%rbx; test %rax,%rax; jne at +14 */
#define ENTRY_BLOCK                                                                                \
	0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00, 0x53, 0x48, 0x89, 0xc3, 0x48, 0x85, 0xc0
	/* the jne lands on the push: +16 - 9 */
	static const uint8_t onto_push[] = { ENTRY_BLOCK, 0x75, 0xf7, 0x5b, 0xc3 };
	/* on +8, after the push: harmless */
	static const uint8_t after_push[] = { ENTRY_BLOCK, 0x75, 0xf8, 0x5b, 0xc3 };
	/* on +0, the function's own entry: a call like any other */
	static const uint8_t onto_entry[] = { ENTRY_BLOCK, 0x75, 0xf0, 0x5b, 0xc3 };
	/* mov; mov %rax,%rdx (+7); push %rbx (+10); test; jne at +14 to +7, before the push */
	static const uint8_t before_push[] = {
		0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00, 0x48, 0x89,
		0xc2, 0x53, 0x48, 0x85, 0xc0, 0x75, 0xf7, 0x5b, 0xc3
	};
	struct probe_placement pl;

	(void)state;
	pl = PLACE(onto_push, &needs_rdi);
	assert_placed(&pl, 0, PROBE_COST_SINGLE_STEP, "movq 0x100(%rip), %rax");
	assert_reason_has(&pl, "jump target");
	pl = PLACE(after_push, &needs_rdi);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "pushq %rbx");
	pl = PLACE(onto_entry, &needs_rdi);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "pushq %rbx");
	pl = PLACE(before_push, &needs_rdi);
	assert_int_equal(pl.offset, 0);
	assert_reason_has(&pl, "+7");
}

static void test_control_leaves_first(void **state)
{
	static const uint8_t call_indirect[] = { MOV_RIP_RAX, 0xff, 0xd0, 0x53, 0x5b, 0xc3 };
	static const uint8_t ret_first[] = { MOV_RIP_RAX, 0xc3, 0x53, 0x5b, 0xc3 };
	/* a direct call is emulated, and the probe on it fires before the call */
	static const uint8_t call_direct[] = { MOV_RIP_RAX, 0xe8, 0x02, 0, 0, 0, 0x53, 0xc3, 0xc3 };
	struct probe_placement pl;

	(void)state;
	pl = PLACE(call_indirect, &needs_rdi);
	assert_int_equal(pl.offset, 0);
	assert_reason_has(&pl, "leaves the entry block");
	pl = PLACE(ret_first, &needs_rdi);
	assert_int_equal(pl.offset, 0);
	pl = PLACE(call_direct, &needs_rdi);
	assert_placed(&pl, 7, PROBE_COST_EMULATED, "callq 0x100e");
}

static void test_undecodable_or_long(void **state)
{
	/* 0x06 (push %es) is invalid in 64-bit mode: the jump targets past it are unknown */
	static const uint8_t bad[] = { MOV_RIP_RAX, 0x53, 0x06, 0xc3 };
	uint8_t many[17 * 3 + 3];
	struct probe_placement pl;

	(void)state;
	pl = PLACE(bad, &needs_rdi);
	assert_int_equal(pl.offset, 0);
	assert_reason_has(&pl, "does not decode");
	/* 17 x mov %rax,%rcx, then push: beyond the 16 instructions looked at */
	for (int i = 0; i < 17; i++)
		memcpy(many + 3 * i, (const uint8_t[]){ 0x48, 0x89, 0xc1 }, 3);
	memcpy(many + 51, (const uint8_t[]){ 0x53, 0x5b, 0xc3 }, 3);
	pl = PLACE(many, &needs_rdi);
	assert_int_equal(pl.offset, 0);
	assert_reason_has(&pl, "no emulated instruction");
}

/* Jumps from elsewhere in the file (a .cold fragment) into the skipped prologue */
static void test_jump_into_from_elsewhere(void **state)
{
	uint8_t text[64] = { 0 };
	const uint64_t base = 0x10000, func = base + 32; /* window: func+1 .. func+7 */
	int32_t rel;

	(void)state;
	assert_int_equal(
		probe_find_jump_into(text, sizeof(text), base, func + 1, func + 7, func, func + 16),
		0);
	/* jmp rel32 at base+0 landing on func+7 */
	text[0] = 0xe9;
	rel = (int32_t)(func + 7 - (base + 5));
	memcpy(text + 1, &rel, 4);
	assert_int_equal(
		probe_find_jump_into(text, sizeof(text), base, func + 1, func + 7, func, func + 16),
		base);
	/* landing on the entry itself is a call like any other */
	rel = (int32_t)(func - (base + 5));
	memcpy(text + 1, &rel, 4);
	assert_int_equal(
		probe_find_jump_into(text, sizeof(text), base, func + 1, func + 7, func, func + 16),
		0);
	/* jne rel32 at base+8 landing on func+3 */
	text[8] = 0x0f;
	text[9] = 0x85;
	rel = (int32_t)(func + 3 - (base + 14));
	memcpy(text + 10, &rel, 4);
	assert_int_equal(
		probe_find_jump_into(text, sizeof(text), base, func + 1, func + 7, func, func + 16),
		base + 8);
	/* the same bytes inside the function itself are skipped: it is decoded exactly */
	memset(text, 0, sizeof(text));
	text[40] = 0xe9;
	rel = (int32_t)(func + 3 - (base + 45));
	memcpy(text + 41, &rel, 4);
	assert_int_equal(
		probe_find_jump_into(text, sizeof(text), base, func + 1, func + 7, func, func + 16),
		0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_reference_pyenv_3_9_and_3_12),
		cmocka_unit_test(test_new_reference_pyenv_3_13),
		cmocka_unit_test(test_new_reference_debian_3_11),
		cmocka_unit_test(test_gc_new_debian_3_11),
		cmocka_unit_test(test_generic_alloc_debian_3_11),
		cmocka_unit_test(test_collector_stays_for_return_probe),
		cmocka_unit_test(test_dealloc_has_no_cheap_point),
		cmocka_unit_test(test_usdt_nop),
		cmocka_unit_test(test_policy_entry),
		cmocka_unit_test(test_cost_classes_as_measured),
		cmocka_unit_test(test_argument_written_first),
		cmocka_unit_test(test_other_registers_written),
		cmocka_unit_test(test_conditional_branch_first),
		cmocka_unit_test(test_branch_after_single_steps_and_rsp),
		cmocka_unit_test(test_stack_store_first),
		cmocka_unit_test(test_endbr_then_push),
		cmocka_unit_test(test_nop_forms),
		cmocka_unit_test(test_jump_target_in_entry_block),
		cmocka_unit_test(test_control_leaves_first),
		cmocka_unit_test(test_undecodable_or_long),
		cmocka_unit_test(test_jump_into_from_elsewhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
