/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* A target process seen through /proc: its state, its file mappings, its memory. */
#ifndef PYOBJLIFE_PROC_H
#define PYOBJLIFE_PROC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_mapping {
	uint64_t start, end, offset;
	char perms[5];
	char path[PATH_MAX]; /* as the target sees it (inside its mount namespace) */
	bool deleted;	     /* the file was deleted or replaced since (" (deleted)" cut off) */
};

enum proc_state {
	PROC_ALIVE,
	PROC_MISSING, /* no such process */
	PROC_ZOMBIE,  /* exited, not yet reaped */
};

enum proc_state proc_state(pid_t pid);

/*
 * Call fn for each file-backed mapping of pid. Returns 0, -errno when the maps
 * cannot be read, or fn's non-zero value.
 */
int proc_for_each_mapping(pid_t pid, int (*fn)(const struct proc_mapping *m, void *ctx), void *ctx);

/* Host path of a file in the target's mount namespace: /proc/PID/root/<path>. */
int proc_host_path(pid_t pid, const char *path, char *out, size_t cap);

/* Cut the " (deleted)" the kernel adds to a file deleted or replaced since; whether it had it. */
bool proc_strip_deleted(char *path);

/*
 * /proc/PID/map_files/START-END: the file one mapping holds, even deleted or
 * replaced on disk since (root only). -ENAMETOOLONG if it does not fit.
 */
int proc_mapped_file_path(pid_t pid, const struct proc_mapping *m, char *out, size_t cap);

/* Read the target's memory; 0 or -errno (-EFAULT for a short read). */
int proc_read_mem(pid_t pid, uint64_t addr, void *buf, size_t len);

/* The target's command name (comm), "" when gone. */
void proc_comm(pid_t pid, char *out, size_t cap);

#endif
