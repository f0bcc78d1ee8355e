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
	for (int i = 0; i < BPF_SESSION_MAX_WINDOW_FDS; i++)
		s->window_fds[i] = -1;
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
	/* full mode counts all the time; sampled mode while a window is open */
	cfg.window_open = !o->windowed;
	if (o->allocations || o->windowed) {
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

static int attach_alloc_entries(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	int n, m;

	switch (p->alloc_method) {
	case ALLOC_METHOD_BIRTH:
		return attach_alloc_hook(s, pid, p, &p->alloc_birth,
					 s->skel->progs.uprobe__alloc_birth);
	case ALLOC_METHOD_TYPED:
		n = attach_alloc_hook(s, pid, p, &p->alloc_typed_var,
				      s->skel->progs.uprobe__alloc_typed_var);
		if (n < 0)
			return n;
		m = attach_alloc_hook(s, pid, p, &p->alloc_typed,
				      s->skel->progs.uprobe__alloc_typed);
		return m < 0 ? m : n + m;
	default:
		return -ENOENT;
	}
}

static int attach_allocations(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	int n, l = attach_lifecycle(s, pid, p), g;

	if (l < 0)
		return l;
	g = attach_gc_lifecycle(s, pid, p);
	if (g < 0)
		return g;
	n = attach_alloc_entries(s, pid, p);
	return n < 0 ? n : n + l + g;
}

/* Sampled mode: census and GC blame stay; the rest waits for the windows. */
static int prepare_windows(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	if (s->window_link == WINDOW_LINK_NONE || p->alloc_method == ALLOC_METHOD_NONE)
		return -EINVAL;
	s->window_pid = pid;
	s->window_plan = p;
	return attach_gc_lifecycle(s, pid, p);
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
	else if (n >= 0 && o->windowed)
		m = prepare_windows(s, pid, p);
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
	bpf_session_window_detach(s);
	for (int i = 0; i < s->n_links; i++)
		bpf_link__destroy(s->links[i]);
	s->n_links = 0;
}

void bpf_session_close(struct bpf_session *s)
{
	bpf_session_detach(s);
	if (s->run_stats_fd > 0)
		close(s->run_stats_fd);
	s->run_stats_fd = 0;
	ring_buffer__free(s->rb);
	s->rb = NULL;
	pyobjlife_bpf__destroy(s->skel);
	s->skel = NULL;
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
static int attach_multi(struct bpf_session *s, struct bpf_program *prog,
			const struct hook *const *hooks, int n_hooks, bool retprobe)
{
	const struct probe_plan *p = s->window_plan;
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
	if (s->n_window_fds >= BPF_SESSION_MAX_WINDOW_FDS)
		return -E2BIG;
	fd = uprobe_multi_attach(bpf_program__fd(prog), p->target.open_path, offsets, cookies, cnt,
				 s->window_pid, retprobe);
	if (fd < 0) {
		pr_err("failed to attach %s to %s (uprobe_multi, %u offsets): %s",
		       bpf_program__name(prog), p->target.open_path, cnt, strerror(-fd));
		return fd;
	}
	s->window_fds[s->n_window_fds++] = fd;
	return (int)cnt;
}

/* Deaths before births, returns before entries, as attach_lifecycle does. */
static int attach_window_multi(struct bpf_session *s)
{
	const struct probe_plan *p = s->window_plan;
	const struct hook *dealloc[] = { &p->dealloc };
	const struct hook *typed[] = { &p->alloc_typed_var, &p->alloc_typed };
	const struct hook *birth[] = { &p->alloc_birth };
	int n = 0, r;

	r = attach_multi(s, s->skel->progs.uprobe__dealloc, dealloc, 1, false);
	if (r < 0)
		return r;
	n += r;
	if (p->alloc_method == ALLOC_METHOD_BIRTH) {
		r = attach_multi(s, s->skel->progs.uprobe__alloc_birth, birth, 1, false);
		return r < 0 ? r : n + r;
	}
	r = attach_multi(s, s->skel->progs.uretprobe__alloc_typed, typed, 2, true);
	if (r < 0)
		return r;
	n += r;
	r = attach_multi(s, s->skel->progs.uprobe__alloc_typed_var, &typed[0], 1, false);
	if (r < 0)
		return r;
	n += r;
	r = attach_multi(s, s->skel->progs.uprobe__alloc_typed, &typed[1], 1, false);
	return r < 0 ? r : n + r;
}

static int attach_window_perf(struct bpf_session *s)
{
	int n = attach_lifecycle(s, s->window_pid, s->window_plan), m;

	if (n < 0)
		return n;
	m = attach_alloc_entries(s, s->window_pid, s->window_plan);
	return m < 0 ? m : n + m;
}

int bpf_session_window_attach(struct bpf_session *s)
{
	int n;

	if (!s->window_plan || s->window_attached)
		return -EINVAL;
	s->window_attached = true;
	s->window_first_link = s->n_links;
	n = s->window_link == WINDOW_LINK_UPROBE_MULTI ? attach_window_multi(s)
						       : attach_window_perf(s);
	if (n < 0)
		bpf_session_window_detach(s);
	return n;
}

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

/*
 * Every link at once: closing one waits for a grace period (tens of ms for a
 * uprobe_multi link, 100+ ms for a perf-event one) while the links not yet
 * closed keep trapping; in parallel the waits overlap and every breakpoint goes
 * at the start. Closed in place when a thread cannot be had.
 */
static void close_in_parallel(struct link_closer *c, int n)
{
	for (int i = 0; i < n; i++)
		c[i].started = !pthread_create(&c[i].thread, NULL, close_one, &c[i]);
	for (int i = 0; i < n; i++) {
		if (c[i].started)
			pthread_join(c[i].thread, NULL);
		else
			close_one(&c[i]);
	}
}

void bpf_session_window_detach(struct bpf_session *s)
{
	struct link_closer c[BPF_SESSION_MAX_WINDOW_FDS + BPF_SESSION_MAX_LINKS];
	int n = 0;

	if (!s->window_attached)
		return;
	for (int i = 0; i < s->n_window_fds; i++) {
		c[n++] = (struct link_closer){ .fd = s->window_fds[i] };
		s->window_fds[i] = -1;
	}
	s->n_window_fds = 0;
	for (int i = s->window_first_link; i < s->n_links; i++)
		c[n++] = (struct link_closer){ .fd = -1, .link = s->links[i] };
	s->n_links = s->window_first_link;
	s->window_attached = false;
	close_in_parallel(c, n);
}

int bpf_session_window_gate(struct bpf_session *s, bool open)
{
	__u32 key = (__u32)s->window_pid;
	struct target_cfg cfg;
	int err;

	/* userspace is the only writer of the configuration: read, change, write back */
	err = bpf_map__lookup_elem(s->skel->maps.targets, &key, sizeof(key), &cfg, sizeof(cfg), 0);
	if (err)
		return err;
	cfg.window_open = open;
	return bpf_map__update_elem(s->skel->maps.targets, &key, sizeof(key), &cfg, sizeof(cfg),
				    BPF_EXIST);
}

uint64_t bpf_session_live_capacity(const struct bpf_session *s)
{
	return bpf_map__max_entries(s->skel->maps.live);
}

#define CENSOR_BATCH 4096

/* Allocator calls whose return a closed window did not see: a later return must not match them. */
static void forget_typed_calls(struct bpf_session *s)
{
	int fd = bpf_map__fd(s->skel->maps.typed_calls);
	__u64 key[8];

	if (bpf_map__key_size(s->skel->maps.typed_calls) > sizeof(key))
		return;
	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, &key))
			break;
}

