#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Command-line behaviour, one case per ctest test: help, usage errors, and bad
input (each must fail with one stderr line naming the cause and its documented
exit code), the probes listing, and the live `gc` view.
Exit 0 pass, 1 fail, 77 skip."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, readline, skip  # noqa: E402
import time

PYENV = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
# valid Python 2 and 3: the unsupported-version cases run it under 2.7 too
SLEEPER = "import sys, time\nsys.stdout.write('ready\\n')\nsys.stdout.flush()\ntime.sleep(60)\n"


def run(*args, user=None, timeout=60):
    cmd = [PYOBJLIFE] + list(args)
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
               "--inh-caps=-all"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def expect_error(p, code, words):
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    if p.returncode != code:
        fail(f"exit {p.returncode}, expected {code}: {p.stderr}")
    if len(lines) != 1 or not lines[0].startswith("pyobjlife: error:"):
        fail(f"expected one 'pyobjlife: error:' line, got: {p.stderr!r}")
    for w in words:
        if w.lower() not in lines[0].lower():
            fail(f"error line lacks '{w}': {lines[0]}")
    print(f"PASS: exit {code}: {lines[0]}")


def pyenv_python(version):
    found = sorted(d for d in os.listdir(os.path.join(PYENV, "versions"))
                   if d.startswith(version + ".")) if os.path.isdir(
        os.path.join(PYENV, "versions")) else []
    if not found:
        skip(f"no CPython {version} under {PYENV}/versions")
    return os.path.join(PYENV, "versions", found[-1], "bin", "python" + version)


def start_sleeper(python):
    if not os.access(python, os.X_OK):
        skip(f"{python} is not installed")
    p = subprocess.Popen([python, "-c", SLEEPER], stdout=subprocess.PIPE, text=True)
    if readline(p.stdout, 30, f"{python} to start").strip() != "ready":
        p.kill()
        fail(f"{python} did not start")
    return p


def with_sleeper(python, fn):
    p = start_sleeper(python)
    try:
        fn(p.pid)
    finally:
        p.kill()
        p.wait()


def unused_pid():
    pid = int(open("/proc/sys/kernel/pid_max").read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def need_root():
    if os.geteuid() != 0:
        skip("needs root")


# --- cases -------------------------------------------------------------------

def case_help():
    for args, words in ((["--help"], ["COMMANDS", "EXIT STATUS"]),
                        (["record", "--help"], ["USAGE", "EXAMPLES", "--duration", "EXIT STATUS"]),
                        (["gc", "--help"], ["USAGE", "EXAMPLES"]),
                        (["probes", "--help"], ["--binary", "--format"])):
        p = run(*args)
        if p.returncode != 0 or any(w not in p.stdout for w in words):
            fail(f"pyobjlife {' '.join(args)}: exit {p.returncode}, output lacks {words}")
    print("PASS: --help of every command exits 0 and teaches")


def case_usage():
    for args in ([], ["bogus"], ["record", "--bogus"], ["record"], ["record", "-p", "abc"],
                 ["record", "-p", "1", "--", "true"], ["record", "-p", "1", "-d", "-3"],
                 ["probes"], ["record", "-p", "1", "--format", "yaml"],
                 ["record", "-p", "1", "--mode", "sometimes"],
                 ["record", "-p", "1", "--stack-depth", "0"],
                 ["record", "-p", "1", "--stack-depth", "129"],
                 ["record", "-p", "1", "--weight", "pages"],
                 ["record", "-p", "1", "--max-sites", "1"],
                 ["probes", "-p", "1", "--format", "folded"],
                 ["record", "-p", "1", "--overhead", "0"],
                 ["record", "-p", "1", "--overhead", "101"],
                 ["record", "-p", "1", "--overhead", "lots"],
                 ["record", "-p", "1", "--sampling-link", "ioctl"],
                 # folded and pprof need allocation stacks: not in gc mode
                 ["record", "-p", "1", "--mode", "gc", "-o", "x.folded"],
                 ["record", "-p", "1", "--mode", "gc", "-o", "x.pb.gz"]):
        p = run(*args)
        if p.returncode != 64:
            fail(f"pyobjlife {' '.join(args)}: exit {p.returncode}, expected 64")
    print("PASS: usage errors exit 64")


def case_no_such_pid():
    need_root()
    expect_error(run("record", "-p", str(unused_pid())), 2, ["no process"])


def case_zombie():
    need_root()
    child = subprocess.Popen(["true"])
    time.sleep(0.5)  # exited, not reaped: a zombie
    try:
        expect_error(run("record", "-p", str(child.pid)), 2, ["zombie"])
    finally:
        child.wait()


def case_not_python():
    need_root()
    p = subprocess.Popen(["sleep", "60"])
    try:
        expect_error(run("record", "-p", str(p.pid)), 3, ["not a CPython process"])
    finally:
        p.kill()
        p.wait()


def case_launch_not_python():
    """A refused launch must not signal anyone: the harness shares pyobjlife's
    process group, so a stray kill(0, ...) would end this test with it."""
    need_root()
    expect_error(run("record", "-o", "/tmp/never-written.json", "--", "/bin/true"), 3,
                 ["not a CPython interpreter"])
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "python3")
        open(script, "w").write("#!/bin/sh\nexec python3 \"$@\"\n")
        os.chmod(script, 0o755)
        expect_error(run("record", "--", script, "-c", "1"), 3, ["script run by"])
    print("PASS: the harness survived both refusals")


