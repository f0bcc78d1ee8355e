// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Garbage collector probes. A collection is bracketed by a start probe (USDT
 * python:gc__start, or an entry uprobe on the collector function) and an end
 * probe (USDT python:gc__done, or a return probe). At both ends the programs
 * read the interpreter's own generation_stats, so what they record is exactly
 * what gc.get_stats() reports: the generation whose `collections` moved, and
 * the deltas of `collected` and `uncollectable` (gc__done only passes their sum,
 * and compiler clones of the collector do not keep the source signature).
 *
 * Allocation probes (full mode) count each new object under its Python stack
 * and type in BPF maps: stacks are stored once by id, counts per (stack, type),
 * nothing per allocation goes through the ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "compat.bpf.h"
#include "pyobjlife.h"
#include "py_stack.bpf.h"
#include "uprobe_multi_abi.h"

/* uprobe_multi_abi.h restates what the old system <linux/bpf.h> lacks: check it here */
#define SAME_OFFSET(field)                                                                         \
	(__builtin_offsetof(union bpf_attr, link_create.uprobe_multi.field) ==                     \
	 __builtin_offsetof(struct pyobjlife_uprobe_multi_attr, field))
_Static_assert(BPF_TRACE_UPROBE_MULTI == PYOBJLIFE_BPF_TRACE_UPROBE_MULTI, "attach type");
_Static_assert(BPF_F_UPROBE_MULTI_RETURN == PYOBJLIFE_BPF_F_UPROBE_MULTI_RETURN, "return flag");
_Static_assert(__builtin_offsetof(union bpf_attr, link_create.attach_type) ==
		       __builtin_offsetof(struct pyobjlife_uprobe_multi_attr, attach_type),
	       "attach_type");
_Static_assert(SAME_OFFSET(path) && SAME_OFFSET(offsets) && SAME_OFFSET(ref_ctr_offsets) &&
		       SAME_OFFSET(cookies) && SAME_OFFSET(cnt) && SAME_OFFSET(pid),
	       "uprobe_multi attribute layout");
_Static_assert(__builtin_offsetof(union bpf_attr, link_create.uprobe_multi.flags) ==
		       __builtin_offsetof(struct pyobjlife_uprobe_multi_attr, um_flags),
	       "uprobe_multi flags");

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* set by userspace before load: a quarter of the ring buffer */
const volatile __u64 ringbuf_wakeup_bytes = PYOBJLIFE_DEF_RINGBUF_SZ / 4;

/* set by userspace before detaching: no new collection starts are taken */
volatile __u32 stopping;

/* census of live GC objects at collection starts (full mode); 0 interval = every collection */
const volatile __u64 census_young_interval_ns = 1000000000ull;
const volatile __u64 census_full_interval_ns = 10000000000ull;
const volatile __u32 census_max_objects = 1000000;
/* sampled mode: probes come and go in windows; hit counts and the gate matter only then */
const volatile bool windowed = false;

struct gc_inflight {
	__u64 t_start_ns;
	__u64 gc_addr;
	struct py_gen_stats before[PYOBJLIFE_NUM_GENERATIONS];
	__s32 counts[PYOBJLIFE_NUM_GENERATIONS];
	__s32 thresholds[PYOBJLIFE_NUM_GENERATIONS];
	__s32 gen_hint;
	__u32 refused; /* the start could not be read: its end is dropped silently */
	__u64 index;   /* number in the interpreter's collection sequence */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PYOBJLIFE_MAX_TARGETS);
	__type(key, __u32); /* tgid */
	__type(value, struct target_cfg);
} targets SEC(".maps");

/*
 * Per target, by target_cfg.slot (userspace gives each target a slot and zeroes
 * it): the verifier inlines an array lookup, where a hash lookup costs ~40 ns on
 * every allocation and death.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PYOBJLIFE_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct gc_agg);
} gc_aggs SEC(".maps");

static __always_inline struct gc_agg *gc_agg_of(__u32 slot)
{
	return bpf_map_lookup_elem(&gc_aggs, &slot);
}

/*
 * Targets registered before their exec (a launched command, held until its
 * probes are in place): the next exec of each is the one expected.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PYOBJLIFE_MAX_TARGETS);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} exec_expected SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PYOBJLIFE_MAX_THREADS);
	__type(key, __u32); /* tid of the collecting thread */
	__type(value, struct gc_inflight);
} gc_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PYOBJLIFE_DEF_RINGBUF_SZ);
} events SEC(".maps");

/* the stack that started the collection running on this thread (tid), for its end */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PYOBJLIFE_MAX_THREADS);
	__type(key, __u32);
	__type(value, __u64);
} blame_pending SEC(".maps");

static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/* Address of the main interpreter's gc state, 0 if it does not exist yet. */
static __always_inline __u64 gc_state_addr(const struct target_cfg *cfg, __u64 bias)
{
	__u64 runtime = cfg->runtime_vaddr + bias;
	__u64 interp = 0;

	if (cfg->gc_in_runtime)
		return runtime + cfg->gc_off;
	if (bpf_probe_read_user(&interp, sizeof(interp), (void *)(runtime + cfg->main_interp_off)))
		return 0;
	return interp ? interp + cfg->gc_off : 0;
}

static __always_inline int read_stats(const struct target_cfg *cfg, __u64 gc,
				      struct py_gen_stats *stats)
{
	return bpf_probe_read_user(stats, sizeof(struct py_gen_stats) * PYOBJLIFE_NUM_GENERATIONS,
				   (void *)(gc + cfg->stats_off));
}

static __always_inline void read_thresholds(const struct target_cfg *cfg, __u64 gc,
					    struct gc_inflight *fl)
{
	/* threshold and count are adjacent ints in struct gc_generation (checked in userspace) */
	__s32 pair[2];

#pragma unroll
	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++) {
		__u64 at = gc + cfg->generations_off + (__u64)i * cfg->gen_stride +
			   cfg->gen_threshold_off;

		if (bpf_probe_read_user(pair, sizeof(pair), (void *)at)) {
			fl->thresholds[i] = -1;
			fl->counts[i] = -1;
			continue;
		}
		fl->thresholds[i] = pair[0];
		fl->counts[i] = pair[1];
	}
}

/* Remember that this thread's collection is not followed, so its end is not "unmatched". */
static __always_inline void refuse(struct gc_agg *agg, __u32 tid, __u64 *counter)
{
	struct gc_inflight fl = { .refused = 1 };

	__sync_fetch_and_add(counter, 1);
	if (bpf_map_update_elem(&gc_inflight, &tid, &fl, BPF_ANY))
		__sync_fetch_and_add(&agg->inflight_full, 1);
}

