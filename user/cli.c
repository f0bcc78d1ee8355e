// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "exit_codes.h"
#include "log.h"

#ifndef PYOBJLIFE_VERSION
#define PYOBJLIFE_VERSION "0.0.0"
#endif

const char *argp_program_version = "pyobjlife " PYOBJLIFE_VERSION;

enum {
	OPT_DEBUG_DIR = 1000,
	OPT_BTF,
	OPT_GC_PROBE,
	OPT_RINGBUF,
	OPT_BINARY,
	OPT_MODE,
	OPT_STACK_DEPTH,
	OPT_MAX_STACKS,
	OPT_MAX_SITES,
	OPT_WEIGHT,
	OPT_MAX_LIVE,
	OPT_CENSUS_INTERVAL,
	OPT_CENSUS_YOUNG_INTERVAL,
	OPT_CENSUS_MAX,
	OPT_TOP,
	OPT_PLACEMENT,
	OPT_CALIBRATE,
	OPT_INTERVAL,
	OPT_OVERHEAD,
	OPT_SAMPLING_LINK,
	OPT_FOLLOW_CHILDREN,
	OPT_MAX_TIMELINE,
	OPT_NO_LIFETIMES,
};

#define EXIT_STATUS_DOC                                                                            \
	"EXIT STATUS:\n"                                                                           \
	"  0 success, 1 runtime failure, 2 no such process (or a zombie), 3 not a CPython "        \
	"process, 4 unsupported CPython (2.x, < 3.8, > 3.13, a debug or free-threaded build), "    \
	"5 insufficient privileges, 6 kernel lacks BTF/BPF/uprobes, 7 output file refused "        \
	"(a symlink, FIFO, device or directory) or unwritable (e.g. a full disk), 8 recording "    \
	"unreadable or lacking the data asked for (report), 64 bad command line.\n"

#define PLACEMENT_DOC                                                                              \
	"Where in each hooked function the probe goes: cheapest (default: the first "              \
	"instruction the kernel emulates on the entry path, before the arguments the probe "       \
	"reads change) or entry (offset 0)"

static const struct argp_option common_options[] = {
	{ "verbose", 'v', NULL, 0, "More diagnostics; twice for libbpf debug output", 10 },
	{ "quiet", 'q', NULL, 0,
	  "On stderr only errors and the one line saying the probes are attached (scripts wait for "
	  "it): no warnings, no status line",
	  10 },
	{ "debug-dir", OPT_DEBUG_DIR, "DIR", 0,
	  "Where separate debug files live (default /usr/lib/debug; looked up by build-id, "
	  "inside the target's root first)",
	  10 },
	{},
};

static const struct argp_option target_options[] = {
	{ "pid", 'p', "PID", 0,
	  "Attach to this running process (host PID); record and gc take several, recorded "
	  "at once, each into its own output files",
	  1 },
	{},
};

static const struct argp_option follow_options[] = {
	{ "follow-children", OPT_FOLLOW_CHILDREN, NULL, 0,
	  "With -- CMD: record the processes the command forks and the Pythons they exec "
	  "too, each into its own output files; the recording goes on until every one has "
	  "exited (or -d, Ctrl-C)",
	  1 },
	{},
};

