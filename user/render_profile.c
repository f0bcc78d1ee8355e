// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* The weighted stacks of a recording, with frames interned by label. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "render_internal.h"

/* Where each weight's stacks are, and which member of each holds its value. */
static const struct {
	const char *array;
	const char *member;
	const char *unit;
	const char *title;
} weight_source[WEIGHT_COUNT] = {
	[WEIGHT_ALLOCATIONS] = { "stacks", "allocations", "objects", "Allocations" },
	[WEIGHT_BYTES] = { "stacks", "bytes", "bytes", "Allocated bytes" },
	[WEIGHT_LIVE] = { "stacks", "alive_at_end", "objects", "Live objects at the end" },
	[WEIGHT_CYCLIC] = { "stacks", "cycle_collected", "objects",
			    "Cyclic garbage (objects only the cycle collector freed)" },
	[WEIGHT_GC_PAUSE] = { "gc_blame", "pause_ns", "ns",
			      "GC pause, by the Python stack that triggered the collection" },
};

const char *weight_unit(enum render_weight w)
{
	return weight_source[w].unit;
}

const char *weight_title(enum render_weight w)
{
	return weight_source[w].title;
}

void format_weight(enum render_weight w, uint64_t v, char *buf, size_t cap)
{
	if (w == WEIGHT_GC_PAUSE)
		format_ns(v, buf, cap);
	else
		snprintf(buf, cap, "%lu %s", (unsigned long)v, weight_unit(w));
}

void format_bytes(uint64_t b, char *buf, size_t cap)
{
	if (b < 1024)
		snprintf(buf, cap, "%lu B", (unsigned long)b);
	else if (b < 1024 * 1024)
		snprintf(buf, cap, "%.1f KiB", b / 1024.0);
	else if (b < 1024ull * 1024 * 1024)
		snprintf(buf, cap, "%.1f MiB", b / (1024.0 * 1024));
	else
		snprintf(buf, cap, "%.2f GiB", b / (1024.0 * 1024 * 1024));
}

void frame_table_init(struct frame_table *ft)
{
	memset(ft, 0, sizeof(*ft));
}

void frame_table_free(struct frame_table *ft)
{
	for (size_t i = 0; i < ft->n; i++)
		free(ft->v[i].label);
	free(ft->v);
	free(ft->slots);
	memset(ft, 0, sizeof(*ft));
}

static uint64_t hash_label(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static int frame_table_rehash(struct frame_table *ft)
{
	size_t n_slots = ft->n_slots ? ft->n_slots * 2 : 1024;
	size_t *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < ft->n; i++) {
		size_t s = hash_label(ft->v[i].label) & (n_slots - 1);

		while (slots[s])
			s = (s + 1) & (n_slots - 1);
		slots[s] = i + 1;
	}
	free(ft->slots);
	ft->slots = slots;
	ft->n_slots = n_slots;
	return 0;
}

/* The index of the frame labelled `label` (taken over, freed if already there), or -1. */
static long frame_table_intern(struct frame_table *ft, char *label, const char *function,
			       const char *file, long line)
{
	size_t s;

	if (!label)
		return -1;
	if ((ft->n + 1) * 2 > ft->n_slots && frame_table_rehash(ft)) {
		free(label);
		return -1;
	}
	for (s = hash_label(label) & (ft->n_slots - 1); ft->slots[s];
	     s = (s + 1) & (ft->n_slots - 1)) {
		if (!strcmp(ft->v[ft->slots[s] - 1].label, label)) {
			free(label);
			return (long)ft->slots[s] - 1;
		}
	}
	if (ft->n == ft->cap) {
		size_t cap = ft->cap ? ft->cap * 2 : 256;
		struct rframe *v = realloc(ft->v, cap * sizeof(*v));

		if (!v) {
			free(label);
			return -1;
		}
		ft->v = v;
		ft->cap = cap;
	}
	ft->v[ft->n] = (struct rframe){ label, function, file, line };
	ft->slots[s] = ft->n + 1;
	return (long)ft->n++;
}

