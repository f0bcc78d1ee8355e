// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "gc_recording.h"

void gc_recording_init(struct gc_recording *r, uint64_t t0_ns)
{
	memset(r, 0, sizeof(*r));
	r->t0_ns = t0_ns;
	thinning_init(&r->thin, 0);
	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++) {
		r->thresholds[i] = -1;
		r->counts_at_start[i] = -1;
	}
}

void gc_recording_free(struct gc_recording *r)
{
	free(r->collections);
	r->collections = NULL;
	r->n_collections = r->cap = 0;
}

void gc_recording_set_limit(struct gc_recording *r, size_t limit)
{
	r->thin.limit = limit;
}

static void collection_key(const void *entry, unsigned *cls, uint64_t *ordinal)
{
	const struct gc_collection *c = entry;

	*cls = (unsigned)c->generation;
	*ordinal = c->ordinal;
}

int gc_recording_add(struct gc_recording *r, const void *data, size_t size)
{
	const struct gc_event *e = data;
	struct gc_collection *c, now;

	if (size < sizeof(*e) || e->kind != EV_GC_COLLECTION || e->generation < 0 ||
	    e->generation >= PYOBJLIFE_NUM_GENERATIONS) {
		r->malformed++;
		return -EINVAL;
	}
	/* a launched interpreter had no state to read at attach: take the first collection's */
	if (!r->thresholds_known && e->thresholds[0] > 0) {
		memcpy(r->thresholds, e->thresholds, sizeof(r->thresholds));
		memcpy(r->counts_at_start, e->counts, sizeof(r->counts_at_start));
		r->thresholds_known = true;
		r->thresholds_source = "first collection";
	}
	now = (struct gc_collection){
		.t_ns = e->t_start_ns > r->t0_ns ? e->t_start_ns - r->t0_ns : 0,
		.pause_ns = e->pause_ns,
		.collected = e->collected,
		.uncollectable = e->uncollectable,
		.generation = e->generation,
		.ordinal = r->received[e->generation]++,
	};
	memcpy(now.counts, e->counts, sizeof(now.counts));
	r->last = now;
	c = thinning_slot(&r->thin, (void **)&r->collections, &r->n_collections, &r->cap,
			  sizeof(*c), collection_key, (unsigned)now.generation, now.ordinal);
	if (c)
		*c = now;
	return 0;
}

uint64_t gc_recording_received(const struct gc_recording *r)
{
	uint64_t n = 0;

	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++)
		n += r->received[i];
	return n;
}

uint64_t gc_recording_lost(const struct gc_recording *r)
{
	return r->agg.ringbuf_drops + r->thin.failed + r->malformed;
}

uint64_t gc_recording_total_collections(const struct gc_recording *r)
{
	uint64_t n = 0;

	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++)
		n += r->agg.gen[i].collections;
	return n;
}

void log2_bucket_bounds(int i, uint64_t *lo, uint64_t *hi)
{
	*lo = i == 0 ? 0 : 1ull << i;
	*hi = i >= 63 ? UINT64_MAX : 1ull << (i + 1);
}
