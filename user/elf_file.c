// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elf_file.h"

#define NT_STAPSDT    3
#define STAPSDT_ADDRS 24 /* three 8-byte addresses lead a stapsdt note */

struct elf_file {
	int fd;
	Elf *elf;
	char *path;
	GElf_Ehdr ehdr;
	size_t shstrndx;
};

struct elf_file *elf_file__open(const char *path)
{
	struct elf_file *ef;
	int err = EINVAL;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	ef = calloc(1, sizeof(*ef));
	if (!ef) {
		errno = ENOMEM;
		return NULL;
	}
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0) {
		err = errno;
		goto fail;
	}
	ef->path = strdup(path);
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->path || !ef->elf) {
		err = ef->path ? ENOEXEC : ENOMEM;
		goto fail;
	}
	if (elf_kind(ef->elf) != ELF_K_ELF || !gelf_getehdr(ef->elf, &ef->ehdr) ||
	    elf_getshdrstrndx(ef->elf, &ef->shstrndx)) {
		err = ENOEXEC;
		goto fail;
	}
	return ef;
fail:
	elf_file__close(ef);
	errno = err;
	return NULL;
}

void elf_file__close(struct elf_file *ef)
{
	if (!ef)
		return;
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	free(ef->path);
	free(ef);
}

int elf_file__type(const struct elf_file *ef)
{
	return ef->ehdr.e_type;
}

static Elf_Scn *find_section_by_type(const struct elf_file *ef, Elf64_Word type, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (gelf_getshdr(scn, shdr) && shdr->sh_type == type)
			return scn;
	}
	return NULL;
}

static Elf_Scn *find_section_by_name(const struct elf_file *ef, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, shdr))
			continue;
		n = elf_strptr(ef->elf, ef->shstrndx, shdr->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

static Elf_Scn *symtab_section(const struct elf_file *ef, enum symtab_kind kind, GElf_Shdr *shdr)
{
	Elf_Scn *scn =
		find_section_by_type(ef, kind == SYMTAB_STATIC ? SHT_SYMTAB : SHT_DYNSYM, shdr);

	/* A debug file's sections may be NOBITS placeholders; only real tables count. */
	if (scn && (shdr->sh_entsize == 0 || shdr->sh_size == 0))
		return NULL;
	return scn;
}

bool elf_file__has_symtab(const struct elf_file *ef, enum symtab_kind kind)
{
	GElf_Shdr shdr;

	return symtab_section(ef, kind, &shdr) != NULL;
}

size_t elf_file__symbol_count(const struct elf_file *ef, enum symtab_kind kind)
{
	GElf_Shdr shdr;

	if (!symtab_section(ef, kind, &shdr))
		return 0;
	return shdr.sh_size / shdr.sh_entsize;
}

int elf_file__for_each_symbol(const struct elf_file *ef, enum symtab_kind kind,
			      int (*fn)(const struct elf_symbol *sym, void *ctx), void *ctx)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = symtab_section(ef, kind, &shdr);
	Elf_Data *data;
	size_t n;

	if (!scn)
		return -ENOENT;
	data = elf_getdata(scn, NULL);
	if (!data)
		return -EINVAL;
	n = shdr.sh_size / shdr.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		struct elf_symbol s;
		GElf_Sym sym;
		int r;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		s.name = elf_strptr(ef->elf, shdr.sh_link, sym.st_name);
		if (!s.name || !*s.name)
			continue;
		s.value = sym.st_value;
		s.size = sym.st_size;
		s.type = GELF_ST_TYPE(sym.st_info);
		s.bind = GELF_ST_BIND(sym.st_info);
		r = fn(&s, ctx);
		if (r)
			return r;
	}
	return 0;
}

struct find_ctx {
	const char *name;
	struct elf_symbol *out;
};

static int match_name(const struct elf_symbol *sym, void *ctx)
{
	struct find_ctx *f = ctx;

	if (strcmp(sym->name, f->name))
		return 0;
	*f->out = *sym;
	return 1;
}

int elf_file__find_symbol(const struct elf_file *ef, enum symtab_kind kind, const char *name,
			  struct elf_symbol *out)
{
	struct find_ctx f = { .name = name, .out = out };
	int r = elf_file__for_each_symbol(ef, kind, match_name, &f);

	if (r == 1)
		return 0;
	return r < 0 ? r : -ENOENT;
}

static int find_load_segment(const struct elf_file *ef, uint64_t vaddr, GElf_Phdr *out)
{
	size_t n;

	if (elf_getphdrnum(ef->elf, &n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ef->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_memsz) {
			*out = ph;
			return 0;
		}
	}
	return -ENOENT;
}

int elf_file__vaddr_to_offset(const struct elf_file *ef, uint64_t vaddr, uint64_t *offset)
{
	GElf_Phdr ph;
	int r = find_load_segment(ef, vaddr, &ph);

	if (r)
		return r;
	if (vaddr - ph.p_vaddr >= ph.p_filesz)
		return -ERANGE; /* .bss: not in the file */
	*offset = vaddr - ph.p_vaddr + ph.p_offset;
	return 0;
}

