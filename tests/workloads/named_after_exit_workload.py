# SPDX-License-Identifier: BSD-2-Clause
"""Code objects made, run, and gone with the process before a reader could look.

Usage: named_after_exit_workload.py ORACLE_FILE

Compiles and runs MADE functions as fast as it can: made_<i> makes MARKERS
Marker instances. The functions stay alive (no address is reused), but the
process ends with os._exit() right after the last one, so the last ones' code
objects exist only for microseconds after their first allocation. Writes the
oracle ({"made": {name: markers}}) to ORACLE_FILE first. Kept compatible with 3.8.
"""
import json
import os
import sys

MADE, MARKERS = 200, 40

SOURCE = """
def made_{i}():
    out = []
    for _ in range({n}):
        out.append(Marker())
    return out
"""


class Marker:
    pass


def main():
    kept, made = [], {}
    for i in range(MADE):
        namespace = {"Marker": Marker}
        exec(compile(SOURCE.format(i=i, n=MARKERS), "<made_%d>" % i, "exec"), namespace)
        namespace["made_%d" % i]()
        kept.append(namespace)
        made["made_%d" % i] = MARKERS
    with open(sys.argv[1], "w") as f:
        json.dump({"made": made}, f)
    # no interpreter teardown: the code objects vanish with the process
    os._exit(0)


main()
