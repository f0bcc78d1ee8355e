// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* Folded stacks: `root;...;leaf;[Type] count` lines, the input of flamegraph tools. */
#include "log.h"
#include "render_internal.h"

/* ';' separates frames; a label must not hold one. */
static void put_folded_label(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc(*s == ';' ? ':' : *s, out);
}

int render_folded(FILE *out, const json_t *rec, const struct render_opts *o)
{
	struct frame_table ft;
	struct profile p;
	int err = 0;

	frame_table_init(&ft);
	if (profile_build(&p, &ft, rec, o->weight)) {
		frame_table_free(&ft);
		return -1;
	}
	for (size_t i = 0; i < p.n; i++) {
		const struct rsample *s = &p.v[i];

		for (size_t f = 0; f < s->depth; f++) {
			if (f)
				fputc(';', out);
			put_folded_label(out, ft.v[s->frames[f]].label);
		}
		fprintf(out, " %lu\n", (unsigned long)s->weight);
	}
	if (ferror(out)) {
		pr_err("failed to write the folded stacks");
		err = -1;
	}
	profile_free(&p);
	frame_table_free(&ft);
	return err;
}
