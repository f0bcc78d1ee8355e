/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * What a recording of one target's collector holds: the exact per-generation
 * aggregates the BPF side kept, the timeline of collections from the ring
 * buffer, and the thresholds read from the target. No libbpf here, so the unit
 * tests link it directly.
 */
#ifndef PYOBJLIFE_GC_RECORDING_H
#define PYOBJLIFE_GC_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pyobjlife.h"
#include "thinning.h"

struct gc_collection {
	uint64_t t_ns; /* since the recording started */
	uint64_t pause_ns;
	int64_t collected;
	int64_t uncollectable;
	int32_t generation;
	int32_t counts[PYOBJLIFE_NUM_GENERATIONS];
	uint64_t ordinal; /* its number among the collections of its generation received */
};

struct gc_recording {
	uint64_t t0_ns; /* CLOCK_MONOTONIC when probes were attached */
	struct gc_agg agg;
	/*
	 * The timeline, thinned evenly beyond its limit (--max-timeline): generation 0
	 * collections, the most frequent, give way first (see thinning.h).
	 */
	struct gc_collection *collections;
	size_t n_collections, cap;
	struct thinning thin;
	uint64_t received[PYOBJLIFE_NUM_GENERATIONS]; /* well-formed records, per generation */
	struct gc_collection last;		      /* the latest one, kept or not */
	uint64_t malformed; /* ring buffer records of the wrong size or kind */
	int32_t thresholds[PYOBJLIFE_NUM_GENERATIONS];
	int32_t counts_at_start[PYOBJLIFE_NUM_GENERATIONS];
	bool thresholds_known;
	const char *thresholds_source; /* "target memory at attach", "first collection" */
};

void gc_recording_init(struct gc_recording *r, uint64_t t0_ns);
void gc_recording_free(struct gc_recording *r);
/* Take one ring buffer record; -EINVAL for a malformed one (counted). */
int gc_recording_add(struct gc_recording *r, const void *data, size_t size);

/* Collections kept in the timeline at most (0: THINNING_DEFAULT_LIMIT). */
void gc_recording_set_limit(struct gc_recording *r, size_t limit);
/* Records received (well-formed) so far: the live view prints `last` when it moves. */
uint64_t gc_recording_received(const struct gc_recording *r);

/*
 * Records lost anywhere between the BPF programs and the timeline: ring buffer
 * drops, malformed records and records memory could not be found for. Records
 * thinned to stay within the limit are not lost (the totals are exact) but
 * counted in thin.thinned.
 */
uint64_t gc_recording_lost(const struct gc_recording *r);
uint64_t gc_recording_total_collections(const struct gc_recording *r);

/* Bucket i of a log2 histogram covers [lo, hi). */
void log2_bucket_bounds(int i, uint64_t *lo, uint64_t *hi);

#endif
