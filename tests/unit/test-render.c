/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for mountd/render.c: dirty_ranges lines and status text. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "proc.h"
#include "ranges.h"
#include "render.h"

static uint64_t P;

static char *range(uint64_t start, uint64_t end, const char *perms,
		   const char *path)
{
	struct sdfs_text *s = sdfs_text_new();
	sdfs_render_range(s, start, end, perms, path);
	return sdfs_text_steal(s);
}

/* Literal lines, for the common 4 KiB page size. */
static void test_range_literal_4k(void)
{
	if (P != 4096) {
		g_test_skip("page size is not 4096");
		return;
	}
	static const struct {
		uint64_t s, e;
		const char *perms, *path, *want;
	} cases[] = {
		{0x400000, 0x403000, "r-xp", "/usr/bin/cat",
		 "0000000000400000-0000000000403000 3 r-xp /usr/bin/cat\n"},
		{0x7f2bebb29000, 0x7f2bebb4b000, "rw-p", "",
		 "00007f2bebb29000-00007f2bebb4b000 34 rw-p\n"},
		{0x7f2bebb29000, 0x7f2bebb2a000, "rw-p", NULL,
		 "00007f2bebb29000-00007f2bebb2a000 1 rw-p\n"},
		{0x55ae8fe34000, 0x55ae8fe55000, "rw-p", "[heap]",
		 "000055ae8fe34000-000055ae8fe55000 33 rw-p [heap]\n"},
		{0x7ffc0fabb000, 0x7ffc0fadc000, "rw-p", "[stack]",
		 "00007ffc0fabb000-00007ffc0fadc000 33 rw-p [stack]\n"},
		{0x7f0000000000, 0x7f0000001000, "rw-p", "[anon:my name]",
		 "00007f0000000000-00007f0000001000 1 rw-p [anon:my name]\n"},
		{0x7f0000000000, 0x7f0000002000, "rw-s", "/tmp/a b (deleted)",
		 "00007f0000000000-00007f0000002000 2 rw-s /tmp/a b "
		 "(deleted)\n"},
		{0xffffffffff600000, 0xffffffffff601000, "--xp", "[vsyscall]",
		 "ffffffffff600000-ffffffffff601000 1 --xp [vsyscall]\n"},
		{0x0, 0x1000, "---p", "",
		 "0000000000000000-0000000000001000 1 "
		 "---p\n"},
		{0xABCDE000, 0xABCDF000, "r--s", "/X",
		 "00000000abcde000-00000000abcdf000 1 r--s /X\n"},
		{0x1000, 0x800000001000, "rw-p", "",
		 "0000000000001000-0000800000001000 34359738368 rw-p\n"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *got = range(cases[i].s, cases[i].e,
					     cases[i].perms, cases[i].path);
		g_assert_cmpstr(got, ==, cases[i].want);
	}
}

/* Check one rendered line against sdfs(5)'s dirty_ranges field by field. */
static void check_line(const char *line, size_t len, uint64_t start,
		       uint64_t end, const char *perms, const char *path)
{
	g_assert_cmpuint(len, >=, 16 + 1 + 16 + 1 + 1 + 1 + 4 + 1);
	g_assert_cmpint(line[len - 1], ==, '\n');
	for (int i = 0; i < 33; i++) {
		if (i == 16) {
			g_assert_cmpint(line[i], ==, '-');
			continue;
		}
		/* lowercase hex only */
		g_assert_true(g_ascii_isdigit(line[i]) ||
			      (line[i] >= 'a' && line[i] <= 'f'));
	}
	g_assert_cmphex(g_ascii_strtoull(line, NULL, 16), ==, start);
	g_assert_cmphex(g_ascii_strtoull(line + 17, NULL, 16), ==, end);
	g_assert_cmpint(line[33], ==, ' ');
	char *e;
	uint64_t pages = g_ascii_strtoull(line + 34, &e, 10);
	g_assert_true(g_ascii_isdigit(line[34]));
	g_assert_cmpuint(pages, ==, (end - start) / P);
	g_assert_cmpint(*e, ==, ' ');
	g_assert_cmpmem(e + 1, 4, perms, 4);
	const char *rest = e + 5;
	if (path && *path) {
		g_assert_cmpint(rest[0], ==, ' ');
		g_assert_cmpmem(rest + 1, (size_t)(line + len - 1 - (rest + 1)),
				path, strlen(path));
	} else {
		/* no trailing space for an anonymous mapping without a name */
		g_assert_cmpint(rest[0], ==, '\n');
		g_assert_true(rest == line + len - 1);
	}
}

static void test_range_fields(void)
{
	static const char *const paths[] = {NULL,	   "",
					    "[heap]",	   "[anon:x y]",
					    "/lib/a b.so", "/x (deleted)",
					    "trailing ",   "/dev/shm/x"};
	static const uint64_t starts[] = {0, 0x400000, 0x7f2bebb29000,
					  0xfffffffffff00000};
	for (size_t p = 0; p < G_N_ELEMENTS(paths); p++)
		for (size_t s = 0; s < G_N_ELEMENTS(starts); s++)
			for (uint64_t n = 1; n < 1000; n = n * 7 + 1) {
				uint64_t st = starts[s] & ~(P - 1);
				uint64_t en = st + n * P;
				if (en < st)
					continue;
				g_autofree char *got =
					range(st, en, "rw-s", paths[p]);
				check_line(got, strlen(got), st, en, "rw-s",
					   paths[p]);
			}
}

static void test_dirtyset(void)
{
	struct sdfs_dirtyset s;
	struct sdfs_vma a = {.start = 0x100 * P,
			     .end = 0x110 * P,
			     .perms = "r--p",
			     .path = "/lib/x.so"};
	struct sdfs_vma b = {.start = 0x110 * P,
			     .end = 0x120 * P,
			     .perms = "rw-p",
			     .path = ""};
	struct sdfs_vma c = {.start = 0x200 * P,
			     .end = 0x300 * P,
			     .perms = "rw-p",
			     .path = "[heap]"};

	sdfs_dirtyset_init(&s);
	struct sdfs_text *out = sdfs_text_new();
	sdfs_render_dirtyset(out, &s);
	g_assert_cmpstr(out->str, ==, ""); /* cat of an empty set: nothing */

	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &a), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x10e * P, 0x10f * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 0, 0x10f * P, 0x110 * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &b), ==, 1);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 1, 0x110 * P, 0x111 * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add_vma(&s, &c), ==, 2);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 2, 0x200 * P, 0x201 * P), ==, 0);
	g_assert_cmpint(sdfs_dirtyset_add(&s, 2, 0x2ff * P, 0x300 * P), ==, 0);

	sdfs_render_dirtyset(out, &s);
	g_autofree char *want = g_strdup_printf(
		"%016" PRIx64 "-%016" PRIx64 " 2 r--p /lib/x.so\n"
		"%016" PRIx64 "-%016" PRIx64 " 1 rw-p\n"
		"%016" PRIx64 "-%016" PRIx64 " 1 rw-p [heap]\n"
		"%016" PRIx64 "-%016" PRIx64 " 1 rw-p [heap]\n",
		0x10e * P, 0x110 * P, 0x110 * P, 0x111 * P, 0x200 * P,
		0x201 * P, 0x2ff * P, 0x300 * P);
	g_assert_cmpstr(out->str, ==, want);
	if (P == 4096)
		g_assert_cmpstr(out->str, ==,
				"000000000010e000-0000000000110000 2 r--p "
				"/lib/x.so\n"
				"0000000000110000-0000000000111000 1 rw-p\n"
				"0000000000200000-0000000000201000 1 rw-p "
				"[heap]\n"
				"00000000002ff000-0000000000300000 1 rw-p "
				"[heap]\n");

	sdfs_text_free(out);
	sdfs_dirtyset_free(&s);
}