static __always_inline int gc_begin(__s32 gen_hint, __u64 learned_bias, bool bias_learned)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct gc_inflight fl = {};
	struct target_cfg *cfg;
	struct gc_agg *agg;
	__u64 bias;

	if (stopping)
		return 0;
	cfg = bpf_map_lookup_elem(&targets, &tgid);
	agg = cfg ? gc_agg_of(cfg->slot) : NULL;
	if (!cfg || !agg)
		return 0;
	if (bias_learned) {
		bias = learned_bias;
	} else if (cfg->bias_known) {
		bias = cfg->load_bias;
	} else {
		refuse(agg, tid, &agg->not_ready);
		return 0;
	}
	fl.gc_addr = gc_state_addr(cfg, bias);
	if (!fl.gc_addr) {
		refuse(agg, tid, &agg->not_ready);
		return 0;
	}
	if (read_stats(cfg, fl.gc_addr, fl.before)) {
		refuse(agg, tid, &agg->read_errors);
		return 0;
	}
	read_thresholds(cfg, fl.gc_addr, &fl);
	fl.gen_hint = gen_hint;
	fl.index = __sync_fetch_and_add(&agg->seq.started, 1) + 1;
	fl.t_start_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&gc_inflight, &tid, &fl, BPF_ANY)) {
		__sync_fetch_and_add(&agg->inflight_full, 1);
		/* its end will not be seen: objects born during it get no generation from it */
		agg->seq.gen_of[fl.index % PYOBJLIFE_GC_RING] = PYOBJLIFE_GEN_NONE;
		return 0;
	}
	__sync_fetch_and_add(&agg->collections_running, 1);
	return 0;
}

static __always_inline void account(struct gc_gen_agg *g, __u64 pause, __s64 collected,
				    __s64 uncollectable)
{
	__u32 b = log2_bucket(pause);

	__sync_fetch_and_add(&g->collections, 1);
	__sync_fetch_and_add(&g->collected, collected);
	__sync_fetch_and_add(&g->uncollectable, uncollectable);
	__sync_fetch_and_add(&g->pause_total_ns, pause);
	/* collections of one interpreter are serialised by its `collecting` flag */
	if (pause > g->pause_max_ns)
		g->pause_max_ns = pause;
	if (b < PYOBJLIFE_HIST_BUCKETS)
		__sync_fetch_and_add(&g->pause_hist[b], 1);
}

/*
 * The most data the ring held unread when a record was submitted: how close it
 * came to losing records, from which userspace advises a size. Racy between
 * CPUs, which at worst misses a peak by one record.
 */
__u64 ring_peak_unread;

/*
 * A wakeup per record costs the probed thread a cross-CPU reschedule (measured
 * ~25 us per collection here): wake only when the ring fills; userspace drains it
 * every poll interval anyway.
 */
static __always_inline void submit_lazily(void *record)
{
	__u64 unread = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	if (unread > ring_peak_unread)
		ring_peak_unread = unread;
	bpf_ringbuf_submit(record,
			   unread > ringbuf_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline void emit(const struct gc_inflight *fl, struct gc_agg *agg, __u32 tgid,
				 __u32 tid, int gen, __u64 pause, __s64 collected,
				 __s64 uncollectable)
{
	struct gc_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&agg->ringbuf_drops, 1);
		return;
	}
	e->kind = EV_GC_COLLECTION;
	e->tgid = tgid;
	e->tid = tid;
	e->pad = 0;
	e->t_start_ns = fl->t_start_ns;
	e->pause_ns = pause;
	e->collected = collected;
	e->uncollectable = uncollectable;
	e->generation = gen;
	e->gen_hint = fl->gen_hint;
#pragma unroll
	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++) {
		e->counts[i] = fl->counts[i];
		e->thresholds[i] = fl->thresholds[i];
	}
	submit_lazily(e);
}

static __always_inline void lifecycle_collection_end(const struct target_cfg *cfg,
						     struct gc_agg *agg, __u32 tgid, __u32 tid,
						     int gen, __u64 pause);

/* The collection took its number at its start: record how it ended, if it did. */
static __always_inline void sequence_end(struct gc_sequence *q, __u64 index, int gen)
{
	q->gen_of[index % PYOBJLIFE_GC_RING] = gen >= 0 ? gen : PYOBJLIFE_GEN_NONE;
	if (gen >= 1)
		q->young_plus++;
	if (gen == 2)
		q->full++;
	/* last, so a death that sees `ended` also sees the counters it covers */
	q->ended = index;
}

static __always_inline int gc_end(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct py_gen_stats after[PYOBJLIFE_NUM_GENERATIONS];
	struct gc_inflight *fl;
	struct target_cfg *cfg;
	struct gc_agg *agg;
	__u64 pause;
	int gen = -1;

	cfg = bpf_map_lookup_elem(&targets, &tgid);
	agg = cfg ? gc_agg_of(cfg->slot) : NULL;
	if (!cfg || !agg)
		return 0;
	fl = bpf_map_lookup_elem(&gc_inflight, &tid);
	if (!fl) {
		/* while stopping, starts are refused on purpose */
		if (!stopping)
			__sync_fetch_and_add(&agg->unmatched_ends, 1);
		goto forget_blame;
	}
	if (fl->refused)
		goto out;
	__sync_fetch_and_sub(&agg->collections_running, 1);
	pause = bpf_ktime_get_ns() - fl->t_start_ns;
	if (read_stats(cfg, fl->gc_addr, after)) {
		__sync_fetch_and_add(&agg->read_errors, 1);
		sequence_end(&agg->seq, fl->index, -1);
		goto out;
	}
#pragma unroll
	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++) {
		if (after[i].collections != fl->before[i].collections)
			gen = i;
	}
	if (gen < 0 || gen >= PYOBJLIFE_NUM_GENERATIONS) {
		__sync_fetch_and_add(&agg->empty, 1);
		sequence_end(&agg->seq, fl->index, -1);
		goto out;
	}
	if (fl->gen_hint >= 0 && fl->gen_hint != gen)
		__sync_fetch_and_add(&agg->gen_mismatch, 1);
	{
		__s64 collected = after[gen].collected - fl->before[gen].collected;
		__s64 uncollectable = after[gen].uncollectable - fl->before[gen].uncollectable;

		account(&agg->gen[gen], pause, collected, uncollectable);
		/* collections of one interpreter never overlap: plain copies are safe */
		if (!agg->recorded)
			__builtin_memcpy(agg->first_before, fl->before, sizeof(agg->first_before));
		__builtin_memcpy(agg->last_after, after, sizeof(agg->last_after));
		__sync_fetch_and_add(&agg->recorded, 1);
		sequence_end(&agg->seq, fl->index, gen);
		if (cfg->lifecycle)
			lifecycle_collection_end(cfg, agg, tgid, tid, gen, pause);
		emit(fl, agg, tgid, tid, gen, pause, collected, uncollectable);
	}
out:
	bpf_map_delete_elem(&gc_inflight, &tid);
forget_blame:
	/* a collection not accounted leaves its triggering stack behind: not for the next one */
	if (cfg->lifecycle)
		bpf_map_delete_elem(&blame_pending, &tid);
	return 0;
}

