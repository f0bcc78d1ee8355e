// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include "calibration.h"
#include "elf_file.h"
#include "probe_plan.h"

const char *hook_source_name(enum hook_source s)
{
	switch (s) {
	case HOOK_SRC_SYMTAB:
		return "symtab";
	case HOOK_SRC_DYNSYM:
		return "dynsym";
	case HOOK_SRC_DEBUGFILE:
		return "debug file";
	case HOOK_SRC_USDT:
		return "usdt";
	default:
		return "none";
	}
}

static void add_site(struct hook *h, const char *symbol, enum hook_source src,
		     const struct elf_file *ef, uint64_t vaddr, uint64_t size)
{
	struct hook_site *s;

	if (h->n_sites >= HOOK_MAX_SITES)
		return;
	s = &h->sites[h->n_sites++];
	memset(s, 0, sizeof(*s));
	snprintf(s->symbol, sizeof(s->symbol), "%s", symbol);
	s->source = src;
	s->vaddr = vaddr;
	s->size = size;
	if (elf_file__vaddr_to_offset(ef, vaddr, &s->offset))
		s->offset = 0; /* data in .bss, e.g. _PyRuntime: no file offset */
}

/* Look a symbol up in the order the plan reports: symtab, dynsym, debug file. */
static bool find_symbol_site(struct hook *h, const char *name, const struct elf_file *ef,
			     const struct elf_file *dbg)
{
	struct elf_symbol s;

	if (!elf_file__find_symbol(ef, SYMTAB_STATIC, name, &s))
		add_site(h, name, HOOK_SRC_SYMTAB, ef, s.value, s.size);
	else if (!elf_file__find_symbol(ef, SYMTAB_DYNAMIC, name, &s))
		add_site(h, name, HOOK_SRC_DYNSYM, ef, s.value, s.size);
	else if (dbg && !elf_file__find_symbol(dbg, SYMTAB_STATIC, name, &s))
		add_site(h, name, HOOK_SRC_DEBUGFILE, ef, s.value, s.size);
	else
		return false;
	return true;
}

struct lto_ctx {
	const char *base;
	struct elf_symbol found;
	bool ok;
};

/* `base.lto_priv.N`: the function itself under LTO's local name, entered through pointers too */
static int match_lto_name(const struct elf_symbol *sym, void *ctx)
{
	struct lto_ctx *c = ctx;
	size_t n = strlen(c->base);

	if (c->ok || sym->type != STT_FUNC || strncmp(sym->name, c->base, n) ||
	    strncmp(sym->name + n, ".lto_priv.", 10) || strchr(sym->name + n + 10, '.'))
		return 0;
	c->found = *sym;
	c->ok = true;
	return 0;
}

/* As find_symbol_site, also accepting an LTO build's renamed static function. */
static bool find_function_site(struct hook *h, const char *name, const struct elf_file *ef,
			       const struct elf_file *dbg)
{
	struct lto_ctx c = { .base = name };

	if (find_symbol_site(h, name, ef, dbg))
		return true;
	elf_file__for_each_symbol(ef, SYMTAB_STATIC, match_lto_name, &c);
	if (c.ok) {
		add_site(h, c.found.name, HOOK_SRC_SYMTAB, ef, c.found.value, c.found.size);
		return true;
	}
	if (dbg)
		elf_file__for_each_symbol(dbg, SYMTAB_STATIC, match_lto_name, &c);
	if (c.ok)
		add_site(h, c.found.name, HOOK_SRC_DEBUGFILE, ef, c.found.value, c.found.size);
	return c.ok;
}

static void find_named_hook(struct hook *h, const char *name, const struct elf_file *ef,
			    const struct elf_file *dbg)
{
	if (!find_symbol_site(h, name, ef, dbg))
		snprintf(h->missing, sizeof(h->missing), "no %s symbol in %s%s", name,
			 dbg ? "the binary or its debug file" : "the binary",
			 dbg ? "" : " (stripped, and no debug file found)");
}

/*
 * Accept the collector and its whole-function compiler clones (.constprop.N,
 * .isra.N, .lto_priv.N); reject split-off fragments (.cold, .part.N), which are
 * entered from the middle of the real function.
 */
static bool is_collector_name(const char *name, const char *base)
{
	size_t n = strlen(base);
	const char *rest = name + n;

	if (strncmp(name, base, n) || (*rest && *rest != '.'))
		return false;
	return !strstr(rest, ".cold") && !strstr(rest, ".part");
}

struct collector_ctx {
	struct hook *h;
	const char *base;
	enum hook_source src;
	const struct elf_file *ef;
};

static int collect_clone(const struct elf_symbol *sym, void *ctx)
{
	struct collector_ctx *c = ctx;

	if (sym->type != STT_FUNC || !sym->size || !is_collector_name(sym->name, c->base))
		return 0;
	for (int i = 0; i < c->h->n_sites; i++) {
		if (c->h->sites[i].vaddr == sym->value)
			return 0; /* an alias of a site we have */
	}
	add_site(c->h, sym->name, c->src, c->ef, sym->value, sym->size);
	return 0;
}

static void find_collector(struct probe_plan *p, const struct elf_file *ef,
			   const struct elf_file *dbg)
{
	/* 3.8/3.9: static collect(); 3.10+: gc_collect_main() (Modules/gcmodule.c, Python/gc.c) */
	const char *base = p->target.version.minor <= 9 ? "collect" : "gc_collect_main";
	struct collector_ctx c = { .h = &p->collector, .base = base, .ef = ef };

	p->collector.name = base;
	c.src = HOOK_SRC_SYMTAB;
	elf_file__for_each_symbol(ef, SYMTAB_STATIC, collect_clone, &c);
	if (!p->collector.n_sites && dbg) {
		c.src = HOOK_SRC_DEBUGFILE;
		elf_file__for_each_symbol(dbg, SYMTAB_STATIC, collect_clone, &c);
	}
	if (!p->collector.n_sites)
		snprintf(p->collector.missing, sizeof(p->collector.missing),
			 "%s is a static function: it needs the binary's symbol table or a debug "
			 "file, and %s",
			 base,
			 dbg ? "neither has it" : "the binary is stripped with no debug file");
}

