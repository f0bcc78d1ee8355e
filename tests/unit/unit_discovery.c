// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Discovery on fixture interpreters that tests/fixtures/make_fixtures.sh builds
 * (symtab, stripped, stripped + build-id debug file, no USDT, debug build, old
 * version, not Python). The expected build-id comes from binutils' readelf.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "interpreter.h"
#include "probe_plan.h"

static const char *fixtures;
static char debugroot[4096];

static void fixture_path(char *buf, size_t cap, const char *rel)
{
	snprintf(buf, cap, "%s/%s", fixtures, rel);
}

static int plan_for(const char *rel, const char *debug_dir, struct probe_plan *p,
		    enum gc_preference pref)
{
	struct discovery_opts o = { .debug_dir = debug_dir ? debug_dir : "/nonexistent" };
	struct py_target t;
	char path[4096], why[512];
	int r;

	fixture_path(path, sizeof(path), rel);
	r = py_target_from_binary(path, &o, &t, why, sizeof(why));
	if (r)
		return r;
	return probe_plan_build(p, &t, pref, false);
}

static void test_full_binary_has_every_source(void **state)
{
	struct probe_plan *p = calloc(1, sizeof(*p));

	(void)state;
	assert_int_equal(plan_for("full/python3.12", NULL, p, GC_PREFER_AUTO), 0);
	assert_string_equal(p->target.version_str, "3.12.1");
	assert_string_equal(p->target.version_source, "Py_Version");
	assert_false(p->target.debug_build);
	assert_true(p->symtab);
	assert_int_equal(p->runtime.n_sites, 1);
	assert_int_equal(p->runtime.sites[0].source, HOOK_SRC_SYMTAB);
	assert_int_equal(p->collector.n_sites, 1);
	assert_string_equal(p->collector.sites[0].symbol, "gc_collect_main");
	assert_int_equal(p->collector.sites[0].source, HOOK_SRC_SYMTAB);
	assert_int_equal(p->usdt_start.n_sites, 1);
	assert_int_equal(p->usdt_start.sites[0].source, HOOK_SRC_USDT);
	assert_string_equal(p->usdt_start.sites[0].symbol, "python:gc__start");
	assert_true(p->usdt_start.sites[0].semaphore != 0);
	assert_int_equal(p->usdt_done.n_sites, 1);
	assert_int_equal(p->gc_method, GC_METHOD_USDT);
	assert_int_equal(p->n_probes, 2);
	free(p);
}

static void test_stripped_binary_falls_back_to_dynsym_and_usdt(void **state)
{
	struct probe_plan *p = calloc(1, sizeof(*p));

	(void)state;
	assert_int_equal(plan_for("stripped/python3.12", NULL, p, GC_PREFER_AUTO), 0);
	assert_false(p->symtab);
	assert_int_equal(p->runtime.sites[0].source, HOOK_SRC_DYNSYM);
	assert_int_equal(p->collector.n_sites, 0);
	assert_non_null(strstr(p->collector.missing, "stripped"));
	assert_int_equal(p->gc_method, GC_METHOD_USDT);
	/* without USDT there is nothing left */
	assert_int_equal(plan_for("stripped/python3.12", NULL, p, GC_PREFER_UPROBE), -ENOENT);
	assert_non_null(strstr(p->gc_note, "--gc-probe uprobe"));
	free(p);
}

static void test_debug_file_found_by_build_id(void **state)
{
	struct probe_plan *p = calloc(1, sizeof(*p));
	char idfile[4096], id[64] = "", expect[4200];
	FILE *f;

	(void)state;
	fixture_path(idfile, sizeof(idfile), "dbg/build-id");
	f = fopen(idfile, "r");
	assert_non_null(f);
	assert_non_null(fgets(id, sizeof(id), f));
	fclose(f);
	id[strcspn(id, "\n")] = 0;
	snprintf(expect, sizeof(expect), "%s/.build-id/%.2s/%s.debug", debugroot, id, id + 2);

	assert_int_equal(plan_for("dbg/python3.12", debugroot, p, GC_PREFER_UPROBE), 0);
	assert_string_equal(p->target.build_id, id);
	assert_string_equal(p->target.debug_file, expect);
	assert_int_equal(p->collector.n_sites, 1);
	assert_int_equal(p->collector.sites[0].source, HOOK_SRC_DEBUGFILE);
	assert_int_equal(p->gc_method, GC_METHOD_UPROBE);
	assert_int_equal(p->n_probes, 2);
	/* the same binary without the debug directory: the note says where it looked */
	assert_int_equal(plan_for("dbg/python3.12", "/nonexistent", p, GC_PREFER_AUTO), 0);
	assert_string_equal(p->target.debug_file, "");
	assert_non_null(strstr(p->target.debug_note, id));
	free(p);
}

