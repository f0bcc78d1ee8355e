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

#define BPF_SESSION_MAX_LINKS 128

struct pyobjlife_bpf;
struct ring_buffer;
struct bpf_link;

struct bpf_session {
	struct pyobjlife_bpf *skel;
	struct bpf_link *links[BPF_SESSION_MAX_LINKS];
	int n_links;
	struct ring_buffer *rb;
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
};

struct bpf_attach_opts {
	bool allocations;     /* full mode: the plan's allocation probes too */
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

/* Take no new collections and let running ones finish (bounded wait). */
void bpf_session_stop(struct bpf_session *s);
/* Remove every probe; the maps stay readable. */
void bpf_session_detach(struct bpf_session *s);
void bpf_session_close(struct bpf_session *s);

#endif
