// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "follow.h"
#include "log.h"

#define TRACE_OPTIONS                                                                              \
	(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC)
#define DETACH_TIMEOUT_NS (2ull * 1000 * 1000 * 1000)

struct follow_task {
	pid_t tid, tgid;
	bool leader;	 /* the thread group's leader: its exit is the process's */
	bool known;	 /* its creation was reported by its parent (or it is the root) */
	bool first_stop; /* created, its first stop not seen yet */
	bool stopped;	 /* in a stop we have not resumed */
	bool held;	 /* a process the session holds until follower_release */
};

static struct follow_task *find_task(struct follower *f, pid_t tid)
{
	for (size_t i = 0; i < f->n_tasks; i++) {
		if (f->tasks[i].tid == tid)
			return &f->tasks[i];
	}
	return NULL;
}

static struct follow_task *add_task(struct follower *f, pid_t tid)
{
	struct follow_task *t = find_task(f, tid);

	if (t)
		return t;
	if (f->n_tasks == f->cap_tasks) {
		size_t cap = f->cap_tasks ? 2 * f->cap_tasks : 16;
		struct follow_task *v = realloc(f->tasks, cap * sizeof(*v));

		if (!v)
			return NULL;
		f->tasks = v;
		f->cap_tasks = cap;
	}
	t = &f->tasks[f->n_tasks++];
	*t = (struct follow_task){ .tid = tid, .tgid = tid };
	return t;
}

static void remove_task(struct follower *f, struct follow_task *t)
{
	*t = f->tasks[--f->n_tasks];
}

/* Resume a stopped task, passing `sig` on; a task that died meanwhile is left to its exit. */
static void resume(struct follow_task *t, int sig)
{
	if (ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig) && errno != ESRCH)
		pr_debug("follow: cannot resume %d: %s", (int)t->tid, strerror(errno));
	t->stopped = false;
}

static pid_t tgid_of(pid_t tid)
{
	char path[64], line[128];
	pid_t tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	}
	fclose(f);
	return tgid;
}

/* Whether two processes share their memory (a vfork, or a clone with CLONE_VM). */
static bool same_memory(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_VM, 0, 0) == 0;
}

int follower_start(struct follower *f, pid_t pid)
{
	struct follow_task *t;

	memset(f, 0, sizeof(*f));
	f->root = pid;
	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)TRACE_OPTIONS))
		return -errno;
	t = add_task(f, pid);
	if (!t)
		return -ENOMEM;
	t->known = t->leader = true;
	f->processes = 1;
	return 0;
}

/* A fork, vfork or clone: the new task is a thread of the parent's process or a process. */
static int on_new_task(struct follower *f, struct follow_task *parent, int event,
		       struct follow_event *ev)
{
	unsigned long msg = 0;
	struct follow_task *child;
	pid_t new, tgid = parent->tgid;
	bool process, seen;

	if (ptrace(PTRACE_GETEVENTMSG, parent->tid, 0, &msg))
		msg = 0;
	new = (pid_t)msg;
	resume(parent, 0);
	if (new <= 0)
		return 0;
	process = event != PTRACE_EVENT_CLONE || tgid_of(new) == new;
	/* its first stop may have come before this report */
	child = find_task(f, new);
	seen = child && child->stopped;
	child = add_task(f, new);
	if (!child)
		return -ENOMEM;
	child->known = true;
	child->leader = process;
	child->tgid = process ? new : tgid;
	child->first_stop = !seen;
	if (!process) {
		if (seen)
			resume(child, 0);
		return 0;
	}
	child->held = true;
	f->processes++;
	*ev = (struct follow_event){
		.kind = FOLLOW_NEW_PROCESS,
		.pid = new,
		.parent = tgid,
		.shares_memory = event == PTRACE_EVENT_VFORK || same_memory(tgid, new),
	};
	return 1;
}

static int on_exec(struct follower *f, struct follow_task *t, struct follow_event *ev)
{
	unsigned long former = 0;
	pid_t pid = t->tid;

	/* a thread that exec'd took the leader's id: its old id is gone */
	if (!ptrace(PTRACE_GETEVENTMSG, pid, 0, &former) && (pid_t)former != pid) {
		struct follow_task *old = find_task(f, (pid_t)former);

		if (old)
			remove_task(f, old);
		t = find_task(f, pid);
		if (!t)
			return 0;
	}
	t->stopped = t->held = true;
	t->leader = true;
	t->tgid = pid;
	*ev = (struct follow_event){ .kind = FOLLOW_EXEC, .pid = pid };
	return 1;
}

