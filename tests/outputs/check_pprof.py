#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The pprof output (`record -o X.pb.gz`) read by `go tool pprof`, the outside reader.

A small program creates known numbers of instances of its own classes in known
functions, one of them below a recursion deeper than --stack-depth. It is
recorded twice with --mode full, once to .pb.gz and once to .json. `go tool
pprof -raw` must list the four sample types (alloc_space the default), the
program's functions at their lines, each site's stack leaf first with the
allocation count the program made and the count and bytes the JSON has for
that stack, the object type as the `type` label, and a root [truncated] frame
on the cut stack; `go tool pprof -top -sample_index=alloc_objects` must show the
allocating function. Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import fail, skip  # noqa: E402

SAMPLE_TYPES = ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                "inuse_space/bytes"]
STACK_DEPTH = 16
NO_LIFECYCLE = "no lifecycle data: inuse_* are zero; record with --mode full"

# Counts the program makes; each site line is marked `# SITE:<type>`.
COUNTS = {"PprofLeaf": 4321, "PprofPair": 1234, "PprofDeep": 77}
WORKLOAD = f"""\
import time


class PprofLeaf:
    pass


class PprofPair:
    __slots__ = ("a", "b")


class PprofDeep:
    pass


kept = []


def make_leaves(n):
    for _ in range(n):
        kept.append(PprofLeaf())  # SITE:PprofLeaf


def outer(n):
    make_leaves(n)


def make_pairs(n):
    for _ in range(n):
        kept.append(PprofPair())  # SITE:PprofPair


def make_deep(n):
    for _ in range(n):
        kept.append(PprofDeep())  # SITE:PprofDeep


def recurse(level, n):
    if level == 0:
        make_deep(n)
    else:
        recurse(level - 1, n)


outer({COUNTS["PprofLeaf"]})
make_pairs({COUNTS["PprofPair"]})
recurse({STACK_DEPTH * 2}, {COUNTS["PprofDeep"]})
time.sleep(0.5)
"""
# leaf first, as pprof lists them; None: any frames (the recursion)
EXPECTED_STACKS = {
    "PprofLeaf": ["make_leaves", "outer", "<module>"],
    "PprofPair": ["make_pairs", "<module>"],
    "PprofDeep": None,
}

SAMPLE_LINE = re.compile(r"^\s+([\d\s]+):\s*([\d ]*)$")
LABEL_LINE = re.compile(r"^\s+(\w+):\[(.*)\]$")
LOCATION_LINE = re.compile(r"^\s+(\d+): 0x[0-9a-f]+ M=\d+ (\S+) (.*):(\d+) s=\d+")


def site_lines(path):
    lines = {}
    with open(path) as f:
        for n, text in enumerate(f, 1):
            m = re.search(r"# SITE:(\w+)", text)
            if m:
                lines[m.group(1)] = n
    return lines


def record(args, workload, out):
    cmd = [args.pyobjlife, "record", "--mode", "full", "--stack-depth", str(STACK_DEPTH),
           "-o", out, "--", args.python, workload]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        fail(f"{' '.join(cmd)} did not finish within 300 s")
    if p.returncode != 0:
        fail(f"pyobjlife exited {p.returncode}: {p.stderr.strip()}")


def go_env(tmp):
    """go wants a writable HOME and build cache; CI may have neither."""
    env = dict(os.environ)
    for var in ("HOME", "GOCACHE", "GOPATH"):
        env[var] = os.path.join(tmp, "go-" + var.lower())
        os.makedirs(env[var], exist_ok=True)
    return env


