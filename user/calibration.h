/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * What a uprobe hit costs on the running kernel, per probe cost class. A
 * counting uprobe goes on functions of pyobjlife's own code whose first
 * instruction is of the class measured (an emulated push, a single-stepped
 * rip-relative load); each is called a few thousand times with and without it,
 * on the thread's own CPU clock (the trap's kernel work included), and the
 * per-hit difference is the median over a few rounds. Well under a second.
 */
#ifndef PYOBJLIFE_CALIBRATION_H
#define PYOBJLIFE_CALIBRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "probe_placement.h"

#define CALIBRATION_CLASS_BIT(c) (1u << (c))
#define CALIBRATION_ALL_CLASSES                                                                    \
	(CALIBRATION_CLASS_BIT(PROBE_COST_EMULATED) | CALIBRATION_CLASS_BIT(PROBE_COST_SINGLE_STEP))

struct calibration {
	bool measured[PROBE_COST_SINGLE_STEP + 1]; /* per enum probe_cost_class */
	double ns_per_hit[PROBE_COST_SINGLE_STEP + 1];
	unsigned long calls; /* probed calls made */
	unsigned long hits;  /* hits the BPF program counted: equal to calls */
	double wall_ms;	     /* the whole measurement, attach included */
};

/*
 * Measure the classes in `classes` (CALIBRATION_CLASS_BIT()s); needs the BPF
 * privileges of a recording. The result also becomes what calibration_cost_ns()
 * answers. 0, or -errno with the cause in `why`. The probes are detached in the
 * background (that takes the kernel ~0.1 s each): calibration_release() waits.
 */
int calibration_run(unsigned classes, struct calibration *out, char *why, size_t cap);
void calibration_release(void);

/*
 * The per-hit cost of a probe class: the last measurement in this process, else
 * the reference of uprobe-cost-model.md (0.69 us emulated, 9.8 us single-stepped).
 */
double calibration_cost_ns(enum probe_cost_class c);

/* Whether calibration_run() succeeded in this process (calibration_cost_ns() measured). */
bool calibration_has_run(void);

/* A measured class's cost, or 0 when `c` is NULL or did not measure it. */
double calibration_measured_ns(const struct calibration *c, enum probe_cost_class k);

/* {"emulated_ns_per_hit", "single_step_ns_per_hit", "calls", "hits", "wall_ms"}; null for NULL. */
json_t *calibration_to_json(const struct calibration *c);

#endif
