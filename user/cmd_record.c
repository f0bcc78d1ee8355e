// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "bpf_session.h"
#include "calibration.h"
#include "commands.h"
#include "exit_codes.h"
#include "follow.h"
#include "system_checks.h"
#include "log.h"
#include "output_file.h"
#include "output_names.h"
#include "proc.h"
#include "progress.h"
#include "recording.h"
#include "render.h"
#include "sampling.h"
#include "spawn.h"
#include "target_gc_state.h"
#include "uprobe_multi.h"

#define POLL_INTERVAL_MS	100
#define CONSUMER_POLL_MS	20
#define HEAP_SAMPLE_INTERVAL_NS 1000000000ull

static const char END_EXITED[] = "target exited";
static const char END_EXECD[] = "target exec'd a new program";

static volatile sig_atomic_t stop_signal;
/* a second stop signal: no output; the probes are removed first all the same */
static volatile sig_atomic_t abandon_signal;
/* nothing of ours is left in any process: a second stop signal may end us at once */
static volatile sig_atomic_t probes_removed;

/* How a target came to be recorded. */
enum target_origin {
	ORIGIN_ATTACHED, /* -p PID */
	ORIGIN_LAUNCHED, /* -- CMD */
	ORIGIN_FORK,	 /* forked by a target (--follow-children) */
	ORIGIN_EXEC,	 /* a process of the tree exec'd a Python (--follow-children) */
};

/* One program recorded in one process: its plan, its recording, its sampled windows. */
struct target {
	struct session *session;
	struct probe_plan plan;
	struct recording rec;
	struct sampler sampler;
	struct sampler_ops window_ops; /* the BPF side's, which `sampler` reaches through ours */
	enum record_mode mode;	       /* the session's, or gc when allocations cannot be traced */
	enum target_origin origin;
	pid_t parent;	    /* ORIGIN_FORK: the process it was forked from */
	char label[32];	    /* in its output files' names: "PID", or "PID-N" for its Nth program */
	char who[48];	    /* "PID 1234: " before its warnings when there are several, else "" */
	int pidfd;	    /* attached targets: readable once the process is gone */
	bool awaiting_exec; /* launched and held: its first exec is its own start */
	bool attached;	    /* its probes are in place */
	bool exit_seen;	    /* --follow-children: the tracer saw it exit */
	bool ended;	    /* its recording is over (rec.end_reason says why) */
	bool queued;	    /* handed to the writer: the loop no longer touches it */
	bool results_read;  /* its counts are read from the maps */
	bool cleared;	    /* its map entries are freed (an exec'd one's at once) */
	bool completed;	    /* probes gone, counts read, map entries freed (writer: under lock) */
	bool written;	    /* its outputs are written */
	struct bpf_target *probes; /* ended: its probes, no longer the session's, to destroy */
};

/*
 * Several targets: the ring buffer is drained by a thread of its own. A new
 * (stack, type) must be named while its code objects exist, and the loop is
 * busy at times (attaching a child's probes, planning an exec'd Python, a
 * window's detach): a child that makes new objects and then execs or exits
 * within that time would leave them unnamed. The records go to the targets'
 * recordings under the session's lock.
 */
struct consumer {
	pthread_t thread;
	bool started, stop;
	uint64_t drain_asked, drain_done; /* drains the loop asked for and that were done */
	pthread_cond_t drained;
	int err; /* the poll failed: -errno */
};

/*
 * Several targets into files: a target that ends mid-recording is written by
 * a thread of its own, so the loop goes on draining the ring buffer. The
 * others' new stacks must be named while their code objects exist: a short
 * program can run and exit within the seconds a large recording takes to write.
 */
struct writer {
	pthread_t thread;
	bool started, closing;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	struct target **queue;
	size_t head, n, cap;
};

struct session {
	const struct cli *cli;
	struct bpf_session bpf;
	struct spawned child;
	bool launched;
	bool many; /* several targets: each into its own output files */
	bool live; /* the gc command: a line per collection as it arrives */
	enum output_format formats[CLI_MAX_OUTPUTS]; /* per -o; [0] for stdout without -o */
	struct calibration calib;
	bool calibrated;
	const struct session_observer *observer; /* a live view: top, the progress line */
	enum record_mode mode;			 /* the cli's */
	const char *end_reason;			 /* why the session stopped */
	/* sampled mode */
	enum window_link window_link;
	char window_link_note[256];
	/* every target, in the order they were found */
	struct target **targets;
	size_t n_targets, cap_targets;
	/* --follow-children */
	bool following;
	struct follower follower;
	int sigchld_fd;
	sigset_t saved_mask;
	int rc;		  /* the first failure to write a target's output */
	size_t n_written; /* targets whose outputs were written (stdout separators) */
	struct writer writer;
	struct consumer consumer;
	/* the targets and their recordings, shared with the consumer (several targets) */
	pthread_mutex_t lock;
};

static void say(const char *note, size_t len)
{
	if (write(STDERR_FILENO, note, len) < 0)
		return;
}

/*
 * A second stop signal abandons the recording but never kills pyobjlife while
 * its probes are being removed: a process killed in the middle of closing its
 * uprobe links can leave breakpoints in the target (the kernel's unregister
 * gives up when the closing thread has a fatal signal pending, "failed to
 * unregister, leaking uprobe"), which then trap on every call. Once the probes
 * are gone, it ends pyobjlife at once.
 */
static void on_stop_signal(int sig)
{
	static const char stopping[] = "pyobjlife: stopping: detaching the probes and writing "
				       "the output (interrupt again to abandon the recording)\n";
	static const char abandoning[] = "pyobjlife: abandoning the recording: removing the "
					 "probes first, no output\n";

	/* atomic: another thread may take the other signal at the same time */
	if (__sync_bool_compare_and_swap(&stop_signal, 0, sig)) {
		/* detaching takes ~0.1 s per perf-event probe: say why nothing happens yet */
		if (sig == SIGINT)
			say(stopping, sizeof(stopping) - 1);
		return;
	}
	if (probes_removed) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	if (__sync_bool_compare_and_swap(&abandon_signal, 0, sig))
		say(abandoning, sizeof(abandoning) - 1);
}

/* Abandoned (a second stop signal): end as that signal ends a process, the probes gone. */
static void end_if_abandoned(void)
{
	probes_removed = 1;
	if (!abandon_signal)
		return;
	signal(abandon_signal, SIG_DFL);
	raise(abandon_signal);
}

static int install_signal_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	/* one stop signal at a time in this thread (the handler's decisions are atomic) */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGHUP);
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

/* ---- targets ---- */

static bool recording(const struct target *t)
{
	return t->attached && !t->ended;
}

/* Its label and warning prefix, once its PID is known: later programs of a PID get PID-N. */
static void name_target(const struct session *s, struct target *t)
{
	int programs = 1;

	for (size_t i = 0; i < s->n_targets && s->targets[i] != t; i++)
		programs += s->targets[i]->rec.pid == t->rec.pid;
	if (programs > 1)
		snprintf(t->label, sizeof(t->label), "%d-%d", (int)t->rec.pid, programs);
	else
		snprintf(t->label, sizeof(t->label), "%d", (int)t->rec.pid);
	if (s->many)
		snprintf(t->who, sizeof(t->who), "PID %d: ", (int)t->rec.pid);
}

