// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf_session.h"
#include "log.h"
#include "pyobjlife.skel.h"

int bpf_session_open(struct bpf_session *s, const struct bpf_session_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = o->btf_path);
	int err;

	memset(s, 0, sizeof(*s));
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
	if (o->max_sites &&
	    (err = bpf_map__set_max_entries(s->skel->maps.alloc_counts, o->max_sites))) {
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
	if (o->census_max_objects)
		s->skel->rodata->census_max_objects = o->census_max_objects;
	err = pyobjlife_bpf__load(s->skel);
	if (err) {
		pr_err("failed to load the BPF programs: %s (run with -vv for the verifier log)",
		       strerror(-err));
		return err;
	}
	return 0;
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
		.frame_code_off = l->frame_code_off,
		.frame_previous_off = l->frame_previous_off,
		.frame_instr_off = l->frame_instr_off,
		.frame_owner_off = l->frame_owner_off,
		.frame_size = l->frame_size,
		.code_adaptive_off = l->code_adaptive_off,
		.code_filename_off = l->code_filename_off,
		.ob_type_off = l->ob_type_off,
		.ob_size_off = l->ob_size_off,
		.tp_basicsize_off = l->tp_basicsize_off,
		.tp_flags_off = l->tp_flags_off,
		.tp_dealloc_off = l->tp_dealloc_off,
		.max_depth = depth,
		.instr_kind = l->instr_kind,
		.owner_skip_from = l->owner_skip_from,
	};
}

static int create_agg_entry(struct bpf_map *map, __u32 key, size_t size)
{
	void *zero = calloc(1, size);
	int err;

	if (!zero)
		return -ENOMEM;
	err = bpf_map__update_elem(map, &key, sizeof(key), zero, size, BPF_ANY);
	free(zero);
	return err;
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
	int err;

	/* the BPF side reads threshold and count as one pair, tp_basicsize and tp_itemsize too */
	if (l->gen_count_off != l->gen_threshold_off + 4)
		return -EINVAL;
	if (o->allocations) {
		const struct frame_layout *fl = p->frame_layout;

		if (!fl || fl->tp_itemsize_off != fl->tp_basicsize_off + 8 ||
		    fl->tp_dealloc_off != fl->tp_itemsize_off + 8 ||
		    fl->code_name_off != fl->code_filename_off + 8 ||
		    fl->frame_size > PYOBJLIFE_FRAME_READ_MAX)
			return -EINVAL;
		fill_walk_cfg(&cfg.walk, fl, o->stack_depth);
		cfg.lifecycle = 1;
		for (int i = 0; i < p->dealloc.n_sites && i < PYOBJLIFE_MAX_DEALLOCS; i++)
			cfg.followed_deallocs[i] = p->dealloc.sites[i].vaddr;
	}
	err = create_agg_entry(s->skel->maps.gc_aggs, key, sizeof(struct gc_agg));
	if (!err)
		err = create_agg_entry(s->skel->maps.alloc_aggs, key, sizeof(struct alloc_agg));
	if (!err)
		err = bpf_map__update_elem(s->skel->maps.targets, &key, sizeof(key), &cfg,
					   sizeof(cfg), BPF_ANY);
	return err;
}

static int keep_link(struct bpf_session *s, struct bpf_link *link, const char *what,
		     const char *where)
{
	int err;

	if (!link) {
		err = -errno;
		pr_err("failed to attach %s to %s: %s", what, where, strerror(-err));
		return err;
	}
	if (s->n_links >= BPF_SESSION_MAX_LINKS) {
		bpf_link__destroy(link);
		pr_err("too many probes (limit %d)", BPF_SESSION_MAX_LINKS);
		return -E2BIG;
	}
	s->links[s->n_links++] = link;
	return 0;
}

static int attach_usdt(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	const char *bin = p->target.open_path;
	int err;

	/* ends first: every start the programs see then has its end in place */
	err = keep_link(s,
			bpf_program__attach_usdt(s->skel->progs.usdt__gc_done, pid, bin, "python",
						 "gc__done", NULL),
			"USDT python:gc__done", bin);
	if (!err)
		err = keep_link(s,
				bpf_program__attach_usdt(s->skel->progs.usdt__gc_start, pid, bin,
							 "python", "gc__start", NULL),
				"USDT python:gc__start", bin);
	return err ? err : 2;
}

