#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""Soak: `pyobjlife record` (sampled mode, the default) attached for --minutes to a
Python process allocating millions of objects a second (bench/soak_workload.py),
with pyobjlife's own memory read from /proc/PID/status every --interval seconds.

It reports pyobjlife's RSS at the start, after a minute and at the end with its
slope, the losses the recording counted (ring buffer records, full maps, entries
thinned out of the bounded timelines), the sampling windows, and checks that the
recording accounts for everything it did not keep:

- memory: RSS growth after the warm-up must be explained by the bounded structures
  the recording reports (diagnostics.memory: their bytes are an upper bound on
  what they can have grown by), within --max-growth-mb; anything beyond is a leak;
- every structure holds no more than its limit;
- every loss counter that is not zero was also said as a warning on stderr (with
  its count); a loss not said is a failure;
- the counts agree with each other: every collection the kernel counted is in
  the timeline, thinned or lost; the interpreter's own counters moved as
  recorded; the allocations the windows counted are the sites'; every object
  followed died, was censored at its window's end, is alive at the end or moved.

Exit status 0 when all hold, 1 otherwise, 77 when it cannot run here (no root,
no pyenv 3.11 or 3.13). Root: pyobjlife attaches probes.

  bench/soak.py [--minutes 10] [--python PY] [--pyobjlife build/pyobjlife]
                [--interval 5] [--warmup 1] [--max-growth-mb 1] [--json FILE]
                [--keep REC.json] [--expect-loss COUNTER]... [-- RECORD OPTIONS...]

pyenv 3.12 is refused: it is kept for the overhead benchmarks (a uprobe on an
executable traps in every process that maps it).
"""
import argparse
import glob
import json
import os
import platform
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import run_bench  # noqa: E402  (the machine's CPU model, as the overhead runs report it)

WORKLOAD = os.path.join(HERE, "soak_workload.py")
ATTACH_TIMEOUT = 60
FINISH_TIMEOUT = 300  # writing the outputs after the duration
MiB = 1 << 20


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def pyenv_python(minor):
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = [d for d in glob.glob(os.path.join(root, "versions", f"3.{minor}.*"))
             if re.search(rf"/3\.{minor}\.\d+$", d)]
    found.sort(key=lambda d: int(d.rsplit(".", 1)[1]))
    for d in reversed(found):
        exe = os.path.join(d, "bin", f"python3.{minor}")
        if os.access(exe, os.X_OK):
            return exe
    return None


def python_minor(python):
    out = subprocess.run([python, "-c", "import sys; print(sys.version_info[1])"],
                         capture_output=True, text=True, timeout=60)
    return int(out.stdout.strip()) if out.returncode == 0 else None


def proc_status(pid):
    """VmRSS, RssAnon and VmHWM of a process in bytes, or None once it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "VmHWM"):
                    out[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError):
        return None
    return out if len(out) == 3 else None


