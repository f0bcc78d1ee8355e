/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Output files written as root: never follow a symlink planted at the path,
 * never write into a FIFO, device or directory, and report a full disk.
 */
#ifndef PYOBJLIFE_OUTPUT_FILE_H
#define PYOBJLIFE_OUTPUT_FILE_H

#include <stdio.h>

/*
 * Check that `path` can be written safely, before the recording starts, so a
 * bad path fails in a second rather than after an hour. 0 or -errno; `why` says.
 */
int output_file_precheck(const char *path, char *why, size_t cap);

/*
 * Open for writing (created 0644 or truncated). The path must be a regular
 * file or not exist; a symlink is refused. NULL with errno and `why` set.
 */
FILE *output_file_open(const char *path, char *why, size_t cap);

/* Flush, fsync and close; 0 or -errno (ENOSPC on a full disk). */
int output_file_close(FILE *f);

#endif
