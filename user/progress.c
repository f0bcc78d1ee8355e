// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "bpf_session.h"
#include "calibration.h"
#include "log.h"
#include "progress.h"
#include "recording.h"

#define PROGRESS_INTERVAL_NS 1000000000ull
#define PROGRESS_LINE_MAX    256

/*
 * What one probe hit costs the target's thread, from the uprobe cost model
 * (measured on a 2-core VM, kernel 6.18, on the probed thread's CPU clock): an
 * uprobe on an instruction the kernel emulates traps for ~0.69 us, USDT the
 * same; the return half of an entry + return pair adds ~0.52 us; an
 * allocation's stack walk (a bulk copy per frame) and map updates add ~0.25 us;
 * a census visits an object in ~0.3 us. A probe on an instruction the kernel
 * single-steps costs ~10 us instead: these are the emulated figures, so the
 * estimate is low where a probe is single-stepped. This table is the one place
 * to swap for measured costs (calibration_cost_ns() per cost class).
 */
enum hook_cost {
	COST_TRAP,	    /* an uprobe or USDT hit */
	COST_RETURN,	    /* the return half of an entry + return pair */
	COST_STACK_WALK,    /* walking and storing a Python stack */
	COST_CENSUS_OBJECT, /* one object visited by a census */
};

static const double reference_cost_ns[] = {
	[COST_TRAP] = 690,
	[COST_RETURN] = 520,
	[COST_STACK_WALK] = 250,
	[COST_CENSUS_OBJECT] = 300,
};

/* A trap on an emulated instruction is what calibration measured on this kernel. */
static double hook_cost_ns(enum hook_cost c)
{
	return c == COST_TRAP ? calibration_cost_ns(PROBE_COST_EMULATED) : reference_cost_ns[c];
}

/* The allocation hook's own trap: its placement says emulated or single-stepped. */
static double alloc_trap_ns(const struct probe_plan *p)
{
	const struct hook *h =
		p->alloc_method == ALLOC_METHOD_BIRTH ? &p->alloc_birth : &p->alloc_typed_var;
	enum probe_cost_class k = h->n_sites ? h->sites[0].place.cost : PROBE_COST_UNKNOWN;

	return k == PROBE_COST_UNKNOWN ? hook_cost_ns(COST_TRAP) : calibration_cost_ns(k);
}

void probe_counts_read(struct probe_counts *c, const struct gc_agg *g, const struct alloc_agg *a)
{
	/* every collection started, recorded or refused, hit the start and end probes */
	c->collections = g->seq.started;
	c->allocations = a->allocations + a->counts_full;
	c->deaths = a->deaths;
	c->arena_calls = a->arenas_allocated + a->arenas_freed;
}

/* A collection: its start and end probes; in full mode also its census and blame stack walk. */
static double collection_cost_ns(const struct probe_plan *p, bool full_mode)
{
	double ns = p->gc_method == GC_METHOD_USDT
			    ? 2 * hook_cost_ns(COST_TRAP)
			    : hook_cost_ns(COST_TRAP) + hook_cost_ns(COST_RETURN);

	return full_mode ? ns + hook_cost_ns(COST_STACK_WALK) : ns;
}

static double allocation_cost_ns(const struct probe_plan *p)
{
	double ns = alloc_trap_ns(p) + hook_cost_ns(COST_STACK_WALK);

	/* the typed allocators' return probes take the new object's address */
	return p->alloc_method == ALLOC_METHOD_TYPED ? ns + hook_cost_ns(COST_RETURN) : ns;
}

struct overhead overhead_estimate(const struct probe_plan *p, bool full_mode,
				  const struct probe_counts *from, const struct probe_counts *to,
				  double seconds)
{
	struct overhead o = { 0 };
	uint64_t collections = to->collections - from->collections;
	uint64_t arenas = to->arena_calls - from->arena_calls;
	double hits = 2.0 * collections + arenas;
	double ns =
		collections * collection_cost_ns(p, full_mode) + arenas * hook_cost_ns(COST_TRAP);

	if (seconds <= 0)
		return o;
	if (full_mode) {
		uint64_t allocations = to->allocations - from->allocations;
		/* deaths stand for the deallocator hits: objects born before the attach are missing
		 */
		uint64_t deaths = to->deaths - from->deaths;
		uint64_t visited = to->census_objects - from->census_objects;

		hits += allocations * (p->alloc_method == ALLOC_METHOD_TYPED ? 2.0 : 1.0) + deaths;
		ns += allocations * allocation_cost_ns(p) + deaths * hook_cost_ns(COST_TRAP) +
		      visited * hook_cost_ns(COST_CENSUS_OBJECT);
	}
	o.hits_per_s = hits / seconds;
	o.cpu_fraction = ns / 1e9 / seconds;
	return o;
}

