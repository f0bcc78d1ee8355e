/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Sampled mode: the allocation and deallocation probes are attached in windows
 * and detached between them, with a duty cycle chosen so that what their hits
 * cost the target stays within an overhead budget (a fraction of one core).
 * Each window measures the hit rate; the next window's length and start follow
 * from it. Counts are scaled by the sampling ratio: the time the windows were
 * open over the recording's duration.
 *
 * The arithmetic (sampling_plan) is a pure function; the window scheduler
 * drives the BPF side through callbacks, so this file has no BPF dependency.
 */
#ifndef PYOBJLIFE_SAMPLING_H
#define PYOBJLIFE_SAMPLING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "thinning.h"

/* Window bounds: the first window only measures the hit rate. */
#define SAMPLING_FIRST_WINDOW_S 0.020
#define SAMPLING_MIN_WINDOW_S	0.020
#define SAMPLING_MAX_WINDOW_S	0.200
/* The period aimed at when the budget allows it: windows spread over time. */
#define SAMPLING_TARGET_PERIOD_S 0.5
/* How often an open window's cost is checked against its allowance. */
#define SAMPLING_CHECK_NS 10000000ull

struct duty_input {
	double hit_rate;	/* probe hits per second while the probes are attached */
	double cost_per_hit_ns; /* target CPU time per hit */
	double budget;		/* fraction of one core, e.g. 0.01 */
	double edge_s;		/* time the probes stay attached beyond a window (attach, detach) */
	double fixed_cost_s;	/* target CPU per window besides the hits (first hits) */
	double min_gap_s;	/* time between windows at least (detaching takes it) */
	double max_window_s;	/* births that fit the live map, 0: no bound */
};

struct duty_plan {
	double load;	 /* fraction of one core the probes take while attached */
	double duty;	 /* fraction of the time the budget lets them be attached, <= 1 */
	double window_s; /* the next window's length */
	double period_s; /* from the start of one window to the start of the next */
	double overhead; /* the fraction of one core one period costs the target, <= budget */
};

/*
 * The next window from the last one's measurements:
 *   load = hit_rate * cost_per_hit; duty = min(1, budget / load)
 *   window = duty * SAMPLING_TARGET_PERIOD_S within [MIN, MAX] (and max_window_s)
 *   cost of one period = (window + edge) * load + fixed_cost
 *   period = max(window + min_gap, cost / budget)
 * so the estimated overhead (cost / period) never exceeds the budget.
 */
void sampling_plan(const struct duty_input *in, struct duty_plan *out);

/* What a hit costs the target, by probe kind (ns). */
struct hit_costs {
	double alloc;		  /* allocation entry probe: trap, stack walk, counters */
	double dealloc;		  /* deallocator probe: trap, map lookups */
	double ret;		  /* typed allocator return probe: the return half */
	double first_hit;	  /* first hit of each probe after an attach */
	double single_step_extra; /* what a hit on a single-stepped instruction adds */
	/* the traps alone, without the programs (whose run time the kernel can measure) */
	double alloc_trap, dealloc_trap, ret_trap;
	const char *source;
};

/*
 * Per-hit costs of the window probes: calibrated traps plus the programs' work;
 * a hit on a single-stepped instruction adds single_step_extra.
 */
void sampling_hit_costs(struct hit_costs *out);

/* Cumulative counters the BPF side keeps for one target. */
struct window_counters {
	uint64_t hits_alloc, hits_dealloc, hits_return;
	uint64_t hits_single_step; /* of the entry hits, those on single-stepped instructions */
	uint64_t allocations;	   /* counted under a (stack, type) */
	uint64_t followed;	   /* births put in the live map */
	uint64_t lost_events;	   /* ring buffer records that did not fit */
	uint64_t counts_full, stacks_full, live_full;
};

/* How the scheduler acts on the BPF side; each returns 0 or -errno. */
struct sampler_ops {
	void *ctx;
	int (*attach)(void *ctx);	   /* attach the window's probes */
	int (*gate)(void *ctx, bool open); /* let the probes count, or stop them */
	void (*detach)(void *ctx);	   /* remove the window's probes (blocks until gone) */
	/* objects of the window still followed: counted as censored and forgotten */
	int (*censor)(void *ctx, uint64_t *censored);
	int (*counters)(void *ctx, struct window_counters *out);
	/* the target's CPU time, all threads, in ns; NULL or an error: scale by time only */
	int (*target_cpu_ns)(void *ctx, uint64_t *out);
	/*
	 * the target's user-mode CPU time, all threads, in ns, as the scheduler tick
	 * charges it: the probes run in kernel mode, so it measures the target's own
	 * work; NULL or an error: not used
	 */
	int (*target_user_ns)(void *ctx, uint64_t *out);
	/* run time of the BPF programs so far, measured by the kernel; NULL: modelled */
	int (*program_ns)(void *ctx, uint64_t *out);
};

