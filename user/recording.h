/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* One finished (or running) recording of one target, and its renderers. */
#ifndef PYOBJLIFE_RECORDING_H
#define PYOBJLIFE_RECORDING_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "alloc_recording.h"
#include "gc_recording.h"
#include "heap_timeline.h"
#include "probe_plan.h"

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
};

enum output_format {
	FORMAT_NONE,
	FORMAT_JSON,
	FORMAT_TEXT,
	FORMAT_FOLDED,
	FORMAT_PPROF,
};

/* What a stack's weight is in the folded output. */
enum stack_weight {
	WEIGHT_ALLOCATIONS,
	WEIGHT_BYTES,
};

/* "json" / "text" / "folded" / "pprof"; FORMAT_NONE otherwise. */
enum output_format output_format_parse(const char *name);
/* From a file name's extension: .json, .txt/.text, .folded, .pb.gz; FORMAT_NONE otherwise. */
enum output_format output_format_from_path(const char *path);

json_t *recording_to_json(const struct recording *r);
int recording_write_json(FILE *out, const struct recording *r);
void recording_write_text(FILE *out, const struct recording *r);
/* Folded stacks (root first, `;`-separated, then the weight): flamegraph input. 0 or -1. */
int recording_write_folded(FILE *out, const struct recording *r, enum stack_weight w);
/* The "allocations", "sites" and "stacks" members of the recording JSON. */
void alloc_recording_add_json(json_t *root, const struct alloc_recording *a);
/* The allocation part of the text report: health and the top sites. */
void alloc_recording_write_text(FILE *out, const struct alloc_recording *a, size_t top);
/* The few lines printed on stderr when a recording went to a file. */
void recording_write_summary(FILE *out, const struct recording *r, const char *path);

/* Whether the target's own counters moved exactly as the probes saw; false if unknown. */
bool recording_agrees_with_target(const struct recording *r);

/* "12.3 ms": a duration for people. */
void format_ns(uint64_t ns, char *buf, size_t cap);
/* One line for the live `gc` view. */
void gc_collection_print(FILE *out, const struct gc_collection *c);

#endif