SEC("usdt")
int BPF_USDT(usdt__gc_start, int generation)
{
	return gc_begin(generation, 0, false);
}

/* its argument (collected + uncollectable) is not fetched: the stats give both */
SEC("usdt")
int BPF_USDT(usdt__gc_done)
{
	return gc_end();
}

/*
 * The attach cookie is the probe's link-time address, so the load bias comes
 * from the trapping address: this works for a launched command too, whose
 * libpython is mapped only after exec.
 */
SEC("uprobe")
int uprobe__gc_collect(struct pt_regs *ctx)
{
	__u64 bias = PT_REGS_IP(ctx) - bpf_get_attach_cookie(ctx);

	return gc_begin(PYOBJLIFE_GEN_UNKNOWN, bias, true);
}

SEC("uretprobe")
int uretprobe__gc_collect(struct pt_regs *ctx)
{
	return gc_end();
}

/* ---- allocations ---- */

#ifndef EEXIST
#define EEXIST 17
#endif
#define TPFLAGS_HAVE_GC	  (1ull << 14) /* every version */
#define PY_GC_HEAD_SIZE	  16
#define PY_PREHEADER_SIZE 16

/* per target, by target_cfg.slot, as gc_aggs */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PYOBJLIFE_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct alloc_agg);
} alloc_aggs SEC(".maps");

static __always_inline struct alloc_agg *alloc_agg_of(__u32 slot)
{
	return bpf_map_lookup_elem(&alloc_aggs, &slot);
}

/*
 * Sized by userspace (--max-stacks). A working set, not a record: userspace reads
 * each stack when its first (stack, type) is announced and keeps it, so an LRU map
 * lets the stacks of a burst (start-up imports make ~20,000 distinct ones) give way
 * to the program's steady ones instead of filling the map for the whole recording.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* stack id */
	__type(value, struct py_stack);
} stacks SEC(".maps");

/* sized by userspace (--max-sites) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct alloc_key);
	__type(value, struct alloc_count);
} alloc_counts SEC(".maps");

/* A code object already copied for naming: (address, tag, the target's registration). */
struct snapped_key {
	__u64 code;
	__u32 tag;
	__u32 generation;
};

/*
 * Code objects copied once each (EV_CODE_SNAPSHOT). An LRU: one that gives way is
 * copied again when a new stack holds it, which costs a copy, never a name.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, struct snapped_key);
	__type(value, __u8);
} snapped_codes SEC(".maps");

/*
 * Allocations whose (stack, type) counter could not be made (alloc_counts full),
 * by type alone (stack_id 0): the per-type totals stay whole on long, varied runs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PYOBJLIFE_MAX_OVERFLOW_TYPES);
	__type(key, struct alloc_key);
	__type(value, struct alloc_count);
} alloc_overflow SEC(".maps");

#define TPFLAGS_HEAPTYPE (1ull << 9) /* every version */

/* tp_basicsize, tp_itemsize, tp_dealloc and tp_flags: one read of the type where they are close */
static __always_inline int read_type_head_from(const struct stack_walk_cfg *w,
					       struct walk_scratch *sc, __u64 type,
					       struct type_head *ts)
{
	__u32 lo = w->tp_basicsize_off;

	if (!read_span(sc, type, lo, w->tp_flags_off)) {
		ts->basicsize = (__s64)span_u64(sc, lo, lo);
		ts->itemsize = (__s64)span_u64(sc, lo, lo + 8);
		ts->dealloc = span_u64(sc, lo, lo + 16);
		ts->flags = span_u64(sc, lo, w->tp_flags_off);
		return 0;
	}
	ts->flags = 0;
	if (bpf_probe_read_user(ts, 3 * sizeof(__u64), (void *)(type + lo)) ||
	    bpf_probe_read_user(&ts->flags, sizeof(ts->flags), (void *)(type + w->tp_flags_off)))
		return -1;
	return 0;
}

/*
 * The type's head, from this CPU's cache when the type is a static one (tuple,
 * float, dict...: most allocations). A static type lives in a loaded module's
 * data for the life of the process and its size, deallocator and GC flag never
 * change, so its entry needs no invalidation. A heap type (a class) can be freed
 * and another made at its address: it is read every time. The cache lives in
 * the claimed scratch, so no other program writes an entry while it is read.
 */
static __always_inline int read_type_head(const struct stack_walk_cfg *w, struct walk_scratch *sc,
					  __u64 type, __u32 generation, struct type_head *ts)
{
	__u32 i = (__u32)((type >> 4) ^ (type >> 12)) & (PY_TYPE_CACHE_SLOTS - 1);
	struct type_cache_entry *e = &sc->types[i];

	if (e->type == type && e->generation == generation) {
		*ts = e->head;
		return 0;
	}
	if (read_type_head_from(w, sc, type, ts))
		return -1;
	if (!(ts->flags & TPFLAGS_HEAPTYPE)) {
		e->type = type;
		e->generation = generation;
		e->head = *ts;
	}
	return 0;
}

/*
 * The object's size as sys.getsizeof() reports it: the type's basic size, its
 * items, and the headers the allocator put in front of it (PyGC_Head, and the
 * managed dict/weakref pre-header of 3.11+). -1 when the type is unreadable.
 */
static __always_inline __s64 object_size(const struct stack_walk_cfg *w, struct walk_scratch *sc,
					 __u32 generation, __u64 type, __u64 op, __s64 nitems,
					 bool have_nitems, struct type_head *th)
{
	struct type_head ts;
	__u64 flags;
	__s64 size;

	if (read_type_head(w, sc, type, generation, &ts))
		return -1;
	flags = ts.flags;
	*th = ts;
	if (ts.itemsize && !have_nitems && op && !(flags & w->size_unset_flags)) {
		if (bpf_probe_read_user(&nitems, sizeof(nitems), (void *)(op + w->ob_size_off)))
			nitems = 0;
		have_nitems = true;
	}
	if (!have_nitems || nitems < 0 || nitems > (1ll << 40))
		nitems = 0;
	size = ts.basicsize + ts.itemsize * nitems;
	if (flags & TPFLAGS_HAVE_GC)
		size += PY_GC_HEAD_SIZE;
	if (flags & w->preheader_flags)
		size += PY_PREHEADER_SIZE;
	return size;
}

/* Reserve and fill a notice with room for `name_room` bytes of the type's name. */
static __always_inline struct alloc_key_event *key_notice(const struct alloc_key *key,
							  const __u32 name_room)
{
	struct alloc_key_event *e = bpf_ringbuf_reserve(&events, sizeof(*e) + name_room, 0);

	if (!e)
		return NULL;
	e->kind = EV_ALLOC_KEY;
	e->tgid = key->tgid;
	e->stack_id = key->stack_id;
	e->type = key->type;
	e->type_name_len = 0;
	e->pad = 0;
	return e;
}

