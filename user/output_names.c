// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "output_names.h"

/* Extensions of two parts, kept whole: the label goes before both. */
static const char *const two_part[] = { ".speedscope.json", ".pb.gz" };

static size_t ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && !strcmp(s + len - n, suffix) ? n : 0;
}

/* Length of the extension of the file name `base` (0 if none; ".bashrc" has none). */
static size_t extension_length(const char *base)
{
	size_t len = strlen(base), n;
	const char *dot;

	for (size_t i = 0; i < sizeof(two_part) / sizeof(two_part[0]); i++) {
		n = ends_with(base, len, two_part[i]);
		if (n)
			return n;
	}
	dot = strrchr(base, '.');
	return dot && dot != base ? len - (size_t)(dot - base) : 0;
}

int output_path_for_target(const char *path, const char *label, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t ext = extension_length(base), stem = strlen(path) - ext;
	int n = snprintf(out, cap, "%.*s.%s%s", (int)stem, path, label, path + stem);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}
