/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pages/, last/, status and errors (sdfs(5): pages/, last/, status, ERRORS). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define P(n) ((guint64)(n) * tl_ps)

static void assert_errno_in(const char *what, int r, int e, const int *ok,
			    gsize n)
{
	if (r >= 0)
		g_error("%s: want failure, got success", what);
	for (gsize i = 0; i < n; i++)
		if (e == ok[i])
			return;
	g_error("%s: unexpected errno %s", what, g_strerror(e));
}

/* Content byte for byte; reads at offsets; EOF at one page. */
static void test_content(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	g_free(wl_cmd(w, "fill a 0 8 11"));
	guint8 *buf = g_malloc(2 * tl_ps);
	for (int i = 0; i < 8; i++) {
		g_autofree char *p = page_path(&fx->m, w->pid, "pages", a + P(i));
		g_assert_cmpint(read_page(p, buf), ==, 0);
		assert_pattern(buf, 11, i);
	}
	g_autofree char *p3 = page_path(&fx->m, w->pid, "pages", a + P(3));
	int fd = open(p3, O_RDONLY);
	g_assert_no_errno(fd);
	g_assert_cmpint(pread(fd, buf, 100, tl_ps - 50), ==, 50);
	for (int i = 0; i < 50; i++)
		g_assert_cmpuint(buf[i], ==, pat_byte(11, 3, tl_ps - 50 + i));
	g_assert_cmpint(pread(fd, buf, 100, tl_ps), ==, 0);
	g_assert_cmpint(pread(fd, buf, 100, 3 * tl_ps), ==, 0);
	g_assert_cmpint(pread(fd, buf, 2 * tl_ps, 0), ==, tl_ps);
	assert_pattern(buf, 11, 3);
	/* live: the same open file sees a later write */
	g_free(wl_cmd(w, "write a 3 12"));
	g_assert_cmpint(pread(fd, buf, tl_ps, 0), ==, tl_ps);
	assert_pattern(buf, 12, 3);
	close(fd);
	g_free(buf);
}

/* A page that is not dirty is not there; mtime of pages/ is now. */
static void test_clean_enoent(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	g_free(wl_cmd(w, "fill a 0 8 1"));
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write a 3 2"));
	struct stat st;
	for (int i = 0; i < 8; i++) {
		g_autofree char *p = page_path(&fx->m, w->pid, "pages", a + P(i));
		int r = stat(p, &st);
		if (i == 3) {
			g_assert_no_errno(r);
			continue;
		}
		g_assert_cmpint(r, ==, -1);
		g_assert_cmpint(errno, ==, ENOENT);
		g_assert_cmpint(open(p, O_RDONLY), ==, -1);
		g_assert_cmpint(errno, ==, ENOENT);
	}
	time_t t0 = time(NULL);
	g_autofree char *p = page_path(&fx->m, w->pid, "pages", a + P(3));
	g_assert_no_errno(stat(p, &st));
	time_t t1 = time(NULL);
	g_assert_cmpint(st.st_mtime, >=, t0 - 1);
	g_assert_cmpint(st.st_mtime, <=, t1 + 1);
}

/* A PROT_NONE page still reads (the daemon uses /proc/PID/mem). */
static void test_prot_none(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 4");
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write a 1 21"));
	g_free(wl_cmd(w, "write a 2 22"));
	g_free(wl_cmd(w, "mprotect a 2 1 none"));
	g_autofree char *got =
		ranges_read_in(&fx->m, w->pid, "dirty_ranges", a, a + P(4));
	g_autofree char *l1 = rline(a + P(1), 1, "rw-p", NULL);
	g_autofree char *l2 = rline(a + P(2), 1, "---p", NULL);
	g_autofree char *want = g_strconcat(l1, l2, NULL);
	g_assert_cmpstr(got, ==, want);
	guint8 buf[65536];
	g_autofree char *p = page_path(&fx->m, w->pid, "pages", a + P(2));
	g_assert_cmpint(read_page(p, buf), ==, 0);
	assert_pattern(buf, 22, 2);
}

