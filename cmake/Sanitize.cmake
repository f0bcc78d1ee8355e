# SPDX-License-Identifier: BSD-2-Clause
# PYOBJLIFE_SANITIZE=address,undefined builds everything (tests included) with those
# sanitizers; scripts/test-sanitizers.sh uses it. UB stops the program at once
# (-fno-sanitize-recover) so that a test sees it as a failure, not as a line in a log;
# frame pointers keep the sanitizers' stack traces whole. The BPF programs are built
# by their own clang command and are not affected.
set(PYOBJLIFE_SANITIZE "" CACHE STRING
	"Comma-separated -fsanitize= list for every target, e.g. address,undefined")
# libFuzzer targets under tests/fuzz (clang only: see tests/fuzz/CMakeLists.txt)
option(PYOBJLIFE_FUZZ "Build the libFuzzer targets and their bounded ctest runs" OFF)

if(PYOBJLIFE_FUZZ AND NOT PYOBJLIFE_SANITIZE)
	# a fuzzer without a sanitizer only finds crashes, not the reads one byte too far
	set(PYOBJLIFE_SANITIZE address,undefined CACHE STRING "" FORCE)
	message(STATUS "pyobjlife: PYOBJLIFE_FUZZ turns on PYOBJLIFE_SANITIZE=address,undefined")
endif()

if(PYOBJLIFE_SANITIZE)
	set(_san -fsanitize=${PYOBJLIFE_SANITIZE})
	add_compile_options(${_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
	add_link_options(${_san})
	message(STATUS "pyobjlife: sanitizers ${PYOBJLIFE_SANITIZE}")
endif()
