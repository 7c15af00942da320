/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last/ beyond writes: own pages that are dropped or unmapped
 * (last/dropped_ranges), the names to copy or delete (last/changes),
 * the mappings of the clear (last/maps), and captured pages that vanish
 * before they are read.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"

#define P(n) ((guint64)(n) * tl_ps)

/* The names of last/changes within [start, end), one per line. */
static char *changes_in(Fx *fx, pid_t pid, guint64 start, guint64 end)
{
	g_autofree char *p = mnt_path(&fx->m, pid, "last/changes");
	g_autofree char *text = read_text(p, NULL);
	g_assert_nonnull(text);
	GString *g = g_string_new(NULL);
	guint64 prev = 0;
	gboolean first = TRUE;
	for (char *l = text; *l;) {
		char *nl = strchr(l, '\n');
		g_assert_nonnull(nl);
		g_assert_cmpint(nl - l, ==, 16);
		guint64 a = g_ascii_strtoull(l, NULL, 16);
		g_autofree char *back = page_name(a);
		g_assert_cmpint(strncmp(back, l, 16), ==, 0);
		g_assert_true(first || a > prev); /* ascending, no repeats */
		first = FALSE;
		prev = a;
		if (a >= start && a < end)
			g_string_append_printf(g, "%.*s", 17, l);
		l = nl + 1;
	}
	return g_string_free(g, FALSE);
}

/* The names of the pages idx... of a region at a. */
static char *names(guint64 a, const int *idx, gsize n)
{
	GString *g = g_string_new(NULL);
	for (gsize i = 0; i < n; i++) {
		g_autofree char *pn = page_name(a + P(idx[i]));
		g_string_append_printf(g, "%s\n", pn);
	}
	return g_string_free(g, FALSE);
}

/* Dropped and unmapped pages: dropped_ranges and changes of the next
 * clear, with the mapping they were in; never dropped at a first clear. */
static void test_dropped(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	guint64 b = wl_addr(w, "map b 4");
	wl_do(w, "fill a 0 8 1");
	wl_do(w, "fill b 0 4 2");
	do_clear(&fx->m, w->pid);
	g_autofree char *none = ranges_read_in(&fx->m, w->pid,
					       "last/dropped_ranges", 0,
					       UINT64_MAX);
	g_assert_cmpstr(none, ==, "");

	/* pages 2 and 3 of a dropped, page 5 written; b unmapped */
	wl_do(w, "madvise a 2 2 dontneed");
	wl_do(w, "poke a 5 7");
	wl_do(w, "munmap b");
	do_clear(&fx->m, w->pid);
	g_autofree char *da = ranges_read_in(&fx->m, w->pid,
					     "last/dropped_ranges", a, a + P(8));
	g_autofree char *want_a = rline(a + P(2), 2, "rw-p", NULL);
	g_assert_cmpstr(da, ==, want_a);
	g_autofree char *db = ranges_read_in(&fx->m, w->pid,
					     "last/dropped_ranges", b, b + P(4));
	g_autofree char *want_b = rline(b, 4, "rw-p", NULL);
	g_assert_cmpstr(db, ==, want_b);

	/* changes: the written page and the dropped ones, ascending */
	static const int ca[] = {2, 3, 5};
	g_autofree char *got = changes_in(fx, w->pid, a, a + P(8));
	g_autofree char *want = names(a, ca, G_N_ELEMENTS(ca));
	g_assert_cmpstr(got, ==, want);
	static const int cb[] = {0, 1, 2, 3};
	g_autofree char *gotb = changes_in(fx, w->pid, b, b + P(4));
	g_autofree char *wantb = names(b, cb, G_N_ELEMENTS(cb));
	g_assert_cmpstr(gotb, ==, wantb);

	/* a dropped page has no file under last/pages/ */
	for (int i = 2; i < 4; i++) {
		g_autofree char *p = page_path(&fx->m, w->pid, "last/pages", a + P(i));
		struct stat st;
		g_assert_cmpint(stat(p, &st), ==, -1);
		g_assert_cmpint(errno, ==, ENOENT);
	}

	/* nothing happened since: the next clear drops nothing here */
	do_clear(&fx->m, w->pid);
	g_autofree char *again = ranges_read_in(&fx->m, w->pid,
						"last/dropped_ranges", a,
						b + P(4));
	g_assert_cmpstr(again, ==, "");
	g_autofree char *quiet = changes_in(fx, w->pid, a, b + P(4));
	g_assert_cmpstr(quiet, ==, "");
}

/* changes is exactly dirty_ranges + dropped_ranges, read whole or in
 * pieces of any size. */
