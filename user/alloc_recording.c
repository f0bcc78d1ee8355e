// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <math.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "array_sort.h"
#include "alloc_recording.h"
#include "proc.h"

static int read_target(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct alloc_recording *r = ctx;
	int err = r->own_memory_gone ? -ESRCH : proc_read_mem(r->pid, addr, buf, len);

	if (err && r->parent_pid)
		err = proc_read_mem(r->parent_pid, addr, buf, len);
	return err;
}

void alloc_recording_init(struct alloc_recording *r, pid_t pid, const struct frame_layout *l,
			  int minor, uint32_t stack_depth)
{
	memset(r, 0, sizeof(*r));
	r->enabled = true;
	r->pid = pid;
	r->stack_depth = stack_depth;
	symbolizer_init(&r->sym, l, minor, read_target, r);
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void free_stack(void *p)
{
	struct resolved_stack *st = p;

	free(st->frames);
	free(st);
}

void alloc_recording_free(struct alloc_recording *r)
{
	tdestroy(r->stacks, free_stack);
	r->stacks = NULL;
	tdestroy(r->censored, free);
	r->censored = NULL;
	tdestroy(r->key_types, free);
	r->key_types = NULL;
	free(r->rows);
	free(r->sites);
	free(r->blame);
	r->rows = NULL;
	r->sites = NULL;
	r->blame = NULL;
	census_log_free(&r->census);
	symbolizer_free(&r->sym);
}

static void name_frame(struct alloc_recording *r, uint64_t code, uint32_t instr, uint32_t tag,
		       struct code_location *out)
{
	char what[64];
	int err = symbolizer_code(&r->sym, code, instr, tag, out);

	if (!err)
		return;
	snprintf(what, sizeof(what), "<%s code object 0x%lx>",
		 err == -ESTALE ? "freed" : "unreadable", (unsigned long)code);
	out->file = "<unknown>";
	out->function = symbolizer_intern(&r->sym, what);
	out->line = -1;
	out->firstlineno = 0;
	out->incomplete = false;
}

/* Name the frames of a stack the BPF side stored; unnamed frames keep their address. */
static void name_frames(struct alloc_recording *r, struct resolved_stack *rs,
			const struct py_stack *st)
{
	uint32_t depth =
		st->depth < PYOBJLIFE_MAX_STACK_DEPTH ? st->depth : PYOBJLIFE_MAX_STACK_DEPTH;

	rs->truncated = st->flags & PY_STACK_TRUNCATED;
	rs->frames = calloc(depth ? depth : 1, sizeof(*rs->frames));
	if (!rs->frames) {
		rs->unavailable = true;
		return;
	}
	r->stack_bytes += (depth ? depth : 1) * sizeof(*rs->frames);
	for (uint32_t i = 0; i < depth; i++) {
		struct code_location *f = &rs->frames[rs->depth];

		name_frame(r, st->code[i], st->instr[i], st->code_tag[i], f);
		if (!f->incomplete)
			rs->depth++;
	}
}

static const struct resolved_stack *resolve_stack(struct alloc_recording *r, int stacks_fd,
						  uint64_t id)
{
	struct resolved_stack *rs, **node = tfind(&id, &r->stacks, cmp_id);
	struct py_stack *st;

	if (node)
		return *node;
	rs = calloc(1, sizeof(*rs));
	st = malloc(sizeof(*st));
	if (!rs || !st) {
		free(rs);
		free(st);
		return NULL;
	}
	rs->id = id;
	if (!id) {
		rs->unavailable = true;
	} else if (bpf_map_lookup_elem(stacks_fd, &id, st)) {
		rs->unavailable = true;
		r->stacks_lost++;
	} else {
		name_frames(r, rs, st);
	}
	free(st);
	if (!tsearch(rs, &r->stacks, cmp_id)) {
		free_stack(rs);
		return NULL;
	}
	r->n_stacks++;
	r->stack_bytes += sizeof(*rs);
	return rs;
}

static const char *type_name(struct alloc_recording *r, uint64_t type)
{
	const char *name = symbolizer_type(&r->sym, type);
	char what[48];

	if (name)
		return name;
	snprintf(what, sizeof(what), "<type 0x%lx>", (unsigned long)type);
	return symbolizer_intern(&r->sym, what);
}

void alloc_recording_next_batch(struct alloc_recording *r)
{
	symbolizer_next_epoch(&r->sym);
}

/* The name a (stack, type) counter got when it was announced. */
struct key_type {
	uint64_t stack_id, type;
	const char *name;
};

static int cmp_key_type(const void *a, const void *b)
{
	const struct key_type *x = a, *y = b;

	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	return x->type < y->type ? -1 : x->type > y->type;
}

/*
 * A class freed and another made at its address: counters announced while the
 * first lived keep its name, however the address is named at the end.
 * `copied`: the type's name as the BPF side copied it with the notice, or NULL;
 * `maybe_cut`: it filled its window, so the target's name is preferred if readable.
 */
static void bind_key_type(struct alloc_recording *r, uint64_t stack_id, uint64_t type,
			  const char *copied, size_t copied_len, bool maybe_cut)
{
	struct key_type *k, probe = { .stack_id = stack_id, .type = type };
	const char *name = NULL;

	if (tfind(&probe, &r->key_types, cmp_key_type))
		return;
	if (!copied || maybe_cut)
		name = symbolizer_type(&r->sym, type);
	/* a cut copy yields only to the name it starts: not to a class reusing the address */
	if (name && copied && maybe_cut && strncmp(name, copied, copied_len - 1))
		name = NULL;
	if (!name && copied)
		name = symbolizer_intern_raw(&r->sym, copied, copied_len);
	k = malloc(sizeof(*k));
	if (!name || !k) {
		free(k);
		return;
	}
	*k = (struct key_type){ .stack_id = stack_id, .type = type, .name = name };
	if (!tsearch(k, &r->key_types, cmp_key_type))
		free(k);
}

static const char *key_type_name(struct alloc_recording *r, uint64_t stack_id, uint64_t type)
{
	struct key_type probe = { .stack_id = stack_id, .type = type }, **k;

	k = tfind(&probe, &r->key_types, cmp_key_type);
	return k ? (*k)->name : type_name(r, type);
}

void alloc_recording_on_key(struct alloc_recording *r, int stacks_fd,
			    const struct alloc_key_event *e, size_t size)
{
	bool named = e->type_name_len && size >= sizeof(*e) + PYOBJLIFE_TYPE_NAME_MAX &&
		     e->type_name_len <= PYOBJLIFE_TYPE_NAME_MAX;
	/* a copy that filled its window may be cut: the target's (longer) name, if readable */
	bool cut = named && e->type_name_len == PYOBJLIFE_TYPE_NAME_MAX;

	if (!r->enabled || e->tgid != (uint32_t)r->pid)
		return;
	/* stack 0: a type's first allocation counted without a stack (count map full) */
	if (e->stack_id)
		resolve_stack(r, stacks_fd, e->stack_id);
	/* a collection's triggering stack comes without a type */
	if (e->type)
		bind_key_type(r, e->stack_id, e->type, named ? e->type_name : NULL,
			      named ? e->type_name_len : 0, cut);
}

void alloc_recording_on_code_snapshot(struct alloc_recording *r,
				      const struct code_snapshot_event *e, size_t size)
{
	if (!r->enabled || e->tgid != (uint32_t)r->pid)
		return;
	/* a copy that names nothing is counted; its frames fall back to the target's memory */
	(void)symbolizer_add_snapshot(&r->sym, e, size);
}

/* Censored objects of one (stack, type), accumulated over the windows. */
struct censored_count {
	uint64_t stack_id, type;
	uint64_t objects, bytes;
};

static int cmp_censored(const void *a, const void *b)
{
	const struct censored_count *x = a, *y = b;

	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	return x->type < y->type ? -1 : x->type > y->type;
}

void alloc_recording_add_censored(struct alloc_recording *r, const struct live_object *o)
{
	struct censored_count probe = { .stack_id = o->stack_id, .type = o->type }, *c, **node;

	r->censored_total++;
	r->censored_bytes += o->size;
	node = tfind(&probe, &r->censored, cmp_censored);
	if (!node) {
		c = malloc(sizeof(*c));
		if (c)
			*c = probe;
		if (!c || !(node = tsearch(c, &r->censored, cmp_censored)) || *node != c) {
			/* out of memory: join_censored counts it without a row */
			free(c);
			return;
		}
		r->n_censored_keys++;
	}
	(*node)->objects++;
	(*node)->bytes += o->size;
}

/* Sampled mode: what the windows saw, scaled to the whole recording. */
static uint64_t estimate(const struct alloc_recording *r, uint64_t observed)
{
	if (!r->sampled || r->sampling_ratio <= 0)
		return observed;
	return (uint64_t)llround((double)observed / r->sampling_ratio);
}

static int add_row(struct alloc_recording *r, size_t *cap, const struct alloc_key *key,
		   const struct alloc_count *c, int stacks_fd)
{
	struct alloc_row *row;
	if (r->n_rows == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct alloc_row *rows = realloc(r->rows, ncap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		r->rows = rows;
		*cap = ncap;
	}
	row = &r->rows[r->n_rows++];
	*row = (struct alloc_row){ .stack = resolve_stack(r, stacks_fd, key->stack_id),
				   .type = key_type_name(r, key->stack_id, key->type),
				   .allocations = estimate(r, c->allocations),
				   .bytes = estimate(r, c->bytes),
				   .stack_id = key->stack_id,
				   .type_addr = key->type,
				   .observed_allocations = c->allocations,
				   .observed_bytes = c->bytes };
	lifecycle_from_count(&row->life, c);
	r->total_allocations += row->allocations;
	r->total_bytes += row->bytes;
	r->observed_allocations += c->allocations;
	r->observed_bytes += c->bytes;
	return 0;
}

/* Censored counts joined to their rows; what has no row is counted apart. */
static void join_censored(struct alloc_recording *r)
{
	uint64_t matched = 0;

	for (size_t i = 0; i < r->n_rows; i++) {
		struct alloc_row *row = &r->rows[i];
		struct censored_count probe = { .stack_id = row->stack_id, .type = row->type_addr };
		struct censored_count **node = tfind(&probe, &r->censored, cmp_censored);

		if (!node)
			continue;
		row->censored = (*node)->objects;
		row->censored_bytes = (*node)->bytes;
		matched += row->censored;
	}
	r->censored_without_row += r->censored_total - matched;
}

static int by_allocations(const void *a, const void *b)
{
	const struct alloc_row *x = a, *y = b;

	if (x->allocations != y->allocations)
		return x->allocations < y->allocations ? 1 : -1;
	return strcmp(x->type, y->type);
}

/* Allocations by the interpreter's C code with no Python frame (startup, shutdown, threads) */
static const struct code_location no_frame_leaf = { .file = "<interpreter>",
						    .function = "<no Python frame>",
						    .line = -1 };
/* The stack could not be kept (map full, or no thread state): counted all the same */
static const struct code_location lost_stack_leaf = { .file = "<unknown>",
						      .function = "<stack not recorded>",
						      .line = -1 };

static const struct code_location *leaf_of_stack(const struct resolved_stack *st)
{
	if (!st || st->unavailable)
		return &lost_stack_leaf;
	return st->depth ? &st->frames[0] : &no_frame_leaf;
}

static const struct code_location *leaf_of(const struct alloc_row *row)
{
	return leaf_of_stack(row->stack);
}

static int cmp_ptr(const void *x, const void *y)
{
	return (uintptr_t)x < (uintptr_t)y ? -1 : (uintptr_t)x > (uintptr_t)y;
}

int site_key_compare(const struct site_key *a, const struct site_key *b)
{
	int c = cmp_ptr(a->file, b->file);

	if (!c)
		c = cmp_ptr(a->function, b->function);
	if (!c)
		c = a->line - b->line;
	return c ? c : cmp_ptr(a->type, b->type);
}

static int site_identity(const void *a, const void *b)
{
	const struct alloc_site *x = a, *y = b;

	return site_key_compare(&(struct site_key){ x->file, x->function, x->type, x->line },
				&(struct site_key){ y->file, y->function, y->type, y->line });
}

static int site_order(const void *a, const void *b)
{
	const struct alloc_site *x = a, *y = b;
	int c;

	if (x->allocations != y->allocations)
		return x->allocations < y->allocations ? 1 : -1;
	c = strcmp(x->file, y->file);
	return c ? c : x->line - y->line;
}

/* Sum rows into leaf sites: one site per row, grouped by sorting, then merged. */
static int build_sites(struct alloc_recording *r)
{
	r->sites = calloc(r->n_rows ? r->n_rows : 1, sizeof(*r->sites));
	if (!r->sites)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct code_location *leaf = leaf_of(&r->rows[i]);

		r->sites[i] = (struct alloc_site){ .file = leaf->file,
						   .function = leaf->function,
						   .type = r->rows[i].type,
						   .line = leaf->line,
						   .allocations = r->rows[i].allocations,
						   .bytes = r->rows[i].bytes,
						   .life = r->rows[i].life,
						   .observed_allocations =
							   r->rows[i].observed_allocations,
						   .observed_bytes = r->rows[i].observed_bytes,
						   .censored = r->rows[i].censored,
						   .censored_bytes = r->rows[i].censored_bytes };
	}
	array_sort(r->sites, r->n_rows, sizeof(*r->sites), site_identity);
	r->n_sites = 0;
	for (size_t i = 0; i < r->n_rows; i++) {
		struct alloc_site *last = r->n_sites ? &r->sites[r->n_sites - 1] : NULL;

		if (last && !site_identity(last, &r->sites[i])) {
			last->allocations += r->sites[i].allocations;
			last->bytes += r->sites[i].bytes;
			last->observed_allocations += r->sites[i].observed_allocations;
			last->observed_bytes += r->sites[i].observed_bytes;
			last->censored += r->sites[i].censored;
			last->censored_bytes += r->sites[i].censored_bytes;
			lifecycle_add(&last->life, &r->sites[i].life);
		} else {
			r->sites[r->n_sites++] = r->sites[i];
		}
	}
	array_sort(r->sites, r->n_sites, sizeof(*r->sites), site_order);
	return 0;
}

/* A census entry whose notice never came (the ring buffer was full): nobody else takes it. */
static bool census_orphan(const struct census_key *k, const struct census_event *e)
{
	return k->tgid == e->tgid && k->generation == e->generation &&
	       (int32_t)(k->seq - e->seq) < 0;
}

void alloc_recording_on_census(struct alloc_recording *r, int census_fd,
			       const struct census_event *e, uint64_t t0_ns)
{
	struct census_key key, next, *done = NULL;
	size_t n_done = 0, cap = 0;
	void *prev = NULL;
	uint64_t count, ordinal;

	if (!r->enabled || e->tgid != (uint32_t)r->pid ||
	    e->generation >= PYOBJLIFE_NUM_GENERATIONS)
		return;
	r->census.censuses++;
	r->census.truncated_walks += !!e->truncated;
	ordinal = r->census.of_generation[e->generation]++;
	while (!bpf_map_get_next_key(census_fd, prev, &next)) {
		struct census_sample smp;
		bool orphan;

		key = next;
		prev = &key;
		orphan = census_orphan(&key, e);
		if (!orphan &&
		    (key.tgid != e->tgid || key.seq != e->seq || key.generation != e->generation))
			continue;
		if (n_done == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct census_key *m = realloc(done, ncap * sizeof(*m));

			if (!m)
				break;
			done = m;
			cap = ncap;
		}
		done[n_done++] = key;
		if (orphan) {
			r->census.orphans++;
			continue;
		}
		if (bpf_map_lookup_elem(census_fd, &key, &count))
			continue;
		smp = (struct census_sample){ .t_ns = e->t_ns > t0_ns ? e->t_ns - t0_ns : 0,
					      .seq = e->seq,
					      .generation = (int)e->generation,
					      .type = type_name(r, key.type),
					      .count = count,
					      .ordinal = ordinal };
		census_log_add(&r->census, &smp);
	}
	/* deleted after the walk: deleting the cursor's key restarts get_next_key */
	for (size_t i = 0; i < n_done; i++)
		bpf_map_delete_elem(census_fd, &done[i]);
	free(done);
}

static int by_key(const void *a, const void *b)
{
	const struct alloc_row *x = a, *y = b;

	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	return x->type_addr < y->type_addr ? -1 : x->type_addr > y->type_addr;
}

/* What is left in the live map is alive at the end: counted, never guessed. */
static void count_alive(struct alloc_recording *r, int live_fd, const struct gc_sequence *q)
{
	struct live_key key, next;
	struct live_object o;
	void *prev = NULL;

	array_sort(r->rows, r->n_rows, sizeof(*r->rows), by_key);
	while (!bpf_map_get_next_key(live_fd, prev, &next)) {
		struct alloc_row probe, *row;
		int full;

		key = next;
		prev = &key;
		if (key.tgid != (uint32_t)r->pid || bpf_map_lookup_elem(live_fd, &key, &o))
			continue;
		probe.stack_id = o.stack_id;
		probe.type_addr = o.type;
		row = bsearch(&probe, r->rows, r->n_rows, sizeof(*r->rows), by_key);
		if (!row)
			continue;
		row->life.alive_at_end++;
		row->life.alive_bytes += o.size;
		full = pyobjlife_survived_full(&o, q);
		if (full > 0)
			row->life.alive_survived_full++;
		else if (full < 0)
			r->alive_generation_unknown++;
	}
}

static int by_pause(const void *a, const void *b)
{
	const struct blame_row *x = a, *y = b;

	if (x->pause_ns != y->pause_ns)
		return x->pause_ns < y->pause_ns ? 1 : -1;
	return x->generation - y->generation;
}

static int collect_blame(struct alloc_recording *r, int blame_fd, int stacks_fd)
{
	struct blame_key key, next;
	struct blame_value v;
	void *prev = NULL;
	size_t cap = 0;

	while (!bpf_map_get_next_key(blame_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.tgid != (uint32_t)r->pid || bpf_map_lookup_elem(blame_fd, &key, &v))
			continue;
		if (r->n_blame == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct blame_row *m = realloc(r->blame, ncap * sizeof(*m));

			if (!m)
				return -ENOMEM;
			r->blame = m;
			cap = ncap;
		}
		r->blame[r->n_blame++] = (struct blame_row){
			.stack = resolve_stack(r, stacks_fd, key.stack_id),
			.generation = (int)key.generation,
			.collections = v.collections,
			.pause_ns = v.pause_ns,
		};
		r->blame_total_collections += v.collections;
	}
	array_sort(r->blame, r->n_blame, sizeof(*r->blame), by_pause);
	return 0;
}

/* Every counter of the target in `fd` as a row; how many in *added (may be NULL). */
static int add_rows_of(struct alloc_recording *r, size_t *cap, int fd, int stacks_fd, size_t *added)
{
	struct alloc_key key, next;
	struct alloc_count c;
	void *prev = NULL;
	int err;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.tgid != (uint32_t)r->pid || bpf_map_lookup_elem(fd, &key, &c))
			continue;
		err = add_row(r, cap, &key, &c, stacks_fd);
		if (err)
			return err;
		if (added)
			(*added)++;
	}
	return 0;
}

