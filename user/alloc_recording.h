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
#include "pyobjlife.h"

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
	const char *type; /* tp_name, or "<type 0x...>" when unreadable */
	uint64_t allocations, bytes;
};

/* One leaf site and type: the sum of the rows sharing them. */
struct alloc_site {
	const char *file, *function, *type;
	int line;
	uint64_t allocations, bytes;
};

struct alloc_recording {
	bool enabled;
	pid_t pid;
	const char *method;   /* "birth" or "typed" */
	const char *coverage; /* what the hooks see and miss */
	uint32_t stack_depth;
	struct symbolizer sym;
	void *stacks; /* tsearch tree of struct resolved_stack by id */
	size_t n_stacks;
	struct alloc_row *rows;
	size_t n_rows;
	struct alloc_site *sites;
	size_t n_sites;
	struct alloc_agg agg;
	uint64_t total_allocations, total_bytes;
	uint64_t stacks_lost; /* stack ids whose frames could not be fetched from BPF */
};

void alloc_recording_init(struct alloc_recording *r, pid_t pid, const struct frame_layout *l,
			  int minor, uint32_t stack_depth);
void alloc_recording_free(struct alloc_recording *r);

/* Before each batch of announcements: code objects are re-checked once per batch. */
void alloc_recording_next_batch(struct alloc_recording *r);

/* A new (stack, type) announced by BPF: name them now, while they exist. */
void alloc_recording_on_key(struct alloc_recording *r, int stacks_fd,
			    const struct alloc_key_event *e);

/* Read every count of the target, name what is left, build the rows and sites. 0 or -errno. */
int alloc_recording_collect(struct alloc_recording *r, int counts_fd, int stacks_fd);

#endif