static const struct argp_option session_options[] = {
	{ "duration", 'd', "SECONDS", 0,
	  "Stop after SECONDS (default: until Ctrl-C, SIGTERM "
	  "or the target's exit)",
	  2 },
	{ "gc-probe", OPT_GC_PROBE, "auto|usdt|uprobe", 0,
	  "How to see collections: USDT python:gc__start/gc__done or uprobes on the collector "
	  "function (default auto: USDT when the build has it)",
	  3 },
	{ "btf", OPT_BTF, "FILE", 0, "Kernel BTF to use when /sys/kernel/btf/vmlinux is missing",
	  3 },
	{ "ringbuf-size", OPT_RINGBUF, "KIB", 0, "BPF ring buffer size (default 1024 KiB)", 3 },
	{ "mode", OPT_MODE, "sampled|gc|full", 0,
	  "sampled (default for record): every collection, and allocations in short windows "
	  "whose probes are attached and detached again so that they cost the target at most "
	  "--overhead; counts are scaled to estimates, objects are followed within their "
	  "window. gc (default for the gc command): every collection, nothing else. full: "
	  "every object allocation, counted per Python stack and type, the objects followed "
	  "to their death (by reference count or by the collector, lifetime, generation), a "
	  "census of live GC objects by type, and the stacks that trigger collections (slows "
	  "the target by 100x or more on allocation-heavy code: use on test hosts or for short "
	  "windows)",
	  2 },
	{ "overhead", OPT_OVERHEAD, "PERCENT", 0,
	  "Sampled mode's budget: the share of one core the allocation probes may cost the "
	  "target (default 1; 0.01 to 100)",
	  2 },
	{ "sampling-link", OPT_SAMPLING_LINK, "auto|uprobe_multi|perf_event", 0,
	  "How sampled windows attach their probes: uprobe_multi links (Linux 6.6+, fast to "
	  "detach) or perf-event uprobes (slow to detach); default auto: uprobe_multi where "
	  "the kernel has it",
	  3 },
	{ "stack-depth", OPT_STACK_DEPTH, "N", 0,
	  "Python frames kept per stack, leaf first (default 64, at most 128); deeper stacks "
	  "are marked truncated",
	  3 },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0,
	  "Stacks the kernel keeps at once (default 16384), least recently used given up "
	  "first; pyobjlife copies each when it is first seen, so this bounds a burst of "
	  "new stacks, not the recording's total",
	  3 },
	{ "max-sites", OPT_MAX_SITES, "N", 0,
	  "Distinct (stack, type) counters the kernel keeps (default 65536); allocations "
	  "beyond are counted by type alone, without their stack, and reported",
	  3 },
	{ "max-live", OPT_MAX_LIVE, "N", 0,
	  "Objects followed to their death at once (sampled and full modes, default 1048576; "
	  "sampled windows are kept short enough for their births to fit); births "
	  "beyond are counted but not followed, and reported",
	  3 },
	{ "no-lifetimes", OPT_NO_LIFETIMES, NULL, 0,
	  "Count allocations (sampled and full modes) without following objects to their "
	  "death: no deallocator probes and no live-object map, a third or more fewer probe hits "
	  "and a cheaper birth; the recording has no deaths, lifetimes or generations, while "
	  "the census and the stacks that trigger collections stay",
	  3 },
	{ "census-interval", OPT_CENSUS_INTERVAL, "SECONDS", 0,
	  "Count live objects of the oldest generation by type at the first collection after "
	  "each SECONDS (full mode, default 10; 0: at every collection). The walk runs under "
	  "the target's GIL: about 0.3 us per object",
	  3 },
	{ "census-young-interval", OPT_CENSUS_YOUNG_INTERVAL, "SECONDS", 0,
	  "The same for generations 0 and 1 (default 1; 0: at every collection)", 3 },
	{ "census-max-objects", OPT_CENSUS_MAX, "N", 0,
	  "Objects a census walks per generation at most (default 1000000); longer walks are "
	  "cut and reported",
	  3 },
	{ "probe-placement", OPT_PLACEMENT, "cheapest|entry", 0, PLACEMENT_DOC, 3 },
	{ "max-timeline", OPT_MAX_TIMELINE, "N", 0,
	  "Entries each timeline keeps (collections, census samples, RSS samples, sampling "
	  "windows; default 16384): beyond, it is thinned evenly (1 in 2, 4, ... kept, the "
	  "most frequent kind first) so that it still spans the recording; what is not kept "
	  "is counted and reported",
	  3 },
	{},
};

#define FORMATS "json|text|folded|svg|html|speedscope|pprof"
#define WEIGHTS "allocations|bytes|live|cyclic|gc-pause"