/* Before the first clear last/ is empty (cat prints nothing). */
static void test_last_empty(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_free(wl_cmd(w, "map a 4"));
	g_free(wl_cmd(w, "fill a 0 4 1"));
	g_autofree char *ld = mnt_path(&fx->m, w->pid, "last");
	g_autofree char *lr = mnt_path(&fx->m, w->pid, "last/dirty_ranges");
	g_autofree char *lp = mnt_path(&fx->m, w->pid, "last/pages");
	g_autoptr(GPtrArray) e = list_dir(ld);
	g_assert_nonnull(e);
	struct stat st;
	if (stat(lr, &st) < 0) {
		/* an empty directory is empty too */
		g_assert_cmpint(errno, ==, ENOENT);
		g_assert_cmpuint(e->len, ==, 0);
		return;
	}
	gsize len = 1;
	g_autofree char *t = read_text(lr, &len);
	g_assert_nonnull(t);
	g_assert_cmpuint(len, ==, 0);
	g_autoptr(GPtrArray) pages = list_dir(lp);
	g_assert_nonnull(pages);
	g_assert_cmpuint(pages->len, ==, 0);
}

static void parse_time(const char *v, gint64 *sec, gint64 *nsec)
{
	char *end;
	g_assert_nonnull(v);
	g_assert_true(g_ascii_isdigit(v[0]));
	*sec = g_ascii_strtoll(v, &end, 10);
	*nsec = 0;
	if (*end == '.') {
		g_assert_cmpuint(strlen(end + 1), ==, 9);
		*nsec = g_ascii_strtoll(end + 1, &end, 10);
	}
	g_assert_cmpstr(end, ==, "");
}

static guint64 count_of(Fx *fx, pid_t pid, const char *file)
{
	g_autofree char *p = mnt_path(&fx->m, pid, file);
	g_autofree char *t = read_text(p, NULL);
	g_assert_nonnull(t);
	g_autoptr(GArray) r = ranges_parse(t);
	return ranges_count(r);
}

/* last/ = what the clear captured; its pages read live; mtime = clear. */
static void test_last_captured(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	g_free(wl_cmd(w, "fill a 0 8 1"));
	g_free(wl_cmd(w, "pid"));
	g_autofree char *dp = mnt_path(&fx->m, w->pid, "dirty_ranges");
	g_autofree char *lp = mnt_path(&fx->m, w->pid, "last/dirty_ranges");
	g_autofree char *before = read_text(dp, NULL);
	g_assert_nonnull(before);
	do_clear(&fx->m, w->pid);
	g_autofree char *last = read_text(lp, NULL);
	g_assert_cmpstr(last, ==, before);

	g_autoptr(GArray) r = ranges_parse(last);
	g_autoptr(GArray) want = ranges_pages(r);
	g_autofree char *lpd = mnt_path(&fx->m, w->pid, "last/pages");
	g_autoptr(GPtrArray) names = list_dir(lpd);
	g_assert_nonnull(names);
	g_assert_cmpuint(names->len, ==, want->len);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *n = page_name(g_array_index(want, guint64, i));
		g_assert_cmpstr(names->pdata[i], ==, n);
	}

	/* content is live */
	g_free(wl_cmd(w, "write a 2 7"));
	guint8 buf[65536];
	g_autofree char *p2 = page_path(&fx->m, w->pid, "last/pages", a + P(2));
	g_assert_cmpint(read_page(p2, buf), ==, 0);
	assert_pattern(buf, 7, 2);
	g_autofree char *p5 = page_path(&fx->m, w->pid, "last/pages", a + P(5));
	g_assert_cmpint(read_page(p5, buf), ==, 0);
	assert_pattern(buf, 1, 5);

	/* st_mtime of last/pages is the time of the clear */
	g_autoptr(GHashTable) st = read_status(&fx->m, w->pid);
	gint64 sec, nsec;
	parse_time(g_hash_table_lookup(st, "cleared_at"), &sec, &nsec);
	struct stat sb;
	g_assert_no_errno(stat(p5, &sb));
	g_assert_cmpint(sb.st_mtime, ==, sec);

	/* the next clear captures what was written in between */
	do_clear(&fx->m, w->pid);
	g_autofree char *in = ranges_read_in(&fx->m, w->pid,
					     "last/dirty_ranges", a, a + P(8));
	g_autofree char *l = rline(a + P(2), 1, "rw-p", NULL);
	g_assert_cmpstr(in, ==, l);
}

