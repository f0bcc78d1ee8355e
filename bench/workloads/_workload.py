# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""What every benchmark workload shares: the scale argument, the go signal for
profilers that attach to a PID, and the timing report the runner reads.

A workload calls run(name, work, units): work(n) does n units of a fixed kind
of work and returns a checksum (equal in every configuration, or a profiler
changed the program's result). n is units times the optional scale argument.

Protocol with bench/run_bench.py (both optional, so a workload also runs by hand):
- PYOBJLIFE_BENCH_WAIT=1: print "ready" on stdout, then wait for one line on
  stdin before starting the clock (the profiler is attached by then);
- PYOBJLIFE_BENCH_RESULT=FILE: write the report as one JSON object to FILE.
The report is also printed on stdout as one line.
Only the call to work() is timed, by the wall clock (elapsed_s) and by the
process's CPU time, user and system (cpu_s: a probe's trap is charged to the
thread that hit it, and other load on the host does not inflate it): interpreter start-up, imports and the
profiler's attach and detach are outside the clock in every configuration.
Kept compatible with Python 3.8.
"""
import gc
import json
import os
import sys
import time


def _scale():
    if len(sys.argv) > 2:
        sys.exit(f"usage: {sys.argv[0]} [SCALE]")
    try:
        scale = float(sys.argv[1]) if len(sys.argv) == 2 else 1.0
    except ValueError:
        sys.exit(f"{sys.argv[0]}: the scale must be a number, not {sys.argv[1]!r}")
    if scale <= 0:
        sys.exit(f"{sys.argv[0]}: the scale must be positive")
    return scale


def _wait_for_go():
    if os.environ.get("PYOBJLIFE_BENCH_WAIT") != "1":
        return
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if not sys.stdin.readline():
        sys.exit("no go signal on stdin")


def run(name, work, units):
    n = max(1, round(units * _scale()))
    _wait_for_go()
    collections_before = sum(s["collections"] for s in gc.get_stats())
    t0, c0 = time.perf_counter(), time.process_time()
    checksum = work(n)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    collections = sum(s["collections"] for s in gc.get_stats()) - collections_before
    report = {"workload": name, "units": n, "elapsed_s": elapsed, "cpu_s": cpu,
              "checksum": str(checksum),
              "gc_collections": collections}
    line = json.dumps(report)
    path = os.environ.get("PYOBJLIFE_BENCH_RESULT")
    if path:
        with open(path, "w") as f:
            f.write(line + "\n")
    print(line, flush=True)
