#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: `record --mode full` against the counts a program makes itself.

tests/workloads/alloc_workload.py creates known numbers of instances of its own
classes at marked lines, in the main thread, in worker threads, through a
method and at the bottom of a deep recursion. The recording must report each
at the right file, line, function and type with exactly that count and
count * sys.getsizeof() bytes; the workers' stacks must start in threading,
not in the main thread's code; the deep stack must be marked truncated with
its leaf frames intact. With --folded, the folded output is checked too.
Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, record_workload, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.realpath(os.path.join(HERE, "..", "workloads", "alloc_workload.py"))
FOLDED_LINE = re.compile(r"^(.+) (\d+)$")


def record(args, out, extra):
    env = dict(os.environ, ALLOC_WORKLOAD_DEPTH=str(args.recursion))
    cmd = [args.pyobjlife, "record", "--mode", "full", "-o", out] + extra
    rc, stderr, oracle = record_workload([args.python, WORKLOAD], env, cmd, stop_timeout=120)
    if rc != 0:
        fail(f"pyobjlife exited {rc}: {stderr}")
    return oracle, stderr


def check_sites(rec, oracle, problems):
    for name, want in oracle["sites"].items():
        got = [s for s in rec["sites"] if s["type"] == name and s["line"] == want["line"]
               and s["file"] == want["file"]]
        if len(got) != 1:
            others = [s for s in rec["sites"] if s["type"] == name]
            problems.append(f"{name}: expected one site at {want['file']}:{want['line']}, "
                            f"found {len(got)}; sites of that type: {others[:5]}")
            continue
        s = got[0]
        if s["function"] != want["function"]:
            problems.append(f"{name}: function {s['function']!r}, expected {want['function']!r}")
        if s["allocations"] != want["allocations"]:
            problems.append(f"{name}: {s['allocations']} allocations, expected "
                            f"{want['allocations']}")
        if s["bytes"] != want["allocations"] * want["size"]:
            problems.append(f"{name}: {s['bytes']} bytes, expected {want['allocations']} x "
                            f"{want['size']} (sys.getsizeof)")


def stacks_of(rec, name):
    return [s for s in rec["stacks"] if s["type"] == name]


def check_threads(rec, oracle, problems):
    calls = oracle["calls"]
    worker = stacks_of(rec, "SiteWorker")
    if sum(s["allocations"] for s in worker) != oracle["sites"]["SiteWorker"]["allocations"]:
        problems.append(f"SiteWorker stacks sum to {sum(s['allocations'] for s in worker)}")
    for s in worker:
        funcs = [f["function"] for f in s["frames"]]
        if len(funcs) < 2 or funcs[-2] != calls["worker"]["function"] or \
                s["frames"][-2]["line"] != calls["worker"]["line"]:
            problems.append(f"SiteWorker stack does not go through worker(): {funcs}")
        if any(f["file"] == WORKLOAD and f["function"] in ("run", "main") for f in s["frames"]):
            problems.append(f"SiteWorker stack has the main thread's frames: {funcs}")
        if not any("threading" in f["file"] for f in s["frames"][:2]):
            problems.append(f"SiteWorker stack does not start in threading: {s['frames'][:2]}")
    nested = stacks_of(rec, "SiteNested")
    for s in nested:
        funcs = [f["function"] for f in s["frames"]]
        if funcs[:3] != ["<module>", "main", "run"] or funcs[-2] != "outer_nested" or \
                s["frames"][-2]["line"] != calls["outer_nested"]["line"]:
            problems.append(f"SiteNested stack is not <module>/main/run/.../outer_nested: {funcs}")
        if s["truncated"]:
            problems.append("SiteNested stack marked truncated")