def pprof(env, *args):
    p = subprocess.run(["go", "tool", "pprof"] + list(args), capture_output=True, text=True,
                       env=env, timeout=300)
    if p.returncode != 0:
        fail(f"go tool pprof {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def parse_raw(text):
    """go tool pprof -raw: (header, comments, samples, locations). A sample is
    (values, location ids leaf first, labels); a location id maps to
    (function, file, line)."""
    lines = text.splitlines()
    comments = [ln[len("Comment: "):] for ln in lines if ln.startswith("Comment: ")]
    try:
        start = lines.index("Samples:")
        end = lines.index("Locations")
    except ValueError:
        fail(f"go tool pprof -raw printed no Samples/Locations sections:\n{text[:2000]}")
    header = lines[start + 1].split()
    samples = []
    for ln in lines[start + 2:end]:
        m = SAMPLE_LINE.match(ln)
        if m:
            samples.append(([int(v) for v in m.group(1).split()],
                            [int(i) for i in m.group(2).split()], {}))
            continue
        m = LABEL_LINE.match(ln)
        if m and samples:
            samples[-1][2][m.group(1)] = m.group(2)
    locations = {}
    for ln in lines[end + 1:]:
        if ln.startswith("Mappings"):
            break
        m = LOCATION_LINE.match(ln)
        if m:
            locations[int(m.group(1))] = (m.group(2), m.group(3), int(m.group(4)))
    return header, comments, samples, locations


def json_site(rec, workload, type_name, line):
    """The JSON stacks of one site: leaf frame in the workload at `line`."""
    return [s for s in rec["stacks"] if s["type"] == type_name and s["frames"]
            and s["frames"][-1]["file"] == workload and s["frames"][-1]["line"] == line]


def check_header(header, comments, lifecycle, problems):
    plain = [h.replace("[dflt]", "") for h in header]
    if plain != SAMPLE_TYPES:
        problems.append(f"sample types {header}, expected {SAMPLE_TYPES}")
    if "alloc_space/bytes[dflt]" not in header:
        problems.append(f"alloc_space is not the default sample type: {header}")
    if not lifecycle and NO_LIFECYCLE not in comments:
        problems.append(f"no comment saying the inuse values are zero: {comments}")


def check_site(name, line, workload, rec, raw, problems):
    _, _, samples, locations = raw
    ours = []
    for values, ids, labels in samples:
        if labels.get("type") != name or not ids or ids[0] not in locations:
            continue
        fn, path, ln = locations[ids[0]]
        if path == workload and ln == line:
            ours.append((values, [locations.get(i) for i in ids]))
    if not ours:
        problems.append(f"{name}: no sample with type:[{name}] and leaf {workload}:{line}")
        return
    objects = sum(v[0] for v, _ in ours)
    space = sum(v[1] for v, _ in ours)
    in_json = json_site(rec, workload, name, line)
    if objects != COUNTS[name]:
        problems.append(f"{name}: pprof alloc_objects {objects}, the program made "
                        f"{COUNTS[name]}")
    if objects != sum(s["allocations"] for s in in_json):
        problems.append(f"{name}: pprof alloc_objects {objects}, the JSON has "
                        f"{sum(s['allocations'] for s in in_json)}")
    if space != sum(s["bytes"] for s in in_json):
        problems.append(f"{name}: pprof alloc_space {space}, the JSON has "
                        f"{sum(s['bytes'] for s in in_json)} bytes")
    for values, frames in ours:
        funcs = [f[0] if f else None for f in frames]
        want = EXPECTED_STACKS[name]
        if want is not None and funcs != want:
            problems.append(f"{name}: stack {funcs} (leaf first), expected {want}")
        if want is None and (funcs[-1] != "[truncated]" or funcs[1] != "recurse"):
            problems.append(f"{name}: the stack cut at --stack-depth {STACK_DEPTH} should "
                            f"end in a root [truncated] frame above recurse: {funcs}")
        if values[2] > values[0] or values[3] > values[1]:
            problems.append(f"{name}: more in use than allocated: {values}")


def check_inuse(rec, raw, lifecycle, problems):
    _, _, samples, _ = raw
    if lifecycle:
        return
    nonzero = [v for v, _, _ in samples if v[2] or v[3]]
    if nonzero:
        problems.append(f"the recording has no lifecycle data but inuse values are not 0: "
                        f"{nonzero[:3]}")


def check_top(env, pb, problems):
    top = pprof(env, "-top", "-sample_index=alloc_objects", pb)
    if "Type: alloc_objects" not in top:
        problems.append(f"-top -sample_index=alloc_objects did not select it:\n{top[:500]}")
    rows = [ln.split() for ln in top.splitlines()]
    leaves = [r for r in rows if r and r[-1] == "make_leaves"]
    if not leaves or int(leaves[0][0]) < COUNTS["PprofLeaf"]:
        problems.append(f"-top does not show make_leaves with at least "
                        f"{COUNTS['PprofLeaf']} objects:\n{top[:1500]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyobjlife", required=True)
    ap.add_argument("--python", required=True)
    args = ap.parse_args()
    if not shutil.which("go"):
        skip("go is not installed (Debian golang-go): no go tool pprof to read the profile")
    if os.geteuid() != 0:
        skip("needs root (BPF uprobes)")
    if not os.path.exists(args.python):
        skip(f"{args.python} is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        workload = os.path.join(tmp, "pprof_workload.py")
        with open(workload, "w") as f:
            f.write(WORKLOAD)
        pb, js = os.path.join(tmp, "rec.pb.gz"), os.path.join(tmp, "rec.json")
        record(args, workload, pb)
        record(args, workload, js)
        rec = json.load(open(js))
        lifecycle = any("alive_at_end" in s for s in rec["stacks"])
        env = go_env(tmp)
        raw = parse_raw(pprof(env, "-raw", pb))
        problems = []
        check_header(raw[0], raw[1], lifecycle, problems)
        functions = {loc[0] for loc in raw[3].values()}
        for fn in ("make_leaves", "outer", "make_pairs", "make_deep", "recurse"):
            if fn not in functions:
                problems.append(f"function {fn} is not among the profile's locations")
        for name, line in site_lines(workload).items():
            check_site(name, line, workload, rec, raw, problems)
        check_inuse(rec, raw, lifecycle, problems)
        check_top(env, pb, problems)
        if problems:
            fail("; ".join(problems[:12]))
        print(f"PASS: go tool pprof read {len(raw[2])} samples, {len(raw[3])} locations; "
              f"{', '.join(f'{n} {c}' for n, c in COUNTS.items())} allocations as made and "
              f"as in the JSON")


main()