static int attach_collector(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	const char *bin = p->target.open_path;
	int n = 0, err;

	for (int i = 0; i < p->collector.n_sites; i++) {
		const struct hook_site *site = &p->collector.sites[i];
		/* the entry program learns the load bias from its cookie (the link-time address) */
		LIBBPF_OPTS(bpf_uprobe_opts, entry, .bpf_cookie = site->vaddr);
		LIBBPF_OPTS(bpf_uprobe_opts, ret, .retprobe = true);

		/* the return probe first, for the same reason as attach_usdt */
		err = keep_link(
			s,
			bpf_program__attach_uprobe_opts(s->skel->progs.uretprobe__gc_collect, pid,
							bin, site->offset, &ret),
			site->symbol, bin);
		if (err)
			return err;
		err = keep_link(s,
				bpf_program__attach_uprobe_opts(s->skel->progs.uprobe__gc_collect,
								pid, bin, site->offset, &entry),
				site->symbol, bin);
		if (err)
			return err;
		n += 2;
	}
	return n;
}

static int attach_alloc_hook(struct bpf_session *s, pid_t pid, const struct probe_plan *p,
			     const struct hook *h, struct bpf_program *prog)
{
	const char *bin = p->target.open_path;
	int err;

	for (int i = 0; i < h->n_sites; i++) {
		const struct hook_site *site = &h->sites[i];
		/*
		 * The program learns the load bias from its cookie, as the collector probe
		 * does: the link-time address of the probed instruction, which placement
		 * may have moved past the entry (the trapping IP is that instruction's).
		 */
		LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = site->vaddr + site->place.offset);

		err = keep_link(s,
				bpf_program__attach_uprobe_opts(
					prog, pid, bin, site->offset + site->place.offset, &uo),
				site->symbol, bin);
		if (err)
			return err;
	}
	return h->n_sites;
}

/* Return probes of the typed allocators: the new object's address, to follow it. */
static int attach_typed_returns(struct bpf_session *s, pid_t pid, const struct probe_plan *p,
				const struct hook *h)
{
	const char *bin = p->target.open_path;
	LIBBPF_OPTS(bpf_uprobe_opts, ret, .retprobe = true);
	int err;

	for (int i = 0; i < h->n_sites; i++) {
		err = keep_link(
			s,
			bpf_program__attach_uprobe_opts(s->skel->progs.uretprobe__alloc_typed, pid,
							bin, h->sites[i].offset, &ret),
			h->sites[i].symbol, bin);
		if (err)
			return err;
	}
	return h->n_sites;
}

