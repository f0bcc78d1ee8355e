/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* Where a recording's bounds are set. */
#ifndef PYOBJLIFE_RESOURCES_H
#define PYOBJLIFE_RESOURCES_H

#include <stddef.h>

struct recording;

/* Entries each of the recording's timelines keeps (--max-timeline; 0: the default). */
void recording_set_timeline_limit(struct recording *r, size_t limit);

#endif
