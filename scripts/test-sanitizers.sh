#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The test suite again, built with ASan and UBSan into build-sanitize/ (clang when
# installed, which also builds the libFuzzer targets): the unit and line-table
# tests, every command-line case, the outputs, a representative end-to-end test of
# each kind, and each fuzz target for PYOBJLIFE_FUZZ_SECONDS (default 60).
# Every sanitizer report of every process (pyobjlife run by the Python drivers
# included, whatever exit code they expected) goes to a log directory; any report
# fails the run and is printed. scripts/test.sh runs this after the normal suite.
set -eu
cd "$(dirname "$0")/.."
build=build-sanitize
seconds=${PYOBJLIFE_FUZZ_SECONDS:-60}
# one of each end-to-end kind, none on pyenv 3.12 (benchmarks probe it): USDT and
# launch (gc_exact), sites, lifecycles, the outputs (recorded and from the fixture),
# pprof, the status line, sampled mode, the stack LRU
e2e='gc_exact_debian_3.11_usdt_no_debug_file|gc_exact_launch_pyenv_3.13|alloc_sites_pyenv_3.11'
e2e="$e2e|lifecycle_pyenv_3.10|outputs_recorded_debian_3.11|outputs_fixture_lifecycle"
e2e="$e2e|output_pprof|record_progress|sampled_debian_3.11|alloc_sites_startup_burst_pyenv_3.11"
selected="^(unit_.*|line_table_.*|cli_.*|$e2e)\$"

if command -v clang >/dev/null 2>&1; then
	cc=clang
else
	cc=cc
	echo "test-sanitizers: clang is not installed: sanitizers with $cc, fuzz tests skip"
fi
CC=$cc cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DPYOBJLIFE_SANITIZE=address,undefined -DPYOBJLIFE_FUZZ=ON \
	-DPYOBJLIFE_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$build" -j "$(nproc)"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# tests run pyobjlife as nobody too: they must be able to write their reports
chmod 1777 "$logs"
# halt at the first UB, with its stack; leaks are on (ASan's default on Linux)
export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1"

status=0
cd "$build"
ctest --output-on-failure -j 2 -R "$selected" || status=1
# the fuzzers last and alone (each wants a core for its fixed time), reporting on
# their own output: run_fuzzer.py shows the report with the input that caused it
env -u ASAN_OPTIONS -u UBSAN_OPTIONS ctest --output-on-failure -L fuzz || status=1
if [ -n "$(ls -A "$logs")" ]; then
	echo "test-sanitizers: sanitizer reports:"
	for f in "$logs"/*; do
		echo "==== $f"
		cat "$f"
	done
	status=1
fi
exit $status