/* Room for one more target; the consumer reads the array under the lock. */
static int grow_targets(struct session *s)
{
	size_t cap = s->cap_targets ? 2 * s->cap_targets : 8;
	struct target **v;

	pthread_mutex_lock(&s->lock);
	v = realloc(s->targets, cap * sizeof(*v));
	if (v) {
		s->targets = v;
		s->cap_targets = cap;
	}
	pthread_mutex_unlock(&s->lock);
	return v ? 0 : -ENOMEM;
}

static struct target *target_new(struct session *s, pid_t pid, enum target_origin origin)
{
	struct target *t;

	if (s->n_targets == s->cap_targets && grow_targets(s))
		return NULL;
	/* each apart: its recording's symbolizer, the consumer and the writer hold its address */
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->session = s;
	t->origin = origin;
	t->mode = s->mode;
	t->pidfd = -1;
	t->rec.pid = pid;
	t->rec.plan = &t->plan;
	pthread_mutex_lock(&s->lock);
	s->targets[s->n_targets++] = t;
	pthread_mutex_unlock(&s->lock);
	if (pid)
		name_target(s, t);
	return t;
}

static void target_free(struct target *t)
{
	gc_recording_free(&t->rec.gc);
	heap_timeline_free(&t->rec.heap);
	json_decref(t->rec.program_stats);
	t->rec.program_stats = NULL;
	if (t->rec.alloc.enabled)
		alloc_recording_free(&t->rec.alloc);
	t->rec.alloc.enabled = false;
	sampler_free(&t->sampler);
	if (t->pidfd >= 0)
		close(t->pidfd);
	free(t);
}

/* Drop the last target (one that could not be attached). */
static void target_drop_last(struct session *s)
{
	struct target *t;

	pthread_mutex_lock(&s->lock);
	t = s->targets[--s->n_targets];
	pthread_mutex_unlock(&s->lock);
	target_free(t);
}

/* The target a record of process `tgid` belongs to: the one recording it now. */
static struct target *target_of(struct session *s, uint32_t tgid)
{
	for (size_t i = s->n_targets; i-- > 0;) {
		struct target *t = s->targets[i];

		if ((uint32_t)t->rec.pid == tgid && recording(t))
			return t;
	}
	return NULL;
}

/* The first target still recording, else the first: what a live view shows. */
static struct target *shown_target(struct session *s)
{
	for (size_t i = 0; i < s->n_targets; i++) {
		if (recording(s->targets[i]))
			return s->targets[i];
	}
	return s->n_targets ? s->targets[0] : NULL;
}

static size_t targets_recording(const struct session *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_targets; i++)
		n += recording(s->targets[i]);
	return n;
}

/* ---- the ring buffer ---- */

/* every collection, whether the (bounded) timeline keeps it or not */
static void print_live_collection(struct session *s, struct target *t, uint64_t before)
{
	if (!s->live || gc_recording_received(&t->rec.gc) <= before)
		return;
	if (s->many)
		printf("PID %-7d ", (int)t->rec.pid);
	gc_collection_print(stdout, &t->rec.gc.last);
	fflush(stdout);
}

static void dispatch_record(struct session *s, void *data, size_t size)
{
	struct target *t;
	uint64_t before;

	/* one target takes every record, malformed ones included (counted there) */
	if (!s->many)
		t = s->n_targets ? s->targets[0] : NULL;
	else
		t = size >= 8 ? target_of(s, ((__u32 *)data)[1]) : NULL;
	if (!t)
		return;
	if (size >= sizeof(struct alloc_key_event) && *(__u32 *)data == EV_ALLOC_KEY) {
		alloc_recording_on_key(&t->rec.alloc, bpf_session_stacks_fd(&s->bpf), data, size);
		return;
	}
	if (size >= sizeof(struct code_snapshot_event) && *(__u32 *)data == EV_CODE_SNAPSHOT) {
		alloc_recording_on_code_snapshot(&t->rec.alloc, data, size);
		return;
	}
	if (size >= sizeof(struct census_event) && *(__u32 *)data == EV_CENSUS) {
		alloc_recording_on_census(&t->rec.alloc, bpf_session_alloc_maps(&s->bpf).census_fd,
					  data, t->rec.gc.t0_ns);
		return;
	}
	before = gc_recording_received(&t->rec.gc);
	gc_recording_add(&t->rec.gc, data, size);
	print_live_collection(s, t, before);
}

