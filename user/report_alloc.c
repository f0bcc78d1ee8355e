// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* The allocation views of a recording: JSON sites and stacks, folded stacks, text tables. */
#include <string.h>
#include "recording.h"

static json_t *frame_json(const struct code_location *f)
{
	return json_pack("{s:s, s:i, s:s}", "file", f->file, "line", f->line, "function",
			 f->function);
}

/* Root first, as flamegraphs and people read them. */
static json_t *frames_json(const struct resolved_stack *st)
{
	json_t *arr = json_array();

	for (int i = st ? st->depth - 1 : -1; i >= 0; i--)
		json_array_append_new(arr, frame_json(&st->frames[i]));
	return arr;
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

static json_t *stacks_json(const struct alloc_recording *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < a->n_rows; i++) {
		const struct alloc_row *row = &a->rows[i];
		bool truncated = row->stack && row->stack->truncated;
		bool unavailable = !row->stack || row->stack->unavailable;

		json_t *e = json_pack("{s:o, s:s, s:I, s:I, s:b, s:b}", "frames",
				      frames_json(row->stack), "type", row->type, "allocations",
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

	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "allocations_counted", (json_int_t)g->allocations, "lost_count_map_full",
			 (json_int_t)g->counts_full, "stack_map_full_counted_without_stack",
			 (json_int_t)g->stacks_full, "truncated_stacks", (json_int_t)g->truncated,
			 "no_thread_state", (json_int_t)g->no_thread, "thread_list_walks",
			 (json_int_t)g->thread_walks, "read_errors", (json_int_t)g->read_errors,
			 "key_notices_lost", (json_int_t)g->key_events_lost, "stacks_unfetchable",
			 (json_int_t)a->stacks_lost, "code_objects_named",
			 (json_int_t)a->sym.stats.code_objects, "code_objects_unreadable",
			 (json_int_t)a->sym.stats.read_errors, "code_objects_freed_before_named",
			 (json_int_t)a->sym.stats.stale);
}

static json_t *lifecycle_summary_json(const struct alloc_recording *a)
{
	const struct alloc_agg *g = &a->agg;
	json_t *totals = json_object();

	lifecycle_add_json(totals, &a->life, true);
	return json_pack("{s:s?, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			 "coverage", a->lifecycle_coverage, "totals", totals, "health",
			 "births_followed", (json_int_t)g->followed,
			 "births_unfollowed_type_not_hooked", (json_int_t)g->unfollowed_type,
			 "births_unfollowed_live_map_full", (json_int_t)g->live_full, "deaths_seen",
			 (json_int_t)g->deaths, "moved_without_death", (json_int_t)g->reborn,
			 "alive_generation_unknown", (json_int_t)a->alive_generation_unknown,
			 "censuses", (json_int_t)a->census.censuses, "census_walks_truncated",
			 (json_int_t)a->census.truncated_walks, "census_samples_dropped",
			 (json_int_t)a->census.dropped, "gc_blame_collections",
			 (json_int_t)a->blame_total_collections);
}

static json_t *blame_json(const struct alloc_recording *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < a->n_blame; i++) {
		const struct blame_row *b = &a->blame[i];

		json_array_append_new(arr, json_pack("{s:o, s:b, s:i, s:I, s:I}", "frames",
						     frames_json(b->stack), "stack_unavailable",
						     !b->stack || b->stack->unavailable,
						     "generation", b->generation, "collections",
						     (json_int_t)b->collections, "pause_ns",
						     (json_int_t)b->pause_ns));
	}
	return arr;
}

void alloc_recording_add_json(json_t *root, const struct alloc_recording *a)
{
	json_object_set_new(root, "allocations",
			    json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:o}", "hooks",
				      a->method, "coverage", a->coverage, "stack_depth_limit",
				      (int)a->stack_depth, "total_allocations",
				      (json_int_t)a->total_allocations, "total_bytes",
				      (json_int_t)a->total_bytes, "distinct_stacks",
				      (json_int_t)a->n_stacks, "lost_allocations",
				      (json_int_t)a->agg.counts_full, "health", health_json(a)));
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
	json_object_set_new(root, "stacks", stacks_json(a));
	json_object_set_new(root, "lifecycle", lifecycle_summary_json(a));
	if (a->sampled) {
		json_t *health = json_object_get(json_object_get(root, "lifecycle"), "health");

		json_object_set_new(health, "censored_at_window_close",
				    json_integer((json_int_t)a->censored_total));
		json_object_set_new(health, "censored_without_counted_allocation",
				    json_integer((json_int_t)a->censored_without_row));
	}
	json_object_set_new(root, "census", census_log_json(&a->census));
	json_object_set_new(root, "gc_blame", blame_json(a));
}

