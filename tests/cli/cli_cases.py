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


def start_sleeper(python, args=("-c", SLEEPER)):
    if not os.access(python, os.X_OK):
        skip(f"{python} is not installed")
    p = subprocess.Popen([python] + list(args), stdout=subprocess.PIPE, text=True)
    if readline(p.stdout, 30, f"{python} to start").strip() != "ready":
        p.kill()
        fail(f"{python} did not start")
    return p


def with_sleeper(python, fn, args=("-c", SLEEPER)):
    p = start_sleeper(python, args)
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
                        (["record", "--help"], ["USAGE", "EXAMPLES", "--duration", "EXIT STATUS",
                                                "--follow-children", "-p PID -p PID",
                                                "--no-lifetimes"]),
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
                 ["record", "-p", "1", "--mode", "gc", "-o", "x.pb.gz"],
                 # several targets: record and gc only, each PID once, one file per target
                 ["record", "-p", "1", "-p", "1"], ["top", "-p", "1", "-p", "2"],
                 ["probes", "-p", "1", "-p", "2"], ["record", "--follow-children", "-p", "1"],
                 ["top", "--follow-children", "-p", "1"],
                 ["record", "-p", "1", "--mode", "gc", "--no-lifetimes"],
                 ["gc", "-p", "1", "--no-lifetimes"],
                 ["record", "-p", "1", "-p", "2", "--format", "json"]):
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


def fixture(rel):
    """A fixture interpreter tests/fixtures/make_fixtures.sh built (PYOBJLIFE_FIXTURES)."""
    path = os.path.join(os.environ.get("PYOBJLIFE_FIXTURES", "/nonexistent"), rel)
    if not os.access(path, os.X_OK):
        skip(f"no fixture {path}: build the 'fixtures' target and set PYOBJLIFE_FIXTURES")
    return path


def case_free_threaded():
    """A free-threaded 3.13 is refused whether its _Py_DebugOffsets says so (attached by
    PID) or only its name's "t" ABI flag (launched): nothing is attached or run."""
    need_root()
    with_sleeper(fixture("freethreaded/python3.13"), lambda pid: expect_error(
        run("record", "-p", str(pid)), 4, ["CPython 3.13.0", "free-threaded", "not supported"]),
        args=["sleep"])
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "never.json")
        expect_error(run("record", "-o", out, "--", fixture("freethreaded/python3.13t"),
                         "sleep"), 4, ["python3.13t", "free-threaded"])
        if os.listdir(d):
            fail(f"a refused launch left {os.listdir(d)}")


def case_output_not_regular():
    """A directory or a device at the output path is refused before attaching, untouched."""
    need_root()
    with tempfile.TemporaryDirectory() as d:
        sub = os.path.join(d, "out.json")
        os.mkdir(sub)
        expect_error(run("record", "-p", str(os.getpid()), "-o", sub), 7,
                     ["refusing", sub, "directory"])
        expect_error(run("record", "-p", str(os.getpid()), "--format", "json", "-o",
                         "/dev/null"), 7, ["/dev/null", "character device"])
        if os.listdir(sub) or os.listdir(d) != ["out.json"]:
            fail(f"something was written: {os.listdir(d)}, {os.listdir(sub)}")


# Run in a private mount namespace: a 64 KiB tmpfs over $1, filled up, then pyobjlife
# ("$@") writes $1/$2 into it; the exit status and what the tmpfs holds go to stdout.
FULL_DISK = """
d=$1 name=$2
shift 2
mount -t tmpfs -o size=64k pyobjlife-full "$d" || exit 90
if [ "$name" = kept.json ]; then echo previous > "$d/kept.json"; fi
dd if=/dev/zero of="$d/fill" bs=4096 2>/dev/null
[ "$(stat -f -c %a "$d")" = 0 ] || exit 91
"$@" -o "$d/$name" > /dev/null
echo "rc $?"
ls -A "$d"
if [ -e "$d/kept.json" ]; then cat "$d/kept.json"; fi
"""


