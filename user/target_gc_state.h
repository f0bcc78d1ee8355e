/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Read the main interpreter's collector thresholds and generation counts from
 * a live target's memory (process_vm_readv; the target is not stopped).
 */
#ifndef PYOBJLIFE_TARGET_GC_STATE_H
#define PYOBJLIFE_TARGET_GC_STATE_H

#include <stdint.h>
#include "probe_plan.h"
#include "pyobjlife.h"

struct gc_state_snapshot {
	int32_t thresholds[PYOBJLIFE_NUM_GENERATIONS];
	int32_t counts[PYOBJLIFE_NUM_GENERATIONS];
};

/* 0, -EAGAIN before the interpreter exists, or -errno from the read. */
int target_read_gc_state(const struct probe_plan *p, struct gc_state_snapshot *s);

#endif
