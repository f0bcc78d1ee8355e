// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * libFuzzer target: a whole ELF image, as corrupt as it comes, read the way
 * `pyobjlife probes --binary` and a recording read an interpreter file: every
 * elf_file accessor (symbols, segments, build-id, dynamic section, stapsdt
 * notes), interpreter discovery (version, build kind) and the probe plan with
 * its placement (capstone over the executable segments) and its JSON and text
 * renderings.
 *
 * The image goes to a file because that is what the code under test opens
 * (by path, with libelf's mmap reader); the file is named python3.13 so that a
 * mutated Py_Version still leaves a version to go on. Bytes 9-15 of e_ident
 * (EI_PAD, ignored by every ELF reader) steer the harness: which version to
 * plan for when discovery fails, whether the image is also its own debug file,
 * the collection-probe preference, launch or attach, the placement policy.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "elf_file.h"
#include "interpreter.h"
#include "probe_plan.h"

#define READ_MAX 64 /* bytes read at each symbol's address */

/* harness switches in e_ident[EI_PAD..] */
#define STEER_MINOR	     14 /* 3.(8 + n % 6) when discovery gives no version */
#define STEER_FLAGS	     15
#define STEER_OWN_DEBUG_FILE 0x01
#define STEER_PREF_SHIFT     1 /* two bits: enum gc_preference */
#define STEER_LAUNCHING	     0x08
#define STEER_ENTRY_POLICY   0x10

static char image_path[PATH_MAX];
static FILE *devnull;

/* Touch every byte of a string the reader handed out: ASan checks it lies in the image. */
static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

static int visit_symbol(const struct elf_symbol *sym, void *ctx)
{
	const struct elf_file *ef = ctx;
	uint8_t buf[READ_MAX];
	uint64_t offset;
	int64_t delta;
	size_t len = sym->size < sizeof(buf) ? (size_t)sym->size : sizeof(buf);

	touch(sym->name);
	if (!elf_file__vaddr_to_offset(ef, sym->value, &offset))
		elf_file__segment_delta(ef, offset, &delta);
	if (len)
		elf_file__read_vaddr(ef, sym->value, buf, len);
	return 0;
}

static int visit_usdt(const struct usdt_note *n, void *ctx)
{
	const struct elf_file *ef = ctx;
	uint64_t offset;

	touch(n->provider);
	touch(n->name);
	touch(n->args);
	elf_file__vaddr_to_offset(ef, n->pc, &offset);
	return 0;
}

static int visit_needed(const char *lib, void *ctx)
{
	(void)ctx;
	touch(lib);
	return 0;
}

static void read_elf_file(const char *path)
{
	struct elf_file *ef = elf_file__open(path);
	uint8_t id[64];

	if (!ef)
		return;
	elf_file__type(ef);
	for (int kind = SYMTAB_STATIC; kind <= SYMTAB_DYNAMIC; kind++) {
		elf_file__has_symtab(ef, kind);
		elf_file__symbol_count(ef, kind);
		elf_file__for_each_symbol(ef, kind, visit_symbol, ef);
	}
	elf_file__build_id(ef, id, sizeof(id));
	touch(elf_file__soname(ef));
	touch(elf_file__interp(ef));
	elf_file__for_each_needed(ef, visit_needed, NULL);
	elf_file__for_each_usdt(ef, visit_usdt, ef);
	elf_file__close(ef);
}

/* The target a failed discovery would have given, so that planning is fuzzed too. */
static void fallback_target(struct py_target *t, const char *path, uint8_t steer_minor)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "%s", path);
	snprintf(t->open_path, sizeof(t->open_path), "%s", path);
	t->version.major = 3;
	t->version.minor = 8 + steer_minor % 6;
}

static void render_plan(const struct probe_plan *p)
{
	json_t *views[] = { probe_plan_to_json(p), probe_plan_placement_json(p),
			    probe_plan_attached_json(p, true) };

	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		char *text = views[i] ? json_dumps(views[i], JSON_COMPACT) : NULL;

		free(text);
		json_decref(views[i]);
	}
	probe_plan_print(devnull, p);
	probe_plan_cost_classes(p, true);
}

static void plan_probes(const char *path, const uint8_t *ident)
{
	static struct probe_plan plan; /* some 30 KiB: not on the stack */
	struct discovery_opts o = { .debug_dir = "/nonexistent" };
	uint8_t flags = ident[STEER_FLAGS];
	struct py_target t;
	char why[512];

	if (py_target_from_binary(path, &o, &t, why, sizeof(why)))
		fallback_target(&t, path, ident[STEER_MINOR]);
	py_target_check_supported(&t, why, sizeof(why));
	if (flags & STEER_OWN_DEBUG_FILE)
		snprintf(t.debug_file, sizeof(t.debug_file), "%s", path);
	probe_plan_build(&plan, &t, (enum gc_preference)((flags >> STEER_PREF_SHIFT) % 3),
			 flags & STEER_LAUNCHING);
	probe_plan_place(&plan, flags & STEER_ENTRY_POLICY ? PLACEMENT_ENTRY : PLACEMENT_CHEAPEST);
	render_plan(&plan);
}

static int write_image(const uint8_t *data, size_t size)
{
	int fd = open(image_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err = 0;

	if (fd < 0)
		return -errno;
	while (size && !err) {
		ssize_t n = write(fd, data, size);

		if (n < 0)
			err = -errno;
		else
			data += n, size -= (size_t)n;
	}
	close(fd);
	return err;
}

static void remove_image(void)
{
	char dir[sizeof(image_path)];

	unlink(image_path);
	snprintf(dir, sizeof(dir), "%s", image_path);
	*strrchr(dir, '/') = 0;
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX - sizeof("/python3.13")];

	(void)argc;
	(void)argv;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/pyobjlife-fuzz-XXXXXX",
			     tmp && *tmp ? tmp : "/tmp") >= sizeof(dir) ||
	    !mkdtemp(dir)) {
		perror("fuzz_elf_notes: mkdtemp");
		exit(1);
	}
	snprintf(image_path, sizeof(image_path), "%s/python3.13", dir);
	devnull = fopen("/dev/null", "we");
	if (!devnull) {
		perror("fuzz_elf_notes: /dev/null");
		exit(1);
	}
	atexit(remove_image);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t ident[EI_NIDENT] = { 0 };

	memcpy(ident, data, size < sizeof(ident) ? size : sizeof(ident));
	if (write_image(data, size)) {
		perror("fuzz_elf_notes: writing the image");
		abort();
	}
	read_elf_file(image_path);
	plan_probes(image_path, ident);
	return 0;
}
