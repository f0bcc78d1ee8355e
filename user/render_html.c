// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The HTML report: one self-contained page (no network) with the flamegraph
 * of every weight the recording has data for, the GC timeline, the pause
 * histograms, RSS over time and the text report. The charts are inline SVG
 * drawn here. The page is also well-formed XML, so XML tools read it too.
 */
#include <stdlib.h>
#include <string.h>
#include "gc_recording.h"
#include "log.h"
#include "render_internal.h"

#define TL_WIDTH     1000 /* plot area of the timeline and the RSS chart */
#define TL_LEFT	     90
#define TL_RIGHT     20
#define TL_LANE_H    70
#define TL_SLOTS     500 /* 2 px each: one bar per generation and slot */
#define TL_AXIS_H    28
#define RSS_H	     180
#define HIST_W	     360
#define HIST_H	     150
#define HIST_BAR_MAX 40
#define HIST_LEFT    50 /* room for the bucket labels, slanted to the left */
#define N_GEN	     3

static const char page_css[] =
	"body { font-family: Verdana, sans-serif; font-size: 14px; margin: 1em 2em; color: #222; "
	"}\n"
	"h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 1.6em; }\n"
	"p.none { color: #777; font-style: italic; }\n"
	"table.meta td { padding: 1px 12px 1px 0; vertical-align: top; }\n"
	"div.charts { display: flex; flex-wrap: wrap; gap: 12px; }\n"
	"svg.chart text { font-family: Verdana, sans-serif; font-size: 11px; fill: #333; }\n"
	"svg.pyobjlife-flamegraph { width: 100%; height: auto; }\n"
	"pre { font-size: 12px; background: #f6f6f6; padding: 8px; overflow-x: auto; }\n";

static const char selector_js[] =
	"(function () {\n"
	"  var sel = document.getElementById('weight');\n"
	"  if (!sel) return;\n"
	"  sel.addEventListener('change', function () {\n"
	"    document.querySelectorAll('div.flame').forEach(function (d) {\n"
	"      d.style.display = d.getAttribute('data-weight') === sel.value ? '' : 'none';\n"
	"    });\n"
	"  });\n"
	"})();\n";

static const char *gen_color[N_GEN] = { "#4e79a7", "#f28e2b", "#e15759" };

static void put_row(FILE *out, const char *key, const char *value)
{
	fprintf(out, "<tr><td>%s</td><td>", key);
	fput_xml(out, value);
	fputs("</td></tr>\n", out);
}

static void write_head(FILE *out, const json_t *rec)
{
	const json_t *t = jobj(rec, "target");

	fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
	      "<head>\n<meta charset=\"utf-8\"/>\n<title>pyobjlife: PID ",
	      out);
	fprintf(out, "%lu, CPython ", (unsigned long)ju64(t, "pid"));
	fput_xml(out, jstr(t, "python_version", "?"));
	/* CDATA for XML readers, hidden in a comment from CSS and from HTML */
	fprintf(out, "</title>\n<style>/*<![CDATA[*/\n%s%s/*]]>*/</style>\n</head>\n<body>\n",
		page_css, flamegraph_css);
}

static void write_summary(FILE *out, const json_t *rec)
{
	const json_t *t = jobj(rec, "target"), *a = jobj(rec, "allocations");
	char buf[256];

	fputs("<h1>pyobjlife recording</h1>\n<table class=\"meta\">\n", out);
	snprintf(buf, sizeof(buf), "%lu", (unsigned long)ju64(t, "pid"));
	put_row(out, "process", buf);
	put_row(out, "CPython", jstr(t, "python_version", "?"));
	put_row(out, "interpreter", jstr(t, "binary", "?"));
	put_row(out, "mode", jstr(rec, "mode", "?"));
	put_row(out, "started", jstr(rec, "started_at", "?"));
	snprintf(buf, sizeof(buf), "%.3f s (%s)", jreal(rec, "duration_seconds"),
		 jstr(rec, "end_reason", "?"));
	put_row(out, "duration", buf);
	snprintf(buf, sizeof(buf), "%lu", (unsigned long)ju64(rec, "lost_events"));
	put_row(out, "lost collection records", buf);
	if (a) {
		snprintf(buf, sizeof(buf), "%lu objects, %lu bytes",
			 (unsigned long)ju64(a, "total_allocations"),
			 (unsigned long)ju64(a, "total_bytes"));
		put_row(out, "allocations", buf);
	}
	fputs("</table>\n", out);
}

