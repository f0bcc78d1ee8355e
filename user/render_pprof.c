// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The recording JSON as a pprof profile. The messages are protoc-c's, generated at build time
 * from proto/profile.proto, and protobuf-c serializes them; zlib adds the gzip wrapper that
 * pprof expects on disk. Strings, functions and locations are deduplicated through jansson
 * objects used as hash tables, keyed by the string or by the indices that identify the entry.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include "log.h"
#include "profile.pb-c.h"
#include "render_pprof.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__ValueType ValueType;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;

/* The order of the Go heap profile, which pprof's -alloc_space and friends know by name. */
enum sample_value {
	VALUE_ALLOC_OBJECTS,
	VALUE_ALLOC_SPACE,
	VALUE_INUSE_OBJECTS,
	VALUE_INUSE_SPACE,
	N_VALUES,
};

static const char *const value_type[N_VALUES][2] = {
	[VALUE_ALLOC_OBJECTS] = { "alloc_objects", "count" },
	[VALUE_ALLOC_SPACE] = { "alloc_space", "bytes" },
	[VALUE_INUSE_OBJECTS] = { "inuse_objects", "count" },
	[VALUE_INUSE_SPACE] = { "inuse_space", "bytes" },
};

/* The recording member behind each value. */
static const char *const value_member[N_VALUES] = {
	[VALUE_ALLOC_OBJECTS] = "allocations",
	[VALUE_ALLOC_SPACE] = "bytes",
	[VALUE_INUSE_OBJECTS] = "alive_at_end",
	[VALUE_INUSE_SPACE] = "alive_at_end_bytes",
};

#define NEEDS_STACKS	 "pprof needs allocation stacks: record with --mode full"
#define NO_LIFECYCLE	 "no lifecycle data: inuse_* are zero; record with --mode full"
#define OUT_OF_MEMORY	 "out of memory while building the pprof profile"
#define FRAME_UNRECORDED "[stack not recorded]"
#define FRAME_NO_PYTHON	 "[no Python frame]"
#define FRAME_TRUNCATED	 "[truncated]"

/* A sample with its one label and its values, freed as one block. */
struct sample_box {
	Sample sample;
	Label type_label;
	Label *labels[1];
	int64_t values[N_VALUES];
};

/* A Python frame is one line of one function: no inlining, so one Line per Location. */
struct location_box {
	Location location;
	Line line;
	Line *lines[1];
};

struct builder {
	Profile prof;
	Perftools__Profiles__Mapping interpreter;
	Perftools__Profiles__Mapping *mappings[1];
	ValueType types[N_VALUES];
	ValueType *type_ptrs[N_VALUES];
	ValueType period_type;
	size_t cap_strings, cap_functions, cap_locations, cap_samples, cap_comments;
	json_t *string_index; /* string -> its index in the string table */
	json_t *function_ids; /* "name filename" string indices -> Function id */
	json_t *location_ids; /* "function line" -> Location id */
	json_t *owned;	      /* strings made here; the table points into the recording or these */
	bool lifecycle;	      /* the stacks carry alive_at_end */
};

/* Make room for one more element at arr[n], doubling the capacity; 0 or -1. */
#define RESERVE_ONE(arr, n, cap)                                                                   \
	({                                                                                         \
		int reserve_err_ = 0;                                                              \
		if ((n) >= (cap)) {                                                                \
			size_t reserve_cap_ = (cap) ? (cap)*2 : 64;                                \
			typeof(arr) reserve_p_ =                                                   \
				reallocarray((arr), reserve_cap_, sizeof(*(arr)));                 \
			if (reserve_p_) {                                                          \
				(arr) = reserve_p_;                                                \
				(cap) = reserve_cap_;                                              \
			} else {                                                                   \
				reserve_err_ = -1;                                                 \
			}                                                                          \
		}                                                                                  \
		reserve_err_;                                                                      \
	})

/*
 * The string table index of `s`, appended on first use; -1 when out of memory. The table keeps
 * the pointer, so `s` must live as long as the builder.
 */
