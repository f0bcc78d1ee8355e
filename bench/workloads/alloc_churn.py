# SPDX-License-Identifier: BSD-2-Clause
# Copyright (c) 2026 The pyobjlife authors
"""Object churn: small instances (with and without __slots__), tuples, dicts and
lists made and dropped at a high rate, the way an ORM or an event pipeline
builds a row object per record and throws it away. Nearly every line allocates;
reference counting frees almost everything at once, so few objects reach the
cycle collector. This is the worst case for a per-allocation probe."""


class Event:
    def __init__(self, kind, key, value):
        self.kind = kind
        self.key = key
        self.value = value
        self.attrs = {"k": kind, "n": key}


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def batch(start, size):
    events = [Event(i % 7, "key%d" % (i % 100), i * 0.5) for i in range(start, start + size)]
    by_kind = {}
    for e in events:
        by_kind.setdefault(e.kind, []).append((e.key, e.value))
    points = [Point(e.value, e.kind) for e in events if e.kind < 5]
    total = sum(p.x + p.y for p in points)
    merged = {k: len(v) for k, v in by_kind.items()}
    return total, merged


def work(batches):
    checksum = 0.0
    counts = {}
    for b in range(batches):
        total, merged = batch(b * 100, 100)
        checksum += total
        for k, n in merged.items():
            counts[k] = counts.get(k, 0) + n
    return "%.1f %s" % (checksum, [counts[k] for k in sorted(counts)])


if __name__ == "__main__":
    import _workload
    _workload.run("alloc_churn", work, 7500)
