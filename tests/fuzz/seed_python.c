// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The seed of fuzz_elf_notes: a small ELF file with what a probe plan looks
 * for in a CPython binary, so that the fuzzer starts from images every reader
 * accepts: Py_GetVersion, Py_Version (unless NO_PY_VERSION), _PyRuntime with
 * the _Py_DebugOffsets cookie, the GC USDT notes with semaphores, the
 * collector (with a clone, a cold part and an LTO-private copy), the
 * allocation, deallocation and arena hooks, each a real function with a
 * prologue for probe placement (with LTO_SEED, one under its LTO-private
 * name). make_elf_seeds.sh builds it several ways.
 */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#ifndef PY_VERSION_HEX_SEED
#define PY_VERSION_HEX_SEED 0x030C01F0 /* 3.12.1 final */
#endif

unsigned short python_gc__start_semaphore __attribute__((section(".probes")));
unsigned short python_gc__done_semaphore __attribute__((section(".probes")));
#ifndef NO_PY_VERSION
const unsigned long Py_Version = PY_VERSION_HEX_SEED;
#endif
/* _Py_DebugOffsets start with this cookie, then the version (3.13+) */
struct {
	char cookie[8];
	unsigned long version;
	char rest[752];
} _PyRuntime = { "xdebugpy", PY_VERSION_HEX_SEED, { 0 } };

volatile long sink;

const char *Py_GetVersion(void)
{
	return "3.12.1 (seed)";
}

/* One hooked function: a frame, a call, a store, as the interpreter's have. */
#define HOOK(name, sym)                                                                            \
	__attribute__((noinline)) long name(long a, long b) __asm__(sym);                          \
	__attribute__((noinline)) long name(long a, long b)                                        \
	{                                                                                          \
		sink = a;                                                                          \
		if (b > 3)                                                                         \
			return name(a + 1, b - 1) + (long)Py_GetVersion();                         \
		return a * b;                                                                      \
	}

HOOK(collector, "gc_collect_main")
HOOK(collector_clone, "gc_collect_main.constprop.0")
HOOK(collector_cold, "gc_collect_main.cold")
HOOK(collector_old, "collect")
HOOK(new_reference, "_Py_NewReference")
HOOK(generic_alloc, "PyType_GenericAlloc")
HOOK(gc_new_var, "_PyObject_GC_NewVar")
HOOK(new_var, "_PyObject_NewVar")
HOOK(gc_new, "_PyObject_GC_New")
HOOK(new, "_PyObject_New")
HOOK(subtype_dealloc, "subtype_dealloc")
#ifdef LTO_SEED
HOOK(list_dealloc, "list_dealloc.lto_priv.0") /* GCC's name for a function LTO privatised */
#else
HOOK(list_dealloc, "list_dealloc")
#endif
HOOK(dict_dealloc, "dict_dealloc")
HOOK(tupledealloc, "tupledealloc")
HOOK(float_dealloc, "float_dealloc")
HOOK(float_exact_dealloc, "_PyFloat_ExactDealloc")
HOOK(arena_alloc, "_PyMem_ArenaAlloc")
HOOK(arena_free, "_PyMem_ArenaFree")
HOOK(arena_mmap, "_PyObject_ArenaMmap")
HOOK(arena_munmap, "_PyObject_ArenaMunmap")

static long run_collection(int generation)
{
	long n = collector(generation, 2);

	if (python_gc__start_semaphore)
		STAP_PROBE1(python, gc__start, generation);
	if (python_gc__done_semaphore)
		STAP_PROBE1(python, gc__done, n);
	return n;
}

int main(int argc, char **argv)
{
	(void)argv;
	sink = collector_clone(argc, 1) + collector_cold(argc, 1) + collector_old(argc, 1);
	sink = new_reference(argc, 1) + generic_alloc(argc, 1) + gc_new_var(argc, 1) +
	       new_var(argc, 1) + gc_new(argc, 1) + new (argc, 1);
	sink = subtype_dealloc(argc, 1) + list_dealloc(argc, 1) + dict_dealloc(argc, 1) +
	       tupledealloc(argc, 1) + float_dealloc(argc, 1) + float_exact_dealloc(argc, 1);
	sink = arena_alloc(argc, 1) + arena_free(argc, 1) + arena_mmap(argc, 1) +
	       arena_munmap(argc, 1) + _PyRuntime.cookie[argc & 7];
	return (int)run_collection(argc);
}
