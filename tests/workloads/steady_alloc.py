# SPDX-License-Identifier: BSD-2-Clause
"""A steady allocation rate, for sampled mode: SteadyThing instances made at one
line, STEADY_RATE per second (default 2000), each kept in a short FIFO so that
it dies STEADY_KEEP creations later (default 20: 10 ms at the default rate).
Creations follow the clock, not a loop count: a slowed-down stretch is caught
up at once, so every interval of the run holds its share.

Protocol: prints "ready", waits for a line, then runs until SIGUSR1 (or
STEADY_SECONDS, default 60); prints its oracle as one JSON line, with "marks":
[[CLOCK_MONOTONIC seconds, instances made so far], ...] at every step of the
loop (every ~0.5 ms), so the count made in any interval can be told; then
waits for a last line."""
import collections
import json
import os
import signal
import sys
import time

RATE = int(os.environ.get("STEADY_RATE", "2000"))
SECONDS = float(os.environ.get("STEADY_SECONDS", "60"))
KEEP = int(os.environ.get("STEADY_KEEP", "20"))
stop = False


class SteadyThing:
    pass


def make(keep):
    keep.append(SteadyThing())  # STEADY SITE


def on_stop(signum, frame):
    global stop
    stop = True


def run():
    keep = collections.deque(maxlen=KEEP)
    marks = []
    made = 0
    start = time.monotonic()
    while not stop:
        now = time.monotonic()
        if now - start >= SECONDS:
            break
        due = int((now - start) * RATE)
        while made < due:
            make(keep)
            made += 1
        marks.append((now, made))
        time.sleep(0.0005)
    keep.clear()
    return made, marks


def site_line():
    with open(__file__) as f:
        for n, line in enumerate(f, 1):
            if "# STEADY SITE" in line and "keep.append" in line:
                return n
    raise RuntimeError("no site marker")


def main():
    signal.signal(signal.SIGUSR1, on_stop)
    print("ready", flush=True)
    sys.stdin.readline()
    made, marks = run()
    print(json.dumps({"python": sys.version.split()[0], "made": made, "marks": marks,
                      "rate": RATE, "type": "SteadyThing", "function": "make",
                      "file": os.path.abspath(__file__), "line": site_line()}), flush=True)
    sys.stdin.readline()


main()
