// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "array_sort.h"
#include "calibration.h"
#include "log.h"
#include "sampling.h"

/*
 * What the BPF programs add to a trap, from the uprobe cost model measured on
 * this kind of host (2-core VM, kernel 6.x). The trap itself is what
 * calibration measured on the running kernel for the class of instruction
 * each probe was placed on (calibration_cost_ns): ~0.6 us where the kernel
 * emulates it, ~20 us where it single-steps it.
 */
#define MODEL_RETURN_HALF_NS 450.0   /* the return half of a uretprobe */
#define MODEL_STACK_WALK_NS  2000.0  /* 32 frames, one 16-byte read each */
#define MODEL_MAP_OPS_NS     150.0   /* ~0.05 us per hash map lookup or update */
#define MODEL_FIRST_HIT_NS   50000.0 /* first hit after attach: 15-47 us */

/*
 * Every entry hit is priced as an emulated trap, and the hits on single-stepped
 * instructions (the BPF side counts them apart, by cookie) pay the difference:
 * on Debian's 3.11 one allocator's entry is single-stepped, and pricing every
 * allocation hit at its ~30 us made the windows five times rarer than the
 * budget allowed.
 */
void sampling_hit_costs(struct hit_costs *out)
{
	double emulated = calibration_cost_ns(PROBE_COST_EMULATED);
	double stepped = calibration_cost_ns(PROBE_COST_SINGLE_STEP);

	*out = (struct hit_costs){
		.alloc = emulated + MODEL_STACK_WALK_NS + MODEL_MAP_OPS_NS,
		.dealloc = emulated + MODEL_MAP_OPS_NS,
		.ret = MODEL_RETURN_HALF_NS + MODEL_MAP_OPS_NS,
		.first_hit = MODEL_FIRST_HIT_NS,
		.single_step_extra = stepped > emulated ? stepped - emulated : 0,
		.alloc_trap = emulated,
		.dealloc_trap = emulated,
		.ret_trap = MODEL_RETURN_HALF_NS,
		.source =
			calibration_has_run()
				? "traps calibrated on this kernel per placed instruction class, "
				  "program bodies from the uprobe cost model"
				: "reference trap costs (calibration did not run), program bodies "
				  "from the uprobe cost model",
	};
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void sampling_plan(const struct duty_input *in, struct duty_plan *out)
{
	double rate = in->hit_rate > 0 ? in->hit_rate : 0;
	double cost = in->cost_per_hit_ns > 0 ? in->cost_per_hit_ns : 0;
	double budget = in->budget > 0 ? in->budget : 1e-6;
	double edge = in->edge_s > 0 ? in->edge_s : 0;
	double fixed = in->fixed_cost_s > 0 ? in->fixed_cost_s : 0;
	double gap = in->min_gap_s > 0 ? in->min_gap_s : 0;
	double cycle_cost;

	out->load = rate * cost * 1e-9;
	out->duty = out->load > budget ? budget / out->load : 1.0;
	out->window_s = clamp(out->duty * SAMPLING_TARGET_PERIOD_S, SAMPLING_MIN_WINDOW_S,
			      SAMPLING_MAX_WINDOW_S);
	/* more births than the live map holds would be lost, not followed */
	if (in->max_window_s > 0 && out->window_s > in->max_window_s)
		out->window_s = fmax(in->max_window_s, SAMPLING_MIN_WINDOW_S);
	/* the probes cost while attaching and detaching too, and at their first hits */
	cycle_cost = (out->window_s + edge) * out->load + fixed;
	out->period_s = fmax(out->window_s + gap, cycle_cost / budget);
	out->overhead = cycle_cost / out->period_s;
}

static uint64_t monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The tick: the coarse clocks advance by it (4 ms at HZ=250); 0 when unknown. */
static uint64_t kernel_tick_ns(void)
{
	struct timespec res;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res))
		return 0;
	return (uint64_t)res.tv_sec * 1000000000ull + (uint64_t)res.tv_nsec;
}

