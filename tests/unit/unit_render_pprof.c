// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The pprof renderer on handcrafted recordings: its output gunzipped with zlib and decoded by
 * protobuf-c, then the tables checked against what the recording says.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "profile.pb-c.h"
#include "render_pprof.h"

typedef Perftools__Profiles__Profile Profile;

/*
 * Four stacks: two share their root frames and their leaf function (at different lines), one
 * is truncated and has a `main` of another file, one was not recorded.
 */
static const char *const recording_json =
	"{\"pyobjlife\": {\"version\": \"0.1.0\"},"
	" \"target\": {\"pid\": 42, \"python_version\": \"3.12.1\","
	"  \"binary\": \"/usr/bin/python3.12\"},"
	" \"mode\": \"full\", \"started_at\": \"2026-01-02T03:04:05Z\", \"duration_seconds\": 1.5,"
	" \"stacks\": ["
	"  {\"frames\": [{\"file\": \"app.py\", \"line\": 10, \"function\": \"<module>\"},"
	"              {\"file\": \"app.py\", \"line\": 20, \"function\": \"main\"},"
	"              {\"file\": \"app.py\", \"line\": 30, \"function\": \"make\"}],"
	"   \"type\": \"Kept\", \"allocations\": 5, \"bytes\": 280,"
	"   \"truncated\": false, \"stack_unavailable\": false},"
	"  {\"frames\": [{\"file\": \"app.py\", \"line\": 10, \"function\": \"<module>\"},"
	"              {\"file\": \"app.py\", \"line\": 20, \"function\": \"main\"},"
	"              {\"file\": \"app.py\", \"line\": 31, \"function\": \"make\"}],"
	"   \"type\": \"list\", \"allocations\": 3, \"bytes\": 168,"
	"   \"truncated\": false, \"stack_unavailable\": false},"
	"  {\"frames\": [{\"file\": \"lib.py\", \"line\": 5, \"function\": \"main\"},"
	"              {\"file\": \"app.py\", \"line\": 30, \"function\": \"make\"}],"
	"   \"type\": \"Kept\", \"allocations\": 2, \"bytes\": 112,"
	"   \"truncated\": true, \"stack_unavailable\": false},"
	"  {\"frames\": [], \"type\": \"dict\", \"allocations\": 7, \"bytes\": 448,"
	"   \"truncated\": false, \"stack_unavailable\": true}"
	" ]}";

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);

	if (!j)
		fail_msg("bad test JSON: %s at %d", err.text, err.position);
	return j;
}

/* What render_pprof() wrote, gunzipped; NULL when it failed. */
static uint8_t *render_gunzipped(const json_t *rec, size_t *len)
{
	char *gz = NULL;
	size_t gz_len = 0, cap = 1 << 20;
	uint8_t *raw = malloc(cap);
	FILE *f = open_memstream(&gz, &gz_len);
	z_stream zs = { 0 };
	int rc;

	assert_non_null(raw);
	assert_non_null(f);
	rc = render_pprof(f, rec, NULL);
	assert_int_equal(fclose(f), 0);
	if (rc) {
		free(gz);
		free(raw);
		return NULL;
	}
	/* the gzip magic, not a bare zlib or deflate stream: pprof reads gzip */
	assert_true(gz_len > 2 && (uint8_t)gz[0] == 0x1f && (uint8_t)gz[1] == 0x8b);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)gz;
	zs.avail_in = gz_len;
	zs.next_out = raw;
	zs.avail_out = cap;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	*len = zs.total_out;
	inflateEnd(&zs);
	free(gz);
	return raw;
}

static Profile *render_and_decode(const char *text)
{
	json_t *rec = load(text);
	size_t len = 0;
	uint8_t *raw = render_gunzipped(rec, &len);
	Profile *p;

	json_decref(rec);
	assert_non_null(raw);
	p = perftools__profiles__profile__unpack(NULL, len, raw);
	free(raw);
	assert_non_null(p);
	return p;
}

static const char *str(const Profile *p, int64_t idx)
{
	assert_true(idx >= 0 && (size_t)idx < p->n_string_table);
	return p->string_table[idx];
}

static const Perftools__Profiles__Location *location(const Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_location; i++)
		if (p->location[i]->id == id)
			return p->location[i];
	fail_msg("no location %lu", (unsigned long)id);
	return NULL;
}

