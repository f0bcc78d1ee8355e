// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "recording.h"
#include "resources.h"

int memory_usage_read(struct memory_usage *m)
{
	char line[256];
	unsigned found = 0;
	FILE *f = fopen("/proc/self/status", "re");

	memset(m, 0, sizeof(*m));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t kib;

		if (sscanf(line, "VmRSS: %" SCNu64 " kB", &kib) == 1) {
			m->rss_bytes = kib * 1024;
			found |= 1;
		} else if (sscanf(line, "VmHWM: %" SCNu64 " kB", &kib) == 1) {
			m->peak_rss_bytes = kib * 1024;
			found |= 2;
		}
	}
	fclose(f);
	m->known = found == 3;
	return m->known ? 0 : -EINVAL;
}

void recording_set_timeline_limit(struct recording *r, size_t limit)
{
	gc_recording_set_limit(&r->gc, limit);
	heap_timeline_set_limit(&r->heap, limit);
	r->alloc.census.thin.limit = limit;
}

uint64_t bpf_map_kernel_bytes(int fd)
{
	char path[64], line[128];
	uint64_t bytes = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "memlock: %" SCNu64, &bytes) == 1)
			break;
	}
	fclose(f);
	return bytes;
}

static json_t *bytes_or_null(bool known, uint64_t v)
{
	return known ? json_integer((json_int_t)v) : json_null();
}

static json_t *symbolizer_json(const struct symbolizer_stats *st)
{
	return json_pack("{s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}, "
			 "s:{s:I, s:I, s:I, s:I}}",
			 "code_objects", "kept", (json_int_t)st->codes, "limit",
			 (json_int_t)SYMBOLIZER_MAX_CODES, "emptied_at_limit",
			 (json_int_t)st->code_flushes, "line_table_bytes",
			 (json_int_t)st->linetable_bytes, "code_object_copies", "kept",
			 (json_int_t)st->snapshots, "limit", (json_int_t)SYMBOLIZER_MAX_CODES,
			 "emptied_at_limit", (json_int_t)st->snapshot_flushes, "line_table_bytes",
			 (json_int_t)st->snapshot_bytes, "types", "kept", (json_int_t)st->types,
			 "limit", (json_int_t)SYMBOLIZER_MAX_TYPES, "emptied_at_limit",
			 (json_int_t)st->type_flushes, "names", "kept", (json_int_t)st->strings,
			 "limit", (json_int_t)SYMBOLIZER_MAX_STRINGS, "dropped",
			 (json_int_t)st->strings_refused, "bytes", (json_int_t)st->string_bytes);
}

static json_t *structures_json(const struct recording *r)
{
	const struct gc_recording *g = &r->gc;
	const struct heap_timeline *h = &r->heap;
	const struct alloc_recording *a = &r->alloc;
	json_t *s = json_object();

	json_object_set_new(
		s, "gc_timeline",
		thinning_json(&g->thin, g->n_collections, g->cap, sizeof(*g->collections)));
	json_object_set_new(s, "heap_timeline",
			    thinning_json(&h->thin, h->n, h->cap, sizeof(*h->samples)));
	if (!a->enabled)
		return s;
	json_object_set_new(s, "census_log",
			    thinning_json(&a->census.thin, a->census.n, a->census.cap,
					  sizeof(*a->census.samples)));
	if (a->sampler)
		json_object_set_new(s, "window_log",
				    thinning_json(&a->sampler->log_thin, a->sampler->n_log,
						  a->sampler->cap_log, sizeof(*a->sampler->log)));
	json_object_set_new(s, "resolved_stacks",
			    json_pack("{s:I, s:I, s:s}", "kept", (json_int_t)a->n_stacks, "bytes",
				      (json_int_t)a->stack_bytes, "bounded_by",
				      "one per (stack, type) counter (--max-sites) or collection "
				      "stack (bpf_maps.gc_blame)"));
	json_object_set_new(s, "censored_counts",
			    json_pack("{s:I, s:s}", "kept", (json_int_t)a->n_censored_keys,
				      "bounded_by", "one per (stack, type) counter (--max-sites)"));
	json_object_set_new(s, "symbolizer", symbolizer_json(&a->sym.stats));
	return s;
}

