# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""One kind of object made and dropped N times, for bench/probe_cost.py: each
iteration is one birth and one death of the kind, nothing else allocates
(tuple_deep: the tuples, made 30 Python frames down, for the stack walk;
tuple_wide: the same with 24 locals in each frame, ~300 bytes a frame on 3.11+,
closer to an application's frames than tuple_deep's ~100).

  python probe_cost_workload.py KIND N

Prints "ready", waits for a line on stdin (the probes are attached by then), runs
the loop with the collector disabled, and prints one JSON line: {"kind", "n",
"cpu_s"}, cpu_s being the thread's CPU time (user + system: a probe's trap is
charged to the thread that hit it) around the loop. Kept compatible with 3.8."""
import gc
import sys
import time


class Instance:
    pass


def make_instance(n):
    for _ in range(n):
        Instance()


def make_list(n):
    for _ in range(n):
        [None]


def make_dict(n):
    for _ in range(n):
        {"k": None}


def make_tuple(n):
    x = None
    for _ in range(n):
        (x, x)


def make_float(n):
    x = 1.5
    for _ in range(n):
        x * x


DEEP = 30


def make_tuple_deep(n, depth=DEEP):
    # the same tuples as make_tuple, made 30 Python frames down: the stack walk's share
    if depth > 1:
        return make_tuple_deep(n, depth - 1)
    make_tuple(n)


WIDE_LOCALS = 24


def wide_source():
    # a frame's size is its locals and stack, which only its source sets: written out
    pad = "".join("    pad%d = depth\n" % i for i in range(WIDE_LOCALS))
    return ("def make_tuple_wide(n, depth=DEEP):\n" + pad +
            "    if depth > 1:\n"
            "        return make_tuple_wide(n, depth - 1)\n"
            "    make_tuple(n)\n")


exec(wide_source())

KINDS = {"instance": make_instance, "list": make_list, "dict": make_dict,
         "tuple": make_tuple, "float": make_float, "tuple_deep": make_tuple_deep,
         "tuple_wide": make_tuple_wide}  # noqa: F821 (defined by the exec above)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in KINDS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(KINDS)} N")
    work, n = KINDS[sys.argv[1]], int(sys.argv[2])
    work(1000)  # the loop's code and the freelists warm
    gc.disable()
    print("ready", flush=True)
    if not sys.stdin.readline():
        sys.exit("no go signal on stdin")
    t0 = time.thread_time()
    work(n)
    cpu = time.thread_time() - t0
    print('{"kind": "%s", "n": %d, "cpu_s": %.9f}' % (sys.argv[1], n, cpu), flush=True)


main()
