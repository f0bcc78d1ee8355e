// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/libbpf.h>
#include "system_checks.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define SYSFS_BTF  "/sys/kernel/btf/vmlinux"
#define UPROBE_PMU "/sys/bus/event_source/devices/uprobe/type"

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int check_privileges(char *why, size_t cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	char missing[96] = "";
	bool bpf_ok, perf_ok, ptrace_ok;

	if (geteuid() == 0)
		return 0;
	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(why, cap, "cannot read this process's capabilities: %s", strerror(errno));
		return -EPERM;
	}
	/* before 5.8 CAP_SYS_ADMIN was the only way in; it still implies both */
	bpf_ok = has_cap(data, CAP_BPF) || has_cap(data, CAP_SYS_ADMIN);
	perf_ok = has_cap(data, CAP_PERFMON) || has_cap(data, CAP_SYS_ADMIN);
	ptrace_ok = has_cap(data, CAP_SYS_PTRACE);
	if (bpf_ok && perf_ok && ptrace_ok)
		return 0;
	snprintf(missing, sizeof(missing), "%s%s%s", bpf_ok ? "" : " CAP_BPF",
		 perf_ok ? "" : " CAP_PERFMON", ptrace_ok ? "" : " CAP_SYS_PTRACE");
	snprintf(why, cap,
		 "insufficient privileges: run as root or grant CAP_BPF, CAP_PERFMON and "
		 "CAP_SYS_PTRACE (missing:%s)",
		 missing);
	return -EPERM;
}

int check_kernel(const char *btf_path, char *why, size_t cap)
{
	const char *btf = btf_path ? btf_path : SYSFS_BTF;

	if (access(btf, R_OK)) {
		if (btf_path)
			snprintf(why, cap, "cannot read the BTF file %s: %s", btf, strerror(errno));
		else
			snprintf(why, cap,
				 "kernel has no BTF (%s is missing): use a kernel built with "
				 "CONFIG_DEBUG_INFO_BTF=y, or pass --btf FILE",
				 SYSFS_BTF);
		return -ENOTSUP;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		snprintf(why, cap, "kernel lacks BPF ring buffers (Linux 5.8 or newer needed)");
		return -ENOTSUP;
	}
	if (access(UPROBE_PMU, R_OK)) {
		snprintf(why, cap, "kernel lacks uprobes (%s is missing: CONFIG_UPROBE_EVENTS)",
			 UPROBE_PMU);
		return -ENOTSUP;
	}
	return 0;
}
