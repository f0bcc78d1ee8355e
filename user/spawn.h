/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Launch a command held at the starting line: the child is forked and waits on
 * a pipe until every probe is attached, then execs, so the probes see its
 * first bytecode.
 */
#ifndef PYOBJLIFE_SPAWN_H
#define PYOBJLIFE_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

struct spawned {
	pid_t pid;
	int go_fd; /* write end of the pipe the child waits on */
	bool exited;
	int status; /* wait status once exited */
};

/* 0 or -errno. */
int spawn_held(char *const argv[], struct spawned *s);
/* Let the child exec. */
int spawn_release(struct spawned *s);
/* Reap without blocking; true once the child has exited. */
bool spawn_poll_exit(struct spawned *s);
/* Kill a child that never got to run (attach failed) and reap it. */
void spawn_abort(struct spawned *s);

#endif