static void test_changes_pieces(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	wl_addr(w, "map a 64");
	wl_do(w, "fill a 0 64 3");
	do_clear(&fx->m, w->pid);
	wl_do(w, "scribble a 20 7");
	wl_do(w, "madvise a 40 10 dontneed");
	do_clear(&fx->m, w->pid);

	g_autofree char *cp = mnt_path(&fx->m, w->pid, "last/changes");
	gsize len;
	g_autofree char *whole = read_text(cp, &len);
	g_assert_nonnull(whole);
	g_autofree char *dp = mnt_path(&fx->m, w->pid, "last/dirty_ranges");
	g_autofree char *xp = mnt_path(&fx->m, w->pid, "last/dropped_ranges");
	g_autofree char *dt = read_text(dp, NULL);
	g_autofree char *xt = read_text(xp, NULL);
	g_autoptr(GArray) dr = ranges_parse(dt);
	g_autoptr(GArray) xr = ranges_parse(xt);
	g_assert_cmpuint(len, ==, 17 * (ranges_count(dr) + ranges_count(xr)));
	/* every page of both, and nothing else */
	g_autoptr(GArray) pd = ranges_pages(dr);
	g_autoptr(GArray) px = ranges_pages(xr);
	g_autoptr(GHashTable) in = g_hash_table_new(g_int64_hash, g_int64_equal);
	for (guint i = 0; i < pd->len; i++)
		g_hash_table_add(in, &g_array_index(pd, guint64, i));
	for (guint i = 0; i < px->len; i++) {
		/* the two sets are disjoint */
		g_assert_false(g_hash_table_contains(
			in, &g_array_index(px, guint64, i)));
		g_hash_table_add(in, &g_array_index(px, guint64, i));
	}
	g_assert_cmpuint(g_hash_table_size(in), ==, len / 17);
	for (gsize off = 0; off < len; off += 17) {
		guint64 a = g_ascii_strtoull(whole + off, NULL, 16);
		g_assert_true(g_hash_table_contains(in, &a));
	}

	/* its size is true (it is read through the page cache: rsync reads
	 * --files-from one byte at a time), and cp copies all of it */
	struct stat st;
	g_assert_no_errno(stat(cp, &st));
	g_assert_cmpint(st.st_size, ==, (off_t)len);
	g_autofree char *copy = g_build_filename(fx->tmp, "changes", NULL);
	const char *argv[] = {"cp", cp, copy, NULL};
	int status;
	g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
				   G_SPAWN_SEARCH_PATH | G_SPAWN_CLOEXEC_PIPES,
				   NULL, NULL, NULL, NULL, &status, NULL));
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_autofree char *copied = NULL;
	gsize clen;
	g_assert_true(g_file_get_contents(copy, &copied, &clen, NULL));
	g_assert_cmpuint(clen, ==, len);
	g_assert_cmpint(memcmp(copied, whole, len), ==, 0);

	/* pieces of every size from 1 to 40 bytes give the same text */
	for (gsize piece = 1; piece <= 40; piece += 3) {
		int fd = open(cp, O_RDONLY | O_CLOEXEC);
		g_assert_cmpint(fd, >=, 0);
		GString *g = g_string_new(NULL);
		char buf[64];
		ssize_t n;
		while ((n = read(fd, buf, piece)) > 0)
			g_string_append_len(g, buf, n);
		g_assert_cmpint(n, ==, 0);
		close(fd);
		g_assert_cmpuint(g->len, ==, len);
		g_assert_cmpint(memcmp(g->str, whole, len), ==, 0);
		g_string_free(g, TRUE);
	}
	/* and at any offset, backwards */
	int fd = open(cp, O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	for (gsize pos = len; pos-- > 0;) {
		char buf[40];
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)pos);
		g_assert_cmpint(n, ==, (ssize_t)MIN(sizeof(buf), len - pos));
		g_assert_cmpint(memcmp(buf, whole + pos, (size_t)n), ==, 0);
		pos -= MIN(pos, (gsize)96);
	}
	close(fd);

	/* a clear makes another text: size and content follow at once */
	do_clear(&fx->m, w->pid);
	g_assert_no_errno(stat(cp, &st));
	gsize len2;
	g_autofree char *again = read_text(cp, &len2);
	g_assert_nonnull(again);
	g_assert_cmpint(st.st_size, ==, (off_t)len2);
	g_assert_cmpuint(len2 % 17, ==, 0);
	g_assert_true(len2 != len || memcmp(again, whole, len) != 0);
}

