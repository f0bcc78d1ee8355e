// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <ctype.h>
#include <stdarg.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "elf_file.h"
#include "gc_layout.h"
#include "interpreter.h"
#include "proc.h"

#define DEFAULT_DEBUG_DIR "/usr/lib/debug"

static void set_why(char *why, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

const char *py_target_basename(const struct py_target *t)
{
	return base_name(t->path);
}

int py_parse_interpreter_name(const char *name, int *major, int *minor, char *abiflags,
			      size_t abicap)
{
	const char *p;
	size_t n = 0;
	bool lib;

	if (!strncmp(name, "libpython", 9)) {
		p = name + 9;
		lib = true;
	} else if (!strncmp(name, "python", 6)) {
		p = name + 6;
		lib = false;
	} else {
		return -EINVAL;
	}
	if (!isdigit((unsigned char)p[0]) || p[1] != '.' || !isdigit((unsigned char)p[2]))
		return -EINVAL;
	*major = p[0] - '0';
	p += 2;
	*minor = (int)strtol(p, (char **)&p, 10);
	while (islower((unsigned char)*p) && n + 1 < abicap)
		abiflags[n++] = *p++;
	abiflags[n] = 0;
	if (lib)
		return !strncmp(p, ".so", 3) ? 0 : -EINVAL;
	return *p == 0 ? 0 : -EINVAL;
}

static bool defines_symbol(const struct elf_file *ef, const char *name)
{
	struct elf_symbol s;

	return !elf_file__find_symbol(ef, SYMTAB_DYNAMIC, name, &s) ||
	       !elf_file__find_symbol(ef, SYMTAB_STATIC, name, &s);
}

/* Every CPython (2.x included) defines Py_GetVersion wherever its core lives. */
static bool is_cpython(const struct elf_file *ef)
{
	return defines_symbol(ef, "Py_GetVersion");
}

static void hex_string(const uint8_t *b, int n, char *out, size_t cap)
{
	size_t at = 0;

	for (int i = 0; i < n && at + 3 <= cap; i++)
		at += (size_t)snprintf(out + at, cap - at, "%02x", b[i]);
}

static bool same_build_id(const char *path, const uint8_t *id, int n)
{
	struct elf_file *ef = elf_file__open(path);
	uint8_t other[64];
	int m;

	if (!ef)
		return false;
	m = elf_file__build_id(ef, other, sizeof(other));
	elf_file__close(ef);
	return m == n && !memcmp(id, other, (size_t)n);
}

/* <debug_dir>/.build-id/ab/cdef....debug, looked up inside the target's root first. */
static void find_debug_file(struct py_target *t, const struct elf_file *ef,
			    const struct discovery_opts *o)
{
	const char *dir = o && o->debug_dir ? o->debug_dir : DEFAULT_DEBUG_DIR;
	char rel[PATH_MAX], cand[PATH_MAX];
	uint8_t id[64];
	int n = elf_file__build_id(ef, id, sizeof(id));

	t->debug_file[0] = 0;
	if (n <= 1) {
		set_why(t->debug_note, sizeof(t->debug_note), "the binary has no build-id note");
		return;
	}
	hex_string(id, n, t->build_id, sizeof(t->build_id));
	snprintf(rel, sizeof(rel), "%s/.build-id/%.2s/%s.debug", dir, t->build_id, t->build_id + 2);
	if (t->pid && !proc_host_path(t->pid, rel, cand, sizeof(cand)) && !access(cand, R_OK) &&
	    same_build_id(cand, id, n)) {
		snprintf(t->debug_file, sizeof(t->debug_file), "%s", cand);
		set_why(t->debug_note, sizeof(t->debug_note),
			"found by build-id in the target's root");
		return;
	}
	if (!access(rel, R_OK) && same_build_id(rel, id, n)) {
		snprintf(t->debug_file, sizeof(t->debug_file), "%s", rel);
		set_why(t->debug_note, sizeof(t->debug_note), "found by build-id");
		return;
	}
	set_why(t->debug_note, sizeof(t->debug_note), "no %s (build-id %s)", rel, t->build_id);
}

/* The static buffer Py_GetVersion() fills at startup: "3.8.18 (default, ...". */
static int version_from_live_buffer(struct py_target *t, const struct elf_file *ef)
{
	static const char *names[] = { "version.0", "version.1", "version" };
	struct elf_symbol s;
	struct py_version v;
	char buf[32], *sp;

	if (!t->pid || !t->bias_known)
		return -ENOENT;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (elf_file__find_symbol(ef, SYMTAB_STATIC, names[i], &s) || s.size < sizeof(buf))
			continue;
		if (proc_read_mem(t->pid, s.value + t->load_bias, buf, sizeof(buf)))
			continue;
		buf[sizeof(buf) - 1] = 0;
		sp = strchr(buf, ' ');
		if (!sp)
			continue;
		*sp = 0;
		if (py_version_parse(buf, &v) || !v.micro_known || v.major != t->version.major ||
		    v.minor != t->version.minor)
			continue;
		t->version = v;
		return 0;
	}
	return -ENOENT;
}