/* -------------------------------------------------------------- status */

static const char *const status_keys[] = {
	"pid",	     "backend",	    "epoch",	 "cleared_at",
	"frozen_us", "dirty_pages", "last_pages"};

static void check_status_shape(const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==,
			 G_N_ELEMENTS(status_keys) + 1);
	g_assert_cmpstr(lines[G_N_ELEMENTS(status_keys)], ==, "");
	for (size_t i = 0; i < G_N_ELEMENTS(status_keys); i++) {
		g_autofree char *prefix =
			g_strconcat(status_keys[i], ": ", NULL);
		g_assert_true(g_str_has_prefix(lines[i], prefix));
		const char *v = lines[i] + strlen(prefix);
		g_assert_cmpuint(strlen(v), >, 0);
		g_assert_false(g_ascii_isspace(v[strlen(v) - 1]));
	}
}

static void test_status_before_clear(void)
{
	struct sdfs_tracker_info i = {.pid = 1234, .backend = "soft-dirty"};
	struct sdfs_text *s = sdfs_text_new();

	sdfs_render_status(s, &i, 120);
	g_assert_cmpstr(s->str, ==,
			"pid: 1234\n"
			"backend: soft-dirty\n"
			"epoch: 0\n"
			"cleared_at: 0\n"
			"frozen_us: 0\n"
			"dirty_pages: 120\n"
			"last_pages: 0\n");
	check_status_shape(s->str);
	sdfs_text_free(s);
}

