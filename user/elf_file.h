/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Read-only view of an ELF file through libelf: symbols, segments, build-id,
 * dynamic section and USDT (stapsdt) notes. Functions returning int give 0 or
 * -errno; pointer-returning ones give NULL and set errno (libbpf's contract).
 */
#ifndef PYOBJLIFE_ELF_FILE_H
#define PYOBJLIFE_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

enum symtab_kind {
	SYMTAB_STATIC, /* .symtab: every symbol, gone once the file is stripped */
	SYMTAB_DYNAMIC /* .dynsym: exported symbols, always present in a shared object */
};

struct elf_symbol {
	const char *name; /* valid until the elf_file is closed */
	uint64_t value;	  /* link-time virtual address */
	uint64_t size;
	int type; /* STT_* */
	int bind; /* STB_* */
};

struct usdt_note {
	const char *provider; /* valid until the elf_file is closed */
	const char *name;
	const char *args;   /* e.g. "-4@112(%rsp)" */
	uint64_t pc;	    /* link-time address of the probe's nop */
	uint64_t semaphore; /* link-time address of its semaphore, 0 if none */
};

struct elf_file *elf_file__open(const char *path);
void elf_file__close(struct elf_file *ef);

/* ET_EXEC or ET_DYN, or another e_type. */
int elf_file__type(const struct elf_file *ef);
bool elf_file__has_symtab(const struct elf_file *ef, enum symtab_kind kind);
size_t elf_file__symbol_count(const struct elf_file *ef, enum symtab_kind kind);

/* Find a defined symbol by exact name in one table: 0, or -ENOENT. */
int elf_file__find_symbol(const struct elf_file *ef, enum symtab_kind kind, const char *name,
			  struct elf_symbol *out);
/* Call fn for every defined symbol of a table; stop early when fn returns non-zero. */
int elf_file__for_each_symbol(const struct elf_file *ef, enum symtab_kind kind,
			      int (*fn)(const struct elf_symbol *sym, void *ctx), void *ctx);

/* Translate a link-time virtual address to its offset in the file (what uprobes take). */
int elf_file__vaddr_to_offset(const struct elf_file *ef, uint64_t vaddr, uint64_t *offset);
/* Copy file-backed bytes at a link-time address (initialised data and code only). */
int elf_file__read_vaddr(const struct elf_file *ef, uint64_t vaddr, void *buf, size_t len);
/* p_vaddr - p_offset of the PT_LOAD containing file offset `offset` (load-bias maths). */
int elf_file__segment_delta(const struct elf_file *ef, uint64_t offset, int64_t *delta);

/* Build-id bytes; returns their count, or -ENOENT. */
int elf_file__build_id(const struct elf_file *ef, uint8_t *buf, size_t cap);
/* DT_SONAME, or NULL. */
const char *elf_file__soname(const struct elf_file *ef);
/* PT_INTERP (the dynamic loader), or NULL. */
const char *elf_file__interp(const struct elf_file *ef);
/* Call fn with each DT_NEEDED entry; stop early when fn returns non-zero. */
int elf_file__for_each_needed(const struct elf_file *ef, int (*fn)(const char *lib, void *ctx),
			      void *ctx);

/* Call fn for each stapsdt note, addresses adjusted for a prelinked .stapsdt.base. */
int elf_file__for_each_usdt(const struct elf_file *ef,
			    int (*fn)(const struct usdt_note *note, void *ctx), void *ctx);

#endif
