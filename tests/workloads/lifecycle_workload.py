# SPDX-License-Identifier: BSD-2-Clause
"""Lifecycle workload whose own counts are the oracle for `record --mode full`.

Print "ready", wait for a line on stdin (the profiler is attached), then, with
automatic collection off so every collection is one this program asks for:

- RefDies: N instances dropped at once (freed by reference count, generation 0);
- Cycle0/1/2: instances in self-referencing cycles that only the collector can
  free, after surviving 0, 1 or 2 collections (so they die in generation 0, 1, 2);
- Kept: K instances alive at the end, after surviving full collections;
- Leaky: instances appended to a list in rounds, a full collection after each,
  so the type grows in the oldest generation's census;
every full collection is made by `trigger_full`, every young one by
`trigger_young`. Print the expectations as JSON and wait for a last line.
"""
import gc
import json
import sys

from markers import function_name, markers

N_REF, N_CYCLE, N_KEPT, N_LEAKY, LEAK_ROUNDS = 1500, 400, 700, 1200, 4


class RefDies:
    pass


class Cycle0:
    pass


class Cycle1:
    pass


class Cycle2:
    pass


class Kept:
    pass


class Leaky:
    pass


kept = []
leaked = []


def trigger_full():
    gc.collect()  # CALL:trigger_full


def trigger_young(generation):
    gc.collect(generation)  # CALL:trigger_young


def make_refdies(n):
    for _ in range(n):
        RefDies()  # SITE:RefDies


def make_cycles(cls, n):
    out = []
    for _ in range(n):
        o = cls()  # SITE:Cycle
        o.me = o
        out.append(o)
    return out


def make_kept(n):
    for _ in range(n):
        kept.append(Kept())  # SITE:Kept


def make_leaky(n):
    for _ in range(n):
        leaked.append(Leaky())  # SITE:Leaky


def run():
    make_refdies(N_REF)
    make_kept(N_KEPT)
    # generation 0: no collection between birth and the one that frees them
    make_cycles(Cycle0, N_CYCLE)
    trigger_full()
    # generation 1: one young collection survived, then freed by a generation-1 collection
    survivors = make_cycles(Cycle1, N_CYCLE)
    trigger_young(0)
    del survivors
    trigger_young(1)
    # generation 2: survived a generation-1 collection, freed by a full one
    survivors = make_cycles(Cycle2, N_CYCLE)
    trigger_young(1)
    del survivors
    trigger_full()
    for _ in range(LEAK_ROUNDS):
        make_leaky(N_LEAKY // LEAK_ROUNDS)
        trigger_full()




def expectations():
    lines = markers(__file__)

    def site(name, fn, dealloc, cycle, alive, gens, survived_full):
        return {"file": __file__, "line": lines[name], "function": function_name(fn),
                "deallocations": dealloc, "cycle_collected": cycle, "alive_at_end": alive,
                "died_in_generation": gens, "alive_survived_full_collection": survived_full}

    per_round = N_LEAKY // LEAK_ROUNDS
    return {
        "sites": {
            "RefDies": site("RefDies", make_refdies, N_REF, 0, 0, [N_REF, 0, 0], 0),
            "Cycle0": site("Cycle", make_cycles, N_CYCLE, N_CYCLE, 0, [N_CYCLE, 0, 0], 0),
            "Cycle1": site("Cycle", make_cycles, N_CYCLE, N_CYCLE, 0, [0, N_CYCLE, 0], 0),
            "Cycle2": site("Cycle", make_cycles, N_CYCLE, N_CYCLE, 0, [0, 0, N_CYCLE], 0),
            "Kept": site("Kept", make_kept, 0, 0, N_KEPT, [0, 0, 0], N_KEPT),
            # a full collection follows every round: all of them lived through one
            "Leaky": site("Leaky", make_leaky, 0, 0, N_LEAKY, [0, 0, 0], N_LEAKY),
        },
        "leaky_per_round": per_round,
        "leak_rounds": LEAK_ROUNDS,
        "full_trigger": {"function": function_name(trigger_full), "line": lines["trigger_full"]},
        "young_trigger": {"function": function_name(trigger_young),
                          "line": lines["trigger_young"]},
        "full_collections": 2 + LEAK_ROUNDS,  # Cycle0, Cycle2 and each round
        "python": sys.version.split()[0],
    }


def main():
    expected = expectations()
    gc.disable()
    gc.collect()
    print("ready", flush=True)
    sys.stdin.readline()
    run()
    print(json.dumps(expected), flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    main()
