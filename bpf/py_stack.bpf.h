/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Python stacks from BPF: find the thread state of the current thread and walk
 * its frames leaf first, recording (code object, instruction offset) per frame.
 * Every CPython layout detail comes from the target's stack_walk_cfg, filled by
 * userspace per process; nothing here is compiled per version.
 */
#ifndef PYOBJLIFE_PY_STACK_BPF_H
#define PYOBJLIFE_PY_STACK_BPF_H

#include "pyobjlife.h"

/* shim frames (3.12+ C-entry frames) do not count towards the depth, but bound the walk */
#define PY_STACK_WALK_ITERATIONS (PYOBJLIFE_MAX_STACK_DEPTH + 64)
#define PY_THREAD_LIST_MAX	 64
#define PY_STACK_READ_ERROR	 2u /* a frame could not be read: the stack ends early */

#define FNV_OFFSET		 0xcbf29ce484222325ull
#define FNV_PRIME		 0x100000001b3ull

/* one read for the fields of a struct when they lie this close (each read costs ~65 ns) */
#define PY_SPAN_READ_MAX PYOBJLIFE_SPAN_READ_MAX
/*
 * 3.11+: the bytes read below a frame in one go, its callers' frames with them
 * (they lie just below it in the thread's data stack). A read costs nearly the
 * same up to 4 KiB (uprobe-cost-model.md, section 3), so a deep stack takes
 * few. The window stays within memory known to be mapped: the data stack chunk
 * the thread state names, or else the frame's page.
 */
#define PY_FRAME_WINDOW 4096
#define PY_PAGE_MASK	(~4095ull)

/* tp_basicsize, tp_itemsize and tp_dealloc are adjacent in every version (checked in userspace) */
struct type_head {
	__s64 basicsize;
	__s64 itemsize;
	__u64 dealloc;
	__u64 flags;
};

/* A static type's head, as the allocation programs last read it on this CPU. */
struct type_cache_entry {
	__u64 type;	  /* 0: empty */
	__u32 generation; /* target_cfg.generation of the process that read it */
	__u32 pad;
	struct type_head head;
};

#define PY_TYPE_CACHE_SLOTS 64

struct walk_scratch {
	__u64 busy; /* claimed: see walk_scratch_claim() */
	struct py_stack st;
	__u8 frame[PYOBJLIFE_FRAME_READ_MAX];
	__u8 span[PY_SPAN_READ_MAX];
	/* a frame at its end, PYOBJLIFE_FRAME_READ_MAX at most past the window's start */
	__u8 window[PY_FRAME_WINDOW + PYOBJLIFE_FRAME_READ_MAX];
	__u64 tstate_frame; /* tstate's frame field, read with its thread id; 0: not read */
	/* the data stack chunk read with them: [chunk, top) is mapped; 0, 0: not read */
	__u64 tstate_chunk, tstate_chunk_top;
	struct type_cache_entry types[PY_TYPE_CACHE_SLOTS];
};

/*
 * Scratches per CPU: one program preempted mid-walk on each of the first ones
 * (several targets sharing the CPU) still leaves one for the next.
 */
#define PY_WALK_SCRATCH_SLOTS 4

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PY_WALK_SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, struct walk_scratch);
} walk_scratch SEC(".maps");

/*
 * A scratch of this CPU's, the caller's alone until walk_scratch_release(); NULL
 * when other programs hold them all. Uprobe programs run with migration off, but
 * not preemption (on a preempt=full or lazy kernel): a program preempted
 * mid-walk keeps its scratch, and one that runs on the CPU meanwhile takes the
 * next instead of overwriting the copies the first one walks. (The thread's
 * task storage would need no claim, but hardened usercopy then checks every
 * read into it as a slab object: 5-10% more per birth.)
 */
static __always_inline struct walk_scratch *walk_scratch_claim(void)
{
#pragma unroll
	for (int i = 0; i < PY_WALK_SCRATCH_SLOTS; i++) {
		__u32 slot = i; /* the loop's counter must not have its address taken */
		struct walk_scratch *sc = bpf_map_lookup_elem(&walk_scratch, &slot);

		if (sc && !__sync_val_compare_and_swap(&sc->busy, 0, 1))
			return sc;
	}
	return NULL;
}

static __always_inline void walk_scratch_release(struct walk_scratch *sc)
{
	/* after every use of the scratch above: the compiler must not sink one below it */
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&sc->busy = 0;
}

