#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Slowdown of a collector-heavy workload while `pyobjlife record` traces every
collection, measured side by side: runs alternate plain / recorded, the time is
the workload's own perf_counter over its main loop (startup excluded), and the
result is the ratio of medians. Root.

  bench/gc_probe_overhead.py build/pyobjlife PYTHON [PYTHON...] [--runs N]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

WORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gc_churn_fixed.py")


def one(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pyobjlife")
    ap.add_argument("pythons", nargs="+")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--requests", type=int, default=40000)
    a = ap.parse_args()
    print(f"{'interpreter':<48} {'collections':>11} {'plain s':>9} {'traced s':>9} "
          f"{'ratio':>6} {'us/collection':>13}")
    with tempfile.TemporaryDirectory() as d:
        for py in a.pythons:
            plain, traced = [], []
            for _ in range(a.runs):
                t, n = one([py, WORK, str(a.requests)])
                plain.append(t)
                t, n = one([a.pyobjlife, "record", "--mode", "gc", "-q", "-o",
                            os.path.join(d, "r.json"), "--",
                            py, WORK, str(a.requests)])
                traced.append(t)
            p, t = statistics.median(plain), statistics.median(traced)
            print(f"{py:<48} {n:>11} {p:>9.3f} {t:>9.3f} {t / p:>6.3f} "
                  f"{(t - p) / n * 1e6:>13.1f}")


if __name__ == "__main__":
    sys.exit(main())