#define FORMATS_DOC                                                                                \
	"FORMATS (from the output's extension, or --format):\n"                                    \
	"  .json             the recording: everything `pyobjlife report` needs\n"                 \
	"  .txt              text: GC table, pause histograms, top sites, leaks\n"                 \
	"  .folded           `frame;...;[type] count` lines for flamegraph tools\n"                \
	"  .svg              interactive flamegraph: hover, click to zoom, search\n"               \
	"  .html             flamegraphs, GC timeline, pause histograms, RSS\n"                    \
	"  .speedscope.json  speedscope, one profile per weight\n"                                 \
	"  .pb.gz            pprof (go tool pprof, Pyroscope, Grafana)\n\n"                        \
	"WEIGHTS (--weight: what a flamegraph frame's width counts):\n"                            \
	"  allocations  objects allocated (the default)\n"                                         \
	"  bytes        bytes allocated\n"                                                         \
	"  live         objects still alive at the end\n"                                          \
	"  cyclic       objects only the cycle collector freed (reference cycles)\n"               \
	"  gc-pause     collector pause, by the Python stack that triggered it\n"                  \
	"The stack formats need --mode full. The HTML report and speedscope hold every weight "    \
	"the recording has data for; --weight picks the one shown first.\n\n"

static const struct argp_option record_options[] = {
	{ "output", 'o', "FILE", 0,
	  "Write to FILE, its format from its extension (see FORMATS); repeat -o for several "
	  "(e.g. -o rec.json -o flame.svg); default: the text report on stdout",
	  2 },
	{ "format", 'f', FORMATS, 0, "Output format, for a single -o or stdout", 2 },
	{ "weight", OPT_WEIGHT, WEIGHTS, 0,
	  "What the flamegraph formats weigh (default allocations; see WEIGHTS)", 2 },
	{},
};

static const struct argp_option report_options[] = {
	{ "output", 'o', "FILE", 0,
	  "Write to FILE, its format from its extension (see FORMATS); default: the text "
	  "report on stdout",
	  1 },
	{ "format", 'f', FORMATS, 0, "Output format, whatever the extension", 1 },
	{ "weight", OPT_WEIGHT, WEIGHTS, 0,
	  "What the flamegraph formats weigh (default allocations; see WEIGHTS)", 1 },
	{ "top", OPT_TOP, "N", 0, "Rows in the text tables (default 20)", 1 },
	{},
};

static const struct argp_option probes_options[] = {
	{ "binary", OPT_BINARY, "PATH", 0,
	  "Inspect this python executable or libpython instead "
	  "of a process",
	  1 },
	{ "format", 'f', "json|text", 0, "Output format (default text)", 2 },
	{ "probe-placement", OPT_PLACEMENT, "cheapest|entry", 0, PLACEMENT_DOC, 2 },
	{ "calibrate", OPT_CALIBRATE, NULL, 0,
	  "Also measure what a probe hit costs on this kernel, per class, and show each "
	  "probe's estimated cost (needs the privileges of a recording)",
	  2 },
	{},
};

static const struct argp_option top_options[] = {
	{ "interval", OPT_INTERVAL, "SECONDS", 0, "Refresh every SECONDS (default 1)", 2 },
	{},
};

static const char top_doc[] =
	"A live view of a running CPython process in the terminal, refreshed every second: the "
	"allocation sites allocating the most per second (--mode full), live objects by type "
	"and generation from the collector's census (--mode full), collections and pauses per "
	"generation, the events lost, and the probes' estimated overhead.\n\n"
	"Keys: s cycles the sort of the sites (rate, total, bytes), g the generation the live "
	"objects are sorted by, p pauses the refresh, q quits. Ctrl-C, SIGTERM and the "
	"target's exit end it too; the probes are detached and the terminal restored.\n\n"
	"USAGE:\n"
	"  pyobjlife top -p PID [--mode gc|full] [--interval SECONDS]\n\n"
	"EXAMPLES:\n"
	"  pyobjlife top -p 1234 --mode full    # allocation sites, live objects, collections\n"
	"  pyobjlife top -p 1234                # collections and pauses only (cheap)\n"
	"\v" EXIT_STATUS_DOC;

