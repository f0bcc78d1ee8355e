#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Check every field of pyobjlife's GC layout table against a build's DWARF.

gdb reads the offsets from the interpreter's own debug information (the file
itself for pyenv builds, the python3.11-dbg debug file for Debian's), so the
oracle is the compiler's view of CPython's structs, not our table.
Exit 0 pass, 1 mismatch, 77 skip.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import debug_file_of, skip  # noqa: E402

EXPR = {
    "main_interp_off": "(long)&((_PyRuntimeState*)0)->interpreters.main",
    "generations_off": "(long)&((struct _gc_runtime_state*)0)->generations",
    "gen_stride": "sizeof(struct gc_generation)",
    "gen_threshold_off": "(long)&((struct gc_generation*)0)->threshold",
    "gen_count_off": "(long)&((struct gc_generation*)0)->count",
    "stats_off": "(long)&((struct _gc_runtime_state*)0)->generation_stats",
    "stats_stride": "sizeof(struct gc_generation_stats)",
    "collecting_off": "(long)&((struct _gc_runtime_state*)0)->collecting",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True, help="tests/dump_gc_layout")
    ap.add_argument("--minor", type=int, required=True)
    ap.add_argument("--dwarf", help="file with the DWARF (an unstripped library)")
    ap.add_argument("--stripped", help="a stripped binary whose build-id debug file has it")
    args = ap.parse_args()
    if not shutil.which("gdb"):
        skip("gdb is not installed")
    if args.stripped:
        args.dwarf = debug_file_of(args.stripped)
    if not os.path.exists(args.dwarf):
        skip(f"{args.dwarf} is not installed")
    table = dict(l.split() for l in subprocess.check_output([args.dump, str(args.minor)],
                                                            text=True).splitlines())
    exprs = dict(EXPR)
    if table["gc_in_runtime"] == "1":
        exprs["gc_off"] = "(long)&((_PyRuntimeState*)0)->gc"
    else:
        exprs["gc_off"] = "(long)&((PyInterpreterState*)0)->gc"
    names = list(exprs)
    cmd = ["gdb", "-nx", "-batch"]
    for n in names:
        cmd += ["-ex", f"print {exprs[n]}"]
    out = subprocess.run(cmd + [args.dwarf], capture_output=True, text=True, timeout=600)
    values = re.findall(r"^\$\d+ = (\d+)$", out.stdout, re.M)
    if len(values) != len(names):
        print(out.stdout, out.stderr)
        print(f"FAIL: gdb answered {len(values)} of {len(names)} questions")
        sys.exit(1)
    bad = [f"{n}: table {table[n]}, DWARF {v}" for n, v in zip(names, values) if table[n] != v]
    if bad:
        print("FAIL: 3.%d %s: %s" % (args.minor, args.dwarf, "; ".join(bad)))
        sys.exit(1)
    print(f"PASS: 3.{args.minor} table agrees with the DWARF of {args.dwarf} on "
          f"{len(names)} fields")


main()
