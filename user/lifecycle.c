// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <stdlib.h>
#include <string.h>
#include "lifecycle.h"

void lifecycle_from_count(struct lifecycle_counts *l, const struct alloc_count *c)
{
	memset(l, 0, sizeof(*l));
	l->followed = c->followed;
	l->deallocations = c->deallocations;
	l->cycle_collected = c->cycle_collected;
	for (int g = 0; g < PYOBJLIFE_NUM_GENERATIONS; g++)
		l->died_in_gen[g] = c->died_in_gen[g];
	l->died_gen_unknown = c->died_gen_unknown;
	for (int b = 0; b < PYOBJLIFE_LIFETIME_BUCKETS; b++)
		l->lifetime_hist[b] = c->lifetime_hist[b];
}

void lifecycle_add(struct lifecycle_counts *dst, const struct lifecycle_counts *src)
{
	dst->followed += src->followed;
	dst->deallocations += src->deallocations;
	dst->cycle_collected += src->cycle_collected;
	for (int g = 0; g < PYOBJLIFE_NUM_GENERATIONS; g++)
		dst->died_in_gen[g] += src->died_in_gen[g];
	dst->died_gen_unknown += src->died_gen_unknown;
	dst->alive_at_end += src->alive_at_end;
	dst->alive_bytes += src->alive_bytes;
	dst->alive_survived_full += src->alive_survived_full;
	for (int b = 0; b < PYOBJLIFE_LIFETIME_BUCKETS; b++)
		dst->lifetime_hist[b] += src->lifetime_hist[b];
}

static json_t *lifetime_json(const struct lifecycle_counts *l)
{
	json_t *arr = json_array();

	for (int b = 0; b < PYOBJLIFE_LIFETIME_BUCKETS; b++) {
		uint64_t lo = b ? 1ull << b : 0, hi = (1ull << (b + 1)) - 1;

		if (!l->lifetime_hist[b])
			continue;
		/* the last bucket is open-ended */
		json_array_append_new(arr, json_pack("[I, o, I]", (json_int_t)lo,
						     b == PYOBJLIFE_LIFETIME_BUCKETS - 1
							     ? json_null()
							     : json_integer((json_int_t)hi),
						     (json_int_t)l->lifetime_hist[b]));
	}
	return json_pack("{s:o}", "log2_histogram", arr);
}

void lifecycle_add_json(json_t *e, const struct lifecycle_counts *l, bool distributions)
{
	json_object_set_new(e, "followed", json_integer((json_int_t)l->followed));
	json_object_set_new(e, "deallocations", json_integer((json_int_t)l->deallocations));
	json_object_set_new(e, "cycle_collected", json_integer((json_int_t)l->cycle_collected));
	json_object_set_new(e, "alive_at_end", json_integer((json_int_t)l->alive_at_end));
	json_object_set_new(e, "alive_at_end_bytes", json_integer((json_int_t)l->alive_bytes));
	json_object_set_new(e, "alive_survived_full_collection",
			    json_integer((json_int_t)l->alive_survived_full));
	if (!distributions)
		return;
	json_object_set_new(e, "lifetime_ns", lifetime_json(l));
	json_object_set_new(e, "died_in_generation",
			    json_pack("{s:I, s:I, s:I, s:I}", "0", (json_int_t)l->died_in_gen[0],
				      "1", (json_int_t)l->died_in_gen[1], "2",
				      (json_int_t)l->died_in_gen[2], "unknown",
				      (json_int_t)l->died_gen_unknown));
}

static void census_key(const void *entry, unsigned *cls, uint64_t *ordinal)
{
	const struct census_sample *s = entry;

	*cls = (unsigned)s->generation;
	*ordinal = s->ordinal;
}

bool census_log_add(struct census_log *log, const struct census_sample *s)
{
	struct census_sample *slot;

	log->objects += s->count;
	slot = thinning_slot(&log->thin, (void **)&log->samples, &log->n, &log->cap, sizeof(*s),
			     census_key, (unsigned)s->generation, s->ordinal);
	if (slot)
		*slot = *s;
	return slot != NULL;
}

void census_log_free(struct census_log *log)
{
	size_t limit = log->thin.limit;

	free(log->samples);
	memset(log, 0, sizeof(*log));
	thinning_init(&log->thin, limit);
}

json_t *census_log_json(const struct census_log *log)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < log->n; i++) {
		const struct census_sample *s = &log->samples[i];

		json_array_append_new(arr,
				      json_pack("{s:I, s:i, s:s, s:I}", "t_ns", (json_int_t)s->t_ns,
						"generation", s->generation, "type", s->type,
						"count", (json_int_t)s->count));
	}
	return arr;
}
