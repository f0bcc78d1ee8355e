/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* What the renderers share: reading the recording JSON, weighted stacks, escaping. */
#ifndef PYOBJLIFE_RENDER_INTERNAL_H
#define PYOBJLIFE_RENDER_INTERNAL_H

#include <stdint.h>
#include "render.h"

#define TEXT_TOP_DEFAULT 20

/*
 * The recording is read defensively: a member that is absent or of another
 * type reads as empty (0, NULL, the default), so an old, partial or edited
 * recording renders what it has instead of crashing a renderer.
 */
/* The JSON and a newline, written through a large buffer; 0 or -1. */
int json_write_file(const json_t *j, FILE *out, size_t flags);
const char *jstr(const json_t *o, const char *key, const char *def);
/* A count: an integer, or a real (scaled estimates) rounded; negative or absent: 0. */
uint64_t ju64(const json_t *o, const char *key);
/* Like ju64, for a value that is itself a number (an array element). */
uint64_t ju64_value(const json_t *v);
double jreal(const json_t *o, const char *key);
/* The member if it is an array / object, else NULL. */
json_t *jarr(const json_t *o, const char *key);
json_t *jobj(const json_t *o, const char *key);

/* A frame of a flamegraph: a Python location, or a bracketed marker like "[list]". */
struct rframe {
	char *label;	      /* "function (file:line)" or "[marker]"; no newlines */
	const char *function; /* NULL for markers; borrowed from the recording */
	const char *file;
	long line; /* < 0: unknown */
};

/* Frames interned by label, so every profile of one file shares the indices. */
struct frame_table {
	struct rframe *v;
	size_t n, cap;
	size_t *slots; /* open addressing: index + 1, 0 empty */
	size_t n_slots;
};

/* One weighted stack, root first. */
struct rsample {
	size_t *frames;
	size_t depth;
	uint64_t weight;
};

struct profile {
	enum render_weight weight;
	struct rsample *v;
	size_t n, cap;
	uint64_t total;
	size_t max_depth;
};

void frame_table_init(struct frame_table *ft);
void frame_table_free(struct frame_table *ft);
/*
 * The stacks of `rec` weighted by `w`, with the marker frames: a root frame
 * "[truncated]", "[stack not recorded]" or "[no Python frame]" where it
 * applies, and a leaf frame "[Type]" (allocation stacks) or "[generation N]"
 * (gc-pause). Stacks of weight 0 are left out. 0, or -1 after a pr_err.
 */
int profile_build(struct profile *p, struct frame_table *ft, const json_t *rec,
		  enum render_weight w);
void profile_free(struct profile *p);

/* "objects", "bytes", "ns" */
const char *weight_unit(enum render_weight w);
/* What the weight measures, for titles: "Allocations", "Live objects at the end", ... */
const char *weight_title(enum render_weight w);
/* "1234 objects", "56789 bytes", "12.3 ms" */
void format_weight(enum render_weight w, uint64_t v, char *buf, size_t cap);

/* "12.3 ms": a duration for people. */
void format_ns(uint64_t ns, char *buf, size_t cap);
/* "12.3 MiB" */
void format_bytes(uint64_t b, char *buf, size_t cap);

/* Text for XML and HTML, escaped; characters XML forbids become '?'. */
void fput_xml(FILE *out, const char *s);
/* At most `max_chars` characters of `s` (UTF-8 aware), escaped. */
void fput_xml_prefix(FILE *out, const char *s, size_t max_chars);
size_t utf8_length(const char *s);

/* The pieces of the text report other renderers reuse. */
void text_write_report(FILE *out, const json_t *rec, size_t top);
void text_write_generation_table(FILE *out, const json_t *rec);
void text_write_allocations(FILE *out, const json_t *rec, size_t top);
void text_write_lifecycle_sites(FILE *out, const json_t *rec, size_t top);

/* The interactive flamegraph: the <svg> element of one profile. */
struct flamegraph_opts {
	bool standalone; /* its own file: the XML prolog, style and script inside */
	const char *id;	 /* an id attribute, or NULL */
};
int flamegraph_write_svg(FILE *out, const json_t *rec, const struct profile *p,
			 const struct frame_table *ft, const struct flamegraph_opts *o);
/* For a page holding several flamegraphs: the style and script, once. */
extern const char flamegraph_css[];
extern const char flamegraph_js[];

#endif