static void read_debug_offsets(struct py_target *t, const struct elf_file *ef)
{
	unsigned char buf[PY_DEBUG_OFFSETS_READ_LEN];
	struct py_debug_offsets d;
	struct elf_symbol rt;
	struct py_version v;

	if (elf_file__find_symbol(ef, SYMTAB_DYNAMIC, "_PyRuntime", &rt) &&
	    elf_file__find_symbol(ef, SYMTAB_STATIC, "_PyRuntime", &rt))
		return;
	if (elf_file__read_vaddr(ef, rt.value, buf, sizeof(buf)) ||
	    py_debug_offsets_decode(buf, sizeof(buf), t->version.minor, &d))
		return;
	if (d.free_threaded)
		t->free_threaded = true;
	if (!t->version.micro_known && !py_version_from_hex(d.version, &v)) {
		t->version = v;
		t->version_source = "_Py_DebugOffsets";
	}
}

static int identify_version(struct py_target *t, const struct elf_file *ef, char *why, size_t cap)
{
	struct elf_symbol s;
	uint64_t hex = 0;
	int major, minor;

	memset(&t->version, 0, sizeof(t->version));
	if (!py_parse_interpreter_name(base_name(t->path), &major, &minor, t->abiflags,
				       sizeof(t->abiflags))) {
		t->version.major = major;
		t->version.minor = minor;
		t->version_source = "file name";
	}
	/* Py_Version (3.11+) is PY_VERSION_HEX in .rodata: exact, no process needed */
	if ((!elf_file__find_symbol(ef, SYMTAB_DYNAMIC, "Py_Version", &s) ||
	     !elf_file__find_symbol(ef, SYMTAB_STATIC, "Py_Version", &s)) &&
	    !elf_file__read_vaddr(ef, s.value, &hex, s.size < 8 ? s.size : 8) &&
	    !py_version_from_hex(hex & 0xffffffff, &t->version)) {
		t->version_source = "Py_Version";
	}
	if (!t->version.major) {
		set_why(why, cap,
			"%s: CPython, but its version cannot be told from the file name "
			"or a Py_Version symbol",
			t->path);
		return -ENOEXEC;
	}
	if (t->version.major == 3 && t->version.minor >= 13)
		read_debug_offsets(t, ef);
	if (!t->version.micro_known && !version_from_live_buffer(t, ef))
		t->version_source = "Py_GetVersion() buffer in the process";
	if (strchr(t->abiflags, 't'))
		t->free_threaded = true;
	/* Py_REF_DEBUG, which every Py_DEBUG build has, exports reference totals */
	if (strchr(t->abiflags, 'd') || defines_symbol(ef, "_Py_RefTotal") ||
	    defines_symbol(ef, "_Py_INCREF_IncRefTotal") || defines_symbol(ef, "_Py_IncRefTotal"))
		t->debug_build = true;
	py_version_format(&t->version, t->version_str, sizeof(t->version_str));
	return 0;
}

