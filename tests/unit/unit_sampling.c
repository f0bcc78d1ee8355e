// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Sampled mode's duty cycle (user/sampling.c): the plan's arithmetic checked
 * from first principles (the cost of a period recomputed here, over the period,
 * never above the budget; the bounds; zero and extreme rates), and the window
 * scheduler driven against a fake BPF side that checks the order of operations
 * (attach, gate open, gate closed, detach, censor) and accounts the cost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include "sampling.h"

#define EPS 1e-9

/* What one period costs the target, from the plan's own figures: hits while attached + fixed. */
static double period_cost(const struct duty_input *in, const struct duty_plan *p)
{
	double load = in->hit_rate * in->cost_per_hit_ns * 1e-9;

	return (p->window_s + in->edge_s) * load + in->fixed_cost_s;
}

static void check_plan(const struct duty_input *in, const struct duty_plan *p)
{
	assert_true(p->window_s >= SAMPLING_MIN_WINDOW_S - EPS);
	assert_true(p->window_s <= SAMPLING_MAX_WINDOW_S + EPS);
	assert_true(p->period_s >= p->window_s + in->min_gap_s - EPS);
	/* the budget: what the period costs, over its length */
	assert_true(period_cost(in, p) / p->period_s <= in->budget * (1 + 1e-9));
	assert_true(fabs(p->overhead - period_cost(in, p) / p->period_s) < 1e-9);
	assert_true(p->duty > 0 && p->duty <= 1);
}

static void test_budget_holds_over_a_grid(void **state)
{
	const double rates[] = { 0, 1, 100, 1e4, 1e5, 1e6, 1e7 };
	const double costs[] = { 500, 700, 10000 };
	const double budgets[] = { 1e-4, 0.01, 0.05, 0.5, 1.0 };
	const double edges[] = { 0, 0.004, 0.2 };
	const double fixed[] = { 0, 3.5e-4, 0.01 };
	unsigned checked = 0;

	(void)state;
	for (size_t r = 0; r < sizeof(rates) / sizeof(*rates); r++)
		for (size_t c = 0; c < sizeof(costs) / sizeof(*costs); c++)
			for (size_t b = 0; b < sizeof(budgets) / sizeof(*budgets); b++)
				for (size_t e = 0; e < sizeof(edges) / sizeof(*edges); e++)
					for (size_t f = 0; f < sizeof(fixed) / sizeof(*fixed);
					     f++) {
						struct duty_input in = {
							.hit_rate = rates[r],
							.cost_per_hit_ns = costs[c],
							.budget = budgets[b],
							.edge_s = edges[e],
							.fixed_cost_s = fixed[f],
							.min_gap_s = edges[e],
						};
						struct duty_plan p;

						sampling_plan(&in, &p);
						check_plan(&in, &p);
						checked++;
					}
	assert_int_equal(checked, 7 * 3 * 5 * 3 * 3);
}

static void test_zero_rate_takes_the_longest_window(void **state)
{
	struct duty_input in = {
		.hit_rate = 0, .cost_per_hit_ns = 10000, .budget = 0.01, .min_gap_s = 0.05
	};
	struct duty_plan p;

	(void)state;
	sampling_plan(&in, &p);
	assert_true(p.load == 0);
	assert_true(p.duty == 1);
	assert_true(fabs(p.window_s - SAMPLING_MAX_WINDOW_S) < EPS);
	/* nothing to pay for: the next window follows as soon as the detach allows */
	assert_true(fabs(p.period_s - (SAMPLING_MAX_WINDOW_S + 0.05)) < EPS);
	assert_true(p.overhead == 0);
}

static void test_fixed_costs_alone_space_the_windows(void **state)
{
	/* 7 probes x 50 us of first hits, 1% budget: at least 35 ms per period */
	struct duty_input in = { .hit_rate = 0, .budget = 0.01, .fixed_cost_s = 7 * 50e-6 };
	struct duty_plan p;

	(void)state;
	sampling_plan(&in, &p);
	assert_true(p.period_s >= 7 * 50e-6 / 0.01 - EPS);
	assert_true(p.overhead <= 0.01 + EPS);
}