json_t *recording_memory_json(const struct recording *r)
{
	const struct memory_usage *m = &r->memory;

	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "source",
			 "pyobjlife's own /proc/self/status (VmRSS, VmHWM) when the recording "
			 "stopped, before its outputs were built; the BPF maps' kernel memory "
			 "from their fds' memlock",
			 "rss_bytes", bytes_or_null(m->known, m->rss_bytes), "peak_rss_bytes",
			 bytes_or_null(m->known, m->peak_rss_bytes), "bpf_maps_kernel_bytes",
			 bytes_or_null(r->maps.known, r->maps.kernel_bytes), "structures",
			 structures_json(r));
}

static json_t *map_json(const struct bpf_map_size *m, const char *counter, uint64_t count)
{
	return json_pack("{s:I, s:I, s:I}", "max_entries", (json_int_t)m->max_entries,
			 "kernel_bytes", (json_int_t)m->kernel_bytes, counter, (json_int_t)count);
}

/* A map whose overflow another map's counter counts. */
static json_t *map_counted_in_json(const struct bpf_map_size *m, const char *where)
{
	return json_pack("{s:I, s:I, s:s}", "max_entries", (json_int_t)m->max_entries,
			 "kernel_bytes", (json_int_t)m->kernel_bytes, "full", where);
}

json_t *recording_bpf_maps_json(const struct recording *r)
{
	const struct bpf_map_sizes *m = &r->maps;
	const struct gc_agg *g = &r->gc.agg;
	const struct alloc_agg *a = &r->alloc.agg;
	json_t *j;

	if (!m->known)
		return json_null();
	j = json_pack("{s:{s:I, s:I, s:I, s:I}, s:o}", "events", "bytes",
		      (json_int_t)m->events.max_entries, "kernel_bytes",
		      (json_int_t)m->events.kernel_bytes, "peak_unread_bytes",
		      (json_int_t)m->ring_peak_unread, "records_lost",
		      (json_int_t)(g->ringbuf_drops + g->census_lost + a->key_events_lost +
				   a->code_snapshots_lost),
		      "gc_inflight", map_json(&m->gc_inflight, "full", g->inflight_full));
	if (!j || !r->alloc.enabled)
		return j;
	json_object_set_new(j, "stacks", map_json(&m->stacks, "full", a->stacks_full));
	json_object_set_new(json_object_get(j, "stacks"), "given_up_before_copied",
			    json_integer((json_int_t)r->alloc.stacks_lost));
	json_object_set_new(j, "alloc_counts", map_json(&m->alloc_counts, "full", a->counts_full));
	json_object_set_new(j, "live", map_json(&m->live, "full", a->live_full));
	/* an allocator call the typed_calls map had no room for is a birth not followed */
	json_object_set_new(j, "typed_calls", map_counted_in_json(&m->typed_calls, "live.full"));
	json_object_set_new(j, "census", map_json(&m->census, "walks_cut", g->census_truncated));
	json_object_set_new(j, "gc_blame", map_json(&m->gc_blame, "full", g->blame_full));
	json_object_set_new(j, "blame_pending",
			    map_counted_in_json(&m->blame_pending, "gc_blame.full"));
	return j;
}

/* A timeline that reached its bound keeps one entry in `one_in`: say so once. */
static void warn_thinned(const char *what, const char *note, const struct thinning *t)
{
	if (t->thinned)
		pr_warn("the %s reached its bound of %zu entries and was thinned evenly: it keeps "
			"1 in %" PRIu64 " at most (%" PRIu64 " not kept; raise --max-timeline)%s",
			what, thinning_limit(t), thinning_max_stride(t), t->thinned, note);
	if (t->failed)
		pr_warn("%" PRIu64 " entries of the %s were dropped: out of memory", t->failed,
			what);
}

static void warn_gc(const struct recording *r)
{
	const struct gc_recording *g = &r->gc;

	if (g->agg.inflight_full)
		pr_warn("%" PRIu64 " collections were not recorded: no room to remember their "
			"start (diagnostics.inflight_map_full)",
			(uint64_t)g->agg.inflight_full);
	if (g->malformed)
		pr_warn("%" PRIu64 " ring buffer records were malformed and dropped", g->malformed);
	warn_thinned("collection timeline", "; the per-generation totals stay exact", &g->thin);
	warn_thinned("heap timeline", "", &r->heap.thin);
}

static void warn_census(const struct alloc_recording *a, const struct gc_agg *g)
{
	if (g->census_lost)
		pr_warn("%" PRIu64 " census notices did not fit the ring buffer: those censuses "
			"are missing (raise --ringbuf-size)",
			(uint64_t)g->census_lost);
	if (g->census_truncated)
		pr_warn("%" PRIu64 " census walks were cut short (--census-max-objects, or the "
			"census map full)",
			(uint64_t)g->census_truncated);
	if (g->blame_full)
		pr_warn("%" PRIu64 " collections have no triggering stack: the gc_blame map was "
			"full",
			(uint64_t)g->blame_full);
	warn_thinned("census log", "", &a->census.thin);
}

