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

/* Python stacks: walked leaf first, at most this deep (the runtime limit is lower) */
#define PYOBJLIFE_MAX_STACK_DEPTH 128
#define PYOBJLIFE_DEF_STACK_DEPTH 64
/* one bulk read covers the fields of a frame we need */
#define PYOBJLIFE_FRAME_READ_MAX 128
/* the most one read of a few fields of a struct covers (a thread state's, a type's) */
#define PYOBJLIFE_SPAN_READ_MAX 512
/* the BPF side bounds a span's length with a mask */
_Static_assert((PYOBJLIFE_SPAN_READ_MAX & (PYOBJLIFE_SPAN_READ_MAX - 1)) == 0,
	       "PYOBJLIFE_SPAN_READ_MAX must be a power of two");
#define PYOBJLIFE_OFF_NONE 0xffffffffu

/* How a frame says where it is in its bytecode. */
enum pyobjlife_instr_kind {
	INSTR_LASTI_BYTES = 1, /* int f_lasti, a byte offset (3.8, 3.9) */
	INSTR_LASTI_UNITS = 2, /* int f_lasti, in 2-byte code units (3.10) */
	INSTR_POINTER = 3,     /* pointer into the code object's bytecode (3.11+) */
};

/* Object lifetimes: log2 buckets of nanoseconds, the last one open-ended (~78 hours). */
#define PYOBJLIFE_LIFETIME_BUCKETS 48
/* Generations of the latest collections, for objects born during a collection. */
#define PYOBJLIFE_GC_RING  256
#define PYOBJLIFE_GEN_NONE 0xff
/* Deallocators whose calls end the objects followed (subtype_dealloc, list_dealloc, ...). */
#define PYOBJLIFE_MAX_DEALLOCS 8
/* types counted apart when the count map is full */
#define PYOBJLIFE_MAX_OVERFLOW_TYPES 8192
/* window probes on single-stepped instructions whose hits are counted apart */
#define PYOBJLIFE_MAX_SINGLE_STEP 8

/* Generation hint when the probe does not say which generation it collects. */
#define PYOBJLIFE_GEN_UNKNOWN (-2)

/*
 * How the BPF side finds the thread state of the thread holding the GIL and
 * walks its Python frames (see user/frame_layout.h for each field's meaning).
 * PYOBJLIFE_OFF_NONE marks a field the version does not have.
 */
struct stack_walk_cfg {
	__u64 preheader_flags;	/* tp_flags with a 16-byte managed pre-header (3.11+) */
	__u64 size_unset_flags; /* tp_flags whose size is not set at birth (int, 3.12+) */
	__u32 tstate_current_off;
	__u32 interp_gil_ptr_off;
	__u32 gil_last_holder_off;
	__u32 interp_threads_head_off;
	__u32 tstate_next_off;
	__u32 tstate_thread_id_off;
	__u32 tstate_frame_off;
	__u32 cframe_current_off;
	/* 3.11+: the data stack chunk holding the innermost frames, and its top */
	__u32 tstate_datastack_chunk_off;
	__u32 tstate_datastack_top_off;
	/*
	 * The thread state's fields above are read in one span from span_lo to the
	 * u64 at span_hi (userspace leaves the data stack fields out, both, where
	 * the span would reach PYOBJLIFE_SPAN_READ_MAX; a longer span fails its read
	 * and the thread id is read alone).
	 */
	__u32 tstate_span_lo;
	__u32 tstate_span_hi;
	__u32 frame_code_off;
	__u32 frame_previous_off;
	__u32 frame_instr_off;
	__u32 frame_owner_off;
	__u32 frame_size;
	__u32 code_adaptive_off;
	__u32 code_filename_off; /* co_name follows it */
	/* a new code object's snapshot (struct code_snapshot_event) also copies these */
	__u32 code_qualname_off; /* PYOBJLIFE_OFF_NONE before 3.11 */
	__u32 code_linetable_off;
	__u32 bytes_data_off; /* a bytes object's first byte of data (ob_size is its size) */
	__u32 ob_type_off;
	__u32 ob_size_off;
	__u32 tp_basicsize_off; /* tp_itemsize follows it */
	__u32 tp_flags_off;
	__u32 tp_dealloc_off; /* right after tp_itemsize (checked by userspace) */
	__u32 tp_name_off;    /* a class's name is copied into its first notice */
	__u32 max_depth;      /* <= PYOBJLIFE_MAX_STACK_DEPTH */
	__u8 instr_kind;      /* enum pyobjlife_instr_kind */
	__u8 owner_skip_from;
	/* 3.11+: a thread's frames lie next to each other in its data stack, callers below */
	__u8 frames_stacked;
	__u8 pad;
};