def check_deep(rec, oracle, depth_limit, problems):
    deep = stacks_of(rec, "SiteDeep")
    want = oracle["sites"]["SiteDeep"]
    if sum(s["allocations"] for s in deep) != want["allocations"]:
        problems.append(f"SiteDeep stacks sum to {sum(s['allocations'] for s in deep)}")
    for s in deep:
        frames = s["frames"]
        if not s["truncated"]:
            problems.append(f"deep stack ({oracle['depth']} calls) not marked truncated")
        if len(frames) != depth_limit:
            problems.append(f"deep stack kept {len(frames)} frames, limit {depth_limit}")
        leaf = frames[-1] if frames else {}
        if leaf.get("function") != want["function"] or leaf.get("line") != want["line"]:
            problems.append(f"deep stack leaf {leaf}, expected {want['function']}:{want['line']}")
        calls = oracle["calls"]
        above = frames[-2] if len(frames) > 1 else {}
        if (above.get("function"), above.get("line")) != (calls["deep_to_leaf"]["function"],
                                                          calls["deep_to_leaf"]["line"]):
            problems.append(f"frame above the leaf is {above}, expected the deep_leaf() call")
        rest = {(f["function"], f["line"]) for f in frames[:-2]}
        if rest != {(calls["deep"]["function"], calls["deep"]["line"])}:
            problems.append(f"deep stack frames above are not all the recursive call: {rest}")
    if rec["allocations"]["health"]["truncated_stacks"] < want["allocations"]:
        problems.append("health.truncated_stacks does not count the deep allocations")


def check_wide(rec, oracle, problems):
    """Frames of ~1 KiB, 29 of them: the walk reads them in windows of the data stack
    chunk holding the leaf, then crosses into the chunk below. Every frame must be
    there, none lost at a window's or a chunk's edge; odd and even levels call from
    different lines, so a frame read twice or skipped shows. (Which floor a window
    took does not show: a window that cannot be read falls back to the frame alone,
    with the same frames.)"""
    wide = stacks_of(rec, "SiteWide")
    want = oracle["sites"]["SiteWide"]
    calls = oracle["calls"]
    if sum(s["allocations"] for s in wide) != want["allocations"]:
        problems.append(f"SiteWide stacks sum to {sum(s['allocations'] for s in wide)}")
    n = oracle["wide_recursion"]
    expect = ([(calls["wide_odd"]["file"], "wide",
                calls["wide_odd" if level % 2 else "wide_even"]["line"])
               for level in range(n, 0, -1)] +
              [(calls["wide_to_leaf"]["file"], "wide", calls["wide_to_leaf"]["line"]),
               (want["file"], want["function"], want["line"])])
    for s in wide:
        frames = [(f["file"], f["function"], f["line"]) for f in s["frames"]]
        if s["truncated"] or frames[-len(expect):] != expect or \
                [f[1] for f in frames[:-len(expect)]] != ["<module>", "main", "run"]:
            problems.append(f"SiteWide stack (wide frames across data stack chunks) is "
                            f"{len(frames)} frames, truncated {s['truncated']}, from the leaf: "
                            f"{[f[1:] for f in frames[::-1][:4]]} ... {[f[1] for f in frames[:4]]}")


def check_no_lifetimes(args, rec, out, problems):
    """--no-lifetimes: the same exact counts, no object followed and no death seen (no
    deallocator probe is attached), and a report that says lifetimes were not recorded
    rather than that there are none."""
    life = rec["lifecycle"]
    if "--no-lifetimes" not in life["coverage"]:
        problems.append(f"lifecycle coverage does not name --no-lifetimes: {life['coverage']!r}")
    followed, deaths = life["totals"]["followed"], life["health"]["deaths_seen"]
    if followed or deaths:
        problems.append(f"--no-lifetimes followed {followed} objects and saw {deaths} deaths")
    report = subprocess.run([args.pyobjlife, "report", out], capture_output=True, text=True)
    if report.returncode != 0 or "not recorded (no deaths followed: --no-lifetimes" not in \
            report.stdout:
        problems.append(f"report (exit {report.returncode}) does not say lifetimes were not "
                        f"recorded: {report.stdout[-300:]!r}")