static const char record_doc[] =
	"Record the garbage collector of a running CPython process, or of a command launched "
	"under pyobjlife, until the duration ends, Ctrl-C, SIGTERM or the target's exit "
	"(a second Ctrl-C abandons the output; the probes are always removed first). "
	"Every collection is traced: per generation the collections, objects collected and "
	"uncollectable (exactly what gc.get_stats() reports), and pause times.\n\n"
	"USAGE:\n"
	"  pyobjlife record -p PID [-d SECONDS] [--mode sampled|gc|full] [-o FILE]...\n"
	"  pyobjlife record -p PID -p PID... [OPTIONS]\n"
	"  pyobjlife record [OPTIONS] [--follow-children] -- CMD [ARGS...]\n\n"
	"Object allocations are counted under the Python stack (file, line, function; 64 "
	"frames by default) and type that made them: the JSON gains \"sites\" (per leaf line "
	"and type) and \"stacks\", and -o FILE.svg draws a flamegraph of them. "
	"By default (--mode sampled) the allocation probes are attached in short windows, as "
	"often as --overhead (1% of one core) allows, and the counts are estimates scaled by "
	"the share of the target's work the windows saw: its user CPU time there over the "
	"whole recording's, or the share of wall time for a program paced by its input "
	"(\"sampling\" in the JSON; allocation-dense code comes out low, and is warned of). "
	"--mode full counts every allocation exactly and follows each object to its death, but "
	"slows an allocation-heavy target 10x or more; --mode gc traces "
	"collections only.\n\n"
	"Several processes are recorded at once with several -p (they may run different "
	"CPython versions), or with --follow-children the processes a launched command "
	"forks and the Pythons they exec. Each process gets its own files: -o rec.json "
	"writes rec.PID.json (rec.PID-2.json for the next program a PID execs), and so for "
	"every -o; without -o their text reports follow one another on stdout. A process "
	"that exits ends its own recording, written at once (\"end_reason\"); the others go "
	"on until they exit, -d or Ctrl-C. One target that execs ends its recording.\n\n"
	"EXAMPLES:\n"
	"  pyobjlife record -p 1234 -d 30 -o rec.json    # 30 s of PID 1234, as JSON\n"
	"  pyobjlife record -p 1234 -d 60 --overhead 0.5 -o flame.svg  # half the budget\n"
	"  pyobjlife record -p 1234 -d 30 --mode gc -o gc.json   # collections only\n"
	"  pyobjlife record -p 1234                      # until Ctrl-C, text summary on stdout\n"
	"  pyobjlife record -o app.json -- python3 app.py  # from the first bytecode of app.py\n"
	"  pyobjlife record -p 1234 -d 5 --mode full -o allocs.json   # allocation sites\n"
	"  pyobjlife record -p 1234 -d 5 --mode full -o a.folded --weight bytes\n"
	"  pyobjlife record -p 1234 -d 5 --mode full --no-lifetimes -o counts.json\n"
	"  pyobjlife record -p 1234 -d 5 --mode full -o rec.json -o report.html\n"
	"  pyobjlife record -p 1234 -p 5678 -o r.json  # r.1234.json and r.5678.json\n"
	"  pyobjlife record --follow-children -o r.json -- python3 -m pytest -n 4\n"
	"\v" FORMATS_DOC EXIT_STATUS_DOC;

static const char report_doc[] =
	"Render a recording that `record` saved as JSON into another format, offline: no "
	"target, no BPF, no privileges needed.\n\n"
	"USAGE:\n"
	"  pyobjlife report REC.json [-o OUT] [--format F] [--weight W] [--top N]\n\n"
	"EXAMPLES:\n"
	"  pyobjlife report rec.json                       # the text report on stdout\n"
	"  pyobjlife report rec.json -o report.html        # flamegraphs, GC charts\n"
	"  pyobjlife report rec.json -o flame.svg --weight bytes\n"
	"  pyobjlife report rec.json -o leaks.svg --weight live\n"
	"  pyobjlife report rec.json -o rec.speedscope.json\n"
	"  pyobjlife report rec.json --format folded | flamegraph.pl > flame.svg\n"
	"\v" FORMATS_DOC EXIT_STATUS_DOC;