/* The weight shown first: the one asked for, else the first with data. */
static int first_weight(const json_t *rec, const struct render_opts *o)
{
	if (o->weight_given)
		return recording_check_weight(rec, o->weight) ? -1 : (int)o->weight;
	for (int w = 0; w < WEIGHT_COUNT; w++) {
		if (recording_has_weight(rec, (enum render_weight)w))
			return w;
	}
	return WEIGHT_COUNT;
}

static void write_weight_selector(FILE *out, const json_t *rec, int shown)
{
	fputs("<p><label>Weight: <select id=\"weight\">\n", out);
	for (int w = 0; w < WEIGHT_COUNT; w++) {
		if (!recording_has_weight(rec, (enum render_weight)w))
			continue;
		fprintf(out, "<option value=\"%s\"%s>%s (%s)</option>\n",
			render_weight_name((enum render_weight)w),
			w == shown ? " selected=\"selected\"" : "",
			render_weight_name((enum render_weight)w),
			weight_unit((enum render_weight)w));
	}
	fputs("</select></label> Hover a frame for its value and share, click to zoom, Ctrl-F "
	      "or / to search, Esc to reset.</p>\n",
	      out);
}

static int write_flamegraphs(FILE *out, const json_t *rec, const struct render_opts *o)
{
	int shown = first_weight(rec, o);
	struct frame_table ft;
	int err = 0;

	fputs("<h2>Flamegraph</h2>\n", out);
	if (shown < 0)
		return -1;
	if (shown == WEIGHT_COUNT) {
		fputs("<p class=\"none\">No stacks in this recording (it was made in ", out);
		fput_xml(out, jstr(rec, "mode", "gc"));
		fputs(" mode): record with --mode full for allocation flamegraphs.</p>\n", out);
		return 0;
	}
	write_weight_selector(out, rec, shown);
	frame_table_init(&ft);
	for (int w = 0; !err && w < WEIGHT_COUNT; w++) {
		struct flamegraph_opts fo = { .standalone = false };
		struct profile p;
		char id[32];

		if (!recording_has_weight(rec, (enum render_weight)w))
			continue;
		snprintf(id, sizeof(id), "flame-%s", render_weight_name((enum render_weight)w));
		fo.id = id;
		err = profile_build(&p, &ft, rec, (enum render_weight)w);
		if (err)
			break;
		fprintf(out, "<div class=\"flame\" data-weight=\"%s\"%s>\n",
			render_weight_name((enum render_weight)w),
			w == shown ? "" : " style=\"display:none\"");
		err = flamegraph_write_svg(out, rec, &p, &ft, &fo);
		fputs("</div>\n", out);
		profile_free(&p);
	}
	frame_table_free(&ft);
	return err;
}

/* The longest pause and the number of collections per generation and 2 px slot. */
struct slot {
	uint64_t max_pause;
	uint64_t count;
};

static uint64_t timeline_end(const json_t *rec, const json_t *colls)
{
	uint64_t end = (uint64_t)(jreal(rec, "duration_seconds") * 1e9);
	size_t i;
	json_t *c;

	json_array_foreach(colls, i, c)
	{
		uint64_t t = ju64(c, "t_ns") + ju64(c, "pause_ns");

		end = t > end ? t : end;
	}
	return end ? end : 1;
}

