/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Following a launched command's processes (record --follow-children): every
 * fork, exec and exit in its tree, each reported while the process concerned
 * is held, so its probes are in place before it runs a single instruction.
 *
 * Why ptrace: a process must not run before its probes are attached, or the
 * first collections and allocations of a forked child, or the start of an
 * exec'd Python, are lost and the counts are no longer exact. The tracer of
 * the tree gets a forked child stopped before its first instruction and an
 * exec'ing process stopped right after the exec; it can also tell a fork
 * (a copy of the interpreter) from a vfork (the parent's memory until exec).
 * The alternatives cannot hold a process: the netlink proc connector and a
 * sched_process_fork/exec tracepoint only report it, and it runs on meanwhile
 * (a BPF program could stop it with SIGSTOP, but its parent and shell would
 * see the stop). Attaching the probes without a PID filter and filtering in
 * BPF instead would count a child from its first instruction, but every
 * process on the host running the same Python would trap on every probe.
 *
 * The cost: a stop and a resume at each fork, clone, exec and signal of the
 * tree (not per allocation or collection), and the tree cannot be traced by a
 * debugger meanwhile. If pyobjlife dies, the kernel detaches the tracees and
 * they run on.
 */
#ifndef PYOBJLIFE_FOLLOW_H
#define PYOBJLIFE_FOLLOW_H

#include <stdbool.h>
#include <sys/types.h>

enum follow_event_kind {
	FOLLOW_NEW_PROCESS, /* a fork: held until follower_release */
	FOLLOW_EXEC,	    /* a process exec'd a new program: held until follower_release */
	FOLLOW_EXIT,	    /* a process ended (every thread) */
};

struct follow_event {
	enum follow_event_kind kind;
	pid_t pid;
	pid_t parent;	    /* NEW_PROCESS: the process it was forked from */
	bool shares_memory; /* NEW_PROCESS: a vfork (or CLONE_VM): no interpreter of its own */
	int status;	    /* EXIT: the wait status */
};

struct follow_task; /* one traced thread */

struct follower {
	pid_t root;
	struct follow_task *tasks; /* by thread id */
	size_t n_tasks, cap_tasks;
	int processes; /* processes in the tree still alive */
};

/*
 * Trace `pid` (a child of ours, not yet exec'd) and every process and thread
 * it creates from now on. 0 or -errno.
 */
int follower_start(struct follower *f, pid_t pid);

/*
 * Handle the stops that are waiting: thread creations, signals and job
 * control are passed on at once. Returns 1 with `ev` filled when the session
 * must act (NEW_PROCESS and EXEC hold the process until follower_release),
 * 0 when nothing is waiting, -errno on failure.
 */
int follower_next(struct follower *f, struct follow_event *ev);

/* Let a held process run. */
void follower_release(struct follower *f, pid_t pid);

/* Whether no process of the tree is left. */
bool follower_done(const struct follower *f);

/*
 * Stop tracing every process (bounded wait: a process that does not stop in
 * time is left to the kernel's detach when pyobjlife exits). Held processes
 * run on. Frees the bookkeeping.
 */
void follower_detach_all(struct follower *f);

#endif
