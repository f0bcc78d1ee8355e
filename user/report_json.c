// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <string.h>
#include "recording.h"

#ifndef PYOBJLIFE_VERSION
#define PYOBJLIFE_VERSION "0.0.0"
#endif

static json_t *histogram_json(const __u64 *hist)
{
	json_t *arr = json_array();

	for (int i = 0; i < PYOBJLIFE_HIST_BUCKETS; i++) {
		uint64_t lo, hi;

		if (!hist[i])
			continue;
		log2_bucket_bounds(i, &lo, &hi);
		json_array_append_new(arr, json_pack("[I, I, I]", (json_int_t)lo, (json_int_t)hi,
						     (json_int_t)hist[i]));
	}
	return arr;
}

static json_t *generations_json(const struct gc_recording *g)
{
	json_t *arr = json_array();

	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++) {
		const struct gc_gen_agg *a = &g->agg.gen[i];

		json_array_append_new(arr, json_pack("{s:i, s:I, s:I, s:I, s:{s:I, s:I, s:o}}",
						     "generation", i, "collections",
						     (json_int_t)a->collections, "collected",
						     (json_int_t)a->collected, "uncollectable",
						     (json_int_t)a->uncollectable, "pause_ns",
						     "total", (json_int_t)a->pause_total_ns, "max",
						     (json_int_t)a->pause_max_ns, "log2_histogram",
						     histogram_json(a->pause_hist)));
	}
	return arr;
}

static json_t *timeline_json(const struct gc_recording *g)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < g->n_collections; i++) {
		const struct gc_collection *c = &g->collections[i];

		json_array_append_new(arr,
				      json_pack("{s:I, s:i, s:I, s:I, s:I, s:[i,i,i]}", "t_ns",
						(json_int_t)c->t_ns, "generation", c->generation,
						"pause_ns", (json_int_t)c->pause_ns, "collected",
						(json_int_t)c->collected, "uncollectable",
						(json_int_t)c->uncollectable, "counts_before",
						c->counts[0], c->counts[1], c->counts[2]));
	}
	return arr;
}

static json_t *int3_or_null(const int32_t *v, bool known)
{
	return known ? json_pack("[i, i, i]", v[0], v[1], v[2]) : json_null();
}

static json_t *diagnostics_json(const struct recording *r)
{
	const struct gc_recording *g = &r->gc;

	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
			 "ringbuf_drops", (json_int_t)g->agg.ringbuf_drops, "timeline_dropped",
			 (json_int_t)g->thin.failed, "timeline_thinned",
			 (json_int_t)g->thin.thinned, "malformed_records", (json_int_t)g->malformed,
			 "read_errors", (json_int_t)g->agg.read_errors,
			 "collections_before_interpreter_ready", (json_int_t)g->agg.not_ready,
			 "unmatched_ends", (json_int_t)g->agg.unmatched_ends,
			 "empty_collector_calls", (json_int_t)g->agg.empty,
			 "generation_argument_mismatches", (json_int_t)g->agg.gen_mismatch,
			 "inflight_map_full", (json_int_t)g->agg.inflight_full, "memory",
			 recording_memory_json(r), "bpf_maps", recording_bpf_maps_json(r));
}

static json_t *target_check_json(const struct recording *r)
{
	json_t *delta;

	if (!r->have_stats_start || !r->have_stats_end)
		return json_null();
	delta = json_array();
	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++)
		json_array_append_new(delta,
				      json_pack("{s:I, s:I, s:I}", "collections",
						(json_int_t)(r->stats_end[i].collections -
							     r->stats_start[i].collections),
						"collected",
						(json_int_t)(r->stats_end[i].collected -
							     r->stats_start[i].collected),
						"uncollectable",
						(json_int_t)(r->stats_end[i].uncollectable -
							     r->stats_start[i].uncollectable)));
	return json_pack("{s:s, s:o, s:b}", "source",
			 "the interpreter's generation_stats, read by the probes before the first "
			 "and after the last recorded collection",
			 "generation_stats_delta", delta, "agrees",
			 recording_agrees_with_target(r));
}

json_t *recording_to_json(const struct recording *r)
{
	const struct py_target *t = &r->plan->target;
	const struct gc_recording *g = &r->gc;
	json_t *target, *gc, *root;

	target = json_pack("{s:i, s:s, s:s, s:s, s:o}", "pid", (int)r->pid, "python_version",
			   t->version_str, "binary", t->path, "executable", t->exe, "probes",
			   probe_plan_attached_json(r->plan, r->alloc.enabled));
	if (target && r->plan->placed)
		json_object_set_new(target, "probe_placement", probe_plan_placement_json(r->plan));
	gc = json_pack("{s:o, s:s?, s:o, s:o, s:o}", "thresholds",
		       int3_or_null(g->thresholds, g->thresholds_known), "thresholds_source",
		       g->thresholds_source, "counts_at_start",
		       int3_or_null(g->counts_at_start, g->thresholds_known), "generations",
		       generations_json(g), "collections", timeline_json(g));
	root = json_pack("{s:{s:s}, s:o, s:s, s:s, s:f, s:s?, s:I, s:o, s:o, s:o}", "pyobjlife",
			 "version", PYOBJLIFE_VERSION, "target", target, "mode", r->mode,
			 "started_at", r->started_at, "duration_seconds", r->duration_s,
			 "end_reason", r->end_reason, "lost_events",
			 (json_int_t)gc_recording_lost(g), "diagnostics", diagnostics_json(r),
			 "target_check", target_check_json(r), "gc", gc);
	if (root)
		json_object_set_new(root, "heap_timeline", heap_timeline_json(&r->heap));
	if (root && r->program_stats && json_object_size(r->program_stats))
		json_object_set(json_object_get(root, "diagnostics"), "bpf_program_run_time",
				r->program_stats);
	if (root && r->alloc.enabled) {
		json_t *health;

		alloc_recording_add_json(root, &r->alloc);
		/* what the collection-start programs could not keep, from the gc aggregate */
		health = json_object_get(json_object_get(root, "lifecycle"), "health");
		json_object_set_new(health, "census_notices_lost",
				    json_integer((json_int_t)g->agg.census_lost));
		json_object_set_new(health, "gc_blame_map_full",
				    json_integer((json_int_t)g->agg.blame_full));
	}
	return root;
}

bool recording_agrees_with_target(const struct recording *r)
{
	if (!r->have_stats_start || !r->have_stats_end)
		return false;
	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++) {
		const struct gc_gen_agg *a = &r->gc.agg.gen[i];

		if ((int64_t)a->collections !=
			    r->stats_end[i].collections - r->stats_start[i].collections ||
		    (int64_t)a->collected !=
			    r->stats_end[i].collected - r->stats_start[i].collected ||
		    (int64_t)a->uncollectable !=
			    r->stats_end[i].uncollectable - r->stats_start[i].uncollectable)
			return false;
	}
	return true;
}