static void test_the_duty_cycle_is_budget_over_load(void **state)
{
	/* 10,000 hits/s at 10 us: 0.1 of a core while attached; 1% budget: 10% of the time */
	struct duty_input in = { .hit_rate = 1e4, .cost_per_hit_ns = 1e4, .budget = 0.01 };
	struct duty_plan p;

	(void)state;
	sampling_plan(&in, &p);
	assert_true(fabs(p.load - 0.1) < EPS);
	assert_true(fabs(p.duty - 0.1) < EPS);
	assert_true(fabs(p.window_s - 0.1 * SAMPLING_TARGET_PERIOD_S) < EPS);
	assert_true(fabs(p.window_s / p.period_s - 0.1) < 1e-9);
	assert_true(fabs(p.overhead - 0.01) < 1e-9);
}

static void test_heavy_load_gets_the_shortest_window_rarely(void **state)
{
	/* a million hits/s at 10 us (10 cores' worth): 20 ms windows, 20 s apart */
	struct duty_input in = { .hit_rate = 1e6, .cost_per_hit_ns = 1e4, .budget = 0.01 };
	struct duty_plan p;

	(void)state;
	sampling_plan(&in, &p);
	assert_true(fabs(p.window_s - SAMPLING_MIN_WINDOW_S) < EPS);
	assert_true(fabs(p.period_s - SAMPLING_MIN_WINDOW_S * 10 / 0.01) < 1e-6);
	assert_true(p.overhead <= 0.01 + EPS);
}

static void test_budget_above_the_load_samples_continuously(void **state)
{
	struct duty_input in = {
		.hit_rate = 1e3, .cost_per_hit_ns = 1e3, .budget = 0.5, .min_gap_s = 0.03
	};
	struct duty_plan p;

	(void)state;
	sampling_plan(&in, &p);
	assert_true(p.duty == 1);
	assert_true(fabs(p.window_s - SAMPLING_MAX_WINDOW_S) < EPS);
	assert_true(fabs(p.period_s - (SAMPLING_MAX_WINDOW_S + 0.03)) < EPS);
}

static void test_more_hits_never_mean_more_time_attached(void **state)
{
	double last = 2;

	(void)state;
	for (double rate = 10; rate <= 1e8; rate *= 3) {
		struct duty_input in = { .hit_rate = rate,
					 .cost_per_hit_ns = 700,
					 .budget = 0.01,
					 .edge_s = 0.01,
					 .min_gap_s = 0.01 };
		struct duty_plan p;
		double attached;

		sampling_plan(&in, &p);
		attached = p.window_s / p.period_s;
		assert_true(attached <= last + 1e-12);
		last = attached;
	}
}

static void test_the_live_map_bounds_the_window(void **state)
{
	struct duty_input in = {
		.hit_rate = 100, .cost_per_hit_ns = 700, .budget = 0.01, .max_window_s = 0.03
	};
	struct duty_plan p;

	(void)state;
	sampling_plan(&in, &p);
	assert_true(fabs(p.window_s - 0.03) < EPS);
	/* never below the shortest window: losses to a full map are counted instead */
	in.max_window_s = 0.001;
	sampling_plan(&in, &p);
	assert_true(fabs(p.window_s - SAMPLING_MIN_WINDOW_S) < EPS);
}

/* ---- the scheduler against a fake BPF side ---- */

