#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: however a recording ends, no probe of ours stays and the target runs on.

tests/workloads/steady_workload.py works in rounds (objects, cycles, collections)
and publishes its round count in a file. pyobjlife records it with -p, and the
recording ends one of these ways (--case):
  sigint        Ctrl-C: SIGINT to pyobjlife's process group, as a terminal sends it
  sigint-twice  an impatient Ctrl-C: a second one while pyobjlife detaches and writes
  sigterm       SIGTERM to pyobjlife
  sigkill       SIGKILL to pyobjlife: nothing of its own runs, the kernel cleans up
  target-exit   the target ends itself (exit status 3)
While attached, the test reads what pyobjlife holds from outside: the BPF
program and link IDs in its descriptors' fdinfo, its uprobes from `bpftool
perf` (file and offset), and at each probed offset the target's code (through
/proc/PID/mem) differs from the file's. Afterwards none of those programs,
links or perf entries may exist (`bpftool prog/link/perf`), no uprobe_events
entry of pyobjlife's may remain, and the target's code must equal the file's at
every offset again. The target must not be stopped, must keep counting rounds,
answer a check with the right numbers and exit with the status it is told to.
A recording ended by a signal it handles must be complete JSON; one killed
must leave no file at the output path.
Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, readline, skip, wait_attached  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.realpath(os.path.join(HERE, "..", "workloads", "steady_workload.py"))
UPROBE_EVENTS = ("/sys/kernel/tracing/uprobe_events", "/sys/kernel/debug/tracing/uprobe_events")
CODE_BYTES = 5  # an int3, or the 5-byte call newer kernels put over a nop5


def bpftool(*args):
    p = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"bpftool {' '.join(args)}: {p.stderr.strip()}")
    return json.loads(p.stdout or "[]")


def held_by(pid):
    """(program IDs, link IDs) behind the descriptors of process pid, from fdinfo."""
    progs, links = set(), set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            text = open(os.path.join(fdinfo, fd)).read()
        except OSError:
            continue
        progs.update(int(x) for x in re.findall(r"^prog_id:\s*(\d+)", text, re.M))
        links.update(int(x) for x in re.findall(r"^link_id:\s*(\d+)", text, re.M))
    return progs, links


def uprobe_events():
    lines = set()
    for path in UPROBE_EVENTS:
        try:
            lines.update(open(path).read().splitlines())
        except OSError:
            pass
    return lines


class Code:
    """The bytes at a probed file offset: in the target's memory and in the file."""

    def __init__(self, target_pid, filename, offset):
        self.pid, self.offset = target_pid, offset
        self.file = os.path.realpath(filename)
        with open(self.file, "rb") as f:
            f.seek(offset)
            self.original = f.read(CODE_BYTES)
        self.addr = self._address()

    def _address(self):
        for line in open(f"/proc/{self.pid}/maps"):
            parts = line.split(None, 5)
            if len(parts) < 6 or parts[5].strip() != self.file:
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            map_off = int(parts[2], 16)
            if map_off <= self.offset < map_off + end - start:
                return start + self.offset - map_off
        fail(f"{self.file}+{self.offset:#x} is not mapped in process {self.pid}")

    def in_target(self):
        with open(f"/proc/{self.pid}/mem", "rb") as m:
            m.seek(self.addr)
            return m.read(CODE_BYTES)

    def __str__(self):
        return f"{os.path.basename(self.file)}+{self.offset:#x}"


class Ours:
    """What one pyobjlife process holds while attached, read from outside it."""

    def __init__(self, rec_pid, target_pid):
        self.rec_pid = rec_pid
        self.progs, self.links = held_by(rec_pid)
        perf = [e for e in bpftool("perf") if e.get("pid") == rec_pid]
        self.uprobes = [e for e in perf if e.get("fd_type") in ("uprobe", "uretprobe")]
        self.progs |= {e["prog_id"] for e in perf}
        sites = {(e["filename"], e["offset"]) for e in self.uprobes}
        self.code = [Code(target_pid, f, o) for f, o in sorted(sites)]
        self.events = {l for l in uprobe_events() if f"libbpf_{rec_pid}_" in l}

    def check_attached(self):
        """The oracle must see the probes it later says are gone."""
        if not self.progs or not self.links or not self.uprobes:
            fail(f"found nothing attached: programs {self.progs}, links {self.links}, "
                 f"uprobes {self.uprobes}")
        unchanged = [str(c) for c in self.code if c.in_target() == c.original]
        if unchanged:
            fail(f"no breakpoint in the target's code at {unchanged} while attached")
        print(f"attached: {len(self.progs)} programs, {len(self.links)} links, "
              f"{len(self.uprobes)} uprobes at {len(self.code)} offsets, "
              f"{len(self.events)} uprobe_events entries")

    def left_behind(self, target_alive):
        left = []
        progs = {p["id"] for p in bpftool("prog", "show")} & self.progs
        if progs:
            left.append(f"programs {sorted(progs)}")
        links = bpftool("link", "show")
        stale = {l["id"] for l in links if l["id"] in self.links or l.get("prog_id") in self.progs}
        if stale:
            left.append(f"links {sorted(stale)}")
        perf = bpftool("perf")
        mine = [e for e in perf if e.get("pid") == self.rec_pid or e.get("prog_id") in self.progs]
        if mine:
            left.append(f"perf entries {mine}")
        events = {l for l in uprobe_events() if f"libbpf_{self.rec_pid}_" in l}
        if events:
            left.append(f"uprobe_events {sorted(events)}")
        if target_alive:
            # another tool's live probe at the same place is not ours
            foreign = {(os.path.basename(e.get("filename", "")), e.get("offset")) for e in perf}
            changed = [str(c) for c in self.code if c.in_target() != c.original and
                       (os.path.basename(c.file), c.offset) not in foreign]
            if changed:
                left.append(f"breakpoints still in the target's code at {changed}")
        return left

    def check_detached(self, target_alive, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            left = self.left_behind(target_alive)
            if not left:
                break
            if time.monotonic() > deadline:
                fail(f"{timeout} s after pyobjlife ended, still attached: {'; '.join(left)}")
            time.sleep(0.2)
        print(f"detached: none of the {len(self.progs)} programs, {len(self.links)} links, "
              f"{len(self.uprobes)} uprobes remain" +
              (f"; the code at {len(self.code)} offsets is the file's again"
               if target_alive else ""))


class Target:
    def __init__(self, python, workdir):
        self.counter = os.path.join(workdir, "rounds")
        self.p = subprocess.Popen([python, WORKLOAD, self.counter], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        if readline(self.p.stdout, 60, "the target's first round").strip() != "ready":
            fail("the target did not start")

    def rounds(self):
        text = open(self.counter).read().strip()
        return int(text) if text else 0

    def wait_rounds(self, n, timeout, why):
        start = self.rounds()
        deadline = time.monotonic() + timeout
        while self.rounds() < start + n:
            if self.p.poll() is not None:
                fail(f"the target exited (status {self.p.returncode}) {why}")
            if time.monotonic() > deadline:
                fail(f"the target did only {self.rounds() - start} of {n} rounds in "
                     f"{timeout} s {why}")
            time.sleep(0.05)
        return self.rounds()

    def say(self, line, expect):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        got = readline(self.p.stdout, 60, f"the target's answer to {line!r}").split()
        if not got or got[0] != expect:
            fail(f"the target answered {line!r} with {got}")
        return got

    def state(self):
        for line in open(f"/proc/{self.p.pid}/status"):
            if line.startswith("State:"):
                return line.split()[1]
        return "?"

    def check_healthy(self):
        state = self.state()
        if state not in ("R", "S", "D"):
            fail(f"the target is in state {state} after the detach")
        before = self.rounds()
        after = self.wait_rounds(3, 60, "after the detach")
        n = 500
        got = self.say(f"check {n}", "check")
        want = [n, 3 * sum(len(str(i)) for i in range(n))]
        if [int(x) for x in got[1:]] != want:
            fail(f"the target's check gave {got[1:]}, expected {want}")
        bye = self.say("exit 0", "bye")
        rc = self.p.wait(60)
        if rc != 0 or int(bye[1]) < after:
            fail(f"the target ended with status {rc} after {bye[1]} rounds")
        print(f"target: state {state}, rounds {before} -> {after} -> {bye[1]} after the "
              f"detach, check {want} right, exit 0")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def stop(case, rec, target):
    """End the recording the case's way; returns pyobjlife's exit status."""
    if case == "sigint":
        os.killpg(rec.pid, signal.SIGINT)
    elif case == "sigint-twice":
        os.killpg(rec.pid, signal.SIGINT)
        time.sleep(0.3)
        if rec.poll() is None:
            os.killpg(rec.pid, signal.SIGINT)
    elif case == "sigterm":
        rec.send_signal(signal.SIGTERM)
    elif case == "sigkill":
        rec.kill()
    elif case == "target-exit":
        target.say("exit 3", "bye")
        if target.p.wait(60) != 3:
            fail(f"the target exited with status {target.p.returncode}, expected 3")
    try:
        return rec.wait(120)
    except subprocess.TimeoutExpired:
        rec.kill()
        fail(f"pyobjlife did not end within 120 s ({case})")


def check_output(case, rc, err, out, mode):
    handled = {"sigint": "interrupted", "sigterm": "interrupted", "target-exit": "target exited"}
    if case == "sigkill":
        if rc != -signal.SIGKILL or os.path.exists(out):
            fail(f"killed: exit {rc}, output {'present' if os.path.exists(out) else 'absent'}")
        return "no output file"
    if case == "sigint-twice":
        # the second Ctrl-C ends pyobjlife at once, unless it came after the end
        if rc == -signal.SIGINT and not os.path.exists(out):
            return "ended by the second Ctrl-C, no output file"
        handled[case] = "interrupted"
        rc = 0 if rc == -signal.SIGINT else rc
    if rc != 0:
        fail(f"exit {rc}, expected 0: {err}")
    try:
        recording = json.load(open(out))
    except (OSError, ValueError) as e:
        fail(f"{out} is not a complete JSON recording: {e}")
    if recording["end_reason"] != handled[case]:
        fail(f"end_reason {recording['end_reason']!r}, expected {handled[case]!r}")
    collections = sum(g["collections"] for g in recording["gc"]["generations"])
    allocations = recording["allocations"]["total_allocations"] if mode == "full" else None
    if not collections or allocations == 0:
        fail(f"the probes saw nothing: {collections} collections, {allocations} allocations")
    return (f"exit 0, JSON with end_reason {handled[case]!r}, {collections} collections"
            + (f", {allocations} allocations" if allocations else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--case", required=True,
                    choices=["sigint", "sigint-twice", "sigterm", "sigkill", "target-exit"])
    ap.add_argument("--mode", choices=["full", "gc"], default="full")
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root")
    if not os.access(args.python, os.X_OK):
        skip(f"{args.python} is not installed")
    if not shutil.which("bpftool"):
        skip("bpftool is not installed")

    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rec.json")
        target = Target(args.python, d)
        rec = None
        try:
            # its own process group, as a shell's job: Ctrl-C goes to the group
            rec = subprocess.Popen([args.pyobjlife, "record", "--mode", args.mode, "-p",
                                    str(target.p.pid), "-o", out], stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
            err = wait_attached(rec)
            ours = Ours(rec.pid, target.p.pid)
            ours.check_attached()
            target.wait_rounds(2, 120, "while attached")
            time.sleep(1)  # a while under the probes: the end comes in the middle of rounds
            rc = stop(args.case, rec, target)
            err += rec.stderr.read()
            outcome = check_output(args.case, rc, err, out, args.mode)
            print(f"pyobjlife ({args.case}): {outcome}")
            alive = args.case != "target-exit"
            ours.check_detached(alive)
            if alive:
                target.check_healthy()
        finally:
            if rec and rec.poll() is None:
                rec.kill()
                rec.wait()
            target.kill()
    print(f"PASS: {args.case} ({args.mode} mode): nothing of ours stays attached, "
          "the target runs on")


if __name__ == "__main__":
    main()