static void write_time_axis(FILE *out, uint64_t end, int y)
{
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", TL_LEFT,
		y, TL_LEFT + TL_WIDTH, y);
	for (int i = 0; i <= 5; i++) {
		int x = TL_LEFT + TL_WIDTH * i / 5;

		fprintf(out,
			"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>"
			"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.3f s</text>\n",
			x, y, x, y + 4, x, y + 16, end * i / 5 / 1e9);
	}
}

static void write_lane(FILE *out, int gen, const struct slot *slots, uint64_t peak, uint64_t end,
		       const json_t *g)
{
	int base = 10 + (gen + 1) * TL_LANE_H;
	char longest[32];

	format_ns(ju64(jobj(g, "pause_ns"), "max"), longest, sizeof(longest));
	fprintf(out,
		"<text x=\"4\" y=\"%d\">gen %d</text><text x=\"4\" y=\"%d\">%lu coll.</text>"
		"<text x=\"4\" y=\"%d\">max %s</text>"
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n",
		base - 40, gen, base - 26, (unsigned long)ju64(g, "collections"), base - 12,
		longest, TL_LEFT, base, TL_LEFT + TL_WIDTH, base);
	for (int s = 0; s < TL_SLOTS; s++) {
		uint64_t h;
		char pause[32];

		if (!slots[s].count)
			continue;
		h = slots[s].max_pause * (TL_LANE_H - 12) / peak;
		h = h ? h : 1; /* every collection stays visible */
		format_ns(slots[s].max_pause, pause, sizeof(pause));
		fprintf(out,
			"<rect x=\"%d\" y=\"%lu\" width=\"2\" height=\"%lu\" fill=\"%s\"><title>"
			"%.3f s: %lu gen %d collection%s, longest pause %s</title></rect>\n",
			TL_LEFT + s * TL_WIDTH / TL_SLOTS, (unsigned long)(base - h),
			(unsigned long)h, gen_color[gen], end * s / TL_SLOTS / 1e9,
			(unsigned long)slots[s].count, gen, slots[s].count == 1 ? "" : "s", pause);
	}
}

static void write_timeline(FILE *out, const json_t *rec)
{
	const json_t *colls = jarr(jobj(rec, "gc"), "collections");
	const json_t *gens = jarr(jobj(rec, "gc"), "generations");
	uint64_t end = timeline_end(rec, colls), peak = 1;
	struct slot(*slots)[TL_SLOTS];
	int height = 10 + N_GEN * TL_LANE_H + TL_AXIS_H;
	char peak_s[32];
	size_t i;
	json_t *c;

	fputs("<h2>GC timeline</h2>\n", out);
	if (!json_array_size(colls)) {
		fputs("<p class=\"none\">No collections during the recording.</p>\n", out);
		return;
	}
	slots = calloc(N_GEN, sizeof(*slots));
	if (!slots) {
		fputs("<p class=\"none\">(out of memory drawing the timeline)</p>\n", out);
		return;
	}
	json_array_foreach(colls, i, c)
	{
		uint64_t gen = ju64(c, "generation"), pause = ju64(c, "pause_ns");
		size_t s = (size_t)(ju64(c, "t_ns") * (double)TL_SLOTS / end);

		if (gen >= N_GEN)
			continue;
		s = s < TL_SLOTS ? s : TL_SLOTS - 1;
		slots[gen][s].count++;
		if (pause > slots[gen][s].max_pause)
			slots[gen][s].max_pause = pause;
		peak = pause > peak ? pause : peak;
	}
	format_ns(peak, peak_s, sizeof(peak_s));
	fprintf(out,
		"<p>Each collection at its time, by generation; bar height is the pause (the "
		"longest in each 2-pixel slot), on one scale for all generations: the tallest is "
		"%s. %zu collections.</p>\n",
		peak_s, json_array_size(colls));
	if (ju64(rec, "lost_events"))
		fprintf(out, "<p>Incomplete: %lu collection records were lost.</p>\n",
			(unsigned long)ju64(rec, "lost_events"));
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart timeline\" width=\"%d\" "
		"height=\"%d\" data-collections=\"%zu\">\n",
		TL_LEFT + TL_WIDTH + TL_RIGHT, height, json_array_size(colls));
	for (int g = 0; g < N_GEN; g++)
		write_lane(out, g, slots[g], peak, end, json_array_get(gens, (size_t)g));
	write_time_axis(out, end, 10 + N_GEN * TL_LANE_H);
	fputs("</svg>\n", out);
	free(slots);
}

