// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* The allocation views of a recording: its JSON sites and stacks, and their text tables. */
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include "array_sort.h"
#include "recording.h"
#include "render_internal.h"

/*
 * One JSON node per distinct frame and per stack, shared by every row that has
 * it (jansson counts references; the text written is the same). An import-heavy
 * start-up has 65,000 (stack, type) rows over 45,000 stacks, 1.5 million frames
 * of which 8,000 differ: built one by one they took ~1 GiB and seconds to make
 * and free.
 */
struct json_reuse {
	void *frames; /* tsearch tree of struct frame_node */
	void *stacks; /* tsearch tree of struct stack_node */
};

struct frame_node {
	const char *file, *function; /* interned by the symbolizer: compared as pointers */
	int line;
	json_t *json;
};

struct stack_node {
	const struct resolved_stack *stack;
	json_t *json;
};

static int cmp_frame_node(const void *a, const void *b)
{
	const struct frame_node *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->function != y->function)
		return x->function < y->function ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

static int cmp_stack_node(const void *a, const void *b)
{
	const struct stack_node *x = a, *y = b;

	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static void free_frame_node(void *p)
{
	json_decref(((struct frame_node *)p)->json);
	free(p);
}

static void free_stack_node(void *p)
{
	json_decref(((struct stack_node *)p)->json);
	free(p);
}

static void json_reuse_free(struct json_reuse *r)
{
	tdestroy(r->frames, free_frame_node);
	tdestroy(r->stacks, free_stack_node);
	r->frames = r->stacks = NULL;
}

static json_t *new_frame_json(const struct code_location *f)
{
	return json_pack("{s:s, s:i, s:s}", "file", f->file, "line", f->line, "function",
			 f->function);
}

/* A new reference to the frame's node (a fresh node if it cannot be kept). */
static json_t *frame_json(struct json_reuse *r, const struct code_location *f)
{
	struct frame_node probe = { .file = f->file, .function = f->function, .line = f->line };
	struct frame_node **found = tfind(&probe, &r->frames, cmp_frame_node), *n;

	if (found)
		return json_incref((*found)->json);
	n = malloc(sizeof(*n));
	if (!n)
		return new_frame_json(f);
	*n = probe;
	n->json = new_frame_json(f);
	if (!n->json || !tsearch(n, &r->frames, cmp_frame_node)) {
		json_t *j = n->json;

		free(n);
		return j;
	}
	return json_incref(n->json);
}

/* Root first, as flamegraphs and people read them. A new reference. */
static json_t *frames_json(struct json_reuse *r, const struct resolved_stack *st)
{
	struct stack_node probe = { .stack = st }, **found, *n;
	json_t *arr;

	found = st ? tfind(&probe, &r->stacks, cmp_stack_node) : NULL;
	if (found)
		return json_incref((*found)->json);
	arr = json_array();
	for (int i = st ? st->depth - 1 : -1; i >= 0; i--)
		json_array_append_new(arr, frame_json(r, &st->frames[i]));
	n = st && arr ? malloc(sizeof(*n)) : NULL;
	if (!n)
		return arr;
	n->stack = st;
	n->json = arr;
	if (!tsearch(n, &r->stacks, cmp_stack_node)) {
		free(n);
		return arr;
	}
	return json_incref(arr);
}

/*
 * Sampled mode: "allocations" and "bytes" are estimates; what the windows saw is
 * kept beside them, with the births whose window closed before they died.
 */
static void add_sampled_counts(json_t *e, const struct alloc_recording *a, uint64_t observed,
			       uint64_t observed_bytes, uint64_t censored, uint64_t censored_bytes)
{
	if (!a->sampled)
		return;
	json_object_set_new(e, "observed_allocations", json_integer((json_int_t)observed));
	json_object_set_new(e, "observed_bytes", json_integer((json_int_t)observed_bytes));
	json_object_set_new(e, "censored", json_integer((json_int_t)censored));
	json_object_set_new(e, "censored_bytes", json_integer((json_int_t)censored_bytes));
}

static json_t *sites_json(const struct alloc_recording *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < a->n_sites; i++) {
		const struct alloc_site *s = &a->sites[i];

		json_t *e =
			json_pack("{s:s, s:i, s:s, s:s, s:I, s:I}", "file", s->file, "line",
				  s->line, "function", s->function, "type", s->type, "allocations",
				  (json_int_t)s->allocations, "bytes", (json_int_t)s->bytes);

		add_sampled_counts(e, a, s->observed_allocations, s->observed_bytes, s->censored,
				   s->censored_bytes);
		lifecycle_add_json(e, &s->life, true);
		json_array_append_new(arr, e);
	}
	return arr;
}