static const Perftools__Profiles__Function *function(const Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_function; i++)
		if (p->function[i]->id == id)
			return p->function[i];
	fail_msg("no function %lu", (unsigned long)id);
	return NULL;
}

/* "name file:line" of a sample's frame, leaf at 0. */
static void frame_at(const Profile *p, const Perftools__Profiles__Sample *s, size_t i, char *buf,
		     size_t cap)
{
	const Perftools__Profiles__Location *loc;
	const Perftools__Profiles__Function *fn;

	assert_true(i < s->n_location_id);
	loc = location(p, s->location_id[i]);
	assert_int_equal(loc->n_line, 1);
	fn = function(p, loc->line[0]->function_id);
	snprintf(buf, cap, "%s %s:%lld", str(p, fn->name), str(p, fn->filename),
		 (long long)loc->line[0]->line);
}

static void assert_frames(const Profile *p, size_t sample, const char *const *want, size_t n)
{
	const Perftools__Profiles__Sample *s = p->sample[sample];
	char got[256];

	assert_int_equal(s->n_location_id, n);
	for (size_t i = 0; i < n; i++) {
		frame_at(p, s, i, got, sizeof(got));
		assert_string_equal(got, want[i]);
	}
}

static void assert_values(const Profile *p, size_t sample, int64_t a, int64_t b, int64_t c,
			  int64_t d)
{
	const Perftools__Profiles__Sample *s = p->sample[sample];

	assert_int_equal(s->n_value, 4);
	assert_int_equal(s->value[0], a);
	assert_int_equal(s->value[1], b);
	assert_int_equal(s->value[2], c);
	assert_int_equal(s->value[3], d);
}

static bool has_comment(const Profile *p, const char *needle)
{
	for (size_t i = 0; i < p->n_comment; i++)
		if (strstr(str(p, p->comment[i]), needle))
			return true;
	return false;
}