/* Newlines would split a folded line or a tooltip's label from its value. */
static char *label_without_newlines(char *s)
{
	for (char *p = s; p && *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	return s;
}

/* A bracketed marker frame: "[" text "]". */
static long intern_marker(struct frame_table *ft, const char *text)
{
	char *label;

	if (asprintf(&label, "[%s]", text) < 0)
		return -1;
	return frame_table_intern(ft, label_without_newlines(label), NULL, NULL, -1);
}

static long intern_location(struct frame_table *ft, const json_t *f)
{
	const char *function = jstr(f, "function", "?"), *file = jstr(f, "file", "?");
	json_t *jl = json_object_get(f, "line");
	long line = json_is_integer(jl) ? (long)json_integer_value(jl) : -1;
	char *label;
	int r;

	if (line >= 0)
		r = asprintf(&label, "%s (%s:%ld)", function, file, line);
	else
		r = asprintf(&label, "%s (%s)", function, file);
	if (r < 0)
		return -1;
	return frame_table_intern(ft, label_without_newlines(label), function, file, line);
}

/* The root marker a stack gets, if any. */
static const char *root_marker(const json_t *e, size_t depth)
{
	if (json_is_true(json_object_get(e, "stack_unavailable")))
		return "stack not recorded";
	if (!depth)
		return "no Python frame";
	if (json_is_true(json_object_get(e, "truncated")))
		return "truncated";
	return NULL;
}

static int append_sample(struct profile *p, size_t *frames, size_t depth, uint64_t weight)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		struct rsample *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = (struct rsample){ frames, depth, weight };
	p->total += weight;
	if (depth > p->max_depth)
		p->max_depth = depth;
	return 0;
}

/* One element of "stacks" or "gc_blame" as a sample. */
static int add_sample(struct profile *p, struct frame_table *ft, const json_t *e, uint64_t weight)
{
	const json_t *frames = jarr(e, "frames");
	size_t n = json_array_size(frames), depth = 0;
	const char *marker = root_marker(e, n);
	size_t *v = malloc((n + 2) * sizeof(*v));
	char gen[40];
	long idx;

	if (!v)
		return -1;
	if (marker) {
		if ((idx = intern_marker(ft, marker)) < 0)
			goto fail;
		v[depth++] = (size_t)idx;
	}
	for (size_t i = 0; i < n; i++) {
		if ((idx = intern_location(ft, json_array_get(frames, i))) < 0)
			goto fail;
		v[depth++] = (size_t)idx;
	}
	if (p->weight == WEIGHT_GC_PAUSE) {
		snprintf(gen, sizeof(gen), "generation %lu", (unsigned long)ju64(e, "generation"));
		idx = intern_marker(ft, gen);
	} else {
		idx = intern_marker(ft, jstr(e, "type", "?"));
	}
	if (idx < 0)
		goto fail;
	v[depth++] = (size_t)idx;
	if (append_sample(p, v, depth, weight))
		goto fail;
	return 0;
fail:
	free(v);
	return -1;
}

int profile_build(struct profile *p, struct frame_table *ft, const json_t *rec,
		  enum render_weight w)
{
	const json_t *arr;
	size_t i;
	json_t *e;

	memset(p, 0, sizeof(*p));
	p->weight = w;
	if (recording_check_weight(rec, w))
		return -1;
	arr = jarr(rec, weight_source[w].array);
	json_array_foreach(arr, i, e)
	{
		uint64_t weight = ju64(e, weight_source[w].member);

		if (weight && add_sample(p, ft, e, weight)) {
			pr_err("out of memory while reading the stacks");
			profile_free(p);
			return -1;
		}
	}
	return 0;
}

void profile_free(struct profile *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].frames);
	free(p->v);
	memset(p, 0, sizeof(*p));
}
