// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf_session.h"
#include "log.h"
#include "pyobjlife.skel.h"
#include "uprobe_multi.h"

/* A sampled window's programs: loaded as uprobe_multi programs when windows use those links. */
static struct bpf_program *const *window_programs(struct pyobjlife_bpf *skel, int *n)
{
	static struct bpf_program *progs[5];

	progs[0] = skel->progs.uprobe__alloc_birth;
	progs[1] = skel->progs.uprobe__alloc_typed_var;
	progs[2] = skel->progs.uprobe__alloc_typed;
	progs[3] = skel->progs.uretprobe__alloc_typed;
	progs[4] = skel->progs.uprobe__dealloc;
	*n = 5;
	return progs;
}

static int load_window_programs_as_multi(struct pyobjlife_bpf *skel)
{
	int n, err;
	struct bpf_program *const *progs = window_programs(skel, &n);

	for (int i = 0; i < n; i++) {
		err = bpf_program__set_expected_attach_type(
			progs[i], (enum bpf_attach_type)PYOBJLIFE_BPF_TRACE_UPROBE_MULTI);
		if (err)
			return err;
	}
	return 0;
}

int bpf_session_open(struct bpf_session *s, const struct bpf_session_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = o->btf_path);
	int err;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->slot_lock, NULL);
	s->window_link = o->window_link;
	s->skel = pyobjlife_bpf__open_opts(&open_opts);
	if (!s->skel) {
		err = -errno;
		pr_err("failed to open the BPF object: %s", strerror(-err));
		return err;
	}
	if (o->ringbuf_bytes) {
		err = bpf_map__set_max_entries(s->skel->maps.events, o->ringbuf_bytes);
		if (err) {
			pr_err("cannot size the ring buffer: %s", strerror(-err));
			return err;
		}
	}
	if (o->max_stacks &&
	    (err = bpf_map__set_max_entries(s->skel->maps.stacks, o->max_stacks))) {
		pr_err("cannot size the stack map: %s", strerror(-err));
		return err;
	}
	if (!o->max_sites && o->sites_scale > 1)
		err = bpf_map__set_max_entries(
			s->skel->maps.alloc_counts,
			o->sites_scale * bpf_map__max_entries(s->skel->maps.alloc_counts));
	else if (o->max_sites)
		err = bpf_map__set_max_entries(s->skel->maps.alloc_counts, o->max_sites);
	else
		err = 0;
	if (err) {
		pr_err("cannot size the count map: %s", strerror(-err));
		return err;
	}
	if (o->max_live && (err = bpf_map__set_max_entries(s->skel->maps.live, o->max_live))) {
		pr_err("cannot size the live-object map: %s", strerror(-err));
		return err;
	}
	s->skel->rodata->ringbuf_wakeup_bytes = bpf_map__max_entries(s->skel->maps.events) / 4;
	s->skel->rodata->census_young_interval_ns = o->census_young_interval_ns;
	s->skel->rodata->census_full_interval_ns = o->census_full_interval_ns;
	s->skel->rodata->windowed = o->window_link != WINDOW_LINK_NONE;
	if (o->census_max_objects)
		s->skel->rodata->census_max_objects = o->census_max_objects;
	if (o->window_link == WINDOW_LINK_UPROBE_MULTI &&
	    (err = load_window_programs_as_multi(s->skel))) {
		pr_err("cannot prepare the uprobe_multi programs: %s", strerror(-err));
		return err;
	}
	err = pyobjlife_bpf__load(s->skel);
	if (err) {
		pr_err("failed to load the BPF programs: %s (run with -vv for the verifier log)",
		       strerror(-err));
		return err;
	}
	/* without it a target's exec goes unnoticed until it exits: worth a warning only */
	s->exec_link = bpf_program__attach(s->skel->progs.raw_tp__target_exec);
	if (!s->exec_link)
		pr_warn("cannot watch the targets' exec (%s): a target that execs is recorded "
			"until it exits",
			strerror(errno));
	return 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/*
 * The thread state's fields the walk reads (its thread id, its frame and, on
 * 3.11+, its data stack chunk), read in one span; the data stack fields are
 * left out, both, where they would make it longer than one read covers: a
 * field outside the span would read stale bytes of the last span read.
 */
static void set_tstate_span(struct stack_walk_cfg *w)
{
	uint32_t lo = min_u32(w->tstate_thread_id_off, w->tstate_frame_off);
	uint32_t hi = max_u32(w->tstate_thread_id_off, w->tstate_frame_off);
	uint32_t chunk = w->tstate_datastack_chunk_off, top = w->tstate_datastack_top_off;
	uint32_t wide_lo = min_u32(lo, min_u32(chunk, top));
	uint32_t wide_hi = max_u32(hi, max_u32(chunk, top));

	if (chunk != PYOBJLIFE_OFF_NONE && top != PYOBJLIFE_OFF_NONE &&
	    wide_hi + sizeof(uint64_t) - wide_lo < PYOBJLIFE_SPAN_READ_MAX) {
		lo = wide_lo;
		hi = wide_hi;
	} else {
		w->tstate_datastack_chunk_off = w->tstate_datastack_top_off = PYOBJLIFE_OFF_NONE;
	}
	/* farther apart (no version so far), BPF reads the thread id alone and the frame after */
	w->tstate_span_lo = lo;
	w->tstate_span_hi = hi;
}