struct usdt_ctx {
	struct probe_plan *p;
	const struct elf_file *ef;
	int notes;
};

static int collect_usdt(const struct usdt_note *n, void *ctx)
{
	struct usdt_ctx *u = ctx;
	struct hook *h = NULL;
	char name[96];

	u->notes++;
	if (strcmp(n->provider, "python"))
		return 0;
	if (!strcmp(n->name, "gc__start"))
		h = &u->p->usdt_start;
	else if (!strcmp(n->name, "gc__done"))
		h = &u->p->usdt_done;
	if (!h)
		return 0;
	snprintf(name, sizeof(name), "%s:%s", n->provider, n->name);
	add_site(h, name, HOOK_SRC_USDT, u->ef, n->pc, 0);
	if (h->n_sites) {
		h->sites[h->n_sites - 1].semaphore = n->semaphore;
		snprintf(h->sites[h->n_sites - 1].args, sizeof(h->sites[0].args), "%s", n->args);
	}
	return 0;
}

static void note_missing_usdt(struct hook *h, bool have_notes)
{
	if (have_notes)
		snprintf(h->missing, sizeof(h->missing),
			 "the binary's USDT notes have no python:%s probe", h->name);
	else
		snprintf(h->missing, sizeof(h->missing),
			 "no .note.stapsdt section: CPython was built without --with-dtrace");
}

static void find_usdt(struct probe_plan *p, const struct elf_file *ef)
{
	struct usdt_ctx u = { .p = p, .ef = ef };
	bool have_notes = elf_file__for_each_usdt(ef, collect_usdt, &u) != -ENOENT;

	if (!p->usdt_start.n_sites)
		note_missing_usdt(&p->usdt_start, have_notes);
	if (!p->usdt_done.n_sites)
		note_missing_usdt(&p->usdt_done, have_notes);
}

/*
 * The start of _Py_DebugOffsets (3.13+) from the file image, which both layout
 * tables are checked against: NULL when the version has none or it is unreadable.
 */
static const unsigned char *read_debug_offsets(const struct probe_plan *p,
					       const struct elf_file *ef, unsigned char *buf,
					       size_t len)
{
	if (p->target.version.minor < 13 || !p->runtime.n_sites ||
	    elf_file__read_vaddr(ef, p->runtime.sites[0].vaddr, buf, len))
		return NULL;
	return buf;
}

_Static_assert(PY_DEBUG_FRAME_OFFSETS_READ_LEN >= PY_DEBUG_OFFSETS_READ_LEN,
	       "one read of _Py_DebugOffsets serves both decoders");

static const char unreadable_offsets[] =
	"_Py_DebugOffsets not readable from the file image; table used unchecked";

static void cross_check_layout(struct probe_plan *p, const unsigned char *image)
{
	struct py_debug_offsets d;
	const char *what;
	int bad;

	if (!image || py_debug_offsets_decode(image, PY_DEBUG_FRAME_OFFSETS_READ_LEN,
					      p->target.version.minor, &d)) {
		snprintf(p->layout_note, sizeof(p->layout_note), "%s", unreadable_offsets);
		return;
	}
	bad = gc_layout_cross_check(p->layout, &d, &what);
	p->layout_bad = bad > 0;
	if (bad)
		snprintf(p->layout_note, sizeof(p->layout_note),
			 "_Py_DebugOffsets disagrees with the table on %s: this build is not "
			 "supported",
			 what);
	else
		snprintf(p->layout_note, sizeof(p->layout_note),
			 "table agrees with the interpreter's _Py_DebugOffsets");
}

static int spot_lto_symbol(const struct elf_symbol *sym, void *ctx)
{
	if (!strstr(sym->name, ".lto_priv."))
		return 0;
	*(bool *)ctx = true;
	return 1;
}

/* GCC names the local functions it privatises across units *.lto_priv.N */
static void detect_lto(struct probe_plan *p, const struct elf_file *ef, const struct elf_file *dbg)
{
	elf_file__for_each_symbol(ef, SYMTAB_STATIC, spot_lto_symbol, &p->lto);
	if (!p->lto && dbg)
		elf_file__for_each_symbol(dbg, SYMTAB_STATIC, spot_lto_symbol, &p->lto);
}

static void cross_check_frame_layout(struct probe_plan *p, const unsigned char *image)
{
	struct py_debug_frame_offsets d;
	const char *what;
	int bad;

	if (!image || py_debug_frame_offsets_decode(image, PY_DEBUG_FRAME_OFFSETS_READ_LEN,
						    p->target.version.minor, &d)) {
		snprintf(p->frame_layout_note, sizeof(p->frame_layout_note), "%s",
			 unreadable_offsets);
		return;
	}
	bad = frame_layout_cross_check(p->frame_layout, &d, &what);
	p->frame_layout_bad = bad > 0;
	snprintf(p->frame_layout_note, sizeof(p->frame_layout_note),
		 bad ? "_Py_DebugOffsets disagrees with the table on %s: stacks are not supported"
		     : "table agrees with the interpreter's _Py_DebugOffsets%s",
		 bad ? what : "");
}