static int64_t intern(struct builder *b, const char *s)
{
	json_t *known = json_object_get(b->string_index, s);
	int64_t idx = (int64_t)b->prof.n_string_table;

	if (known)
		return json_integer_value(known);
	if (RESERVE_ONE(b->prof.string_table, b->prof.n_string_table, b->cap_strings) ||
	    json_object_set_new_nocheck(b->string_index, s, json_integer(idx)))
		return -1;
	/* protobuf-c's tables are not const, but packing only reads them */
	b->prof.string_table[b->prof.n_string_table++] = (char *)s;
	return idx;
}

/* Like intern() for a string made here, which the builder keeps. */
static int64_t intern_copy(struct builder *b, const char *s)
{
	json_t *copy = json_string_nocheck(s);

	if (!copy || json_array_append_new(b->owned, copy))
		return -1;
	return intern(b, json_string_value(copy));
}

static int add_comment(struct builder *b, const char *text)
{
	int64_t idx = intern_copy(b, text);

	if (idx < 0 || RESERVE_ONE(b->prof.comment, b->prof.n_comment, b->cap_comments))
		return -1;
	b->prof.comment[b->prof.n_comment++] = idx;
	return 0;
}

/* The id of the function `name` in `file` (start line unknown: 0); 0 when out of memory. */
static uint64_t function_id(struct builder *b, const char *name, const char *file)
{
	int64_t name_idx = intern(b, name), file_idx = intern(b, file);
	Function *fn;
	json_t *known;
	char key[48];

	if (name_idx < 0 || file_idx < 0)
		return 0;
	snprintf(key, sizeof(key), "%lld %lld", (long long)name_idx, (long long)file_idx);
	known = json_object_get(b->function_ids, key);
	if (known)
		return (uint64_t)json_integer_value(known);
	fn = malloc(sizeof(*fn));
	if (!fn || RESERVE_ONE(b->prof.function, b->prof.n_function, b->cap_functions)) {
		free(fn);
		return 0;
	}
	perftools__profiles__function__init(fn);
	fn->id = b->prof.n_function + 1;
	fn->name = name_idx;
	fn->filename = file_idx;
	if (json_object_set_new_nocheck(b->function_ids, key, json_integer((json_int_t)fn->id))) {
		free(fn);
		return 0;
	}
	b->prof.function[b->prof.n_function++] = fn;
	return fn->id;
}

/* The id of the location at `line` (0: unknown) of `name` in `file`; 0 when out of memory. */
static uint64_t location_id(struct builder *b, const char *name, const char *file, int64_t line)
{
	uint64_t fn = function_id(b, name, file);
	struct location_box *box;
	json_t *known;
	char key[48];

	if (!fn)
		return 0;
	snprintf(key, sizeof(key), "%llu %lld", (unsigned long long)fn, (long long)line);
	known = json_object_get(b->location_ids, key);
	if (known)
		return (uint64_t)json_integer_value(known);
	box = malloc(sizeof(*box));
	if (!box || RESERVE_ONE(b->prof.location, b->prof.n_location, b->cap_locations)) {
		free(box);
		return 0;
	}
	perftools__profiles__location__init(&box->location);
	perftools__profiles__line__init(&box->line);
	box->line.function_id = fn;
	box->line.line = line;
	box->lines[0] = &box->line;
	box->location.id = b->prof.n_location + 1;
	box->location.mapping_id = b->prof.n_mapping ? b->interpreter.id : 0;
	box->location.n_line = 1;
	box->location.line = box->lines;
	if (json_object_set_new_nocheck(b->location_ids, key,
					json_integer((json_int_t)box->location.id))) {
		free(box);
		return 0;
	}
	b->prof.location[b->prof.n_location++] = &box->location;
	return box->location.id;
}

