/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * What a recording costs pyobjlife and where its bounds are: its own memory
 * (/proc/self/status), what each structure that grows with the recording
 * holds and dropped at its bound, and each BPF map's size with the counter of
 * what did not fit it. Every bound reached is also a warning.
 */
#ifndef PYOBJLIFE_RESOURCES_H
#define PYOBJLIFE_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* pyobjlife's own memory, in bytes. */
struct memory_usage {
	bool known;
	uint64_t rss_bytes;	 /* VmRSS */
	uint64_t peak_rss_bytes; /* VmHWM: the most it was resident at once */
};

/* 0, or -errno when /proc/self/status cannot be read. */
int memory_usage_read(struct memory_usage *m);

/* One BPF map: what it holds at most (bytes for the ring buffer), what the kernel charges. */
struct bpf_map_size {
	uint32_t max_entries;
	uint64_t kernel_bytes; /* "memlock" of /proc/self/fdinfo: its memory now */
};

/*
 * --ringbuf-size (KiB, a power of two) with room for 4 times this backlog, and
 * for 4 of the largest record the recording's programs write.
 */
uint64_t ring_advised_kib(uint64_t peak_unread, uint64_t largest_record);

/* The maps that can fill up, as loaded (--max-stacks, --max-sites, ... applied). */
struct bpf_map_sizes {
	bool known;
	struct bpf_map_size events, gc_inflight, stacks, alloc_counts, live, typed_calls, census,
		gc_blame, blame_pending;
	uint64_t kernel_bytes;	   /* every map of the object, these and the fixed ones */
	uint64_t ring_peak_unread; /* the most bytes the ring buffer held unread */
};

/* What the kernel charges for a BPF map (its fd's "memlock"); 0 if it does not say. */
uint64_t bpf_map_kernel_bytes(int fd);

struct recording;

/* Entries each of the recording's timelines keeps (--max-timeline; 0: the default). */
void recording_set_timeline_limit(struct recording *r, size_t limit);

/* diagnostics.memory: pyobjlife's RSS and each growing structure's entries kept and dropped. */
json_t *recording_memory_json(const struct recording *r);

/* diagnostics.bpf_maps: each map's size and what its being full cost. */
json_t *recording_bpf_maps_json(const struct recording *r);

/*
 * One warning per bound reached or record lost that cmd_record's own warnings
 * do not already name (those cover the collection ring buffer drops, unreadable
 * collections, the count and stack maps full and the self-check).
 */
void recording_warn_limits(const struct recording *r);

#endif
