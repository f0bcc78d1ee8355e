#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""Overhead of pyobjlife and its peers on the workloads in bench/workloads/.

Each workload runs under every configuration (plain, pyobjlife gc / full /
sampled, tracemalloc, bcc's ugc, austin) for --rounds rounds. The runs are
interleaved: in each round every configuration runs once, in an order that
rotates from round to round and workload to workload, so drift in the
machine's load falls on every configuration alike.

The time compared is the workload's own clock around its work
(bench/workloads/_workload.py): interpreter start-up and a profiler's attach and
detach are outside it in every configuration. Profilers that attach to a PID
are attached while the workload waits for its go signal; the time from the
profiler's start to its readiness is reported as its attach time.

Every profiler run is checked: pyobjlife must exit 0 with a recording of the
whole run, the other tools must exit cleanly with output, and every run of a
workload must produce the same checksum. A failed run is an error, not a
timing (exit status 1).

Configurations are data (CONFIGS below); one whose tool is missing or cannot
work here is reported as not available, with the reason.

  bench/run_bench.py [--rounds N] [--workloads a,b] [--configs a,b] [--scale small|N]
                     [--python PY] [--pyobjlife PATH] [--json FILE] [--markdown FILE]
"""
import argparse
import glob
import json
import math
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD_DIR = os.path.join(HERE, "workloads")
SCHEMA = "pyobjlife-bench/1"
SCALES = {"small": 0.1, "default": 1.0}
RUN_TIMEOUT = 900        # seconds for one run; full mode slows a workload several times
ATTACH_TIMEOUT = 60      # seconds for an attaching tool to become ready
PROBE_FUNCTION = "pyobjlife_bench_probe"   # what an attaching tool must see in a trial run
PROBE_COLLECTIONS = 5


class RunError(Exception):
    """A run that must not count as a timing."""


# ---- configurations ---------------------------------------------------------------------
#
# kind "plain":     PYTHON [python_args] WORKLOAD SCALE
# kind "pyobjlife": pyobjlife record [args] -o OUT.json -- PYTHON WORKLOAD SCALE
# kind "attach":    the workload waits for its go signal; TOOL is started on its PID
#                   and the workload goes once TOOL is ready (see ATTACH_TOOLS)
# "requires" names a check in AVAILABILITY; it returns None or why the configuration
# cannot run here.
# "work": the fraction of each workload's work done under this configuration, for those
# that slow it down so much that a full-size run would take minutes. Their ratio is then
# taken against a baseline of the same size ("baseline@FRACTION", added automatically and
# interleaved like the others), so it stays a ratio of equal work.

# What a run's time is. CPU time is the default: a probe's cost is charged to the
# target thread that trapped, and the workload's CPU time is not inflated by other load
# on a shared host, which wall-clock ratios of a few percent cannot be told from.
CLOCKS = {
    "cpu": "the workload process's CPU time (user + system) around its work",
    "wall": "the wall clock around the workload's work",
}

CONFIGS = [
    {"name": "baseline", "kind": "plain"},
    {"name": "pyobjlife-gc", "kind": "pyobjlife", "args": ["--mode", "gc"], "mode": "gc"},
    # every allocation probed: ~25 us per allocation today, 25-600x (issue 5, items 1 and 4)
    {"name": "pyobjlife-full", "kind": "pyobjlife", "args": ["--mode", "full"], "mode": "full",
     "work": 0.02},
    # the future default: sampled allocation probes under an --overhead budget
    {"name": "pyobjlife-sampled", "kind": "pyobjlife", "args": None, "mode": "sampled",
     "requires": "sampled"},
    {"name": "tracemalloc-1", "kind": "plain", "python_args": ["-X", "tracemalloc=1"],
     "work": 0.25},
    {"name": "tracemalloc-25", "kind": "plain", "python_args": ["-X", "tracemalloc=25"],
     "work": 0.25},
    {"name": "ugc", "kind": "attach", "tool": "ugc"},
    {"name": "austin", "kind": "attach", "tool": "austin"},
]

# Tools that attach to a PID. "command" gets the PID and an output path; readiness is
# a line on the tool's stdout matching "ready_line", or output appearing in the output
# file. "stop": how the tool ends once the workload has exited.
ATTACH_TOOLS = {
    "ugc": {
        # bcc's USDT GC tracer: Debian installs it as /usr/sbin/ugc (pythongc-bpfcc wraps it)
        "executables": ["ugc-bpfcc", "ugc"],
        "command": lambda exe, pid, out: [exe, "-l", "python", str(pid)],
        "ready_line": re.compile(r"^Tracing garbage collections"),
        "stop": "sigint",
        "env": {"PYTHONUNBUFFERED": "1"},
        # one "START TIME DESCRIPTION" line per collection
        "sees_probe": lambda text: len(re.findall(r"(?m)^\d+\.\d+ +\d+\.\d+ ", text))
        >= PROBE_COLLECTIONS,
        "expected": "a line for each of the probe target's gc.collect() calls",
    },
    "austin": {
        # frame stack sampler; with -o it writes samples (idle ones too) once attached
        "executables": ["austin"],
        "command": lambda exe, pid, out: [exe, "-p", str(pid), "-o", out],
        "ready_line": None,
        "stop": "exits with target",
        "env": {},
        # an austin too old for the interpreter attaches and samples, but finds no frames
        "sees_probe": lambda text: PROBE_FUNCTION in text,
        "expected": f"the probe target's function {PROBE_FUNCTION}() in its samples",
    },
}


def find_tool(tool):
    for name in ATTACH_TOOLS[tool]["executables"]:
        path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if path:
            return path
    return None


# ---- the machine and the interpreter ----------------------------------------------------

def default_python():
    """Newest pyenv 3.12 release (PYENV_ROOT or ~/.pyenv), else python3 on PATH."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = [d for d in glob.glob(os.path.join(root, "versions", "3.12.*"))
             if re.search(r"/3\.12\.\d+$", d)]
    found.sort(key=lambda d: int(d.rsplit(".", 1)[1]))
    for d in reversed(found):
        exe = os.path.join(d, "bin", "python3.12")
        if os.access(exe, os.X_OK):
            return exe
    return shutil.which("python3")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def command_output(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else ""


def machine_info(python, pyobjlife):
    return {
        "kernel": platform.release(),
        "os": platform.platform(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "python": python,
        "python_version": command_output([python, "-c",
                                          "import sys; print(sys.version.split()[0])"]),
        "pyobjlife": pyobjlife,
        "pyobjlife_version": command_output([pyobjlife, "--version"])
        if os.access(pyobjlife, os.X_OK) else "not built",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# ---- availability -----------------------------------------------------------------------

def pyobjlife_record_help(pyobjlife):
    try:
        return subprocess.run([pyobjlife, "record", "--help"], capture_output=True,
                              text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def check_pyobjlife(cfg, ctx):
    if not os.access(ctx["pyobjlife"], os.X_OK):
        return f"{ctx['pyobjlife']} is not built"
    if os.geteuid() != 0:
        return "needs root"
    return None


def sampled_mode_args(record_help):
    """pyobjlife's arguments for sampled mode, or None while it does not exist. It exists
    once `record --help` offers --overhead; it is then the default mode, or --mode
    sampled if the help lists that."""
    if "--overhead" not in record_help:
        return None
    return ["--mode", "sampled"] if re.search(r"--mode=[a-z|]*sampled", record_help) else []


def check_sampled(cfg, ctx):
    why = check_pyobjlife(cfg, ctx)
    if why:
        return why
    cfg["args"] = sampled_mode_args(ctx["record_help"])
    if cfg["args"] is None:
        return "not available: `pyobjlife record --help` has no --overhead (no sampled mode yet)"
    return None


def check_attach_tool(cfg, ctx):
    tool = cfg["tool"]
    exe = find_tool(tool)
    if not exe:
        return "not installed"
    if os.geteuid() != 0:
        return "needs root"
    cfg["executable"] = exe
    try:
        probe_attach_tool(cfg, ctx["python"])
    except RunError as e:
        return f"not available: {e}"
    return None


AVAILABILITY = {"plain": lambda cfg, ctx: None, "pyobjlife": check_pyobjlife,
                "attach": check_attach_tool, "sampled": check_sampled}

PROBE_TARGET = f"""import gc, sys, time
sys.stdout.write("ready\\n"); sys.stdout.flush(); sys.stdin.readline()
def {PROBE_FUNCTION}():
    t = time.perf_counter()
    for _ in range({PROBE_COLLECTIONS}):
        for _ in range(1000):
            a = []
            a.append(a)
        gc.collect()
    while time.perf_counter() - t < 0.5:
        [object() for _ in range(1000)]
{PROBE_FUNCTION}()
"""


def probe_attach_tool(cfg, python):
    """Attach the tool once to a tiny waiting interpreter: a tool that cannot work here
    (too old for this Python, no kernel headers for bcc) is reported, not timed."""
    with tempfile.TemporaryDirectory(prefix="pyobjlife-bench-probe-") as tmp:
        target = subprocess.Popen([python, "-c", PROBE_TARGET], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            attached = attach_and_go(cfg, target, tmp)
            try:
                target.wait(60)
            except subprocess.TimeoutExpired:
                raise RunError("the probe target did not finish with the tool attached")
            finally:
                produced = stop_tool(cfg, attached)
        finally:
            if target.poll() is None:
                target.kill()
                target.wait()
        with open(produced, errors="replace") as f:
            spec = ATTACH_TOOLS[cfg["tool"]]
            if not spec["sees_probe"](f.read()):
                raise RunError(f"{cfg['tool']} ran but its output lacks {spec['expected']} "
                               "(too old for this Python?)")


# ---- one run ----------------------------------------------------------------------------

def read_result(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise RunError(f"{what}: no timing from the workload ({e})")


def tail(path):
    """What a tool or workload said, for an error message: its first two lines (where
    tools print the cause) and its last (a traceback's verdict), tracebacks left out."""
    try:
        with open(path, errors="replace") as f:
            text = [t.strip() for t in f if t.strip() and not t.startswith((" ", "Traceback"))]
    except OSError:
        return ""
    return " / ".join(text if len(text) <= 3 else text[:2] + text[-1:])


def workload_cmd(ctx, cfg, workload, python_args=()):
    return [ctx["python"], *python_args, os.path.join(WORKLOAD_DIR, workload + ".py"),
            repr(ctx["scale"] * cfg.get("work", 1))]


def run_plain(cfg, ctx, workload, env, tmp):
    cmd = workload_cmd(ctx, cfg, workload, cfg.get("python_args", ()))
    err = os.path.join(tmp, "stderr")
    with open(err, "w") as errf:
        p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=errf, timeout=RUN_TIMEOUT)
    if p.returncode != 0:
        raise RunError(f"workload exited {p.returncode}: {tail(err)}")
    return {}


def check_recording(cfg, path):
    try:
        with open(path) as f:
            rec = json.load(f)
    except (OSError, ValueError) as e:
        raise RunError(f"pyobjlife wrote no readable recording ({e})")
    if cfg["mode"] != "sampled" and rec.get("mode") != cfg["mode"]:
        raise RunError(f"recording is in mode {rec.get('mode')!r}, not {cfg['mode']!r}")
    if rec.get("end_reason") != "target exited":
        raise RunError(f"recording ended by {rec.get('end_reason')!r}, not the target's exit")
    if rec.get("mode") in ("full", "sampled") and not rec.get("allocations", {}).get(
            "total_allocations"):
        raise RunError("recording counted no allocations")
    return {"lost_events": rec.get("lost_events", 0),
            "lost_allocations": rec.get("allocations", {}).get("lost_allocations", 0)}


def run_pyobjlife(cfg, ctx, workload, env, tmp):
    out = os.path.join(tmp, "recording.json")
    cmd = [ctx["pyobjlife"], "record", *cfg["args"], "-o", out, "--",
           *workload_cmd(ctx, cfg, workload)]
    start = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    attached_at = []
    lines = []

    def read_stderr():
        for line in p.stderr:
            if not attached_at and "attached" in line:
                attached_at.append(time.monotonic())
            lines.append(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        rc = p.wait(RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise RunError(f"pyobjlife did not finish within {RUN_TIMEOUT} s")
    reader.join(10)
    if rc != 0:
        raise RunError(f"pyobjlife exited {rc}: {''.join(lines[-3:]).strip()}")
    extra = check_recording(cfg, out)
    if attached_at:
        extra["attach_s"] = attached_at[0] - start
    return extra


def wait_ready(cfg, tool, out, stdout_path, deadline):
    """Until the tool says it is attached: its ready line, or samples in its output."""
    spec = ATTACH_TOOLS[cfg["tool"]]
    while time.monotonic() < deadline:
        if spec["ready_line"] is not None:
            try:
                with open(stdout_path, errors="replace") as f:
                    if any(spec["ready_line"].search(line) for line in f):
                        return
            except OSError:
                pass
        elif os.path.exists(out) and os.path.getsize(out) > 0:
            return
        if tool.poll() is not None:
            raise RunError(f"{cfg['tool']} exited {tool.returncode} before attaching: "
                           f"{tail(stdout_path)}")
        time.sleep(0.05)
    raise RunError(f"{cfg['tool']} not ready after {ATTACH_TIMEOUT} s")


def attach_and_go(cfg, target, tmp):
    """Start the tool on a workload waiting for its go signal; send go once the tool is
    ready. Returns what stop_tool needs."""
    spec = ATTACH_TOOLS[cfg["tool"]]
    ready, _, _ = select.select([target.stdout], [], [], 60)
    if not ready or target.stdout.readline().strip() != "ready":
        raise RunError("the workload did not start")
    out = os.path.join(tmp, cfg["tool"] + ".out")
    stdout_path = os.path.join(tmp, cfg["tool"] + ".log")
    env = dict(os.environ, **spec["env"])
    start = time.monotonic()
    with open(stdout_path, "w") as log:
        tool = subprocess.Popen(spec["command"](cfg["executable"], target.pid, out), env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(cfg, tool, out, stdout_path, start + ATTACH_TIMEOUT)
    except RunError:
        stop_process(tool)
        raise
    attach_s = time.monotonic() - start
    target.stdin.write("go\n")
    target.stdin.flush()
    return {"tool": tool, "out": out, "log": stdout_path, "attach_s": attach_s}


def stop_process(p):
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def stop_tool(cfg, attached):
    """End the tool once the workload has exited; it must exit cleanly with output."""
    spec = ATTACH_TOOLS[cfg["tool"]]
    tool = attached["tool"]
    if spec["stop"] == "sigint":
        tool.send_signal(signal.SIGINT)
    try:
        rc = tool.wait(30)
    except subprocess.TimeoutExpired:
        stop_process(tool)
        raise RunError(f"{cfg['tool']} did not exit within 30 s of the workload's end")
    if rc != 0:
        raise RunError(f"{cfg['tool']} exited {rc}: {tail(attached['log'])}")
    produced = attached["out"] if spec["ready_line"] is None else attached["log"]
    if not os.path.exists(produced) or os.path.getsize(produced) == 0:
        raise RunError(f"{cfg['tool']} produced no output")
    return produced


def run_attach(cfg, ctx, workload, env, tmp):
    env = dict(env, PYOBJLIFE_BENCH_WAIT="1")
    err = os.path.join(tmp, "stderr")
    with open(err, "w") as errf:
        target = subprocess.Popen(workload_cmd(ctx, cfg, workload), env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=errf, text=True)
    try:
        attached = attach_and_go(cfg, target, tmp)
        try:
            # drain stdout (the report line) so the workload never blocks on a full pipe
            target.communicate(timeout=RUN_TIMEOUT)
        finally:
            stop_tool(cfg, attached)
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
    if target.returncode != 0:
        raise RunError(f"workload exited {target.returncode}: {tail(err)}")
    return {"attach_s": attached["attach_s"]}


RUNNERS = {"plain": run_plain, "pyobjlife": run_pyobjlife, "attach": run_attach}


def run_once(cfg, ctx, workload):
    with tempfile.TemporaryDirectory(prefix="pyobjlife-bench-") as tmp:
        result = os.path.join(tmp, "result.json")
        env = dict(os.environ, PYOBJLIFE_BENCH_RESULT=result)
        env.pop("PYOBJLIFE_BENCH_WAIT", None)
        start = time.monotonic()
        try:
            extra = RUNNERS[cfg["kind"]](cfg, ctx, workload, env, tmp)
        except subprocess.TimeoutExpired:
            raise RunError(f"no exit within {RUN_TIMEOUT} s")
        wall = time.monotonic() - start
        report = read_result(result, cfg["name"])
    work = report["cpu_s"] if ctx["clock"] == "cpu" else report["elapsed_s"]
    return dict(extra, work_s=work, elapsed_s=report["elapsed_s"], cpu_s=report["cpu_s"],
                wall_s=wall, checksum=report["checksum"],
                units=report["units"], gc_collections=report["gc_collections"])


# ---- the suite --------------------------------------------------------------------------

def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def run_suite(ctx, workloads, configs, rounds, log):
    runnable = [c for c in configs if c["available"]]
    results = {w: {c["name"]: {"runs": [], "error": None} for c in runnable} for w in workloads}
    for r in range(rounds):
        for wi, w in enumerate(workloads):
            for cfg in rotated(runnable, r + wi):
                slot = results[w][cfg["name"]]
                if slot["error"]:
                    continue
                try:
                    run = run_once(cfg, ctx, w)
                except RunError as e:
                    slot["error"] = str(e)
                    log(f"round {r + 1}/{rounds} {w:<16} {cfg['name']:<18} FAILED: {e}")
                    continue
                slot["runs"].append(run)
                log(f"round {r + 1}/{rounds} {w:<16} {cfg['name']:<18} {run['work_s']:8.3f} s")
    return results


def reference_of(cfg):
    """The baseline a configuration's ratio is taken against: the one of the same size."""
    work = cfg.get("work", 1)
    return "baseline" if work == 1 else f"baseline@{work:g}"


def add_reference_baselines(configs):
    """A baseline of each smaller size that an available configuration runs at."""
    sizes = sorted({c.get("work", 1) for c in configs if c["available"]} - {1}, reverse=True)
    refs = [{"name": f"baseline@{w:g}", "kind": "plain", "work": w, "available": True,
             "reason": None, "baseline": True} for w in sizes]
    return configs[:1] + refs + configs[1:]


def geomean(values):
    return math.exp(statistics.fmean(math.log(v) for v in values))


def ratios_of(results, name, key):
    """One configuration's ratios by workload, where they could be computed."""
    return {w: by_cfg[name][key] for w, by_cfg in results.items()
            if by_cfg[name].get(key) is not None}


def summarize(results, configs):
    """Medians, ratios to the baseline of the same size, and per configuration the
    geometric mean and maximum of the ratios over the workloads. Runs of the same size
    must agree on the workload's checksum."""
    errors = []
    by_name = {c["name"]: c for c in configs}
    for w, by_cfg in results.items():
        sums = {}
        for name, slot in by_cfg.items():
            for run in slot["runs"]:
                sums.setdefault(by_name[name].get("work", 1), set()).add(run["checksum"])
        for work, found in sorted(sums.items()):
            if len(found) > 1:
                errors.append(f"{w}: runs of size {work:g} disagree on the checksum: "
                              f"{sorted(found)}")
        for name, slot in by_cfg.items():
            if slot["error"]:
                errors.append(f"{w} under {name}: {slot['error']}")
                slot.update(median_s=None, spread=None, attach_median_s=None)
                continue
            times = [r["work_s"] for r in slot["runs"]]
            slot["units"] = slot["runs"][0]["units"]
            slot["median_s"] = statistics.median(times)
            slot["min_s"] = min(times)
            slot["spread"] = (max(times) - min(times)) / slot["median_s"]
            attach = [r["attach_s"] for r in slot["runs"] if "attach_s" in r]
            slot["attach_median_s"] = statistics.median(attach) if attach else None
        for name, slot in by_cfg.items():
            ref = by_cfg.get(reference_of(by_name[name]), {})
            slot["reference"] = reference_of(by_name[name])
            slot["ratio"] = (slot["median_s"] / ref["median_s"]
                             if slot["median_s"] and ref.get("median_s") else None)
            slot["ratio_fastest"] = (slot["min_s"] / ref["min_s"]
                                     if slot.get("min_s") and ref.get("min_s") else None)
    summary = {}
    for cfg in configs:
        name = cfg["name"]
        if not cfg["available"]:
            summary[name] = {"available": False, "reason": cfg["reason"]}
            continue
        ratios = ratios_of(results, name, "ratio")
        fastest = ratios_of(results, name, "ratio_fastest")
        complete = len(ratios) == len(results)
        worst = max(ratios, key=ratios.get) if ratios else None
        worst_fastest = max(fastest, key=fastest.get) if fastest else None
        attach = [by_cfg[name]["attach_median_s"] for by_cfg in results.values()
                  if by_cfg[name].get("attach_median_s") is not None]
        summary[name] = {
            "available": True,
            "baseline": bool(cfg.get("baseline")),
            "work": cfg.get("work", 1),
            "reference": reference_of(cfg),
            "geomean_ratio": geomean(ratios.values()) if ratios and complete else None,
            "max_ratio": ratios[worst] if worst else None,
            "max_ratio_workload": worst,
            "geomean_ratio_fastest": (geomean(fastest.values()) if fastest and complete
                                      else None),
            "max_ratio_fastest": fastest[worst_fastest] if worst_fastest else None,
            "max_ratio_fastest_workload": worst_fastest,
            "attach_median_s": statistics.median(attach) if attach else None,
        }
    return summary, errors


# Two statistics of the same runs. "ratio": medians (the headline). "ratio_fastest": the
# fastest runs, since other load on the host only ever adds time to a run.
STATISTICS = {"ratio": ("median_s", "geomean_ratio", "max_ratio", "max_ratio_workload"),
              "ratio_fastest": ("min_s", "geomean_ratio_fastest", "max_ratio_fastest",
                                "max_ratio_fastest_workload")}


def table_cells(doc, name, s, workloads, statistic="ratio"):
    if not s["available"]:
        return ["n/a"] * (len(workloads) + 2) + [s["reason"]]
    seconds, geo, worst, worst_workload = STATISTICS[statistic]
    cells = []
    for w in workloads:
        slot = doc["workloads"][w]["results"][name]
        if slot["error"]:
            cells.append("FAILED")
        elif s["baseline"]:
            cells.append(f"{slot[seconds]:.3f} s")
        else:
            cells.append(f"{slot[statistic]:.3f}" if slot.get(statistic) else "—")
    if s["baseline"]:
        cells += ["", ""]
    else:
        cells.append(f"{s[geo]:.3f}" if s[geo] else "—")
        cells.append(f"{s[worst]:.3f} ({s[worst_workload]})" if s[worst] else "—")
    notes = []
    if s["work"] != 1 and not s["baseline"]:
        notes.append(f"{s['work']:g} of the work, against {s['reference']}")
    if s["attach_median_s"] is not None:
        notes.append(f"attach {s['attach_median_s']:.2f} s")
    return cells + ["; ".join(notes)]


def table_rows(doc, workloads, statistic):
    rows = ["| configuration | " + " | ".join(workloads) + " | geo mean | max | notes |",
            "|---|" + "---:|" * (len(workloads) + 2) + "---|"]
    for name, s in doc["summary"].items():
        cells = [c.replace("|", "\\|") for c in table_cells(doc, name, s, workloads, statistic)]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def markdown(doc):
    m = doc["machine"]
    workloads = list(doc["workloads"])
    out = [f"Machine: {m['cpu_model']}, {m['cores']} cores, kernel {m['kernel']}; "
           f"Python {m['python_version']} ({m['python']}); {doc['settings']['rounds']} rounds, "
           f"scale {doc['settings']['scale']:g}; load average "
           f"{m['load_average_at_start'][0]:.2f} at start, "
           f"{m.get('load_average_at_end', [float('nan')])[0]:.2f} at end.",
           "",
           f"Clock: {CLOCKS[doc['settings']['clock']]}. "
           "Baseline rows: median seconds of that clock around each workload's work. "
           "Other rows: median time under the profiler divided by the baseline's median "
           "for the same work (1.000 = no slowdown).",
           "",
           *table_rows(doc, workloads, "ratio"),
           "",
           "The same runs, fastest against fastest. Other load on the host only adds time "
           "to a run, so the fastest run of each configuration is its least disturbed one; "
           "where the two tables disagree by more than a few percent, the host's noise is "
           "larger than the difference being measured.",
           "",
           *table_rows(doc, workloads, "ratio_fastest")]
    if doc["errors"]:
        out += ["", "Errors:"] + [f"- {e}" for e in doc["errors"]]
    return "\n".join(out) + "\n"


# ---- command line -----------------------------------------------------------------------

def available_workloads():
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(WORKLOAD_DIR, "*.py"))
                  if not os.path.basename(p).startswith("_"))


def pick(requested, known, what):
    if requested is None:
        return list(known)
    names = [n for n in requested.split(",") if n]
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"run_bench: unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def parse_scale(text):
    if text in SCALES:
        return SCALES[text]
    try:
        value = float(text)
    except ValueError:
        value = 0
    if value <= 0:
        sys.exit(f"run_bench: --scale must be small, default or a positive number, not {text!r}")
    return value


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=None, help="interpreter (default: newest pyenv 3.12, "
                    "else python3 on PATH)")
    ap.add_argument("--pyobjlife", default=os.path.join(os.path.dirname(HERE), "build",
                                                         "pyobjlife"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workloads", help="comma-separated (default: all of bench/workloads)")
    ap.add_argument("--configs", help="comma-separated (default: all)")
    ap.add_argument("--scale", default="default", help="small (0.1), default (1) or a factor")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                    help="what a run's time is: cpu (default) or wall; see CLOCKS")
    ap.add_argument("--json", help="write the results as JSON to this file")
    ap.add_argument("--markdown", help="write the table as markdown to this file")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    a = ap.parse_args()
    if a.rounds < 1:
        sys.exit("run_bench: --rounds must be at least 1")
    python = a.python or default_python()
    if not python:
        sys.exit("run_bench: no Python found; give --python")
    workloads = pick(a.workloads, available_workloads(), "workload")
    names = pick(a.configs, [c["name"] for c in CONFIGS], "configuration")
    if "baseline" not in names:
        names.insert(0, "baseline")
    configs = [dict(c) for c in CONFIGS if c["name"] in names]
    log = (lambda msg: None) if a.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))

    ctx = {"python": python, "pyobjlife": os.path.abspath(a.pyobjlife),
           "scale": parse_scale(a.scale), "clock": a.clock}
    ctx["record_help"] = pyobjlife_record_help(ctx["pyobjlife"])
    for cfg in configs:
        check = AVAILABILITY[cfg.get("requires", cfg["kind"])]
        cfg["reason"] = check(cfg, ctx)
        cfg["available"] = cfg["reason"] is None
        log(f"{cfg['name']:<18} " + ("available" if cfg["available"] else cfg["reason"]))
    configs[0]["baseline"] = True
    configs = add_reference_baselines(configs)

    machine = machine_info(python, ctx["pyobjlife"])
    results = run_suite(ctx, workloads, configs, a.rounds, log)
    summary, errors = summarize(results, configs)
    machine["load_average_at_end"] = list(os.getloadavg())
    doc = {
        "schema": SCHEMA,
        "machine": machine,
        "settings": {"rounds": a.rounds, "clock": a.clock, "scale": ctx["scale"], "python": python,
                     "pyobjlife": ctx["pyobjlife"], "workloads": workloads,
                     "configs": [c["name"] for c in configs],
                     "timed": CLOCKS[a.clock]},
        "configs": {c["name"]: {"kind": c["kind"], "available": c["available"],
                                "reason": c["reason"], "work": c.get("work", 1),
                                "reference": reference_of(c), "args": c.get("args") or
                                c.get("python_args") or ([c["tool"]] if "tool" in c else [])}
                    for c in configs},
        "workloads": {w: {"units": by_cfg["baseline"].get("units"),
                          "baseline_checksum": next((r["checksum"]
                                                     for r in by_cfg["baseline"]["runs"]), None),
                          "results": by_cfg}
                      for w, by_cfg in results.items()},
        "summary": summary,
        "errors": errors,
    }
    table = markdown(doc)
    print(table, end="")
    if a.markdown:
        write_file(a.markdown, table)
    if a.json:
        write_file(a.json, json.dumps(doc, indent=2) + "\n")
    for e in errors:
        print(f"run_bench: error: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
