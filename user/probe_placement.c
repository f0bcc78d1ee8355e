// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <capstone/capstone.h>
#include "probe_placement.h"

/* How far into the entry block a cheaper point is looked for. */
#define SCAN_MAX_INSNS 16
/* Larger functions are not decoded whole: their branch targets stay unknown. */
#define FUNCTION_DECODE_MAX (256 * 1024)
/* Bytes enough for one x86 instruction. */
#define INSN_MAX_BYTES 15

const char *probe_cost_class_name(enum probe_cost_class c)
{
	switch (c) {
	case PROBE_COST_EMULATED:
		return "emulated";
	case PROBE_COST_SINGLE_STEP:
		return "single-stepped";
	default:
		return "unknown";
	}
}

const char *probe_placement_policy_name(enum probe_placement_policy p)
{
	return p == PLACEMENT_ENTRY ? "entry" : "cheapest";
}

/* Each register's names at every width (capstone's spelling), the 64-bit one first. */
static const char *const gpr_aliases[GPR_COUNT][5] = {
	{ "rax", "eax", "ax", "al", "ah" }, { "rcx", "ecx", "cx", "cl", "ch" },
	{ "rdx", "edx", "dx", "dl", "dh" }, { "rbx", "ebx", "bx", "bl", "bh" },
	{ "rsp", "esp", "sp", "spl" },	    { "rbp", "ebp", "bp", "bpl" },
	{ "rsi", "esi", "si", "sil" },	    { "rdi", "edi", "di", "dil" },
	{ "r8", "r8d", "r8w", "r8b" },	    { "r9", "r9d", "r9w", "r9b" },
	{ "r10", "r10d", "r10w", "r10b" },  { "r11", "r11d", "r11w", "r11b" },
	{ "r12", "r12d", "r12w", "r12b" },  { "r13", "r13d", "r13w", "r13b" },
	{ "r14", "r14d", "r14w", "r14b" },  { "r15", "r15d", "r15w", "r15b" },
};

/* The general-purpose register a capstone register is part of (edi, di, dil: rdi), or -1. */
static int gpr_of(csh h, unsigned reg)
{
	const char *name = cs_reg_name(h, reg);

	for (int g = 0; name && g < GPR_COUNT; g++) {
		for (int w = 0; w < 5 && gpr_aliases[g][w]; w++) {
			if (!strcmp(name, gpr_aliases[g][w]))
				return g;
		}
	}
	return -1;
}

/* An instruction's bytes as the kernel's decoder splits them. */
struct raw_insn {
	bool rep, opsize, refused; /* f3; 66; a prefix the kernel refuses to probe */
	uint8_t rex;		   /* 0: none */
	const uint8_t *op;	   /* opcode, then the rest */
	size_t op_len;
};

static void split_prefixes(const cs_insn *insn, struct raw_insn *r)
{
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	for (; i < insn->size; i++) {
		uint8_t b = insn->bytes[i];

		if (b == 0xf3)
			r->rep = true;
		else if (b == 0x66)
			r->opsize = true;
		/* es/cs/ss/ds overrides and lock: uprobe registration fails on them */
		else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0xf0)
			r->refused = true;
		else if (b != 0xf2 && b != 0x64 && b != 0x65 && b != 0x67)
			break;
	}
	if (i < insn->size && (insn->bytes[i] & 0xf0) == 0x40)
		r->rex = insn->bytes[i++];
	r->op = insn->bytes + i;
	r->op_len = insn->size - i;
}

/*
 * What arch/x86/kernel/uprobes.c emulates instead of single-stepping, as
 * measured on 6.18 (uprobe-cost-model.md, section 1): branch_setup_xol_ops takes
 * NOPs (0x90 without REX.B, which makes it xchg with %r8, and here also without
 * REP: pause; 0f 1f /0 of any length), jmp rel8/rel32, call rel32 and jcc
 * rel8/rel32 without a 0x66 prefix; push_setup_xol_ops takes push of a register,
 * one byte or with exactly the REX prefix 0x41. Kernels differ at the edges
 * (newer ones know more NOP forms): calling something single-stepped that is
 * emulated only misses a cheaper point, never misplaces a probe.
 */
