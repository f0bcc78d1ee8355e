// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The interactive flamegraph, drawn here: one SVG holding its own style and
 * script, no network and no other software. Roots at the bottom; each frame's
 * width is its share of the weight; children sorted by label, so the same
 * recording always gives the same bytes. Hover shows a frame's value and
 * share, a click zooms into it, Search (or Ctrl-F, /) highlights the frames
 * that match and says which share of the total they hold.
 */
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "render_internal.h"

#define FG_WIDTH   1200
#define FG_PAD	   10 /* left and right */
#define FG_FRAME_H 16
#define FG_TOP	   66  /* title, subtitle, buttons */
#define FG_BOTTOM  30  /* the hover details and the search result */
#define FG_MIN_PX  0.1 /* narrower frames (and everything above them) are left out */
/* Verdana 12px averages 0.59 em a character; the script uses the same figures */
#define FG_CHAR_W   7.08
#define FG_TEXT_PAD 3

const char flamegraph_css[] =
	"svg.pyobjlife-flamegraph text { font-family: Verdana, sans-serif; font-size: 12px; "
	"fill: #000; }\n"
	"svg.pyobjlife-flamegraph .title { font-size: 17px; text-anchor: middle; }\n"
	"svg.pyobjlife-flamegraph .subtitle, svg.pyobjlife-flamegraph .hint { text-anchor: "
	"middle; fill: #555; }\n"
	"svg.pyobjlife-flamegraph .button { fill: #0645ad; cursor: pointer; }\n"
	"svg.pyobjlife-flamegraph g.f { cursor: pointer; }\n"
	"svg.pyobjlife-flamegraph g.f:hover rect { stroke: #000; stroke-width: 0.5; }\n"
	"svg.pyobjlife-flamegraph g.parent rect { opacity: 0.5; }\n";