def check_health(rec, problems):
    a = rec["allocations"]
    h = a["health"]
    if a["lost_allocations"] or h["lost_count_map_full"]:
        problems.append(f"allocations lost: {h}")
    if rec["mode"] != "full":
        problems.append(f"mode {rec['mode']!r}")
    if a["total_allocations"] != sum(s["allocations"] for s in rec["sites"]):
        problems.append("sites do not sum to total_allocations")
    if a["total_allocations"] != sum(s["allocations"] for s in rec["stacks"]):
        problems.append("stacks do not sum to total_allocations")


def check_folded(path, oracle, problems):
    lines = open(path).read().splitlines()
    if not lines:
        problems.append("empty folded output")
    for line in lines:
        if not FOLDED_LINE.match(line):
            problems.append(f"folded line does not parse as 'frames count': {line!r}")
            return
    want = oracle["sites"]["SiteMain"]
    leaf = f"{want['function']} ({want['file']}:{want['line']});[SiteMain]"
    hits = [l for l in lines if f";{leaf} " in l]
    if len(hits) != 1 or not hits[0].endswith(f" {want['allocations']}"):
        problems.append(f"folded output has no '...;{leaf} {want['allocations']}' line: {hits}")


def check_small_maps(args):
    """Maps far too small: every loss is counted, warned about and shown, none silent."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rec.json")
        oracle, stderr = record(args, out, ["--max-sites", "16", "--max-stacks", "16"])
        rec = json.load(open(out))
    h, problems = rec["allocations"]["health"], []
    # a full count map: allocations counted by type without their stack, none lost
    if not h["count_map_full_counted_by_type"] or h["lost_count_map_full"] or \
            rec["allocations"]["lost_allocations"] != h["lost_count_map_full"]:
        problems.append(f"count map overflow not counted by type: {h}")
    if "count map was full" not in stderr:
        problems.append(f"no warning on stderr: {stderr}")
    # so every class's total is exact, whatever the sites its allocations could keep
    for name, want in oracle["sites"].items():
        got = sum(s["allocations"] for s in rec["sites"] if s["type"] == name)
        if got != want["allocations"]:
            problems.append(f"{name}: {got} allocations over its sites, made "
                            f"{want['allocations']}")
    # the stack map is an LRU working set: stacks given up before pyobjlife copied them
    # are counted, as are allocations whose stack could not be stored
    # (entries are per stack and type: a stack given up may carry several types; the count
    # map's overflow adds one stackless entry per type)
    unnamed = [s for s in rec["stacks"] if s.get("stack_unavailable")]
    types = len({s["type"] for s in unnamed})
    explained = h["count_map_full_types"] + types * (
        h["stacks_unfetchable"] + (1 if h["stack_map_full_counted_without_stack"] else 0)
        + (1 if h["no_thread_state"] else 0))
    if len(unnamed) > explained:
        problems.append(f"{len(unnamed)} stacks without frames, only {explained} explained by "
                        f"the health counters: {h}")
    with_stack = [s for s in rec["sites"] if s["file"] != "<unknown>"]
    if len(with_stack) > 16 or len(rec["stacks"]) > 16 + h["count_map_full_counted_by_type"]:
        problems.append("more counters than --max-sites allows")
    if h["allocations_counted"] + h["count_map_full_counted_by_type"] != \
            rec["allocations"]["total_allocations"]:
        problems.append("counted allocations and listed allocations differ")
    if problems:
        fail(f"{args.label}: " + "; ".join(problems))
    print(f"PASS: {args.label}: {h['count_map_full_counted_by_type']} allocations counted by "
          f"type past a full count map (every class's total exact), "
          f"{h['stacks_unfetchable']} stacks given up before they were copied, "
          f"{h['stack_map_full_counted_without_stack']} allocations counted without a stack, "
          "all reported")


BURST_PROGRAM = """\
import json, email.parser, http.client, json.decoder, logging, argparse, unittest
class AfterBurst:
    pass