static void test_header_and_sample_types(void **state)
{
	static const char *const types[4][2] = { { "alloc_objects", "count" },
						 { "alloc_space", "bytes" },
						 { "inuse_objects", "count" },
						 { "inuse_space", "bytes" } };
	Profile *p = render_and_decode(recording_json);

	(void)state;
	assert_true(p->n_string_table > 0);
	assert_string_equal(p->string_table[0], "");
	assert_int_equal(p->n_sample_type, 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(str(p, p->sample_type[i]->type), types[i][0]);
		assert_string_equal(str(p, p->sample_type[i]->unit), types[i][1]);
	}
	assert_string_equal(str(p, p->default_sample_type), "alloc_space");
	assert_non_null(p->period_type);
	assert_string_equal(str(p, p->period_type->type), "space");
	assert_string_equal(str(p, p->period_type->unit), "bytes");
	assert_int_equal(p->time_nanos, 1767323045LL * 1000000000LL);
	assert_int_equal(p->duration_nanos, 1500000000LL);
	assert_true(has_comment(p, "no lifecycle data: inuse_* are zero; record with --mode full"));
	assert_false(has_comment(p, "estimates"));
	assert_int_equal(p->n_mapping, 1);
	assert_string_equal(str(p, p->mapping[0]->filename), "/usr/bin/python3.12");
	/* every string once */
	for (size_t i = 0; i < p->n_string_table; i++)
		for (size_t j = i + 1; j < p->n_string_table; j++)
			assert_string_not_equal(p->string_table[i], p->string_table[j]);
	perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_tables_are_deduplicated(void **state)
{
	Profile *p = render_and_decode(recording_json);

	(void)state;
	/* <module>, main and make of app.py, main of lib.py, [truncated], [stack not recorded] */
	assert_int_equal(p->n_function, 6);
	/* make has two lines; the markers one location each */
	assert_int_equal(p->n_location, 7);
	for (size_t i = 0; i < p->n_function; i++) {
		assert_int_not_equal(p->function[i]->id, 0);
		assert_int_equal(p->function[i]->start_line, 0);
		for (size_t j = i + 1; j < p->n_function; j++) {
			assert_int_not_equal(p->function[i]->id, p->function[j]->id);
			assert_false(p->function[i]->name == p->function[j]->name &&
				     p->function[i]->filename == p->function[j]->filename);
		}
	}
	for (size_t i = 0; i < p->n_location; i++) {
		assert_int_not_equal(p->location[i]->id, 0);
		for (size_t j = i + 1; j < p->n_location; j++)
			assert_int_not_equal(p->location[i]->id, p->location[j]->id);
	}
	/* the shared root frames are the same locations in both samples */
	assert_int_equal(p->sample[0]->location_id[1], p->sample[1]->location_id[1]);
	assert_int_equal(p->sample[0]->location_id[2], p->sample[1]->location_id[2]);
	assert_int_not_equal(p->sample[0]->location_id[0], p->sample[1]->location_id[0]);
	perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_samples_leaf_first_with_markers(void **state)
{
	static const char *const first[] = { "make app.py:30", "main app.py:20",
					     "<module> app.py:10" };
	static const char *const second[] = { "make app.py:31", "main app.py:20",
					      "<module> app.py:10" };
	static const char *const truncated[] = { "make app.py:30", "main lib.py:5",
						 "[truncated] :0" };
	static const char *const unrecorded[] = { "[stack not recorded] :0" };
	static const char *const type[] = { "Kept", "list", "Kept", "dict" };
	Profile *p = render_and_decode(recording_json);

	(void)state;
	assert_int_equal(p->n_sample, 4);
	assert_frames(p, 0, first, 3);
	assert_frames(p, 1, second, 3);
	assert_frames(p, 2, truncated, 3);
	assert_frames(p, 3, unrecorded, 1);
	assert_values(p, 0, 5, 280, 0, 0);
	assert_values(p, 1, 3, 168, 0, 0);
	assert_values(p, 2, 2, 112, 0, 0);
	assert_values(p, 3, 7, 448, 0, 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(p->sample[i]->n_label, 1);
		assert_string_equal(str(p, p->sample[i]->label[0]->key), "type");
		assert_string_equal(str(p, p->sample[i]->label[0]->str), type[i]);
	}
	perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_lifecycle_and_sampling(void **state)
{
	Profile *p = render_and_decode(
		"{\"mode\": \"full\", \"sampling\": {\"estimated\": true, \"ratio\": 0.25},"
		" \"stacks\": [{\"frames\": [{\"file\": \"a.py\", \"line\": 3, \"function\": "
		"\"f\"}],"
		" \"type\": \"T\", \"allocations\": 40, \"bytes\": 2240, \"deallocations\": 30,"
		" \"alive_at_end\": 10, \"alive_at_end_bytes\": 560}]}");

	(void)state;
	assert_int_equal(p->n_sample, 1);
	assert_values(p, 0, 40, 2240, 10, 560);
	assert_false(has_comment(p, "no lifecycle data"));
	assert_true(has_comment(p, "counts are estimates"));
	/* no started_at, no duration: left unset rather than invented */
	assert_int_equal(p->time_nanos, 0);
	assert_int_equal(p->duration_nanos, 0);
	assert_int_equal(p->n_mapping, 0);
	perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_refusals(void **state)
{
	static const char *const refused[] = {
		/* gc mode: no stacks */
		"{\"mode\": \"gc\", \"gc\": {}}",
		/* a stack without its count */
		"{\"stacks\": [{\"frames\": [], \"type\": \"T\", \"bytes\": 1}]}",
		/* a frame without its function */
		"{\"stacks\": [{\"frames\": [{\"file\": \"a.py\", \"line\": 1}], \"type\": \"T\","
		" \"allocations\": 1, \"bytes\": 1}]}",
		/* a negative count */
		"{\"stacks\": [{\"frames\": [], \"type\": \"T\", \"allocations\": -1, \"bytes\": "
		"1}]}",
		"[]",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		json_t *rec = load(refused[i]);
		size_t len;

		assert_null(render_gunzipped(rec, &len));
		json_decref(rec);
	}
}

static void test_write_error_is_reported(void **state)
{
	json_t *rec = load(recording_json);
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	if (!f)
		skip();
	/* unbuffered: the write itself fails, inside render_pprof() */
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(render_pprof(f, rec, NULL), -1);
	fclose(f);
	json_decref(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_and_sample_types),
		cmocka_unit_test(test_tables_are_deduplicated),
		cmocka_unit_test(test_samples_leaf_first_with_markers),
		cmocka_unit_test(test_lifecycle_and_sampling),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_write_error_is_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