/* Probes that need no cookie: deallocators and arena functions. */
static int attach_plain(struct bpf_session *s, pid_t pid, const struct probe_plan *p,
			const struct hook *h, struct bpf_program *prog)
{
	const char *bin = p->target.open_path;
	int err;

	for (int i = 0; i < h->n_sites; i++) {
		const struct hook_site *site = &h->sites[i];

		err = keep_link(s,
				bpf_program__attach_uprobe_opts(
					prog, pid, bin, site->offset + site->place.offset, NULL),
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
static int attach_lifecycle(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	int n = attach_plain(s, pid, p, &p->dealloc, s->skel->progs.uprobe__dealloc), m;

	if (n < 0 || p->alloc_method != ALLOC_METHOD_TYPED)
		return n;
	m = attach_typed_returns(s, pid, p, &p->alloc_typed_var);
	if (m < 0)
		return m;
	n += m;
	m = attach_typed_returns(s, pid, p, &p->alloc_typed);
	return m < 0 ? m : n + m;
}

static int attach_arenas(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	int n = attach_plain(s, pid, p, &p->arena_alloc, s->skel->progs.uprobe__arena_alloc), m;

	if (n < 0)
		return n;
	m = attach_plain(s, pid, p, &p->arena_free, s->skel->progs.uprobe__arena_free);
	return m < 0 ? m : n + m;
}

/* Census and GC blame at each collection start (full mode), after the start probes. */
static int attach_gc_lifecycle(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	const char *bin = p->target.open_path;
	int err;

	if (p->gc_method == GC_METHOD_USDT) {
		err = keep_link(s,
				bpf_program__attach_usdt(s->skel->progs.usdt__gc_lifecycle, pid,
							 bin, "python", "gc__start", NULL),
				"USDT python:gc__start (census)", bin);
		return err ? err : 1;
	}
	for (int i = 0; i < p->collector.n_sites; i++) {
		const struct hook_site *site = &p->collector.sites[i];
		LIBBPF_OPTS(bpf_uprobe_opts, entry, .bpf_cookie = site->vaddr);

		err = keep_link(s,
				bpf_program__attach_uprobe_opts(s->skel->progs.uprobe__gc_lifecycle,
								pid, bin, site->offset, &entry),
				site->symbol, bin);
		if (err)
			return err;
	}
	return p->collector.n_sites;
}

static int attach_allocations(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	int n, m, l = attach_lifecycle(s, pid, p), g;

	if (l < 0)
		return l;
	g = attach_gc_lifecycle(s, pid, p);
	if (g < 0)
		return g;
	l += g;
	switch (p->alloc_method) {
	case ALLOC_METHOD_BIRTH:
		n = attach_alloc_hook(s, pid, p, &p->alloc_birth,
				      s->skel->progs.uprobe__alloc_birth);
		return n < 0 ? n : n + l;
	case ALLOC_METHOD_TYPED:
		n = attach_alloc_hook(s, pid, p, &p->alloc_typed_var,
				      s->skel->progs.uprobe__alloc_typed_var);
		if (n < 0)
			return n;
		m = attach_alloc_hook(s, pid, p, &p->alloc_typed,
				      s->skel->progs.uprobe__alloc_typed);
		return m < 0 ? m : n + m + l;
	default:
		return -ENOENT;
	}
}

int bpf_session_attach(struct bpf_session *s, pid_t pid, const struct probe_plan *p,
		       const struct bpf_attach_opts *o)
{
	int err = register_target(s, pid, p, o), n, m = 0;

	if (err) {
		pr_err("failed to register PID %d in the BPF maps: %s", (int)pid, strerror(-err));
		return err;
	}
	switch (p->gc_method) {
	case GC_METHOD_USDT:
		n = attach_usdt(s, pid, p);
		break;
	case GC_METHOD_UPROBE:
		n = attach_collector(s, pid, p);
		break;
	default:
		return -ENOENT;
	}
	if (n >= 0 && o->allocations)
		m = attach_allocations(s, pid, p);
	if (m < 0)
		return m;
	if (n >= 0) {
		int a = attach_arenas(s, pid, p);

		if (a < 0)
			return a;
		m += a;
	}
	return n < 0 ? n : n + m;
}

int bpf_session_read_alloc_agg(struct bpf_session *s, pid_t pid, struct alloc_agg *out)
{
	__u32 key = (__u32)pid;

	return bpf_map__lookup_elem(s->skel->maps.alloc_aggs, &key, sizeof(key), out, sizeof(*out),
				    0);
}

struct alloc_maps bpf_session_alloc_maps(const struct bpf_session *s)
{
	return (struct alloc_maps){ .counts_fd = bpf_map__fd(s->skel->maps.alloc_counts),
				    .stacks_fd = bpf_map__fd(s->skel->maps.stacks),
				    .live_fd = bpf_map__fd(s->skel->maps.live),
				    .blame_fd = bpf_map__fd(s->skel->maps.gc_blame),
				    .census_fd = bpf_map__fd(s->skel->maps.census) };
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
	__u32 key = (__u32)pid;

	return bpf_map__lookup_elem(s->skel->maps.gc_aggs, &key, sizeof(key), out, sizeof(*out), 0);
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

void bpf_session_detach(struct bpf_session *s)
{
	for (int i = 0; i < s->n_links; i++)
		bpf_link__destroy(s->links[i]);
	s->n_links = 0;
}

void bpf_session_close(struct bpf_session *s)
{
	bpf_session_detach(s);
	ring_buffer__free(s->rb);
	s->rb = NULL;
	pyobjlife_bpf__destroy(s->skel);
	s->skel = NULL;
}