struct fake_bpf {
	double rate; /* hits per second while attached */
	bool attached, gate;
	uint64_t attached_at;
	struct window_counters c;
	unsigned attaches, detaches, censors, gate_opens;
	unsigned order_errors;
	uint64_t censored_per_window;
	unsigned single_step_every; /* one hit in this many is on a single-stepped site; 0: none */
	/*
	 * The target, busy all along: its user time is all of the time outside the
	 * gate, the share `gate_user_share` inside it (the probes take the rest, in
	 * kernel mode); it is read in whole ticks of `tick_ns`, as the kernel
	 * charges it.
	 */
	double gate_user_share;
	uint64_t user_exact_ns, user_in_gate_ns, cpu_ns, user_at;
	uint64_t tick_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void accrue_user(struct fake_bpf *f)
{
	uint64_t t = now_ns(), dt = f->user_at ? t - f->user_at : 0;

	f->user_at = t;
	f->cpu_ns += dt;
	if (f->gate) {
		f->user_exact_ns += (uint64_t)(dt * f->gate_user_share);
		f->user_in_gate_ns += (uint64_t)(dt * f->gate_user_share);
	} else {
		f->user_exact_ns += dt;
	}
}

/* hits accrue while attached, allocations while the gate is open */
static void accrue(struct fake_bpf *f)
{
	uint64_t t = now_ns();
	uint64_t n;

	accrue_user(f);
	if (!f->attached)
		return;
	n = (uint64_t)((t - f->attached_at) / 1e9 * f->rate);
	f->attached_at += (uint64_t)(n / f->rate * 1e9);
	f->c.hits_alloc += n;
	if (f->single_step_every)
		f->c.hits_single_step = f->c.hits_alloc / f->single_step_every;
	if (f->gate)
		f->c.allocations += n;
}

static int fake_attach(void *ctx)
{
	struct fake_bpf *f = ctx;

	f->order_errors += f->attached || f->gate;
	f->attached = true;
	f->attached_at = now_ns();
	f->attaches++;
	return 0;
}

static int fake_gate(void *ctx, bool open)
{
	struct fake_bpf *f = ctx;

	accrue(f);
	/* the gate opens only on attached probes, and closes before they go */
	f->order_errors += !f->attached || f->gate == open;
	f->gate = open;
	f->gate_opens += open;
	return 0;
}

static void fake_detach(void *ctx)
{
	struct fake_bpf *f = ctx;

	accrue(f);
	f->order_errors += f->gate;
	f->attached = false;
	f->detaches++;
}

static int fake_censor(void *ctx, uint64_t *censored)
{
	struct fake_bpf *f = ctx;

	/* nothing may run while the live map is swept */
	f->order_errors += f->attached || f->gate;
	f->censors++;
	*censored = f->censored_per_window;
	return 0;
}

static int fake_counters(void *ctx, struct window_counters *out)
{
	struct fake_bpf *f = ctx;

	accrue(f);
	*out = f->c;
	return 0;
}

static int fake_user_ns(void *ctx, uint64_t *out)
{
	struct fake_bpf *f = ctx;

	accrue_user(f);
	*out = f->user_exact_ns / f->tick_ns * f->tick_ns;
	return 0;
}

static int fake_busy_cpu_ns(void *ctx, uint64_t *out)
{
	struct fake_bpf *f = ctx;

	accrue_user(f);
	*out = f->cpu_ns;
	return 0;
}

/* The fake's operations: the scheduler's own; tests add the clocks they need. */
static struct sampler_ops fake_ops(struct fake_bpf *f)
{
	return (struct sampler_ops){ .ctx = f,
				     .attach = fake_attach,
				     .gate = fake_gate,
				     .detach = fake_detach,
				     .censor = fake_censor,
				     .counters = fake_counters };
}

/* A budget, every hit at 10 us, user time charged in ticks of tick_ns (0: the kernel's). */
static struct sampler_config fake_config(double budget, uint64_t tick_ns)
{
	return (struct sampler_config){ .budget = budget,
					.link = "fake",
					.costs = { .alloc = 1e4, .dealloc = 1e4, .ret = 1e4 },
					.tick_ns = tick_ns };
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Run the scheduler as the recording loop does, for `seconds`. */
static void run_sampler(struct sampler *s, double seconds)
{
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);