void sampler_init(struct sampler *s, const struct sampler_config *c, const struct sampler_ops *ops,
		  uint64_t t0_ns)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *c;
	if (!(s->cfg.budget > 0))
		s->cfg.budget = 0.01;
	s->ops = *ops;
	s->t0_ns = t0_ns;
	s->next_open_ns = t0_ns;
	s->plan.window_s = SAMPLING_FIRST_WINDOW_S;
	thinning_init(&s->log_thin, c->log_limit);
	s->cpu_known = s->ops.target_cpu_ns && !s->ops.target_cpu_ns(s->ops.ctx, &s->cpu_t0_ns);
	s->cpu_last_ns = s->cpu_t0_ns;
	s->program_known = s->cpu_known && s->ops.program_ns &&
			   !s->ops.program_ns(s->ops.ctx, &s->program_t0_ns);
	s->user_known = s->ops.target_user_ns && !s->ops.target_user_ns(s->ops.ctx, &s->user_t0_ns);
	s->user_last_ns = s->user_t0_ns;
	s->user_tick_ns = c->tick_ns ? c->tick_ns : kernel_tick_ns();
}

/* The target's user time now; its last reading once it has exited. */
static uint64_t target_user_now(struct sampler *s)
{
	uint64_t ns;

	if (s->user_known && !s->ops.target_user_ns(s->ops.ctx, &ns) && ns >= s->user_last_ns)
		s->user_last_ns = ns;
	return s->user_last_ns;
}

/*
 * The target's CPU time now. A target that has exited has no clock left: its last
 * reading stands (the loop reads it at every tick, at most 100 ms apart).
 */
static uint64_t target_cpu_now(struct sampler *s)
{
	uint64_t ns;

	if (s->cpu_known && !s->ops.target_cpu_ns(s->ops.ctx, &ns))
		s->cpu_last_ns = ns;
	return s->cpu_last_ns;
}

static uint64_t program_now(struct sampler *s)
{
	uint64_t ns = 0;

	if (s->program_known && s->ops.program_ns(s->ops.ctx, &ns))
		s->program_known = false;
	return ns;
}

void sampler_free(struct sampler *s)
{
	free(s->log);
	s->log = NULL;
	s->n_log = s->cap_log = 0;
}

int sampler_timeout_ms(const struct sampler *s, uint64_t now_ns, int max_ms)
{
	uint64_t due, ms;

	if (s->failed || s->ended)
		return max_ms;
	due = s->open ? s->close_at_ns : s->next_open_ns;
	if (s->open && s->checked_ns + SAMPLING_CHECK_NS < due)
		due = s->checked_ns + SAMPLING_CHECK_NS;
	if (due <= now_ns)
		return 0;
	ms = (due - now_ns + 999999) / 1000000;
	return ms < (uint64_t)max_ms ? (int)ms : max_ms;
}

static void counters_delta(struct window_counters *d, const struct window_counters *a,
			   const struct window_counters *b)
{
	d->hits_alloc = a->hits_alloc - b->hits_alloc;
	d->hits_dealloc = a->hits_dealloc - b->hits_dealloc;
	d->hits_return = a->hits_return - b->hits_return;
	d->hits_single_step = a->hits_single_step - b->hits_single_step;
	d->allocations = a->allocations - b->allocations;
	d->followed = a->followed - b->followed;
	d->lost_events = a->lost_events - b->lost_events;
	d->counts_full = a->counts_full - b->counts_full;
	d->stacks_full = a->stacks_full - b->stacks_full;
	d->live_full = a->live_full - b->live_full;
}

static void counters_add(struct window_counters *t, const struct window_counters *d)
{
	t->hits_alloc += d->hits_alloc;
	t->hits_dealloc += d->hits_dealloc;
	t->hits_return += d->hits_return;
	t->hits_single_step += d->hits_single_step;
	t->allocations += d->allocations;
	t->followed += d->followed;
	t->lost_events += d->lost_events;
	t->counts_full += d->counts_full;
	t->stacks_full += d->stacks_full;
	t->live_full += d->live_full;
}

static uint64_t hits_of(const struct window_counters *d)
{
	return d->hits_alloc + d->hits_dealloc + d->hits_return;
}

/* Target CPU time the window's probes took, estimated from their hits. */
static double window_cost_s(const struct sampler *s, const struct window_counters *d)
{
	const struct hit_costs *c = &s->cfg.costs;

	return ((double)d->hits_alloc * c->alloc + (double)d->hits_dealloc * c->dealloc +
		(double)d->hits_return * c->ret +
		(double)d->hits_single_step * c->single_step_extra +
		(double)s->cfg.probes * c->first_hit) *
	       1e-9;
}

