# SPDX-License-Identifier: BSD-2-Clause
"""GC-heavy workload whose own gc.get_stats() is the oracle for the recording.

Attach mode (default): print "ready", wait for a line on stdin (the profiler is
attached), take gc.get_stats(), run the section, take it again, disable the
collector, print the per-generation deltas as JSON, and wait for a last line
on stdin so that nothing collects after the reading.

Launch mode (--launch): the profiler started this interpreter, so its absolute
counters are the oracle: run the section, print gc.get_stats() and leave with
os._exit, skipping the collections of interpreter shutdown.
"""
import gc
import json
import os
import sys

try:
    import _testcapi
except ImportError:  # a build without the test modules: no uncollectable objects then
    _testcapi = None


class Node:
    pass


if _testcapi is not None:
    # a type with a legacy tp_del: the collector cannot free cycles through it
    class Legacy:
        pass

    Legacy = _testcapi.with_tp_del(Legacy)


def section(rounds):
    kept = []
    for r in range(rounds):
        for _ in range(400):
            a = Node()
            b = Node()
            a.other = b
            b.other = a
        if r % 7 == 0:
            kept.append([Node() for _ in range(50)])  # survivors reach older generations
        if _testcapi is not None and r % 25 == 0:
            x = Legacy()
            x.self = x
            del x
        if r % 40 == 0:
            gc.collect(r // 40 % 3)
    gc.collect()
    return len(kept)


def deltas(before, after):
    keys = ("collections", "collected", "uncollectable")
    return [{k: after[i][k] - before[i][k] for k in keys} for i in range(3)]


def main():
    rounds = int(os.environ.get("GC_WORKLOAD_ROUNDS", "300"))
    if "--launch" in sys.argv:
        section(rounds)
        out = {"stats": [{k: s[k] for k in ("collections", "collected", "uncollectable")}
                         for s in gc.get_stats()],
               "threshold": list(gc.get_threshold())}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
        os._exit(0)
    print("ready", flush=True)
    sys.stdin.readline()
    before = gc.get_stats()
    section(rounds)
    after = gc.get_stats()
    gc.disable()
    print(json.dumps({"stats": deltas(before, after), "threshold": list(gc.get_threshold())}),
          flush=True)
    sys.stdin.readline()


main()
