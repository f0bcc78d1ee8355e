// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "output_file.h"

static const char *file_kind(mode_t mode)
{
	return S_ISLNK(mode)	? "a symbolic link"
	       : S_ISDIR(mode)	? "a directory"
	       : S_ISFIFO(mode) ? "a FIFO"
	       : S_ISCHR(mode)	? "a character device"
	       : S_ISBLK(mode)	? "a block device"
	       : S_ISSOCK(mode) ? "a socket"
				: "not a regular file";
}

/* 0 if `path` is absent or a regular file; otherwise the refusal, explained. */
static int check_target(const char *path, char *why, size_t cap)
{
	struct stat st;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
		return -errno;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	snprintf(why, cap, "refusing to write %s: it is %s", path, file_kind(st.st_mode));
	return S_ISLNK(st.st_mode) ? -ELOOP : -EINVAL;
}

static char *dir_of(const char *path)
{
	char *copy = strdup(path), *d;

	if (!copy)
		return NULL;
	d = strdup(dirname(copy));
	free(copy);
	return d;
}

int output_file_precheck(const char *path, char *why, size_t cap)
{
	char *dir;
	int r = check_target(path, why, cap);

	if (r)
		return r;
	dir = dir_of(path);
	if (!dir)
		return -ENOMEM;
	if (access(dir, W_OK | X_OK)) {
		r = -errno;
		snprintf(why, cap, "cannot create %s: %s", path, strerror(errno));
	}
	free(dir);
	return r;
}

static void output_file_free(struct output_file *o)
{
	free(o->path);
	free(o->tmp);
	free(o);
}

/*
 * The stream's writes go straight to the file. The first failure (a full disk) is kept
 * for output_file_commit, which names it with the path in one line, and what follows is
 * dropped: the renderers never see a write error, so none reports it a second time
 * without its cause.
 */
static ssize_t write_or_keep_error(void *cookie, const char *buf, size_t len)
{
	struct output_file *o = cookie;
	size_t done = 0;

	while (!o->write_err && done < len) {
		ssize_t n = write(o->fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			o->write_err = n < 0 ? errno : EIO;
		else
			done += (size_t)n;
	}
	return (ssize_t)len;
}

static FILE *deferred_error_stream(struct output_file *o)
{
	cookie_io_functions_t io = { .write = write_or_keep_error };

	return fopencookie(o, "w", io);
}

struct output_file *output_file_open(const char *path, char *why, size_t cap)
{
	struct output_file *o = calloc(1, sizeof(*o));
	char *dir = dir_of(path), *base = strdup(path);
	int err;

	if (!o || !dir || !base || asprintf(&o->tmp, "%s/.%s.XXXXXX", dir, basename(base)) < 0) {
		free(dir);
		free(base);
		free(o);
		snprintf(why, cap, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	free(dir);
	free(base);
	o->path = strdup(path);
	/* mkstemp: O_CREAT|O_EXCL, so nothing planted at the name can be followed */
	o->fd = o->path ? mkostemp(o->tmp, O_CLOEXEC) : -1;
	if (o->fd < 0 || fchmod(o->fd, 0644) || !(o->stream = deferred_error_stream(o))) {
		err = o->path ? errno : ENOMEM;
		snprintf(why, cap, "cannot create a file next to %s: %s", path, strerror(err));
		if (o->fd >= 0) {
			close(o->fd);
			unlink(o->tmp);
		}
		output_file_free(o);
		errno = err;
		return NULL;
	}
	return o;
}

int output_stream_close(FILE *f)
{
	int err = 0;

	/* an earlier failed write left the stream's error flag and, usually, its errno */
	if (fflush(f) || ferror(f))
		err = errno ? -errno : -EIO;
	if (!err && fsync(fileno(f)) && errno != EINVAL)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* Flush the stream, then sync and close the file: 0 or the first error, as -errno. */
static int close_output(struct output_file *o)
{
	int err = fclose(o->stream) ? errno : 0;

	if (!err)
		err = o->write_err;
	if (!err && fsync(o->fd) && errno != EINVAL)
		err = errno;
	/* NFS reports some write errors only at close */
	if (close(o->fd) && !err)
		err = errno;
	return -err;
}

int output_file_commit(struct output_file *o, char *why, size_t cap)
{
	int err = close_output(o);

	if (err)
		snprintf(why, cap, "failed to write %s: %s", o->path, strerror(-err));
	else
		err = check_target(o->path, why, cap);
	if (!err && rename(o->tmp, o->path)) {
		err = -errno;
		snprintf(why, cap, "cannot move the output into %s: %s", o->path, strerror(errno));
	}
	if (err)
		unlink(o->tmp);
	output_file_free(o);
	return err;
}

void output_file_discard(struct output_file *o)
{
	fclose(o->stream);
	close(o->fd);
	unlink(o->tmp);
	output_file_free(o);
}