static json_t *stacks_json(const struct alloc_recording *a, struct json_reuse *reuse)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < a->n_rows; i++) {
		const struct alloc_row *row = &a->rows[i];
		bool truncated = row->stack && row->stack->truncated;
		bool unavailable = !row->stack || row->stack->unavailable;

		json_t *e =
			json_pack("{s:o, s:s, s:I, s:I, s:b, s:b}", "frames",
				  frames_json(reuse, row->stack), "type", row->type, "allocations",
				  (json_int_t)row->allocations, "bytes", (json_int_t)row->bytes,
				  "truncated", truncated, "stack_unavailable", unavailable);

		add_sampled_counts(e, a, row->observed_allocations, row->observed_bytes,
				   row->censored, row->censored_bytes);
		lifecycle_add_json(e, &row->life, false);
		json_array_append_new(arr, e);
	}
	return arr;
}

static json_t *health_json(const struct alloc_recording *a)
{
	const struct alloc_agg *g = &a->agg;

	return json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		"s:I, s:I, s:I}",
		"allocations_counted", (json_int_t)g->allocations, "count_map_full_counted_by_type",
		(json_int_t)(g->counts_full - g->overflow_full), "count_map_full_types",
		(json_int_t)a->overflow_rows, "lost_count_map_full", (json_int_t)g->overflow_full,
		"stack_map_full_counted_without_stack", (json_int_t)g->stacks_full,
		"truncated_stacks", (json_int_t)g->truncated, "no_thread_state",
		(json_int_t)g->no_thread, "thread_list_walks", (json_int_t)g->thread_walks,
		"read_errors", (json_int_t)g->read_errors, "walk_busy", (json_int_t)g->walk_busy,
		"key_notices_lost", (json_int_t)g->key_events_lost, "stacks_unfetchable",
		(json_int_t)a->stacks_lost, "code_objects_named",
		(json_int_t)a->sym.stats.code_objects, "code_objects_unreadable",
		(json_int_t)a->sym.stats.read_errors, "code_objects_freed_before_named",
		(json_int_t)a->sym.stats.stale, "code_objects_copied",
		(json_int_t)g->code_snapshots, "code_copies_lost",
		(json_int_t)g->code_snapshots_lost, "code_copies_unusable",
		(json_int_t)a->sym.stats.snapshot_errors, "frames_named_from_copies",
		(json_int_t)a->sym.stats.named_from_snapshots);
}

static json_t *lifecycle_summary_json(const struct alloc_recording *a)
{
	const struct alloc_agg *g = &a->agg;
	json_t *totals = json_object();

	lifecycle_add_json(totals, &a->life, true);
	return json_pack("{s:s?, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			 "coverage", a->lifecycle_coverage, "totals", totals, "health",
			 "births_followed", (json_int_t)g->followed,
			 "births_unfollowed_type_not_hooked", (json_int_t)g->unfollowed_type,
			 "births_unfollowed_live_map_full", (json_int_t)g->live_full, "deaths_seen",
			 (json_int_t)g->deaths, "moved_without_death", (json_int_t)g->reborn,
			 "alive_generation_unknown", (json_int_t)a->alive_generation_unknown,
			 "censuses", (json_int_t)a->census.censuses, "census_walks_truncated",
			 (json_int_t)a->census.truncated_walks, "census_samples_dropped",
			 (json_int_t)(a->census.thin.thinned + a->census.thin.failed),
			 "census_orphan_counts_cleared", (json_int_t)a->census.orphans,
			 "gc_blame_collections", (json_int_t)a->blame_total_collections);
}

static json_t *blame_json(const struct alloc_recording *a, struct json_reuse *reuse)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < a->n_blame; i++) {
		const struct blame_row *b = &a->blame[i];

		json_array_append_new(
			arr, json_pack("{s:o, s:b, s:i, s:I, s:I}", "frames",
				       frames_json(reuse, b->stack), "stack_unavailable",
				       !b->stack || b->stack->unavailable, "generation",
				       b->generation, "collections", (json_int_t)b->collections,
				       "pause_ns", (json_int_t)b->pause_ns));
	}
	return arr;
}