static bool kernel_emulates(const cs_insn *insn)
{
	struct raw_insn r;
	uint8_t op0, op1;

	split_prefixes(insn, &r);
	if (r.refused || !r.op_len)
		return false;
	op0 = r.op[0];
	op1 = r.op_len > 1 ? r.op[1] : 0;
	if (op0 == 0x90)
		return !r.rep && !(r.rex & 0x1);
	if (op0 == 0x0f && op1 == 0x1f && r.op_len > 2)
		return ((r.op[2] >> 3) & 7) == 0;
	if (op0 >= 0x50 && op0 <= 0x57)
		return insn->size == 1 || (insn->size == 2 && r.rex == 0x41);
	if (r.opsize)
		return false;
	if (op0 == 0xeb || op0 == 0xe9 || op0 == 0xe8 || (op0 >= 0x70 && op0 <= 0x7f))
		return true;
	return op0 == 0x0f && op1 >= 0x80 && op1 <= 0x8f;
}

static bool open_decoder(csh *h)
{
	if (cs_open(CS_ARCH_X86, CS_MODE_64, h) != CS_ERR_OK)
		return false;
	cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	cs_option(*h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	return true;
}

enum probe_cost_class probe_cost_class_of(const uint8_t *code, size_t len)
{
	enum probe_cost_class c = PROBE_COST_UNKNOWN;
	cs_insn *insn;
	csh h;

	if (!open_decoder(&h))
		return c;
	if (cs_disasm(h, code, len, 0, 1, &insn) == 1) {
		c = kernel_emulates(insn) ? PROBE_COST_EMULATED : PROBE_COST_SINGLE_STEP;
		cs_free(insn, 1);
	}
	cs_close(&h);
	return c;
}

static void insn_text(const cs_insn *insn, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s", insn->mnemonic, insn->op_str[0] ? " " : "", insn->op_str);
}

/* Equivalent hooks with an emulated point (uprobe-cost-model.md, section 6). */
static const struct {
	const char *symbol;
	const char *alternative;
} alternatives[] = {
	{ "_Py_Dealloc", "no emulated point (it tail-jumps through tp_dealloc): count frees in "
			 "the allocator, _PyObject_Free (3.12: je at +3) or PyObject_Free" },
	{ "PyObject_Free", "_PyObject_Free, pymalloc's static free behind it (3.12: je at +3)" },
	{ "PyObject_Malloc", "_PyObject_Malloc, pymalloc's static malloc behind it (3.12: push at "
			     "+0)" },
	{ "PyObject_GC_Del", "PyObject_Free, which it ends in (Debian 3.11: jne at +20)" },
	{ "_Py_NewReference", "the typed allocators PyType_GenericAlloc and _PyObject_GC_New "
			      "(push at +0), which see fewer objects" },
};

static const char *alternative_for(const char *symbol)
{
	if (!symbol)
		return NULL;
	for (size_t i = 0; i < sizeof(alternatives) / sizeof(alternatives[0]); i++) {
		if (!strcmp(symbol, alternatives[i].symbol))
			return alternatives[i].alternative;
	}
	return NULL;
}

/* Direct-branch targets inside the function, as offsets: one flag per byte. */
static bool *branch_targets(csh h, const cs_insn *insns, size_t n, uint64_t vaddr, size_t size)
{
	bool *t = calloc(size ? size : 1, sizeof(*t));

	if (!t)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const cs_x86 *x = &insns[i].detail->x86;

		if (!cs_insn_group(h, &insns[i], CS_GRP_JUMP) &&
		    !cs_insn_group(h, &insns[i], CS_GRP_CALL))
			continue;
		if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
			continue; /* indirect: its targets are unknown (see the header) */
		if ((uint64_t)x->operands[0].imm >= vaddr &&
		    (uint64_t)x->operands[0].imm < vaddr + size)
			t[(uint64_t)x->operands[0].imm - vaddr] = true;
	}
	return t;
}

static bool leaves_block(csh h, const cs_insn *insn)
{
	return cs_insn_group(h, insn, CS_GRP_JUMP) || cs_insn_group(h, insn, CS_GRP_CALL) ||
	       cs_insn_group(h, insn, CS_GRP_RET) || cs_insn_group(h, insn, CS_GRP_INT) ||
	       cs_insn_group(h, insn, CS_GRP_IRET) || cs_insn_group(h, insn, X86_GRP_PRIVILEGE) ||
	       insn->id == X86_INS_UD2 || insn->id == X86_INS_HLT;
}

