# SPDX-License-Identifier: BSD-2-Clause
"""For tests/e2e/replaced_library.py: an interpreter whose libpython is deleted from
disk after it started. Prints "ready", waits for a line (the library is gone and
the profiler attached by then), makes MADE instances of Survivor at one line,
runs a full collection, and prints its oracle as one JSON line: the site, the
count, and each generation's collections during the work (gc.get_stats()); then
waits for a last line."""
import gc
import json
import os
import sys

from markers import markers

MADE = 3000


class Survivor:
    pass


def make(n):
    kept = []
    for _ in range(n):
        kept.append(Survivor())  # SITE:survivor
    return kept


def main():
    print("ready", flush=True)
    sys.stdin.readline()
    before = [s["collections"] for s in gc.get_stats()]
    kept = make(MADE)
    gc.collect()
    after = [s["collections"] for s in gc.get_stats()]
    print(json.dumps({"python": sys.version.split()[0], "made": len(kept), "type": "Survivor",
                      "function": "make",
                      "file": os.path.abspath(__file__), "line": markers(__file__)["survivor"],
                      "collections": [a - b for a, b in zip(after, before)]}), flush=True)
    sys.stdin.readline()


main()