static int fill_from_elf(struct py_target *t, const struct discovery_opts *o, char *why, size_t cap)
{
	struct elf_file *ef = elf_file__open(t->open_path);
	int r;

	if (!ef) {
		r = errno;
		set_why(why, cap, "cannot read %s: %s", t->path,
			r == ENOEXEC ? "not an ELF file" : strerror(r));
		return r == ENOEXEC ? -ENOEXEC : -EACCES;
	}
	if (!is_cpython(ef)) {
		set_why(why, cap, "%s does not contain a CPython interpreter (no Py_GetVersion)",
			t->path);
		elf_file__close(ef);
		return -ENOEXEC;
	}
	t->elf_type = elf_file__type(ef);
	t->shared_lib = !strncmp(base_name(t->path), "libpython", 9) ||
			(t->elf_type == ET_DYN && elf_file__soname(ef));
	if (t->elf_type == ET_EXEC) {
		t->load_bias = 0;
		t->bias_known = true;
	}
	r = identify_version(t, ef, why, cap);
	if (!r)
		find_debug_file(t, ef, o);
	elf_file__close(ef);
	return r;
}

struct map_search {
	struct proc_mapping m; /* the first mapping of the libpython */
	bool found;
};

static int find_libpython(const struct proc_mapping *m, void *ctx)
{
	struct map_search *s = ctx;
	int major, minor;
	char abi[8];

	if (s->found)
		return 1;
	if (py_parse_interpreter_name(base_name(m->path), &major, &minor, abi, sizeof(abi)) ||
	    strncmp(base_name(m->path), "libpython", 9))
		return 0;
	/* libpython3.so is the stable-ABI forwarder, not the interpreter */
	s->m = *m;
	s->found = true;
	return 0;
}

struct path_mapping {
	const char *path;
	struct proc_mapping m;
	bool found;
};

static int find_mapping_of(const struct proc_mapping *m, void *ctx)
{
	struct path_mapping *p = ctx;

	if (strcmp(m->path, p->path))
		return 0;
	p->m = *m;
	p->found = true;
	return 1;
}

/* bias = runtime address - link-time address, from one mapping of the file. */
static int compute_bias(struct py_target *t)
{
	struct path_mapping pm = { .path = t->path };
	struct elf_file *ef;
	int64_t delta;
	int r;

	r = proc_for_each_mapping(t->pid, find_mapping_of, &pm);
	if (r < 0)
		return r;
	if (!pm.found)
		return -ENOENT;
	ef = elf_file__open(t->open_path);
	if (!ef)
		return -errno;
	r = elf_file__segment_delta(ef, pm.m.offset, &delta);
	elf_file__close(ef);
	if (r)
		return r;
	t->load_bias = pm.m.start - pm.m.offset - (uint64_t)delta;
	t->bias_known = true;
	return 0;
}

/*
 * Where this process opens the interpreter file: through the target's root, or,
 * when the file was deleted or replaced on disk since the target mapped it (a
 * package upgrade under a running service), through /proc/PID/map_files, which
 * still holds the mapped one: the probes attach to that inode, and fire.
 */
static int set_open_path(struct py_target *t, const struct proc_mapping *m)
{
	struct path_mapping pm = { .path = t->path };

	if (!m) {
		if (proc_for_each_mapping(t->pid, find_mapping_of, &pm) < 0 || !pm.found)
			return proc_host_path(t->pid, t->path, t->open_path, sizeof(t->open_path));
		m = &pm.m;
	}
	t->replaced_on_disk = m->deleted;
	if (m->deleted)
		return proc_mapped_file_path(t->pid, m, t->open_path, sizeof(t->open_path));
	return proc_host_path(t->pid, t->path, t->open_path, sizeof(t->open_path));
}

static int read_exe_link(pid_t pid, char *out, size_t cap)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, out, cap - 1);
	if (n < 0)
		return -errno;
	out[n] = 0;
	proc_strip_deleted(out); /* its mapping says whether the file was replaced */
	return 0;
}

