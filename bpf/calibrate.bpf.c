// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Calibration probe (user/calibration.c): counts its hits per probe cost class,
 * which the attach cookie carries, so userspace can check every call trapped.
 * Nothing else: what is timed is the trap and the kernel's handling of the
 * probed instruction.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define CALIBRATION_CLASSES 4

__u64 hits[CALIBRATION_CLASSES];

SEC("uprobe")
int uprobe__calibrate(struct pt_regs *ctx)
{
	__u64 k = bpf_get_attach_cookie(ctx);

	if (k < CALIBRATION_CLASSES)
		__sync_fetch_and_add(&hits[k], 1);
	return 0;
}