static void find_alloc_hooks(struct probe_plan *p, const struct elf_file *ef,
			     const struct elf_file *dbg)
{
	static const char *const typed_var[] = { "PyType_GenericAlloc", "_PyObject_GC_NewVar",
						 "_PyObject_NewVar" };
	static const char *const typed[] = { "_PyObject_GC_New", "_PyObject_New" };

	p->alloc_birth.name = "_Py_NewReference";
	p->alloc_birth.purpose = "every object born (uprobe)";
	p->alloc_typed_var.name = "alloc(type, n)";
	p->alloc_typed_var.purpose = "allocators taking a type and an item count (uprobe)";
	p->alloc_typed.name = "alloc(type)";
	p->alloc_typed.purpose = "allocators taking a type (uprobe)";
	/* a header inline in 3.8: no symbol to find */
	if (p->target.version.minor >= 9)
		find_named_hook(&p->alloc_birth, "_Py_NewReference", ef, dbg);
	else
		snprintf(p->alloc_birth.missing, sizeof(p->alloc_birth.missing),
			 "a static inline function in CPython 3.8 headers: no symbol");
	for (size_t i = 0; i < sizeof(typed_var) / sizeof(typed_var[0]); i++)
		find_named_hook(&p->alloc_typed_var, typed_var[i], ef, dbg);
	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++)
		find_named_hook(&p->alloc_typed, typed[i], ef, dbg);
}

/*
 * Deallocators hit once per death of their types in every build measured
 * (cpython-internals.md 2.4): instances of Python classes, lists, dicts,
 * tuples. Floats die through float_dealloc and, from 3.11, through
 * _PyFloat_ExactDealloc called by specialized bytecodes; LTO builds inline the
 * latter into the eval loop, so floats are followed only without LTO and with
 * both hooked. ints and strs have such bypasses too and are not followed.
 */
static void find_dealloc_hooks(struct probe_plan *p, const struct elf_file *ef,
			       const struct elf_file *dbg)
{
	static const struct {
		const char *symbol, *what;
	} always[] = { { "subtype_dealloc", "instances of Python classes" },
		       { "list_dealloc", "list" },
		       { "dict_dealloc", "dict" },
		       { "tupledealloc", "tuple" } };
	struct hook *h = &p->dealloc;
	char followed[192] = "", missed[192] = "";
	size_t fl = 0, ml = 0;

	h->name = "tp_dealloc";
	h->purpose = "deaths of followed objects (uprobe)";
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
		bool found = find_function_site(h, always[i].symbol, ef, dbg);
		char *buf = found ? followed : missed;
		size_t *len = found ? &fl : &ml;

		*len += snprintf(buf + *len, sizeof(followed) - *len, "%s%s", *len ? ", " : "",
				 always[i].what);
		if (*len >= sizeof(followed))
			*len = sizeof(followed) - 1;
	}
	if (!p->lto) {
		int before = h->n_sites;
		bool ok = find_function_site(h, "float_dealloc", ef, dbg);

		if (ok && p->target.version.minor >= 11)
			ok = find_function_site(h, "_PyFloat_ExactDealloc", ef, dbg);
		if (ok)
			fl += snprintf(followed + fl, sizeof(followed) - fl, ", float");
		else
			h->n_sites = before;
	}
	if (!h->n_sites)
		snprintf(h->missing, sizeof(h->missing),
			 "no deallocator symbol (subtype_dealloc, list_dealloc, ...): it needs "
			 "the symbol table or a debug file");
	snprintf(p->lifecycle_note, sizeof(p->lifecycle_note),
		 "%s%s%s%s; objects of other types are counted but not followed to their death "
		 "(their deallocators are not hooked, or specialized bytecodes free them "
		 "without one)",
		 fl ? "deaths followed for " : "no deaths followed", followed,
		 ml ? "; deallocator not found for " : "", missed);
}

static void find_arena_hooks(struct probe_plan *p, const struct elf_file *ef,
			     const struct elf_file *dbg)
{
	p->arena_alloc.name = "arena_alloc";
	p->arena_alloc.purpose = "pymalloc arena allocated (uprobe)";
	p->arena_free.name = "arena_free";
	p->arena_free.purpose = "pymalloc arena freed (uprobe)";
	/* Objects/obmalloc.c: the default arena allocator's functions, renamed in 3.12 */
	bool new_names = p->target.version.minor >= 12;
	const char *alloc = new_names ? "_PyMem_ArenaAlloc" : "_PyObject_ArenaMmap";
	const char *free_ = new_names ? "_PyMem_ArenaFree" : "_PyObject_ArenaMunmap";

	if (!find_function_site(&p->arena_alloc, alloc, ef, dbg))
		snprintf(p->arena_alloc.missing, sizeof(p->arena_alloc.missing),
			 "no %s symbol: it needs the symbol table or a debug file", alloc);
	if (!find_function_site(&p->arena_free, free_, ef, dbg))
		snprintf(p->arena_free.missing, sizeof(p->arena_free.missing),
			 "no %s symbol: it needs the symbol table or a debug file", free_);
}

static const char birth_note[] =
	"_Py_NewReference: every object the interpreter creates, free-list reuse included; "
	"sizes as sys.getsizeof() for fixed-size objects; str, and from 3.12 every variable-size "
	"object (its length is set after birth), count their fixed part only";
static const char typed_note[] =
	"allocator entry points taking the type (PyType_GenericAlloc, _PyObject_GC_New(Var), "
	"_PyObject_New(Var)): every instance of a Python class and objects C code allocates "
	"through them; floats, ints, strs, tuples, lists and dicts made through their own "
	"constructors or free lists are not seen";

