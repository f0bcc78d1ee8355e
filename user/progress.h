/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * What a running session costs and loses, as the live views show it: the
 * probe hits the BPF side counted, the CPU they are estimated to cost the
 * target, the events lost; and `record`'s status line on a terminal.
 */
#ifndef PYOBJLIFE_PROGRESS_H
#define PYOBJLIFE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "commands.h"
#include "pyobjlife.h"

/* Probe hits so far, cumulative, by the kind of work each hit does. */
struct probe_counts {
	uint64_t collections;	 /* each: a start and an end probe */
	uint64_t allocations;	 /* allocation probe hits, counted or lost */
	uint64_t deaths;	 /* deallocator hits of followed objects */
	uint64_t arena_calls;	 /* pymalloc arena allocations and frees */
	uint64_t census_objects; /* objects the censuses visited (from the census log) */
};

void probe_counts_read(struct probe_counts *c, const struct gc_agg *g, const struct alloc_agg *a);

struct overhead {
	double hits_per_s;
	double cpu_fraction; /* CPU time the probes take from the target, per second */
};

/* The probes' cost between two readings `seconds` apart, at the reference costs per hit. */
struct overhead overhead_estimate(const struct probe_plan *p, bool full_mode,
				  const struct probe_counts *from, const struct probe_counts *to,
				  double seconds);

/* Events lost to a full ring buffer or a full map, all kinds together. */
uint64_t lost_events(const struct gc_agg *g, const struct alloc_agg *a);

/* "987", "12.3k", "4.56M": a count for a narrow column. */
void format_count(uint64_t n, char *buf, size_t cap);

/* record's status line on stderr, redrawn in place about once a second. */
struct progress {
	FILE *out;
	uint64_t next_ns; /* when the line is next redrawn */
	size_t shown;	  /* characters on screen now */
	uint64_t census_objects;
	struct probe_counts last; /* the previous reading, for the rate */
	uint64_t last_ns;
};

/* Whether `record` shows the status line: stderr is a terminal and no --quiet. */
bool progress_wanted(void);

/* Fill `o` with the status line's callbacks on `p`; returns `o`. */
const struct session_observer *progress_observer(struct progress *p, struct session_observer *o);

#endif
