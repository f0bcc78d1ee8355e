// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include "uprobe_multi.h"

static int link_create(struct pyobjlife_uprobe_multi_attr *attr)
{
	/* the kernel zero-extends a shorter attribute: only the fields we set count */
	int fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, attr, sizeof(*attr));

	return fd < 0 ? -errno : fd;
}

int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
			const uint64_t *cookies, unsigned cnt, pid_t pid, bool retprobe)
{
	struct pyobjlife_uprobe_multi_attr attr;

	if (prog_fd < 0 || !path || !offsets || !cnt)
		return -EINVAL;
	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (__u32)prog_fd;
	attr.attach_type = PYOBJLIFE_BPF_TRACE_UPROBE_MULTI;
	attr.path = (__u64)(uintptr_t)path;
	attr.offsets = (__u64)(uintptr_t)offsets;
	attr.cookies = (__u64)(uintptr_t)cookies;
	attr.cnt = cnt;
	attr.um_flags = retprobe ? PYOBJLIFE_BPF_F_UPROBE_MULTI_RETURN : 0;
	attr.pid = (__u32)pid;
	return link_create(&attr);
}

int uprobe_multi_probe(char *why, size_t cap)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = (enum bpf_attach_type)PYOBJLIFE_BPF_TRACE_UPROBE_MULTI);
	const uint64_t offset = 0;
	int prog, link, err;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "pyobjlife_um", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), &opts);
	if (prog < 0) {
		err = -errno;
		snprintf(why, cap, "a uprobe_multi program does not load: %s", strerror(-err));
		return err;
	}
	link = uprobe_multi_attach(prog, "/", &offset, NULL, 1, 0, false);
	close(prog);
	if (link >= 0) {
		/* a directory accepted: not the kernel this probe knows; do not trust it */
		close(link);
		snprintf(why, cap, "the kernel accepted a uprobe_multi link on a directory");
		return -ENOTSUP;
	}
	if (link != -EBADF) {
		snprintf(why, cap, "the kernel has no uprobe_multi links (BPF_LINK_CREATE: %s)",
			 strerror(-link));
		return link;
	}
	return 0;
}
