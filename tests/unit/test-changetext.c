/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for mountd/changetext.c: the names of last/changes. */
#include <string.h>

#include <glib.h>

#include "changetext.h"
#include "proc.h"

static uint64_t P;

static void add_runs(struct sdfs_dirtyset *s, const uint64_t (*runs)[2],
		     size_t n)
{
	struct sdfs_vma v = {.start = 0, .end = 1ULL << 40, .path = ""};
	g_strlcpy(v.perms, "rw-p", sizeof(v.perms));
	g_assert_cmpint(sdfs_dirtyset_add_vma(s, &v), ==, 0);
	for (size_t i = 0; i < n; i++)
		g_assert_cmpint(sdfs_dirtyset_add(s, 0, runs[i][0] * P,
						  runs[i][1] * P),
				==, 0);
}

static char *whole(struct sdfs_changetext *t, size_t piece)
{
	GString *g = g_string_new(NULL);
	char buf[128];
	size_t n;
	while ((n = sdfs_changetext_read(t, buf, piece, g->len)) > 0)
		g_string_append_len(g, buf, (gssize)n);
	return g_string_free(g, FALSE);
}

static void test_merge(void)
{
	static const uint64_t a[][2] = {{1, 3}, {10, 11}, {20, 22}};
	static const uint64_t b[][2] = {{0, 1}, {3, 5}, {21 + 2, 24}};
	struct sdfs_dirtyset sa, sb;
	struct sdfs_changetext t;
	sdfs_dirtyset_init(&sa);
	sdfs_dirtyset_init(&sb);
	add_runs(&sa, a, G_N_ELEMENTS(a));
	add_runs(&sb, b, G_N_ELEMENTS(b));
	sdfs_changetext_init(&t, &sa, &sb);
	static const uint64_t want_pages[] = {0, 1, 2, 3, 4, 10, 20, 21, 23};
	GString *want = g_string_new(NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(want_pages); i++)
		g_string_append_printf(want, "%016" G_GINT64_MODIFIER "x\n",
				       (guint64)(want_pages[i] * P));
	g_assert_cmpuint(t.len, ==, want->len);
	for (size_t piece = 1; piece <= 40; piece++) {
		sdfs_changetext_init(&t, &sa, &sb);
		g_autofree char *got = whole(&t, piece);
		g_assert_cmpstr(got, ==, want->str);
	}
	/* random offsets, also backwards */
	for (int i = 0; i < 2000; i++) {
		size_t off = (size_t)g_random_int_range(0, (gint32)want->len + 5);
		size_t sz = (size_t)g_random_int_range(1, 60);
		char buf[64];
		size_t n = sdfs_changetext_read(&t, buf, sz, off);
		size_t exp = off >= want->len ? 0 : MIN(sz, want->len - off);
		g_assert_cmpuint(n, ==, exp);
		g_assert_cmpint(memcmp(buf, want->str + off, n), ==, 0);
	}
	g_string_free(want, TRUE);
	sdfs_dirtyset_free(&sa);
	sdfs_dirtyset_free(&sb);
}

static void test_empty(void)
{
	struct sdfs_dirtyset e;
	struct sdfs_changetext t;
	char buf[8];
	sdfs_dirtyset_init(&e);
	sdfs_changetext_init(&t, &e, &e);
	g_assert_cmpuint(t.len, ==, 0);
	g_assert_cmpuint(sdfs_changetext_read(&t, buf, sizeof(buf), 0), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	P = sdfs_page_size();
	g_test_add_func("/changetext/merge", test_merge);
	g_test_add_func("/changetext/empty", test_empty);
	return g_test_run();
}
