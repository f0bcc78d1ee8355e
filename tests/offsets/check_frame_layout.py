#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Check every field of pyobjlife's frame layout table against a build's DWARF.

gdb reads the offsets from the interpreter's own debug information (the file
itself for pyenv builds, the python3.11-dbg debug file for Debian's), so the
oracle is the compiler's view of CPython's structs, not our table. A field the
table marks absent (FRAME_LAYOUT_NONE) must be absent from the DWARF too: gdb
must refuse the member. Two fields are not in the DWARF: the pre-header type
flags are macros (the build's installed object.h) and whether a var object gets
ob_size only after birth is the order inside the inline _PyObject_InitVar
(internal/pycore_object.h); both are skipped with a note without the headers.
All questions go to one gdb run. Exit 0 pass, 1 mismatch, 77 skip.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import debug_file_of, fail, skip  # noqa: E402

NONE = "none"
ALL_FLAGS = (1 << 64) - 1  # size_unset_flags when no var object has its size at birth
MAX_FRAME_SIZE = 128
INSTR_LASTI_BYTES, INSTR_LASTI_UNITS, INSTR_POINTER = 1, 2, 3

# Runs inside gdb: answers every question in QUESTIONS, as JSON on one line.
GDB_SCRIPT = r'''
import json
import gdb

def answer(q):
    kind, arg = q
    try:
        if kind == "value":
            return {"value": int(gdb.parse_and_eval(arg))}
        if kind == "is_ptr":
            # through its address, which gdb computes without reading memory
            t = gdb.parse_and_eval("&(" + arg + ")").type.target().strip_typedefs()
            return {"value": int(t.code == gdb.TYPE_CODE_PTR)}
        if kind == "enum_max":
            t = gdb.lookup_type(arg).strip_typedefs()
            return {"value": max(int(f.enumval) for f in t.fields())}
        if kind == "symbol":
            # a function's address: static symbols need no running process
            gdb.parse_and_eval("&" + arg)
            return {"value": 1}
    except gdb.error as e:
        return {"error": str(e)}
    return {"error": "unknown question kind " + kind}

with open(QUESTIONS) as f:
    questions = json.load(f)
print("@@ANSWERS@@ " + json.dumps({k: answer(q) for k, q in questions.items()}))
'''


def off(ctype, member):
    return ("value", f"(long)&(({ctype} *)0)->{member}")


def size(ctype, member):
    return ("value", f"sizeof((({ctype} *)0)->{member})")


class Present:
    """The table's value must equal the DWARF's answer to `question`."""

    def __init__(self, question, must_be_ptr=False):
        self.question = question
        self.must_be_ptr = must_be_ptr


class Absent:
    """The table says NONE; gdb must say one of `names` does not exist."""

    def __init__(self, expr, *names):
        self.expr = expr
        self.names = names


class Unused:
    """The table says NONE although the member exists: this version does not need it."""

    def __init__(self, why):
        self.why = why


def absent_member(ctype, member):
    # the error must name a member of the path, so a misspelled type cannot pass
    return Absent(f"sizeof((({ctype} *)0)->{member})", *re.split(r"\.|->", member))


def offset_specs(minor):
    """What each offset field of the row means in 3.minor, as a gdb question."""
    ts, rt, interp, code = "PyThreadState", "_PyRuntimeState", "PyInterpreterState", "PyCodeObject"
    frame = "struct _frame" if minor <= 10 else "struct _PyInterpreterFrame"
    s = {}
    # the thread holding the GIL
    if minor <= 11:
        s["tstate_current_off"] = Present(off(rt, "gilstate.tstate_current"))
        s["interp_gil_ptr_off"] = absent_member(interp, "ceval.gil")
        s["gil_last_holder_off"] = Unused(
            "_gil_runtime_state.last_holder exists but is reached through _PyRuntime, "
            "not interp->ceval.gil; gilstate.tstate_current is read instead")
    else:
        s["tstate_current_off"] = absent_member(rt, "gilstate.tstate_current")
        s["interp_gil_ptr_off"] = Present(off(interp, "ceval.gil"), must_be_ptr=True)
        s["gil_last_holder_off"] = Present(off("struct _gil_runtime_state", "last_holder"))
    s["interp_threads_head_off"] = Present(
        off(interp, "tstate_head" if minor <= 10 else "threads.head"))
    s["tstate_next_off"] = Present(off(ts, "next"))
    s["tstate_thread_id_off"] = Present(off(ts, "thread_id"))
    # its innermost frame
    if minor <= 10:
        s["tstate_frame_off"] = Present(off(ts, "frame"))
    elif minor <= 12:
        s["tstate_frame_off"] = Present(off(ts, "cframe"))
    else:
        s["tstate_frame_off"] = Present(off(ts, "current_frame"))
    if minor in (11, 12):
        s["cframe_current_off"] = Present(off("_PyCFrame", "current_frame"))
    else:
        s["cframe_current_off"] = absent_member(ts, "cframe->current_frame")
    # the data stack chunk holding the innermost frames (3.11+)
    if minor <= 10:
        s["tstate_datastack_chunk_off"] = absent_member(ts, "datastack_chunk")
        s["tstate_datastack_top_off"] = absent_member(ts, "datastack_top")
    else:
        s["tstate_datastack_chunk_off"] = Present(off(ts, "datastack_chunk"), must_be_ptr=True)
        s["tstate_datastack_top_off"] = Present(off(ts, "datastack_top"), must_be_ptr=True)
    # one frame
    s["frame_code_off"] = Present(off(frame, "f_executable" if minor >= 13 else "f_code"))
    s["frame_previous_off"] = Present(off(frame, "f_back" if minor <= 10 else "previous"))
    s["frame_instr_off"] = Present(off(frame, instr_member(minor)))
    if minor <= 10:
        s["frame_owner_off"] = absent_member(frame, "owner")
    else:
        s["frame_owner_off"] = Present(off(frame, "owner"))
    # code objects
    if minor <= 10:
        s["code_adaptive_off"] = absent_member(code, "co_code_adaptive")
        s["code_code_off"] = Present(off(code, "co_code"))
        s["code_qualname_off"] = absent_member(code, "co_qualname")
        s["code_firsttraceable_off"] = absent_member(code, "_co_firsttraceable")
    else:
        s["code_adaptive_off"] = Present(off(code, "co_code_adaptive"))
        s["code_code_off"] = absent_member(code, "co_code")
        s["code_qualname_off"] = Present(off(code, "co_qualname"))
        s["code_firsttraceable_off"] = Present(off(code, "_co_firsttraceable"))
    s["code_filename_off"] = Present(off(code, "co_filename"))
    s["code_name_off"] = Present(off(code, "co_name"))
    s["code_firstlineno_off"] = Present(off(code, "co_firstlineno"))
    s["code_linetable_off"] = Present(off(code, "co_lnotab" if minor <= 9 else "co_linetable"))
    # str and bytes
    s["unicode_length_off"] = Present(off("PyASCIIObject", "length"))
    s["unicode_state_off"] = Present(off("PyASCIIObject", "state"))
    s["ascii_data_off"] = Present(("value", "sizeof(PyASCIIObject)"))
    s["compact_data_off"] = Present(("value", "sizeof(PyCompactUnicodeObject)"))
    s["bytes_size_off"] = Present(off("PyBytesObject", "ob_base.ob_size"))
    s["bytes_data_off"] = Present(off("PyBytesObject", "ob_sval"))
    # objects and types
    s["ob_type_off"] = Present(off("PyObject", "ob_type"))
    s["ob_size_off"] = Present(off("PyVarObject", "ob_size"))
    for f in ("name", "basicsize", "itemsize", "flags", "dealloc"):
        s[f"tp_{f}_off"] = Present(off("PyTypeObject", f"tp_{f}"))
    return s


def instr_member(minor):
    if minor <= 10:
        return "f_lasti"
    return "prev_instr" if minor <= 12 else "instr_ptr"


def frame_questions(minor):
    """Sizes of the frame members a walk reads, for frame_size."""
    frame = "struct _frame" if minor <= 10 else "struct _PyInterpreterFrame"
    members = {
        "frame_code_off": "f_executable" if minor >= 13 else "f_code",
        "frame_previous_off": "f_back" if minor <= 10 else "previous",
        "frame_instr_off": instr_member(minor),
    }
    if minor >= 11:
        members["frame_owner_off"] = "owner"
    q = {f"size:{k}": size(frame, m) for k, m in members.items()}
    q["instr_is_ptr"] = ("is_ptr", f"(({frame} *)0)->{instr_member(minor)}")
    # 3.10 divides f_lasti into code units: its f_lasti getter multiplies back to
    # bytes; 3.8 and 3.9 expose the int member as it is, with no getter
    q["frame_getlasti"] = ("symbol", "frame_getlasti")
    q["owner_cstack"] = ("value", "(int)FRAME_OWNED_BY_CSTACK")
    q["owner_max"] = ("enum_max", "enum _frameowner")
    return q


def header_flags(include_dir):
    """Py_TPFLAGS_* bits defined in the build's object.h files, or None without headers."""
    files = [os.path.join(include_dir, "object.h"), os.path.join(include_dir, "cpython", "object.h")]
    if not os.path.exists(files[0]):
        return None
    flags = {}
    for path in files:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for m in re.finditer(r"^#\s*define\s+Py_TPFLAGS_(\w+)\s+\(\s*1U?L*\s*<<\s*(\d+)\s*\)",
                                 f.read(), re.M):
                flags[m.group(1)] = 1 << int(m.group(2))
    return flags


def size_set_after_init(include_dir):
    """Whether the build's var-object initializer (_PyObject_InitVar, _PyObject_INIT_VAR
    up to 3.9) sets ob_size after _PyObject_Init: True, False, or None when unknown."""
    for rel in ("internal/pycore_object.h", "cpython/objimpl.h", "objimpl.h"):
        path = os.path.join(include_dir, rel)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            text = f.read()
        m = re.search(r"^_PyObject_Init_?Var\(PyVarObject \*op[^)]*\)\s*\{(.*?)^\}",
                      text, re.M | re.S | re.I)
        if not m:
            continue
        body = m.group(1)
        sets = re.search(r"Py_SET_SIZE\(op,|Py_SIZE\(op\)\s*=", body)
        init = re.search(r"_?PyObject_Init\(|PyObject_INIT\(", body)
        if sets and init:
            return sets.start() > init.start()
    return None


def ask_gdb(dwarf, questions):
    with tempfile.TemporaryDirectory() as tmp:
        qpath = os.path.join(tmp, "questions.json")
        spath = os.path.join(tmp, "answer.py")
        with open(qpath, "w") as f:
            json.dump(questions, f)
        with open(spath, "w") as f:
            f.write(f"QUESTIONS = {qpath!r}\n" + GDB_SCRIPT)
        out = subprocess.run(["gdb", "-nx", "-batch", "-x", spath, dwarf],
                             capture_output=True, text=True, timeout=600)
    m = re.search(r"^@@ANSWERS@@ (.*)$", out.stdout, re.M)
    if not m:
        print(out.stdout, out.stderr)
        fail("gdb gave no answers (does it have Python support?)")
    return json.loads(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True, help="tests/dump_frame_layout")
    ap.add_argument("--minor", type=int, required=True)
    ap.add_argument("--dwarf", help="file with the DWARF (an unstripped library)")
    ap.add_argument("--stripped", help="a stripped binary whose build-id debug file has it")
    ap.add_argument("--include", help="the build's include/python3.N (default: next to "
                    "--dwarf's lib/, or /usr/include/python3.N with --stripped)")
    args = ap.parse_args()
    if not shutil.which("gdb"):
        skip("gdb is not installed")
    if not args.dwarf and not args.stripped:
        fail("need --dwarf or --stripped")
    if args.stripped:
        args.dwarf = debug_file_of(args.stripped)
        include = args.include or f"/usr/include/python3.{args.minor}"
    else:
        include = args.include or os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(args.dwarf))), "include",
            f"python3.{args.minor}")
    if not os.path.exists(args.dwarf):
        skip(f"{args.dwarf} is not installed")
    dump = subprocess.run([args.dump, str(args.minor)], capture_output=True, text=True)
    if dump.returncode != 0:
        fail(f"the table has no row for 3.{args.minor}")
    table = dict(line.split() for line in dump.stdout.splitlines())

    minor = args.minor
    specs = offset_specs(minor)
    questions = frame_questions(minor)
    for name, spec in specs.items():
        if isinstance(spec, Present):
            questions[name] = spec.question
            if spec.must_be_ptr:
                questions[f"is_ptr:{name}"] = ("is_ptr", spec.question[1][len("(long)&"):])
        elif isinstance(spec, Absent):
            questions[name] = ("value", spec.expr)
    answers = ask_gdb(args.dwarf, questions)

    bad, notes = [], []
    present = absent = derived = from_headers = 0

    def got(key):
        return answers[key].get("value")

    def compare(name, expected, evidence):
        if table[name] != str(expected):
            bad.append(f"{name}: table {table[name]}, expected {expected} from {evidence}")

    # every field the dump prints must be checked here, and the other way round
    derived_names = {"frame_size", "instr_kind", "owner_skip_from", "preheader_flags",
                     "size_unset_flags"}
    unknown = set(table) - set(specs) - derived_names
    missing = (set(specs) | derived_names) - set(table)
    if unknown or missing:
        fail(f"dump and checker disagree on the fields: not checked {sorted(unknown)}, "
             f"not dumped {sorted(missing)}")

    for name, spec in specs.items():
        if isinstance(spec, Present):
            a = answers[name]
            if "error" in a:
                bad.append(f"{name}: table {table[name]}, gdb: {a['error']} ({spec.question[1]})")
                continue
            compare(name, a["value"], f"DWARF {spec.question[1]}")
            if spec.must_be_ptr and got(f"is_ptr:{name}") != 1:
                bad.append(f"{name}: DWARF says {spec.question[1]} is not a pointer")
            present += 1
        elif isinstance(spec, Absent):
            a = answers[name]
            said = a.get("error", "")
            missing_ok = any(re.search(rf"There is no member named {re.escape(n)}\.", said)
                             for n in spec.names)
            if not missing_ok:
                bad.append(f"{name}: expected absent, gdb answered {a} for {spec.expr}")
            compare(name, NONE, f"DWARF: {said}")
            absent += 1
        else:
            compare(name, NONE, spec.why)
            notes.append(f"{name} must be none, not compared with the DWARF: {spec.why}")

    # frame_size: one read must cover every frame member the walk reads
    ends = {}
    for key in questions:
        if key.startswith("size:"):
            field = key[len("size:"):]
            if "error" in answers[key] or "error" in answers[field]:
                bad.append(f"frame_size: no size for {field}: {answers[key]}")
                continue
            ends[field] = got(field) + got(key)
    if ends:
        need = max(ends.values())
        fs = int(table["frame_size"]) if table["frame_size"] != NONE else -1
        if not need <= fs <= MAX_FRAME_SIZE:
            bad.append(f"frame_size: table {table['frame_size']}, DWARF needs {need}.."
                       f"{MAX_FRAME_SIZE} (ends {ends})")
        derived += 1

    # instr_kind: pointer into the bytecode, or an int counted in bytes or in units
    if got("instr_is_ptr") == 1:
        compare("instr_kind", INSTR_POINTER, "DWARF (the instr member is a pointer)")
    elif got("instr_is_ptr") == 0:
        units = "error" not in answers["frame_getlasti"]
        compare("instr_kind", INSTR_LASTI_UNITS if units else INSTR_LASTI_BYTES,
                "DWARF (int f_lasti, frame_getlasti %s)" % ("present" if units else "absent"))
    else:
        bad.append(f"instr_kind: gdb: {answers['instr_is_ptr']}")
    derived += 1

    # owner_skip_from: FRAME_OWNED_BY_CSTACK, the last owner, where it exists
    cstack = answers["owner_cstack"]
    if "error" in cstack:
        if 'No symbol "FRAME_OWNED_BY_CSTACK"' not in cstack["error"]:
            bad.append(f"owner_skip_from: gdb: {cstack['error']}")
        compare("owner_skip_from", 255, "DWARF (no FRAME_OWNED_BY_CSTACK)")
    else:
        compare("owner_skip_from", cstack["value"], "DWARF (FRAME_OWNED_BY_CSTACK)")
        if got("owner_max") != cstack["value"]:
            bad.append(f"owner_skip_from: enum _frameowner goes up to {answers['owner_max']}, "
                       f"beyond FRAME_OWNED_BY_CSTACK {cstack['value']}")
    derived += 1

    # the type flags are macros and the initializer is inline: the build's headers
    # are the oracle
    flags = header_flags(include)
    if flags is None:
        notes.append(f"preheader_flags not compared: no {include}/object.h")
    else:
        pre = flags.get("MANAGED_DICT", 0) | flags.get("MANAGED_WEAKREF", 0)
        compare("preheader_flags", pre, f"{include}: Py_TPFLAGS_MANAGED_DICT|MANAGED_WEAKREF")
        from_headers += 1
    after = size_set_after_init(include) if flags is not None else None
    if after is None:
        notes.append(f"size_unset_flags not compared: no _PyObject_InitVar under {include}")
    else:
        compare("size_unset_flags", ALL_FLAGS if after else 0,
                f"{include}: _PyObject_InitVar sets ob_size %s _PyObject_Init"
                % ("after" if after else "before"))
        from_headers += 1

    for n in notes:
        print(f"note: {n}")
    if bad:
        print("FAIL: 3.%d %s:\n  %s" % (minor, args.dwarf, "\n  ".join(bad)))
        sys.exit(1)
    headers = f" and the headers in {include}" if from_headers else ""
    print(f"PASS: 3.{minor} table agrees with the DWARF of {args.dwarf}{headers} "
          f"on {present + absent + derived + from_headers} fields ({present} offsets, "
          f"{absent} checked absent, {derived} derived from the DWARF, {from_headers} from "
          f"the headers)")


main()