/* `tp_name_off`: where the type holds its name; PYOBJLIFE_OFF_NONE for no type */
static __always_inline void announce_key(struct alloc_agg *agg, const struct alloc_key *key,
					 __u32 tp_name_off)
{
	struct alloc_key_event *e;
	long n;

	if (tp_name_off == PYOBJLIFE_OFF_NONE || !key->type) {
		e = key_notice(key, 0);
	} else {
		e = key_notice(key, PYOBJLIFE_TYPE_NAME_MAX);
		if (e) {
			n = bpf_probe_read_user_str(e->type_name, PYOBJLIFE_TYPE_NAME_MAX,
						    (void *)read_user_u64(key->type + tp_name_off));
			e->type_name_len = n > 0 ? n : 0;
		}
	}
	if (!e) {
		__sync_fetch_and_add(&agg->key_events_lost, 1);
		return;
	}
	/* its code objects were copied when the stack was stored: naming can wait */
	submit_lazily(e);
}

/*
 * The count map is full: the allocation is counted under its type alone. `init`
 * is the caller's new counter (one allocation, its bytes): the stack is full.
 */
static __always_inline void count_by_type(struct alloc_agg *agg, const struct alloc_key *key,
					  const struct alloc_count *init,
					  const struct target_cfg *cfg)
{
	struct alloc_key k = { .tgid = key->tgid, .type = key->type };
	struct alloc_count *c;

	__sync_fetch_and_add(&agg->counts_full, 1);
	c = bpf_map_lookup_elem(&alloc_overflow, &k);
	if (!c) {
		if (!bpf_map_update_elem(&alloc_overflow, &k, init, BPF_NOEXIST)) {
			/* a notice without a stack: the type's name, as for a new site */
			announce_key(agg, &k, cfg->walk.tp_name_off);
			return;
		}
		c = bpf_map_lookup_elem(&alloc_overflow, &k);
		if (!c) {
			__sync_fetch_and_add(&agg->overflow_full, 1);
			return;
		}
	}
	__sync_fetch_and_add(&c->allocations, 1);
	__sync_fetch_and_add(&c->bytes, init->bytes);
}

static __always_inline __u64 store_stack(struct alloc_agg *agg, __u64 id, struct py_stack *st,
					 const struct target_cfg *cfg);

/* an existing counter's stack is looked up once in this many allocations */
#define STACK_REFRESH_MASK 63

/*
 * The (stack, type) counter the allocation went to, or NULL when it has none (by
 * type only). A counter's stack was stored when the counter was made (userspace
 * reads it then), so only a new (stack, type) stores the walked stack `st`;
 * key->stack_id becomes 0 if the stack map has no room for it.
 */
static __always_inline struct alloc_count *count_allocation(struct alloc_agg *agg,
							    struct alloc_key *key, __s64 size,
							    struct py_stack *st,
							    const struct target_cfg *cfg)
{
	/* the rest of a new counter, lifecycle included, starts at zero */
	struct alloc_count *c, init = { .allocations = 1, .bytes = size > 0 ? size : 0 };
	bool inserted = false;

	c = bpf_map_lookup_elem(&alloc_counts, key);
	if (!c && key->stack_id) {
		key->stack_id = store_stack(agg, key->stack_id, st, cfg);
		if (!key->stack_id)
			c = bpf_map_lookup_elem(&alloc_counts, key);
	} else if (c && key->stack_id && !(c->allocations & STACK_REFRESH_MASK)) {
		/*
		 * Now and then: keeps a busy site's stack recent in the LRU map, and
		 * stores it again if it gave way before userspace read it (a lost
		 * notice, a reader behind a burst).
		 */
		store_stack(agg, key->stack_id, st, cfg);
	}
	if (!c) {
		inserted = !bpf_map_update_elem(&alloc_counts, key, &init, BPF_NOEXIST);
		if (inserted)
			announce_key(agg, key, cfg->walk.tp_name_off);
		/* ours, or the one another CPU inserted first */
		c = bpf_map_lookup_elem(&alloc_counts, key);
		if (!c) {
			count_by_type(agg, key, &init, cfg);
			return NULL;
		}
	}
	if (!inserted) {
		__sync_fetch_and_add(&c->allocations, 1);
		__sync_fetch_and_add(&c->bytes, init.bytes);
	}
	__sync_fetch_and_add(&agg->allocations, 1);
	return c;
}

struct tag_ctx {
	struct py_stack *st;
	const struct target_cfg *cfg;
	struct alloc_agg *agg;
};

/* A pointer field of the copied header; 0 when the version has no such field. */
static __always_inline __u64 header_pointer(const struct code_snapshot_event *e, __u32 off)
{
	__u64 v = 0;

	if (off > PYOBJLIFE_SNAP_HEADER - sizeof(v))
		return 0;
	off &= PYOBJLIFE_SNAP_HEADER - 1;
	__builtin_memcpy(&v, e->header + off, sizeof(v));
	return v;
}

/*
 * Copy `len` bytes at `addr`, or up to the end of its page when the next page
 * is not mapped (an object near the end of its arena). e->copied says which.
 */
static __always_inline void copy_part(struct code_snapshot_event *e, int part, void *dst,
				      const __u32 len, __u64 addr)
{
	__u32 to_page_end;

	e->addr[part] = addr;
	if (!addr)
		return;
	if (!bpf_probe_read_user(dst, len, (void *)addr)) {
		e->copied |= SNAP_COPIED_FULL(part);
		return;
	}
	to_page_end = PYOBJLIFE_SNAP_PAGE - (addr & (PYOBJLIFE_SNAP_PAGE - 1));
	if (to_page_end < len && !bpf_probe_read_user(dst, to_page_end, (void *)addr))
		e->copied |= SNAP_COPIED_TO_PAGE_END(part);
}

/* Reserve, fill and submit one copy whose line-table window is `window` bytes. */
static __always_inline bool snapshot_into(struct tag_ctx *c, __u64 code, __u32 tag, __u64 table,
					  __u64 table_bytes, const __u32 window)
{
	const struct stack_walk_cfg *w = &c->cfg->walk;
	struct code_snapshot_event *e = bpf_ringbuf_reserve(&events, sizeof(*e) + window, 0);

	if (!e)
		return false;
	e->kind = EV_CODE_SNAPSHOT;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->code = code;
	e->tag = tag;
	e->copied = 0;
	e->linetable_window = window;
	copy_part(e, SNAP_HEADER, e->header, sizeof(e->header), code);
	copy_part(e, SNAP_FILENAME, e->filename, sizeof(e->filename),
		  header_pointer(e, w->code_filename_off));
	copy_part(e, SNAP_NAME, e->name, sizeof(e->name),
		  header_pointer(e, w->code_filename_off + 8));
	copy_part(e, SNAP_QUALNAME, e->qualname, sizeof(e->qualname),
		  header_pointer(e, w->code_qualname_off));
	/* exactly the table's bytes: a fixed window could run into an unmapped page */
	e->addr[SNAP_LINETABLE] = table;
	e->linetable_copied = 0;
	if (table_bytes > window)
		table_bytes = window;
	if (table && table_bytes &&
	    !bpf_probe_read_user(e->linetable, table_bytes, (void *)table)) {
		e->copied |= SNAP_COPIED_FULL(SNAP_LINETABLE);
		e->linetable_copied = table_bytes;
	}
	submit_lazily(e);
	return true;
}

