#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: every code object is named, in an import burst and when freed at once.

tests/workloads/naming_burst_workload.py imports standard-library modules (a
burst of new allocation sites, each module's body freed once it has run), then
runs functions compiled on the fly, each freed with the next young collection
after it made its Marker objects. In `record --mode full`:
- each made_<i> has exactly the Markers the workload made in it, under its own
  name (a code object freed before pyobjlife named it would show as a freed
  code object, its Markers under no made_<i>). A function freed at once, its
  code and name strings remade at the same addresses by the next one, is not
  told apart from it (the README's known limits): the workload does not do that;
- at most 1% of the allocations have a stack with a frame left unnamed. The
  BPF side copies each new code object's names when a stack first holds it,
  so the reader, not woken per new site, names them however far behind the
  burst it is: 0 here, also with another test on the second core (the wakeup
  per site this replaced left 0.16-0.27% with the second core busy, and this
  test had to run alone).
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import e2e_args, fail, record_full  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.realpath(os.path.join(HERE, "..", "workloads", "naming_burst_workload.py"))
UNNAMED = ("<freed code object", "<unreadable code object")
MAX_UNNAMED_SHARE = 0.01


def unnamed_share(rec):
    total = unnamed = 0
    for s in rec["stacks"]:
        total += s["allocations"]
        if any(f["function"].startswith(UNNAMED) for f in s["frames"]):
            unnamed += s["allocations"]
    return unnamed, total


def main():
    args = e2e_args(__doc__.split("\n")[0])
    rec, oracle = record_full(args, WORKLOAD)
    recorded = {}
    for s in rec["sites"]:
        if s["type"] == "Marker" and s["function"].startswith("made_"):
            recorded[s["function"]] = recorded.get(s["function"], 0) + s["allocations"]
    problems = [f"{name}: {recorded.get(name, 0)} Markers recorded, {n} made"
                for name, n in oracle["made"].items() if recorded.get(name, 0) != n]
    if problems:
        fail(f"{args.label}: {len(problems)} of {len(oracle['made'])} functions: " +
             "; ".join(problems[:5]))
    unnamed, total = unnamed_share(rec)
    if total <= 0 or unnamed > MAX_UNNAMED_SHARE * total:
        fail(f"{args.label}: {unnamed} of {total} allocations have a frame left unnamed")
    print(f"PASS: {args.label}: {len(oracle['made'])} freed-at-once functions each with its exact "
          f"Markers; {len(oracle['modules'])} modules imported, {unnamed} of {total} allocations "
          f"({rec['allocations']['distinct_stacks']} stacks) with an unnamed frame")


main()
