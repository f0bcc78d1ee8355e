#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: several processes in one recording, each exact against its own oracle.

tests/workloads/multi_workload.py runs a GC section and makes a known number of
instances of its role's class at a marked line, then prints its own gc.get_stats()
figures and that site as one JSON line. Cases (--case):
  two-versions  two running interpreters of different versions, `record -p A -p B`:
                one recording file per PID (rec.json -> rec.PID.json, and so every
                other -o), each equal to its own process's figures, both still
                running at the end ("interrupted"); `pyobjlife report` renders each.
  one-exits     `record -p A -p B`; A finishes and exits while B waits: A's file is
                written when A exits ("target exited"), before B even starts its
                work; B is recorded on and exact too.
  exec          one target, `record -p A` as always: A execs a program that collects;
                the recording ends there ("target exec'd a new program"), its one
                file as before (rec.json), with A's figures and none of the new
                program's collections.
  follow        `record --follow-children -- PY1 multi_workload.py family`: the
                launched interpreter forks; the child (a copy of the interpreter,
                recorded from the fork) execs PY2, whose recording starts at its
                exec; the parent also runs PY3 through subprocess (vfork and exec).
                Four recordings, each exact: the parent's, the child's until its
                exec ("target exec'd a new program"), the exec'd PY2's and PY3's.
  follow-signals  `record --follow-children` of a program that counts the SIGUSR1s it
                gets: every one sent reaches it (the tracer passes signals on), SIGSTOP
                stops it and SIGCONT resumes it (job control still works), and its
                collections are recorded exactly.
--mode gc|sampled|full: collections are exact in every mode; full mode also
requires each process's site with exactly its count and bytes, and no site of
another process's class; sampled mode requires allocation windows in each.
Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, readline, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.realpath(os.path.join(HERE, "..", "workloads", "multi_workload.py"))
KEYS = ("collections", "collected", "uncollectable")
SITE_TYPES = ("SiteAttach", "SiteFamily", "SiteChild", "SiteExec", "SiteSpawned")


