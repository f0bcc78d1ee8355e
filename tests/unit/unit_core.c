// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* Versions, interpreter names, _Py_DebugOffsets decoding, recording and renderers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gc_layout.h"
#include "gc_recording.h"
#include "interpreter.h"
#include "py_version.h"
#include "recording.h"
#include "render.h"

static void test_version_hex(void **state)
{
	struct py_version v;
	char buf[32];

	(void)state;
	assert_int_equal(py_version_from_hex(0x030B02F0, &v), 0);
	py_version_format(&v, buf, sizeof(buf));
	assert_string_equal(buf, "3.11.2");
	assert_int_equal(py_version_from_hex(0x030D00C1, &v), 0);
	py_version_format(&v, buf, sizeof(buf));
	assert_string_equal(buf, "3.13.0rc1");
	assert_int_equal(py_version_from_hex(0x030D0001, &v), -EINVAL); /* level 0 */
	assert_int_equal(py_version_parse("3.10.13", &v), 0);
	assert_int_equal(v.minor, 10);
	assert_int_equal(v.micro, 13);
	assert_true(py_version_supported(&v));
	assert_int_equal(py_version_parse("3.7", &v), 0);
	assert_false(v.micro_known);
	assert_false(py_version_supported(&v));
	assert_int_equal(py_version_parse("x.7", &v), -EINVAL);
}

static void test_interpreter_names(void **state)
{
	int major, minor;
	char abi[8];

	(void)state;
	assert_int_equal(
		py_parse_interpreter_name("libpython3.12.so.1.0", &major, &minor, abi, sizeof(abi)),
		0);
	assert_int_equal(minor, 12);
	assert_string_equal(abi, "");
	assert_int_equal(
		py_parse_interpreter_name("libpython3.7m.so.1.0", &major, &minor, abi, sizeof(abi)),
		0);
	assert_string_equal(abi, "m");
	assert_int_equal(py_parse_interpreter_name("python3.13t", &major, &minor, abi, sizeof(abi)),
			 0);
	assert_string_equal(abi, "t");
	assert_int_equal(
		py_parse_interpreter_name("libpython3.so", &major, &minor, abi, sizeof(abi)),
		-EINVAL);
	assert_int_equal(py_parse_interpreter_name("python3", &major, &minor, abi, sizeof(abi)),
			 -EINVAL);
	assert_int_equal(
		py_parse_interpreter_name("python3.11-config", &major, &minor, abi, sizeof(abi)),
		-EINVAL);
}

static void put_u64(unsigned char *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, 8);
}

static void test_debug_offsets_cross_check(void **state)
{
	unsigned char buf[PY_DEBUG_OFFSETS_READ_LEN] = "xdebugpy";
	const struct gc_layout *l = gc_layout_lookup(3, 13);
	struct py_debug_offsets d;
	const char *what;

	(void)state;
	/* the 3.13.0 values pyenv's libpython3.13 carries (cpython-internals.md section 8) */
	put_u64(buf, 8, 0x030D00F0);
	put_u64(buf, 40, 632);
	put_u64(buf, 80, 7400);
	assert_non_null(l);
	assert_int_equal(py_debug_offsets_decode(buf, sizeof(buf), 13, &d), 0);
	assert_int_equal(d.interp_gc, 7400);
	assert_int_equal(gc_layout_cross_check(l, &d, &what), 0);
	put_u64(buf, 80, 7408);
	assert_int_equal(py_debug_offsets_decode(buf, sizeof(buf), 13, &d), 0);
	assert_int_equal(gc_layout_cross_check(l, &d, &what), 1);
	assert_string_equal(what, "interp->gc");
	buf[0] = 'y';
	assert_int_equal(py_debug_offsets_decode(buf, sizeof(buf), 13, &d), -ENOENT);
	assert_null(gc_layout_lookup(3, 7));
}

static struct gc_event event(int gen, uint64_t t, uint64_t pause, int64_t coll, int64_t unc)
{
	struct gc_event e = { .kind = EV_GC_COLLECTION,
			      .tgid = 42,
			      .t_start_ns = t,
			      .pause_ns = pause,
			      .collected = coll,
			      .uncollectable = unc,
			      .generation = gen,
			      .gen_hint = PYOBJLIFE_GEN_UNKNOWN,
			      .counts = { 701, 3, 1 },
			      .thresholds = { 700, 10, 10 } };
	return e;
}