static int on_ring_record(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;

	pthread_mutex_lock(&s->lock);
	dispatch_record(s, data, size);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void *consumer_main(void *arg)
{
	struct session *s = arg;
	struct consumer *c = &s->consumer;
	sigset_t all;

	/* the loop takes the signals */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&s->lock);
	while (!c->stop) {
		uint64_t asked = c->drain_asked;
		int err;

		pthread_mutex_unlock(&s->lock);
		/* the BPF side wakes us only when the ring is a quarter full */
		err = ring_buffer__poll(s->bpf.rb, CONSUMER_POLL_MS);
		if (err >= 0)
			err = ring_buffer__consume(s->bpf.rb);
		pthread_mutex_lock(&s->lock);
		if (err < 0 && err != -EINTR) {
			c->err = err;
			c->stop = true;
		}
		c->drain_done = asked;
		pthread_cond_broadcast(&c->drained);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int consumer_start(struct session *s)
{
	struct consumer *c = &s->consumer;

	pthread_cond_init(&c->drained, NULL);
	c->started = !pthread_create(&c->thread, NULL, consumer_main, s);
	return c->started ? 0 : -EAGAIN;
}

/* Every record submitted before this call has gone to its recording once it returns. */
static void drain_ring(struct session *s)
{
	struct consumer *c = &s->consumer;
	uint64_t mine;

	if (!c->started) {
		ring_buffer__consume(s->bpf.rb);
		return;
	}
	pthread_mutex_lock(&s->lock);
	mine = ++c->drain_asked;
	while (c->drain_done < mine && !c->stop)
		pthread_cond_wait(&c->drained, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

static void consumer_stop(struct session *s)
{
	struct consumer *c = &s->consumer;

	if (!c->started)
		return;
	pthread_mutex_lock(&s->lock);
	c->stop = true;
	pthread_mutex_unlock(&s->lock);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->drained);
	c->started = false;
}

/* ---- outputs ---- */

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
		/* one document per target does not make one stream */
		if (s->many && !path && f != FORMAT_TEXT) {
			pr_err("%s output of several targets: write it to files with -o (one per "
			       "target: -o rec.json writes rec.PID.json)",
			       output_format_name(f));
			return EXIT_USAGE;
		}
		s->formats[i] = f;
	}
	return 0;
}

/* Refuse a bad output path in a second rather than after an hour's recording. */
static int precheck_outputs(struct session *s)
{
	const struct cli *c = s->cli;
	char why[512], path[PATH_MAX], label[16];

	for (unsigned i = 0; i < c->n_outputs; i++) {
		const char *p = c->outputs[i];

		/* several -p: the files each will get; launched children: the directory */
		for (unsigned k = 0; k < (s->many && c->n_pids ? c->n_pids : 1); k++) {
			if (s->many && c->n_pids) {
				snprintf(label, sizeof(label), "%d", (int)c->pids[k]);
				if (output_path_for_target(c->outputs[i], label, path,
							   sizeof(path))) {
					pr_err("%s: the name is too long", c->outputs[i]);
					return EXIT_OUTPUT;
				}
				p = path;
			}
			if (output_file_precheck(p, why, sizeof(why))) {
				pr_err("%s", why);
				return EXIT_OUTPUT;
			}
		}
	}
	return 0;
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

static const char *origin_name(enum target_origin o)
{
	switch (o) {
	case ORIGIN_ATTACHED:
		return "attached";
	case ORIGIN_LAUNCHED:
		return "launched";
	case ORIGIN_FORK:
		return "fork";
	case ORIGIN_EXEC:
		return "exec";
	}
	return "?";
}

/* Several targets: what tells this one apart and where it came from, in "target". */
static void add_session_members(const struct session *s, const struct target *t, json_t *rec)
{
	json_t *target = json_object_get(rec, "target");

	if (!s->many || !target)
		return;
	json_object_set_new(target, "label", json_string(t->label));
	json_object_set_new(target, "origin", json_string(origin_name(t->origin)));
	if (t->origin == ORIGIN_FORK)
		json_object_set_new(target, "forked_from", json_integer(t->parent));
}

/*
 * Every output is rendered from the recording JSON, as `pyobjlife report`
 * renders a saved one: the same bytes either way. One output failing does not
 * stop the others (the .json may be all that is left of an hour's recording).
 * With several targets each gets its own files, named after its label.
 */
static int write_outputs(struct session *s, struct target *t)
{
	const struct cli *c = s->cli;
	struct render_opts o = { .weight = c->weight,
				 .weight_given = c->weight_given,
				 .top = c->top };
	uint64_t t0 = monotonic_ns(), t1;
	json_t *rec = recording_to_json(&t->rec);
	char written[4096] = "", path[PATH_MAX];
	int rc = 0;

	if (!rec) {
		pr_err("out of memory while building the recording");
		return EXIT_RUNTIME;
	}
	t1 = monotonic_ns();
	pr_debug("%sbuilt the recording in %.1f ms", t->who, (t1 - t0) / 1e6);
	add_session_members(s, t, rec);
	if (!c->n_outputs) {
		if (s->many && s->n_written && fputc('\n', stdout) == EOF)
			rc = EXIT_OUTPUT;
		if (!rc)
			rc = write_stdout(rec, s->formats[0], &o);
	}
	for (unsigned i = 0; i < c->n_outputs; i++) {
		const char *p = c->outputs[i];
		size_t used = strlen(written);
		int r = 0;

		if (s->many && output_path_for_target(p, t->label, path, sizeof(path))) {
			pr_err("%s for PID %d: the name is too long", p, (int)t->rec.pid);
			r = EXIT_OUTPUT;
		}
		if (!r)
			r = write_file(s->many ? path : p, rec, s->formats[i], &o);
		if (r)
			rc = rc ? rc : r;
		else
			snprintf(written + used, sizeof(written) - used, "%s%s", used ? ", " : "",
				 s->many ? path : p);
	}
	pr_debug("%swrote the outputs in %.1f ms", t->who, (monotonic_ns() - t1) / 1e6);
	if (written[0] && !log_quiet)
		render_summary(stderr, rec, written);
	s->n_written++;
	json_decref(rec);
	return rc;
}

/* ---- planning ---- */

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

/*
 * The plan for an interpreter found; `launching`: it has not run yet. A target
 * found while following is not worth failing the recording: `fatal` false
 * makes every refusal a warning, and a target that cannot trace allocations
 * records its collections only.
 */
static int plan_target(struct session *s, struct target *t, const struct py_target *pt,
		       bool launching, bool fatal)
{
	if (probe_plan_build(&t->plan, pt, s->cli->gc_pref, launching)) {
		if (fatal)
			pr_err("%sCPython %s at %s: %s", t->who, pt->version_str, pt->path,
			       t->plan.gc_note);
		else
			pr_warn("%sCPython %s at %s: %s", t->who, pt->version_str, pt->path,
				t->plan.gc_note);
		return EXIT_UNSUPPORTED;
	}
	if (s->cli->no_lifetimes)
		probe_plan_drop_deaths(&t->plan);
	if (probe_plan_place(&t->plan, s->cli->placement))
		pr_warn("%scannot read the code of %s: probes stay at their entry points", t->who,
			pt->path);
	if (s->calibrated)
		probe_plan_set_calibration(&t->plan, &s->calib);
	pr_debug("%sgc probes: %s", t->who, t->plan.gc_note);
	if (t->mode != MODE_GC && t->plan.alloc_method == ALLOC_METHOD_NONE &&
	    (default_mode_falls_back(s) || !fatal)) {
		pr_warn("%sCPython %s at %s: allocations cannot be traced (%s): recording "
			"collections only",
			t->who, pt->version_str, pt->path, t->plan.alloc_note);
		t->mode = MODE_GC;
	}
	if (t->mode != MODE_GC && t->plan.alloc_method == ALLOC_METHOD_NONE) {
		pr_err("%sCPython %s at %s: allocations cannot be traced: %s", t->who,
		       pt->version_str, pt->path, t->plan.alloc_note);
		return EXIT_UNSUPPORTED;
	}
	if (t->mode != MODE_GC)
		pr_debug("%sallocation probes: %s", t->who, t->plan.alloc_note);
	return 0;
}

/* A target given on the command line: a running process, or the command to launch. */
static int discover(struct session *s, struct target *t, pid_t pid)
{
	const struct cli *c = s->cli;
	struct discovery_opts o = { .debug_dir = c->debug_dir };
	struct py_target pt;
	char why[512];
	int r;

	r = pid ? py_target_from_pid(pid, &o, &pt, why, sizeof(why))
		: py_target_from_command(c->command_argv[0], &o, &pt, why, sizeof(why));
	if (!r)
		r = py_target_check_supported(&pt, why, sizeof(why));
	if (r) {
		pr_err("%s", why);
		return exit_code_for_discovery(r);
	}
	return plan_target(s, t, &pt, !pid, true);
}

/*
 * The targets of the command line. Following a launched command that is not
 * a CPython (a shell, a pyenv shim), the Pythons it starts are found as they
 * start: it is launched without a target of its own.
 */
static int discover_all(struct session *s)
{
	const struct cli *c = s->cli;
	int rc;

	if (s->launched) {
		struct target *t = target_new(s, 0, ORIGIN_LAUNCHED);

		if (!t)
			return EXIT_RUNTIME;
		if (s->following) {
			struct discovery_opts o = { .debug_dir = c->debug_dir };
			struct py_target pt;
			char why[512];

			if (py_target_from_command(c->command_argv[0], &o, &pt, why, sizeof(why)) ==
			    -ENOEXEC) {
				pr_info("%s is not CPython: recording the Pythons it starts",
					c->command_argv[0]);
				target_drop_last(s);
				return 0;
			}
		}
		return discover(s, t, 0);
	}
	for (unsigned i = 0; i < c->n_pids; i++) {
		struct target *t = target_new(s, c->pids[i], ORIGIN_ATTACHED);

		if (!t)
			return EXIT_RUNTIME;
		rc = discover(s, t, c->pids[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* What a hit of each probe class the plans use costs on this kernel; a failure only warns. */
static void calibrate(struct session *s)
{
	unsigned classes = 0;
	struct calibration *k = &s->calib;
	char why[256];

	for (size_t i = 0; i < s->n_targets; i++) {
		const struct target *t = s->targets[i];

		classes |= probe_plan_cost_classes(&t->plan, t->mode != MODE_GC);
	}
	classes &= CALIBRATION_ALL_CLASSES;
	if (!classes)
		return;
	if (calibration_run(classes, k, why, sizeof(why))) {
		pr_warn("probe calibration failed (%s): estimates use the reference costs", why);
		return;
	}
	s->calibrated = true;
	for (size_t i = 0; i < s->n_targets; i++)
		probe_plan_set_calibration(&s->targets[i]->plan, k);
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

/* ---- attaching ---- */

/* Thresholds and counts as the target has them now (an attached, initialised target). */
static void read_start_state(struct target *t)
{
	struct gc_state_snapshot snap;
	struct gc_recording *g = &t->rec.gc;

	if (t->origin != ORIGIN_ATTACHED || target_read_gc_state(&t->plan, &snap))
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
static void take_self_check(struct target *t)
{
	const struct gc_agg *a = &t->rec.gc.agg;

	if (!a->recorded)
		return;
	memcpy(t->rec.stats_start, a->first_before, sizeof(t->rec.stats_start));
	memcpy(t->rec.stats_end, a->last_after, sizeof(t->rec.stats_end));
	t->rec.have_stats_start = t->rec.have_stats_end = true;
}

static void announce(const struct session *s, const struct target *t, int probes)
{
	const struct py_target *pt = &t->plan.target;
	char why[PATH_MAX + 16] = "";

	if (t->origin == ORIGIN_LAUNCHED)
		snprintf(why, sizeof(why), "; starting %s", s->cli->command_argv[0]);
	else if (t->origin == ORIGIN_FORK)
		snprintf(why, sizeof(why), "; forked by PID %d", (int)t->parent);
	else if (t->origin == ORIGIN_EXEC)
		snprintf(why, sizeof(why), "; exec'd");
	/* the launched tree's later targets are news, not the line scripts wait for */
	if (t->origin >= ORIGIN_FORK && log_quiet)
		return;
	fprintf(stderr, "pyobjlife: attached to PID %d (CPython %s, %s): %d probe%s%s\n",
		(int)t->rec.pid, pt->version_str, py_target_basename(pt), probes,
		probes == 1 ? "" : "s", why);
}

/* Sampled mode: uprobe_multi links where the kernel has them, else perf-event links. */
static int choose_window_link(struct session *s)
{
	enum sampling_link_pref pref = s->cli->sampling_link;
	char *note = s->window_link_note, why[200];
	size_t cap = sizeof(s->window_link_note);
	bool windows = s->following && s->mode == MODE_SAMPLED;

	for (size_t i = 0; i < s->n_targets; i++)
		windows |= s->targets[i]->mode == MODE_SAMPLED;
	s->window_link = WINDOW_LINK_NONE;
	if (!windows)
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

/*
 * The window scheduler's operations on a target: the BPF side's, censoring
 * under the session's lock (it counts into the recording the consumer writes).
 */
static int window_attach(void *ctx)
{
	struct target *t = ctx;

	return t->window_ops.attach(t->window_ops.ctx);
}

static int window_gate(void *ctx, bool open)
{
	struct target *t = ctx;

	return t->window_ops.gate(t->window_ops.ctx, open);
}

static void window_detach(void *ctx)
{
	struct target *t = ctx;

	t->window_ops.detach(t->window_ops.ctx);
}

static int window_censor(void *ctx, uint64_t *censored)
{
	struct target *t = ctx;
	int err;

	pthread_mutex_lock(&t->session->lock);
	err = t->window_ops.censor(t->window_ops.ctx, censored);
	pthread_mutex_unlock(&t->session->lock);
	return err;
}

static int window_counters(void *ctx, struct window_counters *out)
{
	struct target *t = ctx;

	return t->window_ops.counters(t->window_ops.ctx, out);
}

static int window_target_cpu_ns(void *ctx, uint64_t *out)
{
	struct target *t = ctx;

	return t->window_ops.target_cpu_ns(t->window_ops.ctx, out);
}

static int window_target_user_ns(void *ctx, uint64_t *out)
{
	struct target *t = ctx;

	return t->window_ops.target_user_ns(t->window_ops.ctx, out);
}

static int window_program_ns(void *ctx, uint64_t *out)
{
	struct target *t = ctx;

	return t->window_ops.program_ns(t->window_ops.ctx, out);
}

/* Each target has its own windows and its own budget: --overhead is per process. */
static void start_sampling(struct session *s, struct target *t)
{
	struct sampler_config sc = {
		.budget = s->cli->overhead_percent / 100,
		.link = s->window_link == WINDOW_LINK_UPROBE_MULTI ? "uprobe_multi" : "perf_event",
		.link_note = s->window_link_note,
		.probes = bpf_session_window_sites(&t->plan),
		.live_capacity = bpf_session_live_capacity(&s->bpf),
		.log_limit = s->cli->max_timeline,
	};
	struct sampler_ops ops = { .ctx = t,
				   .attach = window_attach,
				   .gate = window_gate,
				   .detach = window_detach,
				   .censor = window_censor,
				   .counters = window_counters };

	t->window_ops = bpf_session_sampler_ops(&s->bpf, t->rec.pid, &t->rec.alloc);
	/* the target's clocks and the programs' run time, where the BPF side can read them */
	if (t->window_ops.target_cpu_ns)
		ops.target_cpu_ns = window_target_cpu_ns;
	if (t->window_ops.target_user_ns)
		ops.target_user_ns = window_target_user_ns;
	if (t->window_ops.program_ns)
		ops.program_ns = window_program_ns;
	sampling_hit_costs(&sc.costs);
	sampler_init(&t->sampler, &sc, &ops, t->rec.gc.t0_ns);
	t->rec.alloc.sampled = true;
	t->rec.alloc.sampler = &t->sampler;
}

static int poll_timeout_ms(const struct session *s)
{
	int ms = POLL_INTERVAL_MS;
	uint64_t now = monotonic_ns();

	for (size_t i = 0; i < s->n_targets; i++) {
		const struct target *t = s->targets[i];

		if (recording(t) && t->mode == MODE_SAMPLED)
			ms = sampler_timeout_ms(&t->sampler, now, ms);
	}
	return ms;
}

/*
 * A process held at its start (launched, forked or exec'd in the tree) runs its
 * first code inside a window: one that lives less than a loop's tick is sampled too.
 */
static void open_first_window(struct target *t)
{
	if (t->mode == MODE_SAMPLED)
		sampler_tick(&t->sampler, monotonic_ns());
}

/* One target's recording and probes; `before_exec`: a launched command not yet exec'd. */
static int target_attach(struct session *s, struct target *t, bool before_exec)
{
	const struct cli *c = s->cli;
	struct bpf_attach_opts ao = { .allocations = t->mode == MODE_FULL,
				      .windowed = t->mode == MODE_SAMPLED,
				      .stack_depth = c->stack_depth,
				      .before_exec = before_exec };
	uint64_t t0;
	int probes;

	t->rec.pid = t->plan.target.pid;
	name_target(s, t);
	t->rec.mode = t->mode == MODE_FULL ? "full" : t->mode == MODE_SAMPLED ? "sampled" : "gc";
	if (t->mode != MODE_GC) {
		alloc_recording_init(&t->rec.alloc, t->rec.pid, t->plan.frame_layout,
				     t->plan.target.version.minor, c->stack_depth);
		t->rec.alloc.method = alloc_method_name(t->plan.alloc_method);
		t->rec.alloc.coverage = t->plan.alloc_note;
		t->rec.alloc.lifecycle_coverage = t->plan.lifecycle_note;
		if (t->origin == ORIGIN_FORK)
			t->rec.alloc.parent_pid = t->parent;
	}
	heap_timeline_init(&t->rec.heap, t->plan.arena_alloc.n_sites && t->plan.arena_free.n_sites,
			   HEAP_SAMPLE_INTERVAL_NS);
	t0 = monotonic_ns();
	probes = bpf_session_attach(&s->bpf, t->rec.pid, &t->plan, &ao);
	if (probes < 0)
		return EXIT_RUNTIME;
	pr_debug("%sprobes attached in %.1f ms", t->who, (monotonic_ns() - t0) / 1e6);
	gc_recording_init(&t->rec.gc, monotonic_ns());
	recording_set_timeline_limit(&t->rec, c->max_timeline);
	if (t->mode == MODE_SAMPLED)
		start_sampling(s, t);
	utc_now(t->rec.started_at, sizeof(t->rec.started_at));
	read_start_state(t);
	t->awaiting_exec = before_exec;
	pthread_mutex_lock(&s->lock);
	t->attached = true;
	pthread_mutex_unlock(&s->lock);
	if (t->origin == ORIGIN_ATTACHED)
		t->pidfd = (int)syscall(SYS_pidfd_open, t->rec.pid, 0);
	announce(s, t, probes);
	return 0;
}

/* A session of many targets holds many probes' descriptors: as many as the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* SIGCHLD through a descriptor the loop polls: a held child waits for us, not for a tick. */
static int watch_children(struct session *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	/* the launched command was forked with our mask: it has SIGCHLD unblocked */
	if (sigprocmask(SIG_BLOCK, &set, &s->saved_mask))
		return -errno;
	s->sigchld_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return s->sigchld_fd < 0 ? -errno : 0;
}

static int launch(struct session *s)
{
	struct target *t = s->n_targets ? s->targets[0] : NULL;
	int err;

	/* fork with no thread of ours inside libbpf or stdio: the child may print */
	calibration_release();
	err = spawn_held(s->cli->command_argv, &s->child);
	if (err) {
		pr_err("cannot start %s: %s", s->cli->command_argv[0], strerror(-err));
		return EXIT_RUNTIME;
	}
	if (t)
		t->plan.target.pid = s->child.pid;
	if (!s->following)
		return 0;
	err = follower_start(&s->follower, s->child.pid);
	if (!err)
		err = watch_children(s);
	if (err) {
		pr_err("cannot follow the children of %s: %s", s->cli->command_argv[0],
		       strerror(-err));
		return EXIT_RUNTIME;
	}
	return 0;
}

/*
 * The count map is shared by the targets of a recording: by default it grows
 * with them, up to four times its size for one (~88 MB of kernel memory).
 * Targets that ended free their entries.
 */
static unsigned sites_scale(const struct session *s)
{
	unsigned n = s->following ? 4 : s->cli->n_pids;

	if (s->mode == MODE_GC)
		return 1;
	return n > 4 ? 4 : n;
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
	int rc = choose_window_link(s);

	if (rc)
		return rc;
	if (s->many) {
		raise_fd_limit();
		bo.sites_scale = sites_scale(s);
	}
	bo.window_link = s->window_link;
	if (bpf_session_open(&s->bpf, &bo))
		return EXIT_RUNTIME;
	s->bpf.programs_shared = s->many;
	if (bpf_session_ringbuf(&s->bpf, on_ring_record, s))
		return EXIT_RUNTIME;
	if (s->launched && (rc = launch(s)))
		return rc;
	for (size_t i = 0; i < s->n_targets; i++) {
		rc = target_attach(s, s->targets[i], s->launched);
		if (rc)
			return rc;
	}
	if (s->launched && s->n_targets)
		open_first_window(s->targets[0]);
	if (s->launched && spawn_release(&s->child)) {
		pr_err("the launched command %s exited before it could start",
		       s->cli->command_argv[0]);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* ---- ending a target ---- */

/* RSS and arenas now; a target that is gone keeps the samples it had. */
static void sample_heap(struct session *s, struct target *t, bool force)
{
	uint64_t at = monotonic_ns() - t->rec.gc.t0_ns;
	struct alloc_agg a = {};

	if (!force && !heap_timeline_due(&t->rec.heap, at))
		return;
	bpf_session_read_alloc_agg(&s->bpf, t->rec.pid, &a);
	heap_timeline_sample(&t->rec.heap, t->rec.pid, at, a.arenas_allocated, a.arenas_freed);
}

/* The recording stopped counting at stop_ns: what the windows saw and the heap then. */
static void stop_counting(struct target *t, struct session *s, uint64_t stop_ns)
{
	if (t->mode == MODE_SAMPLED)
		sampler_end(&t->sampler, stop_ns);
	sample_heap(s, t, true);
	t->rec.duration_s = (monotonic_ns() - t->rec.gc.t0_ns) / 1e9;
}

/* Once its probes are gone and the ring is drained: the aggregates and counts. */
static void read_results(struct session *s, struct target *t)
{
	if (bpf_session_read_agg(&s->bpf, t->rec.pid, &t->rec.gc.agg))
		pr_warn("%scannot read the per-generation aggregates: %s", t->who, strerror(errno));
	take_self_check(t);
	t->rec.program_stats = bpf_session_program_stats_json(&s->bpf);
	if (t->rec.alloc.enabled) {
		if (bpf_session_read_alloc_agg(&s->bpf, t->rec.pid, &t->rec.alloc.agg))
			pr_warn("%scannot read the allocation health counters: %s", t->who,
				strerror(errno));
		struct alloc_maps maps = bpf_session_alloc_maps(&s->bpf);

		if (t->mode == MODE_SAMPLED) {
			t->rec.alloc.sampling_ratio = sampler_ratio(&t->sampler);
			if (sampler_estimate_warning(&t->sampler))
				pr_warn("%ssampled estimates: %s", t->who,
					sampler_estimate_warning(&t->sampler));
		}

		if (alloc_recording_collect(&t->rec.alloc, &maps, &t->rec.gc.agg.seq))
			pr_warn("%sout of memory while reading the allocation counts", t->who);
	}
	/* what the recording cost us, and the maps' bounds, for diagnostics */
	bpf_session_map_sizes(&s->bpf, &t->rec.maps);
	memory_usage_read(&t->rec.memory);
}

static void warn_about_losses(const struct target *t)
{
	const struct gc_recording *g = &t->rec.gc;
	const char *who = t->who;

	if (g->agg.ringbuf_drops)
		pr_warn("%s%lu collection records did not fit the ring buffer (raise "
			"--ringbuf-size); per-generation totals are exact",
			who, (unsigned long)g->agg.ringbuf_drops);
	if (g->agg.read_errors)
		pr_warn("%s%lu collections could not be read from the target's memory", who,
			(unsigned long)g->agg.read_errors);
	if (t->rec.alloc.enabled && t->rec.alloc.agg.counts_full)
		pr_warn("%s%lu allocations were counted by type without their stack: the count map "
			"was full (raise --max-sites)",
			who,
			(unsigned long)(t->rec.alloc.agg.counts_full -
					t->rec.alloc.agg.overflow_full));
	if (t->rec.alloc.enabled && t->rec.alloc.agg.overflow_full)
		pr_warn("%s%lu allocations were not counted: the count map and its by-type "
			"overflow "
			"were full (raise --max-sites)",
			who, (unsigned long)t->rec.alloc.agg.overflow_full);
	if (t->rec.alloc.enabled && t->rec.alloc.agg.stacks_full)
		pr_warn("%s%lu allocations were counted without their stack: the stack map was "
			"full (raise --max-stacks)",
			who, (unsigned long)t->rec.alloc.agg.stacks_full);
	if (t->rec.have_stats_end && !recording_agrees_with_target(&t->rec))
		pr_warn("%sthe target's own gc counters moved by more than the probes recorded: "
			"collections were missed (see \"diagnostics\" in the JSON)",
			who);
}

/* Its outputs now, and its memory back: a long recording of many children stays small. */
static void write_and_release(struct session *s, struct target *t)
{
	int rc;

	warn_about_losses(t);
	recording_warn_limits(&t->rec);
	rc = write_outputs(s, t);
	if (rc && !s->rc)
		s->rc = rc;
	gc_recording_free(&t->rec.gc);
	heap_timeline_free(&t->rec.heap);
	if (t->rec.alloc.enabled)
		alloc_recording_free(&t->rec.alloc);
	t->rec.alloc.enabled = false;
	json_decref(t->rec.program_stats);
	t->rec.program_stats = NULL;
	sampler_free(&t->sampler);
	t->written = true;
}

/*
 * Several targets: one that exits or execs ends while the others go on. Here
 * it stops counting and the session lets go of its probes; complete_ended()
 * then removes them, reads its counts and frees its map entries for the next
 * target. For a process that exited that is the writer's work, with its
 * outputs: removing perf-event probes takes a second or more on a busy host,
 * and meanwhile the others' new stacks must be named while their code objects
 * exist (a short program can run and exit within that second).
 */
static void target_end(struct session *s, struct target *t, const char *reason)
{
	/* its last collections and allocation sites */
	drain_ring(s);
	stop_counting(t, s, monotonic_ns());
	t->probes = bpf_session_release_target(&s->bpf, t->rec.pid);
	pthread_mutex_lock(&s->lock);
	t->rec.end_reason = reason;
	t->ended = true;
	pthread_mutex_unlock(&s->lock);
	if (!log_quiet)
		fprintf(stderr, "pyobjlife: PID %d: %s; %zu target%s still recorded\n",
			(int)t->rec.pid, reason, targets_recording(s),
			targets_recording(s) == 1 ? "" : "s");
}

/* An ended target's probes, counts and map entries (from the loop or the writer). */
static void complete_ended(struct session *s, struct target *t)
{
	uint64_t t0 = monotonic_ns();
	bool allocations = !t->probes || t->probes->allocations;

	bpf_target_destroy(t->probes);
	t->probes = NULL;
	if (!t->results_read)
		read_results(s, t);
	t->results_read = true;
	if (!t->cleared)
		bpf_session_clear_target(&s->bpf, t->rec.pid, allocations);
	t->cleared = true;
	pr_debug("%scompleted in %.1f ms", t->who, (monotonic_ns() - t0) / 1e6);
}

static void *writer_main(void *arg)
{
	struct session *s = arg;
	struct writer *w = &s->writer;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct target *t;

		while (w->head == w->n && !w->closing)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->head == w->n)
			break;
		t = w->queue[w->head++];
		pthread_mutex_unlock(&w->lock);
		complete_ended(s, t);
		pthread_mutex_lock(&w->lock);
		t->completed = true;
		pthread_cond_broadcast(&w->done);
		pthread_mutex_unlock(&w->lock);
		/* on stdout the reports come in order at the end */
		if (s->cli->n_outputs)
			write_and_release(s, t);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Hand an ended target to the writer; false when it cannot take it. */
static bool writer_take(struct session *s, struct target *t)
{
	struct writer *w = &s->writer;
	bool taken = false;

	if (!w->started) {
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->wake, NULL);
		pthread_cond_init(&w->done, NULL);
		w->started = !pthread_create(&w->thread, NULL, writer_main, s);
		if (!w->started)
			return false;
	}
	pthread_mutex_lock(&w->lock);
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct target **q = realloc(w->queue, cap * sizeof(*q));

		if (q) {
			w->queue = q;
			w->cap = cap;
		}
	}
	if (w->n < w->cap) {
		w->queue[w->n++] = t;
		t->queued = taken = true;
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return taken;
}

/*
 * Before a PID is registered again (a new child that got an exited one's PID):
 * the writer must have freed the old one's map entries.
 */
static void writer_wait_for_pid(struct session *s, pid_t pid)
{
	struct writer *w = &s->writer;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	for (size_t i = w->head ? w->head - 1 : 0; i < w->n;) {
		if (w->queue[i]->rec.pid == pid && !w->queue[i]->completed)
			pthread_cond_wait(&w->done, &w->lock);
		else
			i++;
	}
	pthread_mutex_unlock(&w->lock);
}

/* Every target handed over is written once this returns. */
static void writer_finish(struct session *s)
{
	struct writer *w = &s->writer;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->done);
	free(w->queue);
	w->queue = NULL;
	w->started = false;
}

/*
 * The targets that ended: through the writer while the recording goes on
 * (their files at once; on stdout, the reports come in order once it is over,
 * `at_end`, after writer_finish).
 */
static void write_ended(struct session *s, bool at_end)
{
	for (size_t i = 0; i < s->n_targets; i++) {
		struct target *t = s->targets[i];

		if (!t->ended || t->written || (!at_end && t->queued))
			continue;
		if (!at_end && writer_take(s, t))
			continue;
		if (t->probes || !t->results_read)
			complete_ended(s, t);
		if (at_end || s->cli->n_outputs)
			write_and_release(s, t);
	}
}

/* Why a target's recording is over, or NULL while it goes on. */
static const char *target_over(struct session *s, struct target *t)
{
	struct pollfd pfd = { .fd = t->pidfd, .events = POLLIN };

	/* following, the tracer reports every exec, held for the new program's probes */
	if (s->following)
		return t->exit_seen ? END_EXITED : NULL;
	/* BPF removed its configuration when it exec'd (a launched one's first exec is its own) */
	if (!bpf_session_target_registered(&s->bpf, t->rec.pid))
		return END_EXECD;
	if (t->origin == ORIGIN_LAUNCHED)
		return spawn_poll_exit(&s->child) ? END_EXITED : NULL;
	if (t->pidfd >= 0)
		return poll(&pfd, 1, 0) > 0 ? END_EXITED : NULL;
	return proc_state(t->rec.pid) != PROC_ALIVE ? END_EXITED : NULL;
}

/* Several targets: end those that exited or exec'd. */
static void end_finished_targets(struct session *s)
{
	for (size_t i = 0; i < s->n_targets; i++) {
		struct target *t = s->targets[i];
		const char *why;

		if (recording(t) && (why = target_over(s, t)))
			target_end(s, t, why);
	}
}

/* ---- following a launched command's children ---- */

static struct target *recorded_target(struct session *s, pid_t pid)
{
	return target_of(s, (uint32_t)pid);
}

/* A target forked: the child is a copy of its interpreter, held until its probes are in. */
static void on_fork(struct session *s, const struct follow_event *ev)
{
	struct target *parent = recorded_target(s, ev->parent), *t;

	/* a vfork child runs no Python until it execs; a non-Python's child has none */
	if (ev->shares_memory || !parent)
		return;
	writer_wait_for_pid(s, ev->pid);
	t = target_new(s, ev->pid, ORIGIN_FORK);
	if (!t) {
		pr_warn("PID %d (forked by %d) is not recorded: out of memory", (int)ev->pid,
			(int)ev->parent);
		return;
	}
	t->plan = parent->plan;
	t->mode = parent->mode;
	t->parent = ev->parent;
	if (py_target_move_to(&t->plan.target, ev->pid) || target_attach(s, t, false)) {
		pr_warn("PID %d (forked by %d) is not recorded: its probes could not be attached",
			(int)ev->pid, (int)ev->parent);
		bpf_session_forget_target(&s->bpf, ev->pid);
		target_drop_last(s);
		return;
	}
	open_first_window(t);
}

static bool same_file(const char *a, const char *b)
{
	struct stat x, y;

	return !stat(a, &x) && !stat(b, &y) && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/*
 * The old program of an exec'd process: its counts are read and its entries
 * freed now, before the new program registers under the same PID. Its probes
 * go now only if they are on the new program's file (they would count it);
 * otherwise nothing can hit them any more and the writer removes them.
 */
static void end_before_exec(struct session *s, struct target *old, const struct py_target *next)
{
	bool allocations;

	/* its last stacks are named from now on where they still exist: in its parent */
	pthread_mutex_lock(&s->lock);
	old->rec.alloc.own_memory_gone = true;
	pthread_mutex_unlock(&s->lock);
	target_end(s, old, END_EXECD);
	allocations = !old->probes || old->probes->allocations;
	read_results(s, old);
	old->results_read = true;
	bpf_session_clear_target(&s->bpf, old->rec.pid, allocations);
	old->cleared = true;
	if (next && same_file(old->plan.target.open_path, next->open_path)) {
		bpf_target_destroy(old->probes);
		old->probes = NULL;
	}
}

/* The Python a process of the tree exec'd, or -errno with `why` (-ENOEXEC: not CPython). */
static int discover_exec(struct session *s, pid_t pid, struct py_target *pt, char *exe, size_t cap,
			 char *why, size_t why_cap)
{
	struct discovery_opts o = { .debug_dir = s->cli->debug_dir };
	char link[64];
	ssize_t n;
	int r;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, exe, cap - 1);
	if (n <= 0)
		return -ESRCH;
	exe[n] = '\0';
	r = py_target_from_command(exe, &o, pt, why, why_cap);
	if (r == -ENOENT)
		r = -ENOEXEC;
	if (!r)
		r = py_target_check_supported(pt, why, why_cap);
	pt->pid = pid;
	return r;
}

/* A process of the tree exec'd: its old program's recording ends; a new Python is planned. */
static void on_exec(struct session *s, pid_t pid)
{
	struct target *old = recorded_target(s, pid), *t;
	char exe[PATH_MAX], why[512];
	struct py_target pt;
	int r;

	if (old && old->awaiting_exec) {
		/* the launched command's own start: its probes were attached for it */
		old->awaiting_exec = false;
		return;
	}
	r = discover_exec(s, pid, &pt, exe, sizeof(exe), why, sizeof(why));
	if (old)
		end_before_exec(s, old, r ? NULL : &pt);
	if (r == -ENOEXEC || r == -ESRCH) {
		pr_debug("PID %d exec'd %s: not CPython", (int)pid, r == -ESRCH ? "?" : exe);
		return;
	}
	if (r) {
		pr_warn("PID %d exec'd %s, not recorded: %s", (int)pid, exe, why);
		return;
	}
	writer_wait_for_pid(s, pid);
	t = target_new(s, pid, ORIGIN_EXEC);
	if (!t)
		return;
	if (plan_target(s, t, &pt, true, false) || target_attach(s, t, false)) {
		pr_warn("PID %d exec'd %s, not recorded: its probes could not be attached",
			(int)pid, exe);
		bpf_session_forget_target(&s->bpf, pid);
		target_drop_last(s);
		return;
	}
	open_first_window(t);
}

static void on_child_exit(struct session *s, const struct follow_event *ev)
{
	struct target *t = recorded_target(s, ev->pid);

	if (ev->pid == s->child.pid) {
		s->child.exited = true;
		s->child.status = ev->status;
	}
	if (t)
		t->exit_seen = true;
}

/* Forks, execs and exits of the tree: each held process runs on once it is handled. */
static void follow_children(struct session *s)
{
	struct signalfd_siginfo si;
	struct follow_event ev;
	int r;

	while (read(s->sigchld_fd, &si, sizeof(si)) == sizeof(si))
		;
	while ((r = follower_next(&s->follower, &ev)) > 0) {
		switch (ev.kind) {
		case FOLLOW_NEW_PROCESS:
			on_fork(s, &ev);
			follower_release(&s->follower, ev.pid);
			break;
		case FOLLOW_EXEC:
			on_exec(s, ev.pid);
			follower_release(&s->follower, ev.pid);
			break;
		case FOLLOW_EXIT:
			on_child_exit(s, &ev);
			break;
		}
	}
	if (r < 0)
		pr_warn("following the children failed: %s", strerror(-r));
}

/* The ring buffer's descriptor (or the consumer's) and SIGCHLD's, whichever comes first. */
static int wait_for_events(struct session *s, int timeout_ms)
{
	struct pollfd fds[2] = { { .fd = ring_buffer__epoll_fd(s->bpf.rb), .events = POLLIN },
				 { .fd = s->sigchld_fd, .events = POLLIN } };

	if (!s->consumer.started)
		return ring_buffer__poll(s->bpf.rb, timeout_ms);
	/* the consumer drains the ring: here only the tracer's news, or the time */
	if (poll(fds + 1, s->following, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/* ---- the session ---- */

static struct session_view view_of(struct session *s)
{
	struct target *t = shown_target(s);

	return (struct session_view){ .plan = &t->plan,
				      .bpf = &s->bpf,
				      .rec = &t->rec,
				      .elapsed_ns = monotonic_ns() - t->rec.gc.t0_ns };
}

static int observer_started(struct session *s)
{
	const struct session_observer *o = s->observer;
	struct session_view v;

	int rc;

	if (!o || !o->started || !s->n_targets)
		return 0;
	pthread_mutex_lock(&s->lock);
	v = view_of(s);
	rc = o->started(o->ctx, &v);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* The observer's reason to stop now, or NULL. */
static const char *observer_polled(struct session *s)
{
	const struct session_observer *o = s->observer;
	struct session_view v;

	const char *why;

	if (!o || !o->polled || !s->n_targets)
		return NULL;
	pthread_mutex_lock(&s->lock);
	v = view_of(s);
	why = o->polled(o->ctx, &v);
	pthread_mutex_unlock(&s->lock);
	return why;
}

static void observer_ended(struct session *s)
{
	const struct session_observer *o = s->observer;
	struct session_view v;

	if (!o || !o->ended || !s->n_targets)
		return;
	pthread_mutex_lock(&s->lock);
	v = view_of(s);
	v.rec->end_reason = v.rec->end_reason ? v.rec->end_reason : s->end_reason;
	o->ended(o->ctx, &v);
	pthread_mutex_unlock(&s->lock);
}

/* Why the session stops after this poll, or NULL to go on. */
static const char *stop_reason(struct session *s, uint64_t start, uint64_t limit)
{
	if (stop_signal)
		return "interrupted";
	if (limit && monotonic_ns() - start >= limit)
		return "duration elapsed";
	if (!s->many)
		return target_over(s, s->targets[0]) ?: observer_polled(s);
	/* several: on until none is left (following, until the whole tree is gone) */
	if (!targets_recording(s) && (!s->following || follower_done(&s->follower)))
		return "every target ended";
	return observer_polled(s);
}

/* What the loop does between two polls for each target still recorded. */
static void tick_targets(struct session *s)
{
	for (size_t i = 0; i < s->n_targets; i++) {
		struct target *t = s->targets[i];

		if (!recording(t))
			continue;
		/* open or close a sampling window when due */
		if (t->mode == MODE_SAMPLED)
			sampler_tick(&t->sampler, monotonic_ns());
		if (t->rec.alloc.enabled) {
			pthread_mutex_lock(&s->lock);
			alloc_recording_next_batch(&t->rec.alloc);
			pthread_mutex_unlock(&s->lock);
		}
		sample_heap(s, t, false);
	}
}

static int run_until_stopped(struct session *s)
{
	uint64_t start = monotonic_ns(), limit = (uint64_t)(s->cli->duration_s * 1e9);
	bool poll_failed = false;
	int err = 0, rc;

	if (s->many && consumer_start(s)) {
		pr_err("cannot start the ring buffer's reader: %s", strerror(EAGAIN));
		return EXIT_RUNTIME;
	}
	rc = observer_started(s);
	while (!rc) {
		/* the BPF side wakes us only when the ring fills: drain it every interval */
		err = wait_for_events(s, poll_timeout_ms(s));
		if (s->following)
			follow_children(s);
		tick_targets(s);
		if (err >= 0 && !s->consumer.started)
			err = ring_buffer__consume(s->bpf.rb);
		if (err >= 0 && s->consumer.started) {
			pthread_mutex_lock(&s->lock);
			err = s->consumer.err;
			pthread_mutex_unlock(&s->lock);
		}
		if (err < 0 && err != -EINTR) {
			s->end_reason = "ring buffer poll failed";
			poll_failed = true;
			break;
		}
		if (s->many) {
			end_finished_targets(s);
			write_ended(s, false);
		}
		s->end_reason = stop_reason(s, start, limit);
		if (s->end_reason)
			break;
	}
	/* a view that started is told, also on failure: it gives the terminal back first */
	if (s->end_reason)
		observer_ended(s);
	if (poll_failed) {
		pr_err("ring buffer poll failed: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	return rc;
}

/* The session ends: every target still recorded stops at the same instant. */
static void finish(struct session *s)
{
	/* the recording ends here; detaching uprobes takes ~100 ms each and is not part of it */
	uint64_t stop_ns = monotonic_ns();

	bpf_session_stop(&s->bpf);
	/* the tree runs on untraced: none of its processes waits for us while we write */
	if (s->following)
		follower_detach_all(&s->follower);
	for (size_t i = 0; i < s->n_targets; i++) {
		if (recording(s->targets[i]))
			stop_counting(s->targets[i], s, stop_ns);
	}
	bpf_session_detach(&s->bpf);
	/* records submitted before the detach are still in the ring */
	consumer_stop(s);
	ring_buffer__consume(s->bpf.rb);
	for (size_t i = 0; i < s->n_targets; i++) {
		struct target *t = s->targets[i];

		if (!recording(t))
			continue;
		read_results(s, t);
		t->results_read = true;
		t->rec.end_reason = s->end_reason;
		t->ended = true;
	}
	if (s->launched && s->child.exited && WIFEXITED(s->child.status) &&
	    WEXITSTATUS(s->child.status) == 127 &&
	    (!s->n_targets || !gc_recording_total_collections(&s->targets[0]->rec.gc)))
		pr_warn("the launched command exited with status 127 (could it run?)");
}

/* The targets still unwritten: those the session's end stopped. */
static int write_remaining(struct session *s)
{
	writer_finish(s);
	write_ended(s, true);
	if (s->many && !s->n_written)
		pr_warn("no CPython was recorded: nothing written");
	return s->rc;
}

static struct session *session_new(const struct cli *c)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s) {
		pr_err("out of memory");
		return NULL;
	}
	s->cli = c;
	pthread_mutex_init(&s->lock, NULL);
	s->live = c->cmd == CMD_GC;
	s->child.go_fd = -1;
	s->sigchld_fd = -1;
	s->mode = c->mode;
	s->launched = c->command_argv != NULL;
	s->many = cli_many_targets(c);
	s->following = c->follow_children && s->launched;
	return s;
}

/* Everything up to the probes in place: the checks, the plans, the signals, the attach. */
static int session_begin(struct session *s)
{
	/* privileges first: without them the target's maps are unreadable anyway */
	int rc = check_environment(s->cli);

	if (!rc)
		rc = discover_all(s);
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
	consumer_stop(s);
	writer_finish(s);
	if (s->following && s->follower.tasks)
		follower_detach_all(&s->follower);
	/* a held child never ran: end it; a released one is the user's and keeps running */
	if (s->child.pid > 0 && s->child.go_fd >= 0)
		spawn_abort(&s->child);
	bpf_session_close(&s->bpf);
	calibration_release();
	for (size_t i = 0; i < s->n_targets; i++)
		target_free(s->targets[i]);
	free(s->targets);
	if (s->sigchld_fd >= 0) {
		close(s->sigchld_fd);
		sigprocmask(SIG_SETMASK, &s->saved_mask, NULL);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int cmd_record(const struct cli *c)
{
	struct session *s = session_new(c);
	struct session_observer status;
	struct progress progress;
	int rc;

	if (!s)
		return EXIT_RUNTIME;
	rc = resolve_formats(s);
	if (!rc)
		rc = precheck_outputs(s);
	if (!rc && c->cmd == CMD_RECORD && progress_wanted())
		s->observer = progress_observer(&progress, &status);
	if (!rc)
		rc = session_begin(s);
	if (!rc)
		rc = run_until_stopped(s);
	if (!rc)
		finish(s);
	/* every probe is detached by now (finish), or is when the session is freed */
	if (!rc && !abandon_signal) {
		probes_removed = 1;
		rc = write_remaining(s);
	}
	session_free(s);
	end_if_abandoned();
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
	end_if_abandoned();
	return rc;
}
