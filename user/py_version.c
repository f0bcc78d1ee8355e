// SPDX-License-Identifier: BSD-2-Clause
/* Copyright (c) 2026 The pyobjlife authors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "py_version.h"

int py_version_from_hex(uint64_t hex, struct py_version *v)
{
	static const char levels[16] = { [0xA] = 'a', [0xB] = 'b', [0xC] = 'c', [0xF] = 'f' };
	unsigned level = (hex >> 4) & 0xf;

	if (hex >> 32 || !levels[level] || ((hex >> 24) & 0xff) < 2)
		return -EINVAL;
	v->major = (int)((hex >> 24) & 0xff);
	v->minor = (int)((hex >> 16) & 0xff);
	v->micro = (int)((hex >> 8) & 0xff);
	v->level = levels[level];
	v->serial = (int)(hex & 0xf);
	v->micro_known = true;
	return 0;
}

void py_version_format(const struct py_version *v, char *buf, size_t cap)
{
	static const char *names[] = { ['a'] = "a", ['b'] = "b", ['c'] = "rc" };

	if (!v->micro_known) {
		snprintf(buf, cap, "%d.%d", v->major, v->minor);
		return;
	}
	if (v->level == 'f' || !v->level)
		snprintf(buf, cap, "%d.%d.%d", v->major, v->minor, v->micro);
	else
		snprintf(buf, cap, "%d.%d.%d%s%d", v->major, v->minor, v->micro,
			 names[(unsigned char)v->level], v->serial);
}

int py_version_parse(const char *s, struct py_version *v)
{
	char *end;
	long x;

	memset(v, 0, sizeof(*v));
	x = strtol(s, &end, 10);
	if (end == s || *end != '.' || x < 2 || x > 9)
		return -EINVAL;
	v->major = (int)x;
	s = end + 1;
	x = strtol(s, &end, 10);
	if (end == s || x < 0 || x > 99)
		return -EINVAL;
	v->minor = (int)x;
	v->level = 'f';
	if (*end != '.')
		return *end ? -EINVAL : 0;
	s = end + 1;
	x = strtol(s, &end, 10);
	if (end == s || x < 0 || x > 99)
		return -EINVAL;
	v->micro = (int)x;
	v->micro_known = true;
	if (*end == 0)
		return 0;
	if (end[0] == 'r' && end[1] == 'c') {
		v->level = 'c';
		end += 2;
	} else if (end[0] == 'a' || end[0] == 'b') {
		v->level = end[0];
		end += 1;
	} else {
		return -EINVAL;
	}
	v->serial = (int)strtol(end, &end, 10);
	return *end == 0 || *end == '+' ? 0 : -EINVAL;
}

bool py_version_supported(const struct py_version *v)
{
	return v->major == 3 && v->minor >= 8 && v->minor <= 13;
}
