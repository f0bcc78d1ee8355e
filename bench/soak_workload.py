# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""The target of bench/soak.py: allocates small objects as fast as one thread can
(millions a second) and keeps doing it until told to stop, with some reference
cycles so that the cycle collector runs all the time.

Protocol: prints "ready" and waits for a line on stdin (a profiler attaches in
between), then works until the next line on stdin (or EOF), then prints one JSON
line: seconds worked, objects allocated by the loop's own count (a lower bound:
the interpreter allocates more, e.g. frames and bound methods), and the
collections gc.get_stats() saw. Kept compatible with Python 3.8.
"""
import gc
import json
import select
import sys
import time


class Node:
    __slots__ = ("value", "peer", "__weakref__")

    def __init__(self, value):
        self.value = value
        self.peer = None


class Record:
    def __init__(self, key, payload):
        self.key = key
        self.payload = payload


# objects made per call of each function, counted by hand from the code below
SMALL_PER_CALL = 4 * 256   # a float, a tuple, a list and a Node per turn
CYCLE_PER_CALL = 3 * 16    # two Nodes and a Record (with its dict) in a cycle


def small_objects(base):
    """Freed by reference counting at once: the cheap, common case."""
    total = 0.0
    for i in range(256):
        f = (base + i) * 0.5
        t = (f, i)
        lst = [t]
        n = Node(lst)
        total += n.value[0][0]
    return total


def cycles(base):
    """Reference cycles: only the collector frees them, so it runs all the time."""
    keep = None
    for i in range(16):
        a, b = Node(base + i), Node(i)
        a.peer, b.peer = b, a
        keep = Record(i, a)
    return keep.key


def stop_requested():
    ready, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(ready)


def work():
    start = time.monotonic()
    objects, turn = 0, 0
    while True:
        small_objects(turn)
        cycles(turn)
        objects += SMALL_PER_CALL + CYCLE_PER_CALL
        turn += 1
        if turn % 256 == 0 and stop_requested():
            break
    return time.monotonic() - start, objects


def main():
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if not sys.stdin.readline():
        sys.exit("no go signal on stdin")
    before = sum(s["collections"] for s in gc.get_stats())
    seconds, objects = work()
    collections = sum(s["collections"] for s in gc.get_stats()) - before
    print(json.dumps({"seconds": seconds, "objects": objects, "objects_per_s": objects / seconds,
                      "gc_collections": collections}), flush=True)


if __name__ == "__main__":
    main()
