// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Per-target output names (several targets in one recording): the label goes
 * before the extension, so every name keeps the format its extension gives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "output_names.h"
#include "render.h"

struct named {
	const char *path, *label, *want;
};

static const struct named cases[] = {
	{ "rec.json", "1234", "rec.1234.json" },
	{ "out/flame.svg", "77", "out/flame.77.svg" },
	{ "/tmp/a.b/report.html", "1234-2", "/tmp/a.b/report.1234-2.html" },
	{ "rec.speedscope.json", "9", "rec.9.speedscope.json" },
	{ "prof.pb.gz", "9", "prof.9.pb.gz" },
	{ "stacks.folded", "5", "stacks.5.folded" },
	{ "summary.txt", "5", "summary.5.txt" },
	{ "noext", "5", "noext.5" },
	{ "dir.d/noext", "5", "dir.d/noext.5" },
	{ ".hidden", "5", ".hidden.5" },
};

static void test_label_before_the_extension(void **state)
{
	char out[PATH_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
			output_path_for_target(cases[i].path, cases[i].label, out, sizeof(out)), 0);
		assert_string_equal(out, cases[i].want);
	}
}

/* The format `record` picks from the name it was given is the one of every target's file. */
static void test_each_file_keeps_its_format(void **state)
{
	char out[PATH_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(output_path_for_target(cases[i].path, "4242", out, sizeof(out)),
				 0);
		assert_int_equal(output_format_from_path(out),
				 output_format_from_path(cases[i].path));
	}
	assert_int_equal(output_format_from_path("rec.4242.speedscope.json"), FORMAT_SPEEDSCOPE);
	assert_int_equal(output_format_from_path("prof.4242.pb.gz"), FORMAT_PPROF);
}

static void test_too_long_is_refused(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(output_path_for_target("recording.json", "1234567", out, sizeof(out)),
			 -ENAMETOOLONG);
	assert_int_equal(output_path_for_target("r.json", "12", out, sizeof(out)), 0);
	assert_string_equal(out, "r.12.json");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_before_the_extension),
		cmocka_unit_test(test_each_file_keeps_its_format),
		cmocka_unit_test(test_too_long_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