/*
 * The first stored stack holding a code object copies what names it, in the
 * target's own context: userspace reads it whenever it gets to it, so the
 * reader need not be woken per new stack, and a code object freed (or its
 * address reused) before then is still named right. `table`: the code object's
 * line table pointer, as its tag was computed from.
 */
static __always_inline void snapshot_code(struct tag_ctx *c, __u64 code, __u32 tag, __u64 table)
{
	const struct stack_walk_cfg *w = &c->cfg->walk;
	struct snapped_key k = { .code = code, .tag = tag, .generation = c->cfg->generation };
	__u64 table_bytes = 0;
	__u8 one = 1;
	bool sent;

	if (bpf_map_lookup_elem(&snapped_codes, &k))
		return;
	/* the line table's length picks the record's size (the ring takes constant sizes) */
	if (table)
		table_bytes = w->bytes_data_off + read_user_u64(table + w->ob_size_off);
	if (table_bytes <= PYOBJLIFE_SNAP_TABLE_SMALL)
		sent = snapshot_into(c, code, tag, table, table_bytes, PYOBJLIFE_SNAP_TABLE_SMALL);
	else
		sent = snapshot_into(c, code, tag, table, table_bytes, PYOBJLIFE_SNAP_TABLE_LARGE);
	if (!sent) {
		__sync_fetch_and_add(&c->agg->code_snapshots_lost, 1);
		return;
	}
	__sync_fetch_and_add(&c->agg->code_snapshots, 1);
	bpf_map_update_elem(&snapped_codes, &k, &one, BPF_ANY);
}

static long tag_one_frame(__u32 i, void *arg)
{
	struct tag_ctx *c = arg;
	const struct stack_walk_cfg *w = &c->cfg->walk;
	__u64 f[PYOBJLIFE_TAG_SPAN / 8];
	/* userspace checked the line table pointer lies within the span */
	__u32 table = ((w->code_linetable_off - w->code_filename_off) / 8) & 3;

	if (i >= PYOBJLIFE_MAX_STACK_DEPTH)
		return 1;
	if (bpf_probe_read_user(f, sizeof(f), (void *)(c->st->code[i] + w->code_filename_off))) {
		c->st->code_tag[i] = 0;
		return 0;
	}
	c->st->code_tag[i] = pyobjlife_code_tag(f[0], f[1], f[table]);
	snapshot_code(c, c->st->code[i], c->st->code_tag[i], f[table]);
	return 0;
}

/* Store the walked stack once, with its code objects' tags; 0 when it could not be stored. */
static __always_inline __u64 store_stack(struct alloc_agg *agg, __u64 id, struct py_stack *st,
					 const struct target_cfg *cfg)
{
	struct tag_ctx tc = { .st = st, .cfg = cfg, .agg = agg };
	int err;

	if (bpf_map_lookup_elem(&stacks, &id))
		return id;
	/* only for stacks seen for the first time: no cost per allocation */
	bpf_loop(st->depth, tag_one_frame, &tc, 0);
	err = bpf_map_update_elem(&stacks, &id, st, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		__sync_fetch_and_add(&agg->stacks_full, 1);
		return 0;
	}
	return id;
}

/*
 * One new object: `op` when the hook gets the object (its type is read from
 * it), otherwise the type and item count the allocator was asked for.
 */
static __always_inline void follow_birth(struct pt_regs *ctx, const struct target_cfg *cfg,
					 struct alloc_agg *agg, const struct alloc_key *key,
					 struct alloc_count *c, __u64 op,
					 const struct type_head *th, __s64 size, __u64 bias);

/* Whether the hit's probe sits on a single-stepped instruction (sampled mode's budget). */
static __always_inline bool single_stepped(const struct target_cfg *cfg, __u64 cookie)
{
	for (int i = 0; i < PYOBJLIFE_MAX_SINGLE_STEP; i++) {
		if (!cfg->single_step_cookies[i])
			return false;
		if (cfg->single_step_cookies[i] == cookie)
			return true;
	}
	return false;
}

/* The allocation's type, size and stack, counted and followed, with this CPU's scratch held. */
static __always_inline void attribute_allocation(struct pt_regs *ctx, struct target_cfg *cfg,
						 struct alloc_agg *agg, struct walk_scratch *sc,
						 __u32 tgid, __u64 op, __u64 type, __s64 nitems,
						 bool have_nitems)
{
	struct alloc_key key = { .tgid = tgid };
	__u64 runtime, bias, tstate, walked = 0;
	bool cached;
	struct alloc_count *counter;
	struct type_head th;
	__s64 size;

	/* the cookie is the hook's link-time address: this works before userspace knows the bias */
	bias = PT_REGS_IP(ctx) - bpf_get_attach_cookie(ctx);
	runtime = cfg->runtime_vaddr + bias;
	if (op)
		type = read_user_u64(op + cfg->walk.ob_type_off);
	if (!type) {
		__sync_fetch_and_add(&agg->read_errors, 1);
		return;
	}
	size = object_size(&cfg->walk, sc, cfg->generation, type, op, nitems, have_nitems, &th);
	if (size < 0) {
		__sync_fetch_and_add(&agg->read_errors, 1);
		return;
	}
	key.type = type;
	tstate = thread_state(cfg, runtime, &walked, sc, &cached);
	if (walked)
		__sync_fetch_and_add(&agg->thread_walks, 1);
	if (!tstate) {
		__sync_fetch_and_add(&agg->no_thread, 1);
	} else {
		__u64 id = walk_stack(&cfg->walk, tstate, tgid, sc);

		/* a remembered state with no frame may be a freed one: look again */
		if (cached && !sc->st.depth) {
			tstate = thread_state_refresh(cfg, runtime, &walked, sc);
			id = tstate ? walk_stack(&cfg->walk, tstate, tgid, sc) : id;
		}
		if (sc->st.flags & PY_STACK_READ_ERROR)
			__sync_fetch_and_add(&agg->read_errors, 1);
		if (sc->st.flags & PY_STACK_TRUNCATED)
			__sync_fetch_and_add(&agg->truncated, 1);
		key.stack_id = id;
	}
	counter = count_allocation(agg, &key, size, &sc->st, cfg);
	/* an allocation not counted is not followed either: its site has no row */
	if (cfg->lifecycle && counter)
		follow_birth(ctx, cfg, agg, &key, counter, op, &th, size, bias);
}