void alloc_recording_add_json(json_t *root, const struct alloc_recording *a)
{
	struct json_reuse reuse = { 0 };

	json_object_set_new(root, "allocations",
			    json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:o}", "hooks",
				      a->method, "coverage", a->coverage, "stack_depth_limit",
				      (int)a->stack_depth, "total_allocations",
				      (json_int_t)a->total_allocations, "total_bytes",
				      (json_int_t)a->total_bytes, "distinct_stacks",
				      (json_int_t)a->n_stacks, "lost_allocations",
				      (json_int_t)a->agg.overflow_full, "health", health_json(a)));
	if (a->sampled) {
		json_t *alloc = json_object_get(root, "allocations");

		json_object_set_new(alloc, "estimated", json_true());
		json_object_set_new(alloc, "observed_total_allocations",
				    json_integer((json_int_t)a->observed_allocations));
		json_object_set_new(alloc, "observed_total_bytes",
				    json_integer((json_int_t)a->observed_bytes));
		if (a->sampler)
			json_object_set_new(root, "sampling", sampler_to_json(a->sampler));
	}
	json_object_set_new(root, "sites", sites_json(a));
	json_object_set_new(root, "stacks", stacks_json(a, &reuse));
	json_object_set_new(root, "lifecycle", lifecycle_summary_json(a));
	if (a->sampled) {
		json_t *health = json_object_get(json_object_get(root, "lifecycle"), "health");

		json_object_set_new(health, "censored_at_window_close",
				    json_integer((json_int_t)a->censored_total));
		json_object_set_new(health, "censored_without_counted_allocation",
				    json_integer((json_int_t)a->censored_without_row));
	}
	json_object_set_new(root, "census", census_log_json(&a->census));
	json_object_set_new(root, "gc_blame", blame_json(a, &reuse));
	json_reuse_free(&reuse);
}

static void print_health(FILE *out, const json_t *a)
{
	const json_t *h = jobj(a, "health");
	uint64_t counts_full = ju64(h, "lost_count_map_full"),
		 by_type = ju64(h, "count_map_full_counted_by_type"),
		 stacks_full = ju64(h, "stack_map_full_counted_without_stack"),
		 truncated = ju64(h, "truncated_stacks"), no_thread = ju64(h, "no_thread_state");

	if (by_type)
		fprintf(out,
			"  %lu allocations counted by type without a stack (count map full; raise "
			"--max-sites)\n",
			(unsigned long)by_type);
	if (counts_full)
		fprintf(out,
			"  LOST: %lu allocations (count map and its by-type overflow full; raise "
			"--max-sites)\n",
			(unsigned long)counts_full);
	if (stacks_full)
		fprintf(out,
			"  %lu allocations counted without a stack (stack map full; raise "
			"--max-stacks)\n",
			(unsigned long)stacks_full);
	if (truncated)
		fprintf(out,
			"  %lu allocations had stacks deeper than %lu frames (root side cut)\n",
			(unsigned long)truncated, (unsigned long)ju64(a, "stack_depth_limit"));
	if (no_thread)
		fprintf(out, "  %lu allocations without a Python thread state\n",
			(unsigned long)no_thread);
}

/* What the ratio is a share of, by sampling.basis (older recordings have none: time). */
static const char *ratio_share_of(const json_t *s)
{
	const char *basis = jstr(s, "basis", "wall_time");

	if (!strcmp(basis, "user_time"))
		return "of the target's user CPU time";
	if (!strcmp(basis, "work"))
		return "of the target's CPU time less the probes' cost";
	if (!strcmp(basis, "paced"))
		return "of the time (the target was paced by its input)";
	return "of the time";
}

static void print_sampling(FILE *out, const json_t *rec)
{
	const json_t *s = jobj(rec, "sampling");

	if (!json_is_true(json_object_get(s, "estimated")))
		return;
	fprintf(out,
		"  sampled: %lu objects seen in %lu windows (%s) that saw %.2f%% %s; counts are "
		"scaled estimates\n",
		(unsigned long)ju64(s, "observed_allocations"), (unsigned long)ju64(s, "windows"),
		jstr(s, "link", "?"), jreal(s, "ratio") * 100, ratio_share_of(s));
	if (json_is_string(json_object_get(s, "estimate_warning")))
		fprintf(out, "  WARNING: %s\n", jstr(s, "estimate_warning", ""));
	if (json_is_string(json_object_get(s, "stopped_early")))
		fprintf(out, "  WARNING: %s\n", jstr(s, "stopped_early", ""));
}

/* "function (file:line)" */
static void print_site(FILE *out, const json_t *s)
{
	json_t *line = json_object_get(s, "line");

	fprintf(out, "%s (%s", jstr(s, "function", "?"), jstr(s, "file", "?"));
	if (json_is_integer(line) && json_integer_value(line) >= 0)
		fprintf(out, ":%ld", (long)json_integer_value(line));
	fputs(")\n", out);
}

