// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The generation at death and the "survived a full collection" test, shared
 * by the BPF programs and userspace, against a direct simulation of CPython's
 * collector: collecting generation g moves every survivor of generations 0..g
 * to min(g + 1, 2). Random sequences of collections, births and deaths,
 * births inside a running collection included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "pyobjlife.h"

#define ROUNDS 20000

/* The sequence as the BPF programs keep it. */
static void start(struct gc_sequence *q)
{
	q->started++;
}

static void end(struct gc_sequence *q, int gen)
{
	q->gen_of[q->started % PYOBJLIFE_GC_RING] = (uint8_t)gen;
	q->young_plus += gen >= 1;
	q->full += gen == 2;
	q->ended = q->started;
}

static void birth(struct live_object *o, const struct gc_sequence *q)
{
	memset(o, 0, sizeof(*o));
	o->started_at_birth = (uint32_t)q->started;
	o->young_plus_at_birth = (uint32_t)q->young_plus;
	o->full_at_birth = (uint32_t)q->full;
	o->born_in_collection = q->started != q->ended;
}

/* The oracle: an object's generation and whether a full collection passed it by. */
struct model {
	int gen;
	int survived_full;
	int in_running; /* born while the current collection ran: that one does not count */
};

static void model_collection_ends(struct model *m, int gen)
{
	if (m->in_running) {
		m->in_running = 0;
		return;
	}
	if (gen >= m->gen)
		m->gen = gen + 1 > 2 ? 2 : gen + 1;
	m->survived_full |= gen == 2;
}

static void test_known_sequences(void **state)
{
	struct gc_sequence q = {};
	struct live_object o;

	(void)state;
	birth(&o, &q);
	assert_int_equal(pyobjlife_generation_at_death(&o, &q), 0);
	start(&q);
	/* dying inside the first collection after birth: still generation 0 */
	assert_int_equal(pyobjlife_generation_at_death(&o, &q), 0);
	end(&q, 0);
	assert_int_equal(pyobjlife_generation_at_death(&o, &q), 1);
	start(&q);
	end(&q, 0);
	assert_int_equal(pyobjlife_generation_at_death(&o, &q), 1);
	assert_int_equal(pyobjlife_survived_full(&o, &q), 0);
	start(&q);
	end(&q, 1);
	assert_int_equal(pyobjlife_generation_at_death(&o, &q), 2);
	start(&q);
	end(&q, 2);
	assert_int_equal(pyobjlife_survived_full(&o, &q), 1);

	/* a young object surviving a generation-1 collection goes straight to 2 */
	birth(&o, &q);
	start(&q);
	end(&q, 1);
	assert_int_equal(pyobjlife_generation_at_death(&o, &q), 2);

	/* born during a full collection: that one does not count */
	start(&q);
	birth(&o, &q);
	end(&q, 2);
	assert_int_equal(pyobjlife_generation_at_death(&o, &q), 0);
	assert_int_equal(pyobjlife_survived_full(&o, &q), 0);
}

static void test_random_sequences(void **state)
{
	(void)state;
	srand(12345);
	for (int r = 0; r < ROUNDS; r++) {
		struct gc_sequence q = {};
		struct live_object o;
		struct model m = {};
		int steps = rand() % 40, born = 0, running = 0;

		for (int i = 0; i < steps || !born; i++) {
			int action = rand() % 4;

			if (!born && (action == 0 || i >= steps)) {
				birth(&o, &q);
				m = (struct model){ .in_running = running };
				born = 1;
			} else if (!running) {
				start(&q);
				running = 1;
			} else {
				int gen = rand() % 3;

				end(&q, gen);
				if (born)
					model_collection_ends(&m, gen);
				running = 0;
			}
		}
		assert_int_equal(pyobjlife_generation_at_death(&o, &q), m.gen);
		assert_int_equal(pyobjlife_survived_full(&o, &q), m.survived_full);
	}
}

static void test_forgotten_collection_is_unknown(void **state)
{
	struct gc_sequence q = {};
	struct live_object o;

	(void)state;
	start(&q);
	birth(&o, &q);
	end(&q, 1);
	for (int i = 0; i < PYOBJLIFE_GC_RING; i++) {
		start(&q);
		end(&q, 0);
	}
	assert_int_equal(pyobjlife_generation_at_death(&o, &q), -1);
	assert_int_equal(pyobjlife_survived_full(&o, &q), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_sequences),
		cmocka_unit_test(test_random_sequences),
		cmocka_unit_test(test_forgotten_collection_is_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