/* The general-purpose registers an instruction writes, explicit and implicit. */
static int written_gprs(csh h, const cs_insn *insn, uint32_t *out)
{
	cs_regs rd, wr;
	uint8_t n_rd, n_wr;

	*out = 0;
	if (cs_regs_access(h, insn, rd, &n_rd, wr, &n_wr) != CS_ERR_OK)
		return -EINVAL;
	for (int i = 0; i < n_wr; i++) {
		int g = gpr_of(h, wr[i]);

		if (g >= 0)
			*out |= GPR_BIT(g);
	}
	return 0;
}

/* A store into the stack frame: it could overwrite the caller's stack arguments. */
static bool writes_stack_memory(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	for (int i = 0; i < x->op_count; i++) {
		const cs_x86_op *o = &x->operands[i];

		if (o->type == X86_OP_MEM && (o->access & CS_AC_WRITE) &&
		    (o->mem.base == X86_REG_RSP || o->mem.base == X86_REG_RBP))
			return true;
	}
	return false;
}

static void regs_text(uint32_t regs, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = 0;
	for (int g = 0; g < GPR_COUNT && len < cap; g++) {
		if (regs & GPR_BIT(g))
			len += snprintf(buf + len, cap - len, "%s%%%s", len ? ", " : "",
					gpr_aliases[g][0]);
	}
}

struct scan {
	csh h;
	const cs_insn *insns;
	size_t n;
	uint64_t vaddr;
	const bool *targets;
	const struct probe_needs *needs;
};

/*
 * Walk the entry block from the second instruction: the index of the first
 * emulated one every call reaches with the needed registers intact, or 0 with
 * `why` saying what stopped the walk.
 */
static size_t scan_entry_block(const struct scan *s, char *why, size_t cap)
{
	uint32_t guarded = s->needs->regs | (s->needs->stack ? GPR_BIT(GPR_RSP) : 0);
	char insn[PROBE_INSN_TEXT], regs[96];

	for (size_t i = 0; i < s->n && i < SCAN_MAX_INSNS; i++) {
		const cs_insn *in = &s->insns[i];
		uint64_t off = in->address - s->vaddr;
		uint32_t written;

		insn_text(in, insn, sizeof(insn));
		if (i && s->targets[off]) {
			snprintf(why, cap, "+%lu (%s) is a jump target inside the function",
				 (unsigned long)off, insn);
			return 0;
		}
		if (i && kernel_emulates(in))
			return i;
		if (leaves_block(s->h, in)) {
			snprintf(why, cap, "+%lu (%s) leaves the entry block first",
				 (unsigned long)off, insn);
			return 0;
		}
		if (written_gprs(s->h, in, &written)) {
			snprintf(why, cap, "+%lu (%s): its register writes are unknown",
				 (unsigned long)off, insn);
			return 0;
		}
		if (s->needs->stack && writes_stack_memory(in)) {
			snprintf(why, cap, "+%lu (%s) stores into the stack the program reads",
				 (unsigned long)off, insn);
			return 0;
		}
		if (written & guarded) {
			regs_text(written & guarded, regs, sizeof(regs));
			snprintf(why, cap, "+%lu (%s) writes %s, which the program reads",
				 (unsigned long)off, insn, regs);
			return 0;
		}
	}
	snprintf(why, cap, "no emulated instruction in the first %zu of the entry block",
		 s->n < SCAN_MAX_INSNS ? s->n : (size_t)SCAN_MAX_INSNS);
	return 0;
}

static void describe_needs(const struct probe_needs *needs, char *buf, size_t cap)
{
	char regs[96];

	regs_text(needs->regs, regs, sizeof(regs));
	snprintf(buf, cap, "%s%s%s", regs[0] ? regs : "no argument register",
		 needs->stack ? " and " : "", needs->stack ? "%rsp" : "");
}

static void stay_at_entry(struct probe_placement *out, const char *why)
{
	out->offset = 0;
	out->cost = out->entry_cost;
	snprintf(out->insn, sizeof(out->insn), "%s", out->entry_insn);
	snprintf(out->reason, sizeof(out->reason), "%s", why);
}