static void record_key(const void *entry, unsigned *cls, uint64_t *ordinal)
{
	*cls = 0;
	*ordinal = ((const struct window_record *)entry)->ordinal;
}

static void keep_record(struct sampler *s, struct window_record *w)
{
	struct window_record *slot;

	w->ordinal = s->windows;
	w->period_ns = s->windows ? w->open_ns - s->last_open_ns : 0;
	s->last_open_ns = w->open_ns;
	s->windows++;
	s->cost_s += w->cost_s;
	s->censored += w->censored;
	counters_add(&s->total, &w->delta);
	slot = thinning_slot(&s->log_thin, (void **)&s->log, &s->n_log, &s->cap_log, sizeof(*w),
			     record_key, 0, w->ordinal);
	if (slot)
		*slot = *w;
}

static int open_window(struct sampler *s)
{
	uint64_t attached, before_gate, after_gate;
	int err;

	err = s->ops.counters(s->ops.ctx, &s->before);
	s->attach_start_ns = monotonic_now();
	if (!err)
		err = s->ops.attach(s->ops.ctx);
	attached = before_gate = monotonic_now();
	if (!err)
		err = s->ops.gate(s->ops.ctx, true);
	after_gate = monotonic_now();
	if (err) {
		s->ops.detach(s->ops.ctx);
		s->failed = true;
		pr_warn("sampling stopped: a window's probes could not be attached (%s); the "
			"windows so far are kept",
			strerror(-err));
		return err;
	}
	s->cpu_gate_open_ns = target_cpu_now(s);
	s->user_gate_open_ns = target_user_now(s);
	s->program_gate_open_ns = program_now(s);
	/* the BPF side saw the gate open somewhere inside the update */
	s->gate_open_ns = before_gate + (after_gate - before_gate) / 2;
	s->close_at_ns = s->gate_open_ns + (uint64_t)(s->plan.window_s * 1e9);
	s->cur = (struct window_record){
		.open_ns = s->gate_open_ns - s->t0_ns,
		.attach_ms = (attached - s->attach_start_ns) / 1e6,
	};
	s->checked_ns = s->gate_open_ns;
	s->open = true;
	return 0;
}

static void plan_next(struct sampler *s, uint64_t detached_ns, const struct window_record *w)
{
	double span = (detached_ns - s->attach_start_ns) / 1e9;
	double gate = (w->close_ns - w->open_ns) / 1e9;
	uint64_t hits = hits_of(&w->delta), counted = w->delta.allocations;
	/* allocation hits outside the gate came while attaching or detaching */
	uint64_t outside = w->delta.hits_alloc > counted ? w->delta.hits_alloc - counted : 0;
	const struct hit_costs *c = &s->cfg.costs;
	uint64_t paid;
	struct duty_input in = {
		.budget = s->cfg.budget,
		.fixed_cost_s = s->cfg.probes * c->first_hit * 1e-9,
	};

	if (gate <= 0)
		gate = 1e-6;
	/*
	 * The time the probes trapped beyond the gate, as the allocation counts tell
	 * it (hits outside / hits inside, times the gate); without allocations, all
	 * of the attach and detach time.
	 */
	in.edge_s = counted ? gate * (double)outside / (double)counted
			    : (span > gate ? span - gate : 0);
	in.hit_rate = hits / (gate + in.edge_s);
	/* what an average hit of this workload costs; allocation hits when none came */
	in.cost_per_hit_ns = hits ? (w->cost_s - in.fixed_cost_s) * 1e9 / hits : c->alloc;
	/* attaching and detaching take this long whatever trapped meanwhile */
	in.min_gap_s = span > gate ? span - gate : 0;
	if (w->delta.followed && s->cfg.live_capacity)
		in.max_window_s = 0.5 * s->cfg.live_capacity / (w->delta.followed / gate);
	sampling_plan(&in, &s->plan);
	s->next_open_ns = s->attach_start_ns + (uint64_t)(s->plan.period_s * 1e9);
	/*
	 * The budget holds over the whole recording, not per period: the next window
	 * starts once the time elapsed pays for every window so far and for it, so a
	 * window that cost more than planned (the rate rose) delays the next ones.
	 */
	paid = s->t0_ns +
	       (uint64_t)((s->cost_s + s->plan.overhead * s->plan.period_s) / s->cfg.budget * 1e9);
	if (s->next_open_ns < paid)
		s->next_open_ns = paid;
	if (s->next_open_ns < detached_ns)
		s->next_open_ns = detached_ns;
	pr_debug("sampling: %lu hits in %.1f ms attached (%.1f ms counted): load %.3f of a core, "
		 "next window %.1f ms every %.1f ms (%.2f%% estimated)",
		 (unsigned long)hits, span * 1e3, gate * 1e3, s->plan.load, s->plan.window_s * 1e3,
		 s->plan.period_s * 1e3, s->plan.overhead * 100);
}

