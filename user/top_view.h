/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The screen of `pyobjlife top` (ncurses): what one refresh shows, drawn in
 * the order it is given. No BPF and no target here: cmd_top.c gathers.
 */
#ifndef PYOBJLIFE_TOP_VIEW_H
#define PYOBJLIFE_TOP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "progress.h"
#include "pyobjlife.h"

enum top_site_sort {
	TOP_SORT_RATE, /* allocations per second over the last interval */
	TOP_SORT_TOTAL,
	TOP_SORT_BYTES,
	TOP_SORT_COUNT,
};

/* One leaf line and type: allocations since the attach and over the last interval. */
struct top_site {
	const char *file, *function, *type;
	int line; /* -1: no line */
	double rate;
	uint64_t allocations, bytes;
};

/* Live GC objects of one type, in the latest census of each generation. */
struct top_census_row {
	const char *type;
	uint64_t count[PYOBJLIFE_NUM_GENERATIONS];
	uint64_t total;
};

struct top_gc_row {
	const struct gc_gen_agg *total;		      /* since the attach */
	uint64_t recent_collections, recent_pause_ns; /* over the last interval */
	uint64_t recent_max_ns;			      /* from the collections seen in it */
};

struct top_screen {
	pid_t pid;
	const char *python, *binary;
	bool full_mode, paused;
	double elapsed_s, interval_s;
	uint64_t rss_bytes; /* 0: unknown */
	/* allocation sites (full mode) */
	const struct top_site *sites;
	size_t n_sites;
	enum top_site_sort site_sort;
	double total_rate;
	uint64_t total_allocations;
	/* live objects (full mode) */
	const struct top_census_row *census;
	size_t n_census;
	int census_sort;				/* a generation, or -1: the total */
	bool census_seen[PYOBJLIFE_NUM_GENERATIONS];	/* a census of it arrived */
	double census_age_s[PYOBJLIFE_NUM_GENERATIONS]; /* how old the shown one is */
	double census_young_interval_s, census_full_interval_s;
	/* collections, losses, cost */
	struct top_gc_row gc[PYOBJLIFE_NUM_GENERATIONS];
	const struct gc_agg *gc_agg;
	const struct alloc_agg *alloc_agg;
	struct overhead overhead;
};

/* Whether stdout is a terminal curses can drive: 0, or -1 with the reason in `why`. */
int top_view_check_terminal(char *why, size_t cap);
/* Take over the terminal: 0, or -1 with the reason in `why`. */
int top_view_open(char *why, size_t cap);
void top_view_draw(const struct top_screen *s);
/* The next key pressed, or -1 when none is waiting. */
int top_view_key(void);
/* Give the terminal back as it was. */
void top_view_close(void);

const char *top_site_sort_name(enum top_site_sort s);

#endif
