// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* Placeholder until the pprof renderer lands. */
#include "log.h"
#include "render.h"

int render_pprof(FILE *out, const json_t *rec, const struct render_opts *o)
{
	(void)out;
	(void)rec;
	(void)o;
	pr_err("pprof output is not built yet");
	return -1;
}