/* What the window's traps cost the target, without the programs they ran. */
static double traps_s(const struct sampler *s, const struct window_counters *d)
{
	const struct hit_costs *c = &s->cfg.costs;

	return ((double)d->hits_alloc * c->alloc_trap + (double)d->hits_dealloc * c->dealloc_trap +
		(double)d->hits_return * c->ret_trap +
		(double)d->hits_single_step * c->single_step_extra) *
	       1e-9;
}

/*
 * The target's work inside the gate: its CPU time there less the probes' cost
 * there: the programs' run time as the kernel measured it (else modelled) and
 * the traps (calibrated). Counting happens only inside the gate, so the share
 * of allocation hits that were counted is the share of the window's hits there.
 */
static void add_progress(struct sampler *s, uint64_t cpu_close_ns, uint64_t program_close_ns,
			 const struct window_record *w)
{
	const struct window_counters *d = &w->delta;
	double fixed = s->cfg.probes * s->cfg.costs.first_hit * 1e-9;
	double inside = d->hits_alloc ? fmin(1.0, (double)d->allocations / d->hits_alloc) : 1.0;
	double cost = fmax(0, w->cost_s - fixed) * inside;

	s->trap_s += traps_s(s, d);
	if (s->program_known)
		cost = (program_close_ns - s->program_gate_open_ns) * 1e-9 + traps_s(s, d) * inside;
	if (s->cpu_known && cpu_close_ns >= s->cpu_gate_open_ns) {
		s->cpu_in_s += (cpu_close_ns - s->cpu_gate_open_ns) * 1e-9;
		s->progress_in_s += (cpu_close_ns - s->cpu_gate_open_ns) * 1e-9 - cost;
	}
}

static int close_window(struct sampler *s)
{
	struct window_counters after;
	uint64_t before_gate, after_gate, detached;
	struct window_record *w = &s->cur;
	int err;

	uint64_t cpu_close = target_cpu_now(s), program_close = program_now(s);
	uint64_t user_close = target_user_now(s);

	before_gate = monotonic_now();
	err = s->ops.gate(s->ops.ctx, false);
	after_gate = monotonic_now();
	s->gate_close_ns = before_gate + (after_gate - before_gate) / 2;
	/* the probes are all gone once detach returns: nothing races the censoring */
	s->ops.detach(s->ops.ctx);
	detached = monotonic_now();
	s->open = false;
	w->close_ns = s->gate_close_ns - s->t0_ns;
	w->detach_ms = (detached - after_gate) / 1e6;
	s->observed_ns += s->gate_close_ns - s->gate_open_ns;
	if (!err)
		err = s->ops.censor(s->ops.ctx, &w->censored);
	if (!err)
		err = s->ops.counters(s->ops.ctx, &after);
	if (err) {
		s->failed = true;
		pr_warn("sampling stopped: closing a window failed (%s)", strerror(-err));
		return err;
	}
	counters_delta(&w->delta, &after, &s->before);
	w->cost_s = window_cost_s(s, &w->delta);
	add_progress(s, cpu_close, program_close, w);
	s->user_in_ns += user_close - s->user_gate_open_ns;
	keep_record(s, w);
	plan_next(s, detached, w);
	return 0;
}

/*
 * A window whose probes already cost more than it may (the workload sped up
 * since the last window measured it) closes early: one window cannot spend the
 * budget of many periods. It may spend twice its plan, at least the budget's
 * share of SAMPLING_TARGET_PERIOD_S.
 */
