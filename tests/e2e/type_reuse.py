#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: a class freed and another made at its address keep their own names.

tests/workloads/type_reuse_workload.py makes a class and instances of it, frees
them, then makes classes until one lands at the first one's address. In
`record --mode full`, every class must appear under its own name with exactly
the instances the workload made of it: the first class's count must not take
in the later one's, nor the later one's name swallow the first's.
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import e2e_args, fail, record_full, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.realpath(os.path.join(HERE, "..", "workloads", "type_reuse_workload.py"))


def main():
    args = e2e_args(__doc__.split("\n")[0])
    rec, oracle = record_full(args, WORKLOAD)
    if not oracle["reused_by"]:
        skip(f"no class landed at the first one's address in {len(oracle['counts'])} tries")
    recorded = {}
    for s in rec["sites"]:
        if s["type"].startswith("Reused") and s["file"] == WORKLOAD:
            recorded[s["type"]] = recorded.get(s["type"], 0) + s["allocations"]
    problems = [f"{name}: {recorded.get(name, 0)} instances recorded, {n} made"
                for name, n in oracle["counts"].items() if recorded.get(name, 0) != n]
    problems += [f"{name}: recorded, never made" for name in recorded
                 if name not in oracle["counts"]]
    if problems:
        fail(f"{args.label}: {oracle['reused_by']} took ReusedFirst's address: " +
             "; ".join(problems[:8]))
    print(f"PASS: {args.label}: {oracle['reused_by']} took ReusedFirst's address; "
          f"{len(recorded)} classes each under its own name with its exact count")


main()
