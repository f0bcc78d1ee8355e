#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""`pyobjlife top` driven in a terminal: tmux, the outside terminal, shows the screen.

Without a terminal (stdout a pipe, or a pty with an unknown TERM) top must
refuse in one line with exit 64. Then, as root, a small program allocates
instances of its own class at a known line until it is killed; `top -p PID
--mode full` runs in a detached 160x50 tmux session. The allocation-site table
must show the program's type, function and file:line with a rate above zero,
and the live-object census its type; `s` and `g` must change the sorts; `q`
must end top with exit 0, the screen given back (the table gone, a one-line
message after it), every BPF link top held gone, and the program still alive.
Two gc-mode runs end top by SIGTERM and by the program's exit, both with exit
0 and their reason. Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, skip  # noqa: E402

WORKLOAD = """\
import sys
import time


class TopChurn:
    pass


def churn():
    kept = []
    while True:
        kept.append(TopChurn())  # SITE
        if len(kept) >= 2000:
            kept = []
            time.sleep(0.02)


print("ready", flush=True)
churn()
"""


def site_line():
    for n, text in enumerate(WORKLOAD.splitlines(), 1):
        if "# SITE" in text:
            return n
    raise AssertionError("no site marker")


def check_without_terminal(pyobjlife):
    """stdout a pipe, then a terminal nobody can drive: one line, exit 64, nothing attached."""
    r = subprocess.run([pyobjlife, "top", "-p", str(os.getpid())], capture_output=True,
                       text=True, timeout=30)
    lines = r.stderr.strip().splitlines()
    if r.returncode != 64 or len(lines) != 1 or "terminal" not in lines[0]:
        fail(f"top with stdout a pipe: rc {r.returncode}, stderr {r.stderr!r} "
             "(want 64 and one line about the terminal)")
    master, slave = pty.openpty()
    try:
        env = dict(os.environ, TERM="pyobjlife-no-such-terminal")
        r = subprocess.run([pyobjlife, "top", "-p", str(os.getpid())], stdout=slave,
                           stderr=subprocess.PIPE, text=True, env=env, timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    lines = r.stderr.strip().splitlines()
    if r.returncode != 64 or len(lines) != 1 or "TERM=pyobjlife-no-such-terminal" not in lines[0]:
        fail(f"top with an unknown TERM: rc {r.returncode}, stderr {r.stderr!r}")
    print("no terminal: refused with exit 64 in one line, pipe and unknown TERM")


class Tmux:
    """A private tmux server running one command in a fixed-size window."""

    def __init__(self, name, command, workdir):
        self.sock = name
        self.rcfile = os.path.join(workdir, f"{name}.rc")
        wrapped = f"{command}; echo $? > {self.rcfile}"
        self.run("new-session", "-d", "-x", "160", "-y", "50", "sh", "-c", wrapped, ";",
                 "set-option", "-w", "remain-on-exit", "on")

    def run(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                              text=True, timeout=30)

    def screen(self):
        return self.run("capture-pane", "-p").stdout

    def keys(self, *keys):
        self.run("send-keys", *keys)

    def command_pid(self):
        """The pyobjlife process: the child of the pane's shell."""
        shell = self.run("display", "-p", "#{pane_pid}").stdout.strip()
        for _ in range(50):
            try:
                with open(f"/proc/{shell}/task/{shell}/children") as f:
                    kids = f.read().split()
            except OSError:
                kids = []
            if kids:
                return int(kids[0])
            time.sleep(0.1)
        fail("no pyobjlife process in the tmux pane")

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.rcfile):
                with open(self.rcfile) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            time.sleep(0.2)
        fail(f"top did not exit within {timeout} s; screen:\n{self.screen()}")

    def close(self):
        self.run("kill-server")


def wait_screen(tmux, what, predicate, timeout):
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.screen()
        found = predicate(screen)
        if found:
            return found
        if os.path.exists(tmux.rcfile):
            break
        time.sleep(0.5)
    fail(f"{what} not on the screen within {timeout} s:\n{screen}")


def section(screen, title, next_title):
    start = screen.find(title)
    if start < 0:
        return ""
    end = screen.find(next_title, start)
    return screen[start:end if end >= 0 else len(screen)]


