// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "bpf_session.h"
#include "calibration.h"
#include "commands.h"
#include "exit_codes.h"
#include "system_checks.h"
#include "log.h"
#include "output_file.h"
#include "proc.h"
#include "progress.h"
#include "recording.h"
#include "render.h"
#include "sampling.h"
#include "spawn.h"
#include "target_gc_state.h"
#include "uprobe_multi.h"

#define POLL_INTERVAL_MS	100
#define HEAP_SAMPLE_INTERVAL_NS 1000000000ull

static volatile sig_atomic_t stop_signal;

struct session {
	const struct cli *cli;
	struct probe_plan plan;
	struct bpf_session bpf;
	struct spawned child;
	bool launched;
	int pidfd;
	bool live; /* the gc command: a line per collection as it arrives */
	enum output_format formats[CLI_MAX_OUTPUTS]; /* per -o; [0] for stdout without -o */
	struct recording rec;
	struct calibration calib;
	const struct session_observer *observer; /* a live view: top, the progress line */
	enum record_mode mode; /* the cli's, or gc when the default cannot trace allocations */
	/* sampled mode */
	struct sampler sampler;
	enum window_link window_link;
	char window_link_note[256];
};

static void on_stop_signal(int sig)
{
	static const char note[] = "pyobjlife: stopping: detaching the probes and writing the "
				   "output (interrupt again to abandon the recording)\n";

	stop_signal = sig;
	/* detaching takes ~0.1 s per perf-event probe: say why nothing happens yet */
	if (sig == SIGINT && write(STDERR_FILENO, note, sizeof(note) - 1) < 0)
		stop_signal = sig;
}

/* SA_RESETHAND: a second Ctrl-C kills pyobjlife at once; the kernel still detaches. */
static int install_signal_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		return -errno;
	/* a launched command that died before its release must not kill us through its pipe */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -errno;
	return 0;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void utc_now(char *buf, size_t cap)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int on_ring_record(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;
	uint64_t before = gc_recording_received(&s->rec.gc);

	if (size >= sizeof(struct alloc_key_event) && *(__u32 *)data == EV_ALLOC_KEY) {
		alloc_recording_on_key(&s->rec.alloc, bpf_session_stacks_fd(&s->bpf), data);
		return 0;
	}
	if (size >= sizeof(struct census_event) && *(__u32 *)data == EV_CENSUS) {
		alloc_recording_on_census(&s->rec.alloc, bpf_session_alloc_maps(&s->bpf).census_fd,
					  data, s->rec.gc.t0_ns);
		return 0;
	}
	gc_recording_add(&s->rec.gc, data, size);
	/* every collection, whether the (bounded) timeline keeps it or not */
	if (s->live && gc_recording_received(&s->rec.gc) > before) {
		gc_collection_print(stdout, &s->rec.gc.last);
		fflush(stdout);
	}
	return 0;
}

static enum output_format format_of(const struct cli *c, const char *path)
{
	if (c->format != FORMAT_NONE)
		return c->format;
	return path ? output_format_from_path(path) : FORMAT_TEXT;
}

/* Each output's format, refused now rather than after the recording when it cannot work. */
static int resolve_formats(struct session *s)
{
	const struct cli *c = s->cli;
	for (unsigned i = 0; i < (c->n_outputs ? c->n_outputs : 1); i++) {
		const char *path = c->n_outputs ? c->outputs[i] : NULL;
		enum output_format f = format_of(c, path);

		if (f == FORMAT_NONE) {
			pr_err("cannot tell the format of %s from its extension: use .json, .txt, "
			       ".folded, .svg, .html, .speedscope.json or .pb.gz, or --format",
			       path);
			return EXIT_USAGE;
		}
		/* the collections' stacks (gc-pause) are walked in full mode too */
		if (output_format_draws_stacks(f) && !cli_records_allocations(c)) {
			pr_err("%s output draws Python stacks: add --mode sampled or full",
			       output_format_name(f));
			return EXIT_USAGE;
		}
		if (f == FORMAT_PPROF && !path && isatty(STDOUT_FILENO)) {
			pr_err("pprof output is binary: write it to a file with -o FILE.pb.gz");
			return EXIT_USAGE;
		}
		s->formats[i] = f;
	}
	return 0;
}

/* The default mode records collections only where allocations cannot be traced. */
static bool default_mode_falls_back(const struct session *s)
{
	if (s->cli->mode_given)
		return false;
	for (unsigned i = 0; i < (s->cli->n_outputs ? s->cli->n_outputs : 1); i++) {
		if (output_format_draws_stacks(s->formats[i]))
			return false;
	}
	return true;
}