/* Decode the whole function and walk its entry block; fills out. */
static void place_in_function(csh h, const uint8_t *code, size_t size, uint64_t vaddr,
			      const struct probe_needs *needs, struct probe_placement *out)
{
	char why[160], intact[128];
	cs_insn *insns = NULL;
	bool *targets = NULL;
	size_t n, decoded = 0, pick = 0;

	n = cs_disasm(h, code, size, vaddr, 0, &insns);
	for (size_t i = 0; i < n; i++)
		decoded += insns[i].size;
	if (decoded != size) {
		snprintf(why, sizeof(why),
			 "stays at +0: the function does not decode past +%zu, so its jump targets "
			 "are unknown",
			 decoded);
		stay_at_entry(out, why);
		goto out;
	}
	targets = branch_targets(h, insns, n, vaddr, size);
	if (!targets) {
		stay_at_entry(out, "stays at +0: out of memory");
		goto out;
	}
	pick = scan_entry_block(&(struct scan){ .h = h,
						.insns = insns,
						.n = n,
						.vaddr = vaddr,
						.targets = targets,
						.needs = needs },
				why, sizeof(why));
	if (!pick) {
		char msg[sizeof(out->reason)];

		snprintf(msg, sizeof(msg), "stays at +0: %s", why);
		stay_at_entry(out, msg);
		goto out;
	}
	out->offset = (uint32_t)(insns[pick].address - vaddr);
	out->cost = PROBE_COST_EMULATED;
	insn_text(&insns[pick], out->insn, sizeof(out->insn));
	describe_needs(needs, intact, sizeof(intact));
	snprintf(out->reason, sizeof(out->reason),
		 "first emulated instruction; every call reaches it with %s as the caller set "
		 "%s",
		 intact, needs->regs & (needs->regs - 1) ? "them" : "it");
out:
	free(targets);
	if (insns)
		cs_free(insns, n);
}

int probe_place(const struct probe_site_code *code, const struct probe_needs *needs,
		enum probe_placement_policy policy, struct probe_placement *out)
{
	cs_insn *first;
	csh h;

	memset(out, 0, sizeof(*out));
	if (!open_decoder(&h)) {
		snprintf(out->reason, sizeof(out->reason), "capstone cannot decode x86-64");
		return -EINVAL;
	}
	if (cs_disasm(h, code->bytes, code->len < INSN_MAX_BYTES ? code->len : INSN_MAX_BYTES,
		      code->vaddr, 1, &first) != 1) {
		snprintf(out->reason, sizeof(out->reason), "the first instruction does not decode");
		cs_close(&h);
		return -EINVAL;
	}
	out->entry_cost = kernel_emulates(first) ? PROBE_COST_EMULATED : PROBE_COST_SINGLE_STEP;
	insn_text(first, out->entry_insn, sizeof(out->entry_insn));
	cs_free(first, 1);

	if (policy == PLACEMENT_ENTRY)
		stay_at_entry(out, "at the entry (--probe-placement entry)");
	else if (needs->fixed)
		stay_at_entry(out, needs->fixed);
	else if (out->entry_cost == PROBE_COST_EMULATED)
		stay_at_entry(out, "the entry instruction is emulated");
	else if (!code->size || code->size > code->len)
		stay_at_entry(out, "stays at +0: the function's size is unknown");
	else if (code->size > FUNCTION_DECODE_MAX)
		stay_at_entry(out, "stays at +0: the function is too large to decode whole");
	else
		place_in_function(h, code->bytes, code->size, code->vaddr, needs, out);
	if (out->cost == PROBE_COST_SINGLE_STEP)
		out->alternative = alternative_for(code->symbol);
	cs_close(&h);
	return 0;
}

static uint64_t rel32_target(const uint8_t *p, uint64_t next)
{
	int32_t rel;

	memcpy(&rel, p, sizeof(rel));
	return next + (int64_t)rel;
}

uint64_t probe_find_jump_into(const uint8_t *text, size_t len, uint64_t text_vaddr, uint64_t lo,
			      uint64_t hi, uint64_t skip_lo, uint64_t skip_hi)
{
	for (size_t i = 0; i + 5 <= len; i++) {
		uint64_t at = text_vaddr + i, target;

		if (at >= skip_lo && at < skip_hi)
			continue;
		if (text[i] == 0xe8 || text[i] == 0xe9)
			target = rel32_target(text + i + 1, at + 5);
		else if (text[i] == 0x0f && (text[i + 1] & 0xf0) == 0x80 && i + 6 <= len)
			target = rel32_target(text + i + 2, at + 6);
		else
			continue;
		if (target >= lo && target <= hi)
			return at;
	}
	return 0;
}

