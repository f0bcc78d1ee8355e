# SPDX-License-Identifier: BSD-2-Clause
"""Classes freed and others made at their address: each must keep its own name.

Print "ready", wait for a line on stdin (the profiler is attached), then make
a class, instances of it, and free them all; then make new classes, each with
its instances, until one of them lands at the first class's address (the
allocator reuses the freed memory at once). Print each class's name and
instance count as JSON, and which class took the address; wait for a last
line, keeping the later classes alive.
"""
import gc
import json
import sys
import time

FIRST, LATER, MAX_LATER = 300, 40, 200


def make_class(name):
    return type(name, (), {})


def instantiate(cls, n):
    return [cls() for _ in range(n)]


def run():
    first = make_class("ReusedFirst")
    objs = instantiate(first, FIRST)
    address = id(first)
    # the profiler names a class when its first counter is announced: give it the time
    time.sleep(0.5)
    counts = {"ReusedFirst": FIRST}
    del first, objs
    gc.collect()
    kept, reused_by = [], None
    for i in range(MAX_LATER):
        cls = make_class(f"ReusedLater{i}")
        kept.append((cls, instantiate(cls, LATER)))
        counts[cls.__name__] = LATER
        if id(cls) == address:
            reused_by = cls.__name__
            break
    time.sleep(0.5)
    return counts, reused_by, kept


def main():
    print("ready", flush=True)
    sys.stdin.readline()
    counts, reused_by, kept = run()
    print(json.dumps({"counts": counts, "reused_by": reused_by}), flush=True)
    sys.stdin.readline()


main()