def exited(pid):
    """Whether a child exited, without reaping it (its rusage is read by wait4 later)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def readline(stream, timeout):
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else None


# ---- the run ---------------------------------------------------------------------------

def run(a, tmp):
    rec_path = os.path.join(tmp, "soak.json")
    seconds = a.minutes * 60
    work = subprocess.Popen([a.python, WORKLOAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    rec = None
    try:
        if (readline(work.stdout, 60) or "").strip() != "ready":
            raise SystemExit("soak: the workload did not start")
        rec = subprocess.Popen([a.pyobjlife, "record", "-d", f"{seconds:g}", "-o", rec_path,
                                *a.record_args, "-p", str(work.pid)],
                               stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        stderr = []
        attached = threading.Event()

        def read_stderr():
            for line in rec.stderr:
                stderr.append(line)
                if "attached" in line:
                    attached.set()
            attached.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        if not attached.wait(ATTACH_TIMEOUT) or exited(rec.pid):
            raise SystemExit(f"soak: pyobjlife did not attach: {''.join(stderr)}")
        work.stdin.write("go\n")
        work.stdin.flush()
        samples, t0 = sample_rss(rec, a.interval, seconds)
        _, status, usage = os.wait4(rec.pid, 0)
        rec.returncode = os.waitstatus_to_exitcode(status)
        reader.join(10)
        work.stdin.write("stop\n")
        work.stdin.flush()
        line = readline(work.stdout, 60)
        workload = json.loads(line) if line else {}
        work.wait(30)
    finally:
        for p in (rec, work):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    try:
        with open(rec_path) as f:
            recording = json.load(f)
    except (OSError, ValueError) as e:
        recording = {"error": str(e)}
    if a.keep and os.path.exists(rec_path):
        shutil.move(rec_path, a.keep)
    return {"samples": samples, "rc": rec.returncode, "stderr": "".join(stderr),
            "peak_rss_lifetime": usage.ru_maxrss * 1024, "workload": workload,
            "recording": recording, "duration_s": seconds}


def sample_rss(rec, interval, seconds):
    """(t, VmRSS, RssAnon, VmHWM) every interval until pyobjlife exits; t from the go."""
    samples = []
    t0 = time.monotonic()
    deadline = t0 + seconds + FINISH_TIMEOUT
    while time.monotonic() < deadline:
        st = proc_status(rec.pid)
        if st is None or exited(rec.pid):
            break
        samples.append({"t": time.monotonic() - t0, "rss": st["VmRSS"], "anon": st["RssAnon"],
                        "hwm": st["VmHWM"]})
        next_t = t0 + len(samples) * interval
        while time.monotonic() < next_t and not exited(rec.pid):
            time.sleep(min(0.2, max(0.0, next_t - time.monotonic())))
    return samples, t0


# ---- the analysis ----------------------------------------------------------------------

def nearest(samples, t):
    return min(samples, key=lambda s: abs(s["t"] - t)) if samples else None


def slope_kib_per_min(samples):
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mt = sum(s["t"] for s in samples) / n
    mr = sum(s["rss"] for s in samples) / n
    var = sum((s["t"] - mt) ** 2 for s in samples)
    if not var:
        return 0.0
    cov = sum((s["t"] - mt) * (s["rss"] - mr) for s in samples)
    return cov / var * 60 / 1024


def get(obj, path, default=0):
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def structures_bytes(rec):
    """What the bounded structures took at the end: an upper bound on their growth."""
    st = get(rec, "diagnostics.memory.structures", {})
    total = 0
    for name, s in st.items():
        if name == "symbolizer":
            total += s["code_objects"]["line_table_bytes"] + s["names"]["bytes"]
        else:
            total += s.get("bytes", 0)
    return total


# counter (a path in the recording JSON) -> what the warning on stderr says, with the count
WARNINGS = {
    "diagnostics.ringbuf_drops": r"{n} collection records did not fit the ring buffer",
    "diagnostics.read_errors": r"{n} collections could not be read",
    "diagnostics.inflight_map_full": r"{n} collections were not recorded: no room",
    "diagnostics.malformed_records": r"{n} ring buffer records were malformed",
    "diagnostics.timeline_dropped": r"{n} entries of the collection timeline",
    "diagnostics.timeline_thinned": r"collection timeline .*\({n} not kept",
    "diagnostics.memory.structures.heap_timeline.dropped": r"heap timeline .*{n}",
    "diagnostics.memory.structures.census_log.dropped": r"census log .*{n}",
    "diagnostics.memory.structures.window_log.dropped": r"sampling window log .*{n}",
    "diagnostics.memory.structures.symbolizer.names.dropped": r"{n} names were not kept",
    "diagnostics.bpf_maps.census.walks_cut": r"{n} census walks were cut short",
    "allocations.health.lost_count_map_full": r"{n} allocations were not counted: the count map",
    "allocations.health.count_map_full_counted_by_type":
        r"{n} allocations were counted by type without their stack",
    "allocations.health.stack_map_full_counted_without_stack":
        r"{n} allocations were counted without their stack",
    "allocations.health.key_notices_lost": r"{n} new-site notices did not fit",
    "allocations.health.stacks_unfetchable": r"{n} stacks were given up",
    "allocations.health.read_errors": r"{n} allocations were not counted: the target's memory",
    "lifecycle.health.births_unfollowed_live_map_full": r"{n} births were counted but not followed",
    "lifecycle.health.census_notices_lost": r"{n} census notices did not fit",
    "lifecycle.health.gc_blame_map_full": r"{n} collections have no triggering stack",
    "lifecycle.health.censored_without_counted_allocation": r"{n} censored objects could not",
}


def losses(rec, stderr):
    """Every non-zero loss counter, and whether stderr said it."""
    warned = [line for line in stderr.splitlines() if "warning" in line]
    out = {}
    for path, pattern in WARNINGS.items():
        n = get(rec, path)
        if not isinstance(n, int) or not n:
            continue
        rx = re.compile(pattern.format(n=n))
        out[path] = {"count": n, "warned": any(rx.search(w) for w in warned)}
    return out


def consistency(rec):
    """(what, holds, detail) for each identity the recording's counts must satisfy."""
    checks = []
    diag = rec.get("diagnostics", {})
    gens = get(rec, "gc.generations", [])
    kernel_total = sum(g["collections"] for g in gens)
    timeline = len(get(rec, "gc.collections", []))
    accounted = timeline + diag.get("timeline_thinned", 0) + diag.get("timeline_dropped", 0) + \
        diag.get("ringbuf_drops", 0)
    checks.append(("every collection the kernel counted is in the timeline, thinned or lost",
                   kernel_total == accounted,
                   f"{kernel_total} counted; {timeline} kept + {diag.get('timeline_thinned')} "
                   f"thinned + {diag.get('timeline_dropped')} dropped + "
                   f"{diag.get('ringbuf_drops')} lost in the ring buffer"))
    lost = diag.get("ringbuf_drops", 0) + diag.get("timeline_dropped", 0) + \
        diag.get("malformed_records", 0)
    checks.append(("lost_events sums its counters", rec.get("lost_events") == lost,
                   f"lost_events {rec.get('lost_events')}, counters {lost}"))
    checks.append(("the interpreter's own gc counters moved as recorded",
                   get(rec, "target_check.agrees", False) is True,
                   json.dumps(get(rec, "target_check.generation_stats_delta", None))))
    # under a (stack, type) counter, or by type alone once the count map was full
    counted = get(rec, "allocations.health.allocations_counted") + \
        get(rec, "allocations.health.count_map_full_counted_by_type", 0)
    windows_saw = get(rec, "sampling.observed_allocations")
    sites = sum(s.get("observed_allocations", 0) for s in rec.get("sites", []))
    checks.append(("the windows' allocations are the kernel's and the sites'",
                   counted == windows_saw == get(rec, "allocations.observed_total_allocations")
                   == sites,
                   f"kernel {counted}, windows {windows_saw}, sites {sites}"))
    hits = get(rec, "sampling.hits.allocation")
    checks.append(("every allocation counted was a probe hit",
                   hits >= counted + get(rec, "allocations.health.read_errors"),
                   f"{hits} hits, {counted} counted"))
    h = get(rec, "lifecycle.health", {})
    alive = sum(s.get("alive_at_end", 0) for s in rec.get("sites", []))
    ends = h.get("deaths_seen", 0) + h.get("censored_at_window_close", 0) + alive + \
        h.get("moved_without_death", 0)
    slack = h.get("births_unfollowed_live_map_full", 0)
    checks.append(("every object followed died, was censored, is alive at the end or moved",
                   ends <= h.get("births_followed", 0) <= ends + slack,
                   f"followed {h.get('births_followed')}; deaths {h.get('deaths_seen')} + "
                   f"censored {h.get('censored_at_window_close')} + alive {alive} + moved "
                   f"{h.get('moved_without_death')}"))
    windows = get(rec, "sampling.windows")
    logged = len(get(rec, "sampling.window_log", []))
    checks.append(("every window is in the window log or counted as thinned",
                   windows == logged + get(rec, "sampling.window_log_dropped"),
                   f"{windows} windows, {logged} logged, "
                   f"{get(rec, 'sampling.window_log_dropped')} thinned"))
    for name, s in get(rec, "diagnostics.memory.structures", {}).items():
        if "limit" in s:
            checks.append((f"{name} within its limit", s["kept"] <= s["limit"],
                           f"{s['kept']} kept, limit {s['limit']}"))
    return checks