uint64_t lost_events(const struct gc_agg *g, const struct alloc_agg *a)
{
	return g->ringbuf_drops + g->census_lost + g->inflight_full + g->blame_full +
	       a->key_events_lost + a->counts_full + a->stacks_full + a->live_full;
}

void format_count(uint64_t n, char *buf, size_t cap)
{
	if (n < 10000)
		snprintf(buf, cap, "%lu", (unsigned long)n);
	else if (n < 10000000)
		snprintf(buf, cap, "%.1fk", n / 1e3);
	else if (n < 10000000000ull)
		snprintf(buf, cap, "%.2fM", n / 1e6);
	else
		snprintf(buf, cap, "%.2fG", n / 1e9);
}

bool progress_wanted(void)
{
	return !log_quiet && isatty(STDERR_FILENO);
}

/* Columns of the terminal on stderr; a line as wide wraps and can no longer be redrawn. */
static size_t terminal_columns(FILE *out)
{
	struct winsize ws;

	if (ioctl(fileno(out), TIOCGWINSZ, &ws) || ws.ws_col < 2)
		return 80;
	return ws.ws_col;
}

/* Overwrite the line on screen with `text`, blanking what the previous one left. */
static void progress_show(struct progress *p, const char *text)
{
	size_t width = terminal_columns(p->out) - 1, len = strlen(text);

	if (len > width)
		len = width;
	fprintf(p->out, "\r%.*s", (int)len, text);
	for (size_t i = len; i < p->shown; i++)
		fputc(' ', p->out);
	fputc('\r', p->out);
	fflush(p->out);
	p->shown = len;
}

/* Objects visited by the censuses that arrived since the last call. */
static void count_census(struct progress *p, const struct census_log *log)
{
	/* cumulative: the log itself may thin out samples already counted */
	p->census_objects = log->objects;
}

static void format_elapsed(uint64_t ns, char *buf, size_t cap)
{
	unsigned long s = ns / 1000000000ull;

	if (s >= 3600)
		snprintf(buf, cap, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, cap, "%lu:%02lu", s / 60, s % 60);
}

static void progress_draw(struct progress *p, struct session_view *v)
{
	struct gc_agg g = { 0 };
	struct alloc_agg a = { 0 };
	struct probe_counts now = p->last;
	struct overhead o;
	char line[PROGRESS_LINE_MAX], elapsed[32], collections[24], allocations[24], lost[24];
	bool full = v->rec->alloc.enabled;

	bpf_session_read_agg(v->bpf, v->rec->pid, &g);
	bpf_session_read_alloc_agg(v->bpf, v->rec->pid, &a);
	if (full)
		count_census(p, &v->rec->alloc.census);
	now.census_objects = p->census_objects;
	probe_counts_read(&now, &g, &a);
	o = overhead_estimate(v->plan, full, &p->last, &now, (v->elapsed_ns - p->last_ns) / 1e9);
	p->last = now;
	p->last_ns = v->elapsed_ns;
	format_elapsed(v->elapsed_ns, elapsed, sizeof(elapsed));
	format_count(now.collections, collections, sizeof(collections));
	format_count(a.allocations, allocations, sizeof(allocations));
	format_count(lost_events(&g, &a), lost, sizeof(lost));
	/* under 80 columns: a wider line wraps and can no longer be redrawn in place */
	snprintf(line, sizeof(line), "%s | %s collections%s%s%s | %s lost | est. overhead %.*f%%",
		 elapsed, collections, full ? " | " : "", full ? allocations : "",
		 full ? " allocations" : "", lost, o.cpu_fraction < 0.01 ? 2 : 1,
		 100 * o.cpu_fraction);
	progress_show(p, line);
}

static int progress_started(void *ctx, struct session_view *v)
{
	struct progress *p = ctx;

	p->next_ns = v->elapsed_ns + PROGRESS_INTERVAL_NS;
	p->last_ns = v->elapsed_ns;
	return 0;
}

static const char *progress_polled(void *ctx, struct session_view *v)
{
	struct progress *p = ctx;

	if (v->elapsed_ns < p->next_ns)
		return NULL;
	/* the next one a second after this one was due: no drift, no burst after a stall */
	p->next_ns += PROGRESS_INTERVAL_NS;
	if (p->next_ns <= v->elapsed_ns)
		p->next_ns = v->elapsed_ns + PROGRESS_INTERVAL_NS;
	progress_draw(p, v);
	return NULL;
}

/* Blank the line: the warnings and the summary that follow start on a clean one. */
static void progress_ended(void *ctx, struct session_view *v)
{
	struct progress *p = ctx;

	(void)v;
	if (p->shown)
		progress_show(p, "");
}

const struct session_observer *progress_observer(struct progress *p, struct session_observer *o)
{
	memset(p, 0, sizeof(*p));
	p->out = stderr;
	*o = (struct session_observer){ .ctx = p,
					.started = progress_started,
					.polled = progress_polled,
					.ended = progress_ended };
	return o;
}
