// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "calibration.h"
#include "commands.h"
#include "exit_codes.h"
#include "log.h"
#include "system_checks.h"

int exit_code_for_discovery(int err)
{
	switch (err) {
	case 0:
		return EXIT_OK;
	case -ESRCH:
	case -ENOENT:
		return EXIT_NO_TARGET;
	case -ENOEXEC:
		return EXIT_NOT_PYTHON;
	case -ENOTSUP:
		return EXIT_UNSUPPORTED;
	case -EACCES:
	case -EPERM:
		return EXIT_PRIVILEGE;
	default:
		return EXIT_RUNTIME;
	}
}

/* probes --calibrate: what each probe class costs here, for the estimates per probe */
static int calibrate(struct probe_plan *plan, struct calibration *calib)
{
	char why[256];
	int err;

	if (check_privileges(why, sizeof(why))) {
		pr_err("--calibrate: %s", why);
		return EXIT_PRIVILEGE;
	}
	err = calibration_run(CALIBRATION_ALL_CLASSES, calib, why, sizeof(why));
	if (err) {
		pr_err("calibration failed: %s", why);
		return EXIT_RUNTIME;
	}
	probe_plan_set_calibration(plan, calib);
	return 0;
}

int cmd_probes(const struct cli *c)
{
	struct discovery_opts o = { .debug_dir = c->debug_dir };
	struct calibration calib;
	struct probe_plan *plan;
	struct py_target t;
	char why[512];
	int r;

	r = c->pid ? py_target_from_pid(c->pid, &o, &t, why, sizeof(why))
		   : py_target_from_binary(c->binary, &o, &t, why, sizeof(why));
	if (r) {
		pr_err("%s", why);
		return exit_code_for_discovery(r);
	}
	plan = calloc(1, sizeof(*plan));
	if (!plan) {
		pr_err("out of memory");
		return EXIT_RUNTIME;
	}
	/* a plan is shown even for an unsupported build: it says what is there and why not */
	probe_plan_build(plan, &t, c->gc_pref, false);
	if (probe_plan_place(plan, c->placement))
		pr_warn("cannot read the code of %s: probes stay at their entry points", t.path);
	if (c->calibrate) {
		r = calibrate(plan, &calib);
		if (r) {
			free(plan);
			return r;
		}
	}
	if (c->format == FORMAT_JSON) {
		json_t *j = probe_plan_to_json(plan);

		if (!j || json_dumpf(j, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER)) {
			pr_err("failed to write JSON");
			r = EXIT_RUNTIME;
		}
		fputc('\n', stdout);
		json_decref(j);
	} else {
		probe_plan_print(stdout, plan);
	}
	free(plan);
	calibration_release();
	if (r)
		return r;
	return py_target_check_supported(&t, why, sizeof(why)) ? EXIT_UNSUPPORTED : EXIT_OK;
}