static void choose_alloc_method(struct probe_plan *p, bool have_debug_file)
{
	bool can_tell_inlining = p->symtab || have_debug_file;
	int typed_sites = p->alloc_typed_var.n_sites + p->alloc_typed.n_sites;

	p->alloc_method = ALLOC_METHOD_NONE;
	if (!p->frame_layout) {
		snprintf(p->alloc_note, sizeof(p->alloc_note), "no stack layout for CPython %d.%d",
			 p->target.version.major, p->target.version.minor);
		return;
	}
	if (p->frame_layout_bad) {
		snprintf(p->alloc_note, sizeof(p->alloc_note), "%s", p->frame_layout_note);
		return;
	}
	if (p->alloc_birth.n_sites && !p->lto && can_tell_inlining) {
		p->alloc_method = ALLOC_METHOD_BIRTH;
		p->n_alloc_probes = 1;
		snprintf(p->alloc_note, sizeof(p->alloc_note), "%s", birth_note);
		return;
	}
	if (!typed_sites) {
		snprintf(p->alloc_note, sizeof(p->alloc_note), "no allocation hook found: %s",
			 p->alloc_typed_var.missing);
		return;
	}
	p->alloc_method = ALLOC_METHOD_TYPED;
	p->n_alloc_probes = typed_sites;
	snprintf(p->alloc_note, sizeof(p->alloc_note), "%s: %s",
		 p->lto ? "LTO build, _Py_NewReference is inlined into its callers"
		 : !p->alloc_birth.n_sites ? "no _Py_NewReference function"
					   : "stripped without a debug file, so inlining of "
					     "_Py_NewReference is unknown",
		 typed_note);
}

static void choose_method(struct probe_plan *p, enum gc_preference pref, bool launching)
{
	bool usdt = p->usdt_start.n_sites && p->usdt_done.n_sites;
	bool uprobe = p->collector.n_sites > 0;
	/* USDT programs are given the load bias by userspace; uprobes learn it when they fire */
	bool usdt_usable = usdt && (!launching || p->target.elf_type == ET_EXEC);

	p->gc_method = GC_METHOD_NONE;
	if (pref != GC_PREFER_UPROBE && usdt_usable) {
		p->gc_method = GC_METHOD_USDT;
		snprintf(p->gc_note, sizeof(p->gc_note),
			 "USDT python:gc__start/gc__done; collected and uncollectable from the "
			 "interpreter's generation_stats at both probes");
	} else if (pref != GC_PREFER_USDT && uprobe) {
		p->gc_method = GC_METHOD_UPROBE;
		snprintf(p->gc_note, sizeof(p->gc_note),
			 "entry and return uprobes on %s (%d site%s); generation, collected and "
			 "uncollectable from the interpreter's generation_stats",
			 p->collector.name, p->collector.n_sites,
			 p->collector.n_sites > 1 ? "s" : "");
	} else if (pref == GC_PREFER_USDT && !usdt_usable) {
		snprintf(p->gc_note, sizeof(p->gc_note), "--gc-probe usdt: %s",
			 !usdt ? p->usdt_start.missing
			       : "USDT in a position-independent binary needs a running process "
				 "(use -p)");
	} else if (pref == GC_PREFER_UPROBE && !uprobe) {
		snprintf(p->gc_note, sizeof(p->gc_note), "--gc-probe uprobe: %s",
			 p->collector.missing);
	} else {
		snprintf(p->gc_note, sizeof(p->gc_note),
			 "no way to observe collections: %s; and %s", p->usdt_start.missing,
			 p->collector.missing);
	}
	if (p->gc_method == GC_METHOD_USDT)
		p->n_probes = 2;
	else if (p->gc_method == GC_METHOD_UPROBE)
		p->n_probes = 2 * p->collector.n_sites;
}

int probe_plan_build(struct probe_plan *p, const struct py_target *t, enum gc_preference pref,
		     bool launching)
{
	/* sized for the longer of the two decoders (the frame offsets reach further) */
	unsigned char image_buf[PY_DEBUG_FRAME_OFFSETS_READ_LEN];
	const unsigned char *image;
	bool has_offsets;
	struct elf_file *ef, *dbg = NULL;
	int r = 0;

	memset(p, 0, sizeof(*p));
	p->target = *t;
	p->runtime.name = "_PyRuntime";
	p->runtime.purpose = "interpreter root (gc state address)";
	p->usdt_start.name = "gc__start";
	p->usdt_start.purpose = "collection start (USDT)";
	p->usdt_done.name = "gc__done";
	p->usdt_done.purpose = "collection end (USDT)";
	p->collector.purpose = "collector function (uprobe entry + return)";
	p->layout = gc_layout_lookup(t->version.major, t->version.minor);

	ef = elf_file__open(t->open_path);
	if (!ef) {
		snprintf(p->gc_note, sizeof(p->gc_note), "cannot open %s: %s", t->path,
			 strerror(errno));
		return -errno;
	}
	if (t->debug_file[0]) {
		dbg = elf_file__open(t->debug_file);
		p->debug_symbols = dbg ? elf_file__symbol_count(dbg, SYMTAB_STATIC) : 0;
	}
	p->symtab = elf_file__has_symtab(ef, SYMTAB_STATIC);
	p->dynsym = elf_file__has_symtab(ef, SYMTAB_DYNAMIC);
	find_named_hook(&p->runtime, "_PyRuntime", ef, dbg);
	find_usdt(p, ef);
	find_collector(p, ef, dbg);
	/* 3.13+ carry _Py_DebugOffsets at &_PyRuntime */
	has_offsets = t->version.minor >= 13 && p->runtime.n_sites;
	image = read_debug_offsets(p, ef, image_buf, sizeof(image_buf));
	if (p->layout && has_offsets)
		cross_check_layout(p, image);
	choose_method(p, pref, launching);
	p->frame_layout = frame_layout_lookup(t->version.major, t->version.minor);
	if (p->frame_layout && has_offsets)
		cross_check_frame_layout(p, image);
	detect_lto(p, ef, dbg);
	find_alloc_hooks(p, ef, dbg);
	choose_alloc_method(p, dbg != NULL);
	find_dealloc_hooks(p, ef, dbg);
	find_arena_hooks(p, ef, dbg);
	if (p->alloc_method == ALLOC_METHOD_TYPED)
		p->n_alloc_probes *= 2; /* and a return probe each, for the object's address */
	if (p->alloc_method != ALLOC_METHOD_NONE)
		p->n_alloc_probes += p->dealloc.n_sites;
	if (p->gc_method != GC_METHOD_NONE)
		p->n_probes += p->arena_alloc.n_sites + p->arena_free.n_sites;
	if (!p->runtime.n_sites) {
		p->gc_method = GC_METHOD_NONE;
		snprintf(p->gc_note, sizeof(p->gc_note), "%s", p->runtime.missing);
	}
	if (p->layout_bad) {
		/* attaching with offsets the interpreter contradicts would read garbage */
		p->gc_method = GC_METHOD_NONE;
		p->n_probes = 0;
		snprintf(p->gc_note, sizeof(p->gc_note), "%s", p->layout_note);
	}
	if (p->gc_method == GC_METHOD_NONE)
		r = -ENOENT;
	elf_file__close(dbg);
	elf_file__close(ef);
	return r;
}