static __always_inline int on_allocation(struct pt_regs *ctx, __u64 op, __u64 type, __s64 nitems,
					 bool have_nitems)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct walk_scratch *sc;
	struct target_cfg *cfg;
	struct alloc_agg *agg;

	if (stopping)
		return 0;
	cfg = bpf_map_lookup_elem(&targets, &tgid);
	if (!cfg)
		return 0;
	agg = alloc_agg_of(cfg->slot);
	if (!agg)
		return 0;
	/* sampled mode between windows: the probe is being attached or detached */
	if (windowed) {
		__sync_fetch_and_add(&agg->hits_alloc, 1);
		if (single_stepped(cfg, bpf_get_attach_cookie(ctx)))
			__sync_fetch_and_add(&agg->hits_single_step, 1);
		if (!cfg->window_open)
			return 0;
	}
	sc = walk_scratch_claim();
	if (!sc) {
		__sync_fetch_and_add(&agg->walk_busy, 1);
		return 0;
	}
	attribute_allocation(ctx, cfg, agg, sc, tgid, op, type, nitems, have_nitems);
	walk_scratch_release(sc);
	return 0;
}

/* _Py_NewReference(op): every object born, free-list reuse included (3.9+, no LTO) */
SEC("uprobe")
int uprobe__alloc_birth(struct pt_regs *ctx)
{
	return on_allocation(ctx, PT_REGS_PARM1(ctx), 0, 0, false);
}

/* PyType_GenericAlloc(type, nitems), _PyObject_GC_NewVar(type, n), _PyObject_NewVar(type, n) */
SEC("uprobe")
int uprobe__alloc_typed_var(struct pt_regs *ctx)
{
	return on_allocation(ctx, 0, PT_REGS_PARM1(ctx), (__s64)PT_REGS_PARM2(ctx), true);
}

/* _PyObject_GC_New(type), _PyObject_New(type) */
SEC("uprobe")
int uprobe__alloc_typed(struct pt_regs *ctx)
{
	return on_allocation(ctx, 0, PT_REGS_PARM1(ctx), 0, true);
}

/* ---- lifecycle: deaths, generations, census, GC blame, arenas (full mode) ---- */

/* sized by userspace (--max-live); entries are allocated as objects are born */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct live_key);
	__type(value, struct live_object);
} live SEC(".maps");

/* a typed allocator entered and not yet returned: (tid, stack pointer at entry) */
struct typed_call_key {
	__u64 sp;
	__u32 tid;
	__u32 pad;
};

struct typed_call {
	struct alloc_key key;
	struct live_object obj;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PYOBJLIFE_MAX_THREADS);
	__type(key, struct typed_call_key);
	__type(value, struct typed_call);
} typed_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct blame_key);
	__type(value, struct blame_value);
} gc_blame SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 16);
	__type(key, struct census_key);
	__type(value, __u64);
} census SEC(".maps");

static __always_inline bool dealloc_is_hooked(const struct target_cfg *cfg, __u64 dealloc_vaddr)
{
#pragma unroll
	for (int i = 0; i < PYOBJLIFE_MAX_DEALLOCS; i++) {
		if (cfg->followed_deallocs[i] && cfg->followed_deallocs[i] == dealloc_vaddr)
			return true;
	}
	return false;
}

/* What an object's birth needs to know about the collections around it. */
static __always_inline void stamp_birth(struct live_object *o, const struct gc_agg *gagg)
{
	const struct gc_sequence *q = &gagg->seq;

	o->birth_ns = bpf_ktime_get_ns();
	o->started_at_birth = (__u32)q->started;
	o->young_plus_at_birth = (__u32)q->young_plus;
	o->full_at_birth = (__u32)q->full;
	o->born_in_collection = q->started != q->ended;
}

/* `c`: the object's (stack, type) counter, NULL to look it up. */
static __always_inline void put_live(struct alloc_agg *agg, __u32 tgid, __u64 addr,
				     const struct live_object *o, struct alloc_count *c)
{
	struct live_key k = { .addr = addr, .tgid = tgid };
	struct alloc_key key = { .stack_id = o->stack_id, .type = o->type, .tgid = tgid };
	int err = bpf_map_update_elem(&live, &k, o, BPF_NOEXIST);

	if (err == -EEXIST) {
		/* the address is still followed: the old object moved without a death (a resize) */
		__sync_fetch_and_add(&agg->reborn, 1);
		err = bpf_map_update_elem(&live, &k, o, BPF_ANY);
	}
	if (err) {
		__sync_fetch_and_add(&agg->live_full, 1);
		return;
	}
	if (!c)
		c = bpf_map_lookup_elem(&alloc_counts, &key);
	if (c)
		__sync_fetch_and_add(&c->followed, 1);
	__sync_fetch_and_add(&agg->followed, 1);
}

static __always_inline void follow_birth(struct pt_regs *ctx, const struct target_cfg *cfg,
					 struct alloc_agg *agg, const struct alloc_key *key,
					 struct alloc_count *c, __u64 op,
					 const struct type_head *th, __s64 size, __u64 bias)
{
	struct gc_agg *gagg = gc_agg_of(cfg->slot);
	struct live_object o = {
		.stack_id = key->stack_id,
		.type = key->type,
		.size = size > 0 ? size : 0,
		.gc_type = !!(th->flags & TPFLAGS_HAVE_GC),
		.slot = cfg->slot,
	};

	if (!gagg)
		return;
	if (!dealloc_is_hooked(cfg, th->dealloc - bias)) {
		__sync_fetch_and_add(&agg->unfollowed_type, 1);
		return;
	}
	stamp_birth(&o, gagg);
	if (op) {
		put_live(agg, key->tgid, op, &o, c);
	} else {
		struct typed_call_key ck = { .sp = PT_REGS_SP(ctx),
					     .tid = (__u32)bpf_get_current_pid_tgid() };
		struct typed_call call = { .key = *key, .obj = o };

		if (bpf_map_update_elem(&typed_calls, &ck, &call, BPF_ANY))
			__sync_fetch_and_add(&agg->live_full, 1);
	}
}

SEC("uretprobe")
int uretprobe__alloc_typed(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	/* the return address was popped: the stack pointer is 8 above the entry's */
	struct typed_call_key ck = { .sp = PT_REGS_SP(ctx) - 8, .tid = (__u32)pid_tgid };
	__u32 tgid = pid_tgid >> 32;
	struct typed_call *call;
	struct target_cfg *cfg;
	struct alloc_agg *agg;
	struct gc_agg *gagg;
	__u64 op = PT_REGS_RC(ctx);

	cfg = bpf_map_lookup_elem(&targets, &tgid);
	agg = cfg ? alloc_agg_of(cfg->slot) : NULL;
	if (!cfg || !agg)
		return 0;
	if (windowed)
		__sync_fetch_and_add(&agg->hits_return, 1);
	call = bpf_map_lookup_elem(&typed_calls, &ck);
	if (!call) {
		/* an untraced type, or a call that began before we attached */
		return 0;
	}
	gagg = gc_agg_of(cfg->slot);
	/* a window that closed during the call: the object is counted, not followed */
	if (op && gagg && cfg->window_open) {
		/* a collection the allocator itself ran (3.11 collects synchronously) came first */
		stamp_birth(&call->obj, gagg);
		put_live(agg, tgid, op, &call->obj, NULL);
	}
	bpf_map_delete_elem(&typed_calls, &ck);
	return 0;
}