static void test_recording_timeline_and_losses(void **state)
{
	struct gc_recording r;
	struct gc_event e = event(1, 5000, 300, 12, 1);
	uint64_t lo, hi;

	(void)state;
	gc_recording_init(&r, 1000);
	assert_int_equal(gc_recording_add(&r, &e, sizeof(e)), 0);
	assert_int_equal(r.n_collections, 1);
	assert_int_equal(r.collections[0].t_ns, 4000);
	assert_int_equal(r.collections[0].generation, 1);
	assert_true(r.thresholds_known);
	assert_int_equal(r.thresholds[0], 700);
	assert_string_equal(r.thresholds_source, "first collection");
	/* short, wrong kind, or out-of-range generation: refused and counted */
	assert_int_equal(gc_recording_add(&r, &e, sizeof(e) - 1), -EINVAL);
	e.generation = 3;
	assert_int_equal(gc_recording_add(&r, &e, sizeof(e)), -EINVAL);
	e.generation = 0;
	e.kind = 99;
	assert_int_equal(gc_recording_add(&r, &e, sizeof(e)), -EINVAL);
	r.agg.ringbuf_drops = 4;
	assert_int_equal(gc_recording_lost(&r), 7);
	log2_bucket_bounds(0, &lo, &hi);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 2);
	log2_bucket_bounds(10, &lo, &hi);
	assert_int_equal(lo, 1024);
	assert_int_equal(hi, 2048);
	gc_recording_free(&r);
}

static void test_json_contract(void **state)
{
	struct probe_plan *plan = calloc(1, sizeof(*plan));
	struct recording rec = { .plan = plan,
				 .pid = 42,
				 .mode = "full",
				 .duration_s = 1.5,
				 .end_reason = "interrupted",
				 .started_at = "2026-11-21T00:00:00Z" };
	struct gc_event e = event(0, 2000, 1500, 30, 2);
	struct render_opts opts = { .weight = WEIGHT_ALLOCATIONS };
	json_t *j, *g0, *hist;
	char *text;
	size_t len;
	FILE *mem;

	(void)state;
	snprintf(plan->target.version_str, sizeof(plan->target.version_str), "3.12.1");
	snprintf(plan->target.path, sizeof(plan->target.path), "/x/libpython3.12.so.1.0");
	gc_recording_init(&rec.gc, 1000);
	assert_int_equal(gc_recording_add(&rec.gc, &e, sizeof(e)), 0);
	rec.gc.agg.gen[0].collections = 1;
	rec.gc.agg.gen[0].collected = 30;
	rec.gc.agg.gen[0].uncollectable = 2;
	rec.gc.agg.gen[0].pause_total_ns = 1500;
	rec.gc.agg.gen[0].pause_max_ns = 1500;
	rec.gc.agg.gen[0].pause_hist[10] = 1;

	j = recording_to_json(&rec);
	assert_non_null(j);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "target"), "python_version")),
		"3.12.1");
	assert_string_equal(json_string_value(json_object_get(j, "mode")), "full");
	assert_int_equal(json_integer_value(json_object_get(j, "lost_events")), 0);
	g0 = json_array_get(json_object_get(json_object_get(j, "gc"), "generations"), 0);
	assert_int_equal(json_integer_value(json_object_get(g0, "uncollectable")), 2);
	hist = json_object_get(json_object_get(g0, "pause_ns"), "log2_histogram");
	assert_int_equal(json_array_size(hist), 1);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(hist, 0), 0)), 1024);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(hist, 0), 2)), 1);
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "gc"), "collections")),
			 1);

	/* the text report renders from that JSON, as `report` renders a saved one */
	mem = open_memstream(&text, &len);
	assert_int_equal(render_recording(mem, j, FORMAT_TEXT, &opts), 0);
	fclose(mem);
	assert_non_null(strstr(text, "COLLECTIONS"));
	assert_non_null(strstr(text, "generation 0 pause"));
	assert_non_null(strstr(text, "1.0 us .. 2.0 us            1"));
	free(text);
	json_decref(j);
	gc_recording_free(&rec.gc);
	free(plan);
}

static void test_output_formats(void **state)
{
	(void)state;
	assert_int_equal(output_format_from_path("a/b.json"), FORMAT_JSON);
	assert_int_equal(output_format_from_path("b.txt"), FORMAT_TEXT);
	assert_int_equal(output_format_from_path("b.png"), FORMAT_NONE);
	assert_int_equal(output_format_from_path("dir.json/file"), FORMAT_NONE);
	assert_int_equal(output_format_from_path("dir/.json"), FORMAT_NONE);
	assert_int_equal(output_format_from_path("b.svg"), FORMAT_SVG);
	assert_int_equal(output_format_from_path("b.html"), FORMAT_HTML);
	assert_int_equal(output_format_from_path("b.folded"), FORMAT_FOLDED);
	/* double extensions: the longer one wins */
	assert_int_equal(output_format_from_path("a.b/r.speedscope.json"), FORMAT_SPEEDSCOPE);
	assert_int_equal(output_format_from_path("r.pb.gz"), FORMAT_PPROF);
	assert_int_equal(output_format_from_path("r.gz"), FORMAT_NONE);
	assert_int_equal(output_format_parse("json"), FORMAT_JSON);
	assert_int_equal(output_format_parse("speedscope"), FORMAT_SPEEDSCOPE);
	assert_int_equal(output_format_parse("yaml"), FORMAT_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_hex),
		cmocka_unit_test(test_interpreter_names),
		cmocka_unit_test(test_debug_offsets_cross_check),
		cmocka_unit_test(test_recording_timeline_and_losses),
		cmocka_unit_test(test_json_contract),
		cmocka_unit_test(test_output_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
