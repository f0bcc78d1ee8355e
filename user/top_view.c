// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "recording.h"
#include "top_view.h"
/* last: term.h defines macros (lines, columns, cur_term) that collide with ordinary names */
#include <curses.h>
#include <term.h>

#define TOP_LINE_MAX 1024
/* header, gc title + column names + 3 generations, losses (2), overhead, keys, and gaps */
#define TOP_FIXED_ROWS 13
#define TOP_MIN_ROWS   (TOP_FIXED_ROWS + 6)
#define TOP_MIN_COLS   60

static SCREEN *screen;

const char *top_site_sort_name(enum top_site_sort s)
{
	static const char *const names[] = {
		[TOP_SORT_RATE] = "rate", [TOP_SORT_TOTAL] = "total", [TOP_SORT_BYTES] = "bytes"
	};

	return s < TOP_SORT_COUNT ? names[s] : "?";
}

int top_view_check_terminal(char *why, size_t cap)
{
	const char *term = getenv("TERM");
	int err = 0;

	if (!isatty(STDOUT_FILENO)) {
		snprintf(why, cap, "top draws on a terminal and stdout is not one (use record)");
		return -1;
	}
	if (!term || !*term) {
		snprintf(why, cap, "top needs TERM to name the terminal: it is not set");
		return -1;
	}
	if (setupterm(NULL, STDOUT_FILENO, &err) != OK) {
		snprintf(why, cap, "top cannot drive the terminal TERM=%s: %s", term,
			 err == 0 ? "no terminfo entry for it" : "it is not usable");
		return -1;
	}
	del_curterm(cur_term);
	return 0;
}

int top_view_open(char *why, size_t cap)
{
	/* names in the target are UTF-8: let ncursesw measure them */
	setlocale(LC_CTYPE, "");
	screen = newterm(NULL, stdout, stdin);
	if (!screen) {
		snprintf(why, cap, "cannot take over the terminal (TERM=%s)", getenv("TERM"));
		return -1;
	}
	set_term(screen);
	cbreak(); /* keys at once; Ctrl-C still a signal, which ends the session cleanly */
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	return 0;
}

void top_view_close(void)
{
	if (!screen)
		return;
	endwin();
	delscreen(screen);
	screen = NULL;
}

int top_view_key(void)
{
	int k = screen ? getch() : ERR;

	return k == ERR ? -1 : k;
}

