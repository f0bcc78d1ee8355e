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
	s->skel->rodata->ringbuf_wakeup_bytes = bpf_map__max_entries(s->skel->maps.events) / 4;
	err = pyobjlife_bpf__load(s->skel);
	if (err) {
		pr_err("failed to load the BPF programs: %s (run with -vv for the verifier log)",
		       strerror(-err));
		return err;
	}
	return 0;
}

static int register_target(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
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
	struct gc_agg *agg;
	__u32 key = (__u32)pid;
	int err;

	/* the BPF side reads threshold and count as one pair */
	if (l->gen_count_off != l->gen_threshold_off + 4)
		return -EINVAL;
	agg = calloc(1, sizeof(*agg));
	if (!agg)
		return -ENOMEM;
	err = bpf_map__update_elem(s->skel->maps.gc_aggs, &key, sizeof(key), agg, sizeof(*agg),
				   BPF_ANY);
	free(agg);
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

int bpf_session_attach(struct bpf_session *s, pid_t pid, const struct probe_plan *p)
{
	int err = register_target(s, pid, p);

	if (err) {
		pr_err("failed to register PID %d in the BPF maps: %s", (int)pid, strerror(-err));
		return err;
	}
	switch (p->gc_method) {
	case GC_METHOD_USDT:
		return attach_usdt(s, pid, p);
	case GC_METHOD_UPROBE:
		return attach_collector(s, pid, p);
	default:
		return -ENOENT;
	}
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