static const char gc_doc[] =
	"Watch the garbage collector of a CPython process live: one line per collection as it "
	"happens (time, generation, pause, collected, uncollectable, generation counts), and "
	"per-generation totals and pause histograms at the end.\n\n"
	"USAGE:\n"
	"  pyobjlife gc -p PID [-p PID]... [-d SECONDS]\n"
	"  pyobjlife gc [OPTIONS] -- CMD [ARGS...]\n\n"
	"EXAMPLES:\n"
	"  pyobjlife gc -p 1234            # until Ctrl-C\n"
	"  pyobjlife gc -p 1234 -d 10      # ten seconds\n"
	"\v" EXIT_STATUS_DOC;

static const char probes_doc[] =
	"Show what pyobjlife finds in a CPython process or binary, without attaching: the "
	"interpreter file and version, its build, its symbol tables and separate debug file, "
	"each hook with where it was found (symtab, dynsym, debug file, USDT note), its address "
	"and file offset, what is missing and why, and the probes a recording would attach: "
	"for each, the instruction it goes on, whether the kernel emulates or single-steps it "
	"there, and why that one (--calibrate adds the measured cost per hit).\n\n"
	"USAGE:\n"
	"  pyobjlife probes -p PID [--format json]\n"
	"  pyobjlife probes --binary PATH [--format json] [--calibrate]\n\n"
	"EXAMPLES:\n"
	"  pyobjlife probes -p 1234\n"
	"  pyobjlife probes --binary /usr/bin/python3.11 --format json\n"
	"\v" EXIT_STATUS_DOC;

static const char main_doc[] =
	"pyobjlife -- object lifecycle and garbage collector profiler for live CPython "
	"processes, using eBPF: no restart, no code injected into the target.\n\n"
	"USAGE:\n"
	"  pyobjlife COMMAND [OPTIONS]\n\n"
	"COMMANDS:\n"
	"  record   record a process (-p PID) or a command (-- CMD) and write a report\n"
	"  gc       live view of collections, histograms at the end\n"
	"  probes   show the interpreter found and where each probe would go\n"
	"  report   render a saved recording (JSON) as text, SVG, HTML, speedscope, pprof\n\n"
	"  top      live terminal view of a process: sites, live objects, collections\n\n"
	"Run `pyobjlife COMMAND --help` for a command's options.\n"
	"\v" EXIT_STATUS_DOC;

/* argp hands child parsers no input of their own: every group fills this one */
static struct cli *parsing;

static int parse_pid(const char *arg, struct argp_state *state)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || v <= 0 || v > 4194304)
		argp_error(state, "invalid PID '%s'", arg);
	return (int)v;
}

static unsigned parse_count(const char *arg, unsigned lo, unsigned hi, const char *what,
			    struct argp_state *state)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || v < (long)lo || v > (long)hi)
		argp_error(state, "invalid %s '%s' (%u to %u)", what, arg, lo, hi);
	return (unsigned)v;
}

/* an interval in seconds, 0 allowed */
static double parse_seconds(const char *arg, const char *what, struct argp_state *state)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(arg, &end);
	if (errno || end == arg || *end || !(d >= 0) || d > 1e6)
		argp_error(state, "invalid %s '%s' (seconds, 0 or more)", what, arg);
	return d;
}