def held_links(pid):
    """The BPF link ids a process holds, from its descriptors' fdinfo."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = f.read()
        except OSError:
            continue
        m = re.search(r"^link_id:\s*(\d+)", info, re.M)
        if m:
            ids.add(int(m.group(1)))
    return ids


def existing_links():
    out = subprocess.run(["bpftool", "-j", "link", "list"], capture_output=True, text=True,
                         timeout=30)
    if out.returncode:
        fail(f"bpftool link list failed: {out.stderr.strip()}")
    return {link["id"] for link in json.loads(out.stdout or "[]")}


def site_row(screen, path, line):
    """The site table's row of the workload's allocating line, with its rate."""
    sites = section(screen, "ALLOCATION SITES", "LIVE OBJECTS")
    for row in sites.splitlines():
        if "TopChurn" in row and " churn " in row and row.rstrip().endswith(f":{line}") \
                and os.path.basename(path) in row:
            rate = row.split()[0]
            return row if rate not in ("0.0", "0") else None
    return None


def run_full_mode(args, workdir, path, target):
    line = site_line()
    tmux = Tmux(f"pyobjlife-top-{os.getpid()}-full", f"{args.pyobjlife} top -p {target.pid} "
                f"--mode full", workdir)
    try:
        top = tmux.command_pid()
        row = wait_screen(tmux, f"the site TopChurn churn {os.path.basename(path)}:{line}",
                          lambda s: site_row(s, path, line), 120)
        print(f"site row: {row.strip()}")
        links = held_links(top)
        if not links:
            fail("top holds no BPF link while it shows allocation sites")
        wait_screen(tmux, "TopChurn in the live-object census",
                    lambda s: "TopChurn" in section(s, "LIVE OBJECTS", "GARBAGE COLLECTOR"),
                    60)
        tmux.keys("s")
        wait_screen(tmux, "the site sort by total after 's'", lambda s: "by total;" in s, 10)
        tmux.keys("g")
        wait_screen(tmux, "the census sorted by gen 0 after 'g'",
                    lambda s: "sorted by gen 0;" in s, 10)
        tmux.keys("q")
        rc = tmux.wait_exit(90)
        screen = tmux.screen()
        if rc != 0:
            fail(f"top exited {rc} after q; screen:\n{screen}")
        if "ALLOCATION SITES" in screen:
            fail(f"the table is still on the screen after q (no endwin):\n{screen}")
        if not re.search(rf"pyobjlife: top of PID {target.pid} ended after \d+:\d\d \(quit\)",
                         screen):
            fail(f"no one-line end message after the screen was restored:\n{screen}")
        deadline = time.monotonic() + 30
        while links & existing_links() and time.monotonic() < deadline:
            time.sleep(0.5)
        if links & existing_links():
            fail(f"links {sorted(links & existing_links())} of top are still attached")
        if target.poll() is not None:
            fail("the program died while top watched it")
        print(f"q: exit 0, screen restored, {len(links)} links gone, program alive")
    finally:
        tmux.close()


def run_gc_mode(args, workdir, target, end):
    tmux = Tmux(f"pyobjlife-top-{os.getpid()}-{end}", f"{args.pyobjlife} top -p {target.pid}",
                workdir)
    try:
        top = tmux.command_pid()
        wait_screen(tmux, "the gc-mode screen",
                    lambda s: "allocation sites need --mode full" in s and
                    re.search(r"^0\s+\d+", section(s, "GARBAGE COLLECTOR", "LOST EVENTS"),
                              re.M), 60)
        if end == "sigterm":
            os.kill(top, signal.SIGTERM)
            reason = "interrupted"
        else:
            target.kill()
            target.wait(10)
            reason = "target exited"
        rc = tmux.wait_exit(60)
        screen = tmux.screen()
        if rc != 0:
            fail(f"top exited {rc} on {end}; screen:\n{screen}")
        if "GARBAGE COLLECTOR" in screen or f"({reason})" not in screen:
            fail(f"on {end}: want the screen restored and '({reason})'; screen:\n{screen}")
        print(f"{end}: exit 0, screen restored, '{reason}'")
    finally:
        tmux.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True)
    args = ap.parse_args()
    check_without_terminal(args.pyobjlife)
    if os.geteuid() != 0:
        skip("top attaches probes: run as root")
    for tool in ("tmux", "bpftool"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
    if not os.path.exists(args.python):
        skip(f"{args.python} is not installed")
    workdir = tempfile.mkdtemp(prefix="pyobjlife-top-")
    path = os.path.join(workdir, "top_workload.py")
    with open(path, "w") as f:
        f.write(WORKLOAD)
    target = subprocess.Popen([args.python, path], stdout=subprocess.PIPE, text=True)
    try:
        if target.stdout.readline().strip() != "ready":
            fail("the workload did not start")
        run_full_mode(args, workdir, path, target)
        run_gc_mode(args, workdir, target, "sigterm")
        run_gc_mode(args, workdir, target, "target-exit")
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print("PASS")


main()
