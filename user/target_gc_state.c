// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include "proc.h"
#include "target_gc_state.h"

int target_read_gc_state(const struct probe_plan *p, struct gc_state_snapshot *s)
{
	const struct gc_layout *l = p->layout;
	const struct py_target *t = &p->target;
	uint64_t runtime, gc, interp = 0;
	int r;

	if (!t->pid || !t->bias_known || !l || !p->runtime.n_sites)
		return -EINVAL;
	runtime = p->runtime.sites[0].vaddr + t->load_bias;
	if (l->gc_in_runtime) {
		gc = runtime + l->gc_off;
	} else {
		r = proc_read_mem(t->pid, runtime + l->main_interp_off, &interp, sizeof(interp));
		if (r)
			return r;
		if (!interp)
			return -EAGAIN;
		gc = interp + l->gc_off;
	}
	for (int i = 0; i < PYOBJLIFE_NUM_GENERATIONS; i++) {
		int32_t pair[2];

		r = proc_read_mem(t->pid,
				  gc + l->generations_off + (uint64_t)i * l->gen_stride +
					  l->gen_threshold_off,
				  pair, sizeof(pair));
		if (r)
			return r;
		s->thresholds[i] = pair[0];
		s->counts[i] = pair[1];
	}
	return 0;
}
