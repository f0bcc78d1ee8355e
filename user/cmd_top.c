// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * pyobjlife top: the session `record` runs, shown instead of written. Every
 * interval the allocation counts are read out of the BPF map and compared with
 * the previous reading (rates per site), the per-generation aggregates likewise;
 * the census, collection and heap records the ring buffer brings are consumed
 * as they arrive, so a long session keeps only what is on screen.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "array_sort.h"
#include "bpf_session.h"
#include "commands.h"
#include "exit_codes.h"
#include "log.h"
#include "progress.h"
#include "recording.h"
#include "top_view.h"

#define NGEN PYOBJLIFE_NUM_GENERATIONS

/* One (stack, type) counter of the target, as read at a refresh. */
struct key_count {
	uint64_t stack_id, type;
	uint64_t allocations, bytes;
};

struct key_counts {
	struct key_count *v;
	size_t n, cap;
};

/* The types counted in the latest census of one generation. */
struct census_gen {
	bool seen;
	uint32_t seq;
	uint64_t t_ns;
	struct census_sample *samples;
	size_t n, cap;
};

struct top {
	const struct cli *cli;
	uint64_t interval_ns, next_ns, last_ns;
	bool paused;
	enum top_site_sort site_sort;
	int census_sort; /* a generation, or -1: the total */
	struct key_counts prev, cur;
	struct top_site *sites;
	size_t n_sites, cap_sites;
	struct census_gen census[NGEN];
	struct top_census_row *census_rows;
	size_t n_census_rows, cap_census_rows;
	struct gc_agg gc_prev, gc_now;
	struct alloc_agg alloc_now;
	struct probe_counts counts_prev, counts_now;
	uint64_t recent_max_ns[NGEN]; /* longest pause seen since the last refresh */
	uint64_t rss_bytes;
	struct overhead overhead;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *m;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	m = realloc(*p, ncap * size);
	if (!m)
		return -ENOMEM;
	*p = m;
	*cap = ncap;
	return 0;
}

static int by_key(const void *a, const void *b)
{
	const struct key_count *x = a, *y = b;

	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	return x->type < y->type ? -1 : x->type > y->type;
}

/* Every counter of the target now, sorted by key. */
static int read_counts(struct top *t, struct session_view *v)
{
	int fd = bpf_session_alloc_maps(v->bpf).counts_fd;
	struct alloc_key key, next;
	struct alloc_count c;
	void *prev = NULL;

	t->cur.n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.tgid != (uint32_t)v->rec->pid || bpf_map_lookup_elem(fd, &key, &c))
			continue;
		if (grow((void **)&t->cur.v, &t->cur.cap, t->cur.n + 1, sizeof(*t->cur.v)))
			return -ENOMEM;
		t->cur.v[t->cur.n++] = (struct key_count){ .stack_id = key.stack_id,
							   .type = key.type,
							   .allocations = c.allocations,
							   .bytes = c.bytes };
	}
	array_sort(t->cur.v, t->cur.n, sizeof(*t->cur.v), by_key);
	return 0;
}

static uint64_t previous_allocations(const struct top *t, const struct key_count *k)
{
	const struct key_count *p = bsearch(k, t->prev.v, t->prev.n, sizeof(*k), by_key);

	return p ? p->allocations : 0;
}

static int cmp_ptr(const void *x, const void *y)
{
	return (uintptr_t)x < (uintptr_t)y ? -1 : (uintptr_t)x > (uintptr_t)y;
}

static int site_identity(const void *a, const void *b)
{
	const struct top_site *x = a, *y = b;

	return site_key_compare(&(struct site_key){ x->file, x->function, x->type, x->line },
				&(struct site_key){ y->file, y->function, y->type, y->line });
}

static int by_rate(const void *a, const void *b)
{
	const struct top_site *x = a, *y = b;

	if (x->rate != y->rate)
		return x->rate < y->rate ? 1 : -1;
	return x->allocations < y->allocations ? 1 : x->allocations > y->allocations ? -1 : 0;
}