class Recorder:
    """pyobjlife in the background, its stderr collected by a thread (a select() on a
    buffered stream misses the lines read ahead with an earlier one)."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     text=True)
        self.err = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_for(self, text, timeout, count=1):
        deadline = time.monotonic() + timeout
        while sum(text in l for l in list(self.err)) < count:
            if self.proc.poll() is not None:
                self.reader.join(5)
                if sum(text in l for l in self.err) >= count:
                    return
                fail(f"pyobjlife exited (rc {self.proc.returncode}) before '{text}': "
                     f"{''.join(self.err)}")
            if time.monotonic() > deadline:
                fail(f"timed out after {timeout} s waiting for {count} x '{text}' from "
                     f"pyobjlife: {''.join(self.err)}")
            time.sleep(0.05)

    def stop(self, timeout=120):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail(f"pyobjlife did not stop within {timeout} s of SIGINT")
        self.reader.join(10)
        return self.proc.returncode, "".join(self.err)


class Target:
    """A running workload in role attach."""

    def __init__(self, python, env, exit_early=False, exec_after=None):
        cmd = [python, WORKLOAD, "attach"] + (["--exit"] if exit_early else []) + \
            (["--exec-after", exec_after] if exec_after else [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        if readline(self.proc.stdout, 60, f"{python} to start").strip() != "ready":
            fail(f"{python}: the workload did not start")
        self.pid = self.proc.pid

    def run(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return json.loads(readline(self.proc.stdout, 300, f"PID {self.pid}'s figures"))

    def finish(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("done\n")
                self.proc.stdin.flush()
                self.proc.wait(30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()


def check_recording(rec, oracle, mode, problems, who):
    """Every figure of one process's recording against the process's own."""
    gens = rec["gc"]["generations"]
    for g in range(3):
        for k in KEYS:
            if gens[g][k] != oracle["stats"][g][k]:
                problems.append(f"{who}: generation {g} {k}: recorded {gens[g][k]}, the "
                                f"process counted {oracle['stats'][g][k]}")
        timeline = [c for c in rec["gc"]["collections"] if c["generation"] == g]
        if len(timeline) != gens[g]["collections"]:
            problems.append(f"{who}: generation {g}: timeline has {len(timeline)} collections")
    if not all(oracle["stats"][g]["collections"] for g in range(3)):
        problems.append(f"{who}: the workload did not reach every generation: "
                        f"{oracle['stats']}")
    if rec["gc"]["thresholds"] != oracle["threshold"]:
        problems.append(f"{who}: thresholds {rec['gc']['thresholds']}, the process has "
                        f"{oracle['threshold']}")
    if rec["lost_events"]:
        problems.append(f"{who}: lost_events {rec['lost_events']}")
    if not (rec.get("target_check") or {}).get("agrees"):
        problems.append(f"{who}: target_check {rec.get('target_check')}")
    t = rec["target"]
    if t["pid"] != oracle["pid"] or t["python_version"] != oracle["python"]:
        problems.append(f"{who}: target {t['pid']} CPython {t['python_version']}, the process "
                        f"is {oracle['pid']} CPython {oracle['python']}")
    if rec["mode"] != mode:
        problems.append(f"{who}: mode {rec['mode']!r}")
    if mode == "full":
        check_site(rec, oracle, problems, who)
    if mode == "sampled" and not (rec.get("sampling") or {}).get("windows"):
        problems.append(f"{who}: no sampling window")


def check_started_in_window(rec, problems, who):
    """A process pyobjlife held at its start runs its first code inside a window: its
    first window opened before its first collection, however short its life."""
    log = (rec.get("sampling") or {}).get("window_log") or []
    first_gc = min((c["t_ns"] for c in rec["gc"]["collections"]), default=None)
    if not log or first_gc is None:
        problems.append(f"{who}: windows {len(log)}, first collection {first_gc}")
    elif log[0]["t_ns"] > first_gc:
        problems.append(f"{who}: first window opened at {log[0]['t_ns'] / 1e6:.1f} ms, after "
                        f"the first collection at {first_gc / 1e6:.1f} ms")


def check_site(rec, oracle, problems, who):
    want = oracle["site"]
    # the oracle's own sample instance is another site of the type, at another line
    got = [s for s in rec["sites"] if s["type"] == want["type"] and s["line"] == want["line"]]
    if len(got) != 1 or (got[0]["file"], got[0]["line"], got[0]["function"]) != (
            want["file"], want["line"], want["function"]):
        problems.append(f"{who}: expected one {want['type']} site at {want['file']}:"
                        f"{want['line']} in {want['function']}, found {got[:3]}")
    elif got[0]["allocations"] != want["allocations"] or \
            got[0]["bytes"] != want["allocations"] * want["size"]:
        problems.append(f"{who}: {want['type']}: {got[0]['allocations']} allocations, "
                        f"{got[0]['bytes']} bytes; the process made {want['allocations']} x "
                        f"{want['size']} bytes")
    others = {s["type"] for s in rec["sites"] if s["type"] in SITE_TYPES} - {want["type"]}
    if others:
        problems.append(f"{who}: sites of other processes' classes: {sorted(others)}")
    if rec["allocations"]["lost_allocations"]:
        problems.append(f"{who}: {rec['allocations']['lost_allocations']} allocations lost")


def load(path, problems):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"{path}: {e}")
        return None


def expect_files(tmp, names, problems):
    have = sorted(os.path.basename(p) for p in glob.glob(os.path.join(tmp, "*")))
    if have != sorted(names):
        problems.append(f"output files {have}, expected {sorted(names)}")


def check_meta(rec, label, origin, end_reason, problems, who, forked_from=None):
    t = rec["target"]
    if (t.get("label"), t.get("origin"), t.get("forked_from")) != (label, origin, forked_from):
        problems.append(f"{who}: label/origin/forked_from {t.get('label')!r} "
                        f"{t.get('origin')!r} {t.get('forked_from')!r}, expected {label!r} "
                        f"{origin!r} {forked_from!r}")
    if rec["end_reason"] != end_reason:
        problems.append(f"{who}: end_reason {rec['end_reason']!r}, expected {end_reason!r}")


def mode_args(args):
    return ["--mode", args.mode] + (["--overhead", "5"] if args.mode == "sampled" else [])


def env_for(args):
    # full mode makes the collector's cycles slow to create: fewer rounds, same generations
    rounds = 60 if args.mode == "full" else 120
    return dict(os.environ, MULTI_WORKLOAD_ROUNDS=str(rounds))


def case_two_versions(args, tmp):
    env = env_for(args)
    a, b = Target(args.python[0], env), Target(args.python[1], env)
    extra = ["-o", os.path.join(tmp, "flame.svg")] if args.mode == "full" else []
    try:
        rec = Recorder([args.pyobjlife, "record", "-p", str(a.pid), "-p", str(b.pid), "-o",
                        os.path.join(tmp, "rec.json")] + extra + mode_args(args))
        rec.wait_for("attached to PID", 120, count=2)
        oa, ob = a.run(), b.run()
        rc, err = rec.stop()
    finally:
        a.finish()
        b.finish()
    if rc:
        fail(f"pyobjlife exited {rc}: {err}")
    problems = []
    names = [f"rec.{a.pid}.json", f"rec.{b.pid}.json"]
    if extra:
        names += [f"flame.{a.pid}.svg", f"flame.{b.pid}.svg"]
    expect_files(tmp, names, problems)
    for t, o in ((a, oa), (b, ob)):
        r = load(os.path.join(tmp, f"rec.{t.pid}.json"), problems)
        if r:
            check_recording(r, o, args.mode, problems, f"PID {t.pid} ({o['python']})")
            check_meta(r, str(t.pid), "attached", "interrupted", problems, f"PID {t.pid}")
        if extra:
            try:
                ET.parse(os.path.join(tmp, f"flame.{t.pid}.svg"))
            except (OSError, ET.ParseError) as e:
                problems.append(f"flame.{t.pid}.svg: {e}")
        # a recording of several processes is read back like any other
        p = subprocess.run([args.pyobjlife, "report", os.path.join(tmp, f"rec.{t.pid}.json")],
                           capture_output=True, text=True)
        if p.returncode or f"PID {t.pid}, CPython {o['python']}" not in p.stdout:
            problems.append(f"report rec.{t.pid}.json: rc {p.returncode}: {p.stderr[:300]}")
    return problems, f"PIDs {a.pid} ({oa['python']}) and {b.pid} ({ob['python']})"


def case_one_exits(args, tmp):
    env = env_for(args)
    a, b = Target(args.python[0], env, exit_early=True), Target(args.python[1], env)
    problems = []
    try:
        rec = Recorder([args.pyobjlife, "record", "-p", str(a.pid), "-p", str(b.pid), "-o",
                        os.path.join(tmp, "rec.json")] + mode_args(args))
        rec.wait_for("attached to PID", 120, count=2)
        oa = a.run()
        a.proc.wait(30)
        rec.wait_for(f"PID {a.pid}: target exited", 60)
        # its outputs are written as soon as it ends, before B even starts its work
        rec.wait_for(f"wrote {os.path.join(tmp, f'rec.{a.pid}.json')}", 60)
        early = load(os.path.join(tmp, f"rec.{a.pid}.json"), problems)
        if os.path.exists(os.path.join(tmp, f"rec.{b.pid}.json")):
            problems.append("the running target's file was written before the end")
        ob = b.run()
        rc, err = rec.stop()
    finally:
        a.finish()
        b.finish()
    if rc:
        fail(f"pyobjlife exited {rc}: {err}")
    expect_files(tmp, [f"rec.{a.pid}.json", f"rec.{b.pid}.json"], problems)
    if early:
        check_recording(early, oa, args.mode, problems, f"PID {a.pid} (exited)")
        check_meta(early, str(a.pid), "attached", "target exited", problems, f"PID {a.pid}")
    rb = load(os.path.join(tmp, f"rec.{b.pid}.json"), problems)
    if rb:
        check_recording(rb, ob, args.mode, problems, f"PID {b.pid} (recorded on)")
        check_meta(rb, str(b.pid), "attached", "interrupted", problems, f"PID {b.pid}")
        if early and rb["duration_seconds"] <= early["duration_seconds"]:
            problems.append("the remaining target was not recorded past the other's exit")
    return problems, f"PID {a.pid} ({oa['python']}) exited, PID {b.pid} ({ob['python']}) " \
        "recorded on"


def case_exec(args, tmp):
    a = Target(args.python[0], env_for(args), exec_after=args.python[0])
    out = os.path.join(tmp, "rec.json")
    try:
        rec = Recorder([args.pyobjlife, "record", "-p", str(a.pid), "-o", out] + mode_args(args))
        rec.wait_for("attached to PID", 120)
        oa = a.run()
        # the recording ends by itself at the exec, while the new program still runs
        try:
            rc = rec.proc.wait(60)
        except subprocess.TimeoutExpired:
            rec.proc.kill()
            fail("pyobjlife went on recording after its target's exec")
        rec.reader.join(10)
        still_running = a.proc.poll() is None
    finally:
        a.proc.kill()  # the exec'd program reads no more lines: it sleeps
        a.finish()
    if rc:
        fail(f"pyobjlife exited {rc}: {''.join(rec.err)}")
    problems = []
    if not still_running:
        problems.append("pyobjlife recorded on until the exec'd program ended")
    expect_files(tmp, ["rec.json"], problems)
    r = load(out, problems)
    if r:
        check_recording(r, oa, args.mode, problems, f"PID {a.pid}")
        if r["end_reason"] != "target exec'd a new program":
            problems.append(f"end_reason {r['end_reason']!r}")
        if {"label", "origin"} & set(r["target"]):
            problems.append("a single target's recording gained the fields of several")
    return problems, f"PID {a.pid} ({oa['python']}) exec'd: recording ended there"


def case_follow(args, tmp):
    py1, py2, py3 = args.python
    extra = ["-o", os.path.join(tmp, "flame.svg")] if args.mode == "full" else []
    cmd = [args.pyobjlife, "record", "--follow-children", "-o", os.path.join(tmp, "rec.json")] \
        + extra + mode_args(args) + ["--", py1, WORKLOAD, "family", "--exec", py2, "--spawn", py3]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env_for(args), timeout=600,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        fail("pyobjlife record --follow-children did not finish within 600 s")
    if p.returncode:
        fail(f"pyobjlife exited {p.returncode}: {p.stderr}")
    oracles = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            o = json.loads(line)
            oracles[o["role"]] = o
    if sorted(oracles) != ["child", "exec", "family", "spawned"]:
        fail(f"the processes printed {sorted(oracles)}: {p.stdout} {p.stderr}")
    parent, child, spawned = oracles["family"]["pid"], oracles["child"]["pid"], \
        oracles["spawned"]["pid"]
    problems = []
    if oracles["exec"]["pid"] != child:
        problems.append("the exec'd program is not in the forked child's PID")
    files = {"family": (f"{parent}", "launched", "target exited", None),
             "child": (f"{child}", "fork", "target exec'd a new program", parent),
             "exec": (f"{child}-2", "exec", "target exited", None),
             "spawned": (f"{spawned}", "exec", "target exited", None)}
    names = [f"rec.{label}.json" for label, _, _, _ in files.values()]
    if extra:
        names += [f"flame.{label}.svg" for label, _, _, _ in files.values()]
    expect_files(tmp, names, problems)
    for role, (label, origin, end, forked_from) in files.items():
        r = load(os.path.join(tmp, f"rec.{label}.json"), problems)
        if not r:
            continue
        who = f"{role} (PID {label}, CPython {oracles[role]['python']})"
        check_recording(r, oracles[role], args.mode, problems, who)
        check_meta(r, label, origin, end, problems, who, forked_from)
        if args.mode == "sampled":
            check_started_in_window(r, problems, who)
    versions = ", ".join(f"{r} {oracles[r]['python']}" for r in ("family", "child", "exec",
                                                                 "spawned"))
    return problems, f"launched {parent}, forked {child} (exec'd), spawned {spawned}: {versions}"


SIGNALLED = """\
import gc, os, signal, sys, time
got = []
signal.signal(signal.SIGUSR1, lambda *a: got.append(1))
print(os.getpid(), flush=True)
sys.stdin.readline()
gc.collect()
print(len(got), flush=True)
os._exit(0)
"""


def state_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(l.split()[1] for l in f if l.startswith("State:"))


def wait_state(pid, states, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state_of(pid) in states:
            return True
        time.sleep(0.02)
    return False


def case_follow_signals(args, tmp):
    cmd = [args.pyobjlife, "record", "--follow-children", "-o", os.path.join(tmp, "rec.json")] \
        + mode_args(args) + ["--", args.python[0], "-c", SIGNALLED]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    problems = []
    try:
        pid = int(readline(p.stdout, 120, "the program's PID"))
        for _ in range(5):
            os.kill(pid, signal.SIGUSR1)
            time.sleep(0.05)
        os.kill(pid, signal.SIGSTOP)
        if not wait_state(pid, ("T", "t")):
            problems.append(f"SIGSTOP did not stop the followed process ({state_of(pid)})")
        time.sleep(0.3)
        if state_of(pid) not in ("T", "t"):
            problems.append("the followed process did not stay stopped")
        os.kill(pid, signal.SIGCONT)
        if not wait_state(pid, ("S", "R")):
            problems.append(f"SIGCONT did not resume it ({state_of(pid)})")
        p.stdin.write("go\n")
        p.stdin.flush()
        got = int(readline(p.stdout, 60, "the signals counted"))
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    if p.returncode:
        fail(f"pyobjlife exited {p.returncode}: {err}")
    if got != 5:
        problems.append(f"the program got {got} of the 5 SIGUSR1 sent")
    r = load(os.path.join(tmp, f"rec.{pid}.json"), problems)
    if r and sum(g["collections"] for g in r["gc"]["generations"]) < 1:
        problems.append("its explicit collection was not recorded")
    return problems, f"PID {pid}: 5 signals passed on, stopped and resumed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", action="append", required=True,
                    help="interpreters, in the order the case uses them")
    ap.add_argument("--case", choices=("two-versions", "one-exits", "exec", "follow",
                                       "follow-signals"), required=True)
    ap.add_argument("--mode", choices=("gc", "sampled", "full"), default="gc")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root to load BPF programs")
    for py in args.python:
        if not os.access(py, os.X_OK):
            skip(f"{py} is not installed")
    need = {"follow": 3, "exec": 1, "follow-signals": 1}.get(args.case, 2)
    if len(args.python) != need:
        fail(f"--case {args.case} takes {need} --python")
    case = {"two-versions": case_two_versions, "one-exits": case_one_exits,
            "exec": case_exec, "follow": case_follow,
            "follow-signals": case_follow_signals}[args.case]
    with tempfile.TemporaryDirectory() as tmp:
        problems, what = case(args, tmp)
    if problems:
        fail(f"{args.label}: " + "; ".join(problems))
    exact = "" if args.case == "follow-signals" else \
        f": every figure equal to the process's own ({args.mode} mode)"
    print(f"PASS: {args.label}: {what}{exact}")


if __name__ == "__main__":
    main()