static bool window_over_allowance(struct sampler *s, uint64_t now_ns)
{
	struct window_counters now, d;
	double allowance = fmax(2 * s->plan.overhead * s->plan.period_s,
				s->cfg.budget * SAMPLING_TARGET_PERIOD_S);

	s->checked_ns = now_ns;
	if (s->ops.counters(s->ops.ctx, &now))
		return false;
	counters_delta(&d, &now, &s->before);
	return window_cost_s(s, &d) > allowance;
}

int sampler_tick(struct sampler *s, uint64_t now_ns)
{
	if (s->failed || s->ended)
		return 0;
	target_cpu_now(s);
	target_user_now(s);
	if (!s->open && now_ns >= s->next_open_ns)
		return open_window(s);
	if (s->open && now_ns >= s->close_at_ns)
		return close_window(s);
	if (s->open && now_ns >= s->checked_ns + SAMPLING_CHECK_NS &&
	    window_over_allowance(s, now_ns)) {
		s->cur.cut_short = true;
		return close_window(s);
	}
	return 0;
}

void sampler_end(struct sampler *s, uint64_t stop_ns)
{
	struct window_counters after;
	struct window_record *w = &s->cur;

	if (s->ended)
		return;
	s->ended = true;
	s->stop_ns = stop_ns;
	s->cpu_stop_ns = target_cpu_now(s);
	s->user_stop_ns = target_user_now(s);
	s->program_stop_ns = program_now(s);
	if (!s->open)
		return;
	/* counted up to the stop; what it still follows is alive at the end, not censored */
	if (stop_ns > s->gate_open_ns)
		s->observed_ns += stop_ns - s->gate_open_ns;
	w->close_ns = stop_ns - s->t0_ns;
	w->open_at_end = true;
	s->ended_open = true;
	if (!s->ops.counters(s->ops.ctx, &after))
		counters_delta(&w->delta, &after, &s->before);
	w->cost_s = window_cost_s(s, &w->delta);
	add_progress(s, s->cpu_stop_ns, s->program_stop_ns, w);
	s->user_in_ns += s->user_stop_ns - s->user_gate_open_ns;
	keep_record(s, w);
}

double sampler_time_ratio(const struct sampler *s)
{
	uint64_t recording = s->stop_ns > s->t0_ns ? s->stop_ns - s->t0_ns : 0;

	if (!recording || !s->observed_ns)
		return 0;
	return fmin(1.0, (double)s->observed_ns / (double)recording);
}

/* The target's work over the recording: its CPU time less every window's probe cost. */
static double progress_total_s(const struct sampler *s)
{
	if (!s->cpu_known || s->cpu_stop_ns < s->cpu_t0_ns)
		return 0;
	if (s->program_known)
		return (s->cpu_stop_ns - s->cpu_t0_ns) * 1e-9 -
		       (s->program_stop_ns - s->program_t0_ns) * 1e-9 - s->trap_s;
	return (s->cpu_stop_ns - s->cpu_t0_ns) * 1e-9 - s->cost_s;
}

/*
 * Where the probes took most of the target's CPU inside the windows, its work
 * there is a small difference of large numbers that the cost's uncertainty
 * swamps (json_roundtrip came out 4x high, alloc_churn 50% low): below this
 * share of work the time basis, known to be low, is used with a warning.
 */
#define SAMPLING_MIN_WORK_SHARE 0.25

static bool progress_usable(const struct sampler *s)
{
	return s->ended && s->progress_in_s > SAMPLING_MIN_WORK_SHARE * s->cpu_in_s &&
	       progress_total_s(s) >= s->progress_in_s;
}

/*
 * The user time is charged a tick at a time (4 ms at 250 Hz): inside the gates
 * it is a count of ticks, the basis's relative error about one over its square
 * root. Below this many ticks (25%) it is not used.
 */
#define SAMPLING_MIN_USER_TICKS 16

static double user_ticks_inside(const struct sampler *s)
{
	return s->user_tick_ns ? (double)s->user_in_ns / (double)s->user_tick_ns : 0;
}

static bool user_time_usable(const struct sampler *s)
{
	return s->ended && s->user_known && s->user_stop_ns > s->user_t0_ns &&
	       user_ticks_inside(s) >= SAMPLING_MIN_USER_TICKS;
}

static double user_time_ratio(const struct sampler *s)
{
	return fmin(1.0, (double)s->user_in_ns / (double)(s->user_stop_ns - s->user_t0_ns));
}