static void fill_walk_cfg(struct stack_walk_cfg *w, const struct frame_layout *l, unsigned depth)
{
	*w = (struct stack_walk_cfg){
		.preheader_flags = l->preheader_flags,
		.size_unset_flags = l->size_unset_flags,
		.tstate_current_off = l->tstate_current_off,
		.interp_gil_ptr_off = l->interp_gil_ptr_off,
		.gil_last_holder_off = l->gil_last_holder_off,
		.interp_threads_head_off = l->interp_threads_head_off,
		.tstate_next_off = l->tstate_next_off,
		.tstate_thread_id_off = l->tstate_thread_id_off,
		.tstate_frame_off = l->tstate_frame_off,
		.cframe_current_off = l->cframe_current_off,
		.tstate_datastack_chunk_off = l->tstate_datastack_chunk_off,
		.tstate_datastack_top_off = l->tstate_datastack_top_off,
		.frame_code_off = l->frame_code_off,
		.frame_previous_off = l->frame_previous_off,
		.frame_instr_off = l->frame_instr_off,
		.frame_owner_off = l->frame_owner_off,
		.frame_size = l->frame_size,
		.code_adaptive_off = l->code_adaptive_off,
		.code_filename_off = l->code_filename_off,
		.code_qualname_off = l->code_qualname_off,
		.code_linetable_off = l->code_linetable_off,
		.bytes_data_off = l->bytes_data_off,
		.ob_type_off = l->ob_type_off,
		.ob_size_off = l->ob_size_off,
		.tp_basicsize_off = l->tp_basicsize_off,
		.tp_flags_off = l->tp_flags_off,
		.tp_dealloc_off = l->tp_dealloc_off,
		.tp_name_off = l->tp_name_off,
		.max_depth = depth,
		.instr_kind = l->instr_kind,
		.owner_skip_from = l->owner_skip_from,
		.frames_stacked = l->major == 3 && l->minor >= 11,
	};
	set_tstate_span(w);
}

static int zero_agg_entry(struct bpf_map *map, __u32 slot, size_t size)
{
	void *zero = calloc(1, size);
	int err;

	if (!zero)
		return -ENOMEM;
	err = bpf_map__update_elem(map, &slot, sizeof(slot), zero, size, BPF_ANY);
	free(zero);
	return err;
}

/* The slot holding pid (0: a free one), or -1; under slot_lock. */
static int find_slot_locked(const struct bpf_session *s, pid_t pid)
{
	for (int i = 0; i < PYOBJLIFE_MAX_TARGETS; i++) {
		if (s->slot_pid[i] == pid)
			return i;
	}
	return -1;
}

/* pid's slot (kept on a re-registration), its aggregates zeroed; -ENOSPC when all are taken. */
static int take_slot(struct bpf_session *s, pid_t pid)
{
	int slot, err = 0;

	pthread_mutex_lock(&s->slot_lock);
	slot = find_slot_locked(s, pid);
	if (slot < 0)
		slot = find_slot_locked(s, 0);
	if (slot < 0)
		err = -ENOSPC;
	if (!err)
		err = zero_agg_entry(s->skel->maps.gc_aggs, (__u32)slot, sizeof(struct gc_agg));
	if (!err)
		err = zero_agg_entry(s->skel->maps.alloc_aggs, (__u32)slot,
				     sizeof(struct alloc_agg));
	if (!err)
		s->slot_pid[slot] = pid;
	pthread_mutex_unlock(&s->slot_lock);
	return err ? err : slot;
}

static void free_slot(struct bpf_session *s, pid_t pid)
{
	int slot;

	if (!pid)
		return;
	pthread_mutex_lock(&s->slot_lock);
	slot = find_slot_locked(s, pid);
	/* zeroed when it is taken again */
	if (slot >= 0)
		s->slot_pid[slot] = 0;
	pthread_mutex_unlock(&s->slot_lock);
}

/* The entry probes of the plan's allocation and deallocation hooks placed on single-stepped
 * instructions, by cookie (as attach_multi and the perf-event paths set it). */
static void list_single_stepped(const struct probe_plan *p, __u64 out[PYOBJLIFE_MAX_SINGLE_STEP])
{
	const struct hook *hooks[] = { &p->alloc_birth, &p->alloc_typed_var, &p->alloc_typed,
				       &p->dealloc };
	int n = 0;

	for (size_t h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++) {
		for (int i = 0; i < hooks[h]->n_sites && n < PYOBJLIFE_MAX_SINGLE_STEP; i++) {
			const struct hook_site *site = &hooks[h]->sites[i];

			if (probe_site_cost(site) == PROBE_COST_SINGLE_STEP)
				out[n++] = site->vaddr + site->place.offset;
		}
	}
}

static int register_target(struct bpf_session *s, pid_t pid, const struct probe_plan *p,
			   const struct bpf_attach_opts *o)
{
	const struct gc_layout *l = p->layout;
	struct target_cfg cfg = {
		.runtime_vaddr = p->runtime.sites[0].vaddr,
		.load_bias = p->target.load_bias,
		.main_interp_off = l->main_interp_off,
		.gc_off = l->gc_off,
		.generations_off = l->generations_off,
		.gen_stride = l->gen_stride,
		.gen_threshold_off = l->gen_threshold_off,
		.gen_count_off = l->gen_count_off,
		.stats_off = l->stats_off,
		.gc_in_runtime = l->gc_in_runtime,
		.bias_known = p->target.bias_known,
	};
	__u32 key = (__u32)pid;
	int err, slot;

	/* the BPF side reads threshold and count as one pair, tp_basicsize and tp_itemsize too */
	if (l->gen_count_off != l->gen_threshold_off + 4)
		return -EINVAL;
	/* full mode counts all the time; sampled mode while a window is open */
	cfg.window_open = !o->windowed;
	if (o->allocations || o->windowed) {
		const struct frame_layout *fl = p->frame_layout;

		if (!fl || fl->tp_itemsize_off != fl->tp_basicsize_off + 8 ||
		    fl->tp_dealloc_off != fl->tp_itemsize_off + 8 ||
		    fl->code_name_off != fl->code_filename_off + 8 ||
		    fl->code_linetable_off < fl->code_name_off + 8 ||
		    fl->code_linetable_off + 8 > fl->code_filename_off + PYOBJLIFE_TAG_SPAN ||
		    fl->frame_size > PYOBJLIFE_FRAME_READ_MAX)
			return -EINVAL;
		fill_walk_cfg(&cfg.walk, fl, o->stack_depth);
		cfg.lifecycle = 1;
		for (int i = 0; i < p->dealloc.n_sites && i < PYOBJLIFE_MAX_DEALLOCS; i++)
			cfg.followed_deallocs[i] = p->dealloc.sites[i].vaddr;
		list_single_stepped(p, cfg.single_step_cookies);
	}
	slot = take_slot(s, pid);
	if (slot < 0)
		return slot;
	cfg.slot = (__u8)slot;
	cfg.generation = __atomic_add_fetch(&s->registrations, 1, __ATOMIC_RELAXED);
	if (o->before_exec) {
		__u8 yes = 1;

		err = bpf_map__update_elem(s->skel->maps.exec_expected, &key, sizeof(key), &yes,
					   sizeof(yes), BPF_ANY);
		if (err)
			goto fail;
	}
	err = bpf_map__update_elem(s->skel->maps.targets, &key, sizeof(key), &cfg, sizeof(cfg),
				   BPF_ANY);
	if (!err)
		return 0;
fail:
	/* nothing counts into the slot without the configuration: give it back */
	free_slot(s, pid);
	return err;
}

