# SPDX-License-Identifier: BSD-2-Clause
"""What every Python test driver here shares: the ctest verdicts (exit 0 pass,
1 fail, 77 skip, each with its reason on stdout) and a line read with a timeout."""
import select
import sys


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def fail(why):
    print(f"FAIL: {why}")
    sys.exit(1)


def readline(stream, timeout, what):
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        fail(f"timed out after {timeout}s waiting for {what}")
    return stream.readline()


def debug_file_of(binary):
    """The build-id debug file of a stripped binary, found with binutils' readelf."""
    import os
    import re
    import subprocess
    if not os.path.exists(binary):
        skip(f"{binary} is not installed")
    notes = subprocess.run(["readelf", "-n", binary], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", notes)
    if not m:
        skip(f"{binary} has no build-id")
    bid = m.group(1)
    return f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"


def wait_attached(rec, timeout=60):
    """pyobjlife's stderr up to its 'attached' line."""
    import time
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = readline(rec.stderr, max(0.1, deadline - time.monotonic()), "'attached'")
        if not line:
            fail(f"pyobjlife exited (rc {rec.wait()}) before attaching: {''.join(seen)}")
        seen.append(line)
        if "attached" in line:
            return "".join(seen)
    fail("pyobjlife never printed its 'attached' line")


def attach_and_run(target, pid, pyobjlife_cmd, stop_timeout, on_attached=None):
    """The middle of the attach protocol, for a target (a Popen speaking it on its
    stdin/stdout) whose workload runs as `pid`: attach pyobjlife, let the workload go
    (after on_attached(pyobjlife's Popen), if given), read its oracle, stop pyobjlife
    with SIGINT and send the last line. Returns (pyobjlife's exit code, its stderr,
    the oracle)."""
    import json
    import signal
    import subprocess
    rec = subprocess.Popen(pyobjlife_cmd + ["-p", str(pid)], stderr=subprocess.PIPE, text=True)
    stderr = wait_attached(rec)
    if on_attached:
        on_attached(rec)
    target.stdin.write("go\n")
    target.stdin.flush()
    oracle = json.loads(readline(target.stdout, 300, "the workload's result"))
    rec.send_signal(signal.SIGINT)
    try:
        rc = rec.wait(stop_timeout)
    except subprocess.TimeoutExpired:
        rec.kill()
        fail(f"pyobjlife did not stop within {stop_timeout} s of SIGINT")
    stderr += rec.stderr.read()
    target.stdin.write("done\n")
    target.stdin.flush()
    return rc, stderr, oracle


def record_workload(workload_cmd, env, pyobjlife_cmd, stop_timeout=60, on_attached=None):
    """Run a workload that speaks the attach protocol of tests/workloads: it prints
    "ready", waits for a line (pyobjlife is attached), does its work, prints its
    oracle as one JSON line and waits for a last line. pyobjlife_cmd gets the
    workload's PID appended after -p. Returns (pyobjlife's exit code, its stderr,
    the oracle). on_attached: see attach_and_run."""
    import subprocess
    target = subprocess.Popen(workload_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        if readline(target.stdout, 30, "the workload").strip() != "ready":
            fail("the workload did not start")
        rc, stderr, oracle = attach_and_run(target, target.pid, pyobjlife_cmd, stop_timeout,
                                            on_attached)
        target.wait(30)
    finally:
        if target.poll() is None:
            target.kill()
    return rc, stderr, oracle


def record_full(args, workload):
    """`record --mode full` of `args.python workload` (the attach protocol), to a JSON
    file; a non-zero exit fails the test. Returns (the recording, the oracle)."""
    import json
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rec.json")
        cmd = [args.pyobjlife, "record", "--mode", "full", "-o", out]
        rc, stderr, oracle = record_workload([args.python, workload], dict(os.environ), cmd)
        if rc != 0:
            fail(f"pyobjlife exited {rc}: {stderr}")
        with open(out) as f:
            return json.load(f), oracle


def e2e_args(description, extra=False, flags=None):
    """The arguments every end-to-end driver takes (--pyobjlife, --python, --label, and
    with `extra` more pyobjlife options after --; `flags`: boolean options of its own,
    {name: help}), after the checks they all need: root, and the Python build installed
    (a skip otherwise)."""
    import argparse
    import os
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--label", required=True)
    for name, text in (flags or {}).items():
        ap.add_argument(name, action="store_true", help=text)
    if extra:
        ap.add_argument("extra", nargs="*", help="more pyobjlife options (after --)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root (BPF uprobes)")
    if not os.path.exists(args.python):
        skip(f"{args.python} is not installed")
    return args


def record_running(workload_cmd, env, pyobjlife_cmd, seconds, warm_s=0.3, on_started=None):
    """Record a workload that runs until told to stop, for a fixed time in its steady state.

    The workload speaks this protocol: it prints "ready", waits for a line, runs until
    SIGUSR1, prints its oracle as one JSON line and waits for a last line. pyobjlife
    (pyobjlife_cmd, its PID appended after -p) attaches warm_s after the go, records
    `seconds` from its 'attached' line and is stopped with SIGINT; on_started(rec) is
    called with its Popen before it attaches. Returns (exit code, stderr, oracle, t_start,
    t_stop), the times CLOCK_MONOTONIC as the workload's marks are."""
    import json
    import signal
    import subprocess
    import time
    target = subprocess.Popen(workload_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env)
    try:
        if readline(target.stdout, 30, "the workload").strip() != "ready":
            fail("the workload did not start")
        target.stdin.write("go\n")
        target.stdin.flush()
        time.sleep(warm_s)
        rec = subprocess.Popen(pyobjlife_cmd + ["-p", str(target.pid)], stderr=subprocess.PIPE,
                               text=True)
        if on_started:
            on_started(rec)
        stderr = wait_attached(rec)
        t_start = time.monotonic()
        time.sleep(seconds)
        t_stop = time.monotonic()
        rec.send_signal(signal.SIGINT)
        try:
            rc = rec.wait(60)
        except subprocess.TimeoutExpired:
            rec.kill()
            fail("pyobjlife did not stop within 60 s of SIGINT")
        stderr += rec.stderr.read()
        target.send_signal(signal.SIGUSR1)
        oracle = json.loads(readline(target.stdout, 60, "the workload's result"))
        target.stdin.write("done\n")
        target.stdin.flush()
        target.wait(30)
    finally:
        if target.poll() is None:
            target.kill()
    return rc, stderr, oracle, t_start, t_stop