int py_target_move_to(struct py_target *t, pid_t pid)
{
	char prefix[32], rest[PATH_MAX];
	int n = snprintf(prefix, sizeof(prefix), "/proc/%d/", (int)t->pid);

	if (t->pid && !strncmp(t->open_path, prefix, (size_t)n)) {
		snprintf(rest, sizeof(rest), "%s", t->open_path + n);
		n = snprintf(t->open_path, sizeof(t->open_path), "/proc/%d/%s", (int)pid, rest);
		if (n < 0 || (size_t)n >= sizeof(t->open_path))
			return -ENAMETOOLONG;
	}
	t->pid = pid;
	return 0;
}

int py_target_from_pid(pid_t pid, const struct discovery_opts *o, struct py_target *t, char *why,
		       size_t cap)
{
	struct map_search s = { .found = false };
	enum proc_state st = proc_state(pid);
	int r;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	if (st == PROC_MISSING) {
		set_why(why, cap, "no process with PID %d", (int)pid);
		return -ESRCH;
	}
	if (st == PROC_ZOMBIE) {
		set_why(why, cap, "process %d has exited (zombie): nothing to attach to", (int)pid);
		return -ESRCH;
	}
	r = read_exe_link(pid, t->exe, sizeof(t->exe));
	if (r) {
		set_why(why, cap, "cannot read /proc/%d/exe: %s", (int)pid, strerror(-r));
		return r == -ENOENT ? -ESRCH : -EACCES;
	}
	r = proc_for_each_mapping(pid, find_libpython, &s);
	if (r < 0) {
		set_why(why, cap, "cannot read /proc/%d/maps: %s", (int)pid, strerror(-r));
		return r == -ENOENT ? -ESRCH : -EACCES;
	}
	snprintf(t->path, sizeof(t->path), "%s", s.found ? s.m.path : t->exe);
	r = set_open_path(t, s.found ? &s.m : NULL);
	if (r) {
		set_why(why, cap, "path too long: %s", t->path);
		return -EACCES;
	}
	/* the load bias first: the version may come from the process's memory */
	compute_bias(t);
	r = fill_from_elf(t, o, why, cap);
	if (r == -ENOEXEC && !s.found) {
		char comm[32];

		proc_comm(pid, comm, sizeof(comm));
		set_why(why, cap,
			"process %d (%s, %s) is not a CPython process: neither its "
			"executable nor a mapped libpython holds the interpreter",
			(int)pid, comm, t->exe);
	}
	if (!r && !t->bias_known) {
		set_why(why, cap, "cannot locate %s in the memory map of %d", t->path, (int)pid);
		return -ESRCH;
	}
	return r;
}

int py_target_from_binary(const char *path, const struct discovery_opts *o, struct py_target *t,
			  char *why, size_t cap)
{
	char real[PATH_MAX];

	memset(t, 0, sizeof(*t));
	if (!realpath(path, real)) {
		set_why(why, cap, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? -ENOENT : -EACCES;
	}
	snprintf(t->path, sizeof(t->path), "%s", real);
	snprintf(t->open_path, sizeof(t->open_path), "%s", real);
	snprintf(t->exe, sizeof(t->exe), "%s", real);
	return fill_from_elf(t, o, why, cap);
}

static int search_path(const char *cmd, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX];

	if (strchr(cmd, '/')) {
		snprintf(out, cap, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)n, n ? path : ".");
		snprintf(out, cap, "%s/%s", dir, cmd);
		if (!access(out, X_OK))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

/* A "#!" script runs its interpreter: follow "#!/usr/bin/env python3" and "#!/path/python". */
static int follow_shebang(char *exe, size_t cap)
{
	char line[PATH_MAX], *p, *arg;
	FILE *f = fopen(exe, "re");

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f) || strncmp(line, "#!", 2)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = 0;
	p = line + 2 + strspn(line + 2, " \t");
	arg = p + strcspn(p, " \t");
	if (*arg) {
		*arg++ = 0;
		arg += strspn(arg, " \t");
	}
	if (!strcmp(base_name(p), "env") && *arg) {
		arg[strcspn(arg, " \t")] = 0;
		return search_path(arg, exe, cap);
	}
	snprintf(exe, cap, "%s", p);
	return 0;
}

struct needed_ctx {
	char lib[256];
};