/* Cut at `max` bytes without splitting a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* printf at (row, col), clipped to the screen's width. */
static void put(int row, int col, attr_t attr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put(int row, int col, attr_t attr, const char *fmt, ...)
{
	char buf[TOP_LINE_MAX];
	va_list ap;

	if (row < 0 || row >= LINES || col >= COLS)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	attron(attr);
	mvaddnstr(row, col, buf, (int)utf8_cut(buf, (size_t)(COLS - col)));
	attroff(attr);
}

/* The last `width` bytes of "file:line": the line number is what must stay visible. */
static void file_and_line(const struct top_site *s, char *buf, size_t cap, size_t width)
{
	char full[TOP_LINE_MAX];
	size_t n;

	if (s->line >= 0)
		snprintf(full, sizeof(full), "%s:%d", s->file, s->line);
	else
		snprintf(full, sizeof(full), "%s", s->file);
	n = strlen(full);
	if (width < 4 || n <= width) {
		snprintf(buf, cap, "%s", full);
		return;
	}
	snprintf(buf, cap, "...%s", full + n - (width - 3));
}

static void format_bytes(uint64_t b, char *buf, size_t cap)
{
	if (b < 1024)
		snprintf(buf, cap, "%lu B", (unsigned long)b);
	else if (b < 1ull << 20)
		snprintf(buf, cap, "%.1f KiB", b / 1024.0);
	else if (b < 1ull << 30)
		snprintf(buf, cap, "%.1f MiB", b / 1048576.0);
	else
		snprintf(buf, cap, "%.1f GiB", b / 1073741824.0);
}

static void format_rate(double r, char *buf, size_t cap)
{
	if (r < 1000)
		snprintf(buf, cap, "%.1f", r);
	else
		format_count((uint64_t)r, buf, cap);
}

static void format_elapsed(double s, char *buf, size_t cap)
{
	unsigned long t = (unsigned long)s;

	if (t >= 3600)
		snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

static void draw_header(const struct top_screen *s)
{
	char up[32], rss[32] = "?";

	format_elapsed(s->elapsed_s, up, sizeof(up));
	if (s->rss_bytes)
		format_bytes(s->rss_bytes, rss, sizeof(rss));
	move(0, 0);
	attron(A_REVERSE);
	hline(' ', COLS);
	attroff(A_REVERSE);
	put(0, 0, A_REVERSE,
	    " pyobjlife top | PID %d | CPython %s (%s) | mode %s | up %s | RSS %s | every %.1f s%s",
	    (int)s->pid, s->python, s->binary, s->full_mode ? "full" : "gc", up, rss, s->interval_s,
	    s->paused ? " | PAUSED" : "");
}

/* The rate, total, bytes and type columns, and the spaces after them. */
#define SITE_FIXED_COLS (10 + 1 + 10 + 1 + 11 + 2 + 24 + 1)

static size_t where_length(const struct top_site *t)
{
	char where[TOP_LINE_MAX];

	file_and_line(t, where, sizeof(where), 0);
	return strlen(where);
}

/*
 * Split what the fixed columns leave between the function and file:line
 * columns: both whole when they fit, else the file gives way first, down to
 * half, then the function (qualified names can be long too).
 */
static int function_width(const struct top_screen *s, size_t rows)
{
	int avail = COLS - SITE_FIXED_COLS - 1, want_fn = 8, want_where = 9, fn;

	for (size_t i = 0; i < s->n_sites && i < rows; i++) {
		int f = (int)strlen(s->sites[i].function), w = (int)where_length(&s->sites[i]);

		want_fn = f > want_fn ? f : want_fn;
		want_where = w > want_where ? w : want_where;
	}
	if (want_fn + want_where <= avail)
		return want_fn;
	fn = avail - (want_where < avail / 2 ? want_where : avail / 2);
	fn = fn < want_fn ? fn : want_fn;
	return fn < 12 ? 12 : fn;
}

static int draw_sites(const struct top_screen *s, int row, int rows)
{
	char total[24], rate[24];
	int shown = 0, fn_w, where_w;

	format_count(s->total_allocations, total, sizeof(total));
	format_rate(s->total_rate, rate, sizeof(rate));
	if (!s->full_mode) {
		put(row, 0, A_BOLD, "ALLOCATION SITES");
		put(row + 1, 2, 0, "allocation sites need --mode full");
		return 2;
	}
	fn_w = function_width(s, rows > 2 ? (size_t)(rows - 2) : 0);
	where_w = COLS - SITE_FIXED_COLS - 1 - fn_w;
	put(row, 0, A_BOLD, "ALLOCATION SITES  by %s; %zu sites, %s alloc/s, %s since attach",
	    top_site_sort_name(s->site_sort), s->n_sites, rate, total);
	put(row + 1, 0, A_UNDERLINE, "%10s %10s %11s  %-24s %-*s %s", "ALLOC/S", "TOTAL", "BYTES",
	    "TYPE", fn_w, "FUNCTION", "FILE:LINE");
	if (!s->n_sites)
		put(row + 2, 2, 0, "no allocation counted yet");
	for (size_t i = 0; i < s->n_sites && shown < rows - 2; i++, shown++) {
		const struct top_site *t = &s->sites[i];
		char r[24], n[24], b[24], where[TOP_LINE_MAX];

		format_rate(t->rate, r, sizeof(r));
		format_count(t->allocations, n, sizeof(n));
		format_bytes(t->bytes, b, sizeof(b));
		file_and_line(t, where, sizeof(where), where_w > 0 ? (size_t)where_w : 0);
		put(row + 2 + shown, 0, 0, "%10s %10s %11s  %-24.24s %-*.*s %s", r, n, b,
		    t->type ? t->type : "?", fn_w, fn_w, t->function, where);
	}
	return 2 + (shown ? shown : 1);
}

static void census_title(const struct top_screen *s, char *buf, size_t cap)
{
	size_t used = 0;

	used += snprintf(buf, cap, "LIVE OBJECTS BY TYPE AND GENERATION  sorted by %s; census ",
			 s->census_sort < 0    ? "total"
			 : s->census_sort == 0 ? "gen 0"
			 : s->census_sort == 1 ? "gen 1"
					       : "gen 2");
	for (int g = 0; g < PYOBJLIFE_NUM_GENERATIONS && used < cap; g++) {
		if (s->census_seen[g])
			used += snprintf(buf + used, cap - used, "%sgen %d %.0f s ago",
					 g ? ", " : "", g, s->census_age_s[g]);
		else
			used += snprintf(buf + used, cap - used, "%sgen %d none yet", g ? ", " : "",
					 g);
	}
}

static int draw_census(const struct top_screen *s, int row, int rows)
{
	char title[TOP_LINE_MAX];
	int shown = 0;

	if (!s->full_mode) {
		put(row, 0, A_BOLD, "LIVE OBJECTS");
		put(row + 1, 2, 0,
		    "live objects by type need --mode full (a census at collections)");
		return 2;
	}
	census_title(s, title, sizeof(title));
	put(row, 0, A_BOLD, "%s", title);
	put(row + 1, 0, A_UNDERLINE, "%-40s %12s %12s %12s %12s", "TYPE", "GEN 0", "GEN 1", "GEN 2",
	    "TOTAL");
	if (!s->n_census)
		put(row + 2, 2, 0,
		    "no census yet: taken at collections, of generations 0 and 1 every %.0f s, "
		    "of 2 every %.0f s",
		    s->census_young_interval_s, s->census_full_interval_s);
	for (size_t i = 0; i < s->n_census && shown < rows - 2; i++, shown++) {
		const struct top_census_row *c = &s->census[i];
		char n[PYOBJLIFE_NUM_GENERATIONS + 1][24];

		for (int g = 0; g < PYOBJLIFE_NUM_GENERATIONS; g++)
			format_count(c->count[g], n[g], sizeof(n[g]));
		format_count(c->total, n[PYOBJLIFE_NUM_GENERATIONS], sizeof(n[0]));
		put(row + 2 + shown, 0, 0, "%-40.40s %12s %12s %12s %12s", c->type, n[0], n[1],
		    n[2], n[3]);
	}
	return 2 + (shown ? shown : 1);
}

static int draw_gc(const struct top_screen *s, int row)
{
	put(row, 0, A_BOLD, "GARBAGE COLLECTOR  since attach, and in the last %.1f s",
	    s->interval_s);
	put(row + 1, 0, A_UNDERLINE, "%-4s %11s %10s %10s %11s %10s %8s %11s %10s", "GEN",
	    "COLLECTIONS", "COLLECTED", "UNCOLLECT", "PAUSE TOTAL", "PAUSE MAX", "LAST: N",
	    "LAST: TOTAL", "LAST: MAX");
	for (int g = 0; g < PYOBJLIFE_NUM_GENERATIONS; g++) {
		const struct top_gc_row *r = &s->gc[g];
		char total[24], max[24], rtotal[24], rmax[24];

		format_ns(r->total->pause_total_ns, total, sizeof(total));
		format_ns(r->total->pause_max_ns, max, sizeof(max));
		format_ns(r->recent_pause_ns, rtotal, sizeof(rtotal));
		format_ns(r->recent_max_ns, rmax, sizeof(rmax));
		put(row + 2 + g, 0, 0, "%-4d %11lu %10lu %10lu %11s %10s %8lu %11s %10s", g,
		    (unsigned long)r->total->collections, (unsigned long)r->total->collected,
		    (unsigned long)r->total->uncollectable, total, max,
		    (unsigned long)r->recent_collections, r->recent_collections ? rtotal : "-",
		    r->recent_max_ns ? rmax : "-");
	}
	return 2 + PYOBJLIFE_NUM_GENERATIONS;
}

/* Two lines: what the ring buffer dropped, what full maps refused (and unreadable memory). */
static int draw_losses(const struct top_screen *s, int row)
{
	const struct gc_agg *g = s->gc_agg;
	const struct alloc_agg *a = s->alloc_agg;

	put(row, 0, A_BOLD, "LOST EVENTS %lu", (unsigned long)lost_events(s->gc_agg, s->alloc_agg));
	put(row, 18, 0, "ring buffer full: collections %lu, site notices %lu, censuses %lu",
	    (unsigned long)g->ringbuf_drops, (unsigned long)a->key_events_lost,
	    (unsigned long)g->census_lost);
	put(row + 1, 18, 0,
	    "maps full: allocations %lu, stacks %lu, followed objects %lu, gc blame %lu, "
	    "collections in flight %lu | unreadable: gc %lu, allocations %lu",
	    (unsigned long)a->counts_full, (unsigned long)a->stacks_full,
	    (unsigned long)a->live_full, (unsigned long)g->blame_full,
	    (unsigned long)g->inflight_full, (unsigned long)g->read_errors,
	    (unsigned long)a->read_errors);
	return 2;
}

static void draw_overhead(const struct top_screen *s, int row)
{
	char hits[24];

	format_count((uint64_t)s->overhead.hits_per_s, hits, sizeof(hits));
	put(row, 0, A_BOLD, "OVERHEAD");
	put(row, 18, 0,
	    "est. %.*f%% of a CPU: %s probe hits/s at reference costs per hit (emulated probes)",
	    s->overhead.cpu_fraction < 0.01 ? 2 : 1, 100 * s->overhead.cpu_fraction, hits);
}

void top_view_draw(const struct top_screen *s)
{
	int row = 2, avail = LINES - TOP_FIXED_ROWS, sites_rows, census_rows;

	if (!screen)
		return;
	erase();
	if (LINES < TOP_MIN_ROWS || COLS < TOP_MIN_COLS) {
		put(0, 0, 0,
		    "pyobjlife top: the terminal is too small (%dx%d, needs %dx%d); q quits", COLS,
		    LINES, TOP_MIN_COLS, TOP_MIN_ROWS);
		refresh();
		return;
	}
	draw_header(s);
	/* the sites get a little more room than the census: they change faster */
	sites_rows = s->full_mode ? (avail + 1) / 2 : 2;
	census_rows = s->full_mode ? avail - sites_rows : 3;
	draw_sites(s, row, sites_rows);
	row += sites_rows + 1;
	draw_census(s, row, census_rows - 1);
	row += census_rows;
	row += draw_gc(s, row) + 1;
	row += draw_losses(s, row);
	draw_overhead(s, row);
	put(LINES - 1, 0, A_REVERSE,
	    " q quit | s sort sites (rate, total, bytes) | g sort live objects (total, gen 0, 1, "
	    "2) | p pause ");
	refresh();
}