/*
 * How the BPF side finds a target's collector state. The interpreter is not
 * initialised yet when a launched command is attached, so the programs follow
 * the pointers at every collection instead of being handed a fixed address.
 */
struct target_cfg {
	/*
	 * Link-time addresses of the deallocators pyobjlife has hooked (0 = unused):
	 * an object is followed to its death only if its type's tp_dealloc is one of
	 * them, so every death of a followed object is seen.
	 */
	__u64 followed_deallocs[PYOBJLIFE_MAX_DEALLOCS];
	/*
	 * Cookies (link-time addresses) of the window probes that sit on a
	 * single-stepped instruction (0 = unused): their hits cost ~30 times an
	 * emulated one's, and sampled mode's budget counts them apart.
	 */
	__u64 single_step_cookies[PYOBJLIFE_MAX_SINGLE_STEP];
	__u64 runtime_vaddr;   /* link-time address of _PyRuntime */
	__u64 load_bias;       /* runtime address - link-time address, if bias_known */
	__u32 main_interp_off; /* _PyRuntime.interpreters.main (unused if gc_in_runtime) */
	__u32 gc_off;	       /* gc state in the main interpreter, or in _PyRuntime (3.8) */
	__u32 generations_off; /* gc state: generations[3] (PyGC_Head, threshold, count) */
	__u32 gen_stride;      /* sizeof(struct gc_generation) */
	__u32 gen_threshold_off;
	__u32 gen_count_off;
	__u32 stats_off; /* gc state: generation_stats[3] */
	struct stack_walk_cfg walk;
	__u8 gc_in_runtime; /* CPython 3.8 keeps the gc state in _PyRuntime */
	__u8 bias_known;    /* load_bias is valid (userspace or a uprobe learned it) */
	__u8 lifecycle;	    /* full mode: follow objects, census, GC blame */
	/*
	 * Allocation and deallocation probes count and follow objects only while
	 * this is set: always in full mode, during a window in sampled mode (their
	 * hits are counted either way, for the overhead estimate).
	 */
	__u8 window_open;
	/* the target's index in the per-target arrays (alloc_aggs, gc_aggs), < MAX_TARGETS */
	__u8 slot;
	/* unique per registration (an exec'd program is registered anew): caches key on it */
	__u32 generation;
};

/*
 * The ordered sequence of one interpreter's collections, numbered from 1 in
 * start order (they never overlap). An object's generation at death follows
 * from the collections that started after its birth and ended before its death.
 */
struct gc_sequence {
	__u64 started;			       /* number of the latest collection started */
	__u64 ended;			       /* number of the latest collection ended */
	__u64 young_plus;		       /* ended collections of generation >= 1 */
	__u64 full;			       /* ended collections of generation 2 */
	__u64 census_seq;		       /* censuses taken */
	__u64 census_young_ns, census_full_ns; /* when the last ones were taken */
	__u8 gen_of[PYOBJLIFE_GC_RING];	       /* collection n's generation at [n % RING] */
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
	/* collections started and not yet ended (several interpreters may overlap) */
	__u64 collections_running;
	/*
	 * The interpreter's own counters before the first and after the last recorded
	 * collection: if no collection was missed in between, their difference equals
	 * the sum of what was recorded (the recording's self-check).
	 */
	struct py_gen_stats first_before[PYOBJLIFE_NUM_GENERATIONS];
	struct py_gen_stats last_after[PYOBJLIFE_NUM_GENERATIONS];
	__u64 recorded; /* collections accounted, so first_before is valid when > 0 */
	struct gc_sequence seq;
	__u64 census_truncated; /* census walks cut at census_max_objects or a full map */
	__u64 census_lost;	/* census notices the ring buffer could not take */
	__u64 blame_full;	/* collections whose triggering stack found no room */
};