/* A page of last/ that was unmapped since: listed, but gone (ENOENT). */
static void test_last_unmapped(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 4");
	g_free(wl_cmd(w, "fill a 0 4 1"));
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "munmap a"));
	g_autofree char *lpd = mnt_path(&fx->m, w->pid, "last/pages");
	g_autoptr(GPtrArray) names = list_dir(lpd);
	g_assert_nonnull(names);
	g_autofree char *n = page_name(a + P(1));
	g_assert_true(
		g_ptr_array_find_with_equal_func(names, n, g_str_equal, NULL));
	guint8 buf[65536];
	g_autofree char *p = page_path(&fx->m, w->pid, "last/pages", a + P(1));
	g_assert_cmpint(read_page(p, buf), ==, -ENOENT);
	g_autofree char *cur = page_path(&fx->m, w->pid, "pages", a + P(1));
	struct stat sb;
	g_assert_cmpint(stat(cur, &sb), ==, -1);
	g_assert_cmpint(errno, ==, ENOENT);
}

/* status: the keys and their values before and after a clear. */
static void test_status(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_free(wl_cmd(w, "map a 8"));
	g_free(wl_cmd(w, "fill a 0 8 1"));
	g_free(wl_cmd(w, "pid"));
	const char *keys[] = {"pid",	    "backend",	 "epoch",
			      "cleared_at", "frozen_us", "dirty_pages",
			      "last_pages"};
	g_autofree char *pid = g_strdup_printf("%d", w->pid);
	const char *backend = tl_backend_effective(tl_backend);

	for (int round = 0; round < 3; round++) {
		gint64 t0 = g_get_real_time() / G_USEC_PER_SEC;
		if (round > 0) {
			do_clear(&fx->m, w->pid);
			g_free(wl_cmd(w, "write a %d 2", round));
			g_free(wl_cmd(w, "pid")); /* idle again */
		}
		gint64 t1 = g_get_real_time() / G_USEC_PER_SEC;
		guint64 dirty = count_of(fx, w->pid, "dirty_ranges");
		guint64 lastn =
			round ? count_of(fx, w->pid, "last/dirty_ranges") : 0;
		g_autoptr(GHashTable) st = read_status(&fx->m, w->pid);
		for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
			if (!g_hash_table_contains(st, keys[i]))
				g_error("status has no '%s'", keys[i]);
		g_assert_cmpstr(g_hash_table_lookup(st, "pid"), ==, pid);
		g_assert_cmpstr(g_hash_table_lookup(st, "backend"), ==,
				backend);
		g_autofree char *ep = g_strdup_printf("%d", round);
		g_assert_cmpstr(g_hash_table_lookup(st, "epoch"), ==, ep);
		gint64 sec, nsec;
		parse_time(g_hash_table_lookup(st, "cleared_at"), &sec, &nsec);
		if (round == 0) {
			g_assert_cmpint(sec, ==, 0);
			g_assert_cmpint(nsec, ==, 0);
		} else {
			g_assert_cmpint(sec, >=, t0);
			g_assert_cmpint(sec, <=, t1);
		}
		const char *fz = g_hash_table_lookup(st, "frozen_us");
		char *end;
		g_assert_true(g_ascii_isdigit(fz[0]));
		g_ascii_strtoull(fz, &end, 10);
		g_assert_cmpstr(end, ==, "");
		g_autofree char *ds =
			g_strdup_printf("%" G_GUINT64_FORMAT, dirty);
		g_assert_cmpstr(g_hash_table_lookup(st, "dirty_pages"), ==, ds);
		g_autofree char *ls =
			g_strdup_printf("%" G_GUINT64_FORMAT, lastn);
		g_assert_cmpstr(g_hash_table_lookup(st, "last_pages"), ==, ls);
	}
}