	while (now_ns() < end) {
		int ms = sampler_timeout_ms(s, now_ns(), 100);

		sleep_ms(ms);
		assert_int_equal(sampler_tick(s, now_ns()), 0);
	}
}

static void test_scheduler_orders_and_accounts(void **state)
{
	struct fake_bpf f = { .rate = 20000, .censored_per_window = 3 };
	struct sampler_ops ops = fake_ops(&f);
	/* 20,000 hits/s at 10 us: 0.2 of a core; a 10% budget allows half the time */
	struct sampler_config cfg = fake_config(0.10, 0);
	struct sampler s;
	uint64_t t0 = now_ns(), stop;
	double recording_s, ratio;
	json_t *j;

	(void)state;
	sampler_init(&s, &cfg, &ops, t0);
	run_sampler(&s, 1.0);
	stop = now_ns();
	sampler_end(&s, stop);
	recording_s = (stop - t0) / 1e9;
	assert_int_equal(f.order_errors, 0);
	assert_true(s.windows >= 2);
	/* every closed window was censored; one may still be open at the end */
	assert_int_equal(f.censors, f.detaches);
	assert_true(f.attaches - f.detaches <= 1);
	assert_int_equal(s.censored, 3ull * f.censors);
	/* the ratio is the gate-open time over the recording */
	ratio = sampler_ratio(&s);
	assert_true(ratio > 0 && ratio < 1);
	assert_true(fabs(ratio - s.observed_ns / 1e9 / recording_s) < 1e-9);
	/* cost recomputed from the fake's hits: within the budget, one window of slack */
	assert_true(fabs(s.cost_s - f.c.hits_alloc * 1e4 * 1e-9) < 1e-9);
	assert_true(s.cost_s <= 0.10 * recording_s + 0.2 * SAMPLING_MAX_WINDOW_S);
	j = sampler_to_json(&s);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "estimated")));
	assert_int_equal(json_integer_value(json_object_get(j, "windows")), s.windows);
	assert_int_equal(json_array_size(json_object_get(j, "window_log")), s.n_log);
	json_decref(j);
	sampler_free(&s);
}

/* A sampled run against the busy fake target; returns the sampler's ratio, and the fake's own. */
static double user_time_run(struct fake_bpf *f, struct sampler *s, double *truth)
{
	struct sampler_ops ops = fake_ops(f);
	struct sampler_config cfg = fake_config(0.10, f->tick_ns);
	uint64_t user_t0;

	ops.target_cpu_ns = fake_busy_cpu_ns;
	ops.target_user_ns = fake_user_ns;
	accrue_user(f);
	sampler_init(s, &cfg, &ops, now_ns());
	user_t0 = f->user_exact_ns;
	run_sampler(s, 1.0);
	sampler_end(s, now_ns());
	*truth = (double)f->user_in_gate_ns / (double)(f->user_exact_ns - user_t0);
	return sampler_ratio(s);
}

/* Each reading is off by up to a tick: two per window, two for the whole. */
static double tick_error(const struct sampler *s, const struct fake_bpf *f)
{
	return (2.0 * (double)s->windows * (double)f->tick_ns) /
		       (double)(s->user_stop_ns - s->user_t0_ns) +
	       2.0 * (double)f->tick_ns / (double)(s->user_stop_ns - s->user_t0_ns);
}

/*
 * The ratio is the target's user time inside the gates over the whole
 * recording's: a window that slows the target (60% of its time left to it)
 * weighs 60% of its wall time, as the fake's own account says.
 */
static void test_the_ratio_is_the_user_time_inside_the_gates(void **state)
{
	struct fake_bpf f = { .rate = 20000, .gate_user_share = 0.6, .tick_ns = 1000000 };
	struct sampler s;
	double truth, ratio;
	json_t *j;

	(void)state;
	ratio = user_time_run(&f, &s, &truth);
	assert_true(s.windows >= 2);
	assert_true(s.user_tick_ns == f.tick_ns);
	assert_true(fabs(ratio - truth) <= truth * tick_error(&s, &f) + 1e-3);
	assert_true(ratio < 0.9 * sampler_time_ratio(&s));
	assert_null(sampler_estimate_warning(&s));
	j = sampler_to_json(&s);
	assert_non_null(j);
	assert_non_null(strstr(json_string_value(json_object_get(j, "ratio_basis")), "user-mode"));
	assert_true(json_real_value(json_object_get(j, "ratio_relative_error")) > 0);
	json_decref(j);
	sampler_free(&s);
}

