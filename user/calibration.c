// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "array_sort.h"
#include "calibration.h"
#include "calibrate.skel.h"
#include "proc.h"

/* Calls per timed round, per class: a few thousand hits in all, ~0.1 s together. */
#define ROUNDS		  5
#define BASELINE_CALLS	  20000
#define EMULATED_CALLS	  2000
#define SINGLE_STEP_CALLS 500
#define WARMUP_CALLS	  16 /* the first hits map the out-of-line area: not timed */
/* uprobe-cost-model.md, section 1 (6.18, Firecracker, AMD EPYC) */
#define REFERENCE_EMULATED_NS 690.0
#define REFERENCE_SSTEP_NS    9800.0

/*
 * The probed functions. Their first instruction is the class measured, and
 * assembly guarantees it: `push %rbp` (55) is emulated, a rip-relative load
 * (48 8b 05) is single-stepped (the kernel even rewrites its addressing first).
 */
__asm__(".pushsection .text\n"
	".p2align 4\n"
	".globl pyobjlife_calib_emulated\n"
	".hidden pyobjlife_calib_emulated\n"
	".type pyobjlife_calib_emulated, @function\n"
	"pyobjlife_calib_emulated:\n"
	"	push %rbp\n"
	"	pop %rbp\n"
	"	lea 1(%rdi), %rax\n"
	"	ret\n"
	".size pyobjlife_calib_emulated, .-pyobjlife_calib_emulated\n"
	".p2align 4\n"
	".globl pyobjlife_calib_single_step\n"
	".hidden pyobjlife_calib_single_step\n"
	".type pyobjlife_calib_single_step, @function\n"
	"pyobjlife_calib_single_step:\n"
	"	mov pyobjlife_calib_one(%rip), %rax\n"
	"	add %rdi, %rax\n"
	"	ret\n"
	".size pyobjlife_calib_single_step, .-pyobjlife_calib_single_step\n"
	".popsection\n"
	".pushsection .rodata\n"
	".p2align 3\n"
	"pyobjlife_calib_one: .quad 1\n"
	".popsection\n");

long pyobjlife_calib_emulated(long x);
long pyobjlife_calib_single_step(long x);

struct target {
	enum probe_cost_class cls;
	long (*fn)(long);
	const uint8_t *expect; /* its first bytes, checked before attaching */
	size_t expect_len;
	unsigned calls; /* per round */
};

static const uint8_t push_rbp[] = { 0x55 };
static const uint8_t mov_rip_rax[] = { 0x48, 0x8b, 0x05 };

static const struct target targets[] = {
	{ PROBE_COST_EMULATED, pyobjlife_calib_emulated, push_rbp, sizeof(push_rbp),
	  EMULATED_CALLS },
	{ PROBE_COST_SINGLE_STEP, pyobjlife_calib_single_step, mov_rip_rax, sizeof(mov_rip_rax),
	  SINGLE_STEP_CALLS },
};
#define N_TARGETS (sizeof(targets) / sizeof(targets[0]))

static struct calibration current;
static bool have_current;

/* The background detach of the last run's probes. */
static pthread_t detacher;
static bool detaching;

struct probes {
	struct calibrate_bpf *skel;
	struct bpf_link *links[N_TARGETS];
};

static volatile long sink;

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double wall_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Nanoseconds of this thread's CPU time per call of fn. */
static double ns_per_call(long (*fn)(long), unsigned calls)
{
	long (*volatile call)(long) = fn;
	uint64_t t0 = thread_cpu_ns();
	long acc = 0;

	for (unsigned i = 0; i < calls; i++)
		acc += call((long)i);
	sink = acc;
	return (double)(thread_cpu_ns() - t0) / calls;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	array_sort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct mapping_query {
	uint64_t addr;
	uint64_t file_offset;
	char path[PATH_MAX];
	bool found;
};

static int find_code_mapping(const struct proc_mapping *m, void *ctx)
{
	struct mapping_query *q = ctx;

	if (q->addr < m->start || q->addr >= m->end || m->perms[2] != 'x')
		return 0;
	q->file_offset = q->addr - m->start + m->offset;
	/* our own binary replaced on disk since we started: probe the mapped one */
	if (!m->deleted)
		snprintf(q->path, sizeof(q->path), "%s", m->path);
	else if (proc_mapped_file_path(getpid(), m, q->path, sizeof(q->path)))
		return 0;
	q->found = true;
	return 1;
}

static int attach_target(struct probes *pr, const struct target *t, size_t i, char *why, size_t cap)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = t->cls);
	struct mapping_query q = { .addr = (uint64_t)(uintptr_t)t->fn };
	int err;

	if (memcmp((const void *)t->fn, t->expect, t->expect_len)) {
		snprintf(why, cap,
			 "the %s calibration function does not start as built (is "
			 "another tool probing pyobjlife?)",
			 probe_cost_class_name(t->cls));
		return -EINVAL;
	}
	err = proc_for_each_mapping(getpid(), find_code_mapping, &q);
	if (err < 0 || !q.found) {
		snprintf(why, cap, "cannot find pyobjlife's own code in /proc/self/maps");
		return err < 0 ? err : -ENOENT;
	}
	pr->links[i] = bpf_program__attach_uprobe_opts(pr->skel->progs.uprobe__calibrate, getpid(),
						       q.path, q.file_offset, &uo);
	if (!pr->links[i]) {
		err = -errno;
		snprintf(why, cap, "cannot attach the calibration probe to %s: %s", q.path,
			 strerror(-err));
		return err;
	}
	return 0;
}

