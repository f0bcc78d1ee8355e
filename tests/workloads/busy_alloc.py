# SPDX-License-Identifier: BSD-2-Clause
"""A CPU-bound program that allocates at a moderate density, for sampled mode's
scaling by the target's work: BusyThing instances made at one line, each after
BUSY_WORK iterations of arithmetic that allocates nothing (small ints only).
Unlike steady_alloc.py the count follows the work done, not the clock: a
window that slows the program makes fewer objects there, and only a ratio that
measures work, not wall time, scales that right.

Protocol: prints "ready", waits for a line, then runs until SIGUSR1 (or
BUSY_SECONDS, default 60); prints its oracle as one JSON line, with "marks":
[[CLOCK_MONOTONIC seconds, instances made so far, own user CPU seconds], ...]
every 100 instances (os.times(): what the kernel charged it); then waits for
a last line."""
import array
import json
import os
import signal
import sys
import time

from markers import markers

WORK = min(256, int(os.environ.get("BUSY_WORK", "100")))
SECONDS = float(os.environ.get("BUSY_SECONDS", "60"))
stop = False
ARRAY = array.array("b")


class BusyThing:
    pass


def make():
    return BusyThing()  # SITE:busy


def spin(n):
    # a while loop over small ints (cached, below 256): no allocation at all
    x = i = 0
    while i < n:
        x = (x ^ i) & 0x7F
        i += 1
    return x


def on_stop(signum, frame):
    global stop
    stop = True


def run():
    made = 0
    marks = []
    end = time.monotonic() + SECONDS
    while not stop:
        for _ in range(100):
            spin(WORK)
            make()
        iter(ARRAY)  # an array iterator: Debian's 3.11 makes it through a single-stepped probe
        made += 100
        now = time.monotonic()
        marks.append((now, made, os.times().user))
        if now >= end:
            break
    return made, marks


def main():
    signal.signal(signal.SIGUSR1, on_stop)
    print("ready", flush=True)
    sys.stdin.readline()
    made, marks = run()
    print(json.dumps({"python": sys.version.split()[0], "made": made, "marks": marks,
                      "type": "BusyThing", "function": "make",
                      "file": os.path.abspath(__file__), "line": markers(__file__)["busy"]}), flush=True)
    sys.stdin.readline()


main()