enum ratio_basis { BASIS_USER_TIME, BASIS_WORK, BASIS_PACED, BASIS_WALL_TIME };

/*
 * A target that used less than this share of a core inside the windows had
 * time to spare there: it is paced by something else (requests, timers), so it
 * does as much work per second inside a window as outside, and wall time is
 * the right basis. Its user time is also the wrong one: a program that wakes on
 * timers wakes on the sampling clock's interrupts too, just after their
 * sample, and is under-sampled (+69% on tests/workloads/steady_alloc.py).
 */
#define SAMPLING_PACED_CPU_SHARE 0.5

static bool paced(const struct sampler *s)
{
	return s->cpu_known && s->observed_ns &&
	       s->cpu_in_s < SAMPLING_PACED_CPU_SHARE * (double)s->observed_ns * 1e-9;
}

/*
 * A busy target's user time is preferred: it excludes the probes' cost by
 * construction, where the work basis subtracts an estimate of it. The work
 * basis serves where too few samples fell inside the windows, the wall time
 * where neither is known.
 */
static enum ratio_basis ratio_basis(const struct sampler *s)
{
	if (paced(s))
		return BASIS_PACED;
	if (user_time_usable(s))
		return BASIS_USER_TIME;
	if (progress_usable(s))
		return BASIS_WORK;
	return BASIS_WALL_TIME;
}

/*
 * Where the probes took more than this share of the target's CPU inside the
 * windows, its own code ran measurably slower there as well: each trap leaves
 * it cold caches (full mode made alloc_churn's own user time 4x, 0.97 s to
 * 3.9 s), so its user time overstates its work there and the counts come out
 * low (alloc_churn -78% with the probes at 80% of its CPU inside the windows;
 * busy_alloc.py within 10% at 23%).
 */
#define SAMPLING_SLOWED_SHARE 0.5

/* The share of the target's CPU inside the gates that was not its own user time. */
static double probe_share_inside(const struct sampler *s)
{
	return s->cpu_in_s > 0 ? fmax(0, 1 - (double)s->user_in_ns * 1e-9 / s->cpu_in_s) : 0;
}

const char *sampler_estimate_warning(const struct sampler *s)
{
	if (!s->ended || !s->windows)
		return NULL;
	if (ratio_basis(s) == BASIS_USER_TIME) {
		if (probe_share_inside(s) <= SAMPLING_SLOWED_SHARE)
			return NULL;
		return "the probes took most of the target's CPU inside the windows (an "
		       "allocation-dense program), which slows its own code there as well (cold "
		       "caches after each trap): its user time overstates the work done inside the "
		       "windows and counts are low (78% low on bench/workloads/alloc_churn.py, "
		       "where the probes took 80%); the shares between sites hold, use --mode full "
		       "for exact counts";
	}
	if (ratio_basis(s) != BASIS_WALL_TIME)
		return NULL;
	if (!s->cpu_known)
		return "the target's CPU time could not be read: counts are scaled by wall time, "
		       "and are low by as much as the probes slowed the target inside the windows";
	return "the probes took most of the target's CPU inside the windows (an "
	       "allocation-dense program) and too little of its user time fell inside them to "
	       "be measured: its work there cannot be told from their cost, counts are scaled "
	       "by wall time and are low by as much as the probes slowed it; the shares "
	       "between sites hold, record longer or use --mode full for absolute counts";
}

double sampler_ratio(const struct sampler *s)
{
	switch (ratio_basis(s)) {
	case BASIS_USER_TIME:
		return user_time_ratio(s);
	case BASIS_WORK:
		return s->progress_in_s / progress_total_s(s);
	default: /* paced, or no better measure */
		return sampler_time_ratio(s);
	}
}

/* The basis by name, as the keys of "ratios" (paced targets use wall_time). */
static const char *ratio_basis_name(const struct sampler *s)
{
	switch (ratio_basis(s)) {
	case BASIS_USER_TIME:
		return "user_time";
	case BASIS_WORK:
		return "work";
	case BASIS_PACED:
		return "paced";
	default:
		return "wall_time";
	}
}