#define IMAGE_MAX_SEGMENTS 8

struct placement_image {
	int fd;
	Elf *elf;
	int n;
	struct {
		uint64_t vaddr;
		size_t size;
		const uint8_t *bytes;
	} seg[IMAGE_MAX_SEGMENTS];
};

void placement_image_close(struct placement_image *img)
{
	if (!img)
		return;
	if (img->elf)
		elf_end(img->elf);
	if (img->fd >= 0)
		close(img->fd);
	free(img);
}

/* Keep the file-backed part of each executable PT_LOAD. */
static int collect_exec_segments(struct placement_image *img)
{
	size_t n_phdr, file_size;
	const uint8_t *raw = (const uint8_t *)elf_rawfile(img->elf, &file_size);

	if (!raw || elf_getphdrnum(img->elf, &n_phdr))
		return -ENOEXEC;
	for (size_t i = 0; i < n_phdr && img->n < IMAGE_MAX_SEGMENTS; i++) {
		GElf_Phdr ph;

		/* the bounds without p_offset + p_filesz, which a corrupt header can wrap */
		if (!gelf_getphdr(img->elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    !(ph.p_flags & PF_X) || ph.p_offset > file_size ||
		    ph.p_filesz > file_size - ph.p_offset)
			continue;
		img->seg[img->n].vaddr = ph.p_vaddr;
		img->seg[img->n].size = ph.p_filesz;
		img->seg[img->n].bytes = raw + ph.p_offset;
		img->n++;
	}
	return img->n ? 0 : -ENOEXEC;
}

struct placement_image *placement_image_open(const char *path)
{
	struct placement_image *img;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	img = calloc(1, sizeof(*img));
	if (!img) {
		errno = ENOMEM;
		return NULL;
	}
	img->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0) {
		err = errno;
		goto fail;
	}
	img->elf = elf_begin(img->fd, ELF_C_READ_MMAP, NULL);
	if (!img->elf || elf_kind(img->elf) != ELF_K_ELF) {
		err = ENOEXEC;
		goto fail;
	}
	err = -collect_exec_segments(img);
	if (err)
		goto fail;
	return img;
fail:
	placement_image_close(img);
	errno = err;
	return NULL;
}

/* A jump from elsewhere in the file into (entry, probe]: the probe would fire off the entry path.
 */
static uint64_t jump_into_prologue(const struct placement_image *img, uint64_t vaddr, uint64_t size,
				   uint32_t offset)
{
	for (int i = 0; i < img->n; i++) {
		uint64_t from =
			probe_find_jump_into(img->seg[i].bytes, img->seg[i].size, img->seg[i].vaddr,
					     vaddr + 1, vaddr + offset, vaddr, vaddr + size);

		if (from)
			return from;
	}
	return 0;
}

int placement_image_place(const struct placement_image *img, uint64_t vaddr, uint64_t size,
			  const char *symbol, const struct probe_needs *needs,
			  enum probe_placement_policy policy, struct probe_placement *out)
{
	for (int i = 0; i < img->n; i++) {
		uint64_t start = img->seg[i].vaddr, end = start + img->seg[i].size, from;
		size_t avail;
		int err;

		if (vaddr < start || vaddr >= end)
			continue;
		avail = end - vaddr;
		err = probe_place(
			&(struct probe_site_code){ .bytes = img->seg[i].bytes + (vaddr - start),
						   .len = avail,
						   .size = size,
						   .vaddr = vaddr,
						   .symbol = symbol },
			needs, policy, out);
		if (err || !out->offset)
			return err;
		from = jump_into_prologue(img, vaddr, size, out->offset);
		if (from) {
			char why[sizeof(out->reason)];

			snprintf(why, sizeof(why),
				 "stays at +0: a jump at 0x%lx enters the entry block before the "
				 "emulated +%u",
				 (unsigned long)from, out->offset);
			stay_at_entry(out, why);
			out->alternative = out->cost == PROBE_COST_SINGLE_STEP
						   ? alternative_for(symbol)
						   : NULL;
		}
		return 0;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->reason, sizeof(out->reason), "0x%lx is not in an executable segment",
		 (unsigned long)vaddr);
	return -ENOENT;
}