static int links_add(struct bpf_links *l, struct bpf_link *link)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 32;
		struct bpf_link **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = link;
	return 0;
}

/* The link goes to the list the target is attaching to now: its own, or its window's. */
static int keep_link(struct bpf_target *t, struct bpf_link *link, const char *what,
		     const char *where)
{
	struct bpf_links *l = t->window_attached ? &t->window_links : &t->links;
	int err;

	if (!link) {
		err = -errno;
		pr_err("failed to attach %s to %s: %s", what, where, strerror(-err));
		return err;
	}
	err = links_add(l, link);
	if (err) {
		bpf_link__destroy(link);
		pr_err("no room for one more probe: %s", strerror(-err));
	}
	return err;
}

static int attach_usdt(struct bpf_target *t)
{
	struct pyobjlife_bpf *skel = t->session->skel;
	const char *bin = t->plan->target.open_path;
	int err;

	/* ends first: every start the programs see then has its end in place */
	err = keep_link(t,
			bpf_program__attach_usdt(skel->progs.usdt__gc_done, t->pid, bin, "python",
						 "gc__done", NULL),
			"USDT python:gc__done", bin);
	if (!err)
		err = keep_link(t,
				bpf_program__attach_usdt(skel->progs.usdt__gc_start, t->pid, bin,
							 "python", "gc__start", NULL),
				"USDT python:gc__start", bin);
	return err ? err : 2;
}

static int attach_collector(struct bpf_target *t)
{
	struct pyobjlife_bpf *skel = t->session->skel;
	const struct probe_plan *p = t->plan;
	const char *bin = p->target.open_path;
	int n = 0, err;

	for (int i = 0; i < p->collector.n_sites; i++) {
		const struct hook_site *site = &p->collector.sites[i];
		/* the entry program learns the load bias from its cookie (the link-time address) */
		LIBBPF_OPTS(bpf_uprobe_opts, entry, .bpf_cookie = site->vaddr);
		LIBBPF_OPTS(bpf_uprobe_opts, ret, .retprobe = true);

		/* the return probe first, for the same reason as attach_usdt */
		err = keep_link(t,
				bpf_program__attach_uprobe_opts(skel->progs.uretprobe__gc_collect,
								t->pid, bin, site->offset, &ret),
				site->symbol, bin);
		if (err)
			return err;
		err = keep_link(t,
				bpf_program__attach_uprobe_opts(skel->progs.uprobe__gc_collect,
								t->pid, bin, site->offset, &entry),
				site->symbol, bin);
		if (err)
			return err;
		n += 2;
	}
	return n;
}

static int attach_alloc_hook(struct bpf_target *t, const struct hook *h, struct bpf_program *prog)
{
	const char *bin = t->plan->target.open_path;
	int err;

	for (int i = 0; i < h->n_sites; i++) {
		const struct hook_site *site = &h->sites[i];
		/*
		 * The program learns the load bias from its cookie, as the collector probe
		 * does: the link-time address of the probed instruction, which placement
		 * may have moved past the entry (the trapping IP is that instruction's).
		 */
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = site->vaddr + site->place.offset);

		err = keep_link(t,
				bpf_program__attach_uprobe_opts(
					prog, t->pid, bin, site->offset + site->place.offset, &uo),
				site->symbol, bin);
		if (err)
			return err;
	}
	return h->n_sites;
}

/* Return probes of the typed allocators: the new object's address, to follow it. */
static int attach_typed_returns(struct bpf_target *t, const struct hook *h)
{
	struct pyobjlife_bpf *skel = t->session->skel;
	const char *bin = t->plan->target.open_path;
	LIBBPF_OPTS(bpf_uprobe_opts, ret, .retprobe = true);
	int err;

	for (int i = 0; i < h->n_sites; i++) {
		err = keep_link(t,
				bpf_program__attach_uprobe_opts(skel->progs.uretprobe__alloc_typed,
								t->pid, bin, h->sites[i].offset,
								&ret),
				h->sites[i].symbol, bin);
		if (err)
			return err;
	}
	return h->n_sites;
}

/* Probes that need no cookie: deallocators and arena functions. */
static int attach_plain(struct bpf_target *t, const struct hook *h, struct bpf_program *prog)
{
	const char *bin = t->plan->target.open_path;
	int err;

	for (int i = 0; i < h->n_sites; i++) {
		const struct hook_site *site = &h->sites[i];
		/* the probed instruction's link-time address, as attach_multi gives it */
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = site->vaddr + site->place.offset);

		err = keep_link(t,
				bpf_program__attach_uprobe_opts(
					prog, t->pid, bin, site->offset + site->place.offset, &uo),
				site->symbol, bin);
		if (err)
			return err;
	}
	return h->n_sites;
}

/*
 * Deaths before births, and allocator returns before entries: every object a
 * birth probe follows then has its death and its address probes in place.
 */
static int attach_lifecycle(struct bpf_target *t)
{
	const struct probe_plan *p = t->plan;
	int n = attach_plain(t, &p->dealloc, t->session->skel->progs.uprobe__dealloc), m;

	/* a typed allocator's return gives the object's address, only needed to follow it */
	if (n < 0 || p->alloc_method != ALLOC_METHOD_TYPED || !p->dealloc.n_sites)
		return n;
	m = attach_typed_returns(t, &p->alloc_typed_var);
	if (m < 0)
		return m;
	n += m;
	m = attach_typed_returns(t, &p->alloc_typed);
	return m < 0 ? m : n + m;
}

