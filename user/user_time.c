/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "pyobjlife.h"
#include "user_time.h"

struct bpf_link *user_time_iter_attach(struct bpf_program *prog, pid_t pid, bool *filtered)
{
	union bpf_iter_link_info info = { .task.pid = (__u32)pid };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof(info));
	struct bpf_link *link = bpf_program__attach_iter(prog, &opts);

	*filtered = link != NULL;
	/* before Linux 6.1 the kernel refuses the filter (E2BIG): every task, then */
	if (!link)
		link = bpf_program__attach_iter(prog, NULL);
	return link;
}

int user_time_iter_read(struct bpf_link *iter, pid_t pid, uint64_t *ns)
{
	struct user_time_record buf[64];
	uint64_t sum = 0;
	size_t threads = 0;
	ssize_t n;
	int fd, err = 0;

	fd = bpf_iter_create(bpf_link__fd(iter));
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(buf[0]); i++) {
			if (pid && buf[i].tgid != (__u32)pid)
				continue;
			sum += buf[i].utime_ns;
			threads++;
		}
	}
	if (n < 0)
		err = -errno;
	close(fd);
	if (!err && !threads)
		err = -ESRCH;
	if (!err)
		*ns = sum;
	return err;
}
