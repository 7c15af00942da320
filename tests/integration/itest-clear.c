/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clear and dirty_ranges (sdfs(5): dirty_ranges, clear): epochs, input, exact lines. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

#define P(n) ((guint64)(n) * tl_ps)

static char *lines2(char *a, char *b)
{
	char *r = g_strconcat(a, b, NULL);
	g_free(a);
	g_free(b);
	return r;
}

/* Epoch 0: every present page counts; unpopulated and zero pages do not. */
static void test_epoch0(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 16");
	for (int i = 0; i < 3; i++)
		g_free(wl_cmd(w, "write a %d 1", i));
	g_free(wl_cmd(w, "write a 7 1"));
	g_free(wl_cmd(w, "read a 10")); /* zero page */
	g_assert_cmpuint(read_epoch(&fx->m, w->pid), ==, 0);
	g_autofree char *got =
		ranges_read_in(&fx->m, w->pid, "dirty_ranges", a, a + P(16));
	g_autofree char *want = lines2(rline(a, 3, "rw-p", NULL),
				       rline(a + P(7), 1, "rw-p", NULL));
	g_assert_cmpstr(got, ==, want);
}

/* "1", "4", with or without newline, each end one epoch. */
static void test_epoch_counter(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *p = mnt_path(&fx->m, w->pid, "clear");
	const char *good[] = {"1", "4", "1\n", "4\n"};
	g_assert_cmpuint(read_epoch(&fx->m, w->pid), ==, 0);
	for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
		int r = tl_write_text(p, good[i], strlen(good[i]));
		if (r < 0)
			g_error("write '%s' to clear: %s",
				g_strescape(good[i], NULL), g_strerror(-r));
		g_assert_cmpuint(read_epoch(&fx->m, w->pid), ==, i + 1);
	}
	g_autofree char *t = read_text(p, NULL);
	g_assert_cmpstr(t, ==, "4\n");
	/* one open, two writes: two epochs */
	int fd = open(p, O_WRONLY);
	g_assert_no_errno(fd);
	g_assert_cmpint(write(fd, "1", 1), ==, 1);
	g_assert_cmpint(write(fd, "4\n", 2), ==, 2);
	close(fd);
	g_assert_cmpuint(read_epoch(&fx->m, w->pid), ==, 6);
}

/* Anything else is EINVAL and clears nothing. */
static void test_invalid(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 4");
	g_free(wl_cmd(w, "fill a 0 4 1"));
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write a 1 2"));
	g_autofree char *p = mnt_path(&fx->m, w->pid, "clear");
	g_autofree char *lp = mnt_path(&fx->m, w->pid, "last/dirty_ranges");
	g_autofree char *last0 = read_text(lp, NULL);
	g_autofree char *want = rline(a + P(1), 1, "rw-p", NULL);
	static const struct {
		const char *s;
		gsize len;
	} bad[] = {
		{"0", 1},    {"2", 1},	      {"11", 2},  {"1 ", 2},
		{" 1", 2},   {"41", 2},	      {"14", 2},  {"1\n\n", 3},
		{"\n", 1},   {"1\r\n", 3},    {"one", 3}, {"1\0", 2},
		{"\x01", 1}, {"\xff\xfe", 2}, {"-1", 2},  {"+1", 2},
		{"01", 2},   {"4 \n", 3},
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		int r = tl_write_text(p, bad[i].s, bad[i].len);
		if (r != -EINVAL)
			g_error("write '%s' to clear: want EINVAL, got %s",
				g_strescape(bad[i].s, NULL),
				r ? g_strerror(-r) : "success");
		g_assert_cmpuint(read_epoch(&fx->m, w->pid), ==, 1);
	}
	/* a zero-length write changes nothing */
	g_assert_cmpint(tl_write_text(p, "", 0), ==, 0);
	g_assert_cmpuint(read_epoch(&fx->m, w->pid), ==, 1);
	g_autofree char *got =
		ranges_read_in(&fx->m, w->pid, "dirty_ranges", a, a + P(4));
	g_assert_cmpstr(got, ==, want);
	g_autofree char *last1 = read_text(lp, NULL);
	g_assert_cmpstr(last1, ==, last0);
}

/* The README's own command: echo 1 > clear (O_TRUNC through the shell). */
static void test_shell_echo(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	g_autofree char *sh = g_find_program_in_path("sh");
	if (!sh) {
		g_test_skip("sh not found in PATH");
		return;
	}
	Workload *w = fx_workload(fx);
	g_autofree char *p = mnt_path(&fx->m, w->pid, "clear");
	g_autofree char *qp = g_shell_quote(p);
	g_autofree char *script =
		g_strdup_printf("echo 1 > %s && echo 4 > %s", qp, qp);
	const char *argv[] = {sh, "-c", script, NULL};
	g_autofree char *out = NULL, *err = NULL;
	int status;
	g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
				   G_SPAWN_CLOEXEC_PIPES, NULL, NULL, &out,
				   &err, &status, NULL));
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("sh -c '%s' failed: %s", script, err);
	g_assert_cmpuint(read_epoch(&fx->m, w->pid), ==, 2);
}

