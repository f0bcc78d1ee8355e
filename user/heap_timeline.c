// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "heap_timeline.h"

void heap_timeline_init(struct heap_timeline *h, bool arenas_known, uint64_t interval_ns)
{
	memset(h, 0, sizeof(*h));
	h->arenas_known = arenas_known;
	h->interval_ns = interval_ns;
	thinning_init(&h->thin, 0);
}

void heap_timeline_set_limit(struct heap_timeline *h, size_t limit)
{
	h->thin.limit = limit;
}

void heap_timeline_free(struct heap_timeline *h)
{
	free(h->samples);
	h->samples = NULL;
	h->n = h->cap = 0;
}

bool heap_timeline_due(const struct heap_timeline *h, uint64_t t_ns)
{
	return !h->taken || t_ns - h->last_t_ns >= h->interval_ns;
}

/* statm's second field: resident pages */
static int read_rss(pid_t pid, uint64_t *bytes)
{
	char path[64];
	uint64_t size, resident;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%" SCNu64 " %" SCNu64, &size, &resident);
	fclose(f);
	if (n != 2)
		return -EINVAL;
	/* an exited process (a zombie) keeps its statm file, all zeros */
	if (!resident)
		return -ESRCH;
	*bytes = resident * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

static void sample_key(const void *entry, unsigned *cls, uint64_t *ordinal)
{
	*cls = 0;
	*ordinal = ((const struct heap_sample *)entry)->ordinal;
}

int heap_timeline_sample(struct heap_timeline *h, pid_t pid, uint64_t t_ns,
			 uint64_t arenas_allocated, uint64_t arenas_freed)
{
	struct heap_sample s = { .t_ns = t_ns,
				 .arenas_allocated = arenas_allocated,
				 .arenas_freed = arenas_freed,
				 .ordinal = h->taken };
	struct heap_sample *slot;
	int err = read_rss(pid, &s.rss_bytes);

	if (err)
		return err;
	h->taken++;
	h->last_t_ns = t_ns;
	slot = thinning_slot(&h->thin, (void **)&h->samples, &h->n, &h->cap, sizeof(s), sample_key,
			     0, s.ordinal);
	if (slot)
		*slot = s;
	return 0;
}

json_t *heap_timeline_json(const struct heap_timeline *h)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < h->n; i++) {
		const struct heap_sample *s = &h->samples[i];

		json_array_append_new(
			arr,
			json_pack("{s:I, s:I, s:o, s:o}", "t_ns", (json_int_t)s->t_ns, "rss_bytes",
				  (json_int_t)s->rss_bytes, "arenas_allocated",
				  h->arenas_known ? json_integer((json_int_t)s->arenas_allocated)
						  : json_null(),
				  "arenas_freed",
				  h->arenas_known ? json_integer((json_int_t)s->arenas_freed)
						  : json_null()));
	}
	return arr;
}