static __always_inline void count_death(struct alloc_count *c, const struct live_object *o,
					bool by_collector, int gen, __u64 lifetime)
{
	__u32 b = log2_bucket(lifetime);

	__sync_fetch_and_add(&c->deallocations, 1);
	if (by_collector)
		__sync_fetch_and_add(&c->cycle_collected, 1);
	if (o->gc_type) {
		if (gen == 0)
			__sync_fetch_and_add(&c->died_in_gen[0], 1);
		else if (gen == 1)
			__sync_fetch_and_add(&c->died_in_gen[1], 1);
		else if (gen == 2)
			__sync_fetch_and_add(&c->died_in_gen[2], 1);
		else
			__sync_fetch_and_add(&c->died_gen_unknown, 1);
	}
	if (b >= PYOBJLIFE_LIFETIME_BUCKETS)
		b = PYOBJLIFE_LIFETIME_BUCKETS - 1;
	__sync_fetch_and_add(&c->lifetime_hist[b], 1);
}

/*
 * A death during a collection on this thread is the collector's doing. Only
 * looked up while one of the process's collections is under way: the counter
 * shows it without a hash lookup per death.
 */
static __always_inline bool collector_running(const struct gc_agg *gagg, __u32 tid)
{
	struct gc_inflight *collecting;

	if (!gagg->collections_running)
		return false;
	collecting = bpf_map_lookup_elem(&gc_inflight, &tid);
	return collecting && !collecting->refused;
}

/* subtype_dealloc(op), list_dealloc(op), ...: a followed object dies here */
SEC("uprobe")
int uprobe__dealloc(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct live_key k = { .addr = PT_REGS_PARM1(ctx), .tgid = tgid };
	struct target_cfg *cfg = NULL;
	struct live_object *found, o;
	struct alloc_count *c;
	struct alloc_agg *agg;
	struct gc_agg *gagg;
	struct alloc_key key;
	__u64 now;

	/* sampled mode counts every hit of the target's, for the overhead estimate */
	if (windowed) {
		cfg = bpf_map_lookup_elem(&targets, &tgid);
		agg = cfg ? alloc_agg_of(cfg->slot) : NULL;
		if (!cfg || !agg)
			return 0;
		__sync_fetch_and_add(&agg->hits_dealloc, 1);
		if (single_stepped(cfg, bpf_get_attach_cookie(ctx)))
			__sync_fetch_and_add(&agg->hits_single_step, 1);
	}
	/* the key holds the tgid: a miss is also how other processes' hits end */
	found = bpf_map_lookup_elem(&live, &k);
	if (!found)
		return 0;
	/* the window closed: userspace counts what is left as censored, not as deaths */
	if (windowed && (!cfg || !cfg->window_open))
		return 0;
	now = bpf_ktime_get_ns();
	o = *found;
	/* a base type's deallocator called by the subtype's sees the entry gone */
	if (bpf_map_delete_elem(&live, &k))
		return 0;
	agg = alloc_agg_of(o.slot);
	gagg = gc_agg_of(o.slot);
	if (!agg || !gagg)
		return 0;
	__sync_fetch_and_add(&agg->deaths, 1);
	key = (struct alloc_key){ .stack_id = o.stack_id, .type = o.type, .tgid = tgid };
	c = bpf_map_lookup_elem(&alloc_counts, &key);
	if (!c)
		return 0;
	count_death(c, &o, collector_running(gagg, tid),
		    pyobjlife_generation_at_death(&o, &gagg->seq), now - o.birth_ns);
	return 0;
}

/* pymalloc arenas: _PyObject_ArenaMmap and _PyObject_ArenaMunmap, called through a pointer */
/* The allocation aggregates of the current process, if it is a target. */
static __always_inline struct alloc_agg *current_alloc_agg(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct target_cfg *cfg = bpf_map_lookup_elem(&targets, &tgid);

	return cfg ? alloc_agg_of(cfg->slot) : NULL;
}

SEC("uprobe")
int uprobe__arena_alloc(struct pt_regs *ctx)
{
	struct alloc_agg *agg = current_alloc_agg();

	if (agg)
		__sync_fetch_and_add(&agg->arenas_allocated, 1);
	return 0;
}

SEC("uprobe")
int uprobe__arena_free(struct pt_regs *ctx)
{
	struct alloc_agg *agg = current_alloc_agg();

	if (agg)
		__sync_fetch_and_add(&agg->arenas_freed, 1);
	return 0;
}

/* -- census: live GC objects by type, one generation list at a time -- */

struct census_walk {
	__u64 node; /* PyGC_Head being visited */
	__u64 head; /* the generation's list head: the walk ends there */
	__u32 seq, tgid, generation, ob_type_off;
	__u32 stopped_early; /* unreadable node or full map */
	__u32 reached_end;
};

/*
 * No counter compared against a constant here: the verifier would track it
 * precisely and walk every iteration as a new state. bpf_loop counts for us.
 */
static long census_one(__u32 i, void *arg)
{
	struct census_walk *w = arg;
	struct census_key k = { .seq = w->seq, .tgid = w->tgid, .generation = w->generation };
	__u64 gc_next = 0, *n;

	if (!w->node || w->node == w->head) {
		w->reached_end = 1;
		return 1;
	}
	/* the object follows its 16-byte PyGC_Head */
	if (bpf_probe_read_user(&gc_next, sizeof(gc_next), (void *)w->node) ||
	    bpf_probe_read_user(&k.type, sizeof(k.type),
				(void *)(w->node + PY_GC_HEAD_SIZE + w->ob_type_off))) {
		w->stopped_early = 1;
		return 1;
	}
	n = bpf_map_lookup_elem(&census, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
	} else {
		__u64 one = 1;

		if (bpf_map_update_elem(&census, &k, &one, BPF_NOEXIST))
			w->stopped_early = 1;
	}
	w->node = gc_next;
	return 0;
}