/* Probes that take most of the target's CPU inside the gates slow its own code: a warning. */
static void test_probes_dominating_the_windows_are_warned_of(void **state)
{
	struct fake_bpf f = { .rate = 20000, .gate_user_share = 0.25, .tick_ns = 1000000 };
	struct sampler s;
	double truth, ratio;

	(void)state;
	ratio = user_time_run(&f, &s, &truth);
	assert_true(fabs(ratio - truth) <= truth * tick_error(&s, &f) + 1e-3);
	assert_non_null(sampler_estimate_warning(&s));
	assert_non_null(strstr(sampler_estimate_warning(&s), "low"));
	sampler_free(&s);
}

/* A target using a tenth of a core: its CPU clock advances at that pace. */
static int fake_idle_cpu_ns(void *ctx, uint64_t *out)
{
	(void)ctx;
	*out = now_ns() / 10;
	return 0;
}

/*
 * A target with time to spare inside the windows (paced by its input) does as
 * much per second there as outside: wall time scales its counts, not its user
 * time, however many ticks that has.
 */
static void test_a_paced_target_is_scaled_by_wall_time(void **state)
{
	struct fake_bpf f = { .rate = 20000, .gate_user_share = 0.6, .tick_ns = 1000000 };
	struct sampler_ops ops = fake_ops(&f);
	struct sampler_config cfg = fake_config(0.10, f.tick_ns);
	struct sampler s;
	json_t *j;

	(void)state;
	ops.target_cpu_ns = fake_idle_cpu_ns;
	ops.target_user_ns = fake_user_ns;
	sampler_init(&s, &cfg, &ops, now_ns());
	run_sampler(&s, 1.0);
	sampler_end(&s, now_ns());
	assert_true(s.user_in_ns >= 16 * f.tick_ns);
	assert_true(fabs(sampler_ratio(&s) - sampler_time_ratio(&s)) < 1e-12);
	assert_null(sampler_estimate_warning(&s));
	j = sampler_to_json(&s);
	assert_non_null(strstr(json_string_value(json_object_get(j, "ratio_basis")), "paced"));
	json_decref(j);
	sampler_free(&s);
}

/*
 * Too few ticks inside the gates (and no CPU clock to fall back on): the basis
 * is wall time, and the recording says so.
 */
static void test_too_few_user_ticks_fall_back_to_wall_time(void **state)
{
	/* 100 ms ticks: a second's windows hold fewer than 16 */
	struct fake_bpf f = { .rate = 20000, .gate_user_share = 0.25, .tick_ns = 100000000 };
	struct sampler_ops ops = fake_ops(&f);
	struct sampler_config cfg = fake_config(0.10, f.tick_ns);
	struct sampler s;

	(void)state;
	ops.target_user_ns = fake_user_ns;
	sampler_init(&s, &cfg, &ops, now_ns());
	run_sampler(&s, 1.0);
	sampler_end(&s, now_ns());
	assert_true(s.user_in_ns < 16 * f.tick_ns);
	assert_true(fabs(sampler_ratio(&s) - sampler_time_ratio(&s)) < 1e-12);
	assert_non_null(sampler_estimate_warning(&s));
	sampler_free(&s);
}

/*
 * A recording that stops while a window is open: that window's user time up to
 * the stop counts as inside (it is observed, not censored), as the fake's own
 * account of its gate says, to a tick at each end.
 */
static void test_a_window_open_at_the_end_counts_its_user_time(void **state)
{
	struct fake_bpf f = { .rate = 20000, .gate_user_share = 0.5, .tick_ns = 1000000 };
	struct sampler_ops ops = fake_ops(&f);
	struct sampler_config cfg = fake_config(0.10, f.tick_ns);
	struct sampler s;
	uint64_t t0;

	(void)state;
	ops.target_cpu_ns = fake_busy_cpu_ns;
	ops.target_user_ns = fake_user_ns;
	accrue_user(&f);
	t0 = now_ns();
	sampler_init(&s, &cfg, &ops, t0);
	/* the first window opens at the first tick */
	assert_int_equal(sampler_tick(&s, now_ns()), 0);
	assert_true(s.open);
	sleep_ms(15);
	sampler_end(&s, now_ns());
	assert_true(s.ended_open);
	assert_true(f.user_in_gate_ns > 0);
	assert_true(s.user_in_ns + 2 * f.tick_ns >= f.user_in_gate_ns &&
		    s.user_in_ns <= f.user_in_gate_ns + 2 * f.tick_ns);
	sampler_free(&s);
}

