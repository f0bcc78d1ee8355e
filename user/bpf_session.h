/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The loaded BPF object and its links: open and load the skeleton once, then
 * register targets (configuration and aggregate map entries) and attach their
 * probes; detach everything on teardown.
 */
#ifndef PYOBJLIFE_BPF_SESSION_H
#define PYOBJLIFE_BPF_SESSION_H

#include <stdint.h>
#include <sys/types.h>
#include "pyobjlife.h"
#include "alloc_recording.h"
#include "probe_plan.h"
#include "sampling.h"
#include "resources.h"

#define BPF_SESSION_MAX_LINKS 128
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

struct bpf_session {
	struct pyobjlife_bpf *skel;
	struct bpf_link *links[BPF_SESSION_MAX_LINKS];
	int n_links;
	struct ring_buffer *rb;
	/* sampled mode: the window's probes, attached and detached again and again */
	enum window_link window_link;
	pid_t window_pid;
	const struct probe_plan *window_plan;
	bool window_attached;
	int window_first_link; /* perf-event links from this index on are the window's */
	int window_fds[BPF_SESSION_MAX_WINDOW_FDS];
	int n_window_fds;
	struct alloc_recording *window_alloc; /* where censored objects are counted */
	int run_stats_fd; /* > 0 while the kernel measures BPF run time for sampled mode */
};

struct bpf_session_opts {
	const char *btf_path; /* kernel BTF file for kernels without /sys/kernel/btf/vmlinux */
	unsigned ringbuf_bytes;
	unsigned max_stacks; /* 0: the object's default */
	unsigned max_sites;
	unsigned max_live; /* objects followed at once */
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
 * Sampled mode. A window's probes: every allocation, deallocator and typed
 * return probe of the plan, attached once per window. Attach returns the
 * probes attached or -errno. The gate lets them count and follow objects;
 * detach returns once no probe of the window can run any more.
 */
int bpf_session_window_attach(struct bpf_session *s);
int bpf_session_window_gate(struct bpf_session *s, bool open);
void bpf_session_window_detach(struct bpf_session *s);
/* Probe sites a window attaches. */
unsigned bpf_session_window_sites(const struct probe_plan *p);
/*
 * After a window's detach: every object it still follows is passed to fn
 * (its lifetime was cut off by the window's end) and forgotten, so a later
 * death at a reused address is not taken for its death. 0 or -errno.
 */
int bpf_session_window_censor(struct bpf_session *s,
			      void (*fn)(void *ctx, const struct live_object *o), void *ctx,
			      uint64_t *censored);
uint64_t bpf_session_live_capacity(const struct bpf_session *s);

/* The window scheduler's hands on this session; censored objects are counted in `alloc`. */
struct sampler_ops bpf_session_sampler_ops(struct bpf_session *s, struct alloc_recording *alloc);

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