static int by_total(const void *a, const void *b)
{
	const struct top_site *x = a, *y = b;

	if (x->allocations != y->allocations)
		return x->allocations < y->allocations ? 1 : -1;
	return by_rate(a, b);
}

static int by_bytes(const void *a, const void *b)
{
	const struct top_site *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return by_rate(a, b);
}

static void sort_sites(struct top *t)
{
	static int (*const order[])(const void *, const void *) = {
		[TOP_SORT_RATE] = by_rate, [TOP_SORT_TOTAL] = by_total, [TOP_SORT_BYTES] = by_bytes
	};

	array_sort(t->sites, t->n_sites, sizeof(*t->sites), order[t->site_sort]);
}

/* One site per counter, named by its leaf frame, then merged by leaf line and type. */
static int build_sites(struct top *t, struct session_view *v, double seconds)
{
	struct alloc_recording *r = &v->rec->alloc;
	int stacks_fd = bpf_session_stacks_fd(v->bpf);
	size_t n = 0;

	if (grow((void **)&t->sites, &t->cap_sites, t->cur.n, sizeof(*t->sites)))
		return -ENOMEM;
	for (size_t i = 0; i < t->cur.n; i++) {
		const struct key_count *k = &t->cur.v[i];
		const struct code_location *leaf = alloc_recording_leaf(r, stacks_fd, k->stack_id);

		t->sites[i] = (struct top_site){
			.file = leaf->file,
			.function = leaf->function,
			.line = leaf->line,
			.type = alloc_recording_type_name(r, k->type),
			.rate = (k->allocations - previous_allocations(t, k)) / seconds,
			.allocations = k->allocations,
			.bytes = k->bytes,
		};
	}
	array_sort(t->sites, t->cur.n, sizeof(*t->sites), site_identity);
	for (size_t i = 0; i < t->cur.n; i++) {
		struct top_site *last = n ? &t->sites[n - 1] : NULL;

		if (last && !site_identity(last, &t->sites[i])) {
			last->rate += t->sites[i].rate;
			last->allocations += t->sites[i].allocations;
			last->bytes += t->sites[i].bytes;
		} else {
			t->sites[n++] = t->sites[i];
		}
	}
	t->n_sites = n;
	sort_sites(t);
	return 0;
}

/* The census samples that arrived: each generation keeps its latest census only. */
static void take_census(struct top *t, struct census_log *log)
{
	for (size_t i = 0; i < log->n; i++) {
		const struct census_sample *s = &log->samples[i];
		struct census_gen *g;

		if (s->generation < 0 || s->generation >= NGEN)
			continue;
		g = &t->census[s->generation];
		if (!g->seen || s->seq != g->seq) {
			g->seen = true;
			g->seq = s->seq;
			g->t_ns = s->t_ns;
			g->n = 0;
		}
		if (!grow((void **)&g->samples, &g->cap, g->n + 1, sizeof(*g->samples)))
			g->samples[g->n++] = *s;
		t->counts_now.census_objects += s->count;
	}
	log->n = 0;
}

static int by_type(const void *a, const void *b)
{
	return cmp_ptr(((const struct top_census_row *)a)->type,
		       ((const struct top_census_row *)b)->type);
}

/* qsort_r: `ctx` is the generation to sort by, or -1 for the total */
static int by_census_count(const void *a, const void *b, void *ctx)
{
	const struct top_census_row *x = a, *y = b;
	int gen = *(const int *)ctx;
	uint64_t m = gen < 0 ? x->total : x->count[gen];
	uint64_t n = gen < 0 ? y->total : y->count[gen];

	if (m != n)
		return m < n ? 1 : -1;
	return x->total < y->total ? 1 : x->total > y->total ? -1 : strcmp(x->type, y->type);
}

