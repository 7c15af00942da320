/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared bits of the fuzz targets. Every target defines
 * LLVMFuzzerTestOneInput, which libFuzzer drives (meson -Dfuzz=true with
 * clang) and replay.c feeds the seed corpus to in every build.
 *
 * A target checks invariants of what the parser returns, not only that it
 * does not crash: CHECK() aborts with the failed condition, which both
 * libFuzzer and the replay runner report as a failure.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A heap copy of exactly size bytes (no NUL after it), so that ASan sees
 * any read past the input. */
static inline char *fuzz_dup_exact(const uint8_t *data, size_t size)
{
	char *p = calloc(size ? size : 1, 1);
	CHECK(p);
	if (size)
		memcpy(p, data, size);
	return p;
}

/* A NUL-terminated heap copy, cut at the first NUL of the input (a file
 * name or C string never holds one). */
static inline char *fuzz_dup_cstr(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t len = nul ? (size_t)(nul - data) : size;
	char *p = malloc(len + 1);
	CHECK(p);
	if (len)
		memcpy(p, data, len);
	p[len] = '\0';
	return p;
}

static inline int fuzz_ishex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static inline unsigned fuzz_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	return (unsigned)(c - 'A' + 10);
}
