/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * uprobe_multi links through the raw bpf() syscall: libbpf 1.1 has no API for
 * them. One link puts a program on many offsets of one file and detaches them
 * all at once: the kernel removes every breakpoint first, then waits a single
 * grace period, where perf-event uprobe links wait one per probe
 * (/work/shared/uprobe-cost-model.md section 4). What duty-cycled sampling needs.
 */
#ifndef PYOBJLIFE_UPROBE_MULTI_H
#define PYOBJLIFE_UPROBE_MULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "uprobe_multi_abi.h"

/*
 * Whether the running kernel has uprobe_multi links: 0 if so, else -errno with
 * the reason in `why`. Loads a two-instruction program and asks for a link on a
 * directory, which a kernel with the feature refuses with EBADF (as libbpf's
 * own feature probe does); nothing is attached.
 */
int uprobe_multi_probe(char *why, size_t cap);

/*
 * Attach the loaded program `prog_fd` (loaded with expected attach type
 * PYOBJLIFE_BPF_TRACE_UPROBE_MULTI) to `cnt` file offsets of `path`, in process
 * `pid` only, each with its cookie. `retprobe`: at the functions' returns.
 * Returns the link's fd (close it to detach) or -errno.
 */
int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
			const uint64_t *cookies, unsigned cnt, pid_t pid, bool retprobe);

#endif