static int attach_arenas(struct bpf_target *t)
{
	struct pyobjlife_bpf *skel = t->session->skel;
	int n = attach_plain(t, &t->plan->arena_alloc, skel->progs.uprobe__arena_alloc), m;

	if (n < 0)
		return n;
	m = attach_plain(t, &t->plan->arena_free, skel->progs.uprobe__arena_free);
	return m < 0 ? m : n + m;
}

/* Census and GC blame at each collection start (full mode), after the start probes. */
static int attach_gc_lifecycle(struct bpf_target *t)
{
	struct pyobjlife_bpf *skel = t->session->skel;
	const struct probe_plan *p = t->plan;
	const char *bin = p->target.open_path;
	int err;

	if (p->gc_method == GC_METHOD_USDT) {
		err = keep_link(t,
				bpf_program__attach_usdt(skel->progs.usdt__gc_lifecycle, t->pid,
							 bin, "python", "gc__start", NULL),
				"USDT python:gc__start (census)", bin);
		return err ? err : 1;
	}
	for (int i = 0; i < p->collector.n_sites; i++) {
		const struct hook_site *site = &p->collector.sites[i];
		LIBBPF_OPTS(bpf_uprobe_opts, entry, .bpf_cookie = site->vaddr);

		err = keep_link(t,
				bpf_program__attach_uprobe_opts(skel->progs.uprobe__gc_lifecycle,
								t->pid, bin, site->offset, &entry),
				site->symbol, bin);
		if (err)
			return err;
	}
	return p->collector.n_sites;
}

static int attach_alloc_entries(struct bpf_target *t)
{
	struct pyobjlife_bpf *skel = t->session->skel;
	const struct probe_plan *p = t->plan;
	int n, m;

	switch (p->alloc_method) {
	case ALLOC_METHOD_BIRTH:
		return attach_alloc_hook(t, &p->alloc_birth, skel->progs.uprobe__alloc_birth);
	case ALLOC_METHOD_TYPED:
		n = attach_alloc_hook(t, &p->alloc_typed_var, skel->progs.uprobe__alloc_typed_var);
		if (n < 0)
			return n;
		m = attach_alloc_hook(t, &p->alloc_typed, skel->progs.uprobe__alloc_typed);
		return m < 0 ? m : n + m;
	default:
		return -ENOENT;
	}
}

static int attach_allocations(struct bpf_target *t)
{
	int n, l = attach_lifecycle(t), g;

	if (l < 0)
		return l;
	g = attach_gc_lifecycle(t);
	if (g < 0)
		return g;
	n = attach_alloc_entries(t);
	return n < 0 ? n : n + l + g;
}

/* Sampled mode: census and GC blame stay; the rest waits for the windows. */
static int prepare_windows(struct bpf_target *t)
{
	if (t->session->window_link == WINDOW_LINK_NONE ||
	    t->plan->alloc_method == ALLOC_METHOD_NONE)
		return -EINVAL;
	t->windowed = true;
	return attach_gc_lifecycle(t);
}

static struct bpf_target *find_target(const struct bpf_session *s, pid_t pid)
{
	for (int i = 0; i < s->n_targets; i++) {
		if (s->targets[i]->pid == pid)
			return s->targets[i];
	}
	return NULL;
}

static struct bpf_target *new_target(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	struct bpf_target *t;

	if (s->n_targets == s->cap_targets) {
		int cap = s->cap_targets ? 2 * s->cap_targets : 8;
		struct bpf_target **v = realloc(s->targets, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->targets = v;
		s->cap_targets = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->session = s;
	t->pid = pid;
	t->plan = p;
	for (int i = 0; i < BPF_SESSION_MAX_WINDOW_FDS; i++)
		t->window_fds[i] = -1;
	s->targets[s->n_targets++] = t;
	return t;
}

static int attach_target(struct bpf_target *t, const struct bpf_attach_opts *o)
{
	int n, m = 0;

	switch (t->plan->gc_method) {
	case GC_METHOD_USDT:
		n = attach_usdt(t);
		break;
	case GC_METHOD_UPROBE:
		n = attach_collector(t);
		break;
	default:
		return -ENOENT;
	}
	if (n >= 0 && o->allocations)
		m = attach_allocations(t);
	else if (n >= 0 && o->windowed)
		m = prepare_windows(t);
	if (m < 0)
		return m;
	if (n >= 0) {
		int a = attach_arenas(t);

		if (a < 0)
			return a;
		m += a;
	}
	return n < 0 ? n : n + m;
}

int bpf_session_attach(struct bpf_session *s, pid_t pid, const struct probe_plan *p,
		       const struct bpf_attach_opts *o)
{
	struct bpf_target *t;
	int err;

	if (find_target(s, pid))
		return -EEXIST;
	t = new_target(s, pid, p);
	if (!t)
		return -ENOMEM;
	t->allocations = o->allocations || o->windowed;
	err = register_target(s, pid, p, o);
	if (err) {
		pr_err("failed to register PID %d in the BPF maps: %s", (int)pid, strerror(-err));
		return err;
	}
	return attach_target(t, o);
}

/*
 * pid's entry of a per-target array, read under the slot lock so that the slot
 * cannot pass to another process in between. 0, or -errno with errno set.
 */
static int read_slot_entry(struct bpf_session *s, struct bpf_map *map, pid_t pid, void *out,
			   size_t size)
{
	int slot, err;

	pthread_mutex_lock(&s->slot_lock);
	slot = pid ? find_slot_locked(s, pid) : -1;
	if (slot < 0) {
		err = -ENOENT;
	} else {
		__u32 key = (__u32)slot;

		err = bpf_map__lookup_elem(map, &key, sizeof(key), out, size, 0);
	}
	pthread_mutex_unlock(&s->slot_lock);
	if (err)
		errno = -err;
	return err;
}

int bpf_session_read_alloc_agg(struct bpf_session *s, pid_t pid, struct alloc_agg *out)
{
	return read_slot_entry(s, s->skel->maps.alloc_aggs, pid, out, sizeof(*out));
}

struct alloc_maps bpf_session_alloc_maps(const struct bpf_session *s)
{
	return (struct alloc_maps){ .counts_fd = bpf_map__fd(s->skel->maps.alloc_counts),
				    .stacks_fd = bpf_map__fd(s->skel->maps.stacks),
				    .live_fd = bpf_map__fd(s->skel->maps.live),
				    .blame_fd = bpf_map__fd(s->skel->maps.gc_blame),
				    .census_fd = bpf_map__fd(s->skel->maps.census),
				    .overflow_fd = bpf_map__fd(s->skel->maps.alloc_overflow) };
}

int bpf_session_stacks_fd(const struct bpf_session *s)
{
	return bpf_map__fd(s->skel->maps.stacks);
}

int bpf_session_ringbuf(struct bpf_session *s, int (*fn)(void *ctx, void *data, size_t size),
			void *ctx)
{
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), fn, ctx, NULL);
	if (!s->rb) {
		int err = -errno;

		pr_err("failed to create the ring buffer consumer: %s", strerror(-err));
		return err;
	}
	return 0;
}

