#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Seeds of fuzz_elf_notes, built from seed_python.c into OUTDIR (each a few KiB:
# segments packed on 16 bytes instead of pages, no DWARF):
#   python-3.12        symtab, dynsym, USDT notes and semaphores, build-id, Py_Version,
#                      endbr64 first in every function (probes move past it)
#   python-3.9-lto     the same as 3.9 (collector named collect), one LTO-private name
#   python-by-name     no Py_Version: the version comes from the file name (3.13)
#   python-stripped    .symtab removed: dynsym and notes only
#   python-debug-file  objcopy --only-keep-debug: NOBITS sections, the symbols
#   libpython-3.12.so  a shared object with a DT_SONAME
#   not-python         no CPython symbol at all
set -eu
cc=$1 src=$2 out=$3
rm -rf "$out"
mkdir -p "$out"
tmp=$out/.tmp
mkdir -p "$tmp"
small="-Wl,-z,noseparate-code -Wl,-z,max-page-size=0x10 -Wl,-z,common-page-size=0x10 -Wl,-z,norelro"
build() { # output, extra flags...
	o=$1
	shift
	# shellcheck disable=SC2086
	"$cc" -O1 -fno-omit-frame-pointer -rdynamic -Wl,--build-id=sha1 $small -o "$o" "$src" "$@"
	objcopy --strip-debug --remove-section=.comment "$o"
}
build "$out"/python-3.12 -fcf-protection=full
build "$out"/python-3.9-lto -DPY_VERSION_HEX_SEED=0x030912F0 -DLTO_SEED
build "$out"/python-by-name -DNO_PY_VERSION -DPY_VERSION_HEX_SEED=0x030D00F0
objcopy --strip-all "$out"/python-3.12 "$out"/python-stripped
objcopy --only-keep-debug "$out"/python-3.12 "$out"/python-debug-file
build "$out"/libpython-3.12.so -shared -fPIC -Wl,-soname,libpython3.12.so.1.0
printf 'int main(void) { return 0; }\n' > "$tmp"/tool.c
# shellcheck disable=SC2086
"$cc" -O1 $small -o "$out"/not-python "$tmp"/tool.c
rm -rf "$tmp"
