/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* Shims for the libbpf 1.1 headers Debian bookworm ships. */
#ifndef PYOBJLIFE_COMPAT_BPF_H
#define PYOBJLIFE_COMPAT_BPF_H

/* BPF_UPROBE/BPF_URETPROBE first appear in libbpf 1.2's bpf_tracing.h. */
#ifndef BPF_UPROBE
#define BPF_UPROBE(name, args...) BPF_KPROBE(name, ##args)
#endif
#ifndef BPF_URETPROBE
#define BPF_URETPROBE(name, args...) BPF_KRETPROBE(name, ##args)
#endif

#endif /* PYOBJLIFE_COMPAT_BPF_H */