void probe_plan_drop_deaths(struct probe_plan *p)
{
	if (p->alloc_method == ALLOC_METHOD_TYPED)
		p->n_alloc_probes -= p->alloc_typed_var.n_sites + p->alloc_typed.n_sites;
	if (p->alloc_method != ALLOC_METHOD_NONE)
		p->n_alloc_probes -= p->dealloc.n_sites;
	p->dealloc.n_sites = 0;
	snprintf(p->lifecycle_note, sizeof(p->lifecycle_note),
		 "no deaths followed: --no-lifetimes asked for allocation counts alone");
}

static const char *method_name(enum gc_method m)
{
	return m == GC_METHOD_USDT ? "usdt" : m == GC_METHOD_UPROBE ? "uprobe" : "none";
}

const char *alloc_method_name(enum alloc_method m)
{
	return m == ALLOC_METHOD_BIRTH ? "birth" : m == ALLOC_METHOD_TYPED ? "typed" : "none";
}

static void print_placement(FILE *out, const struct probe_plan *p);

static void print_hook(FILE *out, const struct hook *h)
{
	if (!h->n_sites) {
		fprintf(out, "  %-16s %-11s %s\n", h->name, "missing", h->missing);
		return;
	}
	for (int i = 0; i < h->n_sites; i++) {
		const struct hook_site *s = &h->sites[i];

		fprintf(out, "  %-16s %-11s 0x%-12lx ", i ? "" : h->name,
			hook_source_name(s->source), (unsigned long)s->vaddr);
		if (s->offset)
			fprintf(out, "0x%-10lx ", (unsigned long)s->offset);
		else
			fprintf(out, "%-12s ", "-");
		fprintf(out, "%s", s->symbol);
		if (s->semaphore)
			fprintf(out, " (semaphore 0x%lx, arg %s)", (unsigned long)s->semaphore,
				s->args);
		else if (s->size)
			fprintf(out, " (%lu bytes)", (unsigned long)s->size);
		fputc('\n', out);
	}
}

void probe_plan_print(FILE *out, const struct probe_plan *p)
{
	const struct py_target *t = &p->target;
	char why[256];
	bool ok = !py_target_check_supported(t, why, sizeof(why));

	fprintf(out, "interpreter:  %s (%s)\n", t->path,
		t->shared_lib ? "shared library" : "executable");
	if (t->replaced_on_disk)
		fprintf(out,
			"              deleted or replaced on disk since the process mapped it: "
			"read and probed through %s\n",
			t->open_path);
	if (strcmp(t->exe, t->path))
		fprintf(out, "executable:   %s\n", t->exe);
	if (t->pid)
		fprintf(out, "process:      %d (load bias 0x%lx)\n", (int)t->pid,
			(unsigned long)t->load_bias);
	fprintf(out, "version:      CPython %s (from %s)\n", t->version_str,
		t->version_source ? t->version_source : "?");
	fprintf(out, "build:        %s%s%s\n", t->debug_build ? "debug" : "release",
		t->free_threaded ? ", free-threaded" : ", GIL", ok ? ", supported" : "");
	if (!ok)
		fprintf(out, "unsupported:  %s\n", why);
	fprintf(out, "symbols:      .symtab %s, .dynsym %s\n", p->symtab ? "yes" : "no (stripped)",
		p->dynsym ? "yes" : "no");
	fprintf(out, "debug file:   %s%s%s\n", t->debug_file[0] ? t->debug_file : "none",
		t->debug_file[0] ? "" : ": ", t->debug_file[0] ? "" : t->debug_note);
	if (p->layout)
		fprintf(out, "gc layout:    %s%s%s\n", p->layout->source,
			p->layout_note[0] ? "; " : "", p->layout_note);
	fprintf(out, "\nhooks:\n  %-16s %-11s %-14s %-12s %s\n", "HOOK", "SOURCE", "ADDRESS",
		"FILE OFFSET", "SYMBOL / PROBE");
	print_hook(out, &p->runtime);
	print_hook(out, &p->usdt_start);
	print_hook(out, &p->usdt_done);
	print_hook(out, &p->collector);
	print_hook(out, &p->alloc_birth);
	print_hook(out, &p->alloc_typed_var);
	print_hook(out, &p->alloc_typed);
	print_hook(out, &p->dealloc);
	print_hook(out, &p->arena_alloc);
	print_hook(out, &p->arena_free);
	fprintf(out, "\ngc probes:    %s: %s\n", method_name(p->gc_method), p->gc_note);
	if (p->gc_method != GC_METHOD_NONE)
		fprintf(out, "attaches:     %d probe%s\n", p->n_probes,
			p->n_probes == 1 ? "" : "s");
	fprintf(out, "alloc probes: %s (--mode full): %s\n", alloc_method_name(p->alloc_method),
		p->alloc_note);
	if (p->frame_layout)
		fprintf(out, "stack layout: %s%s%s\n", p->frame_layout->source,
			p->frame_layout_note[0] ? "; " : "", p->frame_layout_note);
	fprintf(out, "lifecycle:    %s\n", p->lifecycle_note);
	if (p->alloc_method != ALLOC_METHOD_NONE)
		fprintf(out, "attaches:     %d more probe%s in full mode\n", p->n_alloc_probes,
			p->n_alloc_probes == 1 ? "" : "s");
	print_placement(out, p);
}

