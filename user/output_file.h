/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Output files written as root: never follow a symlink planted at the path,
 * never write into a FIFO, device or directory, report a full disk, and never
 * leave a half-written file in place of a good one. The data goes to a new
 * temporary file next to the target, which is renamed over it once complete.
 * A write that fails (a full disk) fails the commit, which names the cause;
 * the stream itself never reports it, so the writer goes on unaware.
 */
#ifndef PYOBJLIFE_OUTPUT_FILE_H
#define PYOBJLIFE_OUTPUT_FILE_H

#include <stdio.h>

struct output_file {
	FILE *stream;
	char *path;    /* where it goes */
	char *tmp;     /* where it is written first */
	int fd;	       /* tmp, which the stream writes */
	int write_err; /* the first failed write's errno, 0 if none */
};

/*
 * Check that `path` can be written safely, before the recording starts, so a
 * bad path fails in a second rather than after an hour. 0 or -errno; `why` says.
 */
int output_file_precheck(const char *path, char *why, size_t cap);

/* Start writing `path`: NULL with errno and `why` set. */
struct output_file *output_file_open(const char *path, char *why, size_t cap);

/*
 * Flush and sync the data, check `path` once more and rename the file over it.
 * 0 or -errno (-ENOSPC on a full disk); on failure the old file is untouched.
 * Frees `o` either way.
 */
int output_file_commit(struct output_file *o, char *why, size_t cap);

/* Drop what was written; the path is untouched. Frees `o`. */
void output_file_discard(struct output_file *o);

/* Flush, fsync and close a stream; 0 or -errno (the first write error wins). */
int output_stream_close(FILE *f);

#endif