static int discover(struct session *s)
{
	const struct cli *c = s->cli;
	struct discovery_opts o = { .debug_dir = c->debug_dir };
	struct py_target t;
	char why[512];
	int r;

	s->launched = c->command_argv != NULL;
	r = s->launched ? py_target_from_command(c->command_argv[0], &o, &t, why, sizeof(why))
			: py_target_from_pid(c->pid, &o, &t, why, sizeof(why));
	if (!r)
		r = py_target_check_supported(&t, why, sizeof(why));
	if (r) {
		pr_err("%s", why);
		return exit_code_for_discovery(r);
	}
	if (probe_plan_build(&s->plan, &t, c->gc_pref, s->launched)) {
		pr_err("CPython %s at %s: %s", t.version_str, t.path, s->plan.gc_note);
		return EXIT_UNSUPPORTED;
	}
	if (probe_plan_place(&s->plan, c->placement))
		pr_warn("cannot read the code of %s: probes stay at their entry points", t.path);
	pr_debug("gc probes: %s", s->plan.gc_note);
	if (s->mode != MODE_GC && s->plan.alloc_method == ALLOC_METHOD_NONE &&
	    default_mode_falls_back(s)) {
		pr_warn("CPython %s at %s: allocations cannot be traced (%s): recording "
			"collections only",
			t.version_str, t.path, s->plan.alloc_note);
		s->mode = MODE_GC;
	}
	if (s->mode != MODE_GC && s->plan.alloc_method == ALLOC_METHOD_NONE) {
		pr_err("CPython %s at %s: allocations cannot be traced: %s", t.version_str, t.path,
		       s->plan.alloc_note);
		return EXIT_UNSUPPORTED;
	}
	if (s->mode != MODE_GC)
		pr_debug("allocation probes: %s", s->plan.alloc_note);
	return 0;
}

/* What a hit of each probe class the plan uses costs on this kernel; a failure only warns. */
static void calibrate(struct session *s)
{
	unsigned classes =
		probe_plan_cost_classes(&s->plan, s->mode != MODE_GC) & CALIBRATION_ALL_CLASSES;
	struct calibration *k = &s->calib;
	char why[256];

	if (!classes)
		return;
	if (calibration_run(classes, k, why, sizeof(why))) {
		pr_warn("probe calibration failed (%s): estimates use the reference costs", why);
		return;
	}
	probe_plan_set_calibration(&s->plan, k);
	for (enum probe_cost_class c = PROBE_COST_EMULATED; c <= PROBE_COST_SINGLE_STEP; c++) {
		if (k->measured[c])
			pr_debug("calibration: %.0f ns per %s probe hit", k->ns_per_hit[c],
				 probe_cost_class_name(c));
	}
	pr_debug("calibration: %lu hits counted for %lu calls, %.0f ms", k->hits, k->calls,
		 k->wall_ms);
}

static int check_environment(const struct cli *c)
{
	char why[256];

	if (check_privileges(why, sizeof(why))) {
		pr_err("%s", why);
		return EXIT_PRIVILEGE;
	}
	if (check_kernel(c->btf_path, why, sizeof(why))) {
		pr_err("%s", why);
		return EXIT_KERNEL;
	}
	return 0;
}

/* Thresholds and counts as the target has them now (an attached, initialised target). */
static void read_start_state(struct session *s)
{
	struct gc_state_snapshot snap;
	struct gc_recording *g = &s->rec.gc;

	if (s->launched || target_read_gc_state(&s->plan, &snap))
		return;
	memcpy(g->thresholds, snap.thresholds, sizeof(g->thresholds));
	memcpy(g->counts_at_start, snap.counts, sizeof(g->counts_at_start));
	g->thresholds_known = true;
	g->thresholds_source = "target memory at attach";
}

/*
 * The self-check compares what was recorded with the interpreter's own counters
 * as the probes read them before the first and after the last collection, so
 * attach and detach timing cannot make it disagree; only a missed collection can.
 */
static void take_self_check(struct session *s)
{
	const struct gc_agg *a = &s->rec.gc.agg;

	if (!a->recorded)
		return;
	memcpy(s->rec.stats_start, a->first_before, sizeof(s->rec.stats_start));
	memcpy(s->rec.stats_end, a->last_after, sizeof(s->rec.stats_end));
	s->rec.have_stats_start = s->rec.have_stats_end = true;
}