const char flamegraph_js[] =
	"(function () {\n"
	"  'use strict';\n"
	"  /* must match FG_CHAR_W and FG_TEXT_PAD in render_flamegraph.c */\n"
	"  var CHAR_W = 7.08, TEXT_PAD = 3, NL = String.fromCharCode(10);\n"
	"\n"
	"  function fit(label, w) {\n"
	"    var n = Math.floor((w - 2 * TEXT_PAD) / CHAR_W);\n"
	"    if (n < 3) return '';\n"
	"    return label.length <= n ? label : label.substring(0, n - 2) + '..';\n"
	"  }\n"
	"\n"
	"  /* a regular expression, or the plain text when it is not one */\n"
	"  function matcher(term) {\n"
	"    try {\n"
	"      var re = new RegExp(term);\n"
	"      return function (s) { return re.test(s); };\n"
	"    } catch (e) {\n"
	"      return function (s) { return s.indexOf(term) >= 0; };\n"
	"    }\n"
	"  }\n"
	"\n"
	"  function Flamegraph(svg) {\n"
	"    var self = this;\n"
	"    this.svg = svg;\n"
	"    this.x0 = +svg.getAttribute('data-x0');\n"
	"    this.width = +svg.getAttribute('data-width');\n"
	"    this.total = +svg.getAttribute('data-total');\n"
	"    this.details = svg.querySelector('.details');\n"
	"    this.matched = svg.querySelector('.matched');\n"
	"    this.unzoomButton = svg.querySelector('.unzoom');\n"
	"    this.searchButton = svg.querySelector('.search');\n"
	"    this.searching = false;\n"
	"    this.frames = [];\n"
	"    this.byNode = new Map();\n"
	"    svg.querySelectorAll('g.f').forEach(function (g) {\n"
	"      var title = g.querySelector('title').textContent, cut = title.lastIndexOf(NL);\n"
	"      var f = {\n"
	"        g: g, o: +g.getAttribute('data-o'), v: +g.getAttribute('data-v'),\n"
	"        d: +g.getAttribute('data-d'), label: title.substring(0, cut),\n"
	"        desc: title.substring(0, cut) + ': ' + title.substring(cut + 1),\n"
	"        rect: g.querySelector('rect'), text: g.querySelector('text')\n"
	"      };\n"
	"      f.fill = f.rect.getAttribute('fill');\n"
	"      self.frames.push(f);\n"
	"      self.byNode.set(g, f);\n"
	"    });\n"
	"    svg.addEventListener('click', function (e) {\n"
	"      var g = e.target.closest('g.f');\n"
	"      if (g) self.zoom(self.byNode.get(g));\n"
	"      else if (e.target.closest('.unzoom')) self.zoom(null);\n"
	"      else if (e.target.closest('.search')) self.toggleSearch();\n"
	"    });\n"
	"    svg.addEventListener('mouseover', function (e) {\n"
	"      var g = e.target.closest('g.f');\n"
	"      if (g) self.details.textContent = self.byNode.get(g).desc;\n"
	"    });\n"
	"    svg.addEventListener('mouseout', function () { self.details.textContent = ' '; });\n"
	"    svg.setAttribute('data-ready', '1');\n"
	"  }\n"
	"\n"
	"  Flamegraph.prototype.place = function (f, x, w) {\n"
	"    f.rect.setAttribute('x', x.toFixed(1));\n"
	"    f.rect.setAttribute('width', w.toFixed(1));\n"
	"    f.text.setAttribute('x', (x + TEXT_PAD).toFixed(1));\n"
	"    f.text.textContent = fit(f.label, w);\n"
	"  };\n"
	"\n"
	"  /* z: the frame to fill the width with; null: the whole graph */\n"
	"  Flamegraph.prototype.zoom = function (z) {\n"
	"    var self = this;\n"
	"    if (!z) z = { o: 0, v: this.total, d: 0 };\n"
	"    this.frames.forEach(function (f) {\n"
	"      var inside = f.d >= z.d && f.o >= z.o && f.o + f.v <= z.o + z.v;\n"
	"      var above = f.d < z.d && f.o <= z.o && f.o + f.v >= z.o + z.v;\n"
	"      f.g.style.display = inside || above ? '' : 'none';\n"
	"      f.g.classList.toggle('parent', above);\n"
	"      if (inside) self.place(f, self.x0 + (f.o - z.o) / z.v * self.width, f.v / z.v * "
	"self.width);\n"
	"      else if (above) self.place(f, self.x0, self.width);\n"
	"    });\n"
	"    this.unzoomButton.style.display = z.d > 0 ? '' : 'none';\n"
	"    this.svg.setAttribute('data-zoom', z.d > 0 ? z.o + ':' + z.v + ':' + z.d : '');\n"
	"  };\n"
	"\n"
	"  /* highlight the frames whose label matches; '' clears */\n"
	"  Flamegraph.prototype.search = function (term) {\n"
	"    var match = matcher(term), spans = [], sum = 0, end = -1;\n"
	"    this.frames.forEach(function (f) {\n"
	"      var hit = term !== '' && f.d > 0 && match(f.label);\n"
	"      f.rect.setAttribute('fill', hit ? 'rgb(230,0,230)' : f.fill);\n"
	"      if (hit) spans.push([f.o, f.o + f.v]);\n"
	"    });\n"
	"    /* a match inside a match counts once */\n"
	"    spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
	"    spans.forEach(function (s) {\n"
	"      if (s[0] >= end) { sum += s[1] - s[0]; end = s[1]; }\n"
	"      else if (s[1] > end) { sum += s[1] - end; end = s[1]; }\n"
	"    });\n"
	"    this.searching = term !== '';\n"
	"    this.searchButton.textContent = this.searching ? 'Reset search' : 'Search';\n"
	"    this.matched.textContent = this.searching\n"
	"      ? 'Matched: ' + (this.total ? 100 * sum / this.total : 0).toFixed(2) + '% of ' +\n"
	"        this.total + ' (' + term + ')'\n"
	"      : ' ';\n"
	"    this.matched.setAttribute('data-matched', this.searching ? String(sum) : '');\n"
	"  };\n"
	"\n"
	"  Flamegraph.prototype.askSearch = function () {\n"
	"    var term = window.prompt('Search frames (a regular expression):', '');\n"
	"    if (term) this.search(term);\n"
	"  };\n"
	"\n"
	"  Flamegraph.prototype.toggleSearch = function () {\n"
	"    if (this.searching) this.search('');\n"
	"    else this.askSearch();\n"
	"  };\n"
	"\n"
	"  var graphs = [];\n"
	"  document.querySelectorAll('svg.pyobjlife-flamegraph').forEach(function (svg) {\n"
	"    graphs.push(new Flamegraph(svg));\n"
	"  });\n"
	"\n"
	"  /* with several on a page (the HTML report), keys act on the one shown */\n"
	"  function shown() {\n"
	"    for (var i = 0; i < graphs.length; i++) {\n"
	"      if (graphs[i].svg.getBoundingClientRect().width > 0) return graphs[i];\n"
	"    }\n"
	"    return null;\n"
	"  }\n"
	"\n"
	"  document.addEventListener('keydown', function (e) {\n"
	"    var fg = shown();\n"
	"    if (!fg) return;\n"
	"    if ((e.key === 'f' && (e.ctrlKey || e.metaKey)) || e.key === '/') {\n"
	"      e.preventDefault();\n"
	"      fg.askSearch();\n"
	"    } else if (e.key === 'Escape') {\n"
	"      fg.zoom(null);\n"
	"      fg.search('');\n"
	"    }\n"
	"  });\n"
	"\n"
	"  /* ?s=TERM in the address searches at once, as a link to a finding */\n"
	"  var term = new URLSearchParams(window.location.search).get('s');\n"
	"  if (term) graphs.forEach(function (fg) { fg.search(term); });\n"
	"})();\n";

