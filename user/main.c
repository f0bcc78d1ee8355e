// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <stdio.h>
#include "cli.h"
#include "commands.h"
#include "exit_codes.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct cli c;
	int rc = cli_parse(argc, argv, &c);

	if (rc)
		return rc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup_libbpf();
	switch (c.cmd) {
	case CMD_PROBES:
		return cmd_probes(&c);
	case CMD_REPORT:
		return cmd_report(&c);
	case CMD_RECORD:
	case CMD_GC:
		return cmd_record(&c);
	case CMD_TOP:
		return cmd_top(&c);
	default:
		return EXIT_USAGE;
	}
}