/* After a clear: exact lines for pages 3,4,5 and 9 of a region. */
static void test_exact_ranges(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 16"); /* populated before the clear */
	guint64 b = wl_addr(w, "map b 16"); /* never populated before */
	g_free(wl_cmd(w, "fill a 0 16 1"));
	g_assert_cmpuint(do_clear(&fx->m, w->pid), ==, 1);
	int idx[] = {3, 4, 5, 9};
	for (gsize i = 0; i < G_N_ELEMENTS(idx); i++) {
		g_free(wl_cmd(w, "write a %d 2", idx[i]));
		g_free(wl_cmd(w, "write b %d 3", idx[i]));
	}
	guint64 base[] = {a, b};
	unsigned byte[] = {2, 3};
	for (int r = 0; r < 2; r++) {
		g_autofree char *got =
			ranges_read_in(&fx->m, w->pid, "dirty_ranges", base[r],
				       base[r] + P(16));
		g_autofree char *want =
			lines2(rline(base[r] + P(3), 3, "rw-p", NULL),
			       rline(base[r] + P(9), 1, "rw-p", NULL));
		g_assert_cmpstr(got, ==, want);
		for (gsize i = 0; i < G_N_ELEMENTS(idx); i++) {
			g_autofree char *n = page_name(base[r] + P(idx[i]));
			g_autofree char *rel = g_strdup_printf("pages/%s", n);
			g_autofree char *p = mnt_path(&fx->m, w->pid, rel);
			guint8 buf[65536];
			g_assert_cmpint(read_page(p, buf), ==, 0);
			assert_pattern(buf, byte[r], idx[i]);
		}
	}
}

/* Runs never cross a mapping boundary: same pages, two permissions. */
static void test_boundaries(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "fill a 0 8 4"));
	g_free(wl_cmd(w, "mprotect a 4 4 r"));
	g_autofree char *got =
		ranges_read_in(&fx->m, w->pid, "dirty_ranges", a, a + P(8));
	g_autofree char *want = lines2(rline(a, 4, "rw-p", NULL),
				       rline(a + P(4), 4, "r--p", NULL));
	g_assert_cmpstr(got, ==, want);
}

/* PATH: empty for anonymous, [heap], files, shared, named anonymous. */
static void test_paths(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *pf = g_build_filename(fx->tmp, "private", NULL);
	g_autofree char *sf = g_build_filename(fx->tmp, "shared", NULL);
	guint64 a = wl_addr(w, "map a 4");
	guint64 h = wl_addr(w, "heap h 6");
	guint64 f = wl_addr(w, "map f 4 file %s", pf);
	guint64 s = wl_addr(w, "map s 4 shared-file %s", sf);
	guint64 sa = wl_addr(w, "map sa 4 shared-anon");
	guint64 n = wl_addr(w, "map n 4");
	g_autofree char *named = wl_try(w, "name n sdfs-itest");
	const char *regs[] = {"a", "h", "f", "s", "sa", "n"};
	for (gsize i = 0; i < G_N_ELEMENTS(regs); i++)
		g_free(wl_cmd(w, "fill %s 0 4 1", regs[i]));
	do_clear(&fx->m, w->pid);
	for (gsize i = 0; i < G_N_ELEMENTS(regs); i++)
		g_free(wl_cmd(w, "write %s 2 7", regs[i]));

	char rpf[PATH_MAX], rsf[PATH_MAX];
	g_assert_nonnull(realpath(pf, rpf));
	g_assert_nonnull(realpath(sf, rsf));
	/* a shared anonymous mapping is named by the kernel ("/dev/zero
	 * (deleted)"): take the name from maps */
	g_autofree char *maps_p = g_strdup_printf("/proc/%d/maps", w->pid);
	g_autofree char *maps = NULL;
	g_assert_true(g_file_get_contents(maps_p, &maps, NULL, NULL));
	g_autofree char *key = g_strdup_printf("%" G_GINT64_MODIFIER "x-", sa);
	char *line = strstr(maps, key);
	g_assert_nonnull(line);
	char *eol = strchr(line, '\n');
	g_autofree char *ml = g_strndup(line, eol - line);
	g_auto(GStrv) mf = g_strsplit_set(ml, " ", 6);
	g_assert_cmpuint(g_strv_length(mf), ==, 6);
	g_autofree char *sa_name = g_strdup(g_strchug(mf[5]));

	struct {
		guint64 base;
		const char *perms, *path;
	} want[] = {
		{a, "rw-p", NULL},     {h, "rw-p", "[heap]"},
		{f, "rw-p", rpf},      {s, "rw-s", rsf},
		{sa, "rw-s", sa_name}, {n, "rw-p", "[anon:sdfs-itest]"},
	};
	for (gsize i = 0; i < G_N_ELEMENTS(want); i++) {
		if (!strcmp(regs[i], "n") && strcmp(named, "ok")) {
			g_test_message("no named anonymous mappings here: %s",
				       named);
			continue;
		}
		guint64 base = want[i].base;
		g_autofree char *got = ranges_read_in(
			&fx->m, w->pid, "dirty_ranges", base, base + P(4));
		g_autofree char *exp =
			rline(base + P(2), 1, want[i].perms, want[i].path);
		g_assert_cmpstr(got, ==, exp);
		g_autofree char *pn = page_name(base + P(2));
		g_autofree char *rel = g_strdup_printf("pages/%s", pn);
		g_autofree char *pp = mnt_path(&fx->m, w->pid, rel);
		guint8 buf[65536];
		g_assert_cmpint(read_page(pp, buf), ==, 0);
		assert_pattern(buf, 7, 2);
	}
}