def after_burst(n):
    return [AfterBurst() for _ in range(n)]
kept = after_burst(BURST_N)
"""


def check_startup_burst(args):
    """A launched interpreter's start-up and imports make thousands of distinct stacks,
    far more than --max-stacks 256 holds: the program's own site, after them, must still
    be counted exactly under its stack (the stack map gives up old stacks, which
    pyobjlife has copied already, for new ones)."""
    n = 3000
    program = BURST_PROGRAM.replace("BURST_N", str(n))
    line = program.splitlines().index("    return [AfterBurst() for _ in range(n)]") + 1
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rec.json")
        p = subprocess.run([args.pyobjlife, "record", "--mode", "full", "-q", "--max-stacks",
                            "256", "-o", out, "--", args.python, "-c", program],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            fail(f"{args.label}: pyobjlife exited {p.returncode}: {p.stderr}")
        rec = json.load(open(out))
    a = rec["allocations"]
    if a["distinct_stacks"] <= 256:
        fail(f"{args.label}: only {a['distinct_stacks']} distinct stacks: no burst to test")
    stacks = [s for s in rec["stacks"] if s["type"] == "AfterBurst"]
    total = sum(s["allocations"] for s in stacks)
    named = [s for s in stacks if s["frames"] and s["frames"][-1]["line"] == line
             and s["frames"][-1]["function"].startswith("after_burst")]
    if total != n or sum(s["allocations"] for s in named) != n:
        fail(f"{args.label}: AfterBurst: {total} counted, "
             f"{sum(s['allocations'] for s in named)} under a stack ending at line {line}, "
             f"expected {n}; stacks: {stacks[:3]}; health {a['health']}")
    print(f"PASS: {args.label}: {a['distinct_stacks']} distinct stacks through a 256-entry "
          f"map, the program's {n} objects all under their stack")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--stack-depth", type=int, default=32)
    ap.add_argument("--recursion", type=int, default=60)
    ap.add_argument("--folded", action="store_true", help="also record folded stacks")
    ap.add_argument("--startup-burst", action="store_true",
                    help="check that start-up's stacks do not crowd out the program's")
    ap.add_argument("--no-lifetimes", action="store_true",
                    help="record with --no-lifetimes: counts as exact, nothing followed")
    ap.add_argument("--small-maps", action="store_true",
                    help="check that overflowing maps are reported instead")
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root (BPF uprobes)")
    if not os.path.exists(args.python):
        skip(f"{args.python} is not installed")
    if args.small_maps:
        return check_small_maps(args)
    if args.startup_burst:
        return check_startup_burst(args)
    depth = ["--stack-depth", str(args.stack_depth)]
    if args.no_lifetimes:
        depth.append("--no-lifetimes")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rec.json")
        oracle, _ = record(args, out, depth)
        rec = json.load(open(out))
        problems = []
        check_health(rec, problems)
        check_sites(rec, oracle, problems)
        check_threads(rec, oracle, problems)
        check_deep(rec, oracle, args.stack_depth, problems)
        check_wide(rec, oracle, problems)
        if args.no_lifetimes:
            check_no_lifetimes(args, rec, out, problems)
        if args.folded:
            folded = os.path.join(tmp, "rec.folded")
            oracle, _ = record(args, folded, depth)
            check_folded(folded, oracle, problems)
    if problems:
        fail(f"{args.label} (CPython {oracle['python']}): " + "; ".join(problems[:12]))
    print(f"PASS: {args.label} (CPython {oracle['python']}): "
          f"{len(oracle['sites'])} sites exact, threads, wide frames and truncation right, "
          f"{rec['allocations']['total_allocations']} allocations in {len(rec['stacks'])} stacks")


if __name__ == "__main__":  # tests/e2e/container.py reuses the checks
    main()
