# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""Collector-heavy work: build graphs whose nodes point at their parents and
neighbours (reference cycles everywhere), keep some alive for a while, drop the
rest. Reference counting cannot free a cycle, so memory is reclaimed only by the
cycle collector, which runs thousands of times here and walks every survivor on
each older-generation collection."""


class Node:
    __slots__ = ("id", "parent", "children", "peers", "payload", "__weakref__")

    def __init__(self, ident, parent):
        self.id = ident
        self.parent = parent
        self.children = []
        self.peers = []
        self.payload = {"id": ident}
        if parent is not None:
            parent.children.append(self)


def build(seed, fanout, depth):
    root = Node(seed, None)
    level = [root]
    count = 1
    for _ in range(depth):
        nxt = []
        for parent in level:
            for j in range(fanout):
                nxt.append(Node(count, parent))
                count += 1
        for a, b in zip(nxt, nxt[1:]):
            a.peers.append(b)
            b.peers.append(a)
        level = nxt
    return root, count


def weight(node):
    total = 0
    stack = [node]
    while stack:
        n = stack.pop()
        total += n.id % 7 + len(n.peers)
        stack.extend(n.children)
    return total


def work(graphs):
    kept = []
    checksum = 0
    for g in range(graphs):
        root, count = build(g, 4, 3)
        checksum += count + weight(root) % 101
        if g % 20 == 0:
            kept.append(root)
        if len(kept) > 100:
            del kept[:50]
    return checksum


if __name__ == "__main__":
    import _workload
    _workload.run("gc_graph", work, 4500)
