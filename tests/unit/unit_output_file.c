// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* Output paths: regular files only; symlinks, FIFOs and directories refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "output_file.h"

static char dir[] = "/tmp/pyobjlife-unit-XXXXXX";

static void path_in(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
}

static void test_regular_file_is_written_and_truncated(void **state)
{
	char p[256], why[512], got[64] = "";
	struct output_file *o;
	FILE *f;

	(void)state;
	path_in(p, sizeof(p), "out.json");
	f = fopen(p, "w");
	fputs("old content that is longer", f);
	fclose(f);
	assert_int_equal(output_file_precheck(p, why, sizeof(why)), 0);
	o = output_file_open(p, why, sizeof(why));
	assert_non_null(o);
	fputs("new", o->stream);
	assert_int_equal(output_file_commit(o, why, sizeof(why)), 0);
	f = fopen(p, "r");
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "new");
}

static void test_symlink_is_never_followed(void **state)
{
	char p[256], victim[256], why[512];
	struct output_file *o;
	struct stat st;

	(void)state;
	path_in(victim, sizeof(victim), "victim");
	path_in(p, sizeof(p), "link.json");
	fclose(fopen(victim, "w"));
	assert_int_equal(symlink(victim, p), 0);
	assert_int_equal(output_file_precheck(p, why, sizeof(why)), -ELOOP);
	assert_non_null(strstr(why, "symbolic link"));
	/* planted between the precheck and the end of the recording: refused at commit */
	o = output_file_open(p, why, sizeof(why));
	assert_non_null(o);
	fputs("data", o->stream);
	assert_int_equal(output_file_commit(o, why, sizeof(why)), -ELOOP);
	assert_non_null(strstr(why, "symbolic link"));
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void test_fifo_and_directory_are_refused(void **state)
{
	char p[256], why[512];

	(void)state;
	path_in(p, sizeof(p), "fifo.json");
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(output_file_precheck(p, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "FIFO"));
	assert_int_equal(output_file_precheck(dir, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "directory"));
	path_in(p, sizeof(p), "missing/dir/out.json");
	assert_int_equal(output_file_precheck(p, why, sizeof(why)), -ENOENT);
}

static void test_full_disk_is_reported_and_keeps_the_old_file(void **state)
{
	char p[256], why[512], buf[8192], got[64] = "";
	struct output_file *o;
	FILE *f;

	(void)state;
	/* a stream whose writes fail with ENOSPC is reported */
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	memset(buf, 'x', sizeof(buf));
	fwrite(buf, 1, sizeof(buf), f);
	assert_int_equal(output_stream_close(f), -ENOSPC);
	/* a discarded or failed output leaves the previous file as it was */
	path_in(p, sizeof(p), "keep.json");
	f = fopen(p, "w");
	fputs("previous", f);
	fclose(f);
	o = output_file_open(p, why, sizeof(why));
	assert_non_null(o);
	fputs("half", o->stream);
	output_file_discard(o);
	f = fopen(p, "r");
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "previous");
}

static int files_in(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	assert_non_null(dp);
	while ((e = readdir(dp)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(dp);
	return n;
}

/*
 * A write the kernel refuses mid-file (here the file size limit, EFBIG, as a full
 * disk refuses with ENOSPC) fails the commit with one reason naming the path; the
 * writer saw no error, the old file stays and no temporary file is left.
 */
static void test_failed_write_fails_the_commit(void **state)
{
	char p[256], why[512], buf[4096], got[64] = "";
	struct rlimit old, small;
	struct output_file *o;
	int before, r;
	FILE *f;

	(void)state;
	path_in(p, sizeof(p), "limited.json");
	f = fopen(p, "w");
	fputs("previous", f);
	fclose(f);
	before = files_in(dir);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	/* the soft limit only: an unprivileged process could not raise the hard one back */
	small = (struct rlimit){ 16384, old.rlim_max };
	signal(SIGXFSZ, SIG_IGN);
	o = output_file_open(p, why, sizeof(why));
	assert_non_null(o);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < 16; i++)
		assert_int_equal(fwrite(buf, 1, sizeof(buf), o->stream), sizeof(buf));
	assert_false(ferror(o->stream));
	r = output_file_commit(o, why, sizeof(why));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(r, -EFBIG);
	assert_non_null(strstr(why, p));
	assert_non_null(strstr(why, strerror(EFBIG)));
	f = fopen(p, "r");
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "previous");
	assert_int_equal(files_in(dir), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regular_file_is_written_and_truncated),
		cmocka_unit_test(test_symlink_is_never_followed),
		cmocka_unit_test(test_fifo_and_directory_are_refused),
		cmocka_unit_test(test_full_disk_is_reported_and_keeps_the_old_file),
		cmocka_unit_test(test_failed_write_fails_the_commit),
	};
	char cmd[128];
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}