static int bucket_index(uint64_t lo)
{
	return lo < 2 ? 0 : 63 - __builtin_clzll(lo);
}

static void write_histogram(FILE *out, const json_t *g)
{
	const json_t *arr = jarr(jobj(g, "pause_ns"), "log2_histogram");
	uint64_t hist[64] = { 0 }, peak = 0;
	int first = 64, last = -1, bar_w;
	size_t i;
	json_t *b;

	json_array_foreach(arr, i, b)
	{
		int k = bucket_index(ju64_value(json_array_get(b, 0)));

		hist[k] += ju64_value(json_array_get(b, 2));
		first = hist[k] && k < first ? k : first;
		last = hist[k] && k > last ? k : last;
		peak = hist[k] > peak ? hist[k] : peak;
	}
	if (last < 0)
		return;
	bar_w = (HIST_W - HIST_LEFT - 10) / (last - first + 1);
	bar_w = bar_w > HIST_BAR_MAX ? HIST_BAR_MAX : bar_w;
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart histogram\" width=\"%d\" "
		"height=\"%d\" data-generation=\"%lu\">\n<text x=\"10\" y=\"14\">generation %lu: "
		"pauses per log2 bucket</text>\n",
		HIST_W, HIST_H + 60, (unsigned long)ju64(g, "generation"),
		(unsigned long)ju64(g, "generation"));
	for (int k = first; k <= last; k++) {
		uint64_t lo, hi, h = hist[k] * (HIST_H - 30) / peak;
		int x = HIST_LEFT + (k - first) * bar_w, base = HIST_H;
		char lo_s[32], hi_s[32];

		log2_bucket_bounds(k, &lo, &hi);
		format_ns(lo, lo_s, sizeof(lo_s));
		format_ns(hi, hi_s, sizeof(hi_s));
		h = hist[k] && !h ? 1 : h;
		fprintf(out,
			"<rect x=\"%d\" y=\"%lu\" width=\"%d\" height=\"%lu\" fill=\"#4e79a7\">"
			"<title>%s to %s: %lu</title></rect>\n",
			x + 1, (unsigned long)(base - h), bar_w - 2, (unsigned long)h, lo_s, hi_s,
			(unsigned long)hist[k]);
		if (hist[k])
			fprintf(out, "<text x=\"%d\" y=\"%lu\" text-anchor=\"middle\">%lu</text>\n",
				x + bar_w / 2, (unsigned long)(base - h - 3),
				(unsigned long)hist[k]);
		fprintf(out,
			"<text x=\"%d\" y=\"%d\" transform=\"rotate(-45 %d %d)\" "
			"text-anchor=\"end\">%s</text>\n",
			x + bar_w / 2, base + 12, x + bar_w / 2, base + 12, lo_s);
	}
	fputs("</svg>\n", out);
}

static void write_histograms(FILE *out, const json_t *rec)
{
	const json_t *gens = jarr(jobj(rec, "gc"), "generations");
	size_t i;
	json_t *g;

	fputs("<h2>Pause histograms</h2>\n<div class=\"charts\">\n", out);
	json_array_foreach(gens, i, g) write_histogram(out, g);
	fputs("</div>\n", out);
	if (!json_array_size(jarr(jobj(rec, "gc"), "collections")))
		fputs("<p class=\"none\">No pauses recorded.</p>\n", out);
}