int bpf_session_window_censor(struct bpf_session *s,
			      void (*fn)(void *ctx, const struct live_object *o), void *ctx,
			      uint64_t *censored)
{
	int fd = bpf_map__fd(s->skel->maps.live), err = 0;
	struct live_key *keys = calloc(CENSOR_BATCH, sizeof(*keys));
	struct live_object *vals = calloc(CENSOR_BATCH, sizeof(*vals));
	__u64 in_batch = 0, out_batch = 0;
	bool first = true;

	*censored = 0;
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 count = CENSOR_BATCH;

		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in_batch, &out_batch,
						      keys, vals, &count, NULL);
		err = err ? -errno : 0;
		for (__u32 i = 0; i < count; i++) {
			if (keys[i].tgid != (__u32)s->window_pid) {
				/* another target's object: not this window's to censor */
				bpf_map_update_elem(fd, &keys[i], &vals[i], BPF_NOEXIST);
				continue;
			}
			fn(ctx, &vals[i]);
			(*censored)++;
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err)
			break;
		in_batch = out_batch;
		first = false;
	}
	forget_typed_calls(s);
out:
	free(keys);
	free(vals);
	return err;
}

static int ops_attach(void *ctx)
{
	int n = bpf_session_window_attach(ctx);

	return n < 0 ? n : 0;
}

