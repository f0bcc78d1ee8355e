/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The lifecycle side of a full-mode recording: how the objects followed from
 * their birth died (by reference count or by the cycle collector, after how
 * long, in which generation) or that they are alive at the end; the census of
 * live GC objects by type; and the stacks that triggered collections.
 */
#ifndef PYOBJLIFE_LIFECYCLE_H
#define PYOBJLIFE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "pyobjlife.h"
#include "thinning.h"

struct lifecycle_counts {
	uint64_t followed; /* births whose death the hooked deallocators would see */
	uint64_t deallocations, cycle_collected;
	uint64_t died_in_gen[PYOBJLIFE_NUM_GENERATIONS];
	uint64_t died_gen_unknown;
	uint64_t alive_at_end, alive_bytes, alive_survived_full;
	uint64_t lifetime_hist[PYOBJLIFE_LIFETIME_BUCKETS];
};

void lifecycle_from_count(struct lifecycle_counts *l, const struct alloc_count *c);
void lifecycle_add(struct lifecycle_counts *dst, const struct lifecycle_counts *src);

/* The lifecycle members of a "sites" (with distributions) or "stacks" entry. */
void lifecycle_add_json(json_t *entry, const struct lifecycle_counts *l, bool distributions);

struct census_sample {
	uint64_t t_ns; /* since the recording started */
	uint32_t seq;
	int generation;
	const char *type; /* interned by the recording's symbolizer */
	uint64_t count;
	uint64_t ordinal; /* the census's number among those of its generation, from 0 */
};

/*
 * Every census sample, thinned evenly beyond --max-timeline samples: whole
 * censuses of the generation with the most samples give way first.
 */
struct census_log {
	struct census_sample *samples;
	size_t n, cap;
	struct thinning thin;
	uint64_t censuses, truncated_walks;
	uint64_t of_generation[PYOBJLIFE_NUM_GENERATIONS]; /* censuses taken of each */
	uint64_t objects; /* objects counted by every census sample, kept or not */
	uint64_t orphans; /* counts of censuses whose notice was lost, cleared from the map */
};

/* Keep one (type, count) of a census; false when it was thinned out or memory ran out. */
bool census_log_add(struct census_log *log, const struct census_sample *s);
void census_log_free(struct census_log *log);
json_t *census_log_json(const struct census_log *log);

#endif