int elf_file__segment_delta(const struct elf_file *ef, uint64_t offset, int64_t *delta)
{
	size_t n;

	if (elf_getphdrnum(ef->elf, &n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		uint64_t start;

		if (!gelf_getphdr(ef->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		/* mappings start at page-aligned offsets below the segment's own */
		start = ph.p_offset & ~(uint64_t)0xfff;
		if (offset >= start && offset < ph.p_offset + ph.p_filesz) {
			*delta = (int64_t)(ph.p_vaddr - ph.p_offset);
			return 0;
		}
	}
	return -ENOENT;
}

int elf_file__read_vaddr(const struct elf_file *ef, uint64_t vaddr, void *buf, size_t len)
{
	uint64_t off, end_off;
	ssize_t got;
	int r;

	r = elf_file__vaddr_to_offset(ef, vaddr, &off);
	if (r)
		return r;
	r = elf_file__vaddr_to_offset(ef, vaddr + len - 1, &end_off);
	if (r || end_off != off + len - 1)
		return -ERANGE;
	got = pread(ef->fd, buf, len, (off_t)off);
	if (got < 0)
		return -errno;
	return (size_t)got == len ? 0 : -EIO;
}

int elf_file__build_id(const struct elf_file *ef, uint8_t *buf, size_t cap)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		Elf_Data *data;
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((char *)data->d_buf + name_off, "GNU", 4))
				continue;
			if (nh.n_descsz > cap || nh.n_descsz == 0)
				return -ERANGE;
			memcpy(buf, (char *)data->d_buf + desc_off, nh.n_descsz);
			return (int)nh.n_descsz;
		}
	}
	return -ENOENT;
}

static const char *dynamic_string(const struct elf_file *ef, Elf64_Sxword tag, size_t nth)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = find_section_by_type(ef, SHT_DYNAMIC, &shdr);
	Elf_Data *data;
	size_t n, seen = 0;

	if (!scn || !(data = elf_getdata(scn, NULL)) || !shdr.sh_entsize)
		return NULL;
	n = shdr.sh_size / shdr.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Dyn dyn;

		if (!gelf_getdyn(data, (int)i, &dyn))
			break;
		if (dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == tag && seen++ == nth)
			return elf_strptr(ef->elf, shdr.sh_link, dyn.d_un.d_val);
	}
	return NULL;
}

const char *elf_file__soname(const struct elf_file *ef)
{
	return dynamic_string(ef, DT_SONAME, 0);
}

int elf_file__for_each_needed(const struct elf_file *ef, int (*fn)(const char *lib, void *ctx),
			      void *ctx)
{
	const char *lib;

	for (size_t i = 0; (lib = dynamic_string(ef, DT_NEEDED, i)); i++) {
		int r = fn(lib, ctx);

		if (r)
			return r;
	}
	return 0;
}

const char *elf_file__interp(const struct elf_file *ef)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = find_section_by_name(ef, ".interp", &shdr);
	Elf_Data *data;

	/* a debug file's .interp is NOBITS: a size, and no bytes behind it */
	if (!scn || !(data = elf_getdata(scn, NULL)) || !data->d_buf || !data->d_size ||
	    !memchr(data->d_buf, 0, data->d_size))
		return NULL;
	return data->d_buf;
}

/* The string at *p, NUL-terminated before end; *p moves past it. False when unterminated. */
static bool take_string(const char **p, const char *end, const char **str)
{
	const char *nul = *p < end ? memchr(*p, 0, (size_t)(end - *p)) : NULL;

	if (!nul)
		return false;
	*str = *p;
	*p = nul + 1;
	return true;
}

/* pc, .stapsdt.base and semaphore addresses, then provider, name and argument strings */
static int parse_stapsdt(const char *desc, size_t len, struct usdt_note *n)
{
	const char *end = desc + len, *p;

	if (len < STAPSDT_ADDRS + 3)
		return -EINVAL;
	memcpy(&n->pc, desc, 8);
	memcpy(&n->semaphore, desc + 16, 8);
	p = desc + STAPSDT_ADDRS;
	if (!take_string(&p, end, &n->provider) || !take_string(&p, end, &n->name) ||
	    !take_string(&p, end, &n->args))
		return -EINVAL;
	return 0;
}

int elf_file__for_each_usdt(const struct elf_file *ef,
			    int (*fn)(const struct usdt_note *note, void *ctx), void *ctx)
{
	GElf_Shdr shdr, base_shdr;
	Elf_Scn *scn = find_section_by_name(ef, ".note.stapsdt", &shdr);
	bool have_base = find_section_by_name(ef, ".stapsdt.base", &base_shdr) != NULL;
	Elf_Data *data;
	GElf_Nhdr nh;
	size_t off = 0, name_off, desc_off;

	if (!scn || shdr.sh_type != SHT_NOTE)
		return -ENOENT;
	data = elf_getdata(scn, NULL);
	if (!data)
		return -EINVAL;
	while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		struct usdt_note n;
		uint64_t base;
		int r;

		if (nh.n_type != NT_STAPSDT || nh.n_namesz != 8 ||
		    memcmp((char *)data->d_buf + name_off, "stapsdt", 8))
			continue;
		if (parse_stapsdt((char *)data->d_buf + desc_off, nh.n_descsz, &n))
			continue;
		/* the note records where .stapsdt.base was at link time; follow a prelink */
		memcpy(&base, (char *)data->d_buf + desc_off + 8, 8);
		if (have_base && base)
			n.pc += base_shdr.sh_addr - base;
		r = fn(&n, ctx);
		if (r)
			return r;
	}
	return 0;
}
