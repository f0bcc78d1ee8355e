/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* Diagnostics go to stderr, one line each, prefixed with the program name. */
#ifndef PYOBJLIFE_LOG_H
#define PYOBJLIFE_LOG_H

extern int log_verbosity; /* 0 default, 1 -v, 2 -vv (libbpf debug output) */
extern int log_quiet;	  /* --quiet: only errors */

void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Route libbpf's messages through pr_*; its debug output only with -vv. */
void log_setup_libbpf(void);

#endif
