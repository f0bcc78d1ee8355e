/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * A target's user-mode CPU time, sampled mode's measure of the target's own
 * work: the probes' traps and programs run in kernel mode, so its user time
 * grows with its work alone, inside a window as outside.
 *
 * Read as the scheduler tick charged it to each thread, through a task
 * iterator over the target. A sampling clock of our own would be finer, but it
 * would run inside the windows only and slow the target there (a 10 kHz CPU
 * clock slowed its user code by half on these VMs, where a timer interrupt
 * costs tens of microseconds); the tick runs inside and outside alike.
 */
#ifndef PYOBJLIFE_USER_TIME_H
#define PYOBJLIFE_USER_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_link;
struct bpf_program;

/*
 * The iterator `prog` (iter/task) over the threads of `pid`; *filtered says the
 * kernel took the filter (Linux 6.1+). Without it the iterator shows every task.
 */
struct bpf_link *user_time_iter_attach(struct bpf_program *prog, pid_t pid, bool *filtered);

/*
 * The user time of every thread of process `pid`, living or exited (ns); -ESRCH:
 * none left. `pid` 0: every task the iterator shows (the kernel filtered them;
 * its records' tgids are the initial namespace's, which may not be ours).
 */
int user_time_iter_read(struct bpf_link *iter, pid_t pid, uint64_t *ns);

#endif