static json_t *placement_json(const struct hook_site *s)
{
	const struct probe_placement *pl = &s->place;
	char addr[32], off[32];
	json_t *j;

	snprintf(addr, sizeof(addr), "0x%lx", (unsigned long)(s->vaddr + pl->offset));
	snprintf(off, sizeof(off), "0x%lx", (unsigned long)(s->offset + pl->offset));
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?}", "offset", (int)pl->offset,
		      "address", addr, "file_offset", off, "instruction", pl->insn, "cost_class",
		      probe_cost_class_name(pl->cost), "reason", pl->reason, "entry_instruction",
		      pl->entry_insn, "entry_cost_class", probe_cost_class_name(pl->entry_cost),
		      "alternative", pl->alternative);
	if (j)
		json_object_set_new(j, "est_ns_per_hit",
				    pl->est_ns_per_hit > 0 ? json_real(pl->est_ns_per_hit)
							   : json_null());
	return j;
}

static json_t *site_json(const struct hook_site *s)
{
	char addr[32], off[32];
	json_t *j;

	snprintf(addr, sizeof(addr), "0x%lx", (unsigned long)s->vaddr);
	snprintf(off, sizeof(off), "0x%lx", (unsigned long)s->offset);
	j = json_pack("{s:s, s:s, s:s, s:s*, s:I}", "symbol", s->symbol, "source",
		      hook_source_name(s->source), "address", addr, "file_offset",
		      s->offset ? off : NULL, "size", (json_int_t)s->size);
	if (j && s->source == HOOK_SRC_USDT) {
		snprintf(addr, sizeof(addr), "0x%lx", (unsigned long)s->semaphore);
		json_object_set_new(j, "semaphore", s->semaphore ? json_string(addr) : json_null());
		json_object_set_new(j, "args", json_string(s->args));
	}
	if (j && s->place.cost != PROBE_COST_UNKNOWN)
		json_object_set_new(j, "placement", placement_json(s));
	return j;
}

static json_t *hook_json(const struct hook *h)
{
	json_t *sites = json_array();
	json_t *j;

	for (int i = 0; i < h->n_sites; i++)
		json_array_append_new(sites, site_json(&h->sites[i]));
	j = json_pack("{s:s, s:s, s:b, s:o}", "hook", h->name, "purpose", h->purpose, "found",
		      h->n_sites > 0, "sites", sites);
	if (j && !h->n_sites)
		json_object_set_new(j, "missing", json_string(h->missing));
	return j;
}

json_t *probe_plan_to_json(const struct probe_plan *p)
{
	const struct py_target *t = &p->target;
	char why[256];
	bool ok = !py_target_check_supported(t, why, sizeof(why));
	json_t *hooks = json_array(), *interp, *j;

	json_array_append_new(hooks, hook_json(&p->runtime));
	json_array_append_new(hooks, hook_json(&p->usdt_start));
	json_array_append_new(hooks, hook_json(&p->usdt_done));
	json_array_append_new(hooks, hook_json(&p->collector));
	json_array_append_new(hooks, hook_json(&p->alloc_birth));
	json_array_append_new(hooks, hook_json(&p->alloc_typed_var));
	json_array_append_new(hooks, hook_json(&p->alloc_typed));
	json_array_append_new(hooks, hook_json(&p->dealloc));
	json_array_append_new(hooks, hook_json(&p->arena_alloc));
	json_array_append_new(hooks, hook_json(&p->arena_free));
	interp =
		json_pack("{s:s, s:s, s:s, s:s?, s:b, s:s, s:b, s:b, s:s?, s:s, s:s?, s:b}", "path",
			  t->path, "executable", t->exe, "python_version", t->version_str,
			  "version_source", t->version_source, "shared_library", t->shared_lib,
			  "build", t->debug_build ? "debug" : "release", "free_threaded",
			  t->free_threaded, "debug_file_found", t->debug_file[0] != 0, "debug_file",
			  t->debug_file[0] ? t->debug_file : NULL, "debug_file_note", t->debug_note,
			  "build_id", t->build_id[0] ? t->build_id : NULL, "supported", ok);
	if (interp && !ok)
		json_object_set_new(interp, "unsupported_reason", json_string(why));
	if (interp && t->pid)
		json_object_set_new(interp, "pid", json_integer(t->pid));
	j = json_pack("{s:o, s:{s:b, s:b, s:I}, s:o, s:s, s:s, s:i}", "interpreter", interp,
		      "symbols", "symtab", p->symtab, "dynsym", p->dynsym, "debug_file_symbols",
		      (json_int_t)p->debug_symbols, "hooks", hooks, "gc_method",
		      method_name(p->gc_method), "gc_note", p->gc_note, "probes_to_attach",
		      p->n_probes);
	if (j)
		json_object_set_new(j, "allocations",
				    json_pack("{s:s, s:s, s:s, s:i, s:b, s:s?, s:s}", "method",
					      alloc_method_name(p->alloc_method), "note",
					      p->alloc_note, "lifecycle", p->lifecycle_note,
					      "probes_to_attach", p->n_alloc_probes, "lto", p->lto,
					      "stack_layout",
					      p->frame_layout ? p->frame_layout->source : NULL,
					      "stack_layout_check",
					      p->frame_layout_note[0] ? p->frame_layout_note
								      : "no check available"));
	if (j && p->placed)
		json_object_set_new(j, "probe_placement", probe_plan_placement_json(p));
	if (j && p->layout)
		json_object_set_new(j, "gc_layout",
				    json_pack("{s:s, s:s}", "source", p->layout->source, "check",
					      p->layout_note[0] ? p->layout_note
								: "no check "
								  "available"));
	return j;
}

