// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "spawn.h"

int spawn_held(char *const argv[], struct spawned *s)
{
	int fds[2];

	s->exited = false;
	s->status = 0;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	s->pid = fork();
	if (s->pid < 0) {
		int err = -errno;

		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (s->pid == 0) {
		char go;
		ssize_t n;

		/* the command gets default dispositions, not pyobjlife's handlers */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		close(fds[1]);
		do
			n = read(fds[0], &go, 1);
		while (n < 0 && errno == EINTR);
		/* EOF without a byte means the parent gave up: do not run the command */
		if (n != 1)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "pyobjlife: error: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	s->go_fd = fds[1];
	return 0;
}

int spawn_release(struct spawned *s)
{
	ssize_t n = write(s->go_fd, "g", 1);
	int err = n == 1 ? 0 : -errno;

	if (err)
		spawn_poll_exit(s);
	close(s->go_fd);
	s->go_fd = -1;
	return err;
}

bool spawn_poll_exit(struct spawned *s)
{
	if (s->pid <= 0)
		return true;
	if (!s->exited && waitpid(s->pid, &s->status, WNOHANG) == s->pid)
		s->exited = true;
	return s->exited;
}

void spawn_abort(struct spawned *s)
{
	/* kill(0) would hit our own process group */
	if (s->pid <= 0)
		return;
	if (s->go_fd >= 0) {
		close(s->go_fd);
		s->go_fd = -1;
	}
	if (!s->exited) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &s->status, 0);
		s->exited = true;
	}
}