/* member `key` of `obj` as a count: 0 when absent (and not required), -1 when malformed. */
static int get_count(const json_t *obj, const char *key, bool required, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	*out = 0;
	if (!v)
		return required ? -1 : 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* Location ids of a recorded stack, leaf first as pprof wants them; `ids` holds them all. */
static int frame_locations(struct builder *b, const json_t *frames, size_t idx, uint64_t *ids)
{
	size_t n = json_array_size(frames);

	for (size_t i = 0; i < n; i++) {
		const json_t *f = json_array_get(frames, n - 1 - i);
		const char *name = json_string_value(json_object_get(f, "function"));
		const char *file = json_string_value(json_object_get(f, "file"));
		json_t *line = json_object_get(f, "line");
		int64_t lineno = json_is_integer(line) ? json_integer_value(line) : 0;

		if (!name || !file) {
			pr_err("malformed recording: stacks[%zu].frames[%zu] lacks its function or "
			       "file",
			       idx, n - 1 - i);
			return -1;
		}
		ids[i] = location_id(b, name, file, lineno > 0 ? lineno : 0);
		if (!ids[i]) {
			pr_err(OUT_OF_MEMORY);
			return -1;
		}
	}
	return 0;
}

/*
 * The sample's location ids, leaf first: the recorded frames, a root [truncated] frame when the
 * stack was cut, or a single marker frame when there is no stack (as the folded output does).
 */
static int sample_locations(struct builder *b, const json_t *stack, size_t idx, Sample *s)
{
	const json_t *frames = json_object_get(stack, "frames");
	bool unavailable = json_is_true(json_object_get(stack, "stack_unavailable"));
	bool truncated = json_is_true(json_object_get(stack, "truncated"));
	size_t depth = unavailable ? 0 : json_array_size(frames);
	const char *marker = NULL;
	size_t n;

	if (!unavailable && frames && !json_is_array(frames)) {
		pr_err("malformed recording: stacks[%zu].frames is not an array", idx);
		return -1;
	}
	if (unavailable)
		marker = FRAME_UNRECORDED;
	else if (!depth)
		marker = FRAME_NO_PYTHON;
	else if (truncated)
		marker = FRAME_TRUNCATED;
	n = depth + (marker ? 1 : 0);
	s->location_id = calloc(n, sizeof(*s->location_id));
	if (!s->location_id) {
		pr_err(OUT_OF_MEMORY);
		return -1;
	}
	s->n_location_id = n;
	if (depth && frame_locations(b, frames, idx, s->location_id))
		return -1;
	if (marker) {
		s->location_id[depth] = location_id(b, marker, "", 0);
		if (!s->location_id[depth]) {
			pr_err(OUT_OF_MEMORY);
			return -1;
		}
	}
	return 0;
}

static void sample_box_free(struct sample_box *box)
{
	if (box)
		free(box->sample.location_id);
	free(box);
}

/* The values of one stack: inuse_* stay 0 in recordings without lifecycle data. */
static int sample_values(const struct builder *b, const json_t *stack, size_t idx, int64_t *v)
{
	for (int i = 0; i < N_VALUES; i++) {
		bool inuse = i == VALUE_INUSE_OBJECTS || i == VALUE_INUSE_SPACE;

		if (inuse && !b->lifecycle) {
			v[i] = 0;
			continue;
		}
		if (get_count(stack, value_member[i], !inuse, &v[i])) {
			pr_err("malformed recording: stacks[%zu].%s is missing or not a count", idx,
			       value_member[i]);
			return -1;
		}
	}
	return 0;
}

static int add_sample(struct builder *b, const json_t *stack, size_t idx)
{
	const char *type = json_string_value(json_object_get(stack, "type"));
	struct sample_box *box;

	if (!json_is_object(stack) || !type) {
		pr_err("malformed recording: stacks[%zu] is not a stack with a type", idx);
		return -1;
	}
	box = calloc(1, sizeof(*box));
	if (!box || RESERVE_ONE(b->prof.sample, b->prof.n_sample, b->cap_samples)) {
		free(box);
		pr_err(OUT_OF_MEMORY);
		return -1;
	}
	perftools__profiles__sample__init(&box->sample);
	perftools__profiles__label__init(&box->type_label);
	box->type_label.key = intern(b, "type");
	box->type_label.str = intern(b, type);
	if (box->type_label.key < 0 || box->type_label.str < 0) {
		free(box);
		pr_err(OUT_OF_MEMORY);
		return -1;
	}
	box->labels[0] = &box->type_label;
	box->sample.label = box->labels;
	box->sample.n_label = 1;
	box->sample.value = box->values;
	box->sample.n_value = N_VALUES;
	if (sample_values(b, stack, idx, box->values) ||
	    sample_locations(b, stack, idx, &box->sample)) {
		sample_box_free(box);
		return -1;
	}
	b->prof.sample[b->prof.n_sample++] = &box->sample;
	return 0;
}

/* Whether the recording has the lifecycle members: any stack with alive_at_end. */
static bool has_lifecycle(const json_t *stacks)
{
	size_t i;
	json_t *s;

	json_array_foreach(stacks, i, s) if (json_object_get(s, "alive_at_end")) return true;
	return false;
}

/* "2026-11-21T22:14:48Z" as nanoseconds since the epoch; 0 when absent or unreadable. */
static int64_t started_at_ns(const json_t *rec)
{
	const char *s = json_string_value(json_object_get(rec, "started_at"));
	struct tm tm = { 0 };
	const char *end;
	time_t t;

	if (!s)
		return 0;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return 0;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return 0;
	return (int64_t)t * 1000000000;
}

static int64_t duration_ns(const json_t *rec)
{
	json_t *d = json_object_get(rec, "duration_seconds");
	double s = json_number_value(d);

	/* 1e9 seconds is 31 years: anything beyond is not a duration we wrote */
	if (!json_is_number(d) || !(s >= 0) || s > 1e9)
		return 0;
	return (int64_t)(s * 1e9 + 0.5);
}

/* Comments pprof shows as is: where the profile comes from, and what its values are not. */
static int add_comments(struct builder *b, const json_t *rec)
{
	const json_t *target = json_object_get(rec, "target");
	const char *version =
		json_string_value(json_object_get(json_object_get(rec, "pyobjlife"), "version"));
	const char *python = json_string_value(json_object_get(target, "python_version"));
	json_t *pid = json_object_get(target, "pid");
	const json_t *sampling = json_object_get(rec, "sampling");
	char text[256];

	if (version && python && json_is_integer(pid)) {
		snprintf(text, sizeof(text), "pyobjlife %s recording of pid %lld (Python %s)",
			 version, (long long)json_integer_value(pid), python);
		if (add_comment(b, text))
			return -1;
	}
	if (!b->lifecycle && add_comment(b, NO_LIFECYCLE))
		return -1;
	if (json_is_true(json_object_get(sampling, "estimated"))) {
		json_t *ratio = json_object_get(sampling, "ratio");

		if (json_is_number(ratio))
			snprintf(text, sizeof(text),
				 "counts are estimates: allocations were sampled and scaled "
				 "(ratio %g)",
				 json_number_value(ratio));
		else
			snprintf(text, sizeof(text),
				 "counts are estimates: allocations were sampled and scaled");
		if (add_comment(b, text))
			return -1;
	}
	return 0;
}

/*
 * The interpreter as the profile's main binary, so pprof names it: every frame comes from the
 * code it ran. The frames are already symbolized, which the has_* flags tell pprof, so it does
 * not look for addresses to resolve.
 */
static int add_interpreter_mapping(struct builder *b, const json_t *rec)
{
	const char *binary =
		json_string_value(json_object_get(json_object_get(rec, "target"), "binary"));

	if (!binary)
		return 0;
	perftools__profiles__mapping__init(&b->interpreter);
	b->interpreter.id = 1;
	b->interpreter.filename = intern(b, binary);
	if (b->interpreter.filename < 0)
		return -1;
	b->interpreter.has_functions = true;
	b->interpreter.has_filenames = true;
	b->interpreter.has_line_numbers = true;
	b->mappings[0] = &b->interpreter;
	b->prof.mapping = b->mappings;
	b->prof.n_mapping = 1;
	return 0;
}

static int add_header(struct builder *b, const json_t *rec)
{
	if (intern(b, "") != 0)
		return -1;
	for (int i = 0; i < N_VALUES; i++) {
		perftools__profiles__value_type__init(&b->types[i]);
		b->types[i].type = intern(b, value_type[i][0]);
		b->types[i].unit = intern(b, value_type[i][1]);
		if (b->types[i].type < 0 || b->types[i].unit < 0)
			return -1;
		b->type_ptrs[i] = &b->types[i];
	}
	b->prof.sample_type = b->type_ptrs;
	b->prof.n_sample_type = N_VALUES;
	b->prof.default_sample_type = b->types[VALUE_ALLOC_SPACE].type;
	/* every allocation is counted: one event per period, as pprof reads an unsampled heap */
	perftools__profiles__value_type__init(&b->period_type);
	b->period_type.type = intern(b, "space");
	b->period_type.unit = intern(b, "bytes");
	if (b->period_type.type < 0 || b->period_type.unit < 0)
		return -1;
	b->prof.period_type = &b->period_type;
	b->prof.period = 1;
	b->prof.time_nanos = started_at_ns(rec);
	b->prof.duration_nanos = duration_ns(rec);
	if (add_interpreter_mapping(b, rec))
		return -1;
	return add_comments(b, rec);
}

static int builder_init(struct builder *b)
{
	memset(b, 0, sizeof(*b));
	perftools__profiles__profile__init(&b->prof);
	b->string_index = json_object();
	b->function_ids = json_object();
	b->location_ids = json_object();
	b->owned = json_array();
	return b->string_index && b->function_ids && b->location_ids && b->owned ? 0 : -1;
}

static void builder_free(struct builder *b)
{
	for (size_t i = 0; i < b->prof.n_sample; i++)
		sample_box_free((struct sample_box *)b->prof.sample[i]);
	for (size_t i = 0; i < b->prof.n_location; i++)
		free((struct location_box *)b->prof.location[i]);
	for (size_t i = 0; i < b->prof.n_function; i++)
		free(b->prof.function[i]);
	free(b->prof.sample);
	free(b->prof.location);
	free(b->prof.function);
	free(b->prof.string_table);
	free(b->prof.comment);
	json_decref(b->string_index);
	json_decref(b->function_ids);
	json_decref(b->location_ids);
	json_decref(b->owned);
}

static int write_failed(z_stream *zs)
{
	pr_err("failed to write the pprof profile: %s", strerror(errno ? errno : EIO));
	deflateEnd(zs);
	return -1;
}

/* `data` gzip-compressed to `out` (pprof reads profiles gzipped); 0 or -1. */
static int write_gzip(FILE *out, const uint8_t *data, size_t len)
{
	unsigned char chunk[16384];
	z_stream zs = { 0 };
	int zerr;

	/* windowBits 15 + 16: the gzip wrapper instead of zlib's */
	zerr = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zerr != Z_OK) {
		pr_err("cannot start gzip compression: %s", zs.msg ? zs.msg : zError(zerr));
		return -1;
	}
	zs.next_in = (Bytef *)data;
	do {
		/* avail_in is 32 bits wide: feed a larger buffer in slices */
		size_t left = len - (size_t)(zs.next_in - data);
		int flush = left > UINT_MAX ? Z_NO_FLUSH : Z_FINISH;
		size_t have;

		if (!zs.avail_in)
			zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zerr = deflate(&zs, flush);
		if (zerr != Z_OK && zerr != Z_STREAM_END && zerr != Z_BUF_ERROR) {
			pr_err("gzip compression failed: %s", zs.msg ? zs.msg : zError(zerr));
			deflateEnd(&zs);
			return -1;
		}
		have = sizeof(chunk) - zs.avail_out;
		errno = 0;
		if (have && fwrite(chunk, 1, have, out) != have)
			return write_failed(&zs);
	} while (zerr != Z_STREAM_END);
	deflateEnd(&zs);
	return 0;
}

