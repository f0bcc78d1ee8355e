#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""CPython's own tests, unchanged, with `pyobjlife record --mode full` attached.

Runs `python -m test test_gc test_weakref ...` (regrtest, sequentially, in one
process) under one interpreter while pyobjlife follows it in full mode, and
requires:
  - regrtest's own exit code to be 0 (every test passed with the probes in);
  - pyobjlife to exit 0 when the target does, with a recording whose collector
    figures equal the interpreter's own generation_stats over the run
    (target_check), with nothing lost, and with allocations counted: for each
    test module, instances of classes only that module defines appear among the
    recorded types, and stacks lead into the test files.
The interpreter runs in a throwaway venv (no pip, no site-packages): the
install's third-party packages and their .pth files stay out of the run (a .pth
that imports threading fails test_threading's test_import_from_another_thread,
profiler or not). Regrtest is started through runpy behind a gate (as -m does),
so that pyobjlife is attached before the first test and the exit code is the
process's own. If the suite fails, it is run again without pyobjlife: a failure
there too is the environment's (skip, with both results), not ours.
Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, readline, skip, wait_attached  # noqa: E402

MODULES = ("test_gc", "test_weakref", "test_finalization", "test_threading", "test_dict",
           "test_list", "test_generators")

# Runs in the target: report ready on one pipe, wait for "go" on another, then run
# regrtest exactly as `python -m test MODULES...` would.
GATE = """import os, sys
ready, go = int(sys.argv[1]), int(sys.argv[2])
os.write(ready, b"ready\\n"); os.close(ready)
os.read(go, 1); os.close(go)
del sys.argv[1:3]
import runpy
runpy.run_module("test", run_name="__main__", alter_sys=True)
"""

# Where each test module lives, as the interpreter itself finds it.
FIND_MODULES = """import importlib.util, json, sys
print(json.dumps({m: getattr(importlib.util.find_spec("test." + m), "origin", None)
                  for m in sys.argv[1:]}))
"""

TEST_START = re.compile(r"^(\d+):(\d\d):(\d\d) .*\[\s*(\d+)/(\d+)\] (test_\w+)")


def module_files(python, modules):
    p = subprocess.run([python, "-I", "-c", FIND_MODULES, *modules], capture_output=True,
                       text=True)
    if p.returncode != 0:
        skip(f"{python} has no test package (Lib/test is not installed): {p.stderr.strip()}")
    files = json.loads(p.stdout)
    missing = [m for m, f in files.items() if not f]
    if missing:
        skip(f"{python}'s test package lacks {', '.join(missing)}")
    return files


def make_venv(python, where):
    p = subprocess.run([python, "-m", "venv", "--without-pip", where], capture_output=True,
                       text=True)
    if p.returncode != 0:
        skip(f"{python} cannot make a venv: {p.stderr.strip()}")
    return os.path.join(where, "bin", "python")


def classes_only_in(files):
    """Per module: the class names its source defines and no other module's does."""
    defined = {}
    for m, path in files.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        defined[m] = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    return {m: names - set().union(*(v for k, v in defined.items() if k != m))
            for m, names in defined.items()}


def per_module_seconds(log, total):
    """Seconds each test module took, from regrtest's '0:01:02 ... [3/7] test_x' lines."""
    starts = []
    for line in log.splitlines():
        m = TEST_START.match(line)
        if m:
            h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3))
            starts.append((m.group(6), h * 3600 + mi * 60 + s))
    ends = [t for _, t in starts[1:]] + [total]
    return {name: end - t for (name, t), end in zip(starts, ends)}


