#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""Per-site allocation counts of one recording checked against a reference recording
of the same deterministic workload.

Today: full mode against full mode. Two recordings of the same run must agree
exactly on every site of the workload's own code (its file, line, function and
type): this is the reference that sampled mode's estimates will be judged by.
Once sampled mode exists (`record --help` offers --overhead), `--candidate
sampled` records the candidate in that mode instead and the check becomes: for
the top --top sites of the reference, the estimate is within --tolerance (10 %)
of the exact count.

Sites outside the workload's file (interpreter start-up, the standard library)
are left out: they depend on what the interpreter imports, not on the workload.
Root.

  bench/accuracy.py [--pyobjlife build/pyobjlife] [--python PY] [--workload alloc_churn]
                    [--scale 0.01] [--candidate full|sampled] [--top 10] [--tolerance T]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_bench  # noqa: E402  (the runner's interpreter lookup and workload list)

# How each mode is asked for; "sampled" gets its arguments once the mode exists.
MODES = {"full": ["--mode", "full"], "sampled": None}
DEFAULT_TOLERANCE = {"full": 0.0, "sampled": 0.10}


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def record(pyobjlife, mode_args, python, workload_path, scale, out):
    env = dict(os.environ, PYTHONHASHSEED="0")
    cmd = [pyobjlife, "record", "-q", *mode_args, "-o", out, "--", python, workload_path,
           repr(scale)]
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=900)
    if p.returncode != 0:
        sys.exit(f"accuracy: pyobjlife exited {p.returncode}: {p.stderr.strip()}")
    with open(out) as f:
        return json.load(f)


def workload_sites(rec, workload_path):
    """{(line, function, type): allocations} for the sites in the workload's file."""
    sites = {}
    for s in rec["sites"]:
        if os.path.realpath(s["file"]) == os.path.realpath(workload_path):
            key = (s["line"], s["function"], s["type"])
            sites[key] = sites.get(key, 0) + s["allocations"]
    return sites


