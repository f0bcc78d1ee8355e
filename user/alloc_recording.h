/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The allocation side of a recording (full mode): the (stack, type) counts the
 * BPF programs kept, with every stack named while the target still has its
 * code objects, and the per-site and per-stack views the reports show.
 */
#ifndef PYOBJLIFE_ALLOC_RECORDING_H
#define PYOBJLIFE_ALLOC_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "code_symbolizer.h"
#include "lifecycle.h"
#include "pyobjlife.h"
#include "sampling.h"

struct resolved_stack {
	uint64_t id;
	int depth;	  /* frames kept, leaf first (incomplete frames are dropped) */
	bool truncated;	  /* deeper than the depth limit: root-side frames missing */
	bool unavailable; /* no stack: not stored (map full) or no thread state */
	struct code_location *frames;
};

/* One (stack, type) with its counts. */
struct alloc_row {
	const struct resolved_stack *stack;
	const char *type;	      /* tp_name, or "<type 0x...>" when unreadable */
	uint64_t allocations, bytes;  /* sampled mode: estimates, observed / ratio */
	uint64_t stack_id, type_addr; /* the BPF key */
	struct lifecycle_counts life;
	/* sampled mode: what the windows saw, and births still followed when theirs closed */
	uint64_t observed_allocations, observed_bytes;
	uint64_t censored, censored_bytes;
};

/* What makes two sites one: names are interned by the symbolizer, so equal names are equal
 * pointers. */
struct site_key {
	const char *file, *function, *type;
	int line;
};

/* A total order that puts equal sites next to each other. */
int site_key_compare(const struct site_key *a, const struct site_key *b);

/* One leaf site and type: the sum of the rows sharing them. */
struct alloc_site {
	const char *file, *function, *type;
	int line;
	uint64_t allocations, bytes;
	struct lifecycle_counts life;
	uint64_t observed_allocations, observed_bytes, censored, censored_bytes;
};

/* Collections triggered from one Python stack, in one generation. */
struct blame_row {
	const struct resolved_stack *stack;
	int generation;
	uint64_t collections, pause_ns;
};

/* The BPF maps a full-mode recording is read from. */
struct alloc_maps {
	int counts_fd, stacks_fd, live_fd, blame_fd, census_fd;
	int overflow_fd; /* counts by type alone, made when counts_fd was full */
};

struct alloc_recording {
	bool enabled;
	pid_t pid;
	/*
	 * A forked child's code objects and types are its parent's, at the same
	 * addresses: named from the parent's memory when the child's is gone
	 * (`own_memory_gone`: it exec'd) or unreadable (it exited).
	 */
	pid_t parent_pid;
	bool own_memory_gone;
	const char *method;   /* "birth" or "typed" */
	const char *coverage; /* what the hooks see and miss */
	uint32_t stack_depth;
	struct symbolizer sym;
	/*
	 * Bounded by the BPF maps, not by time: a stack is resolved once per id
	 * announced (one per new (stack, type) counter, --max-sites, or collection
	 * stack, gc_blame) or read at the end.
	 */
	void *stacks;	 /* tsearch tree of struct resolved_stack by id */
	void *key_types; /* tsearch tree: each announced (stack, type)'s type name */
	size_t n_stacks;
	uint64_t stack_bytes; /* what the resolved stacks take */
	struct alloc_row *rows;
	size_t n_rows;
	struct alloc_site *sites;
	size_t n_sites;
	struct alloc_agg agg;
	uint64_t total_allocations, total_bytes;
	uint64_t stacks_lost; /* stack ids whose frames could not be fetched from BPF */
	size_t overflow_rows; /* rows counted by type alone (the count map was full) */
	/* lifecycle */
	const char *lifecycle_coverage;	   /* which deallocators are hooked, what is followed */
	struct lifecycle_counts life;	   /* totals */
	uint64_t alive_generation_unknown; /* alive objects whose full-collection test failed */
	struct census_log census;
	struct blame_row *blame;
	size_t n_blame;
	uint64_t blame_total_collections;
	/*
	 * Sampled mode: allocations and bytes are estimates, the counts observed in
	 * the windows divided by `sampling_ratio` (set before collecting); lifecycle
	 * counts stay as observed. Objects a window still followed when it closed
	 * are censored: their lifetime was cut off, they are not deaths.
	 */
	bool sampled;
	double sampling_ratio;
	const struct sampler *sampler; /* the windows, for the "sampling" JSON */
	uint64_t observed_allocations, observed_bytes;
	void *censored;		/* tsearch tree of censored counts by (stack, type) */
	size_t n_censored_keys; /* its nodes: one per counted (stack, type) at most */
	uint64_t censored_total, censored_bytes;
	uint64_t censored_without_row; /* censored objects whose (stack, type) was not counted */
};

void alloc_recording_init(struct alloc_recording *r, pid_t pid, const struct frame_layout *l,
			  int minor, uint32_t stack_depth);
void alloc_recording_free(struct alloc_recording *r);

/* Before each batch of announcements: code objects are re-checked once per batch. */
void alloc_recording_next_batch(struct alloc_recording *r);

/* A new (stack, type) announced by BPF: its frames are named now (from copies, see below). */
void alloc_recording_on_key(struct alloc_recording *r, int stacks_fd,
			    const struct alloc_key_event *e, size_t size);

/* A new code object's copy (EV_CODE_SNAPSHOT): its stacks are named from it. */
void alloc_recording_on_code_snapshot(struct alloc_recording *r,
				      const struct code_snapshot_event *e, size_t size);

/* A census of one generation ended (EV_CENSUS): take its counts out of the map. */
void alloc_recording_on_census(struct alloc_recording *r, int census_fd,
			       const struct census_event *e, uint64_t t0_ns);

/* Sampled mode: an object its window still followed when it closed (see `censored`). */
void alloc_recording_add_censored(struct alloc_recording *r, const struct live_object *o);

/*
 * Names for a live view: the leaf frame a site is named after (the stack is
 * named now if it is new), and a type's name; valid until alloc_recording_free().
 */
const struct code_location *alloc_recording_leaf(struct alloc_recording *r, int stacks_fd,
						 uint64_t stack_id);
const char *alloc_recording_type_name(struct alloc_recording *r, uint64_t type);

/*
 * Read every count of the target, the objects still alive and the collections'
 * stacks; name what is left; build the rows and sites. 0 or -errno.
 */
int alloc_recording_collect(struct alloc_recording *r, const struct alloc_maps *m,
			    const struct gc_sequence *q);

#endif
