// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* The text report and the summary after `record`, from the recording JSON. */
#include <stdlib.h>
#include <string.h>
#include "array_sort.h"
#include "log.h"
#include "recording.h"
#include "render_internal.h"

#define HIST_BAR_WIDTH	  40
#define HIST_BUCKETS	  64
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

static json_t *generations(const json_t *rec)
{
	return jarr(jobj(rec, "gc"), "generations");
}

void text_write_generation_table(FILE *out, const json_t *rec)
{
	size_t i;
	json_t *g;

	fprintf(out, "%-4s %12s %12s %14s %12s %12s %12s\n", "GEN", "COLLECTIONS", "COLLECTED",
		"UNCOLLECTABLE", "PAUSE TOTAL", "PAUSE MAX", "PAUSE MEAN");
	json_array_foreach(generations(rec), i, g)
	{
		const json_t *pause = jobj(g, "pause_ns");
		uint64_t n = ju64(g, "collections"), total_ns = ju64(pause, "total");
		char total[32], max[32], mean[32];

		format_ns(total_ns, total, sizeof(total));
		format_ns(ju64(pause, "max"), max, sizeof(max));
		format_ns(n ? total_ns / n : 0, mean, sizeof(mean));
		fprintf(out, "%-4lu %12lu %12lu %14lu %12s %12s %12s\n",
			(unsigned long)ju64(g, "generation"), (unsigned long)n,
			(unsigned long)ju64(g, "collected"),
			(unsigned long)ju64(g, "uncollectable"), total, max, n ? mean : "-");
	}
}

/* A log2 bucket's index from its lower bound: [0, 2) is bucket 0, [2^i, 2^(i+1)) bucket i. */
static int bucket_of(uint64_t lo)
{
	return lo < 2 ? 0 : 63 - __builtin_clzll(lo);
}

/* The histogram's buckets back in an array, so the empty ones between show too. */
static bool read_histogram(const json_t *g, uint64_t *hist)
{
	const json_t *arr = jarr(jobj(g, "pause_ns"), "log2_histogram");
	bool any = false;
	size_t i;
	json_t *b;

	memset(hist, 0, HIST_BUCKETS * sizeof(*hist));
	json_array_foreach(arr, i, b)
	{
		uint64_t count = ju64_value(json_array_get(b, 2));

		hist[bucket_of(ju64_value(json_array_get(b, 0)))] += count;
		any |= count != 0;
	}
	return any;
}

