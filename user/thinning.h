/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Timelines that grow with a recording's length (collections, census samples,
 * heap samples, sampling windows) stay within a fixed number of entries by
 * thinning evenly: when one is full, the class of entries it holds most of
 * (e.g. generation 0 collections) keeps one entry in twice as many as before,
 * and the entries it kept that no longer fit that rule are dropped. The kept
 * entries still cover the whole recording, at a coarser step, and every entry
 * not kept is counted.
 *
 * An entry is identified by its class (< THINNING_MAX_CLASSES) and its ordinal,
 * its number among the entries of its class offered so far, from 0: it is kept
 * while ordinal % stride[class] == 0, the strides being powers of two.
 * The storage stays the caller's own array (items, n, cap).
 */
#ifndef PYOBJLIFE_THINNING_H
#define PYOBJLIFE_THINNING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define THINNING_MAX_CLASSES 3
/* Entries a timeline keeps when --max-timeline is not given. */
#define THINNING_DEFAULT_LIMIT 16384u

struct thinning {
	size_t limit; /* entries kept at most; 0: THINNING_DEFAULT_LIMIT */
	uint64_t stride[THINNING_MAX_CLASSES];
	uint64_t offered; /* entries offered, kept or not */
	uint64_t thinned; /* dropped to stay within the limit (now or later) */
	uint64_t failed;  /* dropped because memory ran out */
};

/* The class and ordinal of a stored entry. */
typedef void (*thinning_key_fn)(const void *entry, unsigned *cls, uint64_t *ordinal);

void thinning_init(struct thinning *t, size_t limit);

/* The limit in effect. */
size_t thinning_limit(const struct thinning *t);

/*
 * A slot for a new entry (class `cls`, number `ordinal`) at the end of the
 * caller's array, thinning it first when it is full; NULL when the entry is
 * not kept (counted in `thinned` or `failed`). The array grows by doubling
 * up to the limit.
 */
void *thinning_slot(struct thinning *t, void **items, size_t *n, size_t *cap, size_t size,
		    thinning_key_fn key, unsigned cls, uint64_t ordinal);

/* Largest stride of any class: the entries kept are one in this many, at worst. */
uint64_t thinning_max_stride(const struct thinning *t);

/*
 * {"kept", "dropped", "limit", "bytes", "one_in"} for diagnostics.memory: dropped
 * counts thinned and failed entries, bytes the array's allocation.
 */
json_t *thinning_json(const struct thinning *t, size_t kept, size_t cap, size_t size);

#endif
