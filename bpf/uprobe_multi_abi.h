/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * The kernel ABI of uprobe_multi links (Linux 6.6+), which Debian bookworm's
 * <linux/bpf.h> (6.1) and libbpf 1.1 do not have: the attach type, the return
 * flag and the BPF_LINK_CREATE attribute layout. pyobjlife.bpf.c checks every
 * value and offset here against vmlinux.h at each build.
 */
#ifndef PYOBJLIFE_UPROBE_MULTI_ABI_H
#define PYOBJLIFE_UPROBE_MULTI_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PYOBJLIFE_BPF_TRACE_UPROBE_MULTI    48 /* enum bpf_attach_type */
#define PYOBJLIFE_BPF_F_UPROBE_MULTI_RETURN 1u /* link_create.uprobe_multi.flags */

/* union bpf_attr as BPF_LINK_CREATE reads it for BPF_TRACE_UPROBE_MULTI */
struct pyobjlife_uprobe_multi_attr {
	__u32 prog_fd;
	__u32 target_fd; /* unused: 0 */
	__u32 attach_type;
	__u32 flags;	       /* link flags: 0 */
	__u64 path;	       /* const char *: the file probed */
	__u64 offsets;	       /* const __u64 *: file offsets */
	__u64 ref_ctr_offsets; /* const __u64 *: USDT semaphores, 0 for none */
	__u64 cookies;	       /* const __u64 *: what bpf_get_attach_cookie() returns */
	__u32 cnt;	       /* entries in offsets (and cookies) */
	__u32 um_flags;	       /* PYOBJLIFE_BPF_F_UPROBE_MULTI_RETURN */
	__u32 pid;	       /* only this process, 0 for every process */
	__u32 pad;
};

#endif /* PYOBJLIFE_UPROBE_MULTI_ABI_H */