def case_output_full_disk():
    """A disk that fills up while the output is written: one line naming the path and
    ENOSPC, exit 7, and neither a partial file nor a temporary one is left behind;
    a file that was at the path keeps its content."""
    need_root()
    if not shutil.which("unshare"):
        skip("unshare (util-linux) is not installed")
    python = pyenv_python("3.11")

    def check(pid):
        for name, mode, left in (("kept.json", "gc", ["fill", "kept.json", "previous"]),
                                 ("new.json", "gc", ["fill"]), ("new.json", "full", ["fill"])):
            with tempfile.TemporaryDirectory() as d:
                p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                    FULL_DISK, "sh", d, name, PYOBJLIFE, "record", "-q", "-p",
                                    str(pid), "--mode", mode, "-d", "0.5"],
                                   capture_output=True, text=True, timeout=120)
                if p.returncode in (90, 91):
                    skip(f"cannot mount and fill a tmpfs in a mount namespace: {p.stderr}")
                lines = p.stdout.split()
                out = os.path.join(d, name)
                # the "attached" announcement is not an error (--quiet keeps it)
                errors = "".join(l for l in p.stderr.splitlines(True)
                                 if not l.startswith("pyobjlife: attached to PID"))
                rc = subprocess.CompletedProcess(p.args, int(lines[1]), "", errors)
                expect_error(rc, 7, [out, "No space left on device"])
                if lines[2:] != left:
                    fail(f"the full tmpfs holds {lines[2:]}, expected {left}")
                if os.listdir(d):
                    fail(f"{d} holds {os.listdir(d)} outside the namespace")
        print("PASS: full disk: exit 7, one line, the old file kept, nothing partial left")

    with_sleeper(python, check)


def exit_codes_in_header():
    """{code: comment} of user/exit_codes.h."""
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "user",
                          "exit_codes.h")
    text = open(header).read()
    return {int(code): what.lower() for code, what in
            re.findall(r"EXIT_\w+ = (\d+),[ \t]*(?:/\*(.*?)\*/)?", text, re.S)}


def exit_codes_in_readme():
    readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
    text = open(readme).read()
    table = text.split("### Exit status", 1)[1].split("\n\n", 2)[1]
    return {int(code): what.lower() for code, what in
            re.findall(r"^\| (\d+) \| (.*) \|$", table, re.M)}


def exit_codes_in_help(args):
    p = run(*args)
    text = " ".join(p.stdout.split("EXIT STATUS:", 1)[1].split())
    # "0 success, 1 runtime failure, ... 64 bad command line."
    parts = re.split(r"(?:^|, )(\d+) (?=[a-z])", text)
    return {int(parts[i]): parts[i + 1].lower() for i in range(1, len(parts) - 1, 2)}


# every row of the bad-input table, by its exit code: what its documentation must name
BAD_INPUT_WORDS = {
    2: ["no such process", "zombie"],
    3: ["cpython"],
    4: ["2.x", "3.8", "debug", "free-threaded"],
    5: ["privilege"],
    6: ["btf"],
    7: ["symlink", "fifo", "directory", "full disk"],
}


def case_exit_codes_documented():
    """user/exit_codes.h, the README's table and every command's --help list the same
    codes, and each bad-input row is named where its code is documented."""
    codes = exit_codes_in_header()
    docs = {"README": exit_codes_in_readme()}
    for cmd in ([], ["record"], ["gc"], ["top"], ["probes"], ["report"]):
        docs[f"pyobjlife {' '.join(cmd + ['--help'])}"] = exit_codes_in_help(cmd + ["--help"])
    for where, table in docs.items():
        if sorted(table) != sorted(codes):
            fail(f"{where} documents exit codes {sorted(table)}, exit_codes.h has "
                 f"{sorted(codes)}")
        for code, words in BAD_INPUT_WORDS.items():
            missing = [w for w in words if w not in table[code]]
            if missing:
                fail(f"{where}: exit {code} ({table[code]!r}) does not name {missing}")
    print(f"PASS: exit codes {sorted(codes)} documented alike in {', '.join(docs)}")


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
    "free-threaded": case_free_threaded,
    "output-not-regular": case_output_not_regular,
    "output-full-disk": case_output_full_disk,
    "exit-codes-documented": case_exit_codes_documented,
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
