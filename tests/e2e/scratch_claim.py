#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: the walk scratch's claim, with slots held from outside.

Each CPU has PY_WALK_SCRATCH_SLOTS scratches, and a probe program claims a free
one by compare-and-swap and releases it at its end, so that a program preempted
mid-walk (preempt=full or lazy kernels) keeps its copies. This VM's kernel does
not preempt, so the test plays the preempted holders itself: once pyobjlife is
attached and before the workload allocates, it writes `busy` = 1 into the first
slots of the walk_scratch map on every CPU (bpftool, by the map's ID
from pyobjlife's own descriptors).

- by default, one slot held: every program takes a later slot. The counts of
  tests/workloads/alloc_workload.py must be exact (as tests/e2e/alloc_sites.py
  checks them) and allocations.health.walk_busy 0.
- --all-held, all of them: no program can walk. None of the workload's own
  allocations may be counted, walk_busy must cover at least all of them, and
  the loss must be warned about on stderr.
Exit 0 pass, 1 fail, 77 skip.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from alloc_sites import WORKLOAD, check_health, check_sites, check_threads  # noqa: E402
from harness import e2e_args, fail, record_workload, skip  # noqa: E402

SLOTS = 4  # PY_WALK_SCRATCH_SLOTS in bpf/py_stack.bpf.h


def bpftool(*args):
    p = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"bpftool {' '.join(args)}: {p.stderr.strip()}")
    return json.loads(p.stdout or "null")


def scratch_map_of(pid):
    """The walk_scratch map among those process pid holds (from its fdinfo)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = open(f"/proc/{pid}/fdinfo/{fd}").read()
        except OSError:
            continue
        ids.update(int(x) for x in re.findall(r"^map_id:\s*(\d+)", text, re.M))
    for map_id in ids:
        m = bpftool("map", "show", "id", str(map_id))
        if m and m.get("name") == "walk_scratch":
            return m
    fail(f"pyobjlife (PID {pid}) holds no walk_scratch map")


def hold_slots(rec, n):
    m = scratch_map_of(rec.pid)
    if m["max_entries"] != SLOTS:
        fail(f"walk_scratch has {m['max_entries']} slots, the test expects {SLOTS}")
    busy = ["1"] + ["0"] * (m["bytes_value"] - 1)  # `busy` is the first field, a u64
    for slot in range(n):
        key = [str(b) for b in slot.to_bytes(4, "little")]
        if subprocess.run(["bpftool", "map", "update", "id", str(m["id"]), "key", *key,
                           "value", *busy], capture_output=True).returncode != 0:
            fail(f"could not hold slot {slot} of map {m['id']}")
        # bpftool writes the one value to every CPU's copy: check it did
        got = bpftool("map", "lookup", "id", str(m["id"]), "key", *key)
        cpus = got.get("values", [])
        if not cpus or any(int(c["value"][0], 16) != 1 for c in cpus):
            fail(f"slot {slot} is not held on every CPU: {str(got)[:200]}")


def main():
    args = e2e_args(__doc__, flags={"--all-held": "hold every slot, not only the first"})
    hold = SLOTS if args.all_held else 1
    if subprocess.run(["bpftool", "version"], capture_output=True).returncode != 0:
        skip("bpftool is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rec.json")
        cmd = [args.pyobjlife, "record", "--mode", "full", "-o", out]
        rc, stderr, oracle = record_workload(
            [args.python, WORKLOAD], dict(os.environ, ALLOC_WORKLOAD_DEPTH="100"), cmd,
            stop_timeout=120, on_attached=lambda rec: hold_slots(rec, hold))
        if rc != 0:
            fail(f"pyobjlife exited {rc}: {stderr}")
        rec = json.load(open(out))
    h, problems = rec["allocations"]["health"], []
    made = sum(s["allocations"] for s in oracle["sites"].values())
    if hold < SLOTS:
        check_health(rec, problems)
        check_sites(rec, oracle, problems)
        check_threads(rec, oracle, problems)
        if h["walk_busy"]:
            problems.append(f"{h['walk_busy']} walks found no free slot with {hold} held")
        verdict = f"{hold} of {SLOTS} slots held: {len(oracle['sites'])} sites exact"
    else:
        counted = [s for s in rec["sites"] if s["type"] in oracle["sites"]]
        if counted:
            problems.append(f"allocations counted with every slot held: {counted[:3]}")
        if h["walk_busy"] < made:
            problems.append(f"walk_busy {h['walk_busy']}, the workload made {made}")
        if "walk_busy" not in stderr:
            problems.append(f"no warning on stderr: {stderr[-400:]}")
        verdict = f"all {SLOTS} slots held: none of {made} allocations counted, " \
                  f"{h['walk_busy']} walks counted as walk_busy and warned"
    if problems:
        fail(f"{args.label}: " + "; ".join(problems[:8]))
    print(f"PASS: {args.label}: {verdict}")


if __name__ == "__main__":
    main()
