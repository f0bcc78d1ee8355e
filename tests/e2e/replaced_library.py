#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: a running interpreter whose libpython was deleted from disk (a
package upgrade under a running service) is still profiled.

The pyenv build's libpython is copied to a temporary directory, the workload
(tests/workloads/replaced_lib_workload.py) is started with LD_LIBRARY_PATH
pointing there, and once it runs the copy is deleted: its maps now say
"(deleted)", and the path leads nowhere. `pyobjlife probes` must say so and name
the /proc/PID/map_files path it reads instead; `record --mode full` must count
exactly the instances the workload made at its line in make(), and the
collections gc.get_stats() saw during the work (exactly for the young
generations; the oldest also collects at the interpreter's exit). Exit 0 pass, 1 fail, 77 skip.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import attach_and_run, e2e_args, fail, readline, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.realpath(os.path.join(HERE, "..", "workloads", "replaced_lib_workload.py"))


def libpython_of(python):
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(python)))
    libs = sorted(glob.glob(os.path.join(prefix, "lib", "libpython3.*.so.1.0")))
    return libs[0] if libs else None


def check(rec, oracle, probes_out, pid, problems):
    if "deleted or replaced on disk" not in probes_out or \
            f"/proc/{pid}/map_files/" not in probes_out:
        problems.append(f"`pyobjlife probes` does not name the replaced library and its "
                        f"map_files path: {probes_out.splitlines()[:3]}")
    sites = [s for s in rec.get("sites", []) if s["type"] == oracle["type"]]
    want = (oracle["file"], oracle["line"], oracle["function"])
    got = [(s["file"], s["line"], s["function"], s["allocations"]) for s in sites]
    if got != [want + (oracle["made"],)]:
        problems.append(f"{oracle['type']} sites {got}, expected {[want + (oracle['made'],)]}")
    gens = rec.get("gc", {}).get("generations", [])
    seen = [g["collections"] for g in gens]
    # the recording also sees the collections of the interpreter's exit: at least, and
    # exactly for the young generations, which exit does not collect
    if len(seen) != 3 or seen[:2] != oracle["collections"][:2] or \
            seen[2] < oracle["collections"][2]:
        problems.append(f"collections {seen}, gc.get_stats() says {oracle['collections']}")


def main():
    args = e2e_args(__doc__.split("\n")[0])
    lib = libpython_of(args.python)
    if not lib:
        skip(f"{args.python} has no libpython3.X.so.1.0 beside it (a static build)")
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(lib))
        shutil.copy2(lib, copy)
        env = dict(os.environ, LD_LIBRARY_PATH=tmp)
        target = subprocess.Popen([args.python, WORKLOAD], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env)
        try:
            if readline(target.stdout, 30, "the workload").strip() != "ready":
                fail("the workload did not start")
            with open(f"/proc/{target.pid}/maps") as f:
                if copy not in f.read():
                    fail(f"the workload did not load {copy} (LD_LIBRARY_PATH ignored?)")
            os.unlink(copy)
            probes = subprocess.run([args.pyobjlife, "probes", "-p", str(target.pid)],
                                    capture_output=True, text=True, timeout=120)
            if probes.returncode != 0:
                fail(f"`pyobjlife probes` exited {probes.returncode}: {probes.stderr.strip()}")
            out = os.path.join(tmp, "rec.json")
            rc, stderr, oracle = attach_and_run(
                target, target.pid, [args.pyobjlife, "record", "--mode", "full", "-o", out], 60)
            target.wait(30)
        finally:
            if target.poll() is None:
                target.kill()
        if rc != 0:
            fail(f"pyobjlife exited {rc}: {stderr}")
        with open(out) as f:
            rec = json.load(f)
    problems = []
    check(rec, oracle, probes.stdout, target.pid, problems)
    if problems:
        fail(f"{args.label} (CPython {oracle['python']}): " + "; ".join(problems))
    print(f"PASS: {args.label}: libpython deleted under the running process; "
          f"{oracle['made']} {oracle['type']} counted exactly, collections "
          f"{oracle['collections']} as gc.get_stats() says")


main()
