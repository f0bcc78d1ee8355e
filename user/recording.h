/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* One finished (or running) recording of one target, and its JSON form. */
#ifndef PYOBJLIFE_RECORDING_H
#define PYOBJLIFE_RECORDING_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "alloc_recording.h"
#include "gc_recording.h"
#include "heap_timeline.h"
#include "probe_plan.h"
#include "resources.h"

struct recording {
	const struct probe_plan *plan;
	pid_t pid;
	const char *mode; /* "gc": collections only; "full": and every allocation */
	double duration_s;
	const char *end_reason; /* "duration elapsed", "interrupted", "target exited" */
	char started_at[40];	/* ISO 8601, UTC */
	struct gc_recording gc;
	struct alloc_recording alloc; /* enabled in full mode */
	struct heap_timeline heap;
	/* the interpreter's generation_stats before the first / after the last recorded collection
	 */
	bool have_stats_start, have_stats_end;
	struct py_gen_stats stats_start[PYOBJLIFE_NUM_GENERATIONS];
	struct py_gen_stats stats_end[PYOBJLIFE_NUM_GENERATIONS];
	json_t *program_stats; /* kernel-measured run time per BPF program; may be empty */
	/* what the recording cost pyobjlife, read when it stopped, and the BPF maps' sizes */
	struct memory_usage memory;
	struct bpf_map_sizes maps;
};

/* The recording JSON (see README "What the output contains"); every renderer reads it. */
json_t *recording_to_json(const struct recording *r);
/* The "allocations", "sites" and "stacks" members of the recording JSON. */
void alloc_recording_add_json(json_t *root, const struct alloc_recording *a);

/* Whether the target's own counters moved exactly as the probes saw; false if unknown. */
bool recording_agrees_with_target(const struct recording *r);

/* One line for the live `gc` view. */
void gc_collection_print(FILE *out, const struct gc_collection *c);

/* "12.3 ms": a duration for people (the text report, top). */
void format_ns(uint64_t ns, char *buf, size_t cap);

#endif
