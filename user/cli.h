/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* Command line: `pyobjlife COMMAND [OPTIONS]`, one argp parser per command. */
#ifndef PYOBJLIFE_CLI_H
#define PYOBJLIFE_CLI_H

#include <stdbool.h>
#include <sys/types.h>
#include "probe_plan.h"
#include "pyobjlife.h"
#include "render.h"

enum command {
	CMD_NONE,
	CMD_RECORD,
	CMD_GC,
	CMD_PROBES,
	CMD_REPORT,
	CMD_TOP,
};

#define CLI_MAX_OUTPUTS 8
/* record -p PID -p PID ...: as many targets as the BPF maps hold */
#define CLI_MAX_PIDS PYOBJLIFE_MAX_TARGETS

/* What a recording traces (--mode). */
enum record_mode {
	MODE_UNSET,   /* not given: record samples, gc watches collections */
	MODE_GC,      /* collections only */
	MODE_SAMPLED, /* collections, and allocations in windows under an overhead budget */
	MODE_FULL,    /* collections and every allocation */
};

/* How sampled windows attach their probes (--sampling-link). */
enum sampling_link_pref {
	SAMPLING_LINK_AUTO, /* uprobe_multi where the kernel has it */
	SAMPLING_LINK_UPROBE_MULTI,
	SAMPLING_LINK_PERF_EVENT,
};

struct cli {
	enum command cmd;
	pid_t pid;		  /* the first -p */
	pid_t pids[CLI_MAX_PIDS]; /* every -p (record and gc take several) */
	unsigned n_pids;
	bool follow_children; /* --follow-children: the launched command's forks and execs */
	const char *binary;   /* probes --binary */
	double duration_s;    /* 0: until Ctrl-C or the target's exit */
	const char *outputs[CLI_MAX_OUTPUTS]; /* -o, repeatable for record */
	unsigned n_outputs;
	const char *input;	   /* report REC.json */
	enum output_format format; /* FORMAT_NONE: from the output's extension */
	char **command_argv;	   /* record -- CMD ARGS */
	const char *debug_dir;
	const char *btf_path;
	enum gc_preference gc_pref;
	unsigned ringbuf_bytes;
	enum record_mode mode;		       /* --mode, never MODE_UNSET after parsing */
	bool mode_given;		       /* --mode was on the command line */
	double overhead_percent;	       /* --overhead: sampled mode's budget */
	enum sampling_link_pref sampling_link; /* --sampling-link */
	unsigned stack_depth;		       /* --stack-depth */
	unsigned max_stacks;		       /* --max-stacks */
	unsigned max_sites;		       /* --max-sites */
	enum render_weight weight;	       /* --weight, for the flamegraph formats */
	bool weight_given;
	unsigned top;	   /* --top: rows in the text tables; 0 the default */
	unsigned max_live; /* --max-live */
	bool no_lifetimes; /* --no-lifetimes: count allocations, follow no object to its death */
	double census_full_interval_s, census_young_interval_s; /* < 0: default */
	unsigned census_max_objects;
	unsigned max_timeline; /* --max-timeline: entries per timeline; 0 the default */

	enum probe_placement_policy placement; /* --probe-placement */
	bool calibrate;			       /* probes --calibrate */
	double interval_s;		       /* top --interval: seconds between refreshes */
};

/*
 * Several targets in one recording: several -p, or a launched command's
 * children. Each gets its own output files (rec.json -> rec.PID.json).
 */
static inline bool cli_many_targets(const struct cli *c)
{
	return c->n_pids > 1 || c->follow_children;
}

/* Sampled and full modes trace allocations: stacks, sites, folded and pprof outputs. */
static inline bool cli_records_allocations(const struct cli *c)
{
	return c->mode == MODE_SAMPLED || c->mode == MODE_FULL;
}

/* Parse argv; returns 0, or the exit code to leave with (help: 0, usage: 64). */
int cli_parse(int argc, char **argv, struct cli *c);

#endif
