#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Install what pyobjlife needs to build and test on Debian 12 (bookworm). Root.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	clang clang-format llvm libclang-rt-dev cmake ninja-build gcc make pkg-config binutils \
	libbpf-dev bpftool libelf-dev zlib1g-dev libjansson-dev libcmocka-dev \
	systemtap-sdt-dev gdb util-linux \
	libcapstone-dev libprotobuf-c-dev protobuf-c-compiler libncurses-dev \
	golang-go chromium libxml2-utils tmux \
	python3 python3.11 python3.11-dbg >/dev/null
