# SPDX-License-Identifier: BSD-2-Clause
"""What every Python test driver here shares: the ctest verdicts (exit 0 pass,
1 fail, 77 skip, each with its reason on stdout) and a line read with a timeout."""
import select
import sys


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def fail(why):
    print(f"FAIL: {why}")
    sys.exit(1)


def readline(stream, timeout, what):
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        fail(f"timed out after {timeout}s waiting for {what}")
    return stream.readline()
