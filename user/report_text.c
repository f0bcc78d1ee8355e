// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <string.h>
#include "recording.h"

#define HIST_BAR_WIDTH	  40
#define TEXT_TOP_SITES	  20
#define SUMMARY_TOP_SITES 5

void format_ns(uint64_t ns, char *buf, size_t cap)
{
	if (ns < 1000)
		snprintf(buf, cap, "%lu ns", (unsigned long)ns);
	else if (ns < 1000000)
		snprintf(buf, cap, "%.1f us", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, cap, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, cap, "%.3f s", ns / 1e9);
}

void gc_collection_print(FILE *out, const struct gc_collection *c)
{
	char pause[32];

	format_ns(c->pause_ns, pause, sizeof(pause));
	fprintf(out,
		"%10.3fs  gen %d  pause %10s  collected %8ld  uncollectable %4ld  "
		"counts %d/%d/%d\n",
		c->t_ns / 1e9, c->generation, pause, (long)c->collected, (long)c->uncollectable,
		c->counts[0], c->counts[1], c->counts[2]);
}

static void print_generation_table(FILE *out, const struct gc_recording *g)
{
	fprintf(out, "%-4s %12s %12s %14s %12s %12s %12s\n", "GEN", "COLLECTIONS", "COLLECTED",
		"UNCOLLECTABLE", "PAUSE TOTAL", "PAUSE MAX", "PAUSE MEAN");
	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++) {
		const struct gc_gen_agg *a = &g->agg.gen[i];
		char total[32], max[32], mean[32];

		format_ns(a->pause_total_ns, total, sizeof(total));
		format_ns(a->pause_max_ns, max, sizeof(max));
		format_ns(a->collections ? a->pause_total_ns / a->collections : 0, mean,
			  sizeof(mean));
		fprintf(out, "%-4d %12lu %12lu %14lu %12s %12s %12s\n", i,
			(unsigned long)a->collections, (unsigned long)a->collected,
			(unsigned long)a->uncollectable, total, max, a->collections ? mean : "-");
	}
}

static void print_histogram(FILE *out, int gen, const __u64 *hist)
{
	uint64_t peak = 0;
	int first = -1, last = -1;

	for (int i = 0; i < PYOBJLIFE_HIST_BUCKETS; i++) {
		if (!hist[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (hist[i] > peak)
			peak = hist[i];
	}
	if (first < 0)
		return;
	fprintf(out, "\ngeneration %d pause (log2 histogram)\n", gen);
	for (int i = first; i <= last; i++) {
		char lo_s[32], hi_s[32], bar[HIST_BAR_WIDTH + 1];
		uint64_t lo, hi;
		int n = (int)(hist[i] * HIST_BAR_WIDTH / peak);

		if (hist[i] && !n)
			n = 1;
		log2_bucket_bounds(i, &lo, &hi);
		format_ns(lo, lo_s, sizeof(lo_s));
		format_ns(hi, hi_s, sizeof(hi_s));
		memset(bar, '#', (size_t)n);
		bar[n] = 0;
		fprintf(out, "  %10s .. %-10s %8lu |%-*s|\n", lo_s, hi_s, (unsigned long)hist[i],
			HIST_BAR_WIDTH, bar);
	}
}

void recording_write_text(FILE *out, const struct recording *r)
{
	const struct py_target *t = &r->plan->target;
	const struct gc_recording *g = &r->gc;
	uint64_t lost = gc_recording_lost(g);

	fprintf(out, "pyobjlife: PID %d, CPython %s (%s), %.1f s, %s\n", (int)r->pid,
		t->version_str, py_target_basename(t), r->duration_s,
		r->end_reason ? r->end_reason : "");
	if (g->thresholds_known)
		fprintf(out, "thresholds: %d %d %d, counts %d %d %d (%s)\n", g->thresholds[0],
			g->thresholds[1], g->thresholds[2], g->counts_at_start[0],
			g->counts_at_start[1], g->counts_at_start[2], g->thresholds_source);
	else
		fprintf(out, "thresholds: unknown (the interpreter never collected)\n");
	fputc('\n', out);
	print_generation_table(out, g);
	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++)
		print_histogram(out, i, g->agg.gen[i].pause_hist);
	if (r->have_stats_start && r->have_stats_end)
		fprintf(out, "\ncheck: the target's own gc.get_stats() counters %s\n",
			recording_agrees_with_target(r) ? "moved exactly as recorded"
							: "DISAGREE with the recording");
	if (lost)
		fprintf(out,
			"\nwarning: %lu collection records lost (timeline incomplete; the "
			"per-generation totals above are still exact)\n",
			(unsigned long)lost);
	if (r->alloc.enabled)
		alloc_recording_write_text(out, &r->alloc, TEXT_TOP_SITES);
}

void recording_write_summary(FILE *out, const struct recording *r, const char *path)
{
	const struct gc_recording *g = &r->gc;
	uint64_t max = 0;

	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++) {
		if (g->agg.gen[i].pause_max_ns > max)
			max = g->agg.gen[i].pause_max_ns;
	}
	fprintf(out, "pyobjlife: wrote %s: %.1f s, %lu collections (gen0 %lu, gen1 %lu, gen2 %lu)",
		path, r->duration_s, (unsigned long)gc_recording_total_collections(g),
		(unsigned long)g->agg.gen[0].collections, (unsigned long)g->agg.gen[1].collections,
		(unsigned long)g->agg.gen[2].collections);
	if (max) {
		char buf[32];

		format_ns(max, buf, sizeof(buf));
		fprintf(out, ", longest pause %s", buf);
	}
	fprintf(out, ", %lu lost\n", (unsigned long)gc_recording_lost(g));
	print_generation_table(out, g);
	if (r->alloc.enabled)
		alloc_recording_write_text(out, &r->alloc, SUMMARY_TOP_SITES);
}
