#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: object lifecycles in `record --mode full` against a program's own counts.

tests/workloads/lifecycle_workload.py frees N objects by reference count, frees
cycles with the collector after they survived 0, 1 and 2 collections, keeps K
objects alive across full collections, and leaks instances of one class in
rounds with a full collection after each, every collection made from a known
function (automatic collection is off). The recording must report exactly:
deallocations / cycle_collected / alive_at_end and the generation at death per
site, the leaking site as the top leak candidate, that type growing in the
oldest generation's census, and the collecting function on top of the
collections' stacks (GC blame) with every full collection accounted, also in
the folded flamegraph written with --weight gc-pause.
Exit 0 pass, 1 fail, 77 skip.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import e2e_args, fail, record_workload  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.realpath(os.path.join(HERE, "..", "workloads", "lifecycle_workload.py"))
FIELDS = ("deallocations", "cycle_collected", "alive_at_end", "alive_survived_full_collection")


def site_of(rec, name, want):
    got = [s for s in rec["sites"] if s["type"] == name and s["line"] == want["line"]
           and s["file"] == want["file"]]
    return got[0] if len(got) == 1 else None


def check_sites(rec, oracle, problems):
    for name, want in oracle["sites"].items():
        s = site_of(rec, name, want)
        if not s:
            problems.append(f"{name}: no single site at {want['file']}:{want['line']}")
            continue
        if s["followed"] != s["allocations"]:
            problems.append(f"{name}: {s['followed']} of {s['allocations']} births followed")
        for field in FIELDS:
            if s[field] != want[field]:
                problems.append(f"{name}: {field} {s[field]}, expected {want[field]}")
        gens = [s["died_in_generation"][g] for g in ("0", "1", "2")]
        if gens != want["died_in_generation"] or s["died_in_generation"]["unknown"]:
            problems.append(f"{name}: died in generations {s['died_in_generation']}, expected "
                            f"{want['died_in_generation']}")
        lifetimes = sum(b[2] for b in s["lifetime_ns"]["log2_histogram"])
        if lifetimes != s["deallocations"]:
            problems.append(f"{name}: {lifetimes} lifetimes for {s['deallocations']} deaths")


def check_leaks(rec, oracle, problems):
    """The top leak candidate is the site with most objects alive after a full collection."""
    top = max(rec["sites"], key=lambda s: s["alive_survived_full_collection"])
    want = oracle["sites"]["Leaky"]
    if (top["type"], top["line"]) != ("Leaky", want["line"]):
        problems.append(f"top leak candidate is {top['type']} at line {top['line']}, "
                        f"expected Leaky at {want['line']}")
    # censuses at full collections' starts: rounds before each one are in generation 2
    full = sorted({c["t_ns"] for c in rec["census"] if c["generation"] == 2})
    leaky = {c["t_ns"]: c["count"] for c in rec["census"]
             if c["generation"] == 2 and c["type"] == "Leaky"}
    series = [leaky.get(t, 0) for t in full]
    per_round, rounds = oracle["leaky_per_round"], oracle["leak_rounds"]
    expected_tail = [per_round * k for k in range(rounds)]
    if series[-rounds:] != expected_tail:
        problems.append(f"Leaky in the generation-2 census: {series}, expected it to end with "
                        f"{expected_tail}")


def check_blame(rec, oracle, problems):
    full = [b for b in rec["gc_blame"] if b["generation"] == 2]
    total = sum(b["collections"] for b in full)
    recorded = rec["gc"]["generations"][2]["collections"]
    if total != recorded or total != oracle["full_collections"]:
        problems.append(f"GC blame accounts {total} full collections, the recording has "
                        f"{recorded}, the program made {oracle['full_collections']}")
    by_leaf = {}
    for b in full:
        leaf = (b["frames"][-1]["function"], b["frames"][-1]["line"]) if b["frames"] else None
        by_leaf[leaf] = by_leaf.get(leaf, 0) + b["pause_ns"]
    top = max(by_leaf, key=by_leaf.get) if by_leaf else None
    want = oracle["full_trigger"]
    if top != (want["function"], want["line"]):
        problems.append(f"full collections blamed on {top}, expected {want}")


def check_gc_pause_flamegraph(folded, oracle, problems):
    """`--weight gc-pause`: the function under the generation-2 marker, weighted by pause."""
    by_caller = {}
    for line in open(folded):
        frames, weight = line.rstrip("\n").rsplit(" ", 1)
        frames = frames.split(";")
        if frames[-1] == "[generation 2]" and len(frames) > 1:
            by_caller[frames[-2]] = by_caller.get(frames[-2], 0) + int(weight)
    want = oracle["full_trigger"]
    label = f"{want['function']} ({WORKLOAD}:{want['line']})"
    top = max(by_caller, key=by_caller.get) if by_caller else None
    if top != label:
        problems.append(f"gc-pause flamegraph: {top} on top of generation 2, expected {label}")


def first_row_type(text, heading):
    """The TYPE column of the first row under a section of the text report."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(heading) and i + 2 < len(lines):
            header = lines[i + 1]
            return lines[i + 2][header.index("TYPE"):].split()[0]
    return None


def check_text_report(args, out, problems):
    import subprocess
    text = subprocess.run([args.pyobjlife, "report", out], capture_output=True, text=True,
                          check=True).stdout
    for heading in ("Leak candidates", "Census growth"):
        top = first_row_type(text, heading)
        if top != "Leaky":
            problems.append(f"text report: {heading!r} starts with {top}, expected Leaky")


def check_heap(rec, problems):
    heap = rec["heap_timeline"]
    if len(heap) < 2 or not all(h["rss_bytes"] > 0 for h in heap):
        problems.append(f"heap timeline: {heap[:3]}")
    arena_hooks = [p for p in rec["target"]["probes"] if p["hook"] == "arena_alloc"]
    if arena_hooks and heap and heap[-1]["arenas_allocated"] is None:
        problems.append("arena probes attached but arena counts missing")


def main():
    args = e2e_args(__doc__.split("\n")[0])
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rec.json")
        folded = os.path.join(tmp, "gc-pause.folded")
        cmd = [args.pyobjlife, "record", "--mode", "full", "--census-interval", "0", "-o", out,
               "-o", folded, "--weight", "gc-pause"]
        rc, stderr, oracle = record_workload([args.python, WORKLOAD], dict(os.environ), cmd,
                                             stop_timeout=120)
        if rc != 0:
            fail(f"pyobjlife exited {rc}: {stderr}")
        rec = json.load(open(out))
        problems = []
        check_gc_pause_flamegraph(folded, oracle, problems)
        check_text_report(args, out, problems)
    if "followed" not in json.dumps(rec["lifecycle"]):
        fail(f"no lifecycle data: {rec.get('lifecycle')}")
    check_sites(rec, oracle, problems)
    check_leaks(rec, oracle, problems)
    check_blame(rec, oracle, problems)
    check_heap(rec, problems)
    if problems:
        fail(f"{args.label} (CPython {oracle['python']}): " + "; ".join(problems[:12]))
    print(f"PASS: {args.label} (CPython {oracle['python']}): {len(oracle['sites'])} sites' "
          f"lifecycles exact, leak candidate, census growth and GC blame right; "
          f"{rec['lifecycle']['health']['births_followed']} births followed")


if __name__ == "__main__":
    main()
