/* SPDX-License-Identifier: BSD-2-Clause */
/* Copyright (c) 2026 The pyobjlife authors */
#ifndef PYOBJLIFE_ARRAY_SORT_H
#define PYOBJLIFE_ARRAY_SORT_H

#include <stdlib.h>

/* qsort for arrays that may be empty: qsort's base must not be NULL, even for 0 items. */
static inline void array_sort(void *base, size_t n, size_t size,
			      int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

#endif
