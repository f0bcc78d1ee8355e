#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The second command of the README: build and run every test through ctest.
# Tests that need root or a missing Python build are reported as skipped.
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure -j 2
