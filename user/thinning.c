// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <stdlib.h>
#include <string.h>
#include "thinning.h"

#define THINNING_FIRST_CAP 256u

void thinning_init(struct thinning *t, size_t limit)
{
	memset(t, 0, sizeof(*t));
	t->limit = limit;
	for (int c = 0; c < THINNING_MAX_CLASSES; c++)
		t->stride[c] = 1;
}

size_t thinning_limit(const struct thinning *t)
{
	return t->limit ? t->limit : THINNING_DEFAULT_LIMIT;
}

/* A zeroed struct (a caller that never called thinning_init) keeps everything at first. */
static uint64_t stride_of(const struct thinning *t, unsigned cls)
{
	return t->stride[cls] ? t->stride[cls] : 1;
}

static bool kept(const struct thinning *t, unsigned cls, uint64_t ordinal)
{
	return cls < THINNING_MAX_CLASSES && ordinal % stride_of(t, cls) == 0;
}

/* The class whose stride, doubled, drops the most entries; -1 if none would drop any. */
static int class_to_thin(const struct thinning *t, const unsigned char *items, size_t n,
			 size_t size, thinning_key_fn key)
{
	size_t removable[THINNING_MAX_CLASSES] = { 0 };
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		unsigned cls;
		uint64_t ord;

		key(items + i * size, &cls, &ord);
		if (cls < THINNING_MAX_CLASSES && ord % (2 * stride_of(t, cls)))
			removable[cls]++;
	}
	for (int c = 0; c < THINNING_MAX_CLASSES; c++) {
		if (removable[c] && (best < 0 || removable[c] > removable[best]))
			best = c;
	}
	return best;
}

/* Keep one entry of class `cls` in twice as many; returns the entries left. */
static size_t thin_class(struct thinning *t, unsigned char *items, size_t n, size_t size,
			 thinning_key_fn key, int cls)
{
	size_t out = 0;

	t->stride[cls] = 2 * stride_of(t, cls);
	for (size_t i = 0; i < n; i++) {
		unsigned c;
		uint64_t ord;

		key(items + i * size, &c, &ord);
		if (!kept(t, c, ord)) {
			t->thinned++;
			continue;
		}
		if (out != i)
			memcpy(items + out * size, items + i * size, size);
		out++;
	}
	return out;
}

static int grow(void **items, size_t *cap, size_t size, size_t limit)
{
	size_t ncap = *cap ? *cap * 2 : THINNING_FIRST_CAP;
	void *m;

	if (ncap > limit)
		ncap = limit;
	if (ncap <= *cap)
		return -1;
	m = realloc(*items, ncap * size);
	if (!m)
		return -1;
	*items = m;
	*cap = ncap;
	return 0;
}

void *thinning_slot(struct thinning *t, void **items, size_t *n, size_t *cap, size_t size,
		    thinning_key_fn key, unsigned cls, uint64_t ordinal)
{
	size_t limit = thinning_limit(t);

	t->offered++;
	while (kept(t, cls, ordinal) && *n >= limit) {
		int c = class_to_thin(t, *items, *n, size, key);

		if (c < 0)
			break; /* the first entries of every class alone fill it */
		*n = thin_class(t, *items, *n, size, key, c);
	}
	if (!kept(t, cls, ordinal) || *n >= limit) {
		t->thinned++;
		return NULL;
	}
	if (*n == *cap && grow(items, cap, size, limit)) {
		t->failed++;
		return NULL;
	}
	return (unsigned char *)*items + (*n)++ * size;
}

uint64_t thinning_max_stride(const struct thinning *t)
{
	uint64_t m = 1;

	for (int c = 0; c < THINNING_MAX_CLASSES; c++) {
		if (stride_of(t, (unsigned)c) > m)
			m = stride_of(t, (unsigned)c);
	}
	return m;
}

json_t *thinning_json(const struct thinning *t, size_t kept_n, size_t cap, size_t size)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "kept", (json_int_t)kept_n, "dropped",
			 (json_int_t)(t->thinned + t->failed), "limit",
			 (json_int_t)thinning_limit(t), "bytes", (json_int_t)(cap * size), "one_in",
			 (json_int_t)thinning_max_stride(t));
}
