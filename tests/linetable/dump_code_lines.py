# SPDX-License-Identifier: BSD-2-Clause
"""Dump, for the interpreter running this script (3.8 to 3.13), the line table
of every code object compiled from a deterministic sample of its own standard
library, with the line CPython itself gives each instruction offset.

One line per code object:
    minor firstlineno HEX offset:line offset:line ...
HEX is the raw co_lnotab (3.8, 3.9) or co_linetable (3.10+), "-" when empty.
Expected lines come from Python, never from the decoder under test:
  3.10+    code.co_lines(): each even offset in [start, end) gets its line,
           None is -1; one offset past the last range expects -1 (past the table)
  3.8/3.9  dis.findlinestarts(): an offset gets the last line start at or
           before it, for every even offset below len(co_code); offset -1
           (f_lasti before the first instruction) expects co_firstlineno
The files are compiled, never imported: the whole standard library but its
tests (some 20000 code objects, a few seconds), or with --limit the files
that reach that many code objects. Fewer than MIN_CODE_OBJECTS is an error.
A summary goes to stderr."""
import argparse
import dis
import os
import sys
import warnings

MIN_CODE_OBJECTS = 3000
SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


def stdlib_files():
    """Every .py file of the standard library in a fixed order, tests left out."""
    root = os.path.dirname(os.__file__)
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(top, name)


def compile_file(path):
    """The module's code object, or None when this interpreter cannot compile it
    (the standard library ships a few files of other grammars on purpose)."""
    try:
        with open(path, "rb") as f:
            source = f.read()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OSError, UnicodeDecodeError):
        return None


def walk_code(code):
    """The code object and every one nested in its constants, depth first."""
    yield code
    for const in code.co_consts:
        if isinstance(const, type(code)):
            yield from walk_code(const)


def lines_from_co_lines(code):
    """3.10+: (offset, line) for each code unit co_lines() covers, then the
    first offset past the last range, which has no line."""
    pairs = []
    end = 0
    for start, stop, line in code.co_lines():
        for off in range(start, stop, 2):
            pairs.append((off, -1 if line is None else line))
        end = max(end, stop)
    pairs.append((end, -1))
    return pairs


def lines_from_linestarts(code):
    """3.8/3.9: (offset, line) for each code unit, from the line starts."""
    starts = sorted(dis.findlinestarts(code))
    pairs = [(-1, code.co_firstlineno)]
    line = code.co_firstlineno  # never used: the first line start is at 0
    i = 0
    for off in range(0, len(code.co_code), 2):
        while i < len(starts) and starts[i][0] <= off:
            line = starts[i][1]
            i += 1
        pairs.append((off, line))
    return pairs


def dump(code, minor, out):
    if minor >= 10:
        table, pairs = code.co_linetable, lines_from_co_lines(code)
    else:
        table, pairs = code.co_lnotab, lines_from_linestarts(code)
    fields = [str(minor), str(code.co_firstlineno), table.hex() or "-"]
    fields.extend("%d:%d" % p for p in pairs)
    out.write(" ".join(fields) + "\n")
    return len(pairs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, metavar="N",
                    help="stop after the file that reaches N code objects (default: all)")
    args = ap.parse_args()
    minor = sys.version_info[1]
    if sys.version_info[0] != 3 or not 8 <= minor <= 13:
        sys.exit("dump_code_lines.py: Python 3.8 to 3.13 only, not %s" % sys.version.split()[0])
    out = sys.stdout
    files = codes = offsets = 0
    for path in stdlib_files():
        module = compile_file(path)
        if module is None:
            continue
        files += 1
        for code in walk_code(module):
            codes += 1
            offsets += dump(code, minor, out)
        if args.limit and codes >= args.limit:
            break
    out.flush()
    sys.stderr.write("dumped %d code objects, %d offsets from %d files of %s (Python %s)\n"
                     % (codes, offsets, files, os.path.dirname(os.__file__),
                        sys.version.split()[0]))
    if codes < MIN_CODE_OBJECTS:
        sys.exit("dump_code_lines.py: only %d code objects, fewer than %d"
                 % (codes, MIN_CODE_OBJECTS))


if __name__ == "__main__":
    main()