#define PY_STACK_TRUNCATED 1u /* deeper than max_depth: the root-side frames are missing */

/* A Python stack, stored once per distinct stack in the `stacks` map. */
struct py_stack {
	__u32 depth;
	__u32 flags;				/* PY_STACK_* */
	__u64 code[PYOBJLIFE_MAX_STACK_DEPTH];	/* code object addresses, leaf first */
	__u32 instr[PYOBJLIFE_MAX_STACK_DEPTH]; /* byte offset of the current instruction */
	/*
	 * pyobjlife_code_tag() of each code object when the stack was first seen: a code
	 * object freed before userspace names it, its address reused, shows as a mismatch.
	 */
	__u32 code_tag[PYOBJLIFE_MAX_STACK_DEPTH];
};

/*
 * Identity of a code object: its co_filename, co_name and line table pointers
 * (within 32 bytes of each other in every version): a function compiled at a
 * freed one's address from the same source gets a new line table object.
 */
static inline __u32 pyobjlife_code_tag(__u64 filename, __u64 name, __u64 linetable)
{
	__u64 t = filename ^ (name << 1) ^ (linetable << 2);

	return (__u32)(t ^ (t >> 32)) | 1; /* never 0: 0 means "not read" */
}

/* the tag's fields are read at once: co_filename up to the line table pointer's end */
#define PYOBJLIFE_TAG_SPAN 32

/* Allocations counted per (stack, type) of one target; stack_id 0 = stack not stored. */
struct alloc_key {
	__u64 stack_id;
	__u64 type; /* address of the type object */
	__u32 tgid;
	__u32 pad;
};

struct alloc_count {
	__u64 allocations;
	__u64 bytes;
	/* lifecycle (full mode): objects whose deallocator is hooked are followed */
	__u64 followed;
	__u64 deallocations;
	__u64 cycle_collected; /* freed on the collecting thread while it collected */
	__u64 died_in_gen[PYOBJLIFE_NUM_GENERATIONS]; /* GC objects only */
	__u64 died_gen_unknown; /* born in a collection whose generation is unknown */
	__u32 lifetime_hist[PYOBJLIFE_LIFETIME_BUCKETS];
};

/* One followed object, from its birth to its death; what is left at the end is alive. */
struct live_key {
	__u64 addr;
	__u32 tgid;
	__u32 pad;
};

struct live_object {
	__u64 stack_id;
	__u64 type;
	__u64 birth_ns;
	__u64 size;
	__u32 started_at_birth;	   /* gc_sequence.started when it was born */
	__u32 young_plus_at_birth; /* gc_sequence.young_plus when it was born */
	__u32 full_at_birth;	   /* gc_sequence.full when it was born */
	__u8 gc_type;		   /* Py_TPFLAGS_HAVE_GC: it has a generation */
	__u8 born_in_collection;   /* collection `started_at_birth` had not ended */
	__u8 slot;		   /* its target's target_cfg.slot: a death needs no tgid lookup */
	__u8 pad;
};

_Static_assert(PYOBJLIFE_MAX_TARGETS <= 256, "a target's slot is kept in a __u8");

/*
 * Collection `n`'s generation counts for an object born during collection `n`
 * in none of the sums below, though the sequence's totals include it: how
 * many of `kind` (1: generation >= 1, 2: generation 2) to add to the count
 * taken at the birth. -1 when that collection is no longer remembered.
 */