def analyse(a, r):
    rec = r["recording"]
    recording_phase = [s for s in r["samples"] if s["t"] <= r["duration_s"]]
    after_warmup = [s for s in recording_phase if s["t"] >= a.warmup * 60]
    start, one_min = nearest(recording_phase, 0), nearest(recording_phase, 60)
    warm, end = nearest(recording_phase, a.warmup * 60), \
        (recording_phase[-1] if recording_phase else None)
    growth = end["rss"] - warm["rss"] if end and warm else None
    explained = structures_bytes(rec)
    loss = losses(rec, r["stderr"])
    checks = consistency(rec) if "error" not in rec else []
    failures = []
    if r["rc"] != 0:
        failures.append(f"pyobjlife exited {r['rc']}: {r['stderr'][-2000:]}")
    if "error" in rec:
        failures.append(f"no readable recording: {rec['error']}")
    if len(after_warmup) < 2:
        failures.append("too few RSS samples after the warm-up")
    elif growth - explained > a.max_growth_mb * MiB:
        failures.append(f"RSS grew {growth / MiB:.2f} MiB after the warm-up, "
                        f"{(growth - explained) / MiB:.2f} MiB more than the bounded structures "
                        f"hold ({explained / MiB:.2f} MiB; tolerance {a.max_growth_mb} MiB)")
    for path in a.expect_loss:
        if path not in WARNINGS:
            failures.append(f"--expect-loss {path}: not a loss counter this script knows")
        elif path not in loss:
            failures.append(f"{path} is 0: the run was made to lose there and did not")
    for path, l in loss.items():
        if not l["warned"]:
            failures.append(f"loss not reported: {path} = {l['count']} without its warning")
    for what, holds, detail in checks:
        if not holds:
            failures.append(f"{what}: {detail}")
    sampling = rec.get("sampling", {})
    return {
        "rss_bytes": {"start": start and start["rss"], "after_1_min": one_min and one_min["rss"],
                      "at_warmup": warm and warm["rss"], "end": end and end["rss"],
                      "peak_recording": max((s["rss"] for s in recording_phase), default=None),
                      "peak_lifetime_incl_output": r["peak_rss_lifetime"],
                      "anon_start": start and start["anon"], "anon_end": end and end["anon"]},
        "slope_kib_per_min_after_warmup": slope_kib_per_min(after_warmup),
        "growth_after_warmup_bytes": growth,
        "bounded_structures_bytes": explained,
        "recording_memory": get(rec, "diagnostics.memory", None),
        "bpf_maps_kernel_bytes": get(rec, "diagnostics.memory.bpf_maps_kernel_bytes", None),
        "lost_events": rec.get("lost_events"),
        "sampling_lost_events": sampling.get("lost_events"),
        "map_full": sampling.get("map_full"),
        "losses": loss,
        "windows": sampling.get("windows"),
        "window_ms_median": sampling.get("window_ms"),
        "period_ms_median": sampling.get("period_ms"),
        "sampling_ratio": sampling.get("ratio"),
        "estimated_overhead_percent": sampling.get("estimated_overhead_percent"),
        "collections": sum(g["collections"] for g in get(rec, "gc.generations", [])),
        "observed_allocations": sampling.get("observed_allocations"),
        "estimated_allocations": get(rec, "allocations.total_allocations"),
        "checks": [{"what": w, "holds": h, "detail": d} for w, h, d in checks],
        "failures": failures,
    }


