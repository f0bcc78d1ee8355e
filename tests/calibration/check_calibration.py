#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""`pyobjlife probes --calibrate`: the per-hit costs it measures on this kernel.

The oracle is the kernel's own mechanics (uprobe-cost-model.md, section 1): a
hit on an emulated instruction is one trap, a single-stepped one adds a second
trap and the out-of-line execution, so both costs are positive and the
single-stepped one is larger; every calibration call must have been counted as
a hit; and the whole measurement stays well under a second. Each placed probe
then carries its class's estimate. Needs root. Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, skip  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--binary", required=True, help="any CPython the probes command reads")
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root (the calibration attaches uprobes)")
    if not os.path.exists(args.binary):
        skip(f"{args.binary} is not installed")
    out = subprocess.run([args.pyobjlife, "probes", "--binary", args.binary, "--calibrate",
                          "--format", "json"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        fail(f"pyobjlife probes --calibrate exited {out.returncode}: {out.stderr}")
    plan = json.loads(out.stdout)
    cal = plan["probe_placement"]["calibration"]
    if not cal:
        fail(f"no calibration in the output: {plan['probe_placement']}")
    emu, sstep = cal["emulated_ns_per_hit"], cal["single_step_ns_per_hit"]
    problems = []
    if not (emu and emu > 0) or not (sstep and sstep > 0):
        problems.append(f"costs not positive: emulated {emu}, single-stepped {sstep}")
    elif sstep <= emu:
        problems.append(f"single-stepped {sstep:.0f} ns <= emulated {emu:.0f} ns per hit")
    if cal["hits"] != cal["calls"] or cal["calls"] < 1000:
        problems.append(f"{cal['hits']} hits counted for {cal['calls']} calls")
    if not 0 < cal["wall_ms"] < 1000:
        problems.append(f"calibration took {cal['wall_ms']:.0f} ms")
    placed = [(s["symbol"], s["placement"]) for h in plan["hooks"] for s in h["sites"]
              if "placement" in s]
    want = {"emulated": emu, "single-stepped": sstep}
    for sym, pl in placed:
        if pl["est_ns_per_hit"] != want.get(pl["cost_class"]):
            problems.append(f"{sym}: estimate {pl['est_ns_per_hit']} for a {pl['cost_class']} "
                            "probe")
    if not placed:
        problems.append("no placed probes")
    if problems:
        fail("; ".join(problems))
    print(f"PASS: emulated {emu:.0f} ns, single-stepped {sstep:.0f} ns per hit "
          f"({sstep / emu:.1f}x), {cal['hits']} hits in {cal['wall_ms']:.0f} ms; "
          f"{len(placed)} probes carry their estimate")


main()