/* dirty_ranges is rendered at open: one open, one consistent text. */
static void test_open_once(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	g_free(wl_cmd(w, "fill a 0 8 1"));
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write a 1 2"));
	g_autofree char *p = mnt_path(&fx->m, w->pid, "dirty_ranges");
	int fd = open(p, O_RDONLY);
	g_assert_no_errno(fd);
	char first[10];
	g_assert_cmpint(read(fd, first, sizeof(first)), ==, sizeof(first));
	g_free(wl_cmd(w, "write a 5 2")); /* after the open */
	GString *s = g_string_new_len(first, sizeof(first));
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		g_string_append_len(s, buf, n);
	g_assert_cmpint(n, ==, 0);
	g_autofree char *text = g_string_free(s, FALSE);
	/* pread from 0 again: the same text */
	GString *again = g_string_new(NULL);
	off_t off = 0;
	while ((n = pread(fd, buf, 100, off)) > 0) {
		g_string_append_len(again, buf, n);
		off += n;
	}
	g_autofree char *text2 = g_string_free(again, FALSE);
	close(fd);
	g_assert_cmpstr(text2, ==, text);
	g_autoptr(GArray) r = ranges_parse(text);
	g_autofree char *in = ranges_text_in(text, a, a + P(8));
	g_autofree char *want = rline(a + P(1), 1, "rw-p", NULL);
	g_assert_cmpstr(in, ==, want);
	/* a new open sees the later write */
	g_autofree char *now =
		ranges_read_in(&fx->m, w->pid, "dirty_ranges", a, a + P(8));
	g_autofree char *want2 = lines2(rline(a + P(1), 1, "rw-p", NULL),
					rline(a + P(5), 1, "rw-p", NULL));
	g_assert_cmpstr(now, ==, want2);
}

/*
 * A stopped process stays stopped through clears and writes nothing:
 * its dirty set is empty, which reads as nothing at all.
 */
static void test_stopped_empty(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *tids = wl_cmd(w, "idle 2");
	(void)wl_addr(w, "map a 4");
	g_free(wl_cmd(w, "fill a 0 4 1"));
	g_assert_no_errno(kill(w->pid, SIGSTOP));
	wait_all_threads_state(w->pid, 'T');
	do_clear(&fx->m, w->pid);
	g_assert_true(all_threads_state(w->pid, 'T'));
	do_clear(&fx->m, w->pid);
	g_assert_true(all_threads_state(w->pid, 'T'));
	g_usleep(50000);
	g_assert_true(all_threads_state(w->pid, 'T'));

	g_autofree char *p = mnt_path(&fx->m, w->pid, "dirty_ranges");
	gsize len = 1;
	g_autofree char *t = read_text(p, &len);
	g_assert_nonnull(t);
	g_assert_cmpstr(t, ==, "");
	g_assert_cmpuint(len, ==, 0);
	g_autofree char *pd = mnt_path(&fx->m, w->pid, "pages");
	g_autoptr(GPtrArray) names = list_dir(pd);
	g_assert_nonnull(names);
	g_assert_cmpuint(names->len, ==, 0);
	g_autoptr(GHashTable) st = read_status(&fx->m, w->pid);
	g_assert_cmpstr(g_hash_table_lookup(st, "dirty_pages"), ==, "0");

	g_assert_no_errno(kill(w->pid, SIGCONT));
	g_autofree char *pid = wl_cmd(w, "pid"); /* it runs again */
	g_assert_cmpint(atoi(pid), ==, w->pid);
}

void itest_register_clear(void)
{
	itest_add("/clear/epoch0", test_epoch0);
	itest_add("/clear/epoch-counter", test_epoch_counter);
	itest_add("/clear/invalid", test_invalid);
	itest_add("/clear/shell-echo", test_shell_echo);
	itest_add("/clear/exact-ranges", test_exact_ranges);
	itest_add("/clear/boundaries", test_boundaries);
	itest_add("/clear/paths", test_paths);
	itest_add("/clear/open-once", test_open_once);
	itest_add("/clear/stopped-empty", test_stopped_empty);
}
