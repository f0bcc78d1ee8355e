# SPDX-License-Identifier: BSD-2-Clause
"""A target that must not notice a profiler coming and going.

It works in rounds until told to stop: each round makes objects, cycles the
collector must free (each watched by a weakref callback) and a dict, runs a
collection, then writes its round count to the file named by argv[1]. Between
rounds it answers lines on stdin:
  check N  -> "check FREED TOTAL": one round of N cycles; FREED must be N and
              TOTAL 3 * (the digits of 0..N-1), as the test computes itself
  exit N   -> "bye ROUNDS", then it exits with status N
It prints "ready" once the first round is done.
"""
import gc
import os
import select
import sys
import weakref


class Node:
    def __init__(self, i):
        self.i = i
        self.peer = None


def one_round(n):
    freed = []
    refs = []
    for i in range(n):
        a, b = Node(i), Node(-i)
        a.peer, b.peer = b, a
        refs.append(weakref.ref(a, freed.append))
    del a, b
    gc.collect()
    data = {i: str(i) * 3 for i in range(n)}
    return len(freed), sum(len(v) for v in data.values())


def command():
    """The next line on stdin if one is waiting, else None."""
    if not select.select([sys.stdin], [], [], 0)[0]:
        return None
    return sys.stdin.readline().split()


def main():
    counter = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    rounds = 0
    while True:
        one_round(200)
        rounds += 1
        os.pwrite(counter, b"%12d\n" % rounds, 0)
        if rounds == 1:
            print("ready", flush=True)
        cmd = command()
        if cmd == []:
            return 1  # stdin closed: the test is gone
        if cmd and cmd[0] == "check":
            freed, total = one_round(int(cmd[1]))
            print(f"check {freed} {total}", flush=True)
        elif cmd and cmd[0] == "exit":
            print(f"bye {rounds}", flush=True)
            return int(cmd[1])


if __name__ == "__main__":
    sys.exit(main())