/* One row per type across the three generations' latest censuses. */
static void build_census_rows(struct top *t)
{
	size_t n = 0, all = 0;

	for (int g = 0; g < NGEN; g++)
		all += t->census[g].n;
	t->n_census_rows = 0;
	if (grow((void **)&t->census_rows, &t->cap_census_rows, all, sizeof(*t->census_rows)))
		return;
	for (int g = 0; g < NGEN; g++) {
		for (size_t i = 0; i < t->census[g].n; i++) {
			struct top_census_row *row = &t->census_rows[n++];

			*row = (struct top_census_row){ .type = t->census[g].samples[i].type };
			row->count[g] = t->census[g].samples[i].count;
		}
	}
	array_sort(t->census_rows, n, sizeof(*t->census_rows), by_type);
	for (size_t i = 0; i < n; i++) {
		struct top_census_row *last =
			t->n_census_rows ? &t->census_rows[t->n_census_rows - 1] : NULL;

		if (last && last->type == t->census_rows[i].type) {
			for (int g = 0; g < NGEN; g++)
				last->count[g] += t->census_rows[i].count[g];
		} else {
			t->census_rows[t->n_census_rows++] = t->census_rows[i];
		}
	}
	for (size_t i = 0; i < t->n_census_rows; i++) {
		struct top_census_row *row = &t->census_rows[i];

		row->total = row->count[0] + row->count[1] + row->count[2];
	}
	qsort_r(t->census_rows, t->n_census_rows, sizeof(*t->census_rows), by_census_count,
		&t->census_sort);
}

/* The collections the ring buffer brought: their longest pauses; then drop them. */
static void take_collections(struct top *t, struct gc_recording *g)
{
	for (size_t i = 0; i < g->n_collections; i++) {
		const struct gc_collection *c = &g->collections[i];

		if (c->pause_ns > t->recent_max_ns[c->generation])
			t->recent_max_ns[c->generation] = c->pause_ns;
	}
	g->n_collections = 0;
}

/* The latest RSS sample, and only it kept (the next is due a second after it). */
static void take_heap(struct top *t, struct heap_timeline *h)
{
	if (!h->n)
		return;
	t->rss_bytes = h->samples[h->n - 1].rss_bytes;
	h->samples[0] = h->samples[h->n - 1];
	h->n = 1;
}

static void fill_screen(struct top *t, struct session_view *v, struct top_screen *s)
{
	const struct py_target *target = &v->plan->target;

	*s = (struct top_screen){
		.pid = v->rec->pid,
		.python = target->version_str,
		.binary = py_target_basename(target),
		.full_mode = v->rec->alloc.enabled,
		.paused = t->paused,
		.elapsed_s = v->elapsed_ns / 1e9,
		.interval_s = t->cli->interval_s,
		.rss_bytes = t->rss_bytes,
		.sites = t->sites,
		.n_sites = t->n_sites,
		.site_sort = t->site_sort,
		.total_allocations = t->alloc_now.allocations,
		.census = t->census_rows,
		.n_census = t->n_census_rows,
		.census_sort = t->census_sort,
		.census_young_interval_s = t->cli->census_young_interval_s,
		.census_full_interval_s = t->cli->census_full_interval_s,
		.gc_agg = &t->gc_now,
		.alloc_agg = &t->alloc_now,
		.overhead = t->overhead,
	};
	for (size_t i = 0; i < t->n_sites; i++)
		s->total_rate += t->sites[i].rate;
	for (int g = 0; g < NGEN; g++) {
		s->census_seen[g] = t->census[g].seen;
		s->census_age_s[g] = t->census[g].seen && v->elapsed_ns > t->census[g].t_ns
					     ? (v->elapsed_ns - t->census[g].t_ns) / 1e9
					     : 0;
		s->gc[g] = (struct top_gc_row){
			.total = &t->gc_now.gen[g],
			.recent_collections =
				t->gc_now.gen[g].collections - t->gc_prev.gen[g].collections,
			.recent_pause_ns =
				t->gc_now.gen[g].pause_total_ns - t->gc_prev.gen[g].pause_total_ns,
			.recent_max_ns = t->recent_max_ns[g],
		};
	}
}

static void draw(struct top *t, struct session_view *v)
{
	struct top_screen s;

	fill_screen(t, v, &s);
	top_view_draw(&s);
}

