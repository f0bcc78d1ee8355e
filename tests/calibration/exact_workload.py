# SPDX-License-Identifier: BSD-2-Clause
"""Creates known numbers of objects at two lines, for check_placement.py: instances
of its own class (through PyType_GenericAlloc) and list reverse iterators
(through _PyObject_GC_New, which Debian's 3.11 probes past its entry). The attach protocol of tests/workloads: print "ready", wait
for a line (pyobjlife is attached), allocate, print the oracle as one JSON line,
wait for a last line. The objects stay alive until the end."""
import json
import sys

COUNT = 20000


class PlacementExact:
    pass


def main():
    print("ready", flush=True)
    sys.stdin.readline()
    line = sys._getframe().f_lineno + 1
    keep = [PlacementExact() for _ in range(COUNT)]
    rev_line = sys._getframe().f_lineno + 1
    iters = [reversed(keep) for _ in range(COUNT)]
    sites = [{"type": "PlacementExact", "line": line, "allocations": len(keep)},
             {"type": "list_reverseiterator", "line": rev_line, "allocations": len(iters)}]
    print(json.dumps({"sites": sites, "python": sys.version.split()[0]}), flush=True)
    sys.stdin.readline()


main()