def run_suite(args, python, modules, log_path, attach):
    """Regrtest behind the gate, pyobjlife attached when `attach`. Returns (regrtest's
    exit code, pyobjlife's exit code or None, its stderr, seconds)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    with open(log_path, "w") as log:
        target = subprocess.Popen([python, "-c", GATE, str(ready_w), str(go_r), *modules],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                  pass_fds=(ready_w, go_r), cwd=os.path.dirname(log_path))
    os.close(ready_w)
    os.close(go_r)
    rec, rc_rec, stderr = None, None, ""
    try:
        with os.fdopen(ready_r) as ready:
            if readline(ready, 60, "the interpreter").strip() != "ready":
                fail(f"the interpreter did not start (rc {target.wait()})")
        if attach:
            rec = subprocess.Popen(attach + ["-p", str(target.pid)], stderr=subprocess.PIPE,
                                   text=True)
            stderr = wait_attached(rec)
        start = time.monotonic()
        os.write(go_w, b"g")
        os.close(go_w)
        go_w = -1
        try:
            rc = target.wait(args.timeout)
        except subprocess.TimeoutExpired:
            fail(f"the suite did not finish within {args.timeout} s; log: {log_path}")
        seconds = time.monotonic() - start
        if rec:
            try:
                rc_rec = rec.wait(120)
            except subprocess.TimeoutExpired:
                fail("pyobjlife did not stop within 120 s of the target's exit")
            stderr += rec.stderr.read()
    finally:
        if go_w >= 0:
            os.close(go_w)
        for p in (target, rec):
            if p and p.poll() is None:
                p.kill()
                p.wait()
    return rc, rc_rec, stderr, seconds


def check_recording(rec, files, problems):
    a = rec.get("allocations", {})
    if rec["mode"] != "full":
        problems.append(f"mode {rec['mode']!r}")
    if rec["end_reason"] != "target exited":
        problems.append(f"end_reason {rec['end_reason']!r}")
    if not rec["target_check"].get("agrees"):
        problems.append(f"collector figures disagree with the interpreter's own: "
                        f"{rec['target_check']}")
    if not sum(g["collections"] for g in rec["gc"]["generations"]):
        problems.append("no collection recorded")
    if rec["lost_events"] or a.get("lost_allocations"):
        problems.append(f"lost: {rec['lost_events']} events, {a.get('lost_allocations')} "
                        "allocations")
    if not a.get("total_allocations") or \
            a["total_allocations"] != a["health"]["allocations_counted"]:
        problems.append(f"allocations: {a.get('total_allocations')}, health {a.get('health')}")
    types = {s["type"] for s in rec.get("sites", [])}
    seen = {}
    for m, names in classes_only_in(files).items():
        seen[m] = sorted(names & types)
        if not seen[m]:
            problems.append(f"{m}: none of its {len(names)} own classes among the recorded "
                            "types")
    test_files = set(files.values())
    in_tests = sum(s["allocations"] for s in rec.get("sites", []) if s["file"] in test_files)
    if not in_tests:
        problems.append("no allocation site in the test files")
    return seen, in_tests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--timeout", type=int, default=1500, help="seconds the suite may take")
    # regrtest's imports alone fill the default 16384 stacks before the first test, and
    # the counters per (stack, type) then outgrow the default 65536
    ap.add_argument("--max-stacks", type=int, default=65536)
    ap.add_argument("--max-sites", type=int, default=1 << 21)
    ap.add_argument("modules", nargs="*", default=list(MODULES))
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root (BPF uprobes)")
    if not os.access(args.python, os.X_OK):
        skip(f"{args.python} is not installed")
    with tempfile.TemporaryDirectory(prefix="pyobjlife-cpython-tests-") as tmp:
        python = make_venv(args.python, os.path.join(tmp, "venv"))
        files = module_files(python, args.modules)
        out = os.path.join(tmp, "rec.json")
        log_path = os.path.join(tmp, "regrtest.log")
        cmd = [args.pyobjlife, "record", "--mode", "full", "--max-stacks",
               str(args.max_stacks), "--max-sites", str(args.max_sites), "-o", out]
        rc, rc_rec, stderr, seconds = run_suite(args, python, args.modules, log_path, cmd)
        log = open(log_path, errors="replace").read()
        times = per_module_seconds(log, round(seconds))
        print(f"{args.label}: regrtest exit {rc}, pyobjlife exit {rc_rec}, {seconds:.0f} s "
              f"under pyobjlife; per module: {times}")
        if rc != 0:
            print(log[-6000:])
            base_rc, _, _, base_s = run_suite(args, python, args.modules, log_path, None)
            base_log = open(log_path, errors="replace").read()
            if base_rc != 0:
                print(base_log[-3000:])
                skip(f"{args.label}: the suite fails without pyobjlife too (exit {base_rc} "
                     f"in {base_s:.0f} s; exit {rc} with it): the environment's failure")
            fail(f"{args.label}: regrtest exited {rc} under pyobjlife but passes without it "
                 f"({base_s:.0f} s): pyobjlife hurt the target")
        if rc_rec != 0:
            fail(f"{args.label}: pyobjlife exited {rc_rec}: {stderr}")
        with open(out) as f:
            rec = json.load(f)
    problems = []
    seen, in_tests = check_recording(rec, files, problems)
    if problems:
        print(stderr)
        fail(f"{args.label}: " + "; ".join(problems))
    a = rec["allocations"]
    gens = [g["collections"] for g in rec["gc"]["generations"]]
    print(f"PASS: {args.label} (CPython {rec['target']['python_version']}): "
          f"{len(args.modules)} test modules passed under --mode full in {seconds:.0f} s; "
          f"{a['total_allocations']} allocations counted ({in_tests} in the test files), "
          f"collections {gens} equal to the interpreter's generation_stats, nothing lost; "
          f"module classes seen: " +
          ", ".join(f"{m} {len(v)}" for m, v in seen.items()))


if __name__ == "__main__":
    main()