def mib(v):
    return "?" if v is None else f"{v / MiB:.1f} MiB"


def report(a, r, res):
    rss = res["rss_bytes"]
    w = r["workload"]
    print(f"soak: {a.minutes:g} min of `pyobjlife record` (sampled) on "
          f"{os.path.basename(a.python)} {r['python_version']}, {r['machine']['cpu_model']}, "
          f"{r['machine']['cores']} cores, kernel {r['machine']['kernel']}")
    if w:
        print(f"  workload: {w['objects_per_s'] / 1e6:.2f} M objects/s counted by its loop "
              f"({w['objects'] / 1e6:.0f} M over {w['seconds']:.0f} s), "
              f"{w['gc_collections']} collections")
    one_min = mib(rss["after_1_min"]) if a.minutes >= 1 else "n/a"
    print(f"  RSS: start {mib(rss['start'])}, after 1 min {one_min}, "
          f"end {mib(rss['end'])} (peak while recording {mib(rss['peak_recording'])}, with "
          f"the outputs written {mib(rss['peak_lifetime_incl_output'])})")
    print(f"  after the {a.warmup:g} min warm-up: {res['slope_kib_per_min_after_warmup']:+.1f} "
          f"KiB/min, {mib(res['growth_after_warmup_bytes'])} grown; bounded structures "
          f"{mib(res['bounded_structures_bytes'])}; BPF maps in the kernel "
          f"{mib(res['bpf_maps_kernel_bytes'])}")
    print(f"  collections {res['collections']}, windows {res['windows']} "
          f"(median {res['window_ms_median'] or 0:.1f} ms every {res['period_ms_median'] or 0:.0f} "
          f"ms, ratio {res['sampling_ratio'] or 0:.4f}, estimated overhead "
          f"{res['estimated_overhead_percent'] or 0:.2f}%), {res['observed_allocations']} "
          f"allocations observed, {res['estimated_allocations']} estimated")
    print(f"  lost events {res['lost_events']} (sampling {res['sampling_lost_events']}), "
          f"map full {res['map_full']}")
    for path, l in res["losses"].items():
        print(f"  counted: {path} = {l['count']} ({'warned' if l['warned'] else 'NOT WARNED'})")
    for c in res["checks"]:
        print(f"  {'ok  ' if c['holds'] else 'FAIL'} {c['what']}")
    for f in res["failures"]:
        print(f"soak: FAIL: {f}")
    if not res["failures"]:
        print("soak: ok")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--python", help="pyenv 3.11 or 3.13 (default: the newest 3.11, else 3.13)")
    p.add_argument("--pyobjlife", default=os.path.join(ROOT, "build", "pyobjlife"))
    p.add_argument("--interval", type=float, default=5.0, help="seconds between RSS samples")
    p.add_argument("--warmup", type=float, default=1.0, help="minutes before growth counts")
    p.add_argument("--max-growth-mb", type=float, default=1.0,
                   help="RSS growth after the warm-up allowed beyond the bounded structures")
    p.add_argument("--json", help="write the figures and checks to this file")
    p.add_argument("--keep", help="keep the recording JSON at this path")
    p.add_argument("--expect-loss", action="append", default=[], metavar="COUNTER",
                   help="fail unless this loss counter (a path in the recording JSON, as "
                   "listed in the report) is not zero: a run made to lose must lose, and say it")
    p.add_argument("record_args", nargs="*", help="after --: more `pyobjlife record` options")
    a = p.parse_args()
    if a.minutes <= 0 or a.interval <= 0 or a.warmup < 0 or a.warmup >= a.minutes:
        p.error("need --minutes > --warmup >= 0 and --interval > 0")
    return a


