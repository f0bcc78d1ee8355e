# SPDX-License-Identifier: BSD-2-Clause
"""New allocation sites in a burst, and code objects freed milliseconds after use.

Print "ready", wait for a line on stdin (the profiler is attached), then:
1. import standard-library modules not imported yet: tens of thousands of new
   (stack, type) sites in a second, each module's body freed once it has run;
2. compile, run and drop MADE functions, one at a time: made_<i> makes MARKERS
   Marker instances, waits a few milliseconds and returns, and its code object
   is freed at the next young collection, with those of the functions before it.
Print the oracle as JSON ({"made": {name: markers}, "modules": [...]}) and wait
for a last line. Kept compatible with 3.8.
"""
import importlib
import json
import sys

MADE, MARKERS = 100, 40
MODULES = ["json", "email.parser", "http.client", "xml.dom.minidom", "argparse", "logging",
           "decimal", "fractions", "statistics", "csv", "difflib", "pprint", "textwrap",
           "tarfile", "zipfile", "configparser", "unittest", "ipaddress", "string", "calendar"]

# made_<i> starts with i assignments, so its Markers are made at an instruction offset
# of its own: a function freed and another compiled at its address, called from the same
# line, would otherwise have the same stack as far as addresses and offsets tell
SOURCE = """
import time
def made_{i}():
{padding}    out = []
    for _ in range({n}):
        out.append(Marker())
    time.sleep(0.005)
    return out
"""


class Marker:
    pass


def run_made():
    made = {}
    for i in range(MADE):
        namespace = {"Marker": Marker}
        source = SOURCE.format(i=i, n=MARKERS, padding="    _ = 0\n" * i)
        exec(compile(source, "<made_%d>" % i, "exec"), namespace)
        namespace["made_%d" % i]()
        made["made_%d" % i] = MARKERS
        # the function and its globals form a cycle: the code object goes at the next
        # young collection, a few functions later (see tests/e2e/naming_burst.py)
        del namespace
    return made


def main():
    fresh = [m for m in MODULES if m not in sys.modules]
    print("ready", flush=True)
    sys.stdin.readline()
    for name in fresh:
        importlib.import_module(name)
    made = run_made()
    print(json.dumps({"made": made, "modules": fresh}), flush=True)
    sys.stdin.readline()


main()
