#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Probe placement checked from outside pyobjlife.

--binary FILE: `pyobjlife probes --binary FILE --format json` must place every
hook where binutils' objdump says the rule leads: the first instruction the
kernel emulates (push of a register, NOP, jmp/jcc/call with a relative target),
every call reaching it (no branch before it, no jump into the skipped bytes from
inside the function) and no earlier write to a register the hook's program
reads (%rdi for _Py_NewReference and the deallocators, none for the arena hooks). Return-probed
and USDT sites stay at +0, and so do the typed allocators (they are return-probed in
full mode). No root needed.

--python PY: record the same workload twice, probes at the chosen addresses and
at the entry (--probe-placement entry): both must count exactly the instances
the workload made at its line, and the recording must say where it attached
(the chosen offset, +0 for entry). Needs root.
Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, record_workload, skip  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, "exact_workload.py")

FAMILIES = {
    "rdi": {"rdi", "edi", "di", "dil"},
    "rsi": {"rsi", "esi", "si", "sil"},
}
# what each hook's BPF program reads (bpf/pyobjlife.bpf.c); None: the site cannot move
# the typed allocators stay at +0: their return probe traps at the entry anyway
NEEDS = {"_Py_NewReference": ["rdi"], "tp_dealloc": ["rdi"], "arena_alloc": [],
         "arena_free": []}
INSN = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f ]+)\t(\S+)\s*(.*)$")
SCAN_MAX = 16


def objdump(binary, start, size):
    out = subprocess.run(["objdump", "-d", "-w", "--insn-width=16", f"--start-address={start}",
                          f"--stop-address={start + size}", binary],
                         capture_output=True, text=True, check=True).stdout
    insns = []
    for line in out.splitlines():
        m = INSN.match(line)
        if m:
            ops = re.sub(r"\s*[#<].*$", "", m.group(4)).strip()
            insns.append((int(m.group(1), 16), m.group(2).split(), m.group(3), ops))
    return insns


def emulated(raw, mnem, ops):
    if mnem in ("bnd", "notrack", "lock", "rep", "repz", "repnz", "cs", "ds"):
        return False
    if mnem.startswith("push") and ops.startswith("%"):
        return len(raw) == 1 or (len(raw) == 2 and raw[0] == "41")
    if mnem.startswith("nop") or (mnem == "xchg" and ops == "%ax,%ax"):
        return raw[0] not in ("2e", "3e", "26", "36", "f0")
    if mnem.startswith("j") or mnem.startswith("call"):
        return "*" not in ops and raw[0] != "66"
    return False


def branches(mnem):
    return mnem.startswith("j") or mnem.startswith("call") or mnem.startswith("ret") or \
        mnem in ("syscall", "ud2", "hlt", "int3")


IMPLICIT = {  # registers written without being named, by mnemonic prefix (objdump's spelling)
    "clt": {"rax", "rdx"}, "cqto": {"rax", "rdx"}, "cpuid": {"rax", "rdx"},
    "rdtsc": {"rax", "rdx"}, "mul": {"rax", "rdx"}, "div": {"rax", "rdx"},
    "idiv": {"rax", "rdx"}, "stos": {"rdi", "rcx"}, "movs": {"rdi", "rsi", "rcx"},
    "rep": {"rdi", "rsi", "rcx"}, "pop": set(),
}


def writes(mnem, ops, family):
    """Whether the instruction writes a register of `family` (rdi: rdi, edi, di, dil)."""
    if mnem.startswith(("push", "test", "cmp", "bt", "nop")):
        return False
    for prefix, regs in IMPLICIT.items():
        if mnem.startswith(prefix) and any(r in family for r in regs):
            return True
    named = re.findall(r"%(\w+)", ops)
    if mnem.startswith(("xchg", "xadd", "cmpxchg")):
        return any(r in family for r in named)
    last = ops.rsplit(",", 1)[-1].strip()
    return last.startswith("%") and last[1:] in family


