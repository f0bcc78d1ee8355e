# SPDX-License-Identifier: BSD-2-Clause
"""Allocation workload whose own counts are the oracle for `record --mode full`.

Print "ready", wait for a line on stdin (the profiler is attached), then create
exactly known numbers of instances of classes used nowhere else, each at its
own line (marked `# SITE:<name>`) in its own function: some in worker threads,
one at the bottom of a deep recursion, and one below a recursion of frames so
wide (about 1 KiB each) that the walked stack spans two of the thread's data
stack chunks (16 KiB each, 3.11+). Print the expectations as JSON and wait for a
last line, keeping every object alive meanwhile.
"""
import json
import os
import sys
import threading

from markers import function_name, markers

DEEP_RECURSION = int(os.environ.get("ALLOC_WORKLOAD_DEPTH", "60"))
COUNTS = {"SiteMain": 1234, "SiteNested": 567, "SiteMethod": 89, "SiteWorker": 321,
          "SiteDeep": 7, "SiteWide": 11}
# 25 frames of ~1 KiB: with <module>, main, run and the leaf, 29 frames (under 32)
WIDE_RECURSION = 24
WIDE_LOCALS = 120
WIDE_FILE = "<alloc_workload: wide frames>"
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


class SiteWide:
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


def wide_leaf(n):
    for _ in range(n):
        kept.append(SiteWide())  # SITE:SiteWide


def wide_source():
    """wide(level): WIDE_LOCALS locals, then recursion down to wide_leaf(); written out
    because a frame's size is its locals and stack, which only its source can set."""
    pad = "".join(f"    pad{i} = level\n" for i in range(WIDE_LOCALS))
    return ("def wide(level):\n" + pad +
            "    if level == 0:\n"
            "        wide_leaf(COUNTS['SiteWide'])\n"
            "        return\n"
            "    if level % 2:\n"
            "        wide(level - 1)  # odd\n"
            "    else:\n"
            "        wide(level - 1)  # even\n")


def wide_line(text):
    return next(i for i, line in enumerate(wide_source().splitlines(), 1) if text in line)


exec(compile(wide_source(), WIDE_FILE, "exec"))


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
    wide(WIDE_RECURSION)  # noqa: F821 (defined by the exec above)




def expectations():
    lines = markers(__file__)
    where = {"SiteMain": make_main, "SiteNested": make_nested, "SiteMethod": Maker.build,
             "SiteWorker": make_worker, "SiteDeep": deep_leaf, "SiteWide": wide_leaf}
    samples = {"SiteMain": SiteMain(), "SiteNested": SiteNested(), "SiteMethod": SiteMethod(),
               "SiteWorker": SiteWorker(), "SiteDeep": SiteDeep(), "SiteWide": SiteWide()}
    sites = {name: {"file": __file__, "line": lines[name], "function": function_name(fn),
                    "allocations": COUNTS[name] * (WORKERS if name == "SiteWorker" else 1),
                    "size": sys.getsizeof(samples[name])}
             for name, fn in where.items()}
    calls = {name: {"line": lines[name], "function": function_name(fn)}
             for name, fn in (("outer_nested", outer_nested), ("worker", worker),
                              ("deep", deep), ("deep_to_leaf", deep))}
    calls.update({name: {"file": WIDE_FILE, "line": wide_line(text), "function": "wide"}
                  for name, text in (("wide_odd", "# odd"), ("wide_even", "# even"),
                                     ("wide_to_leaf", "wide_leaf("))})
    return {"sites": sites, "calls": calls, "depth": DEEP_RECURSION,
            "wide_recursion": WIDE_RECURSION,
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
