/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* Exit codes, documented in --help and README.md. Keep the three in sync. */
#ifndef PYOBJLIFE_EXIT_CODES_H
#define PYOBJLIFE_EXIT_CODES_H

enum pyobjlife_exit {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,     /* attach, BPF load or another runtime failure */
	EXIT_NO_TARGET = 2,   /* no such process, or it exited before we attached */
	EXIT_NOT_PYTHON = 3,  /* the process or binary holds no CPython interpreter */
	EXIT_UNSUPPORTED = 4, /* CPython found but unsupported: < 3.8, 2.x, debug, free-threaded */
	EXIT_PRIVILEGE = 5,   /* not root and lacking CAP_BPF + CAP_PERFMON (+ CAP_SYS_PTRACE) */
	EXIT_KERNEL = 6,      /* kernel without BTF, BPF ring buffers or uprobes */
	EXIT_OUTPUT = 7,      /* output file refused or could not be written */
	EXIT_INPUT = 8,	      /* report: the recording is unreadable, not a pyobjlife recording,
				 or lacks the data the format or weight needs */
	EXIT_USAGE = 64,      /* bad command line (EX_USAGE) */
};

#endif