static inline int pyobjlife_born_during(const struct live_object *o, const struct gc_sequence *q,
					int kind)
{
	__u8 g;

	if (!o->born_in_collection)
		return 0;
	if ((__u32)q->ended - o->started_at_birth >= PYOBJLIFE_GC_RING)
		return -1;
	g = q->gen_of[o->started_at_birth % PYOBJLIFE_GC_RING];
	if (g == PYOBJLIFE_GEN_NONE)
		return -1;
	return g >= kind;
}

/*
 * The generation an object was in when it died (`q` as it is at the death).
 * Collecting generation g moves every survivor of generations 0..g to g+1,
 * capped at 2: an object is in generation 0 until a collection that started
 * after its birth ends, then in 1, and in 2 once any collection of generation
 * >= 1 it lived through has ended. -1 when that cannot be told.
 */
static inline int pyobjlife_generation_at_death(const struct live_object *o,
						const struct gc_sequence *q)
{
	int during;

	if ((__s32)((__u32)q->ended - (o->started_at_birth + 1)) < 0)
		return 0;
	during = pyobjlife_born_during(o, q, 1);
	if (during < 0)
		return -1;
	return (__u32)q->young_plus - (o->young_plus_at_birth + during) > 0 ? 2 : 1;
}

/*
 * Whether an object alive at the end (`q` as it is then) lived through a
 * generation-2 collection that started after its birth. -1 if unknown.
 */
static inline int pyobjlife_survived_full(const struct live_object *o, const struct gc_sequence *q)
{
	int during;

	if ((__s32)((__u32)q->ended - (o->started_at_birth + 1)) < 0)
		return 0;
	during = pyobjlife_born_during(o, q, 2);
	if (during < 0)
		return -1;
	return (__u32)q->full - (o->full_at_birth + during) > 0;
}

/* Collections by the Python stack that triggered them, per generation. */
struct blame_key {
	__u64 stack_id;
	__u32 tgid;
	__u32 generation;
};

struct blame_value {
	__u64 collections;
	__u64 pause_ns;
};

/* Live GC-tracked objects of one type in one generation, in census number `seq`. */
struct census_key {
	__u64 type;
	__u32 seq;
	__u32 tgid;
	__u32 generation;
	__u32 pad;
};

/* Per-target allocation tracing health: every allocation not counted is counted here. */
struct alloc_agg {
	__u64 allocations;	   /* probe hits attributed to a (stack, type) */
	__u64 no_thread;	   /* no thread state for the allocating thread */
	__u64 thread_walks;	   /* the GIL holder was not the current thread: list walked */
	__u64 read_errors;	   /* target memory unreadable (object, type or frame) */
	__u64 walk_busy;	   /* preempted programs held every walk scratch of the CPU */
	__u64 truncated;	   /* stacks deeper than the depth limit */
	__u64 stacks_full;	   /* stack map full: counted under stack_id 0 */
	__u64 counts_full;	   /* count map full: counted by type alone (alloc_overflow) */
	__u64 overflow_full;	   /* of those, not even by type: the overflow map was full too */
	__u64 key_events_lost;	   /* new-key notices the ring buffer could not take */
	__u64 code_snapshots;	   /* code objects copied for naming (EV_CODE_SNAPSHOT) */
	__u64 code_snapshots_lost; /* copies the ring buffer could not take */
	/* lifecycle */
	__u64 followed;	       /* births put in the live map */
	__u64 unfollowed_type; /* births of types whose deallocator is not hooked */
	__u64 live_full;       /* births not followed: the live map was full */
	__u64 typed_unpaired;  /* typed allocator returns without their entry */
	__u64 deaths;	       /* followed objects seen dying */
	__u64 reborn;	       /* a birth at the address of a followed object (a move) */
	__u64 arenas_allocated;
	__u64 arenas_freed;
	/* probe hits, window open or not: what the allocation probes cost the target */
	__u64 hits_alloc;	/* allocator or birth entry probes */
	__u64 hits_dealloc;	/* deallocator probes */
	__u64 hits_return;	/* typed allocator return probes */
	__u64 hits_single_step; /* of the entry hits, those on single-stepped instructions */
};

