#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""record's status line: on a terminal (a pty from util-linux `script`), not on a pipe.

A small program allocates and collects until it is killed. `record -p PID -d
3.5 --mode full -o X.json` runs three times:
- under `script` (stderr a terminal): the `attached` line as always, then status
  lines redrawn in place (\\r) with the elapsed time rising, their collection and
  allocation counts never falling and never above what the JSON finally holds,
  then the line blanked before the summary (`pyobjlife: wrote ...`);
- under `script` with --quiet: no status line;
- as a plain subprocess (stderr a pipe): the `attached` line and the summary,
  no status line and no carriage return.
Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, skip  # noqa: E402

WORKLOAD = """\
import time


class ProgressChurn:
    pass


print("ready", flush=True)
kept = []
while True:
    kept.append(ProgressChurn())
    if len(kept) >= 2000:
        kept = []
        time.sleep(0.02)
"""

STATUS = re.compile(r"\r(\d+):(\d\d) \| (\S+) collections \| (\S+) allocations \| "
                    r"(\S+) lost \| est. overhead ([\d.]+)%")
DURATION = 3.5


def count(text):
    """A count as format_count() writes it: 987, 12.3k, 4.56M."""
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(text[-1], 1)
    return float(text.rstrip("kMG")) * scale


def record(args, pid, out, extra, pty):
    cmd = [args.pyobjlife, "record", "-p", str(pid), "-d", str(DURATION), "--mode", "full",
           "-o", out] + extra
    if pty:
        # script gives the command a terminal and copies what it shows to our stdout
        r = subprocess.run(["script", "-qfec", shlex.join(cmd), "/dev/null"],
                           capture_output=True, timeout=300)
        shown = r.stdout
    else:
        r = subprocess.run(cmd, capture_output=True, timeout=300)
        shown = r.stderr
    # bytes: text mode would turn the carriage returns into newlines
    shown = shown.decode(errors="replace")
    if r.returncode:
        fail(f"{' '.join(cmd)} exited {r.returncode}: {r.stdout!r}{r.stderr!r}")
    return shown


def totals(path):
    with open(path) as f:
        rec = json.load(f)
    return (sum(g["collections"] for g in rec["gc"]["generations"]),
            rec["allocations"]["total_allocations"])


def check_terminal(args, pid, workdir):
    out = os.path.join(workdir, "tty.json")
    shown = record(args, pid, out, [], pty=True)
    if "pyobjlife: attached to PID" not in shown:
        fail(f"no attached line on the terminal:\n{shown!r}")
    lines = list(STATUS.finditer(shown))
    if len(lines) < 2:
        fail(f"want a status line redrawn at least twice in {DURATION} s, got {len(lines)}:\n"
             f"{shown!r}")
    collections, allocations = totals(out)
    seen = []
    for m in lines:
        t = int(m.group(1)) * 60 + int(m.group(2))
        c, a = count(m.group(3)), count(m.group(4))
        if seen and (t <= seen[-1][0] or c < seen[-1][1] or a < seen[-1][2]):
            fail(f"status lines go backwards: {seen[-1]} then {(t, c, a)}")
        # format_count rounds to 3 significant digits at most
        if c > collections * 1.001 + 1 or a > allocations * 1.001 + 1:
            fail(f"status line {m.group(0)!r} counts more than the recording holds "
                 f"({collections} collections, {allocations} allocations)")
        seen.append((t, c, a))
    if seen[-1][2] == 0:
        fail(f"the status lines counted no allocation: {[m.group(0) for m in lines]}")
    last = lines[-1]
    rest = shown[last.end():]
    blank = re.match(r" *\r\r( +)\rpyobjlife: wrote ", rest)
    if not blank or len(blank.group(1)) < len(last.group(0)) - 1:
        fail(f"the status line is not blanked before the summary: {rest[:200]!r}")
    print(f"terminal: {len(lines)} status lines, last {last.group(0).strip()!r}; "
          f"recording {collections} collections, {allocations} allocations")


def check_quiet(args, pid, workdir):
    shown = record(args, pid, os.path.join(workdir, "quiet.json"), ["--quiet"], pty=True)
    if STATUS.search(shown) or re.search(r"\d+:\d\d \| \S+ collections", shown):
        fail(f"--quiet on a terminal still shows a status line:\n{shown!r}")
    print("terminal with --quiet: no status line")


def check_pipe(args, pid, workdir):
    stderr = record(args, pid, os.path.join(workdir, "pipe.json"), [], pty=False)
    if "pyobjlife: attached to PID" not in stderr or "pyobjlife: wrote " not in stderr:
        fail(f"stderr on a pipe lacks the attached line or the summary:\n{stderr!r}")
    if "\r" in stderr or re.search(r"\d+:\d\d \| \S+ collections", stderr):
        fail(f"stderr on a pipe has a status line:\n{stderr!r}")
    print("pipe: attached line and summary, no status line")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("record attaches probes: run as root")
    if not shutil.which("script"):
        skip("script (util-linux) is not installed")
    if not os.path.exists(args.python):
        skip(f"{args.python} is not installed")
    workdir = tempfile.mkdtemp(prefix="pyobjlife-progress-")
    path = os.path.join(workdir, "progress_workload.py")
    with open(path, "w") as f:
        f.write(WORKLOAD)
    target = subprocess.Popen([args.python, path], stdout=subprocess.PIPE, text=True)
    try:
        if target.stdout.readline().strip() != "ready":
            fail("the workload did not start")
        check_terminal(args, target.pid, workdir)
        check_quiet(args, target.pid, workdir)
        check_pipe(args, target.pid, workdir)
    finally:
        target.kill()
        target.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print("PASS")


main()