def compare(reference, candidate, top, tolerance):
    """Rows (site, exact, estimate, relative error) for the top sites of the reference,
    and the sites whose error exceeds the tolerance."""
    ranked = sorted(reference.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    rows, bad = [], []
    for site, exact in ranked:
        got = candidate.get(site, 0)
        err = abs(got - exact) / exact
        rows.append((site, exact, got, err))
        if err > tolerance:
            bad.append(site)
    return rows, bad


def report_bases(sampling, rows):
    """The top sites' errors had each basis the recording computed scaled the counts
    (sampling.ratios): the same windows judged by user time, work and wall time."""
    used = sampling["ratio"]
    for basis, ratio in sorted(sampling.get("ratios", {}).items()):
        if not ratio:
            continue
        errs = sorted((got * used / ratio - exact) / exact for _, exact, got, _ in rows)
        print(f"  basis {basis:<9} ratio {ratio:.5f}: errors {errs[0]:+.1%} .. {errs[-1]:+.1%}, "
              f"median {errs[len(errs) // 2]:+.1%}")
    if "user_ticks_inside_windows" in sampling:
        print(f"  user time inside the windows: {sampling['target_user_inside_windows_ns'] / 1e9:.3f}"
              f" s of {sampling['target_user_ns'] / 1e9:.3f} s, "
              f"{sampling['user_ticks_inside_windows']:.0f} ticks"
              f"; CPU inside {sampling.get('target_cpu_inside_windows_ns', 0) / 1e9:.3f} s")


def affine_prediction(a, python, path, first, tmp, target_scale):
    """Each site's count at target_scale from full recordings at 1, 2 and 3 times --scale.
    A workload's count at a site is once-only work (definitions, imports) plus work per
    unit: c(s) = fixed + per_unit * s. Three scales check that model exactly (equal
    steps) before it is trusted; None (and a FAIL line) when a site breaks it."""
    runs = [first] + [workload_sites(record(a.pyobjlife, MODES["full"], python, path, k * a.scale,
                                            os.path.join(tmp, f"reference-x{k}.json")), path)
                      for k in (2, 3)]
    sites = set().union(*runs)
    counts = {k: [r.get(k, 0) for r in runs] for k in sites}
    off = [k for k, (c1, c2, c3) in counts.items() if c3 - c2 != c2 - c1]
    if off:
        print(f"FAIL: {a.workload}'s counts are not affine in its scale (fixed + per unit): "
              f"{len(off)} sites, e.g. {[(k, counts[k]) for k in off[:3]]}")
        return None
    steps = target_scale / a.scale - 1
    return {k: c1 + (c2 - c1) * steps for k, (c1, c2, _) in counts.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pyobjlife", default=os.path.join(os.path.dirname(HERE), "build",
                                                         "pyobjlife"))
    ap.add_argument("--python", default=None)
    ap.add_argument("--workload", default="alloc_churn", choices=run_bench.available_workloads())
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--candidate-scale", type=float, default=None,
                    help="the candidate's scale (default --scale): sampled mode needs a "
                    "long recording (30 s of alloc_churn is scale 30), which full mode cannot "
                    "make in reasonable time; the reference's counts are then scaled by the "
                    "ratio, after checking that they are affine in the scale (full recordings "
                    "at 1, 2 and 3 times --scale must step equally at every site)")
    ap.add_argument("--candidate", choices=sorted(MODES), default="full")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--tolerance", type=float, default=None,
                    help="largest relative error allowed (default: 0 for full, 0.10 sampled)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        skip("recording needs root")
    if not os.access(a.pyobjlife, os.X_OK):
        skip(f"{a.pyobjlife} is not built")
    python = a.python or run_bench.default_python()
    if not python or not os.access(python, os.X_OK):
        skip(f"no Python found ({python})")
    candidate_args = MODES[a.candidate]
    if a.candidate == "sampled":
        candidate_args = run_bench.sampled_mode_args(run_bench.pyobjlife_record_help(a.pyobjlife))
        if candidate_args is None:
            skip("pyobjlife has no sampled mode yet (`record --help` has no --overhead)")
    tolerance = DEFAULT_TOLERANCE[a.candidate] if a.tolerance is None else a.tolerance
    path = os.path.join(run_bench.WORKLOAD_DIR, a.workload + ".py")

    cscale = a.scale if a.candidate_scale is None else a.candidate_scale
    with tempfile.TemporaryDirectory(prefix="pyobjlife-accuracy-") as tmp:
        ref = workload_sites(record(a.pyobjlife, MODES["full"], python, path, a.scale,
                                    os.path.join(tmp, "reference.json")), path)
        if cscale != a.scale:
            ref = affine_prediction(a, python, path, ref, tmp, cscale)
            if ref is None:
                return 1
        crec = record(a.pyobjlife, candidate_args, python, path, cscale,
                      os.path.join(tmp, "candidate.json"))
        cand = workload_sites(crec, path)
    sampling = crec.get("sampling")
    if sampling:
        print(f"candidate: {crec['duration_seconds']:.1f} s recorded, {sampling['windows']} "
              f"windows, ratio {sampling['ratio']:.4f}, estimated overhead "
              f"{sampling['estimated_overhead_percent']:.2f}%")
    if len(ref) < a.top:
        print(f"FAIL: the reference has {len(ref)} sites in {a.workload}, fewer than {a.top}")
        return 1
    rows, bad = compare(ref, cand, a.top, tolerance)
    print(f"{a.workload} (scale {cscale:g}; full mode at {a.scale:g}, scaled), "
          f"{a.candidate} against full, " if cscale != a.scale else
          f"{a.workload} (scale {a.scale:g}), {a.candidate} against full, "
          f"top {a.top} of {len(ref)} sites, tolerance {tolerance:.0%}")
    print(f"{'line':>5} {'function':<20} {'type':<14} {'full':>10} {a.candidate:>10} {'error':>8}")
    for (line, func, typ), exact, got, err in rows:
        print(f"{line:>5} {func:<20} {typ:<14} {exact:>10.0f} {got:>10} {err:>8.2%}")
    if sampling:
        report_bases(sampling, rows)
    if a.candidate == "full":
        extra = sorted(set(ref) ^ set(cand))
        differing = [s for s in ref if s in cand and ref[s] != cand[s]]
        if extra or differing:
            print(f"FAIL: the two full recordings differ: {len(extra)} sites in one only, "
                  f"{len(differing)} with other counts, e.g. {(extra + differing)[:3]}")
            return 1
    if bad:
        print(f"FAIL: {len(bad)} of the top {a.top} sites beyond {tolerance:.0%}")
        return 1
    print(f"PASS: {len(ref)} sites, top {a.top} within {tolerance:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