static const char *ratio_basis_text(const struct sampler *s)
{
	switch (ratio_basis(s)) {
	case BASIS_USER_TIME:
		return "target user-mode CPU time inside the windows over the whole recording's "
		       "(tick-charged: the probes run in kernel mode and are not in it)";
	case BASIS_WORK:
		return s->program_known
			       ? "target CPU time inside the windows, less the BPF "
				 "programs' run time (measured by the kernel) and the "
				 "traps (calibrated), over the same for the whole recording"
			       : "target CPU time inside the windows, less the probes' "
				 "estimated cost, over the same for the whole recording";
	case BASIS_PACED:
		return "wall time inside the windows over the recording's (the target used less "
		       "than half a core there: paced by its input, not by its CPU)";
	default:
		return "wall time inside the windows over the recording's";
	}
}

/* Every basis that could be computed, for comparing them (bench/accuracy.py does). */
static json_t *ratios_json(const struct sampler *s)
{
	json_t *j = json_object();

	if (!j)
		return NULL;
	if (s->ended && s->user_known && s->user_stop_ns > s->user_t0_ns)
		json_object_set_new(j, "user_time", json_real(user_time_ratio(s)));
	if (s->ended && s->cpu_known && progress_total_s(s) > 0)
		json_object_set_new(j, "work", json_real(s->progress_in_s / progress_total_s(s)));
	json_object_set_new(j, "wall_time", json_real(sampler_time_ratio(s)));
	return j;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

enum record_field { FIELD_WINDOW_MS, FIELD_PERIOD_MS, FIELD_ATTACH_MS, FIELD_DETACH_MS };

static double field_of(const struct sampler *s, size_t i, enum record_field f)
{
	const struct window_record *w = &s->log[i];

	switch (f) {
	case FIELD_WINDOW_MS:
		return (w->close_ns - w->open_ns) / 1e6;
	case FIELD_PERIOD_MS:
		return w->period_ns / 1e6;
	case FIELD_ATTACH_MS:
		return w->attach_ms;
	case FIELD_DETACH_MS:
		return w->detach_ms;
	}
	return 0;
}

/* Median of a field over the logged windows, null when none has it. */
static json_t *median_json(const struct sampler *s, enum record_field f)
{
	size_t n = 0, count = s->n_log;
	double *v, m;

	if (!count || !(v = calloc(count, sizeof(*v))))
		return json_null();
	for (size_t i = 0; i < count; i++) {
		/* the first window has no period: a period runs from the previous window */
		if (f == FIELD_PERIOD_MS && !s->log[i].ordinal)
			continue;
		/* a window open at the end was neither closed nor detached by the sampler */
		if (s->log[i].open_at_end && f != FIELD_ATTACH_MS && f != FIELD_PERIOD_MS)
			continue;
		v[n++] = field_of(s, i, f);
	}
	array_sort(v, n, sizeof(*v), cmp_double);
	m = n % 2 ? v[n / 2] : n ? (v[n / 2 - 1] + v[n / 2]) / 2 : 0;
	free(v);
	return n ? json_real(m) : json_null();
}

static json_t *window_log_json(const struct sampler *s)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < s->n_log; i++) {
		const struct window_record *w = &s->log[i];
		const struct window_counters *d = &w->delta;

		json_array_append_new(
			arr,
			json_pack("{s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
				  "s:f, s:b, s:b}",
				  "t_ns", (json_int_t)w->open_ns, "length_ns",
				  (json_int_t)(w->close_ns - w->open_ns), "attach_ms", w->attach_ms,
				  "detach_ms", w->detach_ms, "hits", (json_int_t)hits_of(d),
				  "observed_allocations", (json_int_t)d->allocations, "censored",
				  (json_int_t)w->censored, "lost_events",
				  (json_int_t)d->lost_events, "count_map_full",
				  (json_int_t)d->counts_full, "stack_map_full",
				  (json_int_t)d->stacks_full, "live_map_full",
				  (json_int_t)d->live_full, "estimated_cost_us", w->cost_s * 1e6,
				  "cut_short", w->cut_short, "open_at_end", w->open_at_end));
	}
	return arr;
}

static const char *alive_at_end_meaning(const struct sampler *s)
{
	if (s->ended_open)
		return "objects born in the last window, still open when the recording "
		       "stopped, and alive then (observed, not scaled)";
	return "none: the recording stopped between windows";
}

