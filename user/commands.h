/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* The commands; each returns the process exit code (exit_codes.h). */
#ifndef PYOBJLIFE_COMMANDS_H
#define PYOBJLIFE_COMMANDS_H

#include "cli.h"

int cmd_probes(const struct cli *c);
/* record and gc: attach, collect, detach, report. */
int cmd_record(const struct cli *c);
/* report: render a saved recording; needs no privileges. */
int cmd_report(const struct cli *c);

/* Map a discovery error (-ESRCH, -ENOEXEC, ...) to an exit code. */
int exit_code_for_discovery(int err);

#endif