static void destroy_probes(struct probes *pr)
{
	for (size_t i = 0; i < N_TARGETS; i++)
		bpf_link__destroy(pr->links[i]);
	calibrate_bpf__destroy(pr->skel);
	free(pr);
}

/* Detaching a uprobe waits ~0.1 s for the kernel: not on the recording's time. */
static void *detach_in_background(void *arg)
{
	destroy_probes(arg);
	return NULL;
}

static void release_probes(struct probes *pr)
{
	calibration_release();
	if (pthread_create(&detacher, NULL, detach_in_background, pr)) {
		destroy_probes(pr);
		return;
	}
	detaching = true;
}

void calibration_release(void)
{
	if (!detaching)
		return;
	pthread_join(detacher, NULL);
	detaching = false;
}

static bool wanted(const struct target *t, unsigned classes)
{
	return classes & CALIBRATION_CLASS_BIT(t->cls);
}

/* Time every wanted target, rounds interleaved so a noisy moment hits them all. */
static void time_rounds(unsigned classes, double per_call[N_TARGETS][ROUNDS])
{
	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < N_TARGETS; i++) {
			if (wanted(&targets[i], classes))
				per_call[i][r] = ns_per_call(targets[i].fn, targets[i].calls);
		}
	}
}

static int measure(struct probes *pr, unsigned classes, struct calibration *out, char *why,
		   size_t cap)
{
	double base[N_TARGETS][ROUNDS], probed[N_TARGETS][ROUNDS];
	int err;

	for (size_t i = 0; i < N_TARGETS; i++) {
		if (wanted(&targets[i], classes))
			for (int r = 0; r < ROUNDS; r++)
				base[i][r] = ns_per_call(targets[i].fn, BASELINE_CALLS);
	}
	for (size_t i = 0; i < N_TARGETS; i++) {
		if (wanted(&targets[i], classes) &&
		    (err = attach_target(pr, &targets[i], i, why, cap)))
			return err;
	}
	for (size_t i = 0; i < N_TARGETS; i++) {
		if (wanted(&targets[i], classes)) {
			ns_per_call(targets[i].fn, WARMUP_CALLS);
			out->calls += WARMUP_CALLS + (unsigned long)ROUNDS * targets[i].calls;
		}
	}
	time_rounds(classes, probed);
	for (size_t i = 0; i < N_TARGETS; i++) {
		enum probe_cost_class c = targets[i].cls;

		if (!wanted(&targets[i], classes))
			continue;
		out->hits += pr->skel->bss->hits[c];
		out->ns_per_hit[c] = median(probed[i], ROUNDS) - median(base[i], ROUNDS);
		out->measured[c] = true;
	}
	if (out->hits != out->calls) {
		snprintf(why, cap, "the calibration probes counted %lu hits for %lu calls",
			 out->hits, out->calls);
		return -EIO;
	}
	return 0;
}

int calibration_run(unsigned classes, struct calibration *out, char *why, size_t cap)
{
	struct probes *pr = calloc(1, sizeof(*pr));
	struct timespec t0;
	int err;

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!pr) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	pr->skel = calibrate_bpf__open_and_load();
	if (!pr->skel) {
		err = -errno;
		snprintf(why, cap, "cannot load the calibration BPF program: %s", strerror(-err));
		free(pr);
		return err;
	}
	err = measure(pr, classes, out, why, cap);
	out->wall_ms = wall_ms_since(&t0);
	release_probes(pr);
	if (err) {
		memset(out->measured, 0, sizeof(out->measured));
		return err;
	}
	current = *out;
	have_current = true;
	return 0;
}

double calibration_measured_ns(const struct calibration *c, enum probe_cost_class k)
{
	if (!c || k <= PROBE_COST_UNKNOWN || k > PROBE_COST_SINGLE_STEP || !c->measured[k])
		return 0;
	return c->ns_per_hit[k];
}

bool calibration_has_run(void)
{
	return have_current;
}

double calibration_cost_ns(enum probe_cost_class c)
{
	double ns = have_current ? calibration_measured_ns(&current, c) : 0;

	if (ns > 0)
		return ns;
	return c == PROBE_COST_EMULATED ? REFERENCE_EMULATED_NS : REFERENCE_SSTEP_NS;
}

static json_t *ns_or_null(const struct calibration *c, enum probe_cost_class k)
{
	return c->measured[k] ? json_real(c->ns_per_hit[k]) : json_null();
}

json_t *calibration_to_json(const struct calibration *c)
{
	if (!c)
		return json_null();
	return json_pack("{s:o, s:o, s:I, s:I, s:f}", "emulated_ns_per_hit",
			 ns_or_null(c, PROBE_COST_EMULATED), "single_step_ns_per_hit",
			 ns_or_null(c, PROBE_COST_SINGLE_STEP), "calls", (json_int_t)c->calls,
			 "hits", (json_int_t)c->hits, "wall_ms", c->wall_ms);
}