static int want_libpython(const char *lib, void *ctx)
{
	struct needed_ctx *n = ctx;
	int major, minor;
	char abi[8];

	if (py_parse_interpreter_name(lib, &major, &minor, abi, sizeof(abi)))
		return 0;
	snprintf(n->lib, sizeof(n->lib), "%s", lib);
	return 1;
}

/* Ask the program's own dynamic loader where it will find `lib`, as ldd does. */
static int loader_resolve(const char *interp, const char *exe, const char *lib, char *out,
			  size_t cap)
{
	char line[PATH_MAX + 256];
	int fds[2], status, r = -ENOENT;
	pid_t child;
	FILE *f;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (child == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(fds[1], STDOUT_FILENO);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		execl(interp, interp, "--list", exe, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f) {
		close(fds[0]);
		waitpid(child, &status, 0);
		return -ENOMEM;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[256], path[PATH_MAX];

		if (sscanf(line, " %255s => %4095s", name, path) == 2 && !strcmp(name, lib) &&
		    path[0] == '/') {
			snprintf(out, cap, "%s", path);
			r = 0;
		}
	}
	fclose(f);
	waitpid(child, &status, 0);
	return r;
}

int py_target_from_command(const char *cmd, const struct discovery_opts *o, struct py_target *t,
			   char *why, size_t cap)
{
	struct needed_ctx needed = { { 0 } };
	char exe[PATH_MAX], real[PATH_MAX], lib[PATH_MAX], script[PATH_MAX];
	struct elf_file *ef;
	const char *interp;
	int r;

	r = search_path(cmd, exe, sizeof(exe));
	snprintf(script, sizeof(script), "%s", exe);
	if (!r)
		r = follow_shebang(exe, sizeof(exe));
	if (r || !realpath(exe, real)) {
		set_why(why, cap, "cannot find command %s: %s", cmd, strerror(r ? -r : errno));
		return -ENOENT;
	}
	ef = elf_file__open(real);
	if (!ef) {
		set_why(why, cap, "%s is not an ELF executable or a script run by one", real);
		return -ENOEXEC;
	}
	if (is_cpython(ef)) {
		elf_file__close(ef);
		return py_target_from_binary(real, o, t, why, cap);
	}
	elf_file__for_each_needed(ef, want_libpython, &needed);
	interp = elf_file__interp(ef);
	r = needed.lib[0] && interp ? loader_resolve(interp, real, needed.lib, lib, sizeof(lib))
				    : -ENOENT;
	elf_file__close(ef);
	if (r && strcmp(script, exe)) {
		/* e.g. a pyenv shim: a shell script that picks the interpreter at run time */
		set_why(why, cap,
			"%s is a script run by %s, not by CPython: give the Python "
			"interpreter itself (for a pyenv shim: $(pyenv which %s))",
			script, real, base_name(script));
		return -ENOEXEC;
	}
	if (r) {
		set_why(why, cap, "%s is not a CPython interpreter and does not link libpython%s",
			real, needed.lib[0] ? " that its loader can find" : "");
		return -ENOEXEC;
	}
	r = py_target_from_binary(lib, o, t, why, cap);
	snprintf(t->exe, sizeof(t->exe), "%s", real);
	return r;
}

int py_target_check_supported(const struct py_target *t, char *why, size_t cap)
{
	const struct py_version *v = &t->version;

	if (t->free_threaded) {
		set_why(why, cap,
			"CPython %s at %s is a free-threaded build: not supported "
			"(no per-generation collector, different object layout)",
			t->version_str, t->path);
		return -ENOTSUP;
	}
	if (t->debug_build) {
		set_why(why, cap,
			"CPython %s at %s is a debug (Py_DEBUG) build: not supported "
			"(its object and collector layouts differ from release builds)",
			t->version_str, t->path);
		return -ENOTSUP;
	}
	if (!py_version_supported(v) || !gc_layout_lookup(v->major, v->minor)) {
		set_why(why, cap,
			"CPython %s at %s is not supported: pyobjlife supports 3.8 to 3.13",
			t->version_str, t->path);
		return -ENOTSUP;
	}
	return 0;
}