int bpf_session_read_agg(struct bpf_session *s, pid_t pid, struct gc_agg *out)
{
	return read_slot_entry(s, s->skel->maps.gc_aggs, pid, out, sizeof(*out));
}

bool bpf_session_target_registered(struct bpf_session *s, pid_t pid)
{
	__u32 key = (__u32)pid;
	struct target_cfg cfg;

	return !bpf_map__lookup_elem(s->skel->maps.targets, &key, sizeof(key), &cfg, sizeof(cfg),
				     0);
}

static bool collections_in_flight(struct bpf_session *s)
{
	int fd = bpf_map__fd(s->skel->maps.gc_inflight);
	__u32 key;

	return bpf_map_get_next_key(fd, NULL, &key) == 0;
}

void bpf_session_stop(struct bpf_session *s)
{
	struct timespec tick = { .tv_nsec = 5 * 1000 * 1000 };

	if (!s->skel)
		return;
	s->skel->bss->stopping = 1;
	/* let running collections end; a start whose end never came is stale: stop waiting */
	for (int i = 0; i < 40 && collections_in_flight(s); i++)
		nanosleep(&tick, NULL);
}

/* ---- detaching ---- */

struct link_closer {
	pthread_t thread;
	bool started;
	int fd;		       /* a uprobe_multi link */
	struct bpf_link *link; /* or a perf-event link */
};

static void *close_one(void *arg)
{
	struct link_closer *c = arg;

	if (c->link)
		bpf_link__destroy(c->link);
	else
		close(c->fd);
	return NULL;
}

/* Threads at once: enough to overlap the waits of a few targets' probes. */
#define CLOSERS_AT_ONCE 64

/*
 * Every link at once: closing one waits for a grace period (tens of ms for a
 * uprobe_multi link, 100+ ms for a perf-event one) while the links not yet
 * closed keep trapping; in parallel the waits overlap and every breakpoint goes
 * at the start. Closed in place when a thread cannot be had.
 */
static void close_in_parallel(struct link_closer *c, int n)
{
	for (int from = 0; from < n; from += CLOSERS_AT_ONCE) {
		int to = n - from > CLOSERS_AT_ONCE ? from + CLOSERS_AT_ONCE : n;

		for (int i = from; i < to; i++)
			c[i].started = !pthread_create(&c[i].thread, NULL, close_one, &c[i]);
		for (int i = from; i < to; i++) {
			if (c[i].started)
				pthread_join(c[i].thread, NULL);
			else
				close_one(&c[i]);
		}
	}
}

/* The closers of a list's links; the list is left empty. */
static void take_links(struct bpf_links *l, struct link_closer *c, int *n)
{
	for (int i = 0; i < l->n; i++)
		c[(*n)++] = (struct link_closer){ .fd = -1, .link = l->v[i] };
	l->n = 0;
}

static void take_window(struct bpf_target *t, struct link_closer *c, int *n)
{
	for (int i = 0; i < t->n_window_fds; i++) {
		c[(*n)++] = (struct link_closer){ .fd = t->window_fds[i] };
		t->window_fds[i] = -1;
	}
	t->n_window_fds = 0;
	take_links(&t->window_links, c, n);
	t->window_attached = false;
}

static int links_of(const struct bpf_target *t)
{
	return t->links.n + t->window_links.n + t->n_window_fds;
}

/* Out of memory for the closers: one link after the other. */
static void destroy_serially(struct bpf_target *t)
{
	for (int i = 0; i < t->n_window_fds; i++)
		close(t->window_fds[i]);
	t->n_window_fds = 0;
	for (int i = 0; i < t->window_links.n; i++)
		bpf_link__destroy(t->window_links.v[i]);
	t->window_links.n = 0;
	t->window_attached = false;
	for (int i = 0; i < t->links.n; i++)
		bpf_link__destroy(t->links.v[i]);
	t->links.n = 0;
}

/* Every link of one target, or of all when `only` is NULL, in one go. */
static void detach_targets(struct bpf_session *s, struct bpf_target *only)
{
	struct link_closer *c;
	int n = 0, cap = 1;

	for (int i = 0; i < s->n_targets; i++) {
		if (!only || s->targets[i] == only)
			cap += links_of(s->targets[i]);
	}
	c = calloc(cap, sizeof(*c));
	for (int i = 0; i < s->n_targets; i++) {
		struct bpf_target *t = s->targets[i];

		if (only && t != only)
			continue;
		if (c) {
			take_window(t, c, &n);
			take_links(&t->links, c, &n);
		} else {
			destroy_serially(t);
		}
	}
	if (c)
		close_in_parallel(c, n);
	free(c);
}

void bpf_session_detach(struct bpf_session *s)
{
	detach_targets(s, NULL);
	bpf_link__destroy(s->exec_link);
	s->exec_link = NULL;
}

static void free_target(struct bpf_target *t)
{
	bpf_link__destroy(t->user_time_iter);
	free(t->links.v);
	free(t->window_links.v);
	free(t);
}

