// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * speedscope's file format (https://www.speedscope.app/file-format-schema.json):
 * shared frames, and one "sampled" profile per weight the recording has data
 * for, each stack a list of frame indices from the root to the leaf.
 */
#include <string.h>
#include "log.h"
#include "render_internal.h"

#ifndef PYOBJLIFE_VERSION
#define PYOBJLIFE_VERSION "0.0.0"
#endif

#define SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"

static const char *speedscope_unit(enum render_weight w)
{
	switch (w) {
	case WEIGHT_BYTES:
		return "bytes";
	case WEIGHT_GC_PAUSE:
		return "nanoseconds";
	default:
		return "none"; /* object counts */
	}
}

static json_t *frames_json(const struct frame_table *ft)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < ft->n; i++) {
		const struct rframe *f = &ft->v[i];
		json_t *o = f->function
				    ? json_pack("{s:s, s:s}", "name", f->function, "file", f->file)
				    : json_pack("{s:s}", "name", f->label);

		if (o && f->function && f->line >= 0)
			json_object_set_new(o, "line", json_integer(f->line));
		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *profile_json(const struct profile *p)
{
	json_t *samples = json_array(), *weights = json_array(), *stack;
	char name[128];

	if (!samples || !weights)
		goto fail;
	for (size_t i = 0; i < p->n; i++) {
		stack = json_array();
		for (size_t f = 0; stack && f < p->v[i].depth; f++)
			json_array_append_new(stack, json_integer((json_int_t)p->v[i].frames[f]));
		if (!stack || json_array_append_new(samples, stack) ||
		    json_array_append_new(weights, json_integer((json_int_t)p->v[i].weight)))
			goto fail;
	}
	if (!strcmp(render_weight_name(p->weight), weight_unit(p->weight)))
		snprintf(name, sizeof(name), "%s", render_weight_name(p->weight));
	else
		snprintf(name, sizeof(name), "%s (%s)", render_weight_name(p->weight),
			 weight_unit(p->weight));
	return json_pack("{s:s, s:s, s:s, s:i, s:I, s:o, s:o}", "type", "sampled", "name", name,
			 "unit", speedscope_unit(p->weight), "startValue", 0, "endValue",
			 (json_int_t)p->total, "samples", samples, "weights", weights);
fail:
	json_decref(samples);
	json_decref(weights);
	return NULL;
}

/* One profile per weight with data, in weight order; the chosen one is shown first. */
static json_t *profiles_json(const json_t *rec, struct frame_table *ft, const struct render_opts *o,
			     int *active)
{
	json_t *arr = json_array();

	*active = 0;
	for (int w = 0; arr && w < WEIGHT_COUNT; w++) {
		struct profile p;
		json_t *j;

		if (!recording_has_weight(rec, (enum render_weight)w))
			continue;
		if (profile_build(&p, ft, rec, (enum render_weight)w))
			goto fail;
		j = profile_json(&p);
		profile_free(&p);
		if (!j || json_array_append_new(arr, j))
			goto fail;
		if (o->weight_given && (enum render_weight)w == o->weight)
			*active = (int)json_array_size(arr) - 1;
	}
	return arr;
fail:
	json_decref(arr);
	return NULL;
}

int render_speedscope(FILE *out, const json_t *rec, const struct render_opts *o)
{
	const json_t *t = jobj(rec, "target");
	struct frame_table ft;
	json_t *profiles, *frames, *file = NULL;
	char name[128];
	int active, err = -1;

	if (o->weight_given && recording_check_weight(rec, o->weight))
		return -1;
	frame_table_init(&ft);
	profiles = profiles_json(rec, &ft, o, &active);
	if (profiles && !json_array_size(profiles)) {
		json_decref(profiles);
		frame_table_free(&ft);
		pr_err("nothing for speedscope: this recording has no stacks (it was made in %s "
		       "mode): record with --mode full",
		       jstr(rec, "mode", "gc"));
		return -1;
	}
	frames = profiles ? frames_json(&ft) : NULL;
	snprintf(name, sizeof(name), "pyobjlife: PID %lu, CPython %s",
		 (unsigned long)ju64(t, "pid"), jstr(t, "python_version", "?"));
	if (profiles && frames)
		file = json_pack("{s:s, s:{s:o}, s:o, s:s, s:i, s:s}", "$schema", SPEEDSCOPE_SCHEMA,
				 "shared", "frames", frames, "profiles", profiles, "name", name,
				 "activeProfileIndex", active, "exporter",
				 "pyobjlife " PYOBJLIFE_VERSION);
	else {
		json_decref(profiles);
		json_decref(frames);
	}
	if (!file)
		pr_err("out of memory while building the speedscope file");
	else if (json_write_file(file, out, JSON_COMPACT | JSON_PRESERVE_ORDER))
		pr_err("failed to write the speedscope file");
	else
		err = 0;
	json_decref(file);
	frame_table_free(&ft);
	return err;
}
