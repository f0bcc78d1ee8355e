#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: a containerised Python profiled from the host by its host PID.

The target runs in its own mount and PID namespaces (unshare --mount --pid
--fork --mount-proc). Inside, a pyenv install is bind-mounted at
<base>/containerpy and the workloads at <base>/containerwork, <base> being a
tmpfs over a host directory (/opt, /srv or /mnt) that only the container sees;
the install's and the workloads' host directories are then covered by empty
tmpfs, so the interpreter, its libpython and the workload exist in there only
at paths the host does not have (the mounts are private: the host never sees
them). The interpreter is not the container's PID 1, so its host PID, its
container PID and its thread ids all differ.

pyobjlife attaches with -p HOSTPID, once in --mode gc and once in --mode full,
and the recordings are checked exactly as tests/e2e/gc_exact.py (every
generation's figures equal gc.get_stats() taken inside the target) and
tests/e2e/alloc_sites.py (exact per-site counts, stacks, threads, truncation)
check them, plus: the binary and executable named as the container sees them,
the code objects' file names as the container sees them, the host PID.
Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from harness import attach_and_run, fail, readline, skip  # noqa: E402
import alloc_sites  # noqa: E402
import gc_exact  # noqa: E402

WORKLOADS = os.path.realpath(os.path.join(HERE, "..", "workloads"))
BASES = ("/opt", "/srv", "/mnt")  # one is covered by a tmpfs inside the container


def pick_base(install):
    """A host directory to cover in the container, holding nothing the test needs."""
    for base in BASES:
        if not os.path.isdir(base):
            continue
        inside = [p for p in (install, WORKLOADS, sys.executable) if
                  os.path.realpath(p).startswith(base + "/")]
        if not inside and not os.path.exists(os.path.join(base, "containerpy")):
            return base
    skip(f"none of {BASES} can be covered inside the container")


def container_script(args, base, workload):
    """sh -c text: build the container's view of the file system, then run the workload
    as a child of the shell (the container's PID 1)."""
    ct_py, ct_work = f"{base}/containerpy", f"{base}/containerwork"
    host_exe = f"{args.install}/bin/{args.python_name}"
    if args.single_binary:
        # Debian's python3.11: only the executable moves; its library stays in /usr
        setup = f"""mkdir -p {ct_py}/bin
touch {ct_py}/bin/{args.python_name}
mount --bind {host_exe} {ct_py}/bin/{args.python_name}
mount -o remount,bind,ro {ct_py}/bin/{args.python_name}
mount --bind /dev/null {host_exe}
export PYTHONHOME={args.install}
"""
    else:
        setup = f"""mkdir {ct_py}
mount --bind {args.install} {ct_py}
mount -o remount,bind,ro {ct_py}
mount -t tmpfs pyobjlife-hidden {args.install}
export LD_LIBRARY_PATH={ct_py}/lib
"""
    return f"""set -e
mount -t tmpfs pyobjlife-container {base}
{setup}mkdir {ct_work}
mount --bind {WORKLOADS} {ct_work}
mount -o remount,bind,ro {ct_work}
mount -t tmpfs pyobjlife-hidden {WORKLOADS}
test ! -s {host_exe}
test ! -e {WORKLOADS}/{workload}
PYTHONDONTWRITEBYTECODE=1 {ct_py}/bin/{args.python_name} {ct_work}/{workload}
"""


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def find_target(unshare_pid, exe, timeout=30):
    """Host PID of the container's interpreter: unshare -> sh (PID 1 inside) -> python."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for shell in children(unshare_pid):
            for pid in children(shell):
                try:
                    if os.readlink(f"/proc/{pid}/exe") == exe:
                        return pid
                except OSError:
                    pass
        time.sleep(0.05)
    fail(f"no process running {exe} under unshare (PID {unshare_pid})")


def ns_pids(pid):
    """NSpid of /proc/PID/status: the PID in each namespace, outermost first."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    return [pid]


def record_in_container(args, workload, env, pyobjlife_cmd, stop_timeout=120):
    """tests/harness.record_workload's protocol, with the workload in the container.
    Returns (pyobjlife's exit code, its stderr, the oracle, the target's host PID)."""
    base = pick_base(args.install)
    exe = f"{base}/containerpy/bin/{args.python_name}"
    cmd = ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private",
           "sh", "-c", container_script(args, base, workload)]
    ct = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          env=env)
    try:
        if readline(ct.stdout, 30, "the workload").strip() != "ready":
            fail(f"the containerised workload did not start (rc {ct.poll()})")
        pid = find_target(ct.pid, exe)
        nspid = ns_pids(pid)
        if len(nspid) != 2 or nspid[0] != pid or nspid[1] == pid:
            fail(f"target {pid} is not in a PID namespace of its own: NSpid {nspid}")
        if os.path.exists(exe) or os.path.exists(f"{base}/containerwork"):
            fail(f"{base}'s container mounts are visible on the host")
        if not os.path.exists(f"/proc/{pid}/root{exe}"):
            fail(f"{exe} is not in the target's root")
        rc, stderr, oracle = attach_and_run(ct, pid, pyobjlife_cmd, stop_timeout)
        if ct.wait(30) != 0:
            fail(f"the container exited {ct.returncode}")
    finally:
        if ct.poll() is None:
            ct.kill()  # PID 1 of the namespace goes, and the kernel kills the rest
            ct.wait()
    oracle["container"] = {"base": base, "exe": exe, "host_pid": pid, "ns_pid": nspid[1]}
    return rc, stderr, oracle


