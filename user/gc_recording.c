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

static int grow(struct gc_recording *r)
{
	size_t cap = r->cap ? r->cap * 2 : 256;
	struct gc_collection *c;

	if (cap > GC_TIMELINE_MAX)
		cap = GC_TIMELINE_MAX;
	if (cap <= r->cap)
		return -E2BIG;
	c = realloc(r->collections, cap * sizeof(*c));
	if (!c)
		return -ENOMEM;
	r->collections = c;
	r->cap = cap;
	return 0;
}

int gc_recording_add(struct gc_recording *r, const void *data, size_t size)
{
	const struct gc_event *e = data;
	struct gc_collection *c;

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
	if (r->n_collections == r->cap && grow(r)) {
		r->timeline_dropped++;
		return 0;
	}
	c = &r->collections[r->n_collections++];
	c->t_ns = e->t_start_ns > r->t0_ns ? e->t_start_ns - r->t0_ns : 0;
	c->pause_ns = e->pause_ns;
	c->collected = e->collected;
	c->uncollectable = e->uncollectable;
	c->generation = e->generation;
	memcpy(c->counts, e->counts, sizeof(c->counts));
	return 0;
}

uint64_t gc_recording_lost(const struct gc_recording *r)
{
	return r->agg.ringbuf_drops + r->timeline_dropped + r->malformed;
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
