#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Configure and build into build/ (build/pyobjlife).
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
