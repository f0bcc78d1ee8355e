/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* The commands; each returns the process exit code (exit_codes.h). */
#ifndef PYOBJLIFE_COMMANDS_H
#define PYOBJLIFE_COMMANDS_H

#include <stdint.h>
#include "cli.h"

struct bpf_session;

int cmd_probes(const struct cli *c);
/* record and gc: attach, collect, detach, report. */
int cmd_record(const struct cli *c);
/* report: render a saved recording; needs no privileges. */
int cmd_report(const struct cli *c);

/* top: a live terminal view of a process. */
int cmd_top(const struct cli *c);

/* What a live view of a running session sees: the recording so far and its maps. */
struct session_view {
	const struct probe_plan *plan;
	struct bpf_session *bpf;
	struct recording *rec; /* a view may consume what it has shown (census, timeline) */
	uint64_t elapsed_ns;   /* since the probes were attached */
};

/* Calls from a running session into a live view (top, the progress line). */
struct session_observer {
	void *ctx;
	/* once attached, before the first poll; an exit code other than 0 ends the session */
	int (*started)(void *ctx, struct session_view *v);
	/* after every poll of the ring buffer (about ten a second); a reason ends the session */
	const char *(*polled)(void *ctx, struct session_view *v);
	/* the session ended (rec->end_reason says why), before its probes are detached */
	void (*ended)(void *ctx, struct session_view *v);
};

/*
 * Attach to c's target as `record` does and run the session until the
 * observer, a signal, the duration or the target's exit ends it; then detach.
 * Nothing is written: the observer shows what it wants. Returns the exit code.
 */
int session_watch(const struct cli *c, const struct session_observer *o);

/* Map a discovery error (-ESRCH, -ENOEXEC, ...) to an exit code. */
int exit_code_for_discovery(int err);

#endif