/* One thread's user time, as the task iterator writes it (sampled mode's work measure). */
struct user_time_record {
	__u32 tgid;
	__u32 tid;
	__u64 utime_ns; /* the group leader's includes the exited threads' */
};

enum pyobjlife_event_kind {
	EV_GC_COLLECTION = 1,
	EV_ALLOC_KEY = 2,
	EV_CENSUS = 3,
	EV_CODE_SNAPSHOT = 4,
};

/*
 * What a code object's name and lines are read from, copied by the BPF side the
 * first time a stored stack holds it: its header and a window at the start of
 * each object the header points to. Userspace names the code object from this
 * copy, so the name is right however late it reads, even after the code object
 * (or the whole process) is gone. A name longer than its window is not
 * copied, a line table longer than the large window is cut (see
 * user/code_symbolizer.c).
 */
#define PYOBJLIFE_SNAP_HEADER	256
#define PYOBJLIFE_SNAP_FILENAME 256
#define PYOBJLIFE_SNAP_NAME	128
/* a line table is copied whole up to this (object header included)... */
#define PYOBJLIFE_SNAP_TABLE_SMALL 1024
/* ...or in a larger record up to this (long functions, module bodies) */
#define PYOBJLIFE_SNAP_TABLE_LARGE 16384

enum pyobjlife_snap_part {
	SNAP_HEADER,
	SNAP_FILENAME,
	SNAP_NAME,
	SNAP_QUALNAME,
	SNAP_LINETABLE,
	SNAP_PARTS,
};

/*
 * A part's whole window was read, or (the next page not mapped: an object near
 * the end of its arena) only up to the end of its page.
 */
#define SNAP_COPIED_FULL(part)	      (1u << (part))
#define SNAP_COPIED_TO_PAGE_END(part) (1u << ((part) + 8))
#define PYOBJLIFE_SNAP_PAGE	      4096u

struct code_snapshot_event {
	__u32 kind; /* EV_CODE_SNAPSHOT */
	__u32 tgid;
	__u64 code;
	__u32 tag;    /* pyobjlife_code_tag(), as the stacks holding this code object carry it */
	__u32 copied; /* SNAP_COPIED_*(part): how much of each part was read */
	__u64 addr[SNAP_PARTS]; /* where each part was read from (the header's pointers) */
	__u8 header[PYOBJLIFE_SNAP_HEADER];
	__u8 filename[PYOBJLIFE_SNAP_FILENAME];
	__u8 name[PYOBJLIFE_SNAP_NAME];
	__u8 qualname[PYOBJLIFE_SNAP_NAME];
	__u32 linetable_window; /* bytes of linetable[]: a PYOBJLIFE_SNAP_TABLE_* */
	__u32 linetable_copied; /* of which copied: the table's object, whole or cut */
	__u8 linetable[];	/* the line table's bytes object from its start, whole or cut */
};

/* A census of one generation is complete: its counts are in the census map. */
struct census_event {
	__u32 kind; /* EV_CENSUS */
	__u32 tgid;
	__u64 t_ns; /* CLOCK_MONOTONIC */
	__u32 seq;
	__u32 generation;
	__u64 objects;
	__u32 truncated;
	__u32 pad;
};

/* a class's tp_name copied into its first (stack, type) notice, NUL included */
#define PYOBJLIFE_TYPE_NAME_MAX 128

/*
 * A (stack, type) counted for the first time: userspace names the stack (from
 * the code objects' copies) and the type. Once per key, never per allocation.
 */
struct alloc_key_event {
	__u32 kind; /* EV_ALLOC_KEY */
	__u32 tgid;
	__u64 stack_id;
	__u64 type;
	/*
	 * The type's tp_name, NUL included, in a record PYOBJLIFE_TYPE_NAME_MAX
	 * bytes longer: userspace may read the notice after a class was freed and
	 * another made at its address, or after the process exited. 0 for no type
	 * and when the name could not be read.
	 */
	__u32 type_name_len;
	__u32 pad;
	char type_name[];
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