static int write_profile(FILE *out, const Profile *prof)
{
	size_t len = perftools__profiles__profile__get_packed_size(prof);
	uint8_t *buf = malloc(len ? len : 1);
	int err;

	if (!buf) {
		pr_err("out of memory for a %zu-byte pprof profile", len);
		return -1;
	}
	if (perftools__profiles__profile__pack(prof, buf) != len) {
		pr_err("protobuf-c packed the pprof profile short");
		free(buf);
		return -1;
	}
	err = write_gzip(out, buf, len);
	free(buf);
	return err;
}

int render_pprof(FILE *out, const json_t *rec, const struct render_opts *o)
{
	const json_t *stacks = json_object_get(rec, "stacks");
	struct builder b;
	int err = -1;

	(void)o; /* every weight is a sample type of the profile */
	if (!json_is_object(rec)) {
		pr_err("malformed recording: not a JSON object");
		return -1;
	}
	if (!json_is_array(stacks)) {
		pr_err(NEEDS_STACKS);
		return -1;
	}
	if (builder_init(&b))
		goto oom;
	b.lifecycle = has_lifecycle(stacks);
	if (add_header(&b, rec))
		goto oom;
	for (size_t i = 0; i < json_array_size(stacks); i++)
		if (add_sample(&b, json_array_get(stacks, i), i))
			goto out;
	err = write_profile(out, &b.prof);
	goto out;
oom:
	pr_err(OUT_OF_MEMORY);
out:
	builder_free(&b);
	return err;
}