/* maps: /proc/PID/maps as it was at the clear; empty before one. */
static void test_maps(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *lm = mnt_path(&fx->m, w->pid, "last/maps");
	g_autofree char *empty = read_text(lm, NULL);
	g_assert_cmpstr(empty, ==, "");
	g_autofree char *cl = mnt_path(&fx->m, w->pid, "last/changes");
	g_autofree char *noch = read_text(cl, NULL);
	g_assert_cmpstr(noch, ==, "");

	wl_addr(w, "map a 4");
	do_clear(&fx->m, w->pid);
	g_autofree char *pm = g_strdup_printf("/proc/%d/maps", (int)w->pid);
	g_autofree char *now = read_text(pm, NULL);
	g_autofree char *at = read_text(lm, NULL);
	g_assert_cmpstr(at, ==, now);
	/* it stays what it was at the clear */
	wl_do(w, "munmap a");
	g_autofree char *later = read_text(lm, NULL);
	g_assert_cmpstr(later, ==, now);
}

/*
 * A captured page that vanished (unmapped, dropped) is listed by readdir
 * (the capture) but gives ENOENT at lookup and open; an open that
 * succeeded reads the content of the open, whatever happens next.
 */
static void test_vanish(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 4");
	wl_do(w, "fill a 0 4 1");
	do_clear(&fx->m, w->pid);

	g_autofree char *p0 = page_path(&fx->m, w->pid, "last/pages", a);
	int fd = open(p0, O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	wl_do(w, "madvise a 1 1 dontneed");
	wl_do(w, "munmap a");

	for (int i = 0; i < 4; i++) {
		g_autofree char *p = page_path(&fx->m, w->pid, "last/pages", a + P(i));
		guint8 buf[65536];
		struct stat st;
		/* (page 0 was looked up for the open above: the kernel may
		 * keep that entry on a one-user mount) */
		if (i > 0) {
			g_assert_cmpint(stat(p, &st), ==, -1);
			g_assert_cmpint(errno, ==, ENOENT);
		}
		g_assert_cmpint(read_page(p, buf), ==, -ENOENT);
	}
	/* still listed (the capture), and still not to be opened (a listing
	 * may let the kernel keep an entry: the open is always asked) */
	g_autofree char *lpd = mnt_path(&fx->m, w->pid, "last/pages");
	g_autoptr(GPtrArray) names_now = list_dir(lpd);
	g_assert_nonnull(names_now);
	for (int i = 0; i < 4; i++) {
		g_autofree char *n = page_name(a + P(i));
		g_assert_true(g_ptr_array_find_with_equal_func(
			names_now, n, g_str_equal, NULL));
		g_autofree char *p = page_path(&fx->m, w->pid, "last/pages", a + P(i));
		guint8 buf[65536];
		g_assert_cmpint(read_page(p, buf), ==, -ENOENT);
	}
	/* the file opened before reads what the page held at its open */
	guint8 buf[65536];
	g_assert_cmpint(pread(fd, buf, tl_ps, 0), ==, (ssize_t)tl_ps);
	assert_pattern(buf, 1, 0);
	close(fd);
}

/* A private file page written, dropped, read again: the file's content
 * is back, the page is no own page any more: dropped at the next clear. */
static void test_private_file_drop(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *fp = g_build_filename(fx->tmp, "data", NULL);
	g_autofree char *content = g_malloc(P(4));
	memset(content, 0x5a, P(4));
	g_assert_true(g_file_set_contents(fp, content, (gssize)P(4), NULL));
	guint64 f = wl_addr(w, "map f 4 file %s", fp);
	wl_do(w, "fill f 0 2 9");
	wl_do(w, "read f 3"); /* the file's page: no own page */
	do_clear(&fx->m, w->pid);
	/* epoch 0 captured the file's pages too (every present page): the
	 * next clear drops them, they are no own pages */
	do_clear(&fx->m, w->pid);
	g_autofree char *fdr = ranges_read_in(&fx->m, w->pid,
					      "last/dropped_ranges", f + P(2),
					      f + P(4));
	g_autoptr(GArray) fr = ranges_parse(fdr);
	g_assert_cmpuint(ranges_count(fr), >=, 1); /* page 3 at least */
	wl_do(w, "madvise f 1 1 dontneed");
	g_autofree char *back = wl_cmd(w, "read f 1");
	g_assert_cmpstr(back, ==, "90"); /* 0x5a */
	do_clear(&fx->m, w->pid);
	g_autofree char *dr = ranges_read_in(&fx->m, w->pid,
					     "last/dropped_ranges", f, f + P(4));
	g_autofree char *want = rline(f + P(1), 1, "rw-p", fp);
	g_assert_cmpstr(dr, ==, want);
	static const int ch[] = {1};
	g_autofree char *got = changes_in(fx, w->pid, f, f + P(4));
	g_autofree char *wn = names(f, ch, 1);
	g_assert_cmpstr(got, ==, wn);
}

void itest_register_last(void)
{
	itest_add("/last/dropped", test_dropped);
	itest_add("/last/changes-pieces", test_changes_pieces);
	itest_add("/last/maps", test_maps);
	itest_add("/last/vanish", test_vanish);
	itest_add("/last/private-file-drop", test_private_file_drop);
}