void bpf_session_close(struct bpf_session *s)
{
	bpf_session_detach(s);
	for (int i = 0; i < s->n_targets; i++)
		free_target(s->targets[i]);
	free(s->targets);
	s->targets = NULL;
	s->n_targets = s->cap_targets = 0;
	if (s->run_stats_fd > 0)
		close(s->run_stats_fd);
	s->run_stats_fd = 0;
	ring_buffer__free(s->rb);
	s->rb = NULL;
	pyobjlife_bpf__destroy(s->skel);
	s->skel = NULL;
}

/* ---- forgetting a target's map entries ---- */

#define BATCH 4096

/* Whether an entry (key, value) belongs to `tgid`. */
typedef bool (*entry_owner_fn)(const void *key, const void *value, __u32 tgid);

/*
 * Every entry of the map `tgid` owns, passed to fn (may be NULL) then deleted.
 * Read in batches, deleted after the read: deleting behind a batch cursor would
 * lose the cursor's place. 0 or -errno.
 */
static int drain_owned(struct bpf_map *map, entry_owner_fn owner, __u32 tgid,
		       void (*fn)(void *ctx, const void *value), void *ctx)
{
	size_t ks = bpf_map__key_size(map), vs = bpf_map__value_size(map);
	int fd = bpf_map__fd(map), err = 0;
	char *keys = calloc(BATCH, ks), *vals = calloc(BATCH, vs), *mine = NULL;
	size_t n_mine = 0, cap = 0;
	__u64 in_batch = 0, out_batch = 0;
	bool first = true;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 count = BATCH;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys, vals,
					   &count, NULL);
		err = err ? -errno : 0;
		for (__u32 i = 0; i < count; i++) {
			if (!owner(keys + i * ks, vals + i * vs, tgid))
				continue;
			if (fn)
				fn(ctx, vals + i * vs);
			if (n_mine == cap) {
				size_t ncap = cap ? 2 * cap : 256;
				char *m = realloc(mine, ncap * ks);

				if (!m) {
					err = -ENOMEM;
					goto out;
				}
				mine = m;
				cap = ncap;
			}
			memcpy(mine + n_mine++ * ks, keys + i * ks, ks);
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err)
			goto out;
		in_batch = out_batch;
		first = false;
	}
	for (size_t i = 0; i < n_mine; i++)
		bpf_map_delete_elem(fd, mine + i * ks);
out:
	free(keys);
	free(vals);
	free(mine);
	return err;
}

static bool owned_alloc_key(const void *key, const void *value, __u32 tgid)
{
	(void)value;
	return ((const struct alloc_key *)key)->tgid == tgid;
}

static bool owned_live_key(const void *key, const void *value, __u32 tgid)
{
	(void)value;
	return ((const struct live_key *)key)->tgid == tgid;
}

static bool owned_blame_key(const void *key, const void *value, __u32 tgid)
{
	(void)value;
	return ((const struct blame_key *)key)->tgid == tgid;
}

static bool owned_census_key(const void *key, const void *value, __u32 tgid)
{
	(void)value;
	return ((const struct census_key *)key)->tgid == tgid;
}

/* typed_calls: the allocator call's (stack, type) key names its process */
static bool owned_typed_call(const void *key, const void *value, __u32 tgid)
{
	(void)key;
	return ((const struct alloc_key *)value)->tgid == tgid;
}

struct bpf_target *bpf_session_release_target(struct bpf_session *s, pid_t pid)
{
	struct bpf_target *t = find_target(s, pid);

	for (int i = 0; t && i < s->n_targets; i++) {
		if (s->targets[i] == t) {
			s->targets[i] = s->targets[--s->n_targets];
			break;
		}
	}
	return t;
}

void bpf_target_destroy(struct bpf_target *t)
{
	struct link_closer *c;
	int n = 0;

	if (!t)
		return;
	c = calloc(links_of(t) + 1, sizeof(*c));
	if (c) {
		take_window(t, c, &n);
		take_links(&t->links, c, &n);
		close_in_parallel(c, n);
		free(c);
	} else {
		destroy_serially(t);
	}
	free_target(t);
}

void bpf_session_clear_target(struct bpf_session *s, pid_t pid, bool allocations)
{
	struct pyobjlife_bpf *skel = s->skel;
	__u32 key = (__u32)pid;

	bpf_map__delete_elem(skel->maps.targets, &key, sizeof(key), 0);
	bpf_map__delete_elem(skel->maps.exec_expected, &key, sizeof(key), 0);
	/* a target that never counted allocations has nothing in their maps: skip the walks */
	if (allocations) {
		drain_owned(skel->maps.alloc_counts, owned_alloc_key, key, NULL, NULL);
		drain_owned(skel->maps.alloc_overflow, owned_alloc_key, key, NULL, NULL);
		drain_owned(skel->maps.live, owned_live_key, key, NULL, NULL);
		drain_owned(skel->maps.gc_blame, owned_blame_key, key, NULL, NULL);
		drain_owned(skel->maps.census, owned_census_key, key, NULL, NULL);
		drain_owned(skel->maps.typed_calls, owned_typed_call, key, NULL, NULL);
	}
	/* last: a death still in the live map counts into the slot it names */
	free_slot(s, pid);
}

void bpf_session_forget_target(struct bpf_session *s, pid_t pid)
{
	struct bpf_target *t = bpf_session_release_target(s, pid);
	bool allocations = !t || t->allocations;

	bpf_target_destroy(t);
	bpf_session_clear_target(s, pid, allocations);
}

/* ---- sampled mode: windows ---- */

unsigned bpf_session_window_sites(const struct probe_plan *p)
{
	unsigned n = (unsigned)p->dealloc.n_sites;

	if (p->alloc_method == ALLOC_METHOD_BIRTH)
		return n + (unsigned)p->alloc_birth.n_sites;
	/* typed allocators: an entry and a return probe each */
	return n + 2u * (unsigned)(p->alloc_typed_var.n_sites + p->alloc_typed.n_sites);
}

