// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/* Print pyobjlife's GC layout table for one minor version, for check_gc_layout.py. */
#include <stdio.h>
#include <stdlib.h>
#include "gc_layout.h"

int main(int argc, char **argv)
{
	const struct gc_layout *l;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MINOR\n", argv[0]);
		return 2;
	}
	l = gc_layout_lookup(3, atoi(argv[1]));
	if (!l)
		return 1;
	printf("main_interp_off %u\ngc_off %u\ngenerations_off %u\ngen_stride %u\n"
	       "gen_threshold_off %u\ngen_count_off %u\nstats_off %u\ncollecting_off %u\n"
	       "stats_stride 24\n",
	       l->main_interp_off, l->gc_off, l->generations_off, l->gen_stride,
	       l->gen_threshold_off, l->gen_count_off, l->stats_off, l->collecting_off);
	printf("gc_in_runtime %d\n", l->gc_in_runtime);
	return 0;
}