static void test_no_usdt_uses_uprobes(void **state)
{
	struct probe_plan *p = calloc(1, sizeof(*p));

	(void)state;
	assert_int_equal(plan_for("nousdt/python3.12", NULL, p, GC_PREFER_AUTO), 0);
	assert_int_equal(p->usdt_start.n_sites, 0);
	assert_non_null(strstr(p->usdt_start.missing, "--with-dtrace"));
	assert_int_equal(p->gc_method, GC_METHOD_UPROBE);
	free(p);
}

static void test_unsupported_builds_are_refused(void **state)
{
	struct discovery_opts o = { .debug_dir = "/nonexistent" };
	struct py_target t;
	char path[4096], why[512];

	(void)state;
	fixture_path(path, sizeof(path), "debugbuild/python3.12d");
	assert_int_equal(py_target_from_binary(path, &o, &t, why, sizeof(why)), 0);
	assert_true(t.debug_build);
	assert_int_equal(py_target_check_supported(&t, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "debug"));

	fixture_path(path, sizeof(path), "old/python3.7");
	assert_int_equal(py_target_from_binary(path, &o, &t, why, sizeof(why)), 0);
	assert_string_equal(t.version_str, "3.7");
	assert_string_equal(t.version_source, "file name");
	assert_int_equal(py_target_check_supported(&t, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "3.8 to 3.13"));

	fixture_path(path, sizeof(path), "notpython/tool");
	assert_int_equal(py_target_from_binary(path, &o, &t, why, sizeof(why)), -ENOEXEC);
	assert_non_null(strstr(why, "does not contain a CPython"));

	fixture_path(path, sizeof(path), "notpython/tool.c");
	assert_int_equal(py_target_from_binary(path, &o, &t, why, sizeof(why)), -ENOEXEC);
	assert_non_null(strstr(why, "not an ELF"));
}

/* 3.13's _Py_DebugOffsets.free_threaded, or the "t" ABI flag of the name, refuses a build */
static void test_free_threaded_builds_are_refused(void **state)
{
	static const char *const refused[] = { "freethreaded/python3.13",
					       "freethreaded/python3.13t" };
	struct discovery_opts o = { .debug_dir = "/nonexistent" };
	struct py_target t;
	char path[4096], why[512];

	(void)state;
	fixture_path(path, sizeof(path), "gil/python3.13");
	assert_int_equal(py_target_from_binary(path, &o, &t, why, sizeof(why)), 0);
	assert_string_equal(t.version_str, "3.13.0");
	assert_false(t.free_threaded);
	assert_int_equal(py_target_check_supported(&t, why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		fixture_path(path, sizeof(path), refused[i]);
		assert_int_equal(py_target_from_binary(path, &o, &t, why, sizeof(why)), 0);
		assert_true(t.free_threaded);
		assert_int_equal(py_target_check_supported(&t, why, sizeof(why)), -ENOTSUP);
		assert_non_null(strstr(why, "free-threaded"));
	}
}

static void test_plan_json_names_sources(void **state)
{
	struct probe_plan *p = calloc(1, sizeof(*p));
	json_t *j, *hooks;
	size_t i;
	json_t *h;
	int seen = 0;

	(void)state;
	assert_int_equal(plan_for("full/python3.12", NULL, p, GC_PREFER_AUTO), 0);
	j = probe_plan_to_json(p);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "gc_method")), "usdt");
	hooks = json_object_get(j, "hooks");
	json_array_foreach(hooks, i, h)
	{
		const char *name = json_string_value(json_object_get(h, "hook"));
		json_t *site = json_array_get(json_object_get(h, "sites"), 0);

		if (!strcmp(name, "gc__start")) {
			assert_string_equal(json_string_value(json_object_get(site, "source")),
					    "usdt");
			seen++;
		}
		if (!strcmp(name, "gc_collect_main")) {
			assert_string_equal(json_string_value(json_object_get(site, "source")),
					    "symtab");
			seen++;
		}
	}
	assert_int_equal(seen, 2);
	json_decref(j);
	free(p);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_binary_has_every_source),
		cmocka_unit_test(test_stripped_binary_falls_back_to_dynsym_and_usdt),
		cmocka_unit_test(test_debug_file_found_by_build_id),
		cmocka_unit_test(test_no_usdt_uses_uprobes),
		cmocka_unit_test(test_unsupported_builds_are_refused),
		cmocka_unit_test(test_free_threaded_builds_are_refused),
		cmocka_unit_test(test_plan_json_names_sources),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
		return 2;
	}
	fixtures = argv[1];
	snprintf(debugroot, sizeof(debugroot), "%s/debugroot", fixtures);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