def expected_offset(binary, site, needs):
    start, size = int(site["address"], 16), site["size"]
    insns = objdump(binary, start, size)
    if not insns:
        fail(f"objdump shows no code at {site['address']} ({site['symbol']})")
    targets = set()
    for addr, raw, mnem, ops in insns:
        if (mnem.startswith("j") or mnem.startswith("call")) and "*" not in ops:
            m = re.match(r"^([0-9a-f]+)$", ops.split()[0] if ops else "")
            if m:
                targets.add(int(m.group(1), 16))
    fams = [FAMILIES[n] for n in needs]
    if emulated(insns[0][1], insns[0][2], insns[0][3]):
        return 0, insns[0][2]
    for i, (addr, raw, mnem, ops) in enumerate(insns[:SCAN_MAX]):
        if i and addr in targets:
            return 0, insns[0][2]
        if i and emulated(raw, mnem, ops):
            return addr - start, mnem
        if branches(mnem) or any(writes(mnem, ops, f) for f in fams):
            return 0, insns[0][2]
    return 0, insns[0][2]


def check_binary(args):
    if not os.path.exists(args.binary):
        skip(f"{args.binary} is not installed")
    out = subprocess.run([args.pyobjlife, "probes", "--binary", args.binary, "--format", "json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"pyobjlife probes exited {out.returncode}: {out.stderr}")
    plan = json.loads(out.stdout)
    problems, checked, moved = [], 0, 0
    for hook in plan["hooks"]:
        for site in hook["sites"]:
            pl = site.get("placement")
            if site["source"] != "usdt" and hook["hook"] == "_PyRuntime":
                continue
            if pl is None:
                problems.append(f"{site['symbol']}: no placement")
                continue
            checked += 1
            needs = NEEDS.get(hook["hook"])
            if needs is None:
                want, mnem = 0, None
            else:
                want, mnem = expected_offset(args.binary, site, needs)
            if pl["offset"] != want:
                problems.append(f"{site['symbol']}: placed at +{pl['offset']} "
                                f"({pl['instruction']}), objdump says +{want} ({mnem}); "
                                f"pyobjlife's reason: {pl['reason']}")
            elif mnem and not pl["instruction"].startswith(mnem):
                problems.append(f"{site['symbol']}: +{want} is {mnem} for objdump, "
                                f"{pl['instruction']} for pyobjlife")
            if pl["offset"]:
                moved += 1
                if pl["cost_class"] != "emulated":
                    problems.append(f"{site['symbol']}: moved to a {pl['cost_class']} insn")
    if not checked:
        fail(f"no placed hooks in {args.binary}")
    if problems:
        fail(f"{args.label}: " + "; ".join(problems))
    print(f"PASS: {args.label}: {checked} probe sites placed as objdump's reading says "
          f"({moved} moved past the entry)")


def record(args, placement, out):
    cmd = [args.pyobjlife, "record", "--mode", "full", "--probe-placement", placement, "-o", out]
    rc, stderr, oracle = record_workload([args.python, WORKLOAD], dict(os.environ), cmd)
    if rc != 0:
        fail(f"pyobjlife ({placement}) exited {rc}: {stderr}")
    return oracle, json.load(open(out))


def check_record(args):
    if os.geteuid() != 0:
        skip("needs root (BPF uprobes)")
    if not os.path.exists(args.python):
        skip(f"{args.python} is not installed")
    problems, offsets = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for placement in ("cheapest", "entry"):
            oracle, rec = record(args, placement, os.path.join(tmp, placement + ".json"))
            for want in oracle["sites"]:
                count = sum(s["allocations"] for s in rec["sites"]
                            if s["type"] == want["type"] and s["line"] == want["line"])
                if count != want["allocations"]:
                    problems.append(f"{placement}: {count} {want['type']} allocations at line "
                                    f"{want['line']}, the workload made {want['allocations']}")
            alloc = [p for p in rec["target"]["probes"] if p["hook"] == "alloc"]
            if not alloc or any("placement" not in p for p in alloc):
                problems.append(f"{placement}: the recording does not say where it attached")
                continue
            offsets[placement] = {p["symbol"]: p["placement"]["offset"] for p in alloc}
            if rec["target"]["probe_placement"]["policy"] != placement:
                problems.append(f"{placement}: policy {rec['target']['probe_placement']}")
    if offsets.get("entry") and any(offsets["entry"].values()):
        problems.append(f"entry placement attached off the entry: {offsets['entry']}")
    if problems:
        fail(f"{args.label}: " + "; ".join(problems))
    made = ", ".join(f"{w['allocations']} {w['type']}" for w in oracle["sites"])
    print(f"PASS: {args.label} (CPython {oracle['python']}): {made} counted exactly with the "
          f"probes at {offsets['cheapest']} and at the entry")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--binary", help="check placement against objdump")
    ap.add_argument("--python", help="record with both placements")
    args = ap.parse_args()
    if args.binary:
        check_binary(args)
    else:
        check_record(args)


main()