static void announce(const struct session *s, int probes)
{
	const struct py_target *t = &s->plan.target;

	fprintf(stderr, "pyobjlife: attached to PID %d (CPython %s, %s): %d probe%s%s%s\n",
		(int)s->rec.pid, t->version_str, py_target_basename(t), probes,
		probes == 1 ? "" : "s", s->launched ? "; starting " : "",
		s->launched ? s->cli->command_argv[0] : "");
}

/* Sampled mode: uprobe_multi links where the kernel has them, else perf-event links. */
static int choose_window_link(struct session *s)
{
	enum sampling_link_pref pref = s->cli->sampling_link;
	char *note = s->window_link_note, why[200];
	size_t cap = sizeof(s->window_link_note);

	s->window_link = WINDOW_LINK_NONE;
	if (s->mode != MODE_SAMPLED)
		return 0;
	if (pref == SAMPLING_LINK_PERF_EVENT) {
		s->window_link = WINDOW_LINK_PERF_EVENT;
		snprintf(note, cap, "perf-event uprobe links, as --sampling-link asked");
	} else if (!uprobe_multi_probe(why, sizeof(why))) {
		s->window_link = WINDOW_LINK_UPROBE_MULTI;
		snprintf(note, cap, "uprobe_multi links: the kernel has them");
	} else if (pref == SAMPLING_LINK_UPROBE_MULTI) {
		pr_err("--sampling-link uprobe_multi: %s", why);
		return EXIT_KERNEL;
	} else {
		s->window_link = WINDOW_LINK_PERF_EVENT;
		snprintf(note, cap, "perf-event uprobe links (slow to detach): %s", why);
	}
	pr_debug("sampling windows attach with %s", note);
	return 0;
}

static void start_sampling(struct session *s)
{
	struct sampler_config sc = {
		.budget = s->cli->overhead_percent / 100,
		.link = s->window_link == WINDOW_LINK_UPROBE_MULTI ? "uprobe_multi" : "perf_event",
		.link_note = s->window_link_note,
		.probes = bpf_session_window_sites(&s->plan),
		.live_capacity = bpf_session_live_capacity(&s->bpf),
		.log_limit = s->cli->max_timeline,
	};
	struct sampler_ops ops = bpf_session_sampler_ops(&s->bpf, &s->rec.alloc);

	sampling_hit_costs(&s->plan, &sc.costs);
	sampler_init(&s->sampler, &sc, &ops, s->rec.gc.t0_ns);
	s->rec.alloc.sampled = true;
	s->rec.alloc.sampler = &s->sampler;
}

static int poll_timeout_ms(const struct session *s)
{
	if (s->mode != MODE_SAMPLED)
		return POLL_INTERVAL_MS;
	return sampler_timeout_ms(&s->sampler, monotonic_ns(), POLL_INTERVAL_MS);
}

static int attach(struct session *s)
{
	const struct cli *c = s->cli;
	struct bpf_session_opts bo = { .btf_path = c->btf_path,
				       .ringbuf_bytes = c->ringbuf_bytes,
				       .max_stacks = c->max_stacks,
				       .max_sites = c->max_sites,
				       .max_live = c->max_live,
				       .census_young_interval_ns =
					       (uint64_t)(c->census_young_interval_s * 1e9),
				       .census_full_interval_ns =
					       (uint64_t)(c->census_full_interval_s * 1e9),
				       .census_max_objects = c->census_max_objects };
	struct bpf_attach_opts ao = { .allocations = s->mode == MODE_FULL,
				      .windowed = s->mode == MODE_SAMPLED,
				      .stack_depth = c->stack_depth };
	int probes, rc = choose_window_link(s);

	if (rc)
		return rc;
	bo.window_link = s->window_link;
	if (bpf_session_open(&s->bpf, &bo))
		return EXIT_RUNTIME;
	if (bpf_session_ringbuf(&s->bpf, on_ring_record, s))
		return EXIT_RUNTIME;
	if (s->launched) {
		int err;

		/* fork with no thread of ours inside libbpf or stdio: the child may print */
		calibration_release();
		err = spawn_held(s->cli->command_argv, &s->child);
		if (err) {
			pr_err("cannot start %s: %s", s->cli->command_argv[0], strerror(-err));
			return EXIT_RUNTIME;
		}
		s->plan.target.pid = s->child.pid;
	}
	s->rec.pid = s->plan.target.pid;
	if (s->mode != MODE_GC) {
		alloc_recording_init(&s->rec.alloc, s->rec.pid, s->plan.frame_layout,
				     s->plan.target.version.minor, c->stack_depth);
		s->rec.alloc.method = alloc_method_name(s->plan.alloc_method);
		s->rec.alloc.coverage = s->plan.alloc_note;
		s->rec.alloc.lifecycle_coverage = s->plan.lifecycle_note;
	}
	heap_timeline_init(&s->rec.heap, s->plan.arena_alloc.n_sites && s->plan.arena_free.n_sites,
			   HEAP_SAMPLE_INTERVAL_NS);
	probes = bpf_session_attach(&s->bpf, s->rec.pid, &s->plan, &ao);
	if (probes < 0)
		return EXIT_RUNTIME;
	gc_recording_init(&s->rec.gc, monotonic_ns());
	recording_set_timeline_limit(&s->rec, c->max_timeline);
	if (s->mode == MODE_SAMPLED)
		start_sampling(s);
	utc_now(s->rec.started_at, sizeof(s->rec.started_at));
	read_start_state(s);
	announce(s, probes);
	if (s->launched && spawn_release(&s->child)) {
		pr_err("the launched command %s exited before it could start",
		       s->cli->command_argv[0]);
		return EXIT_RUNTIME;
	}
	return 0;
}