struct sampler_config {
	double budget;	       /* fraction of one core (--overhead / 100) */
	const char *link;      /* "uprobe_multi" or "perf_event" */
	const char *link_note; /* why that one */
	struct hit_costs costs;
	unsigned probes;	/* probe sites a window attaches */
	uint64_t live_capacity; /* entries of the live map */
	size_t log_limit;	/* windows the log keeps (--max-timeline); 0: the default */
	uint64_t tick_ns;	/* the scheduler tick charging user time; 0: the kernel's */
};

struct window_record {
	uint64_t open_ns, close_ns; /* the gate, since the recording started */
	double attach_ms, detach_ms;
	struct window_counters delta;
	uint64_t censored;
	double cost_s;	/* estimated target CPU the window's probes took */
	bool cut_short; /* closed early: its probes cost more than the plan allowed */
	bool open_at_end;
	uint64_t period_ns; /* since the previous window opened; 0 for the first */
	uint64_t ordinal;   /* windows before it */
};

struct sampler {
	struct sampler_config cfg;
	struct sampler_ops ops;
	uint64_t t0_ns;
	bool open, failed, ended;
	bool ended_open;       /* a window was open when the recording stopped */
	uint64_t stop_ns;      /* when the recording stopped counting (sampler_end) */
	uint64_t next_open_ns; /* CLOCK_MONOTONIC */
	uint64_t close_at_ns;
	uint64_t checked_ns; /* when an open window's cost was last checked */
	/* the window being recorded */
	uint64_t attach_start_ns, gate_open_ns, gate_close_ns;
	struct window_counters before;
	struct window_record cur;
	struct duty_plan plan;
	/*
	 * The target's progress: its CPU time less what the probes cost it. A window
	 * slows an allocating program many times over, so the share of its work done
	 * inside windows, not the share of wall time, scales the counts.
	 */
	bool cpu_known;
	uint64_t cpu_t0_ns, cpu_gate_open_ns, cpu_stop_ns, cpu_last_ns;
	bool program_known; /* the programs' run time measured: only the traps are modelled */
	uint64_t program_t0_ns, program_gate_open_ns, program_stop_ns;
	double trap_s;	      /* every window's traps, modelled */
	double progress_in_s; /* inside the gates */
	double cpu_in_s;      /* the target's CPU time inside the gates, probes included */
	/*
	 * The target's user-mode CPU time, charged by the scheduler tick: the probes
	 * run in kernel mode, so inside a gate as outside it grows with the target's
	 * own work alone. A tick-sampled measure: unbiased, its error about
	 * 1/sqrt(ticks counted inside the gates).
	 */
	bool user_known;
	uint64_t user_t0_ns, user_gate_open_ns, user_stop_ns, user_last_ns;
	uint64_t user_in_ns;
	uint64_t user_tick_ns; /* the tick user time is charged by */
	/* totals */
	uint64_t windows, observed_ns, censored;
	double cost_s;
	struct window_counters total;
	uint64_t last_open_ns; /* the latest window's open_ns */
	/* every window, thinned evenly beyond cfg.log_limit */
	struct window_record *log;
	size_t n_log, cap_log;
	struct thinning log_thin;
};

void sampler_init(struct sampler *s, const struct sampler_config *c, const struct sampler_ops *ops,
		  uint64_t t0_ns);
void sampler_free(struct sampler *s);

/* How long the recording loop may wait (ms, at most max_ms) before sampler_tick is due. */
int sampler_timeout_ms(const struct sampler *s, uint64_t now_ns, int max_ms);

/* Open or close a window when due. 0, or -errno once attaching failed (reported). */
int sampler_tick(struct sampler *s, uint64_t now_ns);

/*
 * The recording stops at stop_ns (the BPF side stopped counting then). A window
 * still open is observed up to there and not censored: its objects still
 * followed are the ones alive at the end. Its probes go with the rest.
 */
void sampler_end(struct sampler *s, uint64_t stop_ns);

/*
 * The sampling ratio, valid after sampler_end: the target's work inside the
 * windows (its CPU time there less the probes' estimated cost) over its work in
 * the whole recording (its CPU time less every window's probe cost). Where the
 * target's CPU time is unknown, the time windows were open (gate opened to gate
 * closed, or to the stop) over the recording's time; 0 when no window was open.
 */
double sampler_ratio(const struct sampler *s);
/* The share of wall time the gates were open (what sampler_ratio falls back to). */
double sampler_time_ratio(const struct sampler *s);
/* Why the estimates may be biased, or NULL: the probes' cost could not be told from the work. */
const char *sampler_estimate_warning(const struct sampler *s);

/* The "sampling" member of the recording JSON (after sampler_end). */
json_t *sampler_to_json(const struct sampler *s);

#endif