/* A stop signal's group-stop: with PTRACE_SEIZE, a PTRACE_EVENT_STOP carrying that signal. */
static bool is_group_stop(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/*
 * PTRACE_EVENT_STOP: a new task's first stop, a group-stop (kept stopped with
 * PTRACE_LISTEN, the way job control expects: SIGCONT resumes it), or a trap
 * that ends one.
 */
static void on_event_stop(struct follow_task *t, int sig)
{
	t->stopped = true;
	if (t->first_stop) {
		t->first_stop = false;
		if (t->known && !t->held)
			resume(t, 0);
		return;
	}
	if (is_group_stop(sig)) {
		if (ptrace(PTRACE_LISTEN, t->tid, 0, 0) && errno != ESRCH)
			pr_debug("follow: cannot listen on %d: %s", (int)t->tid, strerror(errno));
		t->stopped = false;
		return;
	}
	resume(t, 0);
}

static int on_stop(struct follower *f, pid_t tid, int status, struct follow_event *ev)
{
	int event = (status >> 16) & 0xff, sig = WSTOPSIG(status);
	struct follow_task *t = find_task(f, tid);

	if (!t) {
		/* a new task stopped before its parent's report: held until that comes */
		t = add_task(f, tid);
		if (!t)
			return -ENOMEM;
		t->stopped = true;
		return 0;
	}
	t->stopped = true;
	switch (event) {
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		return on_new_task(f, t, event, ev);
	case PTRACE_EVENT_EXEC:
		return on_exec(f, t, ev);
	case PTRACE_EVENT_STOP:
		on_event_stop(t, sig);
		return 0;
	case 0:
		/* a signal on its way to the task: pass it on */
		resume(t, sig);
		return 0;
	default:
		resume(t, 0);
		return 0;
	}
}

static int on_task_exit(struct follower *f, pid_t tid, int status, struct follow_event *ev)
{
	struct follow_task *t = find_task(f, tid);
	bool process;

	if (!t)
		return 0;
	process = t->leader && t->known;
	remove_task(f, t);
	if (!process)
		return 0;
	f->processes--;
	*ev = (struct follow_event){ .kind = FOLLOW_EXIT, .pid = tid, .status = status };
	return 1;
}

int follower_next(struct follower *f, struct follow_event *ev)
{
	for (;;) {
		int status, r;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);

		if (tid == 0 || (tid < 0 && errno == ECHILD))
			return 0;
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			r = on_task_exit(f, tid, status, ev);
		else if (WIFSTOPPED(status))
			r = on_stop(f, tid, status, ev);
		else
			r = 0;
		if (r)
			return r;
	}
}

void follower_release(struct follower *f, pid_t pid)
{
	struct follow_task *t = find_task(f, pid);

	if (!t)
		return;
	t->held = false;
	/* a new process whose first stop has not come yet is resumed when it comes */
	if (t->stopped && !t->first_stop)
		resume(t, 0);
}

bool follower_done(const struct follower *f)
{
	return f->processes <= 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void detach_task(struct follower *f, struct follow_task *t, int sig)
{
	if (ptrace(PTRACE_DETACH, t->tid, 0, (void *)(long)sig) && errno != ESRCH)
		pr_debug("follow: cannot detach %d: %s", (int)t->tid, strerror(errno));
	remove_task(f, t);
}

/* One stop or exit while detaching: the stopped task goes, with its signal if it had one. */
static void detach_on_wait(struct follower *f, pid_t tid, int status)
{
	struct follow_task *t = find_task(f, tid);
	int event = (status >> 16) & 0xff;
	unsigned long msg = 0;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (t)
			remove_task(f, t);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	if (!t && !(t = add_task(f, tid)))
		return;
	/* a child created meanwhile is traced too: detach it at its first stop */
	if ((event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
	     event == PTRACE_EVENT_CLONE) &&
	    !ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) && msg) {
		add_task(f, (pid_t)msg);
		t = find_task(f, tid);
		if (!t)
			return;
	}
	detach_task(f, t, event == 0 ? WSTOPSIG(status) : 0);
}

void follower_detach_all(struct follower *f)
{
	uint64_t deadline = now_ns() + DETACH_TIMEOUT_NS;
	struct timespec tick = { .tv_nsec = 2 * 1000 * 1000 };

	/* a stopped task can be detached at once; a running one must be stopped first */
	for (size_t i = 0; i < f->n_tasks;) {
		struct follow_task *t = &f->tasks[i];

		if (t->stopped && !t->first_stop) {
			detach_task(f, t, 0);
			continue;
		}
		/* one that is gone has its exit reaped below */
		ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
		i++;
	}
	while (f->n_tasks && now_ns() < deadline) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);

		if (tid < 0 && errno == ECHILD)
			break;
		if (tid <= 0) {
			nanosleep(&tick, NULL);
			continue;
		}
		detach_on_wait(f, tid, status);
	}
	if (f->n_tasks)
		pr_debug("follow: %zu threads did not stop in time; the kernel detaches them "
			 "when pyobjlife exits",
			 f->n_tasks);
	free(f->tasks);
	f->tasks = NULL;
	f->n_tasks = f->cap_tasks = 0;
}
