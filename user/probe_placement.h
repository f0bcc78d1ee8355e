/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/*
 * Where in a hooked function the uprobe goes. On x86-64 the kernel either
 * emulates the probed instruction (push of a register, NOP forms, jmp/call/jcc
 * with a relative target: ~0.7 us per hit here) or single-steps a copy of it out
 * of line (everything else: ~10 us). So the probe goes on the first emulated
 * instruction of the function's straight-line entry block, as long as
 *   - every call reaches it: no branch before it, and no jump lands between the
 *     entry and it (it would fire again, or without a call);
 *   - no instruction before it wrote a register the BPF program reads (its
 *     arguments), nor %rsp when the program reads stack arguments. A push only
 *     writes %rsp and memory, so moving past pushes keeps every argument
 *     register as the caller set it;
 *   - the site is not shared with a return probe (a uretprobe must sit at the
 *     entry, where the return address is on top of the stack).
 * Memory stores before the probe do not stop it (except into the stack frame,
 * for a program reading stack arguments): the hooks' programs read what the
 * caller built (the object's type and size, the type object), never what an
 * entry block stores (a reference count, saved registers).
 * Otherwise the probe stays at the entry, whatever its class.
 */
#ifndef PYOBJLIFE_PROBE_PLACEMENT_H
#define PYOBJLIFE_PROBE_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum probe_cost_class {
	PROBE_COST_UNKNOWN,	/* not placed (no code hook, or the bytes were unreadable) */
	PROBE_COST_EMULATED,	/* the kernel emulates the instruction after the trap */
	PROBE_COST_SINGLE_STEP, /* the kernel single-steps a copy: a second trap */
};

enum probe_placement_policy {
	PLACEMENT_CHEAPEST, /* the default */
	PLACEMENT_ENTRY,    /* every probe at offset 0, as before placement existed */
};

/* x86-64 general-purpose registers, hardware numbering; a register set is a bit mask. */
enum probe_gpr {
	GPR_RAX,
	GPR_RCX,
	GPR_RDX,
	GPR_RBX,
	GPR_RSP,
	GPR_RBP,
	GPR_RSI,
	GPR_RDI,
	GPR_R8,
	GPR_R9,
	GPR_R10,
	GPR_R11,
	GPR_R12,
	GPR_R13,
	GPR_R14,
	GPR_R15,
	GPR_COUNT,
};
#define GPR_BIT(r) (1u << (r))

/* What the BPF program attached to a hook needs from the trapped state. */
struct probe_needs {
	uint32_t regs;	   /* GPR_BIT()s of the argument registers it reads */
	bool stack;	   /* it reads stack arguments: %rsp and the frame must be the caller's */
	const char *fixed; /* non-NULL: the site cannot move, and why */
};

#define PROBE_INSN_TEXT 64

struct probe_placement {
	enum probe_cost_class cost; /* PROBE_COST_UNKNOWN: not placed, probe at the entry */
	uint32_t offset;	    /* from the function's start (the hook site) */
	char insn[PROBE_INSN_TEXT]; /* the probed instruction, AT&T syntax */
	enum probe_cost_class entry_cost;
	char entry_insn[PROBE_INSN_TEXT]; /* the instruction at offset 0 */
	char reason[192];		  /* why this offset */
	const char *alternative; /* an equivalent hook with a cheap point, when this one has none */
	double est_ns_per_hit;	 /* the calibrated cost of its class, 0 when not calibrated */
};

const char *probe_cost_class_name(enum probe_cost_class c);
const char *probe_placement_policy_name(enum probe_placement_policy p);

/* The kernel's treatment of the instruction at code[0] (len bytes available). */
enum probe_cost_class probe_cost_class_of(const uint8_t *code, size_t len);

/* The code of one hooked function. */
struct probe_site_code {
	const uint8_t *bytes; /* from the function's first byte */
	size_t len;	      /* readable at bytes: at least size */
	size_t size;	      /* the function's size, 0 when unknown (a USDT site) */
	uint64_t vaddr;	      /* link-time address of bytes[0] */
	const char *symbol;   /* for the alternatives list; may be NULL */
};

/*
 * Place a probe in one function. Always fills `out` (offset 0 when nothing
 * better is safe, or the size is unknown). Returns 0, or -EINVAL when not even
 * the first instruction decodes (out->cost stays PROBE_COST_UNKNOWN).
 */
int probe_place(const struct probe_site_code *code, const struct probe_needs *needs,
		enum probe_placement_policy policy, struct probe_placement *out);

/*
 * The first rel32 jmp, jcc or call in `text` (linked at text_vaddr) whose target
 * lies in [lo, hi], ignoring sources inside [skip_lo, skip_hi) (the function,
 * decoded exactly instead). Returns its address, or 0. A byte scan, not a
 * decode: a false match only keeps a probe at the entry.
 */
uint64_t probe_find_jump_into(const uint8_t *text, size_t len, uint64_t text_vaddr, uint64_t lo,
			      uint64_t hi, uint64_t skip_lo, uint64_t skip_hi);

/* An ELF file's executable segments, for placing the probes of its hooks. */
struct placement_image;

struct placement_image *placement_image_open(const char *path);
void placement_image_close(struct placement_image *img);

/*
 * Place a probe on the function of `size` bytes at link address `vaddr` (size 0:
 * unknown, e.g. a USDT site; only its first instruction is classified). Also
 * checks that no jump from elsewhere in the file enters the skipped prologue.
 * Returns 0, or -ENOENT when vaddr is not in executable code.
 */
int placement_image_place(const struct placement_image *img, uint64_t vaddr, uint64_t size,
			  const char *symbol, const struct probe_needs *needs,
			  enum probe_placement_policy policy, struct probe_placement *out);

#endif