int alloc_recording_collect(struct alloc_recording *r, const struct alloc_maps *m,
			    const struct gc_sequence *q)
{
	int stacks_fd = m->stacks_fd;
	size_t cap = 0;
	int err;

	alloc_recording_next_batch(r);
	/* the overflow's rows have stack 0: "<stack not recorded>", as a full stack map's */
	err = add_rows_of(r, &cap, m->counts_fd, stacks_fd, NULL);
	if (!err && m->overflow_fd > 0)
		err = add_rows_of(r, &cap, m->overflow_fd, stacks_fd, &r->overflow_rows);
	if (err)
		return err;
	count_alive(r, m->live_fd, q);
	join_censored(r);
	for (size_t i = 0; i < r->n_rows; i++)
		lifecycle_add(&r->life, &r->rows[i].life);
	err = collect_blame(r, m->blame_fd, stacks_fd);
	if (err)
		return err;
	array_sort(r->rows, r->n_rows, sizeof(*r->rows), by_allocations);
	return build_sites(r);
}

const struct code_location *alloc_recording_leaf(struct alloc_recording *r, int stacks_fd,
						 uint64_t stack_id)
{
	return leaf_of_stack(resolve_stack(r, stacks_fd, stack_id));
}

const char *alloc_recording_type_name(struct alloc_recording *r, uint64_t type)
{
	return type_name(r, type);
}