static bool target_gone(struct session *s)
{
	struct pollfd pfd = { .fd = s->pidfd, .events = POLLIN };

	if (s->launched)
		return spawn_poll_exit(&s->child);
	if (s->pidfd >= 0)
		return poll(&pfd, 1, 0) > 0;
	return proc_state(s->rec.pid) != PROC_ALIVE;
}

/* RSS and arenas now; a target that is gone keeps the samples it had. */
static void sample_heap(struct session *s, bool force)
{
	uint64_t t = monotonic_ns() - s->rec.gc.t0_ns;
	struct alloc_agg a = {};

	if (!force && !heap_timeline_due(&s->rec.heap, t))
		return;
	bpf_session_read_alloc_agg(&s->bpf, s->rec.pid, &a);
	heap_timeline_sample(&s->rec.heap, s->rec.pid, t, a.arenas_allocated, a.arenas_freed);
}

static struct session_view view_of(struct session *s)
{
	return (struct session_view){ .plan = &s->plan,
				      .bpf = &s->bpf,
				      .rec = &s->rec,
				      .elapsed_ns = monotonic_ns() - s->rec.gc.t0_ns };
}

static int observer_started(struct session *s)
{
	const struct session_observer *o = s->observer;
	struct session_view v;

	if (!o || !o->started)
		return 0;
	v = view_of(s);
	return o->started(o->ctx, &v);
}

/* The observer's reason to stop now, or NULL. */
static const char *observer_polled(struct session *s)
{
	const struct session_observer *o = s->observer;
	struct session_view v;

	if (!o || !o->polled)
		return NULL;
	v = view_of(s);
	return o->polled(o->ctx, &v);
}

static void observer_ended(struct session *s)
{
	const struct session_observer *o = s->observer;
	struct session_view v;

	if (!o || !o->ended)
		return;
	v = view_of(s);
	o->ended(o->ctx, &v);
}

/* Why the session stops after this poll, or NULL to go on. */
static const char *stop_reason(struct session *s, uint64_t start, uint64_t limit)
{
	if (stop_signal)
		return "interrupted";
	if (limit && monotonic_ns() - start >= limit)
		return "duration elapsed";
	if (target_gone(s))
		return "target exited";
	return observer_polled(s);
}