json_t *sampler_to_json(const struct sampler *s)
{
	const struct window_counters *t = &s->total;
	const struct hit_costs *c = &s->cfg.costs;
	double recording_s = s->stop_ns > s->t0_ns ? (s->stop_ns - s->t0_ns) / 1e9 : 0;
	json_t *j;

	j = json_pack(
		"{s:b, s:f, s:I, s:I, s:I, s:o, s:o, s:f, s:f, s:s, s:s?, s:o, s:o}", "estimated",
		true, "ratio", sampler_ratio(s), "observed_ns", (json_int_t)s->observed_ns,
		"recording_ns", (json_int_t)(s->stop_ns > s->t0_ns ? s->stop_ns - s->t0_ns : 0),
		"windows", (json_int_t)s->windows, "window_ms", median_json(s, FIELD_WINDOW_MS),
		"period_ms", median_json(s, FIELD_PERIOD_MS), "overhead_budget_percent",
		s->cfg.budget * 100, "estimated_overhead_percent",
		recording_s > 0 ? s->cost_s / recording_s * 100 : 0.0, "link", s->cfg.link,
		"link_note", s->cfg.link_note, "attach_ms_median", median_json(s, FIELD_ATTACH_MS),
		"detach_ms_median", median_json(s, FIELD_DETACH_MS));
	if (!j)
		return NULL;
	json_object_set_new(j, "basis", json_string(ratio_basis_name(s)));
	json_object_set_new(j, "ratio_basis", json_string(ratio_basis_text(s)));
	json_object_set_new(j, "time_ratio", json_real(sampler_time_ratio(s)));
	json_object_set_new(j, "ratios", ratios_json(s));
	if (s->user_known) {
		json_object_set_new(j, "target_user_ns",
				    json_integer((json_int_t)(s->user_stop_ns - s->user_t0_ns)));
		json_object_set_new(j, "target_user_inside_windows_ns",
				    json_integer((json_int_t)s->user_in_ns));
		json_object_set_new(j, "user_ticks_inside_windows",
				    json_real(user_ticks_inside(s)));
	}
	if (ratio_basis(s) == BASIS_USER_TIME)
		json_object_set_new(j, "ratio_relative_error",
				    json_real(1 / sqrt(user_ticks_inside(s))));
	if (sampler_estimate_warning(s))
		json_object_set_new(j, "estimate_warning",
				    json_string(sampler_estimate_warning(s)));
	if (s->cpu_known)
		json_object_set_new(j, "target_cpu_inside_windows_ns",
				    json_integer((json_int_t)(s->cpu_in_s * 1e9)));
	if (s->cpu_known)
		json_object_set_new(j, "target_cpu_ns",
				    json_integer((json_int_t)(s->cpu_stop_ns - s->cpu_t0_ns)));
	json_object_set_new(j, "cost_per_hit_ns",
			    json_pack("{s:f, s:f, s:f, s:f, s:f, s:s}", "allocation", c->alloc,
				      "deallocation", c->dealloc, "return", c->ret, "first_hit",
				      c->first_hit, "single_step_extra", c->single_step_extra,
				      "source", c->source));
	json_object_set_new(j, "hits",
			    json_pack("{s:I, s:I, s:I, s:I}", "allocation",
				      (json_int_t)t->hits_alloc, "deallocation",
				      (json_int_t)t->hits_dealloc, "return",
				      (json_int_t)t->hits_return, "single_stepped",
				      (json_int_t)t->hits_single_step));
	json_object_set_new(j, "observed_allocations", json_integer((json_int_t)t->allocations));
	json_object_set_new(j, "censored", json_integer((json_int_t)s->censored));
	json_object_set_new(j, "alive_at_end", json_string(alive_at_end_meaning(s)));
	json_object_set_new(j, "lost_events", json_integer((json_int_t)t->lost_events));
	json_object_set_new(j, "map_full",
			    json_pack("{s:I, s:I, s:I}", "count_map", (json_int_t)t->counts_full,
				      "stack_map", (json_int_t)t->stacks_full, "live_map",
				      (json_int_t)t->live_full));
	if (s->failed)
		json_object_set_new(j, "stopped_early",
				    json_string("a window's probes could not be attached or "
						"detached; later time had no windows"));
	json_object_set_new(j, "window_log", window_log_json(s));
	json_object_set_new(j, "window_log_dropped",
			    json_integer((json_int_t)(s->log_thin.thinned + s->log_thin.failed)));
	return j;
}