/* One uprobe_multi link: `prog` on every site of the hooks, cookies = link-time addresses
 * of the probed instructions, as the perf-event attach paths give them. */
static int attach_multi(struct bpf_target *t, struct bpf_program *prog,
			const struct hook *const *hooks, int n_hooks, bool retprobe)
{
	const struct probe_plan *p = t->plan;
	uint64_t offsets[2 * HOOK_MAX_SITES], cookies[2 * HOOK_MAX_SITES];
	unsigned cnt = 0;
	int fd;

	for (int h = 0; h < n_hooks; h++) {
		for (int i = 0; i < hooks[h]->n_sites && cnt < 2 * HOOK_MAX_SITES; i++) {
			const struct hook_site *site = &hooks[h]->sites[i];
			/* a return probe traps at the entry; an entry one where placement put it */
			uint64_t moved = retprobe ? 0 : site->place.offset;

			offsets[cnt] = site->offset + moved;
			cookies[cnt++] = site->vaddr + moved;
		}
	}
	if (!cnt)
		return 0;
	if (t->n_window_fds >= BPF_SESSION_MAX_WINDOW_FDS)
		return -E2BIG;
	fd = uprobe_multi_attach(bpf_program__fd(prog), p->target.open_path, offsets, cookies, cnt,
				 t->pid, retprobe);
	if (fd < 0) {
		pr_err("failed to attach %s to %s (uprobe_multi, %u offsets): %s",
		       bpf_program__name(prog), p->target.open_path, cnt, strerror(-fd));
		return fd;
	}
	t->window_fds[t->n_window_fds++] = fd;
	return (int)cnt;
}

/* Deaths before births, returns before entries, as attach_lifecycle does. */
static int attach_window_multi(struct bpf_target *t)
{
	struct pyobjlife_bpf *skel = t->session->skel;
	const struct probe_plan *p = t->plan;
	const struct hook *dealloc[] = { &p->dealloc };
	const struct hook *typed[] = { &p->alloc_typed_var, &p->alloc_typed };
	const struct hook *birth[] = { &p->alloc_birth };
	int n = 0, r;

	r = attach_multi(t, skel->progs.uprobe__dealloc, dealloc, 1, false);
	if (r < 0)
		return r;
	n += r;
	if (p->alloc_method == ALLOC_METHOD_BIRTH) {
		r = attach_multi(t, skel->progs.uprobe__alloc_birth, birth, 1, false);
		return r < 0 ? r : n + r;
	}
	r = attach_multi(t, skel->progs.uretprobe__alloc_typed, typed, 2, true);
	if (r < 0)
		return r;
	n += r;
	r = attach_multi(t, skel->progs.uprobe__alloc_typed_var, &typed[0], 1, false);
	if (r < 0)
		return r;
	n += r;
	r = attach_multi(t, skel->progs.uprobe__alloc_typed, &typed[1], 1, false);
	return r < 0 ? r : n + r;
}

static int attach_window_perf(struct bpf_target *t)
{
	int n = attach_lifecycle(t), m;

	if (n < 0)
		return n;
	m = attach_alloc_entries(t);
	return m < 0 ? m : n + m;
}

static void window_detach(struct bpf_target *t)
{
	struct link_closer *c;
	int n = 0;

	if (!t->window_attached)
		return;
	c = calloc(t->n_window_fds + t->window_links.n + 1, sizeof(*c));
	if (!c) {
		detach_targets(t->session, t);
		return;
	}
	take_window(t, c, &n);
	close_in_parallel(c, n);
	free(c);
}

static int window_attach(struct bpf_target *t)
{
	int n;

	if (!t->windowed || t->window_attached)
		return -EINVAL;
	/* from here keep_link puts the links in the window's list */
	t->window_attached = true;
	n = t->session->window_link == WINDOW_LINK_UPROBE_MULTI ? attach_window_multi(t)
								: attach_window_perf(t);
	if (n < 0)
		window_detach(t);
	return n;
}

static int window_gate(struct bpf_target *t, bool open)
{
	struct bpf_map *targets = t->session->skel->maps.targets;
	__u32 key = (__u32)t->pid;
	struct target_cfg cfg;
	int err;

	/* userspace is the only writer of the configuration: read, change, write back */
	err = bpf_map__lookup_elem(targets, &key, sizeof(key), &cfg, sizeof(cfg), 0);
	if (err)
		return err;
	cfg.window_open = open;
	return bpf_map__update_elem(targets, &key, sizeof(key), &cfg, sizeof(cfg), BPF_EXIST);
}

uint64_t bpf_session_live_capacity(const struct bpf_session *s)
{
	return bpf_map__max_entries(s->skel->maps.live);
}

static void count_censored(void *ctx, const void *value)
{
	alloc_recording_add_censored(ctx, value);
}

/*
 * After the window's detach: its objects still followed, and the allocator
 * calls whose return it did not see (a later return must not match them).
 * Other targets' entries stay: their windows may be open.
 */
static int window_censor(struct bpf_target *t, uint64_t *censored)
{
	struct pyobjlife_bpf *skel = t->session->skel;
	uint64_t before = t->window_alloc->censored_total;
	int err;

	err = drain_owned(skel->maps.live, owned_live_key, (__u32)t->pid, count_censored,
			  t->window_alloc);
	*censored = t->window_alloc->censored_total - before;
	drain_owned(skel->maps.typed_calls, owned_typed_call, (__u32)t->pid, NULL, NULL);
	return err;
}

static int ops_attach(void *ctx)
{
	int n = window_attach(ctx);

	return n < 0 ? n : 0;
}

static int ops_gate(void *ctx, bool open)
{
	return window_gate(ctx, open);
}

static void ops_detach(void *ctx)
{
	window_detach(ctx);
}

static int ops_censor(void *ctx, uint64_t *censored)
{
	return window_censor(ctx, censored);
}