static int ops_gate(void *ctx, bool open)
{
	return bpf_session_window_gate(ctx, open);
}

static void ops_detach(void *ctx)
{
	bpf_session_window_detach(ctx);
}

static void count_censored(void *ctx, const struct live_object *o)
{
	alloc_recording_add_censored(ctx, o);
}

static int ops_censor(void *ctx, uint64_t *censored)
{
	struct bpf_session *s = ctx;

	return bpf_session_window_censor(s, count_censored, s->window_alloc, censored);
}

static int ops_counters(void *ctx, struct window_counters *out)
{
	struct bpf_session *s = ctx;
	struct alloc_agg a;
	struct gc_agg g;
	int err = bpf_session_read_alloc_agg(s, s->window_pid, &a);

	if (!err)
		err = bpf_session_read_agg(s, s->window_pid, &g);
	if (err)
		return err;
	*out = (struct window_counters){
		.hits_alloc = a.hits_alloc,
		.hits_dealloc = a.hits_dealloc,
		.hits_return = a.hits_return,
		.allocations = a.allocations,
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
	struct bpf_session *s = ctx;
	clockid_t clock = (clockid_t)((~(unsigned)s->window_pid) << 3 | 2);
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		return -errno;
	*out = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return 0;
}

/* Run time of every program of the session so far, as the kernel measured it. */
static int ops_program_ns(void *ctx, uint64_t *out)
{
	struct bpf_session *s = ctx;
	struct bpf_program *prog;

	*out = 0;
	bpf_object__for_each_program(prog, s->skel->obj)
	{
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		*out += info.run_time_ns;
	}
	return 0;
}

struct sampler_ops bpf_session_sampler_ops(struct bpf_session *s, struct alloc_recording *alloc)
{
	/*
	 * The kernel times every BPF program run while this descriptor is open (two
	 * clock reads per run, on every program of the host): sampled mode needs the
	 * probes' real cost to tell the target's work inside a window from it.
	 */
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	s->run_stats_fd = fd > 0 ? fd : 0;
	if (fd < 0)
		pr_debug("BPF run-time statistics unavailable (%s): probe costs are modelled",
			 strerror(errno));
	s->window_alloc = alloc;
	return (struct sampler_ops){ .ctx = s,
				     .attach = ops_attach,
				     .gate = ops_gate,
				     .detach = ops_detach,
				     .censor = ops_censor,
				     .counters = ops_counters,
				     .target_cpu_ns = ops_target_cpu_ns,
				     .program_ns = s->run_stats_fd > 0 ? ops_program_ns : NULL };
}

json_t *bpf_session_program_stats_json(const struct bpf_session *s)
{
	struct bpf_program *prog;
	json_t *out = json_object();

	if (!out || !s->skel)
		return out;
	bpf_object__for_each_program(prog, s->skel->obj)
	{
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) || !info.run_cnt)
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
	};
	bpf_object__for_each_map(m, s->skel->obj)
	{
		if (bpf_map__fd(m) >= 0)
			out->kernel_bytes += bpf_map_kernel_bytes(bpf_map__fd(m));
	}
}
