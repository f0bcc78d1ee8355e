/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Output file names when a recording has several targets: each target's
 * outputs are the files asked for with the target's label (its PID, or
 * PID-N for the Nth program that PID ran) before the format's extension.
 */
#ifndef PYOBJLIFE_OUTPUT_NAMES_H
#define PYOBJLIFE_OUTPUT_NAMES_H

#include <stddef.h>

/*
 * rec.json -> rec.1234.json, flame.svg -> flame.1234.svg,
 * rec.speedscope.json -> rec.1234.speedscope.json, prof.pb.gz ->
 * prof.1234.pb.gz; a name without an extension gets ".1234" appended.
 * 0, or -ENAMETOOLONG when `out` is too small.
 */
int output_path_for_target(const char *path, const char *label, char *out, size_t cap);

#endif
