/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* Checks made before loading anything, each failing with one actionable line. */
#ifndef PYOBJLIFE_SYSTEM_CHECKS_H
#define PYOBJLIFE_SYSTEM_CHECKS_H

#include <stddef.h>

/* Root, or CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN) and CAP_SYS_PTRACE: 0 or -EPERM. */
int check_privileges(char *why, size_t cap);

/* Kernel BTF (or the file given), BPF ring buffers and the uprobe PMU: 0 or -ENOTSUP. */
int check_kernel(const char *btf_path, char *why, size_t cap);

#endif