static void test_status_after_clear(void)
{
	struct sdfs_tracker_info i = {
		.pid = 4194303,
		.backend = "uffd",
		.epoch = 3,
		.cleared_at = {.tv_sec = 1732212601, .tv_nsec = 123456789},
		.frozen_us = 85,
		.last_pages = 4711,
	};
	struct sdfs_text *s = sdfs_text_new();

	sdfs_render_status(s, &i, UINT64_MAX);
	g_assert_cmpstr(s->str, ==,
			"pid: 4194303\n"
			"backend: uffd\n"
			"epoch: 3\n"
			"cleared_at: 1732212601.123456789\n"
			"frozen_us: 85\n"
			"dirty_pages: 18446744073709551615\n"
			"last_pages: 4711\n");
	check_status_shape(s->str);

	/* nanoseconds are zero-padded to 9 digits */
	static const struct {
		time_t sec;
		long nsec;
		const char *want;
	} ts[] = {
		{1732212601, 5, "cleared_at: 1732212601.000000005\n"},
		{1732212601, 0, "cleared_at: 1732212601.000000000\n"},
		{1732212601, 999999999, "cleared_at: 1732212601.999999999\n"},
		{0, 1, "cleared_at: 0.000000001\n"},
		{1, 0, "cleared_at: 1.000000000\n"},
	};
	for (size_t k = 0; k < G_N_ELEMENTS(ts); k++) {
		sdfs_text_truncate(s, 0);
		i.cleared_at.tv_sec = ts[k].sec;
		i.cleared_at.tv_nsec = ts[k].nsec;
		sdfs_render_status(s, &i, 0);
		g_assert_nonnull(strstr(s->str, ts[k].want));
		check_status_shape(s->str);
	}
	sdfs_text_free(s);
}

/* ------------------------------------------------------- real maps */

/* Every line of the real /proc/self/maps, rendered as a dirty range over
 * its whole mapping, gives back START, END, PERMS and PATH exactly as the
 * kernel printed them, and PAGES = (END-START)/pagesize. */
static void test_self_maps_rerender(void)
{
	g_autofree char *text = NULL;
	struct sdfs_maps m;

	g_assert_true(
		g_file_get_contents("/proc/self/maps", &text, NULL, NULL));
	char *copy = strdup(text);
	g_assert_nonnull(copy);
	g_assert_cmpint(sdfs_maps_parse(copy, &m), ==, 0);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_assert_cmpuint(m.n + 1, ==, g_strv_length(lines));

	GString *all = g_string_new(NULL);
	for (size_t i = 0; i < m.n; i++) {
		const struct sdfs_vma *v = &m.vmas[i];
		struct sdfs_text *one = sdfs_text_new();
		sdfs_render_range(one, v->start, v->end, v->perms, v->path);
		g_string_append(all, one->str);

		/* independently split the kernel's line */
		const char *kl = lines[i];
		char kstart[32], kend[32], kperms[8];
		unsigned long long off, ino;
		unsigned maj, min;
		int n = 0;
		g_assert_cmpint(sscanf(kl,
				       "%31[0-9a-f]-%31[0-9a-f] %7s %llx "
				       "%x:%x %llu%n",
				       kstart, kend, kperms, &off, &maj, &min,
				       &ino, &n),
				==, 7);
		const char *kpath = kl + n;
		while (*kpath == ' ')
			kpath++;

		/* the rendered line, zero-padded to 16 digits */
		g_autofree char *ws = g_strdup_printf("%16s", kstart);
		g_autofree char *we = g_strdup_printf("%16s", kend);
		for (char *c = ws; *c == ' '; c++)
			*c = '0';
		for (char *c = we; *c == ' '; c++)
			*c = '0';
		uint64_t s = g_ascii_strtoull(kstart, NULL, 16);
		uint64_t e = g_ascii_strtoull(kend, NULL, 16);
		g_autofree char *want =
			*kpath ? g_strdup_printf("%s-%s %" PRIu64 " %s %s\n",
						 ws, we, (e - s) / P, kperms,
						 kpath)
			       : g_strdup_printf("%s-%s %" PRIu64 " %s\n", ws,
						 we, (e - s) / P, kperms);
		g_assert_cmpstr(one->str, ==, want);
		check_line(one->str, one->len, s, e, kperms, kpath);
		sdfs_text_free(one);
	}
	/* the concatenation sorts in address order as plain text */
	g_auto(GStrv) rl = g_strsplit(all->str, "\n", -1);
	for (size_t i = 1; rl[i] && *rl[i]; i++)
		g_assert_cmpint(strncmp(rl[i - 1], rl[i], 33), <, 0);
	g_string_free(all, TRUE);
	sdfs_maps_free(&m);

	/* and sdfs_maps_read(getpid()) parses the live file */
	g_assert_cmpint(sdfs_maps_read(getpid(), &m), ==, 0);
	g_assert_cmpuint(m.n, >, 0);
	for (size_t i = 0; i < m.n; i++) {
		g_assert_cmphex(m.vmas[i].start, <, m.vmas[i].end);
		g_assert_cmphex(m.vmas[i].start % P, ==, 0);
		g_assert_cmphex(m.vmas[i].end % P, ==, 0);
		if (i)
			g_assert_cmphex(m.vmas[i - 1].end, <=, m.vmas[i].start);
	}
	sdfs_maps_free(&m);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	P = sdfs_page_size();
	g_test_add_func("/render/range/literal-4k", test_range_literal_4k);
	g_test_add_func("/render/range/fields", test_range_fields);
	g_test_add_func("/render/dirtyset", test_dirtyset);
	g_test_add_func("/render/status/before-clear",
			test_status_before_clear);
	g_test_add_func("/render/status/after-clear", test_status_after_clear);
	g_test_add_func("/render/self-maps", test_self_maps_rerender);
	return g_test_run();
}