static void append_probe(json_t *arr, const char *hook, const char *kind, const struct hook_site *s)
{
	json_t *j = site_json(s);

	if (!j)
		return;
	json_object_set_new(j, "hook", json_string(hook));
	json_object_set_new(j, "type", json_string(kind));
	json_array_append_new(arr, j);
}

static void append_alloc_probes(json_t *arr, const struct probe_plan *p)
{
	const struct hook *hooks[] = { &p->alloc_typed_var, &p->alloc_typed };

	if (p->alloc_method == ALLOC_METHOD_BIRTH) {
		append_probe(arr, "alloc", "uprobe", &p->alloc_birth.sites[0]);
		return;
	}
	for (size_t h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++) {
		for (int i = 0; i < hooks[h]->n_sites; i++) {
			append_probe(arr, "alloc", "uprobe", &hooks[h]->sites[i]);
			/* the object's address, for following it to its death */
			append_probe(arr, "alloc_return", "uretprobe", &hooks[h]->sites[i]);
		}
	}
}

static void append_hook_probes(json_t *arr, const char *name, const struct hook *h)
{
	for (int i = 0; i < h->n_sites; i++)
		append_probe(arr, name, "uprobe", &h->sites[i]);
}

json_t *probe_plan_attached_json(const struct probe_plan *p, bool with_alloc)
{
	json_t *arr = json_array();

	if (with_alloc) {
		append_alloc_probes(arr, p);
		append_hook_probes(arr, "dealloc", &p->dealloc);
	}
	append_hook_probes(arr, "arena_alloc", &p->arena_alloc);
	append_hook_probes(arr, "arena_free", &p->arena_free);

	if (p->gc_method == GC_METHOD_USDT) {
		append_probe(arr, "gc_start", "usdt", &p->usdt_start.sites[0]);
		append_probe(arr, "gc_end", "usdt", &p->usdt_done.sites[0]);
	} else if (p->gc_method == GC_METHOD_UPROBE) {
		for (int i = 0; i < p->collector.n_sites; i++) {
			append_probe(arr, "gc_start", "uprobe", &p->collector.sites[i]);
			append_probe(arr, "gc_end", "uretprobe", &p->collector.sites[i]);
		}
	}
	return arr;
}

/* ---- probe placement ---- */

static const char usdt_site[] = "a USDT site: the probe goes on its nop";
static const char typed_return_probe[] =
	"stays at +0: its return probe (the new object's address, to follow it) traps at the "
	"entry anyway, and the entry program pairs with it by the entry's stack pointer";
static const char shares_return_probe[] =
	"stays at +0: the return probe on this function must sit at its entry (the return "
	"address is on top of the stack only there), and the entry probe shares its trap";

int probe_plan_place(struct probe_plan *p, enum probe_placement_policy policy)
{
	/* what each hook's BPF program reads (bpf/pyobjlife.bpf.c): only registers, no stack */
	const struct {
		struct hook *h;
		struct probe_needs needs;
	} hooks[] = {
		{ &p->usdt_start, { .fixed = usdt_site } },
		{ &p->usdt_done, { .fixed = usdt_site } },
		{ &p->collector, { .fixed = shares_return_probe } },
		/* uprobe__alloc_birth: op */
		{ &p->alloc_birth, { .regs = GPR_BIT(GPR_RDI) } },
		/*
		 * typed allocators: a return probe (the new object's address) traps at the
		 * entry anyway, and the entry program pairs with it by the entry's %rsp
		 */
		{ &p->alloc_typed_var, { .fixed = typed_return_probe } },
		{ &p->alloc_typed, { .fixed = typed_return_probe } },
		/* uprobe__dealloc: op */
		{ &p->dealloc, { .regs = GPR_BIT(GPR_RDI) } },
		/* uprobe__arena_alloc / _free: nothing but the hit */
		{ &p->arena_alloc, { .regs = 0 } },
		{ &p->arena_free, { .regs = 0 } },
	};
	struct placement_image *img = placement_image_open(p->target.open_path);

	if (!img)
		return -errno;
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		struct hook *h = hooks[i].h;

		for (int s = 0; s < h->n_sites; s++) {
			struct hook_site *site = &h->sites[s];

			/* on failure the site keeps PROBE_COST_UNKNOWN and its entry address */
			placement_image_place(img, site->vaddr, site->size, site->symbol,
					      &hooks[i].needs, policy, &site->place);
		}
	}
	placement_image_close(img);
	p->placed = true;
	p->placement = policy;
	return 0;
}

