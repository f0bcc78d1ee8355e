# SPDX-License-Identifier: BSD-2-Clause
# bpf_object(NAME SOURCE): compile a CO-RE BPF program with clang, strip its DWARF
# (BTF and .BTF.ext stay: CO-RE needs them) and generate a libbpf skeleton.
# Consumers link the INTERFACE target NAME_skel to get the skeleton header, the
# shared ABI header directory and libbpf.

find_program(BPF_CLANG NAMES clang clang-16 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool REQUIRED)
find_program(BPF_STRIP NAMES llvm-strip llvm-strip-16 llvm-strip-14 REQUIRED)

set(VMLINUX_DIR ${PROJECT_SOURCE_DIR}/vmlinux)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
	set(BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
	set(BPF_TARGET_ARCH arm64)
else()
	message(FATAL_ERROR "pyobjlife: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

# <bpf/usdt.bpf.h> reaches <asm/errno.h>, which lives in the host's multiarch include
# directory; clang -target bpf does not search it. Add the host's system include dirs
# after ours, as libbpf-bootstrap does, parsed from `clang -v -E`.
execute_process(COMMAND ${BPF_CLANG} -v -E -x c /dev/null
	OUTPUT_QUIET ERROR_VARIABLE _clang_v RESULT_VARIABLE _clang_rc)
if(NOT _clang_rc EQUAL 0)
	message(FATAL_ERROR "pyobjlife: ${BPF_CLANG} -v -E failed")
endif()
string(REGEX MATCH "#include <...> search starts here:\n(.*)End of search list" _m "${_clang_v}")
string(REPLACE "\n" ";" _dirs "${CMAKE_MATCH_1}")
set(BPF_SYS_INCLUDES "")
foreach(_d IN LISTS _dirs)
	string(STRIP "${_d}" _d)
	if(_d)
		list(APPEND BPF_SYS_INCLUDES -idirafter ${_d})
	endif()
endforeach()

# ISA v3 for compare-and-swap (the walk scratch's claim); every kernel with bpf_loop has it
set(BPF_CFLAGS -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_${BPF_TARGET_ARCH} -Wall -Werror)

function(bpf_object name src)
	set(obj "${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o")
	set(skel "${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h")
	add_custom_command(OUTPUT ${obj}
		COMMAND ${BPF_CLANG} ${BPF_CFLAGS} -I${VMLINUX_DIR} -I${CMAKE_CURRENT_SOURCE_DIR}
			${BPF_SYS_INCLUDES} -MD -MF ${obj}.d
			-c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
		COMMAND ${BPF_STRIP} -g ${obj}
		DEPFILE ${obj}.d
		DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src} ${VMLINUX_DIR}/vmlinux.h
		COMMENT "BPF ${src}"
		VERBATIM COMMAND_EXPAND_LISTS)
	add_custom_command(OUTPUT ${skel}
		COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
		DEPENDS ${obj}
		COMMENT "skeleton ${name}.skel.h"
		VERBATIM)
	add_custom_target(${name}_skel_gen DEPENDS ${skel})
	add_library(${name}_skel INTERFACE)
	target_include_directories(${name}_skel INTERFACE
		${CMAKE_CURRENT_BINARY_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
	target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
	add_dependencies(${name}_skel ${name}_skel_gen)
endfunction()
