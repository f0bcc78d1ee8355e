# SPDX-License-Identifier: BSD-2-Clause
"""Allocation workload whose own counts are the oracle for `record --mode full`.

Print "ready", wait for a line on stdin (the profiler is attached), then create
exactly known numbers of instances of classes used nowhere else, each at its
own line (marked `# SITE:<name>`) in its own function, some in worker threads
and one at the bottom of a deep recursion. Print the expectations as JSON and
wait for a last line, keeping every object alive meanwhile.
"""
import json
import os
import sys
import threading

from markers import function_name, markers

DEEP_RECURSION = int(os.environ.get("ALLOC_WORKLOAD_DEPTH", "60"))
COUNTS = {"SiteMain": 1234, "SiteNested": 567, "SiteMethod": 89, "SiteWorker": 321,
          "SiteDeep": 7}
WORKERS = 2


class SiteMain:
    pass


class SiteNested:
    def __init__(self):
        self.value = 1


class SiteMethod:
    __slots__ = ("a", "b")


class SiteWorker:
    pass


class SiteDeep:
    pass


kept = []


def make_main(n):
    for _ in range(n):
        kept.append(SiteMain())  # SITE:SiteMain


def make_nested(n):
    for _ in range(n):
        kept.append(SiteNested())  # SITE:SiteNested


def outer_nested(n):
    make_nested(n)  # CALL:outer_nested


class Maker:
    def build(self, n):
        for _ in range(n):
            kept.append(SiteMethod())  # SITE:SiteMethod


def make_worker(n, out):
    for _ in range(n):
        out.append(SiteWorker())  # SITE:SiteWorker


def worker(out):
    make_worker(COUNTS["SiteWorker"], out)  # CALL:worker


def deep_leaf(n):
    for _ in range(n):
        kept.append(SiteDeep())  # SITE:SiteDeep


def deep(level):
    if level == 0:
        deep_leaf(COUNTS["SiteDeep"])  # CALL:deep_to_leaf
        return
    deep(level - 1)  # CALL:deep


def run():
    make_main(COUNTS["SiteMain"])
    outer_nested(COUNTS["SiteNested"])
    Maker().build(COUNTS["SiteMethod"])
    outs = [[] for _ in range(WORKERS)]
    threads = [threading.Thread(target=worker, args=(o,)) for o in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept.extend(outs)
    deep(DEEP_RECURSION)




def expectations():
    lines = markers(__file__)
    where = {"SiteMain": make_main, "SiteNested": make_nested, "SiteMethod": Maker.build,
             "SiteWorker": make_worker, "SiteDeep": deep_leaf}
    samples = {"SiteMain": SiteMain(), "SiteNested": SiteNested(), "SiteMethod": SiteMethod(),
               "SiteWorker": SiteWorker(), "SiteDeep": SiteDeep()}
    sites = {name: {"file": __file__, "line": lines[name], "function": function_name(fn),
                    "allocations": COUNTS[name] * (WORKERS if name == "SiteWorker" else 1),
                    "size": sys.getsizeof(samples[name])}
             for name, fn in where.items()}
    calls = {name: {"line": lines[name], "function": function_name(fn)}
             for name, fn in (("outer_nested", outer_nested), ("worker", worker),
                              ("deep", deep), ("deep_to_leaf", deep))}
    return {"sites": sites, "calls": calls, "depth": DEEP_RECURSION,
            "python": sys.version.split()[0]}


def main():
    sys.setrecursionlimit(10000)
    expected = expectations()  # its sample instances are made before the profiler attaches
    print("ready", flush=True)
    sys.stdin.readline()
    run()
    print(json.dumps(expected), flush=True)
    sys.stdin.readline()


main()