def check_target_names(args, rec, oracle, problems):
    """Paths as the container sees them, the PID as the host does."""
    ct = oracle["container"]
    t = rec["target"]
    lib = ct["exe"] if args.single_binary else \
        f"{ct['base']}/containerpy/lib/libpython{args.minor}.so.1.0"
    if t["pid"] != ct["host_pid"]:
        problems.append(f"target pid {t['pid']}, host PID {ct['host_pid']}")
    if t["binary"] != lib:
        problems.append(f"binary {t['binary']!r}, expected {lib!r} (the container's path)")
    if t["executable"] != ct["exe"]:
        problems.append(f"executable {t['executable']!r}, expected {ct['exe']!r}")


def record_json(args, mode, workload, env, out):
    cmd = [args.pyobjlife, "record", "--mode", mode, "-o", out]
    if mode == "full":
        cmd += ["--stack-depth", str(args.stack_depth)]
    rc, stderr, oracle = record_in_container(args, workload, env, cmd)
    if rc != 0:
        fail(f"{args.label} --mode {mode}: pyobjlife exited {rc}: {stderr}")
    with open(out) as f:
        return json.load(f), oracle, stderr


def run_gc(args, tmp):
    env = dict(os.environ, GC_WORKLOAD_ROUNDS="300")
    rec, oracle, stderr = record_json(args, "gc", "gc_workload.py", env,
                                      os.path.join(tmp, "gc.json"))
    problems = []
    check_target_names(args, rec, oracle, problems)
    if problems:
        print(stderr)
        fail(f"{args.label} --mode gc: " + "; ".join(problems))
    # the oracle's figures came from gc.get_stats() inside the container
    gc_exact.check(SimpleNamespace(mode="attach", expect_probe=args.expect_probe, extra=[],
                                   label=f"{args.label} --mode gc, host PID "
                                   f"{oracle['container']['host_pid']}, container PID "
                                   f"{oracle['container']['ns_pid']}"),
                   rec, oracle, stderr)


def run_full(args, tmp):
    env = dict(os.environ, ALLOC_WORKLOAD_DEPTH="60")
    rec, oracle, stderr = record_json(args, "full", "alloc_workload.py", env,
                                      os.path.join(tmp, "full.json"))
    ct = oracle["container"]
    workload = f"{ct['base']}/containerwork/alloc_workload.py"
    # the workload's own __file__, read inside the container, is the oracle's file name
    alloc_sites.WORKLOAD = workload
    problems = []
    check_target_names(args, rec, oracle, problems)
    for name, site in oracle["sites"].items():
        if site["file"] != workload:
            problems.append(f"{name}: the workload sees itself at {site['file']}, "
                            f"not {workload}")
    alloc_sites.check_health(rec, problems)
    alloc_sites.check_sites(rec, oracle, problems)
    alloc_sites.check_threads(rec, oracle, problems)
    alloc_sites.check_deep(rec, oracle, args.stack_depth, problems)
    alloc_sites.check_wide(rec, oracle, problems)
    if problems:
        print(stderr)
        fail(f"{args.label} --mode full: " + "; ".join(problems[:12]))
    print(f"PASS: {args.label} --mode full, host PID {ct['host_pid']}, container PID "
          f"{ct['ns_pid']}: {len(oracle['sites'])} sites exact at {workload}, threads and "
          f"truncation right, {rec['allocations']['total_allocations']} allocations")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True, help="a pyenv build's bin/python3.X")
    ap.add_argument("--label", required=True)
    ap.add_argument("--mode", choices=("gc", "full", "both"), default="both")
    ap.add_argument("--stack-depth", type=int, default=32)
    ap.add_argument("--single-binary", action="store_true",
                    help="a python executable holding the interpreter (Debian's): move only "
                    "it into the container, its prefix stays where it is")
    ap.add_argument("--expect-probe", default="uprobe,uretprobe",
                    help="how collections must be seen (gc_exact.py's --expect-probe)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root (namespaces, mounts, BPF uprobes)")
    if not os.access(args.python, os.X_OK):
        skip(f"{args.python} is not installed")
    if not shutil.which("unshare"):
        skip("unshare (util-linux) is not installed")
    args.install = os.path.dirname(os.path.dirname(os.path.realpath(args.python)))
    args.python_name = os.path.basename(args.python)
    args.minor = args.python_name[len("python"):]
    if not args.single_binary and \
            not os.path.exists(f"{args.install}/lib/libpython{args.minor}.so.1.0"):
        skip(f"{args.install} has no libpython{args.minor}.so.1.0 (a static build)")
    with tempfile.TemporaryDirectory() as tmp:
        if args.mode in ("gc", "both"):
            run_gc(args, tmp)
        if args.mode in ("full", "both"):
            run_full(args, tmp)


if __name__ == "__main__":
    main()
