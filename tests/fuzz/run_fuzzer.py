# SPDX-License-Identifier: BSD-2-Clause
"""One bounded fuzzing run, as a ctest test: the libFuzzer binary first runs
every seed and every kept regression input, then mutates them for --seconds.
Exit 0 when nothing crashed, leaked, hung or tripped a sanitizer; 1 otherwise,
naming the input that did (libFuzzer writes it under --artifacts). The corpus
directory keeps what the run found, so a later run in the same build tree
starts from there."""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from harness import fail, skip  # noqa: E402

TAIL_LINES = 60  # of libFuzzer's log shown when the run fails


def inputs_in(directory):
    return [p for p in glob.glob(os.path.join(directory, "*")) if os.path.isfile(p)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fuzzer", required=True, help="the libFuzzer binary")
    ap.add_argument("--seconds", type=int, required=True, help="how long to fuzz")
    ap.add_argument("--corpus", required=True, help="where new inputs are kept")
    ap.add_argument("--artifacts", required=True, help="where a crashing input is written")
    ap.add_argument("--seeds", required=True, help="generated seed directory")
    ap.add_argument("--regressions", help="inputs that once crashed (checked in)")
    ap.add_argument("--dict", help="libFuzzer dictionary")
    args = ap.parse_args()

    name = os.path.basename(args.fuzzer)
    if not os.access(args.fuzzer, os.X_OK):
        skip(f"{name}: {args.fuzzer} was not built")
    seeds = inputs_in(args.seeds)
    if not seeds:
        fail(f"{name}: no seeds in {args.seeds}: the run would start blind")
    dirs = [args.corpus, args.seeds]
    regressions = inputs_in(args.regressions) if args.regressions else []
    if regressions:
        dirs.append(args.regressions)
    os.makedirs(args.corpus, exist_ok=True)
    os.makedirs(args.artifacts, exist_ok=True)
    before = set(inputs_in(args.artifacts))
    # exit 1, not libFuzzer's 77 (ctest's skip), should anything run it directly
    cmd = [args.fuzzer, f"-max_total_time={args.seconds}", "-timeout=20", "-error_exitcode=1",
           "-timeout_exitcode=1", "-rss_limit_mb=2048", "-print_final_stats=1",
           f"-artifact_prefix={args.artifacts}/"]
    if args.dict:
        cmd.append(f"-dict={args.dict}")
    cmd += dirs
    print(f"{name}: {len(seeds)} seeds, {len(regressions)} regression inputs, "
          f"{args.seconds}s", flush=True)
    started = time.monotonic()
    # scratch files (fuzz_elf_notes writes its image to one) stay in the build tree,
    # even when a crash leaves them behind
    scratch = os.path.join(args.artifacts, "tmp")
    os.makedirs(scratch, exist_ok=True)
    run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         errors="replace", env=dict(os.environ, TMPDIR=scratch))
    elapsed = time.monotonic() - started
    log = run.stdout.splitlines()
    runs = [int(m.group(1)) for m in map(re.compile(r"stat::number_of_executed_units:\s*(\d+)")
                                         .search, log) if m]
    found = sorted(set(inputs_in(args.artifacts)) - before)
    if run.returncode != 0 or found:
        print("\n".join(log[-TAIL_LINES:]))
        for path in found:
            print(f"crashing input: {path}\n  replay: {args.fuzzer} {path}\n  once fixed, "
                  f"keep it as a regression seed: cp {path} {args.regressions}/")
        fail(f"{name}: exited with {run.returncode} after {elapsed:.0f}s")
    if not runs or runs[-1] == 0:
        print("\n".join(log[-TAIL_LINES:]))
        fail(f"{name}: ran no input")
    corpus = len(inputs_in(args.corpus))
    print("\n".join(line for line in log if line.startswith(("stat::", "Done", "INFO: seed"))))
    print(f"{name}: {runs[-1]} inputs in {elapsed:.0f}s, corpus {corpus}, no crash")


if __name__ == "__main__":
    main()