void text_write_allocations(FILE *out, const json_t *rec, size_t top)
{
	const json_t *a = jobj(rec, "allocations"), *sites = jarr(rec, "sites");
	size_t n_sites = json_array_size(sites);

	fprintf(out, "\nAllocations (%s hooks): %s%lu objects, %lu bytes, %zu sites, %lu stacks\n",
		jstr(a, "hooks", "?"),
		json_is_true(json_object_get(a, "estimated")) ? "estimated " : "",
		(unsigned long)ju64(a, "total_allocations"), (unsigned long)ju64(a, "total_bytes"),
		n_sites, (unsigned long)ju64(a, "distinct_stacks"));
	fprintf(out, "  coverage: %s\n", jstr(a, "coverage", "?"));
	print_health(out, a);
	print_sampling(out, rec);
	if (!n_sites)
		return;
	fprintf(out, "\n%12s %14s  %-24s %s\n", "ALLOCATIONS", "BYTES", "TYPE", "SITE");
	for (size_t i = 0; i < n_sites && i < top; i++) {
		const json_t *s = json_array_get(sites, i);

		fprintf(out, "%12lu %14lu  %-24s ", (unsigned long)ju64(s, "allocations"),
			(unsigned long)ju64(s, "bytes"), jstr(s, "type", "?"));
		print_site(out, s);
	}
	if (n_sites > top)
		fprintf(out, "  ... %zu more sites in the JSON output\n", n_sites - top);
}

/* Sites ordered by one member, largest first; ties keep the recording's order. */
struct ranked_site {
	const json_t *site;
	uint64_t key, second;
	size_t index;
};

static int by_key_desc(const void *a, const void *b)
{
	const struct ranked_site *x = a, *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	if (x->second != y->second)
		return x->second > y->second ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The sites with `key` > 0, sorted; NULL (and *n 0) when there are none. */
static struct ranked_site *rank_sites(const json_t *sites, const char *key, const char *second,
				      size_t *n)
{
	struct ranked_site *v = calloc(json_array_size(sites) + 1, sizeof(*v));
	size_t i;
	json_t *s;

	*n = 0;
	if (!v)
		return NULL;
	json_array_foreach(sites, i, s)
	{
		if (ju64(s, key))
			v[(*n)++] = (struct ranked_site){ s, ju64(s, key), ju64(s, second), i };
	}
	array_sort(v, *n, sizeof(*v), by_key_desc);
	return v;
}

static bool sites_have(const json_t *sites, const char *key)
{
	size_t i;
	json_t *s;

	json_array_foreach(sites, i, s)
	{
		if (json_object_get(s, key))
			return true;
	}
	return false;
}

static void print_leak_candidates(FILE *out, const json_t *sites, size_t top)
{
	size_t n;
	struct ranked_site *v =
		rank_sites(sites, "alive_survived_full_collection", "alive_at_end", &n);

	fprintf(out, "\nLeak candidates: objects still alive at the end that survived a full "
		     "(generation 2) collection\n");
	if (!n)
		fprintf(out, "  none\n");
	else
		fprintf(out, "%12s %12s %14s  %-24s %s\n", "SURVIVED", "ALIVE", "ALIVE BYTES",
			"TYPE", "SITE");
	for (size_t i = 0; i < n && i < top; i++) {
		const json_t *s = v[i].site;

		fprintf(out, "%12lu %12lu %14lu  %-24s ", (unsigned long)v[i].key,
			(unsigned long)ju64(s, "alive_at_end"),
			(unsigned long)ju64(s, "alive_at_end_bytes"), jstr(s, "type", "?"));
		print_site(out, s);
	}
	if (n > top)
		fprintf(out, "  ... %zu more sites\n", n - top);
	free(v);
}

static void print_cyclic_garbage(FILE *out, const json_t *sites, size_t top)
{
	size_t n;
	struct ranked_site *v = rank_sites(sites, "cycle_collected", "allocations", &n);

	fprintf(out, "\nCyclic garbage: objects only the cycle collector freed (reference cycles; "
		     "breaking them, e.g. with weakref, frees them at once)\n");
	if (!n)
		fprintf(out, "  none\n");
	else
		fprintf(out, "%12s %12s  %-24s %s\n", "CYCLIC", "ALLOCATIONS", "TYPE", "SITE");
	for (size_t i = 0; i < n && i < top; i++) {
		fprintf(out, "%12lu %12lu  %-24s ", (unsigned long)v[i].key,
			(unsigned long)v[i].second, jstr(v[i].site, "type", "?"));
		print_site(out, v[i].site);
	}
	if (n > top)
		fprintf(out, "  ... %zu more sites\n", n - top);
	free(v);
}

void text_write_lifecycle_sites(FILE *out, const json_t *rec, size_t top)
{
	const json_t *sites = jarr(rec, "sites");
	const json_t *life = json_object_get(rec, "lifecycle");

	/* with no object followed, "none" would claim what was never looked at */
	if (life && !ju64(json_object_get(life, "totals"), "followed")) {
		fprintf(out, "\nLeak candidates and cyclic garbage: not recorded (%s)\n",
			jstr(life, "coverage", "no object was followed to its death"));
		return;
	}
	if (sites_have(sites, "alive_survived_full_collection"))
		print_leak_candidates(out, sites, top);
	if (sites_have(sites, "cycle_collected"))
		print_cyclic_garbage(out, sites, top);
}