static int ops_counters(void *ctx, struct window_counters *out)
{
	struct bpf_target *t = ctx;
	struct alloc_agg a;
	struct gc_agg g;
	int err = bpf_session_read_alloc_agg(t->session, t->pid, &a);

	if (!err)
		err = bpf_session_read_agg(t->session, t->pid, &g);
	if (err)
		return err;
	*out = (struct window_counters){
		.hits_alloc = a.hits_alloc,
		.hits_dealloc = a.hits_dealloc,
		.hits_return = a.hits_return,
		.hits_single_step = a.hits_single_step,
		/* counted under a (stack, type), or by type alone once the count map was full */
		.allocations = a.allocations + a.counts_full - a.overflow_full,
		.followed = a.followed,
		.lost_events = a.key_events_lost + g.ringbuf_drops + g.census_lost,
		.counts_full = a.counts_full,
		.stacks_full = a.stacks_full,
		.live_full = a.live_full,
	};
	return 0;
}

/* CPU time of every thread of the target, from its process CPU clock (CPUCLOCK_SCHED) */
static int ops_target_cpu_ns(void *ctx, uint64_t *out)
{
	struct bpf_target *t = ctx;
	clockid_t clock = (clockid_t)((~(unsigned)t->pid) << 3 | 2);
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		return -errno;
	*out = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return 0;
}

/* What the kernel measured of a program's runs (counted while BPF_ENABLE_STATS is on). */
static int program_run_stats(const struct bpf_program *prog, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	int fd = bpf_program__fd(prog);

	memset(info, 0, sizeof(*info));
	if (fd < 0)
		return -EBADF;
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* User-mode CPU time of every thread of the target, living or exited, in ns. */
static int ops_target_user_ns(void *ctx, uint64_t *out)
{
	struct bpf_target *t = ctx;

	if (!t->user_time_iter) {
		t->user_time_iter =
			user_time_iter_attach(t->session->skel->progs.iter__target_user_time,
					      t->pid, &t->user_time_filtered);
		if (!t->user_time_iter) {
			pr_debug("the target's user time cannot be read (task iterator: %s)",
				 strerror(errno));
			return -ENOTSUP;
		}
	}
	return user_time_iter_read(t->user_time_iter, t->user_time_filtered ? 0 : t->pid, out);
}

static int ops_program_ns(void *ctx, uint64_t *out)
{
	struct bpf_target *t = ctx;
	struct bpf_program *prog;
	struct bpf_prog_info info;

	*out = 0;
	bpf_object__for_each_program(prog, t->session->skel->obj)
	{
		int err;

		/* the user-time iterator runs in pyobjlife, not in the target */
		if (bpf_program__expected_attach_type(prog) == BPF_TRACE_ITER)
			continue;
		err = program_run_stats(prog, &info);

		if (err == -EBADF)
			continue;
		if (err)
			return err;
		*out += info.run_time_ns;
	}
	return 0;
}

struct sampler_ops bpf_session_sampler_ops(struct bpf_session *s, pid_t pid,
					   struct alloc_recording *alloc)
{
	struct bpf_target *t = find_target(s, pid);
	/*
	 * The programs' run time is the session's, every target's together: with
	 * several targets a window's share of it cannot be told, and is modelled.
	 */
	bool measured = !s->programs_shared;

	/*
	 * The kernel times every BPF program run while this descriptor is open (two
	 * clock reads per run, on every program of the host): sampled mode needs the
	 * probes' real cost to tell the target's work inside a window from it.
	 */
	if (measured && !s->run_stats_fd) {
		int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

		s->run_stats_fd = fd > 0 ? fd : -1;
		if (fd < 0)
			pr_debug("BPF run-time statistics unavailable (%s): probe costs are "
				 "modelled",
				 strerror(errno));
	}
	if (t)
		t->window_alloc = alloc;
	return (struct sampler_ops){ .ctx = t,
				     .attach = ops_attach,
				     .gate = ops_gate,
				     .detach = ops_detach,
				     .censor = ops_censor,
				     .counters = ops_counters,
				     .target_cpu_ns = ops_target_cpu_ns,
				     .target_user_ns = ops_target_user_ns,
				     .program_ns = measured && s->run_stats_fd > 0 ? ops_program_ns
										   : NULL };
}

json_t *bpf_session_program_stats_json(const struct bpf_session *s)
{
	struct bpf_program *prog;
	json_t *out = json_object();

	if (!out || !s->skel)
		return out;
	bpf_object__for_each_program(prog, s->skel->obj)
	{
		struct bpf_prog_info info;

		if (program_run_stats(prog, &info) || !info.run_cnt)
			continue;
		json_object_set_new(out, bpf_program__name(prog),
				    json_pack("{s:I, s:I, s:f}", "runs", (json_int_t)info.run_cnt,
					      "run_time_ns", (json_int_t)info.run_time_ns,
					      "ns_per_run",
					      (double)info.run_time_ns / (double)info.run_cnt));
	}
	return out;
}

static struct bpf_map_size map_size(const struct bpf_map *m)
{
	return (struct bpf_map_size){ .max_entries = bpf_map__max_entries(m),
				      .kernel_bytes = bpf_map_kernel_bytes(bpf_map__fd(m)) };
}

void bpf_session_map_sizes(const struct bpf_session *s, struct bpf_map_sizes *out)
{
	const struct bpf_map *m;

	memset(out, 0, sizeof(*out));
	if (!s->skel)
		return;
	*out = (struct bpf_map_sizes){
		.known = true,
		.events = map_size(s->skel->maps.events),
		.gc_inflight = map_size(s->skel->maps.gc_inflight),
		.stacks = map_size(s->skel->maps.stacks),
		.alloc_counts = map_size(s->skel->maps.alloc_counts),
		.live = map_size(s->skel->maps.live),
		.typed_calls = map_size(s->skel->maps.typed_calls),
		.census = map_size(s->skel->maps.census),
		.gc_blame = map_size(s->skel->maps.gc_blame),
		.blame_pending = map_size(s->skel->maps.blame_pending),
		.ring_peak_unread = s->skel->bss->ring_peak_unread,
	};
	bpf_object__for_each_map(m, s->skel->obj)
	{
		if (bpf_map__fd(m) >= 0)
			out->kernel_bytes += bpf_map_kernel_bytes(bpf_map__fd(m));
	}
}
