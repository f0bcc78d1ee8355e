# SPDX-License-Identifier: BSD-2-Clause
"""One line-table test: the given interpreter dumps its standard library's line
tables with the lines it computes itself (dump_code_lines.py), and
check_line_tables decodes each table with line_table_lookup and compares.
Exit 0 pass, 1 fail, 77 skip when that interpreter is not installed."""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from harness import fail, skip  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", required=True, help="the interpreter whose tables are checked")
    ap.add_argument("--checker", required=True, help="the check_line_tables binary")
    ap.add_argument("--label", required=True, help="names the interpreter in messages")
    ap.add_argument("--limit", type=int, default=0, metavar="N",
                    help="dump only the files that reach N code objects (default: all)")
    args = ap.parse_args()

    if not os.access(args.python, os.X_OK):
        skip(f"{args.label}: {args.python} is not installed")
    started = time.monotonic()
    # -I: no PYTHON* variables, user site or script directory can change what is compiled
    dumper = subprocess.Popen([args.python, "-I", os.path.join(HERE, "dump_code_lines.py"),
                               "--limit", str(args.limit)],
                              stdout=subprocess.PIPE)
    checker = subprocess.run([args.checker], stdin=dumper.stdout)
    dumper.stdout.close()
    dumped = dumper.wait()
    print(f"{args.label}: {time.monotonic() - started:.1f}s", flush=True)
    if checker.returncode != 0:
        fail(f"{args.label}: check_line_tables exited with {checker.returncode}")
    # a dump that died half-way may still have passed what it wrote
    if dumped != 0:
        fail(f"{args.label}: dump_code_lines.py exited with {dumped}")


if __name__ == "__main__":
    main()
