# SPDX-License-Identifier: BSD-2-Clause
"""Seeds of fuzz_line_table: real line tables dumped from each installed
interpreter, and a few hand-made ones so that every format is seeded even where
only one Python is installed.

    make_line_table_seeds.py --out DIR [--python PATH]...

Each seed is what the fuzzer reads: one byte (minor - 8, choosing the format),
co_firstlineno as a little-endian int32, then the raw co_lnotab (3.8, 3.9) or
co_linetable (3.10+). Each interpreter runs this same file with --dump (it must
compile the code itself: the tables are its own) and prints "minor firstlineno
hex" lines for a spread of table sizes from a few standard-library modules.
A missing interpreter is named and skipped."""
import argparse
import os
import struct
import subprocess
import sys

MODULES = ["json/decoder.py", "argparse.py", "textwrap.py", "dataclasses.py", "inspect.py"]
PER_INTERPRETER = 24
MAX_TABLE = 2048  # the fuzzer looks every table up a few hundred times per input

# Hand-made tables, one or two per format: (minor, firstlineno, table bytes)
SYNTHETIC = [
    # co_lnotab: (byte delta, line delta) pairs, a negative delta, a 255-byte jump
    (8, 1, bytes([2, 1, 4, 1, 6, 0xFE, 0xFF, 0, 0, 3])),
    (9, 10, bytes([0, 1, 8, 2])),
    # 3.10: (range length, line delta); -128 marks a range without a line
    (10, 5, bytes([6, 0, 4, 1, 2, 0x80, 8, 2, 0, 0x7F, 2, 1])),
    # 3.11+: entries 1CCCCLLL: no-columns (13) +1, one-line (10, 11) with columns,
    # long form (14) with end line and columns, none (15), short (0) with a column byte
    (11, 3, bytes([0xE9, 0x02, 0xD0, 0x05, 0x10, 0xD9, 0x01, 0x09,
                   0xF3, 0x03, 0x00, 0x04, 0x0C, 0xF8, 0x80, 0x22])),
    (12, 1, bytes([0xF0, 0x03, 0x01, 0x01, 0x05, 0xE8, 0x41, 0x01])),
    (13, 0, bytes([0xE8, 0x02, 0xD2, 0x00, 0x04])),
]


def dump():
    """In the interpreter under study: its own tables, as "minor firstlineno hex" lines."""
    import warnings
    root = os.path.dirname(os.__file__)
    tables = set()
    for rel in MODULES:
        try:
            with open(os.path.join(root, rel), "rb") as f:
                source = f.read()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = compile(source, rel, "exec", dont_inherit=True)
        except (OSError, SyntaxError, ValueError):
            continue
        stack = [code]
        while stack:
            c = stack.pop()
            stack.extend(k for k in c.co_consts if isinstance(k, type(c)))
            table = c.co_lnotab if sys.version_info < (3, 10) else c.co_linetable
            if len(table) <= MAX_TABLE:
                tables.add((c.co_firstlineno, bytes(table)))
    ordered = sorted(tables, key=lambda t: (len(t[1]), t))
    # evenly spread over the sizes, the smallest and the largest included
    last = len(ordered) - 1
    picks = sorted({round(i * last / (PER_INTERPRETER - 1)) for i in range(PER_INTERPRETER)})
    for firstlineno, table in (ordered[i] for i in picks if ordered):
        print(sys.version_info[1], firstlineno, table.hex() or "-")


def write_seed(out, name, minor, firstlineno, table):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([minor - 8]) + struct.pack("<i", firstlineno) + table)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="the seed directory (emptied first)")
    ap.add_argument("--python", action="append", default=[], help="an interpreter to dump")
    ap.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dump:
        dump()
        return
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):
        os.unlink(os.path.join(args.out, name))
    for i, (minor, firstlineno, table) in enumerate(SYNTHETIC):
        write_seed(args.out, f"synthetic-3.{minor}-{i}", minor, firstlineno, table)
    for n, python in enumerate(args.python):
        if not os.access(python, os.X_OK):
            print(f"make_line_table_seeds: {python} is not installed, no seeds from it")
            continue
        lines = subprocess.run([python, "-I", os.path.abspath(__file__), "--dump"],
                               check=True, capture_output=True, text=True).stdout.split("\n")
        label = f"{n}-{os.path.basename(python)}"  # two python3.11 may be given
        for i, line in enumerate(filter(None, lines)):
            minor, firstlineno, hex_table = line.split()
            table = b"" if hex_table == "-" else bytes.fromhex(hex_table)
            write_seed(args.out, f"{label}-{i:02d}", int(minor), int(firstlineno), table)


if __name__ == "__main__":
    main()
