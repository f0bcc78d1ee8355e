# SPDX-License-Identifier: BSD-2-Clause
"""Workload for recordings of several processes at once (tests/e2e/multi_target.py).

Each process runs a GC section (cycles the collector frees, survivors that reach the
older generations, explicit collections) and creates a known number of instances of a
class of its own role at a marked line; its oracle is one JSON line on stdout: its
PID, role, gc.get_stats() figures and the allocation site it made.

Roles:
  attach   print "ready", wait for a line (pyobjlife is attached), take gc.get_stats(),
           run, take it again, disable the collector, print the deltas; then wait for a
           last line, or with --exit leave at once (a target that exits mid-recording),
           or with --exec-after PYTHON exec a program that collects (a target that
           execs mid-recording: none of those collections may be counted as its).
  family   launched by `pyobjlife record --follow-children`: run (absolute counters: the
           probes saw the interpreter start), then fork a child that runs (deltas since
           the fork) and execs --exec PYTHON on this script in role "exec", and start
           --spawn PYTHON on it in role "spawned" with subprocess (a vfork then an exec).
  exec, spawned   run and print absolute counters: the probes saw them start.
Every role that prints absolute counters leaves with os._exit: no shutdown collections.
"""
import argparse
import gc
import json
import os
import subprocess
import sys

from markers import function_name, markers

ROUNDS = int(os.environ.get("MULTI_WORKLOAD_ROUNDS", "120"))
COUNTS = {"attach": 2345, "family": 1111, "child": 777, "exec": 1555, "spawned": 999}
KEYS = ("collections", "collected", "uncollectable")
AFTER_EXEC = "import gc, time\nfor g in (0, 1, 2, 2):\n    gc.collect(g)\ntime.sleep(120)\n"


class Node:
    pass


class SiteAttach:
    pass


class SiteFamily:
    pass


class SiteChild:
    pass


class SiteExec:
    pass


class SiteSpawned:
    pass


kept = []


def make_attach(n):
    for _ in range(n):
        kept.append(SiteAttach())  # SITE:attach


def make_family(n):
    for _ in range(n):
        kept.append(SiteFamily())  # SITE:family


def make_child(n):
    for _ in range(n):
        kept.append(SiteChild())  # SITE:child


def make_exec(n):
    for _ in range(n):
        kept.append(SiteExec())  # SITE:exec


def make_spawned(n):
    for _ in range(n):
        kept.append(SiteSpawned())  # SITE:spawned


MAKERS = {"attach": (make_attach, SiteAttach), "family": (make_family, SiteFamily),
          "child": (make_child, SiteChild), "exec": (make_exec, SiteExec),
          "spawned": (make_spawned, SiteSpawned)}


def gc_section(rounds):
    survivors = []
    for r in range(rounds):
        for _ in range(300):
            a = Node()
            b = Node()
            a.other = b
            b.other = a
        if r % 7 == 0:
            survivors.append([Node() for _ in range(40)])  # they reach older generations
        if r % 30 == 0:
            gc.collect(r // 30 % 3)
    gc.collect()
    return len(survivors)


def run(role):
    maker, _ = MAKERS[role]
    gc_section(ROUNDS)
    maker(COUNTS[role])


def stats():
    return [{k: s[k] for k in KEYS} for s in gc.get_stats()]


def deltas(before, after):
    return [{k: after[i][k] - before[i][k] for k in KEYS} for i in range(3)]


def oracle(role, gc_stats, absolute):
    maker, cls = MAKERS[role]
    sample = cls()
    return {"role": role, "pid": os.getpid(), "python": sys.version.split()[0],
            "absolute": absolute, "stats": gc_stats,
            "threshold": list(gc.get_threshold()),
            "site": {"type": cls.__name__, "file": os.path.realpath(__file__),
                     "line": markers(__file__)[role], "function": function_name(maker),
                     "allocations": COUNTS[role], "size": sys.getsizeof(sample)}}


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def attach(args):
    print("ready", flush=True)
    sys.stdin.readline()
    before = stats()
    run("attach")
    after = stats()
    gc.disable()
    say(oracle("attach", deltas(before, after), False))
    if args.exit:
        os._exit(0)
    if args.exec_after:
        os.execv(args.exec_after, [args.exec_after, "-c", AFTER_EXEC])
    sys.stdin.readline()


def fork_child(exec_python):
    """The child of a fork: the parent's interpreter, its collector off until `before`."""
    before = stats()
    gc.enable()
    run("child")
    after = stats()
    gc.disable()
    say(oracle("child", deltas(before, after), False))
    os.execv(exec_python, [exec_python, os.path.realpath(__file__), "exec"])


def family(args):
    run("family")
    gc.disable()  # nothing collects between the fork and the child's first reading
    pid = os.fork()
    if pid == 0:
        fork_child(args.exec)
    subprocess.run([args.spawn, os.path.realpath(__file__), "spawned"], check=True)
    _, status = os.waitpid(pid, 0)
    if status:
        sys.exit(f"the forked child ended with status {status}")
    say(oracle("family", stats(), True))
    os._exit(0)


def started_by_exec(role):
    run(role)
    say(oracle(role, stats(), True))
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=("attach", "family", "exec", "spawned"))
    ap.add_argument("--exit", action="store_true")
    ap.add_argument("--exec-after")
    ap.add_argument("--exec")
    ap.add_argument("--spawn")
    args = ap.parse_args()
    if args.role == "attach":
        attach(args)
    elif args.role == "family":
        family(args)
    else:
        started_by_exec(args.role)


main()