static __always_inline void census_generation(const struct target_cfg *cfg, struct gc_agg *agg,
					      __u64 gc, __u32 tgid, __u32 seq, __u32 gen, __u64 now)
{
	struct census_walk w = {
		.head = gc + cfg->generations_off + (__u64)gen * cfg->gen_stride,
		.seq = seq,
		.tgid = tgid,
		.generation = gen,
		.ob_type_off = cfg->walk.ob_type_off,
	};
	struct census_event *e;
	long iterations;

	w.node = read_user_u64(w.head);
	/* one more iteration than objects: the last one sees the list head */
	iterations = bpf_loop(census_max_objects + 1, census_one, &w, 0);
	if (iterations < 0)
		iterations = 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&agg->census_lost, 1);
		return;
	}
	e->kind = EV_CENSUS;
	e->tgid = tgid;
	e->t_ns = now; /* one time for every generation of a census */
	e->seq = seq;
	e->generation = gen;
	e->objects = w.reached_end && iterations > 0 ? iterations - 1 : iterations;
	e->truncated = !w.reached_end;
	e->pad = 0;
	if (e->truncated)
		__sync_fetch_and_add(&agg->census_truncated, 1);
	submit_lazily(e);
}

static __always_inline bool census_due(__u64 now, __u64 last, __u64 interval)
{
	return !last || now - last >= interval;
}

/* At a collection's start, under the GIL, the generation lists are intact. */
static __always_inline void take_census(const struct target_cfg *cfg, struct gc_agg *agg, __u64 gc,
					__u32 tgid)
{
	struct gc_sequence *q = &agg->seq;
	__u64 now = bpf_ktime_get_ns();
	bool young = census_due(now, q->census_young_ns, census_young_interval_ns);
	bool full = census_due(now, q->census_full_ns, census_full_interval_ns);
	__u32 seq;

	if (!young && !full)
		return;
	seq = (__u32)__sync_fetch_and_add(&q->census_seq, 1) + 1;
	if (young) {
		q->census_young_ns = now;
		census_generation(cfg, agg, gc, tgid, seq, 0, now);
		census_generation(cfg, agg, gc, tgid, seq, 1, now);
	}
	if (full) {
		q->census_full_ns = now;
		census_generation(cfg, agg, gc, tgid, seq, 2, now);
	}
}

/*
 * A second program at each collection start keeps the collector's own start
 * program small enough for the verifier. Userspace attaches it after that one,
 * and the kernel runs the newest consumer of a probe first, so the census walk
 * and the stack walk happen before the pause is timed.
 */
static __always_inline int lifecycle_collection_start(__u64 bias, bool bias_learned)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), tstate, walked = 0, stack_id;
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct target_cfg *cfg = bpf_map_lookup_elem(&targets, &tgid);
	struct gc_agg *agg = cfg ? gc_agg_of(cfg->slot) : NULL;
	struct alloc_agg *aagg = cfg ? alloc_agg_of(cfg->slot) : NULL;
	struct walk_scratch *sc;
	__u64 gc;

	if (stopping || !cfg || !agg || !aagg || !cfg->lifecycle)
		return 0;
	if (!bias_learned) {
		if (!cfg->bias_known)
			return 0;
		bias = cfg->load_bias;
	}
	gc = gc_state_addr(cfg, bias);
	if (!gc)
		return 0;
	take_census(cfg, agg, gc, tgid);
	sc = walk_scratch_claim();
	if (!sc) {
		__sync_fetch_and_add(&aagg->walk_busy, 1);
		return 0;
	}
	/* the code that triggered it: the allocation past the threshold, or gc.collect() */
	tstate = current_tstate(cfg, cfg->runtime_vaddr + bias, &walked, sc);
	stack_id =
		tstate ? store_stack(aagg, walk_stack(&cfg->walk, tstate, tgid, sc), &sc->st, cfg)
		       : 0;
	walk_scratch_release(sc);
	if (!tstate)
		return 0;
	/* no room: the collection is blamed on no stack, and counted */
	if (bpf_map_update_elem(&blame_pending, &tid, &stack_id, BPF_ANY))
		__sync_fetch_and_add(&agg->blame_full, 1);
	return 0;
}

SEC("uprobe")
int uprobe__gc_lifecycle(struct pt_regs *ctx)
{
	return lifecycle_collection_start(PT_REGS_IP(ctx) - bpf_get_attach_cookie(ctx), true);
}

SEC("usdt")
int BPF_USDT(usdt__gc_lifecycle)
{
	return lifecycle_collection_start(0, false);
}

static __always_inline void lifecycle_collection_end(const struct target_cfg *cfg,
						     struct gc_agg *agg, __u32 tgid, __u32 tid,
						     int gen, __u64 pause)
{
	struct blame_key k = { .tgid = tgid, .generation = gen };
	struct blame_value *v, init = { .collections = 1, .pause_ns = pause };
	struct alloc_agg *aagg;
	__u64 *pending = bpf_map_lookup_elem(&blame_pending, &tid);

	if (pending) {
		k.stack_id = *pending;
		bpf_map_delete_elem(&blame_pending, &tid);
	}
	v = bpf_map_lookup_elem(&gc_blame, &k);
	if (v) {
		__sync_fetch_and_add(&v->collections, 1);
		__sync_fetch_and_add(&v->pause_ns, pause);
		return;
	}
	if (bpf_map_update_elem(&gc_blame, &k, &init, BPF_NOEXIST)) {
		__sync_fetch_and_add(&agg->blame_full, 1);
		return;
	}
	/* name the stack while its code objects exist, as for a new allocation site */
	aagg = alloc_agg_of(cfg->slot);
	if (aagg && k.stack_id) {
		struct alloc_key key = { .stack_id = k.stack_id, .tgid = tgid };

		announce_key(aagg, &key, PYOBJLIFE_OFF_NONE);
	}
}

/* ---- a target's exec ---- */

/*
 * A target that execs another program is no longer the interpreter its
 * configuration describes: its entry goes at once, so no probe counts for it
 * with the old layout (the same binary exec'd again keeps the old probes'
 * breakpoints), and userspace, finding the entry gone, ends the target's
 * recording (or, following children, plans the new program).
 */
SEC("raw_tp/sched_process_exec")
int raw_tp__target_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!bpf_map_lookup_elem(&targets, &tgid))
		return 0;
	if (!bpf_map_delete_elem(&exec_expected, &tgid))
		return 0;
	bpf_map_delete_elem(&targets, &tgid);
	return 0;
}

/* ---- a target's own work, for sampled mode ---- */

/*
 * The user-mode CPU time of each thread of the target, as the scheduler tick
 * charges it: a probe's trap and its BPF program run in kernel mode and are
 * charged as system time, so this grows with the target's own work only, inside
 * a window as outside. Userspace reads it at each window's edges through this
 * iterator, filtered to the target (Linux 6.1+; older kernels refuse the filter
 * and show every task, hence the process id in each record); the group leader's
 * record adds the time of the threads that have exited.
 */
SEC("iter/task")
int iter__target_user_time(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct user_time_record r;

	if (!task)
		return 0;
	r.tgid = BPF_CORE_READ(task, tgid);
	r.tid = BPF_CORE_READ(task, pid);
	r.utime_ns = BPF_CORE_READ(task, utime);
	if (r.tid == r.tgid)
		r.utime_ns += BPF_CORE_READ(task, signal, utime);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
