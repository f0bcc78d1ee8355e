/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Renderers: every output format is drawn from the recording JSON alone, so
 * `record` (which builds that JSON in memory) and `report REC.json` (which
 * loads it) share one code path and give the same bytes.
 */
#ifndef PYOBJLIFE_RENDER_H
#define PYOBJLIFE_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

enum output_format {
	FORMAT_NONE,
	FORMAT_JSON, /* the recording itself */
	FORMAT_TEXT,
	FORMAT_FOLDED,
	FORMAT_SVG,
	FORMAT_HTML,
	FORMAT_SPEEDSCOPE,
	FORMAT_PPROF,
};

/* What a stack's value is in the flamegraph formats. */
enum render_weight {
	WEIGHT_ALLOCATIONS, /* objects allocated (stacks[].allocations) */
	WEIGHT_BYTES,	    /* bytes allocated (stacks[].bytes) */
	WEIGHT_LIVE,	    /* objects still alive at the end (stacks[].alive_at_end) */
	WEIGHT_CYCLIC,	    /* objects only the cycle collector freed (stacks[].cycle_collected) */
	WEIGHT_GC_PAUSE,    /* collector pause, by the stack that triggered it (gc_blame) */
	WEIGHT_COUNT,
};

struct render_opts {
	enum render_weight weight;
	bool weight_given; /* false: the default; HTML and speedscope start on the first one */
	size_t top;	   /* rows in the text tables; 0: the default */
};

/* "json", "text", "folded", "svg", "html", "speedscope", "pprof"; FORMAT_NONE otherwise. */
enum output_format output_format_parse(const char *name);
/*
 * From a file name: .json (the recording), .txt/.text, .folded, .svg, .html,
 * .speedscope.json, .pb.gz; FORMAT_NONE otherwise.
 */
enum output_format output_format_from_path(const char *path);
const char *output_format_name(enum output_format f);
/* Whether the format draws stacks (and so needs full mode or gc_blame data). */
bool output_format_draws_stacks(enum output_format f);

/* "allocations", "bytes", "live", "cyclic", "gc-pause"; -1 otherwise. */
int render_weight_parse(const char *name, enum render_weight *w);
const char *render_weight_name(enum render_weight w);

/* Whether the recording carries the data weight `w` needs (silent). */
bool recording_has_weight(const json_t *rec, enum render_weight w);
/* 0, or -1 after one line saying what is missing and how to record it. */
int recording_check_weight(const json_t *rec, enum render_weight w);
/* 0 if `rec` looks like a pyobjlife recording; -1 with `why` set otherwise. */
int recording_json_check(const json_t *rec, char *why, size_t cap);

/*
 * Whether `rec` has what format `f` with `o` draws (stacks, lifecycle data):
 * 0, or -1 after one line saying what is missing. render_recording checks
 * too; this lets a caller tell bad input from a failed write.
 */
int render_check(const json_t *rec, enum output_format f, const struct render_opts *o);

/* Write `rec` as `f` to `out`: 0, or -1 after a one-line pr_err. */
int render_recording(FILE *out, const json_t *rec, enum output_format f,
		     const struct render_opts *o);

/* The few lines printed on stderr after `record` wrote `paths`. */
void render_summary(FILE *out, const json_t *rec, const char *paths);

/* The renderers, each from the recording JSON; 0 or -1 after a one-line pr_err. */
int render_text(FILE *out, const json_t *rec, const struct render_opts *o);
int render_folded(FILE *out, const json_t *rec, const struct render_opts *o);
int render_flamegraph(FILE *out, const json_t *rec, const struct render_opts *o);
int render_html(FILE *out, const json_t *rec, const struct render_opts *o);
int render_speedscope(FILE *out, const json_t *rec, const struct render_opts *o);
/* gzipped profile.proto (user/render_pprof.c) */
int render_pprof(FILE *out, const json_t *rec, const struct render_opts *o);

#endif