static error_t parse_common(int key, char *arg, struct argp_state *state)
{
	struct cli *c = parsing;
	char *end;
	double d;
	long kib;

	switch (key) {
	case 'v':
		log_verbosity++;
		break;
	case 'q':
		log_quiet = 1;
		break;
	case OPT_DEBUG_DIR:
		c->debug_dir = arg;
		break;
	case 'p':
		if (c->n_pids && c->cmd != CMD_RECORD && c->cmd != CMD_GC)
			argp_error(state, "one -p at a time");
		if (c->n_pids == CLI_MAX_PIDS)
			argp_error(state, "at most %d -p", CLI_MAX_PIDS);
		c->pids[c->n_pids] = parse_pid(arg, state);
		for (unsigned i = 0; i < c->n_pids; i++) {
			if (c->pids[i] == c->pids[c->n_pids])
				argp_error(state, "-p %s given twice", arg);
		}
		c->pid = c->pids[0];
		c->n_pids++;
		break;
	case OPT_FOLLOW_CHILDREN:
		c->follow_children = true;
		break;
	case OPT_NO_LIFETIMES:
		c->no_lifetimes = true;
		break;
	case 'd':
		errno = 0;
		d = strtod(arg, &end);
		if (errno || *end || !(d > 0) || d > 1e7)
			argp_error(state, "invalid duration '%s' (seconds, > 0)", arg);
		c->duration_s = d;
		break;
	case 'o':
		if (c->n_outputs && c->cmd != CMD_RECORD)
			argp_error(state, "one -o at a time");
		if (c->n_outputs == CLI_MAX_OUTPUTS)
			argp_error(state, "at most %d -o", CLI_MAX_OUTPUTS);
		c->outputs[c->n_outputs++] = arg;
		break;
	case 'f':
		c->format = output_format_parse(arg);
		if (c->format == FORMAT_NONE)
			argp_error(state, "unknown format '%s' (%s)", arg, FORMATS);
		break;
	case OPT_TOP:
		c->top = parse_count(arg, 1, 1000000, "--top", state);
		break;
	case OPT_BTF:
		c->btf_path = arg;
		break;
	case OPT_GC_PROBE:
		if (!strcmp(arg, "auto"))
			c->gc_pref = GC_PREFER_AUTO;
		else if (!strcmp(arg, "usdt"))
			c->gc_pref = GC_PREFER_USDT;
		else if (!strcmp(arg, "uprobe"))
			c->gc_pref = GC_PREFER_UPROBE;
		else
			argp_error(state, "--gc-probe must be auto, usdt or uprobe");
		break;
	case OPT_RINGBUF:
		errno = 0;
		kib = strtol(arg, &end, 10);
		if (errno || *end || kib < 4 || kib > 1024 * 1024)
			argp_error(state, "invalid ring buffer size '%s' (KiB, 4 to 1048576)", arg);
		c->ringbuf_bytes = (unsigned)kib * 1024;
		break;
	case OPT_BINARY:
		c->binary = arg;
		break;
	case OPT_MODE:
		if (!strcmp(arg, "sampled"))
			c->mode = MODE_SAMPLED;
		else if (!strcmp(arg, "gc"))
			c->mode = MODE_GC;
		else if (!strcmp(arg, "full"))
			c->mode = MODE_FULL;
		else
			argp_error(state, "--mode must be sampled, gc or full");
		c->mode_given = true;
		break;
	case OPT_OVERHEAD:
		errno = 0;
		d = strtod(arg, &end);
		if (errno || end == arg || *end || !(d >= 0.01) || d > 100)
			argp_error(state,
				   "invalid --overhead '%s' (percent of one core, 0.01 to 100)",
				   arg);
		c->overhead_percent = d;
		break;
	case OPT_SAMPLING_LINK:
		if (!strcmp(arg, "auto"))
			c->sampling_link = SAMPLING_LINK_AUTO;
		else if (!strcmp(arg, "uprobe_multi"))
			c->sampling_link = SAMPLING_LINK_UPROBE_MULTI;
		else if (!strcmp(arg, "perf_event"))
			c->sampling_link = SAMPLING_LINK_PERF_EVENT;
		else
			argp_error(state,
				   "--sampling-link must be auto, uprobe_multi or perf_event");
		break;
	case OPT_STACK_DEPTH:
		c->stack_depth =
			parse_count(arg, 1, PYOBJLIFE_MAX_STACK_DEPTH, "--stack-depth", state);
		break;
	case OPT_MAX_STACKS:
		c->max_stacks = parse_count(arg, 16, 1u << 20, "--max-stacks", state);
		break;
	case OPT_MAX_SITES:
		c->max_sites = parse_count(arg, 16, 1u << 22, "--max-sites", state);
		break;
	case OPT_MAX_LIVE:
		c->max_live = parse_count(arg, 16, 1u << 26, "--max-live", state);
		break;
	case OPT_CENSUS_INTERVAL:
		c->census_full_interval_s = parse_seconds(arg, "--census-interval", state);
		break;
	case OPT_CENSUS_YOUNG_INTERVAL:
		c->census_young_interval_s = parse_seconds(arg, "--census-young-interval", state);
		break;
	case OPT_CENSUS_MAX:
		c->census_max_objects =
			parse_count(arg, 1, 1u << 23, "--census-max-objects", state);
		break;
	case OPT_MAX_TIMELINE:
		c->max_timeline = parse_count(arg, 16, 1u << 24, "--max-timeline", state);
		break;
	case OPT_WEIGHT:
		if (render_weight_parse(arg, &c->weight))
			argp_error(state, "unknown weight '%s' (%s)", arg, WEIGHTS);
		c->weight_given = true;
		break;
	case OPT_PLACEMENT:
		if (!strcmp(arg, "cheapest"))
			c->placement = PLACEMENT_CHEAPEST;
		else if (!strcmp(arg, "entry"))
			c->placement = PLACEMENT_ENTRY;
		else
			argp_error(state, "--probe-placement must be cheapest or entry");
		break;
	case OPT_CALIBRATE:
		c->calibrate = true;
		break;
	case OPT_INTERVAL:
		errno = 0;
		d = strtod(arg, &end);
		if (errno || end == arg || *end || !(d >= 0.1) || d > 3600)
			argp_error(state, "invalid --interval '%s' (seconds, 0.1 to 3600)", arg);
		c->interval_s = d;
		break;
	case ARGP_KEY_ARG:
		if (c->cmd == CMD_REPORT && !c->input) {
			c->input = arg;
			break;
		}
		if (c->cmd == CMD_PROBES || c->cmd == CMD_REPORT)
			argp_error(state, "unexpected argument '%s'", arg);
		if (c->cmd == CMD_TOP)
			argp_error(state,
				   "top watches a running process: give -p PID, not a command");
		/* the command to launch: everything from here on is its own */
		c->command_argv = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (c->cmd == CMD_REPORT) {
			if (!c->input)
				argp_error(state, "which recording? give REC.json");
		} else if (c->cmd == CMD_PROBES) {
			if (!!c->pid == !!c->binary)
				argp_error(state, "give exactly one of -p PID or --binary PATH");
		} else if (c->cmd == CMD_TOP) {
			if (!c->pid)
				argp_error(state, "give -p PID");
		} else if (!!c->pid == !!c->command_argv) {
			argp_error(state, "give exactly one of -p PID or -- CMD [ARGS...]");
		}
		if (c->follow_children && !c->command_argv)
			argp_error(state, "--follow-children follows a launched command: give "
					  "-- CMD [ARGS...]");
		if (c->cmd == CMD_PROBES && c->format != FORMAT_NONE && c->format != FORMAT_JSON &&
		    c->format != FORMAT_TEXT)
			argp_error(state, "probes --format is json or text");
		if (c->format != FORMAT_NONE && c->n_outputs > 1)
			argp_error(state, "--format applies to a single -o: give each -o an "
					  "extension instead");
		if (c->mode == MODE_UNSET)
			c->mode = c->cmd == CMD_RECORD ? MODE_SAMPLED : MODE_GC;
		if (c->no_lifetimes && c->mode == MODE_GC)
			argp_error(state,
				   "--no-lifetimes applies to --mode sampled or full: gc mode "
				   "follows no object anyway");
		/* top's rates are per second of the target's life: windows would hide most */
		if (c->cmd == CMD_TOP && c->mode == MODE_SAMPLED)
			argp_error(state, "top shows --mode gc or full, not sampled");
		if (!c->overhead_percent)
			c->overhead_percent = 1;
		if (!c->stack_depth)
			c->stack_depth = PYOBJLIFE_DEF_STACK_DEPTH;
		if (c->census_full_interval_s < 0)
			c->census_full_interval_s = 10;
		if (c->census_young_interval_s < 0)
			c->census_young_interval_s = 1;
		if (!c->interval_s)
			c->interval_s = 1;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp common_argp = {
	common_options, parse_common, NULL, NULL, NULL, NULL, NULL
};
static const struct argp target_argp = {
	target_options, parse_common, NULL, NULL, NULL, NULL, NULL
};
static const struct argp follow_argp = {
	follow_options, parse_common, NULL, NULL, NULL, NULL, NULL
};
static const struct argp session_argp = {
	session_options, parse_common, NULL, NULL, NULL, NULL, NULL
};

static const struct argp_child record_children[] = {
	{ &target_argp, 0, "Target:", 1 },
	{ &follow_argp, 0, "Launched command:", 1 },
	{ &session_argp, 0, "Recording:", 2 },
	{ &common_argp, 0, "General:", 10 },
	{},
};

static const struct argp_child top_children[] = {
	{ &target_argp, 0, "Target:", 1 },
	{ &session_argp, 0, "Session:", 2 },
	{ &common_argp, 0, "General:", 10 },
	{},
};

static const struct argp_child probes_children[] = {
	{ &target_argp, 0, "Target:", 1 },
	{ &common_argp, 0, "General:", 10 },
	{},
};

static const struct argp record_argp = { record_options,
					 parse_common,
					 "-p PID [-p PID]... | -- CMD [ARGS...]",
					 record_doc,
					 record_children,
					 NULL,
					 NULL };
static const struct argp gc_argp = {
	NULL, parse_common, "-p PID [-p PID]... | -- CMD [ARGS...]", gc_doc, record_children,
	NULL, NULL
};
static const struct argp probes_argp = { probes_options,  parse_common, NULL, probes_doc,
					 probes_children, NULL,		NULL };
static const struct argp_option report_general_options[] = {
	{ "verbose", 'v', NULL, 0, "More diagnostics", 10 },
	{ "quiet", 'q', NULL, 0, "Only errors on stderr", 10 },
	{},
};
static const struct argp report_general_argp = {
	report_general_options, parse_common, NULL, NULL, NULL, NULL, NULL
};
static const struct argp_child report_children[] = {
	{ &report_general_argp, 0, "General:", 10 },
	{},
};
static const struct argp report_argp = { report_options,  parse_common, "REC.json", report_doc,
					 report_children, NULL,		NULL };
static const struct argp top_argp = { top_options,  parse_common, "-p PID", top_doc,
				      top_children, NULL,	  NULL };
static const struct argp main_argp = {
	NULL, NULL, "COMMAND [OPTIONS]", main_doc, NULL, NULL, NULL
};

int cli_parse(int argc, char **argv, struct cli *c)
{
	static const struct {
		const char *name;
		enum command cmd;
		const struct argp *argp;
	} commands[] = {
		{ "record", CMD_RECORD, &record_argp }, { "gc", CMD_GC, &gc_argp },
		{ "probes", CMD_PROBES, &probes_argp }, { "report", CMD_REPORT, &report_argp },
		{ "top", CMD_TOP, &top_argp },
	};
	char prog[64];

	memset(c, 0, sizeof(*c));
	c->census_full_interval_s = c->census_young_interval_s = -1;
	parsing = c;
	argp_err_exit_status = EXIT_USAGE;
	if (argc < 2 || argv[1][0] == '-') {
		/* only --help, --usage and --version reach here; anything else is a usage error */
		argp_parse(&main_argp, argc, argv, 0, NULL, c);
		fprintf(stderr,
			"pyobjlife: error: a command is needed (record, gc, top, probes, report); "
			"see pyobjlife --help\n");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		c->cmd = commands[i].cmd;
		snprintf(prog, sizeof(prog), "pyobjlife %s", commands[i].name);
		argv[1] = prog;
		/* IN_ORDER: the first non-option argument starts the command to launch */
		if (argp_parse(commands[i].argp, argc - 1, argv + 1, ARGP_IN_ORDER, NULL, c))
			return EXIT_USAGE;
		return 0;
	}
	fprintf(stderr,
		"pyobjlife: error: unknown command '%s' (record, gc, top, probes, report); see "
		"pyobjlife --help\n",
		argv[1]);
	return EXIT_USAGE;
}
