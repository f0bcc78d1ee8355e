#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: pyobjlife's GC figures against the target's own gc.get_stats().

Runs tests/workloads/gc_workload.py under one interpreter, records it with
`pyobjlife record` (attached by PID, or launching it), and requires every
per-generation figure to equal the interpreter's own counters exactly.
Exit 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE), with the reason printed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, record_workload, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, "..", "workloads", "gc_workload.py")
KEYS = ("collections", "collected", "uncollectable")


def mode_options(args):
    """Collections only, unless the test asks for another mode (record samples by default)."""
    return [] if "--mode" in args.extra else ["--mode", "gc"]


def record_attached(args, out):
    env = dict(os.environ, GC_WORKLOAD_ROUNDS=str(args.rounds))
    cmd = [args.pyobjlife, "record", "-o", out] + mode_options(args) + args.extra
    return record_workload([args.python, WORKLOAD], env, cmd)


def record_launched(args, out):
    env = dict(os.environ, GC_WORKLOAD_ROUNDS=str(args.rounds))
    cmd = [args.pyobjlife, "record", "-o", out] + mode_options(args) + args.extra + [
        "--", args.python, WORKLOAD, "--launch"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    except subprocess.TimeoutExpired:
        fail("pyobjlife record -- CMD did not finish within 600 s")
    if "attached" not in p.stderr:
        fail(f"no 'attached' line on stderr: {p.stderr}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        fail(f"the launched workload printed no result (rc {p.returncode}): {p.stderr}")
    return p.returncode, p.stderr, json.loads(lines[-1])


def check(args, rec, oracle, stderr):
    problems = []
    gens = rec["gc"]["generations"]
    for g in range(3):
        for k in KEYS:
            got, want = gens[g][k], oracle["stats"][g][k]
            if got != want:
                problems.append(f"generation {g} {k}: recorded {got}, gc.get_stats() says {want}")
        hist = sum(c for _, _, c in gens[g]["pause_ns"]["log2_histogram"])
        if hist != gens[g]["collections"]:
            problems.append(f"generation {g}: histogram holds {hist} collections, "
                            f"not {gens[g]['collections']}")
        if gens[g]["collections"] and not (
                0 < gens[g]["pause_ns"]["max"] <= gens[g]["pause_ns"]["total"]):
            problems.append(f"generation {g}: pause max/total inconsistent")
        timeline = [c for c in rec["gc"]["collections"] if c["generation"] == g]
        if len(timeline) != gens[g]["collections"]:
            problems.append(f"generation {g}: timeline has {len(timeline)} collections")
        if sum(c["collected"] for c in timeline) != gens[g]["collected"]:
            problems.append(f"generation {g}: timeline's collected does not add up")
    if rec["gc"]["thresholds"] != oracle["threshold"]:
        problems.append(f"thresholds {rec['gc']['thresholds']} != gc.get_threshold() "
                        f"{oracle['threshold']}")
    if rec["lost_events"] != 0:
        problems.append(f"lost_events {rec['lost_events']}")
    if args.mode == "attach" and not (rec["target_check"] or {}).get("agrees"):
        problems.append(f"target_check: {rec['target_check']}")
    if not all(oracle["stats"][g]["collections"] for g in range(3)):
        problems.append(f"the workload did not reach every generation: {oracle['stats']}")
    # how collections are seen; arena probes (heap timeline) are uprobes in every build
    kinds = sorted({p["type"] for p in rec["target"]["probes"]
                    if p["hook"] in ("gc_start", "gc_end")})
    if args.expect_probe and kinds != sorted(args.expect_probe.split(",")):
        problems.append(f"probes {kinds}, expected {args.expect_probe}")
    if "sampled" in args.extra and not (rec.get("sampling") or {}).get("windows"):
        problems.append("sampled mode recorded no allocation window: nothing was attached "
                        "beside the GC probes")
    if problems:
        print(stderr)
        fail("; ".join(problems))
    total = [gens[g]["collections"] for g in range(3)]
    unc = sum(gens[g]["uncollectable"] for g in range(3))
    print(f"PASS: {args.label}: collections {total}, uncollectable {unc}, probes {kinds}, "
          f"all equal to gc.get_stats()")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--mode", choices=("attach", "launch"), default="attach")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--expect-probe", default="")
    ap.add_argument("--require", action="append", default=[],
                    help="a file that must exist, else skip (e.g. a debug file)")
    ap.add_argument("extra", nargs="*", help="more pyobjlife options (after --)")
    args = ap.parse_args()
    args.label = args.label or args.python
    if os.geteuid() != 0:
        skip("needs root to load BPF programs")
    if not os.access(args.python, os.X_OK):
        skip(f"{args.python} is not installed")
    for path in args.require:
        if not os.path.exists(path):
            skip(f"{path} is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rec.json")
        if args.mode == "attach":
            rc, stderr, oracle = record_attached(args, out)
        else:
            rc, stderr, oracle = record_launched(args, out)
        if rc != 0:
            fail(f"pyobjlife exited {rc}: {stderr}")
        with open(out) as f:
            rec = json.load(f)
    check(args, rec, oracle, stderr)


if __name__ == "__main__":
    main()
