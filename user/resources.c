// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include "recording.h"
#include "resources.h"

void recording_set_timeline_limit(struct recording *r, size_t limit)
{
	gc_recording_set_limit(&r->gc, limit);
	heap_timeline_set_limit(&r->heap, limit);
	r->alloc.census.thin.limit = limit;
}