struct flame {
	FILE *out;
	const struct profile *p;
	const struct frame_table *ft;
	size_t *order; /* sample indices, sorted by their frames' labels */
	size_t levels; /* frame rows, "all" included */
	double scale;  /* pixels per unit of weight */
};

static int by_label(const void *a, const void *b, void *ctx)
{
	const struct frame_table *ft = ctx;

	return strcmp(ft->v[*(const size_t *)a].label, ft->v[*(const size_t *)b].label);
}

/* Frame index -> its position in label order, so comparing stacks needs no strcmp. */
static unsigned *rank_labels(const struct frame_table *ft)
{
	size_t *idx = malloc((ft->n + 1) * sizeof(*idx));
	unsigned *rank = malloc((ft->n + 1) * sizeof(*rank));

	if (!idx || !rank) {
		free(idx);
		free(rank);
		return NULL;
	}
	for (size_t i = 0; i < ft->n; i++)
		idx[i] = i;
	qsort_r(idx, ft->n, sizeof(*idx), by_label, (void *)ft);
	for (size_t i = 0; i < ft->n; i++)
		rank[idx[i]] = (unsigned)i;
	free(idx);
	return rank;
}

struct stack_order {
	const struct profile *p;
	const unsigned *rank;
};

/* Frame by frame in label order; a stack before the longer ones it starts. */
static int by_stack(const void *a, const void *b, void *ctx)
{
	const struct profile *p = ((const struct stack_order *)ctx)->p;
	const unsigned *label_ranks = ((const struct stack_order *)ctx)->rank;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	const struct rsample *x = &p->v[ia], *y = &p->v[ib];

	for (size_t i = 0; i < x->depth && i < y->depth; i++) {
		unsigned rx = label_ranks[x->frames[i]], ry = label_ranks[y->frames[i]];

		if (rx != ry)
			return rx < ry ? -1 : 1;
	}
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Python frames warm by function name, types aqua, the markers grey and violet. */
static void frame_color(const struct rframe *f, char *buf, size_t cap)
{
	uint32_t h = hash_name(f->function ? f->function : f->label);
	unsigned a = h & 0xff, b = (h >> 8) & 0xff, c = (h >> 16) & 0xff;

	if (f->function)
		snprintf(buf, cap, "rgb(%u,%u,%u)", 205 + c * 50 / 255, a * 230 / 255,
			 b * 55 / 255);
	else if (!strncmp(f->label, "[generation ", 12))
		snprintf(buf, cap, "rgb(%u,%u,%u)", 150 + a * 40 / 255, 120 + b * 30 / 255, 220);
	else if (!strcmp(f->label, "[truncated]") || !strcmp(f->label, "[stack not recorded]") ||
		 !strcmp(f->label, "[no Python frame]"))
		snprintf(buf, cap, "rgb(180,180,180)");
	else
		snprintf(buf, cap, "rgb(%u,%u,%u)", 50 + a * 60 / 255, 165 + b * 55 / 255,
			 165 + b * 55 / 255);
}

/* As much of the label as fits, the way the script fits it after a zoom. */
static void put_fitted_label(FILE *out, const char *label, double width)
{
	long n = (long)((width - 2 * FG_TEXT_PAD) / FG_CHAR_W);

	if (n < 3)
		return;
	if (utf8_length(label) <= (size_t)n) {
		fput_xml(out, label);
		return;
	}
	fput_xml_prefix(out, label, (size_t)n - 2);
	fputs("..", out);
}

static void emit_frame(struct flame *fl, const struct rframe *f, const char *color, uint64_t offset,
		       uint64_t value, size_t depth)
{
	double x = FG_PAD + offset * fl->scale, w = value * fl->scale;
	int y = FG_TOP + (int)(fl->levels - 1 - depth) * FG_FRAME_H;
	char v[48];

	format_weight(fl->p->weight, value, v, sizeof(v));
	fprintf(fl->out, "<g class=\"f\" data-o=\"%lu\" data-v=\"%lu\" data-d=\"%zu\"><title>",
		(unsigned long)offset, (unsigned long)value, depth);
	fput_xml(fl->out, f->label);
	fprintf(fl->out,
		"\n%s (%.2f%%)</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
		"fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">",
		v, 100.0 * value / fl->p->total, x, y, w, FG_FRAME_H - 1, color, x + FG_TEXT_PAD,
		y + FG_FRAME_H * 0.72);
	put_fitted_label(fl->out, f->label, w);
	fputs("</text></g>\n", fl->out);
}

/*
 * The children of a frame: samples order[lo, hi) share their first `depth`
 * frames. Those that end here sort first (their weight is the parent's own);
 * the rest group by their next frame, one child per group, left to right.
 */
static void emit_children(struct flame *fl, size_t lo, size_t hi, size_t depth, uint64_t offset)
{
	const struct profile *p = fl->p;
	size_t i = lo;

	while (i < hi && p->v[fl->order[i]].depth == depth)
		i++;
	while (i < hi) {
		size_t frame = p->v[fl->order[i]].frames[depth], j = i;
		uint64_t value = 0;
		char color[32];

		for (; j < hi && p->v[fl->order[j]].frames[depth] == frame; j++)
			value += p->v[fl->order[j]].weight;
		if (value * fl->scale >= FG_MIN_PX) {
			frame_color(&fl->ft->v[frame], color, sizeof(color));
			emit_frame(fl, &fl->ft->v[frame], color, offset, value, depth + 1);
			emit_children(fl, i, j, depth + 1, offset);
		}
		offset += value;
		i = j;
	}
}

static void emit_header(FILE *out, const json_t *rec, const struct profile *p, int height,
			const struct flamegraph_opts *o)
{
	const json_t *t = jobj(rec, "target");
	char total[48];

	format_weight(p->weight, p->total, total, sizeof(total));
	if (o->standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", out);
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"pyobjlife-flamegraph\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" data-x0=\"%d\" data-width=\"%d\" "
		"data-total=\"%lu\" data-weight=\"%s\"",
		FG_WIDTH, height, FG_WIDTH, height, FG_PAD, FG_WIDTH - 2 * FG_PAD,
		(unsigned long)p->total, render_weight_name(p->weight));
	if (o->id)
		fprintf(out, " id=\"%s\"", o->id);
	fputs(">\n", out);
	if (o->standalone)
		fprintf(out, "<style>\n%s</style>\n", flamegraph_css);
	fprintf(out,
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f2\"/>\n"
		"<text class=\"title\" x=\"%d\" y=\"22\">",
		FG_WIDTH, height, FG_WIDTH / 2);
	fput_xml(out, weight_title(p->weight));
	fprintf(out, " (weight: %s, unit: %s)</text>\n<text class=\"subtitle\" x=\"%d\" y=\"40\">",
		render_weight_name(p->weight), weight_unit(p->weight), FG_WIDTH / 2);
	fprintf(out, "CPython ");
	fput_xml(out, jstr(t, "python_version", "?"));
	fprintf(out, ", PID %lu, %.1f s, ", (unsigned long)ju64(t, "pid"),
		jreal(rec, "duration_seconds"));
	fput_xml(out, jstr(rec, "mode", "?"));
	fprintf(out, " mode: %s in total</text>\n", total);
	fprintf(out,
		"<text class=\"button unzoom\" x=\"%d\" y=\"58\" style=\"display:none\">Reset "
		"zoom</text>\n"
		"<text class=\"hint\" x=\"%d\" y=\"58\">hover: value and share; click: zoom; "
		"Search, Ctrl-F or /: highlight; Esc: reset</text>\n"
		"<text class=\"button search\" x=\"%d\" y=\"58\" "
		"text-anchor=\"end\">Search</text>\n",
		FG_PAD, FG_WIDTH / 2, FG_WIDTH - FG_PAD);
}

int flamegraph_write_svg(FILE *out, const json_t *rec, const struct profile *p,
			 const struct frame_table *ft, const struct flamegraph_opts *o)
{
	struct flame fl = { .out = out, .p = p, .ft = ft, .levels = p->max_depth + 1 };
	int height = FG_TOP + (int)fl.levels * FG_FRAME_H + FG_BOTTOM;
	struct stack_order so = { .p = p, .rank = rank_labels(ft) };

	fl.order = malloc((p->n + 1) * sizeof(*fl.order));
	if (!fl.order || !so.rank) {
		free(fl.order);
		free((void *)so.rank);
		pr_err("out of memory while drawing the flamegraph");
		return -1;
	}
	for (size_t i = 0; i < p->n; i++)
		fl.order[i] = i;
	qsort_r(fl.order, p->n, sizeof(*fl.order), by_stack, &so);
	emit_header(out, rec, p, height, o);
	if (p->total) {
		struct rframe all = { .label = "all" };

		fl.scale = (double)(FG_WIDTH - 2 * FG_PAD) / p->total;
		emit_frame(&fl, &all, "rgb(200,200,200)", 0, p->total, 0);
		emit_children(&fl, 0, p->n, 0, 0);
	} else {
		fprintf(out,
			"<text class=\"hint\" x=\"%d\" y=\"%d\">nothing to draw: no stack has "
			"a nonzero value for this weight</text>\n",
			FG_WIDTH / 2, FG_TOP + FG_FRAME_H);
	}
	fprintf(out,
		"<text class=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text class=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n",
		FG_PAD, height - 10, FG_WIDTH - FG_PAD, height - 10);
	if (o->standalone)
		fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n",
			flamegraph_js);
	fputs("</svg>\n", out);
	free(fl.order);
	free((void *)so.rank);
	return 0;
}

int render_flamegraph(FILE *out, const json_t *rec, const struct render_opts *o)
{
	struct flamegraph_opts fo = { .standalone = true };
	struct frame_table ft;
	struct profile p;
	int err;

	frame_table_init(&ft);
	if (profile_build(&p, &ft, rec, o->weight)) {
		frame_table_free(&ft);
		return -1;
	}
	err = flamegraph_write_svg(out, rec, &p, &ft, &fo);
	if (!err && ferror(out)) {
		pr_err("failed to write the flamegraph");
		err = -1;
	}
	profile_free(&p);
	frame_table_free(&ft);
	return err;
}