static int run_until_stopped(struct session *s)
{
	uint64_t start = monotonic_ns(), limit = (uint64_t)(s->cli->duration_s * 1e9);
	bool poll_failed = false;
	int err = 0, rc;

	s->pidfd = s->launched ? -1 : (int)syscall(SYS_pidfd_open, s->rec.pid, 0);
	rc = observer_started(s);
	while (!rc) {
		/* the BPF side wakes us only when the ring fills: drain it every interval */
		err = ring_buffer__poll(s->bpf.rb, poll_timeout_ms(s));

		/* open or close a sampling window when due */
		if (s->mode == MODE_SAMPLED)
			sampler_tick(&s->sampler, monotonic_ns());
		if (s->rec.alloc.enabled)
			alloc_recording_next_batch(&s->rec.alloc);
		sample_heap(s, false);
		if (err >= 0)
			err = ring_buffer__consume(s->bpf.rb);
		if (err < 0 && err != -EINTR) {
			s->rec.end_reason = "ring buffer poll failed";
			poll_failed = true;
			break;
		}
		s->rec.end_reason = stop_reason(s, start, limit);
		if (s->rec.end_reason)
			break;
	}
	/* a view that started is told, also on failure: it gives the terminal back first */
	if (s->rec.end_reason)
		observer_ended(s);
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (poll_failed) {
		pr_err("ring buffer poll failed: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	return rc;
}

static void finish(struct session *s)
{
	/* the recording ends here; detaching uprobes takes ~100 ms each and is not part of it */
	uint64_t stop_ns = monotonic_ns();

	bpf_session_stop(&s->bpf);
	if (s->mode == MODE_SAMPLED)
		sampler_end(&s->sampler, stop_ns);
	sample_heap(s, true);
	s->rec.duration_s = (monotonic_ns() - s->rec.gc.t0_ns) / 1e9;
	bpf_session_detach(&s->bpf);
	/* records submitted before the detach are still in the ring */
	ring_buffer__consume(s->bpf.rb);
	if (bpf_session_read_agg(&s->bpf, s->rec.pid, &s->rec.gc.agg))
		pr_warn("cannot read the per-generation aggregates: %s", strerror(errno));
	take_self_check(s);
	s->rec.program_stats = bpf_session_program_stats_json(&s->bpf);
	if (s->rec.alloc.enabled) {
		if (bpf_session_read_alloc_agg(&s->bpf, s->rec.pid, &s->rec.alloc.agg))
			pr_warn("cannot read the allocation health counters: %s", strerror(errno));
		struct alloc_maps maps = bpf_session_alloc_maps(&s->bpf);

		if (s->mode == MODE_SAMPLED) {
			s->rec.alloc.sampling_ratio = sampler_ratio(&s->sampler);
			if (sampler_estimate_warning(&s->sampler))
				pr_warn("sampled estimates: %s",
					sampler_estimate_warning(&s->sampler));
		}

		if (alloc_recording_collect(&s->rec.alloc, &maps, &s->rec.gc.agg.seq))
			pr_warn("out of memory while reading the allocation counts");
	}
	/* what the recording cost us, and the maps' bounds, for diagnostics */
	bpf_session_map_sizes(&s->bpf, &s->rec.maps);
	memory_usage_read(&s->rec.memory);
	if (s->launched && s->child.exited && WIFEXITED(s->child.status) &&
	    WEXITSTATUS(s->child.status) == 127 && !gc_recording_total_collections(&s->rec.gc))
		pr_warn("the launched command exited with status 127 (could it run?)");
}

static void warn_about_losses(const struct session *s)
{
	const struct gc_recording *g = &s->rec.gc;

	if (g->agg.ringbuf_drops)
		pr_warn("%lu collection records did not fit the ring buffer (raise "
			"--ringbuf-size); per-generation totals are exact",
			(unsigned long)g->agg.ringbuf_drops);
	if (g->agg.read_errors)
		pr_warn("%lu collections could not be read from the target's memory",
			(unsigned long)g->agg.read_errors);
	if (s->rec.alloc.enabled && s->rec.alloc.agg.counts_full)
		pr_warn("%lu allocations were not counted: the count map was full (raise "
			"--max-sites)",
			(unsigned long)s->rec.alloc.agg.counts_full);
	if (s->rec.alloc.enabled && s->rec.alloc.agg.stacks_full)
		pr_warn("%lu allocations were counted without their stack: the stack map was full "
			"(raise --max-stacks)",
			(unsigned long)s->rec.alloc.agg.stacks_full);
	if (s->rec.have_stats_end && !recording_agrees_with_target(&s->rec))
		pr_warn("the target's own gc counters moved by more than the probes recorded: "
			"collections were missed (see \"diagnostics\" in the JSON)");
}

static int write_stdout(const json_t *rec, enum output_format f, const struct render_opts *o)
{
	if (render_recording(stdout, rec, f, o))
		return EXIT_OUTPUT;
	if (fflush(stdout) || ferror(stdout)) {
		pr_err("failed to write the report to stdout");
		return EXIT_OUTPUT;
	}
	return 0;
}

static int write_file(const char *path, const json_t *rec, enum output_format f,
		      const struct render_opts *o)
{
	struct output_file *file;
	char why[512];

	if (render_check(rec, f, o))
		return EXIT_OUTPUT;
	file = output_file_open(path, why, sizeof(why));
	if (!file) {
		pr_err("%s", why);
		return EXIT_OUTPUT;
	}
	if (render_recording(file->stream, rec, f, o)) {
		/* keep whatever the path held rather than a truncated output */
		output_file_discard(file);
		pr_err("%s was not written", path);
		return EXIT_OUTPUT;
	}
	if (output_file_commit(file, why, sizeof(why))) {
		pr_err("%s", why);
		return EXIT_OUTPUT;
	}
	return 0;
}

/*
 * Every output is rendered from the recording JSON, as `pyobjlife report`
 * renders a saved one: the same bytes either way. One output failing does not
 * stop the others (the .json may be all that is left of an hour's recording).
 */
static int write_outputs(struct session *s)
{
	const struct cli *c = s->cli;
	struct render_opts o = { .weight = c->weight,
				 .weight_given = c->weight_given,
				 .top = c->top };
	json_t *rec = recording_to_json(&s->rec);
	char written[4096] = "";
	int rc = 0;

	if (!rec) {
		pr_err("out of memory while building the recording");
		return EXIT_RUNTIME;
	}
	if (!c->n_outputs)
		rc = write_stdout(rec, s->formats[0], &o);
	for (unsigned i = 0; i < c->n_outputs; i++) {
		int r = write_file(c->outputs[i], rec, s->formats[i], &o);
		size_t used = strlen(written);

		if (r)
			rc = rc ? rc : r;
		else
			snprintf(written + used, sizeof(written) - used, "%s%s", used ? ", " : "",
				 c->outputs[i]);
	}
	if (written[0] && !log_quiet)
		render_summary(stderr, rec, written);
	json_decref(rec);
	return rc;
}

static struct session *session_new(const struct cli *c)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s) {
		pr_err("out of memory");
		return NULL;
	}
	s->cli = c;
	s->live = c->cmd == CMD_GC;
	s->child.go_fd = -1;
	s->rec.plan = &s->plan;
	s->mode = c->mode;
	return s;
}

