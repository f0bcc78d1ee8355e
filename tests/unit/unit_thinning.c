// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Bounded timelines (user/thinning.c and its users): however many entries are
 * offered, what is kept never exceeds the limit, every entry offered is kept or
 * counted, and the kept ones are exactly those a direct rule says (one in the
 * final stride of their class, in order, spanning the whole sequence). The
 * collection timeline is driven with ring buffer records as the BPF side sends
 * them, and its counts are checked against those records.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "gc_recording.h"
#include "lifecycle.h"
#include "thinning.h"

struct entry {
	unsigned cls;
	uint64_t ordinal;
	uint64_t payload; /* the order it was offered in */
};

static void entry_key(const void *e, unsigned *cls, uint64_t *ordinal)
{
	*cls = ((const struct entry *)e)->cls;
	*ordinal = ((const struct entry *)e)->ordinal;
}

static bool is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Offer `n` entries with a class pattern; check every invariant after each one. */
static void offer_and_check(size_t limit, size_t n, const unsigned *pattern, size_t period)
{
	struct thinning t;
	struct entry *items = NULL;
	size_t kept = 0, cap = 0;
	uint64_t next[THINNING_MAX_CLASSES] = { 0 };

	thinning_init(&t, limit);
	for (size_t i = 0; i < n; i++) {
		unsigned cls = pattern[i % period];
		struct entry *slot = thinning_slot(&t, (void **)&items, &kept, &cap, sizeof(*items),
						   entry_key, cls, next[cls]);

		if (slot)
			*slot = (struct entry){ .cls = cls, .ordinal = next[cls], .payload = i };
		next[cls]++;
		assert_true(kept <= limit);
		assert_true(cap <= limit);
		assert_int_equal(t.offered, i + 1);
		assert_int_equal(kept + t.thinned + t.failed, t.offered);
	}
	/* the oracle: per class, exactly the ordinals that are multiples of its stride */
	for (unsigned c = 0; c < THINNING_MAX_CLASSES; c++) {
		uint64_t stride = t.stride[c], expect = 0, seen = 0;

		assert_true(is_power_of_two(stride));
		for (size_t k = 0; k < kept; k++) {
			if (items[k].cls != c)
				continue;
			assert_int_equal(items[k].ordinal, expect);
			expect += stride;
			seen++;
		}
		/* and every one of them that was offered is there */
		assert_int_equal(seen, (next[c] + stride - 1) / stride);
	}
	/*
	 * In the order offered. With the counts above, each class's kept entries run
	 * from its first to within one stride of its last: the whole sequence.
	 */
	for (size_t k = 1; k < kept; k++)
		assert_true(items[k - 1].payload < items[k].payload);
	free(items);
}

static void test_one_class(void **state)
{
	static const unsigned one[] = { 0 };

	(void)state;
	offer_and_check(100, 50, one, 1);  /* below the limit: everything */
	offer_and_check(100, 100, one, 1); /* exactly full */
	offer_and_check(100, 101, one, 1); /* first thinning */
	offer_and_check(100, 100000, one, 1);
	offer_and_check(16, 1000, one, 1);
}

static void test_the_most_frequent_class_gives_way_first(void **state)
{
	/* like collections: ten of generation 0 for one of 1; one of 2 in forty */
	unsigned pattern[40];
	struct thinning t;
	struct entry *items = NULL;
	size_t kept = 0, cap = 0;
	uint64_t next[3] = { 0 };

	(void)state;
	for (int i = 0; i < 40; i++)
		pattern[i] = i == 39 ? 2 : i % 11 == 10 ? 1 : 0;
	offer_and_check(256, 40000, pattern, 40);
	thinning_init(&t, 256);
	for (size_t i = 0; i < 4000; i++) {
		unsigned cls = pattern[i % 40];
		struct entry *slot = thinning_slot(&t, (void **)&items, &kept, &cap, sizeof(*items),
						   entry_key, cls, next[cls]);

		if (slot)
			*slot = (struct entry){ .cls = cls, .ordinal = next[cls], .payload = i };
		next[cls]++;
	}
	/* 100 of generation 2 offered: all kept, generation 0 thinned the most */
	assert_int_equal(t.stride[2], 1);
	assert_true(t.stride[0] > t.stride[1]);
	free(items);
}