/* Read everything anew and compare with the previous refresh. */
static void refresh_data(struct top *t, struct session_view *v)
{
	double seconds = (v->elapsed_ns - t->last_ns) / 1e9;
	struct key_counts swap;

	t->gc_prev = t->gc_now;
	t->counts_prev = t->counts_now;
	memset(t->recent_max_ns, 0, sizeof(t->recent_max_ns));
	take_collections(t, &v->rec->gc);
	bpf_session_read_agg(v->bpf, v->rec->pid, &t->gc_now);
	bpf_session_read_alloc_agg(v->bpf, v->rec->pid, &t->alloc_now);
	probe_counts_read(&t->counts_now, &t->gc_now, &t->alloc_now);
	t->overhead = overhead_estimate(v->plan, v->rec->alloc.enabled, &t->counts_prev,
					&t->counts_now, seconds);
	if (v->rec->alloc.enabled && seconds > 0 && !read_counts(t, v)) {
		build_sites(t, v, seconds);
		swap = t->prev;
		t->prev = t->cur;
		t->cur = swap;
	}
	build_census_rows(t);
	t->last_ns = v->elapsed_ns;
}

/* A key: true when it asks to quit. */
static bool on_key(struct top *t, int key)
{
	switch (key) {
	case 'q':
	case 'Q':
		return true;
	case 's':
	case 'S':
		t->site_sort = (t->site_sort + 1) % TOP_SORT_COUNT;
		sort_sites(t);
		break;
	case 'g':
	case 'G':
		t->census_sort = t->census_sort == NGEN - 1 ? -1 : t->census_sort + 1;
		build_census_rows(t);
		break;
	case 'p':
	case 'P':
		t->paused = !t->paused;
		break;
	default:
		/* a resize, or any other key: just redraw */
		break;
	}
	return false;
}

static int top_started(void *ctx, struct session_view *v)
{
	struct top *t = ctx;
	char why[256];

	t->last_ns = v->elapsed_ns;
	t->next_ns = v->elapsed_ns + t->interval_ns;
	if (top_view_open(why, sizeof(why))) {
		pr_err("%s", why);
		return EXIT_USAGE;
	}
	draw(t, v);
	return 0;
}

static const char *top_polled(void *ctx, struct session_view *v)
{
	struct top *t = ctx;
	bool redraw = false;
	int key;

	while ((key = top_view_key()) >= 0) {
		if (on_key(t, key))
			return "quit";
		redraw = true;
	}
	if (v->rec->alloc.enabled)
		take_census(t, &v->rec->alloc.census);
	take_heap(t, &v->rec->heap);
	if (v->elapsed_ns >= t->next_ns) {
		t->next_ns = v->elapsed_ns + t->interval_ns;
		if (!t->paused) {
			refresh_data(t, v);
			redraw = true;
		}
	}
	if (redraw)
		draw(t, v);
	return NULL;
}

static void top_ended(void *ctx, struct session_view *v)
{
	unsigned long s = v->elapsed_ns / 1000000000ull;

	(void)ctx;
	top_view_close();
	/* the probes come off next: each takes the kernel ~0.1 s */
	pr_info("top of PID %d ended after %lu:%02lu (%s); detaching", (int)v->rec->pid, s / 60,
		s % 60, v->rec->end_reason);
}

static void top_free(struct top *t)
{
	free(t->prev.v);
	free(t->cur.v);
	free(t->sites);
	free(t->census_rows);
	for (int g = 0; g < NGEN; g++)
		free(t->census[g].samples);
}

int cmd_top(const struct cli *c)
{
	struct top t = { .cli = c,
			 .interval_ns = (uint64_t)(c->interval_s * 1e9),
			 .census_sort = -1 };
	struct session_observer o = {
		.ctx = &t, .started = top_started, .polled = top_polled, .ended = top_ended
	};
	char why[256];
	int rc;

	if (top_view_check_terminal(why, sizeof(why))) {
		pr_err("%s", why);
		return EXIT_USAGE;
	}
	rc = session_watch(c, &o);
	top_free(&t);
	return rc;
}
