/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The ABI shared by the BPF programs and the userspace loader: per-target
 * configuration, in-kernel aggregates and ring buffer records. Only fixed-width
 * types, no pointers (addresses are __u64), widest fields first.
 */
#ifndef PYOBJLIFE_H
#define PYOBJLIFE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PYOBJLIFE_NUM_GENERATIONS 3
/* log2 buckets: bucket i holds values in [2^i, 2^(i+1)); bucket 0 also holds 0. */
#define PYOBJLIFE_HIST_BUCKETS	 64
#define PYOBJLIFE_MAX_TARGETS	 64
#define PYOBJLIFE_MAX_THREADS	 4096
#define PYOBJLIFE_DEF_RINGBUF_SZ (1u << 20)

/* Generation hint when the probe does not say which generation it collects. */
#define PYOBJLIFE_GEN_UNKNOWN (-2)

/*
 * How the BPF side finds a target's collector state. The interpreter is not
 * initialised yet when a launched command is attached, so the programs follow
 * the pointers at every collection instead of being handed a fixed address.
 */
struct target_cfg {
	__u64 runtime_vaddr;   /* link-time address of _PyRuntime */
	__u64 load_bias;       /* runtime address - link-time address, if bias_known */
	__u32 main_interp_off; /* _PyRuntime.interpreters.main (unused if gc_in_runtime) */
	__u32 gc_off;	       /* gc state in the main interpreter, or in _PyRuntime (3.8) */
	__u32 generations_off; /* gc state: generations[3] (PyGC_Head, threshold, count) */
	__u32 gen_stride;      /* sizeof(struct gc_generation) */
	__u32 gen_threshold_off;
	__u32 gen_count_off;
	__u32 stats_off;    /* gc state: generation_stats[3] */
	__u8 gc_in_runtime; /* CPython 3.8 keeps the gc state in _PyRuntime */
	__u8 bias_known;    /* load_bias is valid (userspace or a uprobe learned it) */
	__u8 pad[2];
};

/* struct gc_generation_stats, three Py_ssize_t per generation in every version. */
struct py_gen_stats {
	__s64 collections;
	__s64 collected;
	__s64 uncollectable;
};

struct gc_gen_agg {
	__u64 collections;
	__u64 collected;
	__u64 uncollectable;
	__u64 pause_total_ns;
	__u64 pause_max_ns;
	__u64 pause_hist[PYOBJLIFE_HIST_BUCKETS];
};

/* Per-target aggregate. Exact even when ring buffer records are lost. */
struct gc_agg {
	struct gc_gen_agg gen[PYOBJLIFE_NUM_GENERATIONS];
	__u64 ringbuf_drops;  /* collection records the ring buffer could not take */
	__u64 read_errors;    /* reads of the target's gc state that failed */
	__u64 not_ready;      /* collector entered before the interpreter existed */
	__u64 unmatched_ends; /* end without a start (attached mid-collection) */
	__u64 empty;	      /* collector returned without collecting (already running) */
	__u64 gen_mismatch;   /* probe's generation argument disagreed with the stats */
	__u64 inflight_full;  /* no room to remember a started collection */
	/*
	 * The interpreter's own counters before the first and after the last recorded
	 * collection: if no collection was missed in between, their difference equals
	 * the sum of what was recorded (the recording's self-check).
	 */
	struct py_gen_stats first_before[PYOBJLIFE_NUM_GENERATIONS];
	struct py_gen_stats last_after[PYOBJLIFE_NUM_GENERATIONS];
	__u64 recorded; /* collections accounted, so first_before is valid when > 0 */
};

enum pyobjlife_event_kind {
	EV_GC_COLLECTION = 1,
};

struct gc_event {
	__u32 kind; /* enum pyobjlife_event_kind */
	__u32 tgid;
	__u64 t_start_ns; /* CLOCK_MONOTONIC */
	__u64 pause_ns;
	__s64 collected;
	__s64 uncollectable;
	__s32 generation;
	__s32 gen_hint; /* what the probe said, PYOBJLIFE_GEN_UNKNOWN if nothing */
	__s32 counts[PYOBJLIFE_NUM_GENERATIONS];     /* generations[i].count at start */
	__s32 thresholds[PYOBJLIFE_NUM_GENERATIONS]; /* generations[i].threshold at start */
	__u32 tid;
	__u32 pad;
};

#endif /* PYOBJLIFE_H */
