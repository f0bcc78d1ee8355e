#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The second command of the README: build and run every test through ctest, then
# the suite's sanitizer subset and the bounded fuzz runs (scripts/test-sanitizers.sh).
# Tests that need root or a missing Python build are reported as skipped.
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
status=0
(cd build && ctest --output-on-failure -j 2) || status=1
scripts/test-sanitizers.sh || status=1
exit $status