/* Everything up to the probes in place: the checks, the plan, the signals, the attach. */
static int session_begin(struct session *s)
{
	/* privileges first: without them the target's maps are unreadable anyway */
	int rc = check_environment(s->cli);

	if (!rc)
		rc = discover(s);
	s->rec.mode = s->mode == MODE_FULL ? "full" : s->mode == MODE_SAMPLED ? "sampled" : "gc";
	if (!rc && install_signal_handlers()) {
		pr_err("cannot install signal handlers: %s", strerror(errno));
		rc = EXIT_RUNTIME;
	}
	if (!rc)
		calibrate(s);
	if (!rc)
		rc = attach(s);
	return rc;
}

static void session_free(struct session *s)
{
	/* a held child never ran: end it; a released one is the user's and keeps running */
	if (s->child.pid > 0 && s->child.go_fd >= 0)
		spawn_abort(&s->child);
	bpf_session_close(&s->bpf);
	calibration_release();
	gc_recording_free(&s->rec.gc);
	heap_timeline_free(&s->rec.heap);
	json_decref(s->rec.program_stats);
	if (s->rec.alloc.enabled)
		alloc_recording_free(&s->rec.alloc);
	sampler_free(&s->sampler);
	free(s);
}

int cmd_record(const struct cli *c)
{
	struct session *s = session_new(c);
	struct session_observer status;
	struct progress progress;
	char why[512];
	int rc;

	if (!s)
		return EXIT_RUNTIME;
	rc = resolve_formats(s);
	for (unsigned i = 0; !rc && i < c->n_outputs; i++) {
		if (output_file_precheck(c->outputs[i], why, sizeof(why))) {
			pr_err("%s", why);
			rc = EXIT_OUTPUT;
		}
	}
	if (!rc && c->cmd == CMD_RECORD && progress_wanted())
		s->observer = progress_observer(&progress, &status);
	if (!rc)
		rc = session_begin(s);
	if (!rc)
		rc = run_until_stopped(s);
	if (!rc) {
		finish(s);
		warn_about_losses(s);
		recording_warn_limits(&s->rec);
		rc = write_outputs(s);
	}
	session_free(s);
	return rc;
}

int session_watch(const struct cli *c, const struct session_observer *o)
{
	struct session *s = session_new(c);
	int rc;

	if (!s)
		return EXIT_RUNTIME;
	s->observer = o;
	rc = session_begin(s);
	if (!rc)
		rc = run_until_stopped(s);
	/* closing the session detaches every probe */
	session_free(s);
	return rc;
}
