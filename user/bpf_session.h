/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The loaded BPF object and its links: open and load the skeleton once, then
 * register targets (configuration and aggregate map entries) and attach their
 * probes; detach everything on teardown.
 */
#ifndef PYOBJLIFE_BPF_SESSION_H
#define PYOBJLIFE_BPF_SESSION_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include "pyobjlife.h"
#include "alloc_recording.h"
#include "probe_plan.h"
#include "user_time.h"
#include "sampling.h"
#include "resources.h"

/* uprobe_multi links of a sampled window: one per program */
#define BPF_SESSION_MAX_WINDOW_FDS 8

/* How sampled mode attaches and detaches a window's probes. */
enum window_link {
	WINDOW_LINK_NONE,	  /* no windows: gc or full mode */
	WINDOW_LINK_UPROBE_MULTI, /* one uprobe_multi link per program (Linux 6.6+) */
	WINDOW_LINK_PERF_EVENT,	  /* one perf-event uprobe link per probe (slow to detach) */
};

struct pyobjlife_bpf;
struct ring_buffer;
struct bpf_link;
struct bpf_session;

struct bpf_links {
	struct bpf_link **v;
	int n, cap;
};

/* One target's probes: those attached for the whole recording, and its sampled windows. */
struct bpf_target {
	struct bpf_session *session;
	pid_t pid;
	const struct probe_plan *plan;
	struct bpf_links links;
	bool allocations; /* full or sampled mode: it has entries in the allocation maps */
	/* sampled mode: the window's probes, attached and detached again and again */
	bool windowed;
	bool window_attached;
	struct bpf_links window_links; /* perf-event links of the open window */
	int window_fds[BPF_SESSION_MAX_WINDOW_FDS];
	int n_window_fds;
	struct alloc_recording *window_alloc; /* where censored objects are counted */
	struct bpf_link *user_time_iter;      /* sampled mode: reads the target's user time */
	bool user_time_filtered;	      /* the kernel shows it the target's threads only */
};

/*
 * One BPF object for every target of a recording: the maps are keyed by tgid,
 * each target has its own configuration, aggregates and probes (attached with
 * its PID as the filter).
 */
struct bpf_session {
	struct pyobjlife_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *exec_link; /* a target's exec removes its configuration */
	struct bpf_target **targets;
	int n_targets, cap_targets;
	enum window_link window_link;
	/* > 0 while the kernel measures BPF run time for sampled mode; -1: it cannot */
	int run_stats_fd;
	/* several targets: the programs' run time is theirs together (sampled mode models it) */
	bool programs_shared;
	/*
	 * The process whose aggregates each slot of alloc_aggs and gc_aggs holds
	 * (0: free). Taken by the main loop, freed by the writer, read by progress.
	 */
	pid_t slot_pid[PYOBJLIFE_MAX_TARGETS];
	pthread_mutex_t slot_lock;
	uint32_t registrations; /* target_cfg.generation of the last one */
};

struct bpf_session_opts {
	const char *btf_path; /* kernel BTF file for kernels without /sys/kernel/btf/vmlinux */
	unsigned ringbuf_bytes;
	unsigned max_stacks; /* 0: the object's default */
	unsigned max_sites;
	unsigned sites_scale; /* no max_sites: the object's default times this (targets sharing) */
	unsigned max_live;    /* objects followed at once */
	/* census of live GC objects at collections (full mode) */
	uint64_t census_young_interval_ns, census_full_interval_ns;
	unsigned census_max_objects;
	/* sampled mode: decided before load (uprobe_multi programs load as such) */
	enum window_link window_link;
};

struct bpf_attach_opts {
	bool allocations; /* full mode: the plan's allocation probes too */
	bool windowed;	  /* sampled mode: allocation probes in windows (bpf_session_window_*) */
	unsigned stack_depth; /* Python frames kept per stack */
	bool before_exec;     /* a launched command held before its exec: that exec is expected */
};

/* Open and load; 0 or -errno. */
int bpf_session_open(struct bpf_session *s, const struct bpf_session_opts *o);

/* Add a target: map entries, then its probes. Returns the probes attached or -errno. */
int bpf_session_attach(struct bpf_session *s, pid_t pid, const struct probe_plan *p,
		       const struct bpf_attach_opts *o);

/* Ring buffer consumer calling fn(ctx, data, size) per record. */
int bpf_session_ringbuf(struct bpf_session *s, int (*fn)(void *ctx, void *data, size_t size),
			void *ctx);

int bpf_session_read_agg(struct bpf_session *s, pid_t pid, struct gc_agg *out);
int bpf_session_read_alloc_agg(struct bpf_session *s, pid_t pid, struct alloc_agg *out);
/* The maps a full-mode recording is read from. */
struct alloc_maps bpf_session_alloc_maps(const struct bpf_session *s);
int bpf_session_stacks_fd(const struct bpf_session *s);

/*
 * Sampled mode. A target's window probes: every allocation, deallocator and
 * typed return probe of its plan, attached once per window, through the
 * sampler's operations (bpf_session_sampler_ops). The gate lets them count and
 * follow objects; detach returns once no probe of the window can run any more;
 * censor passes every object the window still follows to the recording (its
 * lifetime was cut off by the window's end) and forgets it.
 */
/* Probe sites a window attaches. */
unsigned bpf_session_window_sites(const struct probe_plan *p);
uint64_t bpf_session_live_capacity(const struct bpf_session *s);

/* The window scheduler's hands on target `pid`; censored objects are counted in `alloc`. */
struct sampler_ops bpf_session_sampler_ops(struct bpf_session *s, pid_t pid,
					   struct alloc_recording *alloc);

/* Whether the target's configuration is still in place: false once it exec'd (BPF removed it). */
bool bpf_session_target_registered(struct bpf_session *s, pid_t pid);
/*
 * Forget a target whose recording was read: its probes, then its map entries
 * (configuration, aggregates, counts, followed objects, census, blame), so the
 * PID can be registered again (after an exec) and the maps' room serves other
 * targets. The same in steps: release (the session no longer knows it, from
 * the thread that attaches), destroy (its probes, from any thread: a process
 * that exited cannot hit them), clear (its entries, from any thread, once its
 * recording is read).
 */
void bpf_session_forget_target(struct bpf_session *s, pid_t pid);
struct bpf_target *bpf_session_release_target(struct bpf_session *s, pid_t pid);
void bpf_target_destroy(struct bpf_target *t);
void bpf_session_clear_target(struct bpf_session *s, pid_t pid, bool allocations);

/* Take no new collections and let running ones finish (bounded wait). */
void bpf_session_stop(struct bpf_session *s);
/* Remove every probe; the maps stay readable. */
void bpf_session_detach(struct bpf_session *s);

/*
 * {"program": {"runs", "run_time_ns", "ns_per_run"}} for each program that ran, as
 * the kernel measured it; the kernel counts only while kernel.bpf_stats_enabled=1,
 * so the object is empty otherwise.
 */
json_t *bpf_session_program_stats_json(const struct bpf_session *s);
/* Each map's size as loaded (--max-stacks, --max-sites, ... applied). */
void bpf_session_map_sizes(const struct bpf_session *s, struct bpf_map_sizes *out);
void bpf_session_close(struct bpf_session *s);

#endif