static void print_histogram(FILE *out, const json_t *g)
{
	uint64_t hist[HIST_BUCKETS], peak = 0;
	int first = -1, last = -1;

	if (!read_histogram(g, hist))
		return;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		if (!hist[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (hist[i] > peak)
			peak = hist[i];
	}
	fprintf(out, "\ngeneration %lu pause (log2 histogram)\n",
		(unsigned long)ju64(g, "generation"));
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

static const char *base_name_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static void print_header(FILE *out, const json_t *rec)
{
	const json_t *t = jobj(rec, "target"), *gc = jobj(rec, "gc");
	const json_t *th = jarr(gc, "thresholds"), *counts = jarr(gc, "counts_at_start");

	fprintf(out, "pyobjlife: PID %lu, CPython %s (%s), %.1f s, %s\n",
		(unsigned long)ju64(t, "pid"), jstr(t, "python_version", "?"),
		base_name_of(jstr(t, "binary", "?")), jreal(rec, "duration_seconds"),
		jstr(rec, "end_reason", ""));
	if (json_array_size(th) == 3 && json_array_size(counts) == 3)
		fprintf(out, "thresholds: %lu %lu %lu, counts %lu %lu %lu (%s)\n",
			(unsigned long)ju64_value(json_array_get(th, 0)),
			(unsigned long)ju64_value(json_array_get(th, 1)),
			(unsigned long)ju64_value(json_array_get(th, 2)),
			(unsigned long)ju64_value(json_array_get(counts, 0)),
			(unsigned long)ju64_value(json_array_get(counts, 1)),
			(unsigned long)ju64_value(json_array_get(counts, 2)),
			jstr(gc, "thresholds_source", "?"));
	else
		fprintf(out, "thresholds: unknown (the interpreter never collected)\n");
}

/* The census rows of generation 2 taken at time `t`. */
static size_t census_rows_at(const json_t *census, uint64_t t, const json_t **rows)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(census, i, e)
	{
		if (ju64(e, "generation") == 2 && ju64(e, "t_ns") == t)
			rows[n++] = e;
	}
	return n;
}

static int by_type(const void *a, const void *b)
{
	return strcmp(jstr(*(const json_t *const *)a, "type", ""),
		      jstr(*(const json_t *const *)b, "type", ""));
}

struct growth {
	const char *type;
	uint64_t first, last;
};

static int by_growth_desc(const void *a, const void *b)
{
	const struct growth *x = a, *y = b;
	int64_t gx = (int64_t)(x->last - x->first), gy = (int64_t)(y->last - y->first);

	if (gx != gy)
		return gx > gy ? -1 : 1;
	return strcmp(x->type, y->type);
}

/* Merge the first and the last sample (each sorted by type); a type absent from one has 0. */
static size_t census_growth(const json_t **first, size_t nf, const json_t **last, size_t nl,
			    struct growth *out)
{
	size_t i = 0, j = 0, n = 0;

	while (i < nf || j < nl) {
		int c = i == nf ? 1 : j == nl ? -1 : by_type(&first[i], &last[j]);
		struct growth g = { .type = jstr(c <= 0 ? first[i] : last[j], "type", "?") };

		if (c <= 0)
			g.first = ju64(first[i++], "count");
		if (c >= 0)
			g.last = ju64(last[j++], "count");
		if (g.last > g.first)
			out[n++] = g;
	}
	return n;
}

static void print_census_growth(FILE *out, const json_t *rec, size_t top)
{
	const json_t *census = jarr(rec, "census");
	uint64_t t0 = UINT64_MAX, t1 = 0;
	const json_t **first, **last;
	struct growth *grown;
	size_t i, nf, nl, n;
	json_t *e;

	/* the first and last censuses of generation 2; young-only censuses come between */
	json_array_foreach(census, i, e)
	{
		uint64_t t = ju64(e, "t_ns");

		if (ju64(e, "generation") != 2)
			continue;
		t0 = t < t0 ? t : t0;
		t1 = t > t1 ? t : t1;
	}
	if (!census || t1 <= t0)
		return; /* fewer than two samples: no growth to tell */
	first = calloc(json_array_size(census), sizeof(*first));
	last = calloc(json_array_size(census), sizeof(*last));
	grown = calloc(json_array_size(census) + 1, sizeof(*grown));
	if (!first || !last || !grown)
		goto out;
	nf = census_rows_at(census, t0, first);
	nl = census_rows_at(census, t1, last);
	array_sort(first, nf, sizeof(*first), by_type);
	array_sort(last, nl, sizeof(*last), by_type);
	n = census_growth(first, nf, last, nl, grown);
	array_sort(grown, n, sizeof(*grown), by_growth_desc);
	fprintf(out,
		"\nCensus growth: live objects in generation 2 by type, last sample (%.3f s) minus "
		"first (%.3f s)\n",
		t1 / 1e9, t0 / 1e9);
	if (!n)
		fprintf(out, "  no type grew in generation 2\n");
	else
		fprintf(out, "%12s %12s %12s  %s\n", "GROWTH", "FIRST", "LAST", "TYPE");
	for (i = 0; i < n && i < top; i++)
		fprintf(out, "%+12ld %12lu %12lu  %s\n", (long)(grown[i].last - grown[i].first),
			(unsigned long)grown[i].first, (unsigned long)grown[i].last, grown[i].type);
	if (n > top)
		fprintf(out, "  ... %zu more types grew\n", n - top);
out:
	free(first);
	free(last);
	free(grown);
}

static void print_heap(FILE *out, const json_t *rec)
{
	const json_t *tl = jarr(rec, "heap_timeline");
	const json_t *a = json_array_get(tl, 0), *z = json_array_get(tl, json_array_size(tl) - 1);
	uint64_t peak = 0;
	char s0[32], s1[32], sp[32];
	size_t i;
	json_t *e;

	if (!json_array_size(tl))
		return;
	json_array_foreach(tl, i, e)
	{
		if (ju64(e, "rss_bytes") > peak)
			peak = ju64(e, "rss_bytes");
	}
	format_bytes(ju64(a, "rss_bytes"), s0, sizeof(s0));
	format_bytes(ju64(z, "rss_bytes"), s1, sizeof(s1));
	format_bytes(peak, sp, sizeof(sp));
	fprintf(out, "\nheap: RSS %s -> %s (peak %s, %zu samples over %.3f s)", s0, s1, sp,
		json_array_size(tl), (ju64(z, "t_ns") - ju64(a, "t_ns")) / 1e9);
	/* the arena counters are cumulative: what the recording saw is last minus first */
	if (json_is_number(json_object_get(a, "arenas_allocated")) &&
	    json_is_number(json_object_get(z, "arenas_allocated")) &&
	    json_is_number(json_object_get(a, "arenas_freed")) &&
	    json_is_number(json_object_get(z, "arenas_freed")))
		fprintf(out, "; pymalloc arenas: %lu allocated, %lu freed",
			(unsigned long)(ju64(z, "arenas_allocated") - ju64(a, "arenas_allocated")),
			(unsigned long)(ju64(z, "arenas_freed") - ju64(a, "arenas_freed")));
	else
		fprintf(out, "; pymalloc arenas: unknown");
	fputc('\n', out);
}

void text_write_report(FILE *out, const json_t *rec, size_t top)
{
	const json_t *check = jobj(rec, "target_check");
	uint64_t lost = ju64(rec, "lost_events");
	size_t i;
	json_t *g;

	print_header(out, rec);
	fputc('\n', out);
	text_write_generation_table(out, rec);
	json_array_foreach(generations(rec), i, g) print_histogram(out, g);
	if (check)
		fprintf(out, "\ncheck: the target's own gc.get_stats() counters %s\n",
			json_is_true(json_object_get(check, "agrees"))
				? "moved exactly as recorded"
				: "DISAGREE with the recording");
	if (lost)
		fprintf(out,
			"\nwarning: %lu collection records lost (timeline incomplete; the "
			"per-generation totals above are still exact)\n",
			(unsigned long)lost);
	print_heap(out, rec);
	if (jobj(rec, "allocations"))
		text_write_allocations(out, rec, top);
	text_write_lifecycle_sites(out, rec, top);
	print_census_growth(out, rec, top);
}

int render_text(FILE *out, const json_t *rec, const struct render_opts *o)
{
	text_write_report(out, rec, o->top ? o->top : TEXT_TOP_DEFAULT);
	if (ferror(out)) {
		pr_err("failed to write the text report");
		return -1;
	}
	return 0;
}

void render_summary(FILE *out, const json_t *rec, const char *paths)
{
	uint64_t n[3] = { 0 }, max = 0;
	size_t i;
	json_t *g;

	json_array_foreach(generations(rec), i, g)
	{
		uint64_t m = ju64(jobj(g, "pause_ns"), "max");

		if (i < 3)
			n[i] = ju64(g, "collections");
		max = m > max ? m : max;
	}
	fprintf(out, "pyobjlife: wrote %s: %.1f s, %lu collections (gen0 %lu, gen1 %lu, gen2 %lu)",
		paths, jreal(rec, "duration_seconds"), (unsigned long)(n[0] + n[1] + n[2]),
		(unsigned long)n[0], (unsigned long)n[1], (unsigned long)n[2]);
	if (max) {
		char buf[32];

		format_ns(max, buf, sizeof(buf));
		fprintf(out, ", longest pause %s", buf);
	}
	fprintf(out, ", %lu lost\n", (unsigned long)ju64(rec, "lost_events"));
	text_write_generation_table(out, rec);
	if (jobj(rec, "allocations"))
		text_write_allocations(out, rec, SUMMARY_TOP_SITES);
}
