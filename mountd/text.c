/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "text.h"

#define TEXT_MIN 256

struct sdfs_text *sdfs_text_new(void)
{
	struct sdfs_text *t = g_try_new0(struct sdfs_text, 1);
	if (!t)
		return NULL;
	t->str = g_try_malloc(TEXT_MIN);
	if (!t->str) {
		g_free(t);
		return NULL;
	}
	t->str[0] = '\0';
	t->cap = TEXT_MIN;
	return t;
}

void sdfs_text_free(struct sdfs_text *t)
{
	if (t) {
		g_free(t->str);
		g_free(t);
	}
}

char *sdfs_text_steal(struct sdfs_text *t)
{
	char *s = t->str;
	g_free(t);
	return s;
}

void sdfs_text_truncate(struct sdfs_text *t, size_t len)
{
	if (len < t->len) {
		t->len = len;
		t->str[len] = '\0';
	}
	t->failed = false;
}

/* Room for n more bytes and the NUL. */
static bool reserve(struct sdfs_text *t, size_t n)
{
	if (t->failed)
		return false;
	if (t->len + n + 1 <= t->cap)
		return true;
	size_t cap = t->cap;
	while (cap < t->len + n + 1) {
		if (cap > SIZE_MAX / 2) {
			t->failed = true;
			return false;
		}
		cap *= 2;
	}
	char *s = g_try_realloc(t->str, cap);
	if (!s) {
		t->failed = true;
		return false;
	}
	t->str = s;
	t->cap = cap;
	return true;
}

void sdfs_text_append_len(struct sdfs_text *t, const char *s, size_t n)
{
	if (!reserve(t, n))
		return;
	memcpy(t->str + t->len, s, n);
	t->len += n;
	t->str[t->len] = '\0';
}

void sdfs_text_append(struct sdfs_text *t, const char *s)
{
	sdfs_text_append_len(t, s, strlen(s));
}

void sdfs_text_printf(struct sdfs_text *t, const char *fmt, ...)
{
	char small[128];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		sdfs_text_append_len(t, small, (size_t)n);
		return;
	}
	if (!reserve(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->str + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}