def case_unsupported(version):
    need_root()
    python = pyenv_python(version)
    with_sleeper(python, lambda pid: expect_error(run("record", "-p", str(pid)), 4,
                                                  [f"CPython {version}", "not supported"]))


def case_debug_build():
    need_root()
    with_sleeper("/usr/bin/python3.11d",
                 lambda pid: expect_error(run("record", "-p", str(pid)), 4, ["debug"]))


def case_no_privilege():
    need_root()
    if not os.access("/usr/bin/setpriv", os.X_OK):
        skip("setpriv (util-linux) is not installed")
    global PYOBJLIFE
    # a copy any user can execute, wherever the build tree lives
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        copy = os.path.join(d, "pyobjlife")
        shutil.copy(PYOBJLIFE, copy)
        PYOBJLIFE = copy
        with_sleeper(pyenv_python("3.12"), lambda pid: expect_error(
            run("record", "-p", str(pid), user="65534"), 5, ["CAP_BPF", "CAP_PERFMON"]))


def case_no_btf():
    need_root()
    with_sleeper(pyenv_python("3.12"), lambda pid: expect_error(
        run("record", "-p", str(pid), "--btf", "/nonexistent/vmlinux"), 6, ["BTF"]))


def case_output_refused():
    need_root()
    with tempfile.TemporaryDirectory() as d:
        victim = os.path.join(d, "victim")
        open(victim, "w").write("keep")
        link = os.path.join(d, "out.json")
        os.symlink(victim, link)
        fifo = os.path.join(d, "fifo.json")
        os.mkfifo(fifo)
        expect_error(run("record", "-p", str(os.getpid()), "-o", link), 7, ["symbolic link"])
        expect_error(run("record", "-p", str(os.getpid()), "-o", fifo), 7, ["FIFO"])
        expect_error(run("record", "-p", str(os.getpid()), "-o", os.path.join(d, "x.png")),
                     64, ["format"])
        if open(victim).read() != "keep":
            fail("the symlink's target was modified")


def case_probes_json():
    python = "/usr/bin/python3.11"
    if not os.path.exists(python):
        skip(f"{python} is not installed")
    p = run("probes", "--binary", python, "--format", "json", "--debug-dir", "/nonexistent")
    if p.returncode != 0:
        fail(f"exit {p.returncode}: {p.stderr}")
    plan = json.loads(p.stdout)
    hooks = {h["hook"]: h for h in plan["hooks"]}
    if plan["interpreter"]["python_version"] != subprocess.check_output(
            [python, "-c", "import platform; print(platform.python_version())"],
            text=True).strip():
        fail(f"version {plan['interpreter']['python_version']} differs from the interpreter's")
    if not hooks["gc__start"]["found"] or hooks["gc__start"]["sites"][0]["source"] != "usdt":
        fail(f"gc__start not found as USDT: {hooks['gc__start']}")
    if hooks["_PyRuntime"]["sites"][0]["source"] != "dynsym":
        fail("_PyRuntime not from dynsym in a stripped binary")
    if hooks["gc_collect_main"]["found"] or "stripped" not in hooks["gc_collect_main"]["missing"]:
        fail(f"without a debug file the collector must be missing with a reason: "
             f"{hooks['gc_collect_main']}")
    if plan["gc_method"] != "usdt" or plan["probes_to_attach"] != 2:
        fail(f"plan: {plan['gc_method']} with {plan['probes_to_attach']} probes")
    print("PASS: probes --format json on the stripped Debian build")


