/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The probe plan: for one interpreter, where each hook is (symbol table,
 * dynamic symbols, separate debug file or USDT note), at which address and file
 * offset, which of them pyobjlife will attach, and what is missing and why.
 */
#ifndef PYOBJLIFE_PROBE_PLAN_H
#define PYOBJLIFE_PROBE_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "frame_layout.h"
#include "gc_layout.h"
#include "interpreter.h"
#include "probe_placement.h"

#define HOOK_MAX_SITES 8

struct calibration;

enum hook_source {
	HOOK_SRC_NONE,
	HOOK_SRC_SYMTAB,    /* .symtab of the interpreter file */
	HOOK_SRC_DYNSYM,    /* .dynsym of the interpreter file */
	HOOK_SRC_DEBUGFILE, /* .symtab of the separate debug file */
	HOOK_SRC_USDT,	    /* a .note.stapsdt probe */
};

struct hook_site {
	char symbol[96]; /* symbol name, or provider:probe for USDT */
	enum hook_source source;
	uint64_t vaddr;	 /* link-time address */
	uint64_t offset; /* file offset (what a uprobe takes) */
	uint64_t size;	 /* function or object size, 0 for USDT */
	uint64_t semaphore;
	char args[64];		      /* USDT argument spec */
	struct probe_placement place; /* where in it the probe goes (probe_plan_place) */
};

/* The class of instruction a site's probe traps on: its placement's, else its entry's. */
enum probe_cost_class probe_site_cost(const struct hook_site *site);

struct hook {
	const char *name;    /* "_PyRuntime", "gc__start", ... */
	const char *purpose; /* one phrase for the plan listing */
	int n_sites;
	struct hook_site sites[HOOK_MAX_SITES];
	char missing[192]; /* why n_sites == 0 */
};

enum gc_method {
	GC_METHOD_NONE,
	GC_METHOD_USDT,	  /* python:gc__start + python:gc__done */
	GC_METHOD_UPROBE, /* entry + return probes on the collector function */
};

enum gc_preference {
	GC_PREFER_AUTO,
	GC_PREFER_USDT,
	GC_PREFER_UPROBE,
};

enum alloc_method {
	ALLOC_METHOD_NONE,
	ALLOC_METHOD_BIRTH, /* _Py_NewReference: every object born, free lists included */
	ALLOC_METHOD_TYPED, /* allocator entry points that take the type */
};

struct probe_plan {
	struct py_target target;
	const struct gc_layout *layout;
	char layout_note[192];	/* cross-check result against _Py_DebugOffsets (3.13+) */
	bool layout_bad;	/* the interpreter's _Py_DebugOffsets contradict the table */
	struct hook runtime;	/* _PyRuntime: the root of every pointer we follow */
	struct hook usdt_start; /* python:gc__start */
	struct hook usdt_done;	/* python:gc__done */
	struct hook collector;	/* collect / gc_collect_main and their compiler clones */
	/* allocations (full mode) */
	const struct frame_layout *frame_layout;
	char frame_layout_note[192];
	bool frame_layout_bad;
	bool lto;		 /* link-time optimised: exported wrappers are inlined */
	struct hook alloc_birth; /* _Py_NewReference(op) */
	struct hook
		alloc_typed_var; /* PyType_GenericAlloc, _PyObject_GC_NewVar, _PyObject_NewVar */
	struct hook alloc_typed; /* _PyObject_GC_New, _PyObject_New */
	enum alloc_method alloc_method;
	char alloc_note[384]; /* what the chosen hooks see and miss */
	/* lifecycle (full mode): deaths of the types whose every death these functions see */
	struct hook dealloc;
	char lifecycle_note[384];
	/* heap context (every mode): pymalloc arenas, allocated and freed through a pointer */
	struct hook arena_alloc, arena_free;
	int n_alloc_probes;
	enum gc_method gc_method;
	char gc_note[256];    /* why this method, or why none */
	int n_probes;	      /* probes attaching the plan makes */
	bool symtab, dynsym;  /* which tables the interpreter file has */
	size_t debug_symbols; /* .symtab entries of the debug file, 0 if none */
	/* probe placement: set by probe_plan_place(); the measured costs, when calibrated */
	bool placed;
	enum probe_placement_policy placement;
	const struct calibration *calibration;
};

/*
 * Build the plan for a discovered interpreter. `launching` says the target has
 * not run yet (its load address is unknown until exec). Returns 0, or -ENOENT
 * when no way to observe collections exists (gc_note says why).
 */
int probe_plan_build(struct probe_plan *p, const struct py_target *t, enum gc_preference pref,
		     bool launching);

/*
 * Follow no object to its death (--no-lifetimes): the deallocator probes, and
 * the typed allocators' return probes that give a born object's address, go.
 */
void probe_plan_drop_deaths(struct probe_plan *p);

/*
 * Choose each code hook's probe address (probe_placement.h). Until this runs,
 * every probe sits at its site's entry. 0, or -errno when the file is unreadable.
 */
int probe_plan_place(struct probe_plan *p, enum probe_placement_policy policy);
/* Attach measured per-class costs (or NULL) to the plan and its placed probes. */
void probe_plan_set_calibration(struct probe_plan *p, const struct calibration *c);
/* {"policy", "calibration"}: how the probes were placed, and what a hit costs. */
json_t *probe_plan_placement_json(const struct probe_plan *p);
/* The cost classes of the probes a recording attaches: a mask of 1 << enum probe_cost_class. */
unsigned probe_plan_cost_classes(const struct probe_plan *p, bool with_alloc);

void probe_plan_print(FILE *out, const struct probe_plan *p);
json_t *probe_plan_to_json(const struct probe_plan *p);
/* The "probes" array of the recording JSON: what was attached, where. */
json_t *probe_plan_attached_json(const struct probe_plan *p, bool with_alloc);

const char *hook_source_name(enum hook_source s);
const char *alloc_method_name(enum alloc_method m);

#endif