def main():
    a = parse_args()
    if os.geteuid() != 0:
        skip("pyobjlife needs root to attach its probes")
    if not os.access(a.pyobjlife, os.X_OK):
        skip(f"{a.pyobjlife} is not built")
    a.python = a.python or pyenv_python(11) or pyenv_python(13)
    if not a.python:
        skip("no pyenv 3.11 or 3.13 (PYENV_ROOT or ~/.pyenv)")
    if not os.access(a.python, os.X_OK):
        skip(f"{a.python} is not installed")
    minor = python_minor(a.python)
    if minor == 12:
        sys.exit("soak: pyenv 3.12 is kept for the overhead benchmarks: use 3.11 or 3.13")
    with tempfile.TemporaryDirectory(prefix="pyobjlife-soak-") as tmp:
        r = run(a, tmp)
    r["python_version"] = subprocess.run(
        [a.python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True).stdout.strip()
    r["machine"] = {"kernel": platform.release(), "cpu_model": run_bench.cpu_model(),
                    "cores": os.cpu_count()}
    res = analyse(a, r)
    report(a, r, res)
    if a.json:
        doc = {"settings": {"minutes": a.minutes, "interval_s": a.interval,
                            "warmup_min": a.warmup, "max_growth_mb": a.max_growth_mb,
                            "python": a.python, "record_args": a.record_args},
               "machine": r["machine"], "python_version": r["python_version"],
               "workload": r["workload"], "rss_samples": r["samples"], **res}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return 1 if res["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
