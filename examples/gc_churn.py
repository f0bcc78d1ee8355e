# SPDX-License-Identifier: BSD-2-Clause
"""A small stand-in for a Python service whose collector works hard.

Each "request" builds an object graph with reference cycles (parent/child
links, as ORMs and tree structures make), a few results are cached and live
on into the older generations, and some requests leak a cycle through an
object with a legacy finalizer, which the collector can only report as
uncollectable. Runs for a few seconds and exits.
"""
import gc
import os
import sys
import time

try:
    import _testcapi  # ships with CPython's test modules; optional
except ImportError:
    _testcapi = None


class Node:
    def __init__(self, parent=None):
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


def handle_request(i):
    root = Node()
    for _ in range(20):
        child = Node(root)
        for _ in range(5):
            Node(child)
    return root


def main(seconds=3.0):
    cache = []
    leaky = _testcapi.with_tp_del(type("Leaky", (), {})) if _testcapi else None
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        tree = handle_request(i)
        if i % 50 == 0:
            cache.append(tree)  # survives: promoted to generation 1, then 2
        if leaky is not None and i % 500 == 0:
            x = leaky()
            x.self = x
        if len(cache) > 200:
            del cache[:100]
        i += 1
    gc.collect()
    print(f"handled {i} requests; the interpreter's own gc.get_stats():")
    for gen, stats in enumerate(gc.get_stats()):
        print(f"  generation {gen}: {stats}")
    sys.stdout.flush()
    # leave without the collections of interpreter shutdown, so that the figures above
    # are exactly the ones pyobjlife prints when it is done
    os._exit(0)


main()
