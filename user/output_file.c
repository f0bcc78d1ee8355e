// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "output_file.h"

static int describe_refusal(const char *path, const struct stat *st, char *why, size_t cap)
{
	const char *kind = S_ISLNK(st->st_mode)	   ? "a symbolic link"
			   : S_ISDIR(st->st_mode)  ? "a directory"
			   : S_ISFIFO(st->st_mode) ? "a FIFO"
			   : S_ISCHR(st->st_mode)  ? "a character device"
			   : S_ISBLK(st->st_mode)  ? "a block device"
			   : S_ISSOCK(st->st_mode) ? "a socket"
						   : "not a regular file";

	snprintf(why, cap, "refusing to write %s: it is %s", path, kind);
	return S_ISLNK(st->st_mode) ? -ELOOP : -EINVAL;
}

int output_file_precheck(const char *path, char *why, size_t cap)
{
	char dir[4096], *slash;
	struct stat st;

	if (!lstat(path, &st)) {
		if (!S_ISREG(st.st_mode))
			return describe_refusal(path, &st, why, cap);
		if (access(path, W_OK)) {
			snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
		return -errno;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	if (access(dir, W_OK | X_OK)) {
		snprintf(why, cap, "cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

FILE *output_file_open(const char *path, char *why, size_t cap)
{
	struct stat st;
	FILE *f;
	int fd, err;

	/* O_NOFOLLOW refuses a final symlink, O_NONBLOCK keeps a FIFO from hanging us */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = errno;
		if (err == ELOOP || err == ENXIO) {
			if (!lstat(path, &st))
				describe_refusal(path, &st, why, cap);
			else
				snprintf(why, cap, "refusing to write %s: %s", path, strerror(err));
		} else {
			snprintf(why, cap, "cannot open %s: %s", path, strerror(err));
		}
		errno = err;
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = EINVAL;
		describe_refusal(path, &st, why, cap);
		close(fd);
		errno = err;
		return NULL;
	}
	if (ftruncate(fd, 0) || fcntl(fd, F_SETFL, 0)) {
		err = errno;
		snprintf(why, cap, "cannot truncate %s: %s", path, strerror(err));
		close(fd);
		errno = err;
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = errno;
		snprintf(why, cap, "cannot open %s: %s", path, strerror(err));
		close(fd);
		errno = err;
	}
	return f;
}

int output_file_close(FILE *f)
{
	int err = 0;

	if (fflush(f) || ferror(f))
		err = errno ? -errno : -EIO;
	if (!err && fsync(fileno(f)) && errno != EINVAL)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}
