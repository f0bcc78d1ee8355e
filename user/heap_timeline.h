/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The target's memory over time: resident set size from /proc/PID/statm and
 * pymalloc arenas allocated and freed, so growth of live objects can be told
 * apart from memory the allocator keeps.
 */
#ifndef PYOBJLIFE_HEAP_TIMELINE_H
#define PYOBJLIFE_HEAP_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "thinning.h"

struct heap_sample {
	uint64_t t_ns; /* since the recording started */
	uint64_t rss_bytes;
	uint64_t arenas_allocated, arenas_freed; /* cumulative since the start */
	uint64_t ordinal;			 /* samples taken before it */
};

struct heap_timeline {
	struct heap_sample *samples;
	size_t n, cap;
	bool arenas_known; /* the arena hooks were attached */
	uint64_t interval_ns;
	struct thinning thin; /* thinned evenly beyond --max-timeline samples */
	uint64_t taken;	      /* samples read, kept or not */
	uint64_t last_t_ns;   /* when the latest one was taken */
};

void heap_timeline_init(struct heap_timeline *h, bool arenas_known, uint64_t interval_ns);
void heap_timeline_free(struct heap_timeline *h);
/* Samples kept at most (0: THINNING_DEFAULT_LIMIT). */
void heap_timeline_set_limit(struct heap_timeline *h, size_t limit);
/* Whether a sample is due at `t_ns` (the first one always is). */
bool heap_timeline_due(const struct heap_timeline *h, uint64_t t_ns);
/* Read the target's RSS and keep a sample; -errno when /proc cannot be read. */
int heap_timeline_sample(struct heap_timeline *h, pid_t pid, uint64_t t_ns,
			 uint64_t arenas_allocated, uint64_t arenas_freed);
json_t *heap_timeline_json(const struct heap_timeline *h);

#endif
