// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "proc.h"

enum proc_state proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return PROC_MISSING;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm may contain spaces and parentheses: the state follows the last ')' */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return PROC_MISSING;
	if (p[2] == 'Z' || p[2] == 'X')
		return PROC_ZOMBIE;
	return PROC_ALIVE;
}

bool proc_strip_deleted(char *path)
{
	size_t n = strlen(path);

	if (n > 10 && !strcmp(path + n - 10, " (deleted)")) {
		path[n - 10] = 0;
		return true;
	}
	return false;
}

static int parse_maps_line(char *line, struct proc_mapping *m)
{
	unsigned long long start, end, offset;
	char perms[8];
	int path_at = 0;

	if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &path_at) <
		    4 ||
	    !path_at)
		return -EINVAL;
	m->start = start;
	m->end = end;
	m->offset = offset;
	snprintf(m->perms, sizeof(m->perms), "%.4s", perms);
	line[strcspn(line, "\n")] = 0;
	snprintf(m->path, sizeof(m->path), "%s", line + path_at);
	m->deleted = proc_strip_deleted(m->path);
	return 0;
}

int proc_for_each_mapping(pid_t pid, int (*fn)(const struct proc_mapping *m, void *ctx), void *ctx)
{
	struct proc_mapping m;
	char path[64], line[PATH_MAX + 128];
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (parse_maps_line(line, &m) || m.path[0] != '/')
			continue;
		r = fn(&m, ctx);
		if (r)
			break;
	}
	fclose(f);
	return r;
}

int proc_host_path(pid_t pid, const char *path, char *out, size_t cap)
{
	int n = snprintf(out, cap, "/proc/%d/root%s", (int)pid, path);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int proc_mapped_file_path(pid_t pid, const struct proc_mapping *m, char *out, size_t cap)
{
	int n = snprintf(out, cap, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m->start,
			 m->end);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int proc_read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

void proc_comm(pid_t pid, char *out, size_t cap)
{
	char path[64];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)cap, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
}
