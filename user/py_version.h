/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
/* CPython version numbers and PY_VERSION_HEX decoding. */
#ifndef PYOBJLIFE_PY_VERSION_H
#define PYOBJLIFE_PY_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct py_version {
	int major, minor, micro;
	char level; /* 'a', 'b', 'c' (rc) or 'f' (final) */
	int serial;
	bool micro_known; /* false when only the file name told us major.minor */
};

/* Decode PY_VERSION_HEX (major<<24 | minor<<16 | micro<<8 | level<<4 | serial). */
int py_version_from_hex(uint64_t hex, struct py_version *v);
/* "3.12.1", "3.13.0rc1", or "3.9" when the micro version is unknown. */
void py_version_format(const struct py_version *v, char *buf, size_t cap);
/* Parse "3.10.13" (and the "3.10" prefix alone); 0 or -EINVAL. */
int py_version_parse(const char *s, struct py_version *v);
/* Whether pyobjlife has layouts for this version (3.8 to 3.13). */
bool py_version_supported(const struct py_version *v);

#endif
