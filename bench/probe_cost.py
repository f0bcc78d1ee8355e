#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""Per-hit cost of full mode's allocation and deallocation probes against an
empty probe at the same address (issue 5: "the BPF program adds at most 30% to
the cost of an empty uprobe at the same address").

For each kind of object, bench/probe_cost_workload.py makes and drops N of them
(one birth and one death each) under three conditions, interleaved, --rounds
times: no probe; empty probes (pyobjlife-empty-probes: full mode's plan, placement
and addresses, a program that only counts its hits); and `pyobjlife record --mode
full`. With T the thread CPU time of the loop and H the empty probes' hits:

  empty probe, per hit  = (T_empty - T_none) / H
  BPF programs, per hit = (T_full - T_empty) / H
  programs / empty      = the second over the first

With --baseline BIN (another build of pyobjlife, e.g. the previous commit's), a
fourth condition runs that build's full mode in the same rounds, and the table
shows both builds' programs side by side: on a noisy host only an interleaved
comparison tells a change from the noise.

With --kernel-stats, kernel.bpf_stats_enabled is on during the rounds and the
table adds what the kernel measured of each full-mode program per run (birth,
death): the programs alone, without the trap, far less noisy than thread CPU
time. The statistics cost every program two clock reads, which the thread-time
columns then include. With both options, a third table divides each run's birth
program time by its death program time: the host's speed moves both alike, so
between builds whose death program is the same, the ratio's change is the birth
program's own, far steadier than either figure alone. --no-lifetimes adds full
mode without following objects to their death, and a table of what each object
costs the loop in both.

Root. Prints a markdown table; --json writes everything.

  bench/probe_cost.py [--python PY] [--pyobjlife build/pyobjlife] [--baseline BIN]
                      [--rounds 5] [--n 200000]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_bench  # noqa: E402  (the runner's interpreter lookup and machine description)

WORKLOAD = os.path.join(HERE, "probe_cost_workload.py")
KINDS = ["instance", "list", "dict", "tuple", "float", "tuple_deep", "tuple_wide"]
CONDITIONS = ["none", "empty", "full"]
TIMEOUT = 300


class RunError(Exception):
    pass


def start_workload(python, kind, n):
    p = subprocess.Popen([python, WORKLOAD, kind, str(n)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "ready":
        p.kill()
        raise RunError(f"{kind}: the workload did not start")
    return p


def finish_workload(p):
    p.stdin.write("go\n")
    p.stdin.flush()
    line = p.stdout.readline()
    p.stdin.close()
    if p.wait(timeout=TIMEOUT) != 0 or not line:
        raise RunError("the workload failed")
    return json.loads(line)["cpu_s"]


def run_none(ctx, kind):
    return {"cpu_s": finish_workload(start_workload(ctx["python"], kind, ctx["n"]))}


def run_empty(ctx, kind):
    w = start_workload(ctx["python"], kind, ctx["n"])
    e = subprocess.Popen([ctx["empty_probes"], str(w.pid)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        attached = e.stdout.readline().split()
        if attached[:1] != ["attached"]:
            raise RunError(f"{kind}: pyobjlife-empty-probes did not attach")
        cpu = finish_workload(w)
        e.stdin.write("done\n")
        e.stdin.flush()
        hits = e.stdout.readline().split()
        if e.wait(timeout=TIMEOUT) != 0 or hits[:1] != ["hits"]:
            raise RunError(f"{kind}: pyobjlife-empty-probes failed")
    finally:
        if w.poll() is None:
            w.kill()
        if e.poll() is None:
            e.kill()
    return {"cpu_s": cpu, "probes": int(attached[1]), "entry_hits": int(hits[1]),
            "return_hits": int(hits[2])}


def run_full(ctx, kind, binary=None, extra=()):
    w = start_workload(ctx["python"], kind, ctx["n"])
    with tempfile.TemporaryDirectory(prefix="pyobjlife-probe-cost-") as tmp:
        out = os.path.join(tmp, "rec.json")
        r = subprocess.Popen([binary or ctx["pyobjlife"], "record", "--mode", "full", *extra,
                              "-p", str(w.pid), "-o", out], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            line = r.stderr.readline()
            if "attached" not in line:
                raise RunError(f"{kind}: pyobjlife did not attach: {line.strip()}")
            cpu = finish_workload(w)
            r.wait(timeout=TIMEOUT)
            if r.returncode != 0:
                raise RunError(f"{kind}: pyobjlife exited {r.returncode}")
            with open(out) as f:
                rec = json.load(f)
        finally:
            if w.poll() is None:
                w.kill()
            if r.poll() is None:
                r.kill()
    alloc = rec.get("allocations", {})
    programs = rec.get("diagnostics", {}).get("bpf_program_run_time", {})
    return {"cpu_s": cpu, "allocations": alloc.get("total_allocations", 0),
            "program_ns_per_run": {name: p["ns_per_run"] for name, p in programs.items()
                                   if p.get("runs", 0) >= ctx["n"] // 2}}


RUNNERS = {"none": run_none, "empty": run_empty, "full": run_full,
           "baseline": lambda ctx, kind: run_full(ctx, kind, ctx["baseline"]),
           "counts": lambda ctx, kind: run_full(ctx, kind, extra=("--no-lifetimes",))}


def conditions(ctx):
    return (CONDITIONS + (["baseline"] if ctx.get("baseline") else [])
            + (["counts"] if ctx.get("counts") else []))


def measure(ctx, kinds, rounds, log):
    conds = conditions(ctx)
    runs = {k: {c: [] for c in conds} for k in kinds}
    for r in range(rounds):
        for kind in kinds:
            # rotate the order so no condition always runs first
            order = conds[r % len(conds):] + conds[:r % len(conds)]
            for cond in order:
                res = RUNNERS[cond](ctx, kind)
                runs[kind][cond].append(res)
                log(f"round {r + 1}/{rounds} {kind:<9} {cond:<6} {res['cpu_s']:.3f} s")
    return runs


def summarize(runs, n):
    rows = {}
    for kind, by in runs.items():
        t = {c: statistics.median(x["cpu_s"] for x in by[c]) for c in by}
        hits = statistics.median(x["entry_hits"] + x["return_hits"] for x in by["empty"])
        if hits <= 0:
            rows[kind] = {"error": "the empty probes were never hit"}
            continue
        empty_ns = (t["empty"] - t["none"]) / hits * 1e9
        body_ns = (t["full"] - t["empty"]) / hits * 1e9
        rows[kind] = {"n": n, "cpu_s": t, "hits": hits, "hits_per_object": hits / n,
                      "loop_ns_per_object": t["none"] / n * 1e9,
                      "empty_ns_per_hit": empty_ns, "programs_ns_per_hit": body_ns,
                      "programs_over_empty": body_ns / empty_ns if empty_ns > 0 else None}
        for cond, label in (("full", "kernel_ns"), ("baseline", "baseline_kernel_ns")):
            per_run = {}
            for x in by.get(cond, []):
                for name, ns in x.get("program_ns_per_run", {}).items():
                    per_run.setdefault(name, []).append(ns)
            if per_run:
                rows[kind][label] = {name: statistics.median(v) for name, v in per_run.items()}
            ratios = [r for r in (birth_per_death(x.get("program_ns_per_run", {}))
                                  for x in by.get(cond, [])) if r is not None]
            if ratios:
                rows[kind][label + "_birth_per_death"] = statistics.median(ratios)
        if "counts" in t:
            full_ns, counts_ns = (t["full"] - t["none"]) / n * 1e9, (t["counts"] - t["none"]) / n * 1e9
            rows[kind]["full_ns_per_object"] = full_ns
            rows[kind]["no_lifetimes_ns_per_object"] = counts_ns
        if "baseline" in t:
            base_ns = (t["baseline"] - t["empty"]) / hits * 1e9
            rows[kind]["baseline_programs_ns_per_hit"] = base_ns
            rows[kind]["baseline_programs_over_empty"] = (base_ns / empty_ns if empty_ns > 0
                                                          else None)
    return rows


BIRTH_PROGRAMS = ("uprobe__alloc_birth", "uprobe__alloc_typed", "uprobe__alloc_typed_var")


def birth_per_death(ns):
    """The birth program's run time over the death program's, in one run. The host's
    speed moves both alike (by up to a third between runs on this VM); between builds
    whose death program is the same, this ratio's change is the birth program's."""
    births = [ns[p] for p in BIRTH_PROGRAMS if p in ns]
    death = ns.get("uprobe__dealloc")
    return max(births) / death if births and death else None


def kernel_cell(ns):
    births = [ns[p] for p in BIRTH_PROGRAMS if p in ns]
    birth = f"{max(births):.0f}" if births else "-"
    death = f"{ns['uprobe__dealloc']:.0f}" if "uprobe__dealloc" in ns else "-"
    return f"{birth} | {death}"


def percent(ratio):
    return f"{ratio * 100:.0f}%" if ratio is not None else "-"


def table_of_three(intro, header, rows):
    """Markdown lines: an intro paragraph, then a table of a kind and three figures."""
    return ["", intro, "", header, "|---|---:|---:|---:|"] + ["| " + " | ".join(r) + " |"
                                                             for r in rows]


def markdown(doc):
    m = doc["machine"]
    base = doc.get("baseline")
    out = [f"Machine: {m['cpu_model']}, {m['cores']} cores, kernel {m['kernel']}; Python "
           f"{m['python_version']}; {doc['rounds']} rounds of {doc['n']} objects per kind; "
           "thread CPU time, medians."
           + (f" Baseline build: {base}." if base else ""), "",
           "| kind | hits per object | loop ns/object | empty probe ns/hit | "
           "full mode's programs ns/hit | programs / empty |"
           + (" baseline's programs ns/hit | baseline / empty |" if base else ""),
           "|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if base else "")]
    for kind, r in doc["rows"].items():
        if "error" in r:
            out.append(f"| {kind} | {r['error']} | | | | |" + (" | |" if base else ""))
            continue
        line = (f"| {kind} | {r['hits_per_object']:.2f} | {r['loop_ns_per_object']:.0f} | "
                f"{r['empty_ns_per_hit']:.0f} | {r['programs_ns_per_hit']:.0f} | "
                f"{percent(r['programs_over_empty'])} |")
        if base:
            line += (f" {r['baseline_programs_ns_per_hit']:.0f} | "
                     f"{percent(r['baseline_programs_over_empty'])} |")
        out.append(line)
    kernel = [(kind, r) for kind, r in doc["rows"].items() if "kernel_ns" in r]
    if kernel:
        out += ["", "Kernel-measured run time of each program, ns per run (median of rounds):", "",
                "| kind | birth | death |" + (" baseline's birth | baseline's death |"
                                              if base else ""),
                "|---|---:|---:|" + ("---:|---:|" if base else "")]
        for kind, r in kernel:
            line = f"| {kind} | {kernel_cell(r['kernel_ns'])} |"
            if base:
                line += f" {kernel_cell(r.get('baseline_kernel_ns', {}))} |"
            out.append(line)
    counts = [(kind, r) for kind, r in doc["rows"].items() if "no_lifetimes_ns_per_object" in r]
    if counts:
        out += table_of_three(
            "What full mode costs each object (its thread CPU time over the unprobed loop's), "
            "with objects followed to their death and with --no-lifetimes:",
            "| kind | full mode ns/object | --no-lifetimes ns/object | saved |",
            [(kind, f"{r['full_ns_per_object']:.0f}", f"{r['no_lifetimes_ns_per_object']:.0f}",
              f"{(1 - r['no_lifetimes_ns_per_object'] / r['full_ns_per_object']) * 100:.0f}%")
             for kind, r in counts])
    paired = [(kind, r) for kind, r in kernel if "baseline_kernel_ns_birth_per_death" in r
              and "kernel_ns_birth_per_death" in r]
    if paired:
        out += table_of_three(
            "Birth over death in the same run (median of rounds): where the two builds' death "
            "programs are the same, the change is the birth program's, without the host's speed:",
            "| kind | birth / death | baseline's birth / death | birth's change |",
            [(kind, f"{r['kernel_ns_birth_per_death']:.2f}",
              f"{r['baseline_kernel_ns_birth_per_death']:.2f}",
              f"{(r['kernel_ns_birth_per_death'] / r['baseline_kernel_ns_birth_per_death'] - 1) * 100:+.0f}%")
             for kind, r in paired])
    return "\n".join(out) + "\n"


STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


class kernel_stats:
    """kernel.bpf_stats_enabled on inside the block (if asked), restored after."""

    def __init__(self, wanted):
        self.wanted = wanted
        self.before = None

    def __enter__(self):
        if self.wanted:
            with open(STATS_SYSCTL) as f:
                self.before = f.read().strip()
            with open(STATS_SYSCTL, "w") as f:
                f.write("1")
        return self

    def __exit__(self, *exc):
        if self.before is not None:
            with open(STATS_SYSCTL, "w") as f:
                f.write(self.before)
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=None)
    ap.add_argument("--pyobjlife", default=os.path.join(os.path.dirname(HERE), "build",
                                                         "pyobjlife"))
    ap.add_argument("--baseline", help="another pyobjlife build whose full mode is measured "
                    "in the same rounds, for a side-by-side comparison")
    ap.add_argument("--no-lifetimes", action="store_true",
                    help="also measure `record --mode full --no-lifetimes` in the same rounds, "
                    "and report what each object costs with and without following it")
    ap.add_argument("--kernel-stats", action="store_true",
                    help="also report each program's kernel-measured run time "
                    "(kernel.bpf_stats_enabled=1 during the rounds)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=200000, help="objects per run (default 200000)")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--json", help="write the results as JSON to this file")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("probe_cost: needs root (BPF)")
    python = a.python or run_bench.default_python()
    pyobjlife = os.path.abspath(a.pyobjlife)
    empty = os.path.join(os.path.dirname(pyobjlife), "pyobjlife-empty-probes")
    baseline = os.path.abspath(a.baseline) if a.baseline else None
    for exe in (pyobjlife, empty) + ((baseline,) if baseline else ()):
        if not os.access(exe, os.X_OK):
            sys.exit(f"probe_cost: {exe} is not built")
    kinds = [k for k in a.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        sys.exit(f"probe_cost: unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    log = (lambda msg: None) if a.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    ctx = {"python": python, "pyobjlife": pyobjlife, "empty_probes": empty, "n": a.n,
           "baseline": baseline, "counts": a.no_lifetimes}
    try:
        with kernel_stats(a.kernel_stats):
            runs = measure(ctx, kinds, a.rounds, log)
    except (RunError, subprocess.TimeoutExpired, OSError) as e:
        sys.exit(f"probe_cost: {e}")
    doc = {"machine": run_bench.machine_info(python, pyobjlife), "rounds": a.rounds, "n": a.n,
           "baseline": baseline, "rows": summarize(runs, a.n), "runs": runs}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    sys.stdout.write(markdown(doc))


if __name__ == "__main__":
    main()
