// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * `pyobjlife report REC.json -o OUT`: a saved recording rendered again, into
 * any format, through the same renderers `record` uses. It reads one file and
 * writes another: no target, no BPF, no privileges.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "commands.h"
#include "exit_codes.h"
#include "log.h"
#include "output_file.h"

static int resolve_format(const struct cli *c, enum output_format *f)
{
	const char *path = c->n_outputs ? c->outputs[0] : NULL;

	*f = c->format != FORMAT_NONE ? c->format
	     : path		      ? output_format_from_path(path)
				      : FORMAT_TEXT;
	if (*f == FORMAT_NONE) {
		pr_err("cannot tell the format of %s from its extension: use .json, .txt, .folded, "
		       ".svg, .html, .speedscope.json or .pb.gz, or --format",
		       path);
		return EXIT_USAGE;
	}
	if (*f == FORMAT_PPROF && !path && isatty(STDOUT_FILENO)) {
		pr_err("pprof output is binary: write it to a file with -o FILE.pb.gz");
		return EXIT_USAGE;
	}
	return 0;
}

/* The recording, checked to be one; NULL after saying why. */
static json_t *load_recording(const char *path)
{
	json_error_t err;
	char why[256];
	json_t *rec;

	/* jansson's own message for this case lacks the cause */
	if (access(path, R_OK)) {
		pr_err("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	rec = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!rec) {
		pr_err("%s:%d:%d: not valid JSON: %s", path, err.line, err.column, err.text);
		return NULL;
	}
	if (recording_json_check(rec, why, sizeof(why))) {
		pr_err("%s: %s", path, why);
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static int write_to_file(const char *path, const json_t *rec, enum output_format f,
			 const struct render_opts *o)
{
	struct output_file *file;
	char why[512];

	file = output_file_open(path, why, sizeof(why));
	if (!file) {
		pr_err("%s", why);
		return EXIT_OUTPUT;
	}
	if (render_recording(file->stream, rec, f, o)) {
		output_file_discard(file);
		return EXIT_OUTPUT;
	}
	if (output_file_commit(file, why, sizeof(why))) {
		pr_err("%s", why);
		return EXIT_OUTPUT;
	}
	return 0;
}

int cmd_report(const struct cli *c)
{
	struct render_opts o = { .weight = c->weight,
				 .weight_given = c->weight_given,
				 .top = c->top };
	const char *path = c->n_outputs ? c->outputs[0] : NULL;
	enum output_format f;
	char why[512];
	json_t *rec;
	int rc;

	rc = resolve_format(c, &f);
	if (rc)
		return rc;
	if (path && output_file_precheck(path, why, sizeof(why))) {
		pr_err("%s", why);
		return EXIT_OUTPUT;
	}
	rec = load_recording(c->input);
	if (!rec)
		return EXIT_INPUT;
	if (render_check(rec, f, &o)) {
		json_decref(rec);
		return EXIT_INPUT;
	}
	if (path) {
		rc = write_to_file(path, rec, f, &o);
	} else {
		rc = render_recording(stdout, rec, f, &o) ? EXIT_OUTPUT : 0;
		if (!rc && (fflush(stdout) || ferror(stdout))) {
			pr_err("failed to write to stdout");
			rc = EXIT_OUTPUT;
		}
	}
	json_decref(rec);
	return rc;
}