def case_probes_pid():
    need_root()

    def check(pid):
        p = run("probes", "-p", str(pid))
        if p.returncode != 0 or "gc_collect_main" not in p.stdout or "symtab" not in p.stdout:
            fail(f"exit {p.returncode}: {p.stdout} {p.stderr}")
        if f"process:      {pid}" not in p.stdout:
            fail("the listing does not name the process")
        print("PASS: probes -p lists the collector from the symbol table")

    with_sleeper(pyenv_python("3.12"), check)


def case_end_conditions():
    """SIGTERM, the target's exit and -d each end a recording with exit 0 and a
    complete JSON file."""
    need_root()
    python = pyenv_python("3.12")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rec.json")

        def recorded(rec, reason):
            try:
                rc = rec.wait(60)
            except subprocess.TimeoutExpired:
                rec.kill()
                fail(f"pyobjlife did not stop ({reason})")
            err = rec.stderr.read()
            if rc != 0:
                fail(f"{reason}: exit {rc}: {err}")
            got = json.load(open(out))["end_reason"]
            if got != reason:
                fail(f"end_reason {got!r}, expected {reason!r}")
            print(f"PASS: {reason}: exit 0, JSON written")

        def attach(pid, *extra):
            rec = subprocess.Popen([PYOBJLIFE, "record", "-p", str(pid), "-o", out] +
                                   list(extra), stderr=subprocess.PIPE, text=True)
            if "attached" not in rec.stderr.readline():
                fail("no attached line")
            return rec

        def sigterm(pid):
            rec = attach(pid)
            rec.send_signal(signal.SIGTERM)
            recorded(rec, "interrupted")

        with_sleeper(python, sigterm)
        with_sleeper(python, lambda pid: recorded(attach(pid, "-d", "0.5"),
                                                  "duration elapsed"))
        t = start_sleeper(python)
        rec = attach(t.pid)
        t.kill()
        t.wait()
        recorded(rec, "target exited")


GC_LIVE = """
import gc, sys
gc.disable()
print('ready', flush=True)
sys.stdin.readline()
for i in range(30):
    gc.collect(i % 3)
print('done', flush=True)
sys.stdin.readline()
"""


def case_gc_live():
    need_root()
    python = pyenv_python("3.12")
    t = subprocess.Popen([python, "-c", GC_LIVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        assert t.stdout.readline().strip() == "ready"
        g = subprocess.Popen([PYOBJLIFE, "gc", "-p", str(t.pid)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        line = g.stderr.readline()
        if "attached" not in line:
            fail(f"no attached line: {line}{g.stderr.read()}")
        t.stdin.write("go\n")
        t.stdin.flush()
        if t.stdout.readline().strip() != "done":
            fail("the target did not finish")
        time.sleep(0.5)
        g.send_signal(signal.SIGINT)
        out, err = g.communicate(timeout=60)
    finally:
        t.kill()
        t.wait()
    gens = re.findall(r"^\s*[\d.]+s\s+gen (\d)\s", out, re.M)
    if g.returncode != 0 or [gens.count(str(i)) for i in range(3)] != [10, 10, 10]:
        fail(f"exit {g.returncode}; expected 10 live lines per generation, got "
             f"{[gens.count(str(i)) for i in range(3)]}:\n{out}{err}")
    if "generation 2 pause (log2 histogram)" not in out:
        fail(f"no histogram at the end:\n{out}")
    print("PASS: gc -p prints each of 30 collections live and histograms at the end")


CASES = {
    "help": case_help,
    "usage": case_usage,
    "no-such-pid": case_no_such_pid,
    "zombie": case_zombie,
    "not-python": case_not_python,
    "launch-not-python": case_launch_not_python,
    "unsupported-2.7": lambda: case_unsupported("2.7"),
    "unsupported-3.6": lambda: case_unsupported("3.6"),
    "unsupported-3.7": lambda: case_unsupported("3.7"),
    "debug-build": case_debug_build,
    "no-privilege": case_no_privilege,
    "no-btf": case_no_btf,
    "output-refused": case_output_refused,
    "probes-json": case_probes_json,
    "probes-pid": case_probes_pid,
    "gc-live": case_gc_live,
    "end-conditions": case_end_conditions,
}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        sys.exit(f"usage: {sys.argv[0]} PYOBJLIFE CASE ({', '.join(CASES)})")
    PYOBJLIFE = os.path.abspath(sys.argv[1])
    CASES[sys.argv[2]]()
