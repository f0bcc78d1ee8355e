# SPDX-License-Identifier: BSD-2-Clause
"""Fixed amount of collector-heavy work (cycles, survivors) for overhead runs."""
import gc
import sys
import time


class Node:
    def __init__(self, parent=None):
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


def main(requests):
    cache = []
    t0 = time.perf_counter()
    for i in range(requests):
        root = Node()
        for _ in range(20):
            child = Node(root)
            for _ in range(5):
                Node(child)
        if i % 50 == 0:
            cache.append(root)
        if len(cache) > 200:
            del cache[:100]
    elapsed = time.perf_counter() - t0
    collections = sum(s["collections"] for s in gc.get_stats())
    print(f"{elapsed:.6f} {collections}")


main(int(sys.argv[1]) if len(sys.argv) > 1 else 40000)