static void warn_allocations(const struct alloc_recording *a)
{
	const struct alloc_agg *g = &a->agg;

	if (g->key_events_lost)
		pr_warn("%" PRIu64 " new-site notices did not fit the ring buffer: those stacks "
			"were named at the end, if their code still existed (raise "
			"--ringbuf-size)",
			(uint64_t)g->key_events_lost);
	if (g->code_snapshots_lost)
		pr_warn("%" PRIu64 " copies of new code objects did not fit the ring buffer: "
			"their frames were named from the target's memory, or shown as freed "
			"(raise --ringbuf-size)",
			(uint64_t)g->code_snapshots_lost);
	if (a->stacks_lost)
		pr_warn("%" PRIu64 " stacks were given up by the kernel before pyobjlife could "
			"copy them: their allocations show as <stack not recorded> (raise "
			"--max-stacks)",
			a->stacks_lost);
	if (g->read_errors)
		pr_warn("%" PRIu64 " allocations were not counted: the target's memory could not "
			"be read (allocations.health.read_errors)",
			(uint64_t)g->read_errors);
	if (g->walk_busy)
		pr_warn("%" PRIu64 " allocations were not counted, or collections not blamed: "
			"preempted probe programs held all of a CPU's walk scratches "
			"(allocations.health.walk_busy)",
			(uint64_t)g->walk_busy);
	if (g->live_full)
		pr_warn("%" PRIu64 " births were counted but not followed: the live-object map "
			"was full (raise --max-live)",
			(uint64_t)g->live_full);
	if (a->censored_without_row)
		pr_warn("%" PRIu64 " censored objects could not be joined to their site "
			"(lifecycle.health.censored_without_counted_allocation)",
			a->censored_without_row);
	if (a->sym.stats.strings_refused)
		pr_warn("%" PRIu64 " names were not kept: more than %u distinct names",
			a->sym.stats.strings_refused, SYMBOLIZER_MAX_STRINGS);
	if (a->sampler)
		warn_thinned("sampling window log", "", &a->sampler->log_thin);
}

/* A ring at least RING_ADVICE_HEADROOM times its peak backlog, in KiB (a power of two). */
#define RING_ADVICE_HEADROOM 4

uint64_t ring_advised_kib(uint64_t peak_unread, uint64_t largest_record)
{
	uint64_t need = (peak_unread > largest_record ? peak_unread : largest_record) *
			RING_ADVICE_HEADROOM,
		 kib = 4;

	while (kib * 1024 < need && kib < 1024 * 1024)
		kib *= 2;
	return kib;
}

/* A code object's copy with a large line table, and the ring's record header. */
#define RING_LARGEST_ALLOC_RECORD                                                                  \
	(sizeof(struct code_snapshot_event) + PYOBJLIFE_SNAP_TABLE_LARGE + 8)

/*
 * Sizing the ring from what it measured: past half full at its peak, a burst a
 * little larger would have lost records (new sites' notices, code objects'
 * copies, collections). A ring that lost copies may just be too small for one.
 */
static void warn_ring(const struct recording *r)
{
	/* the ring serves every target of the session: one warning for all */
	static bool warned;
	const struct bpf_map_sizes *m = &r->maps;
	uint64_t size = m->events.max_entries;
	uint64_t largest = r->alloc.enabled ? RING_LARGEST_ALLOC_RECORD : 0;
	bool copies_lost = r->alloc.enabled && r->alloc.agg.code_snapshots_lost;

	if (warned || !m->known || !size ||
	    (m->ring_peak_unread * 2 < size && !(copies_lost && largest * 2 > size)))
		return;
	warned = true;
	pr_warn("the ring buffer held up to %" PRIu64 " KiB unread of its %" PRIu64
		" KiB: a larger burst loses records (--ringbuf-size %" PRIu64 " would leave room)",
		m->ring_peak_unread / 1024, size / 1024,
		ring_advised_kib(m->ring_peak_unread, largest));
}

void recording_warn_limits(const struct recording *r)
{
	warn_ring(r);
	warn_gc(r);
	if (!r->alloc.enabled)
		return;
	warn_allocations(&r->alloc);
	warn_census(&r->alloc, &r->gc.agg);
}