static void write_rss_line(FILE *out, const json_t *tl, uint64_t end, uint64_t peak)
{
	size_t i;
	json_t *e;

	fputs("<polyline fill=\"none\" stroke=\"#59a14f\" stroke-width=\"1.5\" points=\"", out);
	json_array_foreach(tl, i, e)
		fprintf(out, "%s%.1f,%.1f", i ? " " : "",
			TL_LEFT + ju64(e, "t_ns") * (double)TL_WIDTH / end,
			10 + RSS_H - ju64(e, "rss_bytes") * (double)RSS_H / peak);
	fputs("\"/>\n", out);
}

static void write_rss(FILE *out, const json_t *rec)
{
	const json_t *tl = jarr(rec, "heap_timeline");
	uint64_t end = (uint64_t)(jreal(rec, "duration_seconds") * 1e9), peak = 1;
	char peak_s[32], first_s[32], last_s[32];
	size_t i;
	json_t *e;

	fputs("<h2>RSS over time</h2>\n", out);
	if (!json_array_size(tl)) {
		fputs("<p class=\"none\">RSS not recorded: this recording has no heap_timeline "
		      "(record with --mode full).</p>\n",
		      out);
		return;
	}
	json_array_foreach(tl, i, e)
	{
		end = ju64(e, "t_ns") > end ? ju64(e, "t_ns") : end;
		peak = ju64(e, "rss_bytes") > peak ? ju64(e, "rss_bytes") : peak;
	}
	end = end ? end : 1;
	format_bytes(peak, peak_s, sizeof(peak_s));
	format_bytes(ju64(json_array_get(tl, 0), "rss_bytes"), first_s, sizeof(first_s));
	format_bytes(ju64(json_array_get(tl, json_array_size(tl) - 1), "rss_bytes"), last_s,
		     sizeof(last_s));
	fprintf(out,
		"<p>Resident set size of the target: %s at the start, %s at the end, peak %s "
		"(%zu samples).</p>\n",
		first_s, last_s, peak_s, json_array_size(tl));
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart rss\" width=\"%d\" "
		"height=\"%d\" data-samples=\"%zu\" data-peak-bytes=\"%lu\">\n"
		"<text x=\"4\" y=\"20\">%s</text><text x=\"4\" y=\"%d\">0</text>\n"
		"<line x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n",
		TL_LEFT + TL_WIDTH + TL_RIGHT, RSS_H + 10 + TL_AXIS_H, json_array_size(tl),
		(unsigned long)peak, peak_s, RSS_H + 10, TL_LEFT, TL_LEFT, RSS_H + 10);
	write_rss_line(out, tl, end, peak);
	write_time_axis(out, end, RSS_H + 10);
	fputs("</svg>\n", out);
}

static int write_text_report(FILE *out, const json_t *rec, const struct render_opts *o)
{
	char *text = NULL;
	size_t len;
	FILE *mem = open_memstream(&text, &len);

	if (!mem) {
		pr_err("out of memory while writing the HTML report");
		return -1;
	}
	text_write_report(mem, rec, o->top ? o->top : TEXT_TOP_DEFAULT);
	if (fclose(mem) || !text) {
		free(text);
		pr_err("out of memory while writing the HTML report");
		return -1;
	}
	fputs("<h2>Report</h2>\n<pre>", out);
	fput_xml(out, text);
	fputs("</pre>\n", out);
	free(text);
	return 0;
}

int render_html(FILE *out, const json_t *rec, const struct render_opts *o)
{
	write_head(out, rec);
	write_summary(out, rec);
	if (write_flamegraphs(out, rec, o))
		return -1;
	write_timeline(out, rec);
	write_histograms(out, rec);
	write_rss(out, rec);
	if (write_text_report(out, rec, o))
		return -1;
	/* CDATA for XML readers, hidden in a comment from JavaScript */
	fprintf(out, "<script>//<![CDATA[\n%s%s//]]></script>\n</body>\n</html>\n", flamegraph_js,
		selector_js);
	if (ferror(out)) {
		pr_err("failed to write the HTML report");
		return -1;
	}
	return 0;
}