/* Writes to read-only files fail (EROFS/EPERM, or EACCES at open). */
static void test_read_only(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 4");
	g_free(wl_cmd(w, "fill a 0 4 1"));
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write a 0 2"));
	g_autofree char *pn = page_name(a);
	g_autofree char *pg = g_strdup_printf("pages/%s", pn);
	g_autofree char *lpg = g_strdup_printf("last/pages/%s", pn);
	const char *files[] = {"dirty_ranges", "status", "last/dirty_ranges",
			       pg, lpg};
	const int ok[] = {EROFS, EPERM, EACCES};
	for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *p = mnt_path(&fx->m, w->pid, files[i]);
		g_autofree char *before = read_text(p, NULL);
		g_assert_nonnull(before);
		for (int mode = 0; mode < 2; mode++) {
			int fd = open(p, mode ? O_RDWR : O_WRONLY);
			if (fd < 0) {
				assert_errno_in(p, fd, errno, ok,
						G_N_ELEMENTS(ok));
				continue;
			}
			ssize_t n = write(fd, "1\n", 2);
			int e = errno;
			close(fd);
			assert_errno_in(p, (int)n, e, ok, G_N_ELEMENTS(ok));
		}
	}
	/* nothing can be created, removed or renamed */
	const int ok2[] = {EROFS, EPERM, EACCES, ENOSYS};
	g_autofree char *dir = mnt_path(&fx->m, w->pid, NULL);
	g_autofree char *nf = mnt_path(&fx->m, w->pid, "newfile");
	g_autofree char *rf = g_build_filename(fx->m.mnt, "newfile", NULL);
	g_autofree char *clear = mnt_path(&fx->m, w->pid, "clear");
	g_autofree char *pages = mnt_path(&fx->m, w->pid, "pages");
	int r = open(nf, O_CREAT | O_WRONLY, 0600);
	assert_errno_in("create in PID dir", r, errno, ok2, G_N_ELEMENTS(ok2));
	r = open(rf, O_CREAT | O_WRONLY, 0600);
	assert_errno_in("create in root", r, errno, ok2, G_N_ELEMENTS(ok2));
	r = mkdir(nf, 0700);
	assert_errno_in("mkdir", r, errno, ok2, G_N_ELEMENTS(ok2));
	r = unlink(clear);
	assert_errno_in("unlink clear", r, errno, ok2, G_N_ELEMENTS(ok2));
	r = rmdir(pages);
	assert_errno_in("rmdir pages", r, errno, ok2, G_N_ELEMENTS(ok2));
	r = rmdir(dir);
	assert_errno_in("rmdir PID", r, errno, ok2, G_N_ELEMENTS(ok2));
	r = rename(clear, nf);
	assert_errno_in("rename clear", r, errno, ok2, G_N_ELEMENTS(ok2));
	g_assert_cmpuint(read_epoch(&fx->m, w->pid), ==, 1);
}

/* Names that do not exist give ENOENT at every level. */
static void test_unknown_names(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_free(wl_cmd(w, "map a 4"));
	g_free(wl_cmd(w, "fill a 0 4 1"));
	do_clear(&fx->m, w->pid);
	const char *names[] = {
		"foo",	     "Clear",	     "clear2",	       "dirty",
		"pages2",    "last/foo",     "last/clear",     "last/status",
		"pages/zzz", "pages/0x1000", "last/pages/zzz", "pages/-1",
		"status/x",  "clear/x",	     "last/last",      ".hidden"};
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *p = mnt_path(&fx->m, w->pid, names[i]);
		struct stat st;
		int r = stat(p, &st);
		int e = errno;
		/* below a regular file the kernel answers ENOTDIR itself */
		if (g_str_has_prefix(names[i], "status/") ||
		    g_str_has_prefix(names[i], "clear/")) {
			g_assert_cmpint(r, ==, -1);
			g_assert_cmpint(e, ==, ENOTDIR);
			continue;
		}
		if (r == 0 || e != ENOENT)
			g_error("stat %s: want ENOENT, got %s", p,
				r ? g_strerror(e) : "success");
	}
	g_autofree char *root = g_build_filename(fx->m.mnt, "self", NULL);
	struct stat st;
	g_assert_cmpint(stat(root, &st), ==, -1);
	g_assert_cmpint(errno, ==, ENOENT);
}

void itest_register_pages(void)
{
	itest_add("/pages/content", test_content);
	itest_add("/pages/clean-enoent", test_clean_enoent);
	itest_add("/pages/prot-none", test_prot_none);
	itest_add("/last/empty", test_last_empty);
	itest_add("/last/captured", test_last_captured);
	itest_add("/last/unmapped-eio", test_last_unmapped);
	itest_add("/status/keys", test_status);
	itest_add("/errors/read-only", test_read_only);
	itest_add("/errors/unknown-names", test_unknown_names);
}
