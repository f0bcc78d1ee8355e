#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""Smoke test of bench/run_bench.py: one round of one small workload, plain and under
`pyobjlife record --mode gc`. Checks the structure of its JSON and markdown, never
the timings. Root (pyobjlife records).

  bench_smoke.py --pyobjlife build/pyobjlife --python PY
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, skip  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(ROOT, "bench", "run_bench.py")
WORKLOAD = "gc_graph"
CONFIGS = ["baseline", "pyobjlife-gc"]


def number(value, what):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        fail(f"{what} is not a number: {value!r}")
    return value


def need(obj, keys, what):
    missing = [k for k in keys if k not in obj]
    if missing:
        fail(f"{what} lacks {missing}: {sorted(obj)}")


def check(doc, table):
    need(doc, ["schema", "machine", "settings", "configs", "workloads", "summary", "errors"],
         "the JSON")
    if doc["schema"] != "pyobjlife-bench/1":
        fail(f"schema {doc['schema']!r}")
    need(doc["machine"], ["kernel", "cpu_model", "cores", "python_version", "pyobjlife_version"],
         "machine")
    if doc["machine"]["kernel"] != os.uname().release:
        fail(f"machine.kernel {doc['machine']['kernel']!r} is not {os.uname().release!r}")
    if doc["settings"]["rounds"] != 1 or doc["settings"]["workloads"] != [WORKLOAD]:
        fail(f"settings do not echo the command line: {doc['settings']}")
    if doc["settings"]["configs"] != CONFIGS:
        fail(f"configurations {doc['settings']['configs']}, expected {CONFIGS}")
    if doc["errors"]:
        fail(f"the runner reported errors: {doc['errors']}")
    results = doc["workloads"][WORKLOAD]["results"]
    for name in CONFIGS:
        slot = results[name]
        need(slot, ["runs", "median_s", "ratio", "error"], f"{WORKLOAD}/{name}")
        if len(slot["runs"]) != 1:
            fail(f"{name}: {len(slot['runs'])} runs, expected 1")
        run = slot["runs"][0]
        number(run["work_s"], f"{name} work_s")
        number(run["wall_s"], f"{name} wall_s")
        if run["work_s"] > run["wall_s"]:
            fail(f"{name}: the workload's own time {run['work_s']} exceeds the process's "
                 f"{run['wall_s']}")
        number(slot["ratio"], f"{name} ratio")
        number(slot["ratio_fastest"], f"{name} ratio_fastest")
        if slot["min_s"] != run["work_s"]:
            fail(f"{name}: min_s {slot['min_s']} of one run is not its work_s {run['work_s']}")
        need(doc["summary"][name], ["available", "geomean_ratio", "max_ratio",
                                    "geomean_ratio_fastest", "max_ratio_fastest"],
             f"summary {name}")
    recorded = results["pyobjlife-gc"]["runs"][0]
    need(recorded, ["lost_events", "attach_s"], "the pyobjlife-gc run (its recording checked)")
    number(doc["summary"]["pyobjlife-gc"]["geomean_ratio"], "pyobjlife-gc geomean_ratio")
    if results["baseline"]["runs"][0]["checksum"] != recorded["checksum"]:
        fail("the workload's checksum differs between the configurations")
    for name in CONFIGS:
        rows = table.count(f"| {name} |")
        if rows != 2:
            fail(f"{name} has {rows} rows in the markdown, expected 2 (medians, fastest runs):"
                 f"\n{table}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True)
    a = ap.parse_args()
    if os.geteuid() != 0:
        skip("pyobjlife needs root to record")
    if not os.access(a.python, os.X_OK):
        skip(f"{a.python} is not installed")
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as tmp:
        out_json, out_md = os.path.join(tmp, "b.json"), os.path.join(tmp, "b.md")
        p = subprocess.run([sys.executable, RUNNER, "--rounds", "1", "--workloads", WORKLOAD,
                            "--configs", ",".join(CONFIGS), "--scale", "small", "--python",
                            a.python, "--pyobjlife", a.pyobjlife, "--json", out_json,
                            "--markdown", out_md], capture_output=True, text=True, timeout=600)
        print(p.stdout + p.stderr)
        if p.returncode != 0:
            fail(f"run_bench.py exited {p.returncode}")
        with open(out_json) as f:
            doc = json.load(f)
        with open(out_md) as f:
            table = f.read()
    check(doc, table)
    if table not in p.stdout:
        fail("the table on stdout differs from the --markdown file")
    print("PASS: run_bench.py wrote a complete JSON and table")


if __name__ == "__main__":
    main()
