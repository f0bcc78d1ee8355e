/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* A recording as a pprof profile, the format `go tool pprof` and its viewers read. */
#ifndef PYOBJLIFE_RENDER_PPROF_H
#define PYOBJLIFE_RENDER_PPROF_H

#include <stdio.h>
#include <jansson.h>

struct render_opts;

/*
 * Write the recording JSON `rec` to `out` as a gzipped perftools.profiles.Profile: sample
 * types alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes (the Go
 * heap profile's), one sample per entry of "stacks" with the object's type as its `type`
 * label. A profile carries every weight, so `o` is not read and may be NULL. 0, or -1 after one
 * line on stderr (a recording without allocation stacks, a malformed one, a write error).
 */
int render_pprof(FILE *out, const json_t *rec, const struct render_opts *o);

#endif