static void test_first_entries_alone_fill_it(void **state)
{
	struct thinning t;
	struct entry *items = NULL;
	size_t kept = 0, cap = 0;

	(void)state;
	/* ordinal 0 of every class is always kept: with a limit of 2, the third class's waits */
	thinning_init(&t, 2);
	for (unsigned c = 0; c < 3; c++) {
		struct entry *slot = thinning_slot(&t, (void **)&items, &kept, &cap, sizeof(*items),
						   entry_key, c, 0);

		if (slot)
			*slot = (struct entry){ .cls = c };
	}
	assert_int_equal(kept, 2);
	assert_int_equal(t.thinned, 1);
	assert_int_equal(t.offered, 3);
	free(items);
}

static struct gc_event collection(int gen, uint64_t t)
{
	return (struct gc_event){ .kind = EV_GC_COLLECTION,
				  .tgid = 7,
				  .t_start_ns = t,
				  .pause_ns = 1000,
				  .generation = gen,
				  .thresholds = { 700, 10, 10 } };
}

static void test_collection_timeline_is_bounded(void **state)
{
	struct gc_recording r;
	uint64_t sent[PYOBJLIFE_NUM_GENERATIONS] = { 0 },
		 kept_of[PYOBJLIFE_NUM_GENERATIONS] = { 0 };

	(void)state;
	gc_recording_init(&r, 0);
	gc_recording_set_limit(&r, 500);
	for (uint64_t i = 0; i < 100000; i++) {
		int gen = i % 100 == 99 ? 2 : i % 10 == 9 ? 1 : 0;
		struct gc_event e = collection(gen, 1000 + i);

		assert_int_equal(gc_recording_add(&r, &e, sizeof(e)), 0);
		sent[gen]++;
		/* the live view prints every one: the latest is there, kept or not */
		assert_int_equal(r.last.t_ns, 1000 + i);
	}
	assert_true(r.n_collections <= 500);
	assert_int_equal(gc_recording_received(&r), 100000);
	assert_int_equal(r.n_collections + r.thin.thinned + r.thin.failed, 100000);
	/* thinned is not lost: the totals are exact, the timeline says how it was thinned */
	assert_int_equal(gc_recording_lost(&r), 0);
	for (size_t i = 0; i < r.n_collections; i++) {
		const struct gc_collection *c = &r.collections[i];

		kept_of[c->generation]++;
		assert_int_equal(c->ordinal % r.thin.stride[c->generation], 0);
		if (i)
			assert_true(r.collections[i - 1].t_ns < c->t_ns);
	}
	/* every generation from its first collection to within one stride of its last */
	for (int g = 0; g < PYOBJLIFE_NUM_GENERATIONS; g++)
		assert_int_equal(kept_of[g], (sent[g] + r.thin.stride[g] - 1) / r.thin.stride[g]);
	gc_recording_free(&r);
}

static void test_census_log_thins_whole_censuses(void **state)
{
	struct census_log log;
	uint64_t objects = 0;

	(void)state;
	memset(&log, 0, sizeof(log));
	log.thin.limit = 300;
	/* 1000 censuses of generations 0 and 1 (20 types each), one of 2 in ten (50 types) */
	for (uint64_t n = 0; n < 1000; n++) {
		for (int gen = 0; gen < 3; gen++) {
			int types = gen == 2 ? 50 : 20;

			if (gen == 2 && n % 10)
				continue;
			for (int k = 0; k < types; k++) {
				struct census_sample s = { .t_ns = n,
							   .seq = (uint32_t)n,
							   .generation = gen,
							   .type = "T",
							   .count = 3,
							   .ordinal = gen == 2 ? n / 10 : n };

				census_log_add(&log, &s);
				objects += 3;
			}
		}
	}
	assert_true(log.n <= 300);
	assert_int_equal(log.objects, objects);
	/* a census is kept whole or not at all */
	for (size_t i = 0; i < log.n;) {
		size_t j = i;
		int types = log.samples[i].generation == 2 ? 50 : 20;

		while (j < log.n && log.samples[j].seq == log.samples[i].seq &&
		       log.samples[j].generation == log.samples[i].generation)
			j++;
		assert_int_equal(j - i, types);
		i = j;
	}
	census_log_free(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_class),
		cmocka_unit_test(test_the_most_frequent_class_gives_way_first),
		cmocka_unit_test(test_first_entries_alone_fill_it),
		cmocka_unit_test(test_collection_timeline_is_bounded),
		cmocka_unit_test(test_census_log_thins_whole_censuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
