// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Empty probes where full mode puts its allocation and deallocation probes, for
 * bench/probe_cost.py: the same plan, placement and addresses as `record --mode
 * full`, but a program that only counts its hits (bpf/calibrate.bpf.c). What a
 * recording costs beyond this is what its BPF programs cost.
 *
 *   pyobjlife-empty-probes PID
 *
 * Prints "attached N" once every probe is in place, then waits for a line (or EOF)
 * on stdin, detaches, and prints "hits ENTRY RETURN" (entry and return probe hits).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "calibrate.skel.h"
#include "interpreter.h"
#include "probe_plan.h"

#define MAX_LINKS 64

/* the counter the cookie selects: entries and returns apart */
enum { HIT_ENTRY = 0, HIT_RETURN = 1 };

struct empty_probes {
	struct calibrate_bpf *skel;
	struct bpf_link *links[MAX_LINKS];
	int n;
};

static int attach_one(struct empty_probes *e, pid_t pid, const char *bin, uint64_t offset,
		      bool retprobe, const char *symbol)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = retprobe,
		    .bpf_cookie = retprobe ? HIT_RETURN : HIT_ENTRY);
	struct bpf_link *l;

	if (e->n >= MAX_LINKS) {
		fprintf(stderr, "empty-probes: more than %d probes\n", MAX_LINKS);
		return -E2BIG;
	}
	l = bpf_program__attach_uprobe_opts(e->skel->progs.uprobe__calibrate, pid, bin, offset, &uo);
	if (!l) {
		fprintf(stderr, "empty-probes: cannot attach to %s (%s+0x%lx): %s\n", symbol, bin,
			(unsigned long)offset, strerror(errno));
		return -errno;
	}
	e->links[e->n++] = l;
	return 0;
}

/* Entry probes where placement put them, as bpf_session does for full mode. */
static int attach_placed(struct empty_probes *e, pid_t pid, const char *bin, const struct hook *h)
{
	for (int i = 0; i < h->n_sites; i++) {
		const struct hook_site *s = &h->sites[i];
		int err = attach_one(e, pid, bin, s->offset + s->place.offset, false, s->symbol);

		if (err)
			return err;
	}
	return 0;
}

/* Typed allocators: an entry and a return probe each, both at the entry. */
static int attach_typed(struct empty_probes *e, pid_t pid, const char *bin, const struct hook *h)
{
	for (int i = 0; i < h->n_sites; i++) {
		const struct hook_site *s = &h->sites[i];
		int err = attach_one(e, pid, bin, s->offset, true, s->symbol);

		if (!err)
			err = attach_one(e, pid, bin, s->offset, false, s->symbol);
		if (err)
			return err;
	}
	return 0;
}

static int attach_plan(struct empty_probes *e, pid_t pid, const struct probe_plan *p)
{
	const char *bin = p->target.open_path;
	int err = attach_placed(e, pid, bin, &p->dealloc);

	if (err)
		return err;
	if (p->alloc_method == ALLOC_METHOD_BIRTH)
		return attach_placed(e, pid, bin, &p->alloc_birth);
	err = attach_typed(e, pid, bin, &p->alloc_typed_var);
	return err ? err : attach_typed(e, pid, bin, &p->alloc_typed);
}

static int plan_for(pid_t pid, struct probe_plan *plan)
{
	struct discovery_opts o = { 0 };
	struct py_target t;
	char why[512];

	if (py_target_from_pid(pid, &o, &t, why, sizeof(why)) ||
	    py_target_check_supported(&t, why, sizeof(why))) {
		fprintf(stderr, "empty-probes: %s\n", why);
		return -1;
	}
	if (probe_plan_build(plan, &t, GC_PREFER_AUTO, false) ||
	    probe_plan_place(plan, PLACEMENT_CHEAPEST)) {
		fprintf(stderr, "empty-probes: no probe plan for %s\n", t.path);
		return -1;
	}
	if (plan->alloc_method == ALLOC_METHOD_NONE) {
		fprintf(stderr, "empty-probes: %s: %s\n", t.path, plan->alloc_note);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct probe_plan plan;
	struct empty_probes e = { 0 };
	char line[16];
	pid_t pid;
	int rc = 1;

	if (argc != 2 || (pid = (pid_t)atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: %s PID\n", argv[0]);
		return 64;
	}
	if (plan_for(pid, &plan))
		return 1;
	e.skel = calibrate_bpf__open_and_load();
	if (!e.skel) {
		fprintf(stderr, "empty-probes: cannot load the counting program: %s\n",
			strerror(errno));
		return 1;
	}
	if (!attach_plan(&e, pid, &plan)) {
		printf("attached %d\n", e.n);
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			line[0] = 0;
		rc = 0;
	}
	for (int i = 0; i < e.n; i++)
		bpf_link__destroy(e.links[i]);
	if (!rc)
		printf("hits %llu %llu\n", (unsigned long long)e.skel->bss->hits[HIT_ENTRY],
		       (unsigned long long)e.skel->bss->hits[HIT_RETURN]);
	calibrate_bpf__destroy(e.skel);
	return rc;
}