static __always_inline __u64 read_user_u64(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

/* A u64 field of the frame copy; offsets past the copy read as 0 (checked by userspace too). */
static __always_inline __u64 frame_u64(const __u8 *buf, __u32 off)
{
	if (off > PYOBJLIFE_FRAME_READ_MAX - sizeof(__u64))
		return 0;
	return *(const __u64 *)(buf + off);
}

static __always_inline __u32 frame_u32(const __u8 *buf, __u32 off)
{
	if (off > PYOBJLIFE_FRAME_READ_MAX - sizeof(__u32))
		return 0;
	return *(const __u32 *)(buf + off);
}

static __always_inline __u8 frame_u8(const __u8 *buf, __u32 off)
{
	if (off > PYOBJLIFE_FRAME_READ_MAX - 1)
		return 0;
	return buf[off];
}

/* [addr + lo, addr + hi + 8) into sc->span, the u64 fields at lo and hi included; 0 or -1. */
static __always_inline int read_span(struct walk_scratch *sc, __u64 addr, __u32 lo, __u32 hi)
{
	__u32 len = hi + sizeof(__u64) - lo;

	if (hi < lo || len >= PY_SPAN_READ_MAX)
		return -1;
	/* the mask is for the verifier, which loses the bound through the subtraction */
	return bpf_probe_read_user(sc->span, len & (PY_SPAN_READ_MAX - 1), (void *)(addr + lo)) ? -1
												: 0;
}

/* The u64 at `off` of the span read from `lo`. */
static __always_inline __u64 span_u64(const struct walk_scratch *sc, __u32 lo, __u32 off)
{
	__u64 at = (__u64)off - lo;

	/* checked after the barrier, on the register used: the compiler cannot recompute it */
	asm volatile("" : "+r"(at));
	if (at > PY_SPAN_READ_MAX - sizeof(__u64))
		return 0;
	return *(const __u64 *)(sc->span + at);
}

/*
 * Whether `tstate` belongs to the thread whose FS base is `fsbase`; keeps its
 * frame field, and on 3.11+ its data stack chunk, for the walk.
 */
static __always_inline bool tstate_is_current(const struct stack_walk_cfg *w,
					      struct walk_scratch *sc, __u64 tstate, __u64 fsbase)
{
	__u32 lo = w->tstate_span_lo;

	sc->tstate_frame = sc->tstate_chunk = sc->tstate_chunk_top = 0;
	/* the fields in one read; an absent one (PYOBJLIFE_OFF_NONE) reads as 0 from the span */
	if (!read_span(sc, tstate, lo, w->tstate_span_hi)) {
		if (span_u64(sc, lo, w->tstate_thread_id_off) != fsbase)
			return false;
		sc->tstate_frame = span_u64(sc, lo, w->tstate_frame_off);
		sc->tstate_chunk = span_u64(sc, lo, w->tstate_datastack_chunk_off);
		sc->tstate_chunk_top = span_u64(sc, lo, w->tstate_datastack_top_off);
		return true;
	}
	return read_user_u64(tstate + w->tstate_thread_id_off) == fsbase;
}

/*
 * The GIL holder is the allocating thread (objects are only made with the GIL
 * held); its pthread id, the thread's FS base on glibc/x86_64, confirms it.
 * Otherwise (a subinterpreter, a stale holder) walk the main interpreter's
 * thread list for the FS base.
 */
static __always_inline __u64 current_fsbase(void)
{
	/* a BTF pointer: a plain load, without the helper call BPF_CORE_READ makes */
	return bpf_get_current_task_btf()->thread.fsbase;
}

static __always_inline __u64 current_tstate(const struct target_cfg *cfg, __u64 runtime,
					    __u64 *walked, struct walk_scratch *sc)
{
	const struct stack_walk_cfg *w = &cfg->walk;
	__u64 fsbase = current_fsbase();
	__u64 interp = 0, tstate;

	sc->tstate_frame = sc->tstate_chunk = sc->tstate_chunk_top = 0;
	if (w->tstate_current_off != PYOBJLIFE_OFF_NONE) {
		tstate = read_user_u64(runtime + w->tstate_current_off);
	} else {
		__u64 gil;

		interp = read_user_u64(runtime + cfg->main_interp_off);
		gil = interp ? read_user_u64(interp + w->interp_gil_ptr_off) : 0;
		tstate = gil ? read_user_u64(gil + w->gil_last_holder_off) : 0;
	}
	if (tstate && tstate_is_current(w, sc, tstate, fsbase))
		return tstate;

	*walked = 1;
	if (!interp)
		interp = read_user_u64(runtime + cfg->main_interp_off);
	tstate = interp ? read_user_u64(interp + w->interp_threads_head_off) : 0;
	for (int i = 0; i < PY_THREAD_LIST_MAX && tstate; i++) {
		if (tstate_is_current(w, sc, tstate, fsbase))
			return tstate;
		tstate = read_user_u64(tstate + w->tstate_next_off);
	}
	return 0;
}

static __always_inline __u32 frame_instr_offset(const struct stack_walk_cfg *w, const __u8 *buf,
						__u64 code)
{
	__s32 lasti;

	switch (w->instr_kind) {
	case INSTR_LASTI_BYTES:
		return frame_u32(buf, w->frame_instr_off);
	case INSTR_LASTI_UNITS:
		lasti = (__s32)frame_u32(buf, w->frame_instr_off);
		return lasti < 0 ? (__u32)lasti : (__u32)lasti * 2;
	default:
		return (__u32)(frame_u64(buf, w->frame_instr_off) - (code + w->code_adaptive_off));
	}
}

/*
 * The thread state each thread was last found with, in the thread's own task
 * storage: reached through the task, without the hash lookup per allocation a
 * map keyed by thread id costs, and freed with the thread.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} tstate_cache SEC(".maps");

/*
 * The allocating thread's state: the one it was last found with, if that still
 * carries its thread id (one read, which also gives the frame pointer), else
 * found from _PyRuntime (up to three more reads on 3.12+, where no field holds
 * the current thread's state) and remembered. A state freed and not reused
 * still carries the id, but no frame: *cached tells the caller to call
 * thread_state_refresh() when its walk finds none.
 */
static __always_inline __u64 thread_state(const struct target_cfg *cfg, __u64 runtime,
					  __u64 *walked, struct walk_scratch *sc, bool *cached)
{
	__u64 *known = bpf_task_storage_get(&tstate_cache, bpf_get_current_task_btf(), 0,
					    BPF_LOCAL_STORAGE_GET_F_CREATE);
	__u64 tstate;

	*cached = known && *known && tstate_is_current(&cfg->walk, sc, *known, current_fsbase());
	if (*cached)
		return *known;
	tstate = current_tstate(cfg, runtime, walked, sc);
	if (known)
		*known = tstate;
	return tstate;
}

/* The remembered state gave no frame: find the thread's state anew. */
static __always_inline __u64 thread_state_refresh(const struct target_cfg *cfg, __u64 runtime,
						  __u64 *walked, struct walk_scratch *sc)
{
	__u64 *known = bpf_task_storage_get(&tstate_cache, bpf_get_current_task_btf(), 0, 0);
	bool cached;

	if (known)
		*known = 0;
	return thread_state(cfg, runtime, walked, sc, &cached);
}

/* The window's bounds and the chunks that floor it: scalars only, a global function's memory. */
struct window_state {
	__u64 win_lo, win_hi;	  /* the target's addresses sc->window holds */
	__u64 chunk_lo, chunk_hi; /* the data stack chunk in use: mapped throughout */
};

struct walk_ctx {
	const struct stack_walk_cfg *w;
	struct walk_scratch *sc;
	__u64 frame;
	__u64 hash;
	struct window_state ws;
	__u32 n, max, size;
};

/*
 * Read the window that ends with the frame at `frame`: the frame and what lies
 * below it, never below the data stack chunk holding it, nor below its page
 * when it lies outside that chunk (an older chunk, a generator, a C stack): a
 * chunk's first frames sit at its start, and the memory below may be unmapped.
 * (Flooring an older chunk's frames at its start, known from the header of the
 * chunk above, was tried: a 60-frame stack across two chunks cost the same.)
 * 0, or -1 (nothing kept).
 *
 * A global function: the verifier checks it once, on its own, instead of within
 * every frame of every walk, where each of its branches multiplied the states it
 * kept (small changes here took a program past the verifier's limit).
 */
__noinline int py_read_window(struct walk_scratch *sc, struct window_state *ws, __u64 frame,
			      __u32 size)
{
	__u64 hi = frame + size, lo = hi - PY_FRAME_WINDOW, floor = frame & PY_PAGE_MASK;
	__u64 len;

	/* the verifier takes a global function's pointer arguments as possibly NULL */
	if (!sc || !ws)
		return -1;
	if (frame >= ws->chunk_lo && hi <= ws->chunk_hi)
		floor = ws->chunk_lo;
	if (lo < floor)
		lo = floor;
	len = hi - lo;
	/* checked after the barrier, on the register used: the verifier keeps the bound */
	asm volatile("" : "+r"(len));
	if (len > PY_FRAME_WINDOW || len < size ||
	    bpf_probe_read_user(sc->window, len, (void *)lo)) {
		ws->win_lo = ws->win_hi = 0;
		return -1;
	}
	ws->win_lo = lo;
	ws->win_hi = hi;
	return 0;
}

/*
 * The bytes of the frame at c->frame: from the window when it holds them
 * (reading a new window on 3.11+ when it does not), else read alone into
 * sc->frame. NULL when the frame cannot be read.
 */
static __always_inline const __u8 *frame_bytes(struct walk_ctx *c)
{
	struct walk_scratch *sc = c->sc;
	__u32 size = c->size;
	__u64 at;

	if (c->w->frames_stacked &&
	    (c->frame < c->ws.win_lo || c->frame + c->size > c->ws.win_hi) &&
	    py_read_window(sc, &c->ws, c->frame, c->size))
		goto alone;
	at = c->frame - c->ws.win_lo;
	asm volatile("" : "+r"(at));
	if (c->w->frames_stacked && c->frame >= c->ws.win_lo && at <= PY_FRAME_WINDOW)
		return sc->window + at;
alone:
	if (size > PYOBJLIFE_FRAME_READ_MAX)
		size = PYOBJLIFE_FRAME_READ_MAX;
	if (bpf_probe_read_user(sc->frame, size, (void *)c->frame))
		return NULL;
	return sc->frame;
}

/* One frame of the walk (a bpf_loop callback, so the verifier checks it once): 0 goes on. */
static long walk_one_frame(__u32 i, void *arg)
{
	struct walk_ctx *c = arg;
	const struct stack_walk_cfg *w = c->w;
	struct walk_scratch *sc = c->sc;
	const __u8 *buf;
	__u64 code, previous;
	__u32 instr, n = c->n;

	if (!c->frame)
		return 1;
	buf = frame_bytes(c);
	if (!buf) {
		sc->st.flags |= PY_STACK_READ_ERROR;
		return 1;
	}
	previous = frame_u64(buf, w->frame_previous_off);
	if (w->frame_owner_off != PYOBJLIFE_OFF_NONE &&
	    frame_u8(buf, w->frame_owner_off) >= w->owner_skip_from) {
		c->frame = previous;
		return 0;
	}
	/* a Python frame beyond the limit: keep the leaf side, say the rest is missing */
	if (n >= c->max || n >= PYOBJLIFE_MAX_STACK_DEPTH) {
		sc->st.flags |= PY_STACK_TRUNCATED;
		return 1;
	}
	code = frame_u64(buf, w->frame_code_off);
	instr = frame_instr_offset(w, buf, code);
	sc->st.code[n] = code;
	sc->st.instr[n] = instr;
	c->hash = (c->hash ^ code) * FNV_PRIME;
	c->hash = (c->hash ^ instr) * FNV_PRIME;
	c->n = n + 1;
	c->frame = previous;
	return 0;
}

/*
 * Walk the frames of `tstate` into sc->st, leaf first: on 3.11+ one read per
 * window of stacked frames, before that one read per frame.
 * Returns the stack's id: a hash of the frames, the target and the flags, never 0.
 */
static __always_inline __u64 walk_stack(const struct stack_walk_cfg *w, __u64 tstate, __u32 tgid,
					struct walk_scratch *sc)
{
	struct walk_ctx c = {
		.w = w,
		.sc = sc,
		.hash = FNV_OFFSET ^ tgid,
		.max = w->max_depth,
		.size = w->frame_size < PYOBJLIFE_FRAME_READ_MAX ? w->frame_size
								 : PYOBJLIFE_FRAME_READ_MAX,
	};
	long iterations;

	sc->st.flags = 0;
	if (sc->tstate_chunk < sc->tstate_chunk_top) {
		c.ws.chunk_lo = sc->tstate_chunk;
		c.ws.chunk_hi = sc->tstate_chunk_top;
	}
	c.frame = sc->tstate_frame ? sc->tstate_frame : read_user_u64(tstate + w->tstate_frame_off);
	if (c.frame && w->cframe_current_off != PYOBJLIFE_OFF_NONE)
		c.frame = read_user_u64(c.frame + w->cframe_current_off);
	iterations = bpf_loop(PY_STACK_WALK_ITERATIONS, walk_one_frame, &c, 0);
	/* frames left after the last iteration (shims included): the root side is missing */
	if (iterations >= PY_STACK_WALK_ITERATIONS && c.frame)
		sc->st.flags |= PY_STACK_TRUNCATED;
	sc->st.depth = c.n;
	c.hash = (c.hash ^ ((__u64)sc->st.flags << 32 | c.n)) * FNV_PRIME;
	return c.hash ? c.hash : 1;
}

#endif
