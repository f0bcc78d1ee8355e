#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The first command of the README: install dependencies, build, and record the
# bundled example from its first bytecode in full mode (every collection, and
# every allocation by Python stack and type) into out/example.json; a summary
# with the top allocation sites is printed when it finishes. Root.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
# Debian's own python3: stripped, LTO, with USDT probes; PYTHON=... for another
python=${PYTHON:-/usr/bin/python3}
build/pyobjlife record --mode full -o out/example.json -- "$python" examples/gc_churn.py
build/pyobjlife probes --binary "$python" | sed -n '1,4p'
echo "recording: out/example.json"
