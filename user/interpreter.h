/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Interpreter discovery: which ELF file holds the CPython that runs in a
 * process (a static python3.X or a libpython3.X.so), its version, its build
 * kind, its separate debug file, and whether pyobjlife supports it.
 */
#ifndef PYOBJLIFE_INTERPRETER_H
#define PYOBJLIFE_INTERPRETER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "py_version.h"

struct discovery_opts {
	const char *debug_dir; /* root of separate debug files, default /usr/lib/debug */
};

struct py_target {
	pid_t pid;		  /* 0 when only a binary was given */
	char path[PATH_MAX];	  /* the interpreter's ELF as the target sees it */
	char open_path[PATH_MAX]; /* the same file as this process can open it */
	/* deleted or replaced on disk since the process mapped it: open_path is its mapping's */
	bool replaced_on_disk;
	char exe[PATH_MAX]; /* the process's executable (or the binary given) */
	bool shared_lib;    /* libpython3.X.so rather than a static python3.X */
	int elf_type;	    /* ET_EXEC or ET_DYN */
	struct py_version version;
	char version_str[32];
	const char *version_source; /* "Py_Version", "_Py_DebugOffsets", "Py_GetVersion", ... */
	char abiflags[8];	    /* "", "d" (debug), "t" (free-threaded), "m" (3.7-) */
	bool debug_build;
	bool free_threaded;
	bool bias_known;	   /* load_bias is valid (a live process) */
	uint64_t load_bias;	   /* runtime address - link-time address */
	char debug_file[PATH_MAX]; /* separate debug file found by build-id, "" if none */
	char debug_note[192];	   /* why there is none, or where it came from */
	char build_id[41];
};

/*
 * Find the interpreter running in pid. Returns 0, or a negative code:
 * -ESRCH no such process (or a zombie: see `why`), -ENOEXEC no CPython in it,
 * -EACCES its maps or files are unreadable; `why` explains in one line.
 */
int py_target_from_pid(pid_t pid, const struct discovery_opts *o, struct py_target *t, char *why,
		       size_t why_cap);
/* The same for a file: a python executable or a libpython shared object. */
int py_target_from_binary(const char *path, const struct discovery_opts *o, struct py_target *t,
			  char *why, size_t why_cap);
/*
 * For a command about to be launched: resolve the executable through PATH and,
 * if it links libpython dynamically, the library the loader will pick.
 */
int py_target_from_command(const char *cmd, const struct discovery_opts *o, struct py_target *t,
			   char *why, size_t why_cap);

/*
 * The same interpreter in another process (a forked child: the same mappings):
 * open_path, which goes through /proc/PID, now goes through the child's, which
 * outlives the parent. 0 or -ENAMETOOLONG.
 */
int py_target_move_to(struct py_target *t, pid_t pid);

/* 0 when supported; otherwise -ENOTSUP with the reason in `why`. */
int py_target_check_supported(const struct py_target *t, char *why, size_t why_cap);

/* "libpython3.12.so.1.0" or "python3.11": the basename of t->path. */
const char *py_target_basename(const struct py_target *t);

/* Parse an interpreter file name: "libpython3.7m.so.1.0" -> 3, 7, "m". 0 or -EINVAL. */
int py_parse_interpreter_name(const char *basename, int *major, int *minor, char *abiflags,
			      size_t abicap);

#endif