/* Folded frames must not contain the separators ';' and ' ' at the end of a line. */
static void put_folded_name(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc(*s == ';' ? ':' : *s == '\n' ? ' ' : *s, out);
}

static void put_folded_frame(FILE *out, const struct code_location *f)
{
	put_folded_name(out, f->function);
	fputs(" (", out);
	put_folded_name(out, f->file);
	if (f->line >= 0)
		fprintf(out, ":%d", f->line);
	fputc(')', out);
}

int recording_write_folded(FILE *out, const struct recording *r, enum stack_weight w)
{
	const struct alloc_recording *a = &r->alloc;

	for (size_t i = 0; i < a->n_rows; i++) {
		const struct alloc_row *row = &a->rows[i];
		const struct resolved_stack *st = row->stack;
		uint64_t weight = w == WEIGHT_BYTES ? row->bytes : row->allocations;

		if (!weight)
			continue;
		if (!st || st->unavailable)
			fputs("[stack not recorded];", out);
		else if (!st->depth)
			fputs("[no Python frame];", out);
		else if (st->truncated)
			fputs("[truncated];", out);
		for (int f = st ? st->depth - 1 : -1; f >= 0; f--) {
			put_folded_frame(out, &st->frames[f]);
			fputc(';', out);
		}
		fputc('[', out);
		put_folded_name(out, row->type);
		fprintf(out, "] %lu\n", (unsigned long)weight);
	}
	return ferror(out) ? -1 : 0;
}

static void print_health(FILE *out, const struct alloc_recording *a)
{
	const struct alloc_agg *g = &a->agg;

	if (g->counts_full)
		fprintf(out, "  LOST: %lu allocations (count map full; raise --max-sites)\n",
			(unsigned long)g->counts_full);
	if (g->stacks_full)
		fprintf(out,
			"  %lu allocations counted without a stack (stack map full; raise "
			"--max-stacks)\n",
			(unsigned long)g->stacks_full);
	if (g->truncated)
		fprintf(out, "  %lu allocations had stacks deeper than %u frames (root side cut)\n",
			(unsigned long)g->truncated, a->stack_depth);
	if (g->no_thread)
		fprintf(out, "  %lu allocations without a Python thread state\n",
			(unsigned long)g->no_thread);
}

void alloc_recording_write_text(FILE *out, const struct alloc_recording *a, size_t top)
{
	fprintf(out, "\nAllocations (%s hooks): %s%lu objects, %lu bytes, %zu sites, %zu stacks\n",
		a->method, a->sampled ? "estimated " : "", (unsigned long)a->total_allocations,
		(unsigned long)a->total_bytes, a->n_sites, a->n_stacks);
	if (a->sampled && a->sampler)
		fprintf(out,
			"  sampled: %lu objects seen in %lu windows covering %.2f%% of the time "
			"(%s); counts below are scaled estimates\n",
			(unsigned long)a->observed_allocations, (unsigned long)a->sampler->windows,
			a->sampling_ratio * 100, a->sampler->cfg.link);
	fprintf(out, "  coverage: %s\n", a->coverage);
	print_health(out, a);
	if (!a->n_sites)
		return;
	fprintf(out, "\n%12s %14s  %-24s %s\n", "ALLOCATIONS", "BYTES", "TYPE", "SITE");
	for (size_t i = 0; i < a->n_sites && i < top; i++) {
		const struct alloc_site *s = &a->sites[i];

		fprintf(out, "%12lu %14lu  %-24s %s (%s", (unsigned long)s->allocations,
			(unsigned long)s->bytes, s->type, s->function, s->file);
		if (s->line >= 0)
			fprintf(out, ":%d", s->line);
		fputs(")\n", out);
	}
	if (a->n_sites > top)
		fprintf(out, "  ... %zu more sites in the JSON output\n", a->n_sites - top);
}