/* Hits on single-stepped instructions pay their extra; the others the base price. */
static void test_single_stepped_hits_pay_their_extra(void **state)
{
	struct fake_bpf f = { .rate = 20000, .single_step_every = 4 };
	struct sampler_ops ops = fake_ops(&f);
	struct sampler_config cfg = fake_config(0.10, 0);
	struct sampler s;
	uint64_t t0 = now_ns();

	(void)state;
	cfg.costs = (struct hit_costs){
		.alloc = 1e3, .dealloc = 1e3, .ret = 1e3, .single_step_extra = 3e4
	};
	sampler_init(&s, &cfg, &ops, t0);
	run_sampler(&s, 1.0);
	sampler_end(&s, now_ns());
	assert_true(f.c.hits_single_step > 0);
	assert_true(f.c.hits_single_step < f.c.hits_alloc);
	assert_true(fabs(s.cost_s - (f.c.hits_alloc * 1e3 + f.c.hits_single_step * 3e4) * 1e-9) <
		    1e-9);
	/* a quarter of the hits at 31 us: the budget still holds, one window of slack */
	assert_true(s.cost_s <= 0.10 * (now_ns() - t0) / 1e9 + 0.2 * SAMPLING_MAX_WINDOW_S);
	sampler_free(&s);
}

static void test_a_window_over_its_allowance_closes_early(void **state)
{
	struct fake_bpf f = { .rate = 100 };
	struct sampler_ops ops = fake_ops(&f);
	struct sampler_config cfg = fake_config(0.01, 0);
	struct sampler s;
	uint64_t t0 = now_ns();

	(void)state;
	sampler_init(&s, &cfg, &ops, t0);
	/* the first window measures a quiet target: the second one is planned long */
	while (s.windows < 1)
		run_sampler(&s, 0.05);
	assert_true(s.plan.window_s > 0.1);
	/* then the target allocates 1000 times faster: 1 core of probes */
	f.rate = 1e5;
	while (s.windows < 2)
		run_sampler(&s, 0.02);
	/* its allowance (0.5 s of budget: 5 ms of probes) is spent in ~5 ms, checked every 10 */
	assert_true(s.log[1].cut_short);
	assert_true((s.log[1].close_ns - s.log[1].open_ns) / 1e9 < 0.1);
	sampler_end(&s, now_ns());
	sampler_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_holds_over_a_grid),
		cmocka_unit_test(test_zero_rate_takes_the_longest_window),
		cmocka_unit_test(test_fixed_costs_alone_space_the_windows),
		cmocka_unit_test(test_the_duty_cycle_is_budget_over_load),
		cmocka_unit_test(test_heavy_load_gets_the_shortest_window_rarely),
		cmocka_unit_test(test_budget_above_the_load_samples_continuously),
		cmocka_unit_test(test_more_hits_never_mean_more_time_attached),
		cmocka_unit_test(test_the_live_map_bounds_the_window),
		cmocka_unit_test(test_scheduler_orders_and_accounts),
		cmocka_unit_test(test_a_window_over_its_allowance_closes_early),
		cmocka_unit_test(test_single_stepped_hits_pay_their_extra),
		cmocka_unit_test(test_a_window_open_at_the_end_counts_its_user_time),
		cmocka_unit_test(test_the_ratio_is_the_user_time_inside_the_gates),
		cmocka_unit_test(test_too_few_user_ticks_fall_back_to_wall_time),
		cmocka_unit_test(test_probes_dominating_the_windows_are_warned_of),
		cmocka_unit_test(test_a_paced_target_is_scaled_by_wall_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