json_t *probe_plan_placement_json(const struct probe_plan *p)
{
	return json_pack("{s:s, s:o}", "policy", probe_placement_policy_name(p->placement),
			 "calibration", calibration_to_json(p->calibration));
}

void probe_plan_set_calibration(struct probe_plan *p, const struct calibration *c)
{
	struct hook *hooks[] = { &p->usdt_start,  &p->usdt_done,       &p->collector,
				 &p->alloc_birth, &p->alloc_typed_var, &p->alloc_typed,
				 &p->dealloc,	  &p->arena_alloc,     &p->arena_free };

	p->calibration = c;
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		for (int s = 0; s < hooks[i]->n_sites; s++) {
			struct probe_placement *pl = &hooks[i]->sites[s].place;

			pl->est_ns_per_hit = calibration_measured_ns(c, pl->cost);
		}
	}
}

enum probe_cost_class probe_site_cost(const struct hook_site *site)
{
	return site->place.cost != PROBE_COST_UNKNOWN ? site->place.cost : site->place.entry_cost;
}

static unsigned site_classes(const struct hook *h)
{
	unsigned m = 0;

	for (int i = 0; i < h->n_sites; i++)
		m |= 1u << h->sites[i].place.cost;
	return m;
}

unsigned probe_plan_cost_classes(const struct probe_plan *p, bool with_alloc)
{
	unsigned m = 0;

	if (p->gc_method == GC_METHOD_USDT)
		m |= site_classes(&p->usdt_start) | site_classes(&p->usdt_done);
	else if (p->gc_method == GC_METHOD_UPROBE)
		m |= site_classes(&p->collector);
	if (with_alloc && p->alloc_method == ALLOC_METHOD_BIRTH)
		m |= site_classes(&p->alloc_birth);
	else if (with_alloc && p->alloc_method == ALLOC_METHOD_TYPED)
		m |= site_classes(&p->alloc_typed_var) | site_classes(&p->alloc_typed);
	if (with_alloc)
		m |= site_classes(&p->dealloc);
	return m | site_classes(&p->arena_alloc) | site_classes(&p->arena_free);
}

static void print_placed_hook(FILE *out, const char *use, const struct hook *h)
{
	for (int i = 0; i < h->n_sites; i++) {
		const struct probe_placement *pl = &h->sites[i].place;
		char at[16], est[24] = "-";

		if (pl->cost == PROBE_COST_UNKNOWN) {
			fprintf(out, "  %-18s %-5s %s: %s\n", i ? "" : use, "?", h->sites[i].symbol,
				pl->reason[0] ? pl->reason : "not placed");
			continue;
		}
		snprintf(at, sizeof(at), "+%u", pl->offset);
		if (pl->est_ns_per_hit > 0)
			snprintf(est, sizeof(est), "%.2f us", pl->est_ns_per_hit / 1000);
		fprintf(out, "  %-18s %-5s %-34s %-15s %-9s %s\n", i ? "" : use, at, pl->insn,
			probe_cost_class_name(pl->cost), est, h->sites[i].symbol);
		fprintf(out, "  %-18s       %s", "", pl->reason);
		if (pl->offset || pl->entry_cost != pl->cost)
			fprintf(out, "; at +0: %s (%s)", pl->entry_insn,
				probe_cost_class_name(pl->entry_cost));
		fputc('\n', out);
		if (pl->alternative)
			fprintf(out, "  %-18s       cheaper alternative: %s\n", "",
				pl->alternative);
	}
}

/* The probes a recording attaches, each at its chosen address. */
static void print_placement(FILE *out, const struct probe_plan *p)
{
	if (!p->placed)
		return;
	fprintf(out, "\nprobe placement (%s):\n", probe_placement_policy_name(p->placement));
	if (p->calibration) {
		const struct calibration *c = p->calibration;

		fprintf(out,
			"  measured here: %.2f us per emulated hit, %.2f us per single-stepped "
			"hit (%lu hits, %.0f ms)\n",
			calibration_measured_ns(c, PROBE_COST_EMULATED) / 1000,
			calibration_measured_ns(c, PROBE_COST_SINGLE_STEP) / 1000, c->hits,
			c->wall_ms);
	}
	fprintf(out, "  %-18s %-5s %-34s %-15s %-9s %s\n", "PROBE", "AT", "INSTRUCTION", "CLASS",
		"EST/HIT", "SYMBOL");
	if (p->gc_method == GC_METHOD_USDT) {
		print_placed_hook(out, "gc start (usdt)", &p->usdt_start);
		print_placed_hook(out, "gc end (usdt)", &p->usdt_done);
	} else if (p->gc_method == GC_METHOD_UPROBE) {
		print_placed_hook(out, "gc (entry+return)", &p->collector);
	}
	if (p->alloc_method == ALLOC_METHOD_BIRTH) {
		print_placed_hook(out, "alloc (full mode)", &p->alloc_birth);
	} else if (p->alloc_method == ALLOC_METHOD_TYPED) {
		print_placed_hook(out, "alloc (full mode)", &p->alloc_typed_var);
		print_placed_hook(out, p->alloc_typed_var.n_sites ? "" : "alloc (full mode)",
				  &p->alloc_typed);
	}
	if (p->alloc_method != ALLOC_METHOD_NONE)
		print_placed_hook(out, "death (full mode)", &p->dealloc);
	print_placed_hook(out, "arena alloc", &p->arena_alloc);
	print_placed_hook(out, "arena free", &p->arena_free);
}
