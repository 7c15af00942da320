/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What happens to memory and processes (sdfs(5): epochs, process life, backends). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define P(n) ((guint64)(n) * tl_ps)

static void assert_page(const Mount *m, pid_t pid, guint64 addr, unsigned byte,
			guint64 idx)
{
	guint8 buf[65536];
	g_autofree char *p = page_path(m, pid, "pages", addr);
	int r = read_page(p, buf);
	if (r < 0)
		g_error("read %s: %s", p, g_strerror(-r));
	assert_pattern(buf, byte, idx);
}

static char *in(Fx *fx, pid_t pid, guint64 a, guint64 pages)
{
	return ranges_read_in(&fx->m, pid, "dirty_ranges", a, a + P(pages));
}

/* After execve the new image's pages count as dirty. */
static void test_exec(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_free(wl_cmd(w, "map a 4"));
	g_free(wl_cmd(w, "fill a 0 4 1"));
	do_clear(&fx->m, w->pid);
	do_clear(&fx->m, w->pid);
	g_autofree char *exe_link = g_strdup_printf("/proc/%d/exe", w->pid);
	g_autofree char *exe = g_file_read_link(exe_link, NULL);
	g_assert_nonnull(exe);
	g_assert_cmpint(write(w->to, "exec\n", 5), ==, 5);
	g_autofree char *ready = wl_read_line(w);
	g_autofree char *want = g_strdup_printf("ready %d", w->pid);
	g_assert_cmpstr(ready, ==, want);
	g_free(wl_cmd(w, "pid"));

	g_autofree char *p = mnt_path(&fx->m, w->pid, "dirty_ranges");
	g_autofree char *t = read_text(p, NULL);
	g_assert_nonnull(t);
	g_autoptr(GArray) r = ranges_parse(t);
	ranges_check_maps(r, w->pid);
	gboolean stack = FALSE, image = FALSE;
	for (guint i = 0; i < r->len; i++) {
		const Range *x = &g_array_index(r, Range, i);
		stack |= !strcmp(x->path, "[stack]");
		image |= !strcmp(x->path, exe);
	}
	if (!stack || !image)
		g_error("after exec, dirty_ranges lacks %s:\n%s",
			!stack ? "[stack]" : exe, t);
	/* its pages read the new image's memory */
	const Range *x = &g_array_index(r, Range, 0);
	guint8 buf[65536], mem[65536];
	g_autofree char *pp = page_path(&fx->m, w->pid, "pages", x->start);
	g_assert_cmpint(read_page(pp, buf), ==, 0);
	read_mem(w->pid, x->start, mem, tl_ps);
	g_assert_cmpmem(buf, tl_ps, mem, tl_ps);
}

/* A forked child is its own directory, in epoch 0 with its own pages. */
static void test_fork(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	g_free(wl_cmd(w, "fill a 0 4 5"));
	do_clear(&fx->m, w->pid);
	g_autofree char *cs = wl_cmd(w, "fork");
	pid_t child = atoi(cs);
	g_assert_cmpint(child, >, 0);
	fx_kill_later(fx, child);

	g_autoptr(GPtrArray) root = list_dir(fx->m.mnt);
	g_assert_true(
		g_ptr_array_find_with_equal_func(root, cs, g_str_equal, NULL));
	g_assert_cmpuint(read_epoch(&fx->m, child), ==, 0);
	g_assert_cmpuint(read_epoch(&fx->m, w->pid), ==, 1);
	g_autofree char *got = in(fx, child, a, 8);
	g_autofree char *want = rline(a, 4, "rw-p", NULL);
	g_assert_cmpstr(got, ==, want);
	for (int i = 0; i < 4; i++)
		assert_page(&fx->m, child, a + P(i), 5, i);
	/* fork wrote nothing in the parent */
	g_autofree char *par = in(fx, w->pid, a, 8);
	g_assert_cmpstr(par, ==, "");
	/* the parent's writes are not the child's */
	g_free(wl_cmd(w, "write a 1 6"));
	assert_page(&fx->m, child, a + P(1), 5, 1);
	assert_page(&fx->m, w->pid, a + P(1), 6, 1);
	do_clear(&fx->m, child);
	g_autofree char *after = in(fx, child, a, 8);
	g_assert_cmpstr(after, ==, "");
}

/* mremap: the moved pages are dirty at the new address. */
static void test_mremap(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	g_free(wl_cmd(w, "fill a 0 8 9"));
	do_clear(&fx->m, w->pid);
	guint64 b = wl_addr(w, "mremap a 16");
	g_assert_cmpuint(b, !=, a);
	g_autofree char *old = in(fx, w->pid, a, 8);
	g_assert_cmpstr(old, ==, "");
	g_autofree char *got = in(fx, w->pid, b, 16);
	g_autofree char *want = rline(b, 8, "rw-p", NULL);
	g_assert_cmpstr(got, ==, want);
	for (int i = 0; i < 8; i++)
		assert_page(&fx->m, w->pid, b + P(i), 9, i);
	/* and tracking goes on there */
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write a 12 3"));
	g_autofree char *got2 = in(fx, w->pid, b, 16);
	g_autofree char *want2 = rline(b + P(12), 1, "rw-p", NULL);
	g_assert_cmpstr(got2, ==, want2);
}

/* mprotect is not a write; writes after it are seen with new perms. */
static void test_mprotect(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	g_free(wl_cmd(w, "fill a 0 8 1"));
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "mprotect a 0 8 r"));
	g_autofree char *r1 = in(fx, w->pid, a, 8);
	g_assert_cmpstr(r1, ==, "");
	g_free(wl_cmd(w, "mprotect a 0 8 rw"));
	g_autofree char *r2 = in(fx, w->pid, a, 8);
	g_assert_cmpstr(r2, ==, "");
	g_free(wl_cmd(w, "write a 2 4"));
	g_free(wl_cmd(w, "mprotect a 4 4 r"));
	g_autofree char *r3 = in(fx, w->pid, a, 8);
	g_autofree char *want = rline(a + P(2), 1, "rw-p", NULL);
	g_assert_cmpstr(r3, ==, want);
	assert_page(&fx->m, w->pid, a + P(2), 4, 2);
}

/* munmap + mmap at the same address: new contents, listed as dirty. */
static void test_remap_same(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	g_free(wl_cmd(w, "fill a 0 8 1"));
	do_clear(&fx->m, w->pid);
	g_assert_cmpuint(wl_addr(w, "remap a"), ==, a);
	g_autofree char *r0 = in(fx, w->pid, a, 8);
	g_assert_cmpstr(r0, ==, ""); /* nothing populated yet */
	g_free(wl_cmd(w, "write a 0 2"));
	g_free(wl_cmd(w, "write a 1 2"));
	g_autofree char *r1 = in(fx, w->pid, a, 8);
	g_autofree char *want = rline(a, 2, "rw-p", NULL);
	g_assert_cmpstr(r1, ==, want);
	assert_page(&fx->m, w->pid, a, 2, 0);
	assert_page(&fx->m, w->pid, a + P(1), 2, 1);
	/* last/ still lists the old pages: one that holds data again reads
	 * the new memory; the others are gone (ENOENT), and looking did not
	 * populate them */
	guint8 buf[65536];
	g_autofree char *lp0 = page_path(&fx->m, w->pid, "last/pages", a);
	g_assert_cmpint(read_page(lp0, buf), ==, 0);
	assert_pattern(buf, 2, 0);
	g_autofree char *lp = page_path(&fx->m, w->pid, "last/pages", a + P(5));
	g_assert_cmpint(read_page(lp, buf), ==, -ENOENT);
	g_assert_cmpuint(present_run(w->pid, a + P(5), 1), ==, 0);
	/* reading did not make it dirty */
	g_autofree char *r2 = in(fx, w->pid, a, 8);
	g_assert_cmpstr(r2, ==, want);
}

/* Never-populated pages are never listed, even in new mappings. */
static void test_never_populated(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *fp = g_build_filename(fx->tmp, "file", NULL);
	guint64 a = wl_addr(w, "map a 16");
	guint64 f = wl_addr(w, "map f 8 file %s", fp);
	guint64 s = wl_addr(w, "map s 8 shared-anon");
	guint64 regs[][2] = {{a, 16}, {f, 8}, {s, 8}};
	for (int round = 0; round < 2; round++) {
		for (gsize i = 0; i < G_N_ELEMENTS(regs); i++) {
			g_autofree char *t =
				in(fx, w->pid, regs[i][0], regs[i][1]);
			g_assert_cmpstr(t, ==, "");
		}
		do_clear(&fx->m, w->pid);
	}
	/* a mapping made after the clear: only its written page */
	guint64 b = wl_addr(w, "map b 16");
	g_free(wl_cmd(w, "write b 3 1"));
	g_autofree char *t = in(fx, w->pid, b, 16);
	g_autofree char *want = rline(b + P(3), 1, "rw-p", NULL);
	g_assert_cmpstr(t, ==, want);
}

static gboolean kernel_older_than(int maj, int min)
{
	struct utsname u;
	int a = 0, b = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return TRUE;
	return a < maj || (a == maj && b < min);
}

/* Pages only read (the zero page) are not dirty. */
static void test_read_only_touched(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *fp = g_build_filename(fx->tmp, "file", NULL);
	g_autofree char *data = g_malloc(P(4));
	memset(data, 0x5a, P(4));
	g_assert_true(g_file_set_contents(fp, data, P(4), NULL));
	guint64 a = wl_addr(w, "map a 16");
	guint64 f = wl_addr(w, "map f 4 file %s", fp);
	for (int i = 0; i < 4; i++)
		g_free(wl_cmd(w, "read a %d", i));
	g_free(wl_cmd(w, "read f 0"));
	g_autofree char *r0 = in(fx, w->pid, a, 16);
	g_assert_cmpstr(r0, ==, "");
	/* epoch 0: present file pages count, read or not (the read of page
	 * 0 may map its neighbours too: fault-around) */
	g_autofree char *rf = in(fx, w->pid, f, 4);
	char real[PATH_MAX];
	g_assert_nonnull(realpath(fp, real));
	guint64 np = present_run(w->pid, f, 4);
	g_assert_cmpuint(np, >=, 1);
	g_autofree char *wf = rline(f, np, "rw-p", real);
	g_assert_cmpstr(rf, ==, wf);

	do_clear(&fx->m, w->pid);
	for (int i = 4; i < 8; i++)
		g_free(wl_cmd(w, "read a %d", i));
	g_free(wl_cmd(w, "write a 8 1"));
	g_free(wl_cmd(w, "read f 0"));
	g_free(wl_cmd(w, "read f 1"));
	g_autofree char *r1 = in(fx, w->pid, a, 16);
	g_autofree char *want = rline(a + P(8), 1, "rw-p", NULL);
	g_assert_cmpstr(r1, ==, want);
	g_autofree char *rf1 = in(fx, w->pid, f, 4);
	/* sdfs(5): uffd before 6.18 may list file pages first faulted in
	 * after the clear (page 1), nothing else */
	g_autofree char *allowed = rline(f + P(1), 1, "rw-p", real);
	if (!strcmp(tl_backend_effective(tl_backend), "uffd") &&
	    kernel_older_than(6, 18) && !strcmp(rf1, allowed))
		g_test_message("uffd < 6.18: read-faulted file page listed");
	else
		g_assert_cmpstr(rf1, ==, "");
}

/* THP: the written page is listed; others only within its huge page. */
static void test_thp(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	g_autofree char *en = NULL;
	if (!g_file_get_contents("/sys/kernel/mm/transparent_hugepage/enabled",
				 &en, NULL, NULL) ||
	    (!strstr(en, "[always]") && !strstr(en, "[madvise]"))) {
		g_test_skip("transparent huge pages not enabled");
		return;
	}
	Workload *w = fx_workload(fx);
	guint64 hp = (2u << 20) / tl_ps;
	guint64 t = wl_addr(w, "thp t 4");
	g_free(wl_cmd(w, "poke t 0 1"));
	g_free(wl_cmd(w, "poke t %" G_GUINT64_FORMAT " 1", hp));
	g_autofree char *p = mnt_path(&fx->m, w->pid, "dirty_ranges");
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			do_clear(&fx->m, w->pid);
			g_free(wl_cmd(w, "poke t 5 7"));
		}
		g_autofree char *text = read_text(p, NULL);
		g_assert_nonnull(text);
		g_autoptr(GArray) r = ranges_parse(text);
		ranges_check_maps(r, w->pid);
		g_autoptr(GArray) pages = ranges_pages(r);
		gboolean seen[3] = {FALSE};
		guint64 need[] = {round ? 5 : 0, round ? 5 : hp};
		for (guint i = 0; i < pages->len; i++) {
			guint64 pa = g_array_index(pages, guint64, i);
			if (pa < t || pa >= t + P(2 * hp))
				continue;
			guint64 idx = (pa - t) / tl_ps;
			if (round == 1 && idx >= hp)
				g_error("page %" G_GUINT64_FORMAT
					" of the second huge page listed",
					idx);
			for (int k = 0; k < 2; k++)
				seen[k] |= idx == need[k];
		}
		g_assert_true(seen[0] && seen[1]);
	}
	guint8 buf[65536];
	g_autofree char *pp = page_path(&fx->m, w->pid, "pages", t + P(5));
	g_assert_cmpint(read_page(pp, buf), ==, 0);
	g_assert_cmpuint(buf[0], ==, 7);
	g_assert_cmpuint(buf[1], ==, 0);
}

/* MAP_SHARED file: written pages listed with the file's path. */
static void test_shared_file(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *fp = g_build_filename(fx->tmp, "shared", NULL);
	guint64 s = wl_addr(w, "map s 8 shared-file %s", fp);
	g_free(wl_cmd(w, "fill s 0 8 1"));
	char real[PATH_MAX];
	g_assert_nonnull(realpath(fp, real));
	g_autofree char *e0 = in(fx, w->pid, s, 8);
	g_autofree char *w0 = rline(s, 8, "rw-s", real);
	g_assert_cmpstr(e0, ==, w0);
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write s 2 3"));
	g_free(wl_cmd(w, "write s 5 3"));
	g_autofree char *got = in(fx, w->pid, s, 8);
	g_autofree char *l1 = rline(s + P(2), 1, "rw-s", real);
	g_autofree char *l2 = rline(s + P(5), 1, "rw-s", real);
	g_autofree char *want = g_strconcat(l1, l2, NULL);
	g_assert_cmpstr(got, ==, want);
	assert_page(&fx->m, w->pid, s + P(2), 3, 2);
	assert_page(&fx->m, w->pid, s + P(5), 3, 5);
}

/* An exited process disappears; files opened before give ESRCH. */
static void test_exit(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	pid_t pid = w->pid;
	guint64 a = wl_addr(w, "map a 4");
	g_free(wl_cmd(w, "fill a 0 4 1"));
	g_autofree char *pp = page_path(&fx->m, pid, "pages", a);
	g_autofree char *cp = mnt_path(&fx->m, pid, "clear");
	g_autofree char *dp = mnt_path(&fx->m, pid, "dirty_ranges");
	g_autofree char *dir = mnt_path(&fx->m, pid, NULL);
	int pfd = open(pp, O_RDONLY);
	g_assert_no_errno(pfd);
	int cfd = open(cp, O_WRONLY);
	g_assert_no_errno(cfd);
	int dfd = open(dp, O_RDONLY);
	g_assert_no_errno(dfd);

	g_free(wl_cmd(w, "exit 0"));
	int status;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	tl_untrack_pid(pid);
	w->pid = 0;

	struct stat st;
	g_assert_cmpint(stat(dir, &st), ==, -1);
	g_assert_cmpint(errno, ==, ENOENT);
	g_autofree char *s = g_strdup_printf("%d", pid);
	g_autoptr(GPtrArray) root = list_dir(fx->m.mnt);
	g_assert_false(
		g_ptr_array_find_with_equal_func(root, s, g_str_equal, NULL));
	guint8 buf[65536];
	ssize_t rr = pread(pfd, buf, tl_ps, 0);
	int re = errno;
	ssize_t wr = write(cfd, "1\n", 2);
	int we = errno;
	if (rr != -1 || re != ESRCH || wr != -1 || we != ESRCH)
		g_error("after exit: read of an open page file: %s; write to "
			"an open clear: %s (want ESRCH for both)",
			rr < 0 ? g_strerror(re) : "success",
			wr < 0 ? g_strerror(we) : "success");
	/* rendered text may still be read; it must not hang or crash */
	(void)!read(dfd, buf, sizeof(buf));
	close(pfd);
	close(cfd);
	close(dfd);
}

void itest_register_life(void)
{
	itest_add("/life/exec", test_exec);
	itest_add("/life/fork", test_fork);
	itest_add("/life/mremap", test_mremap);
	itest_add("/life/mprotect", test_mprotect);
	itest_add("/life/remap-same-address", test_remap_same);
	itest_add("/life/never-populated", test_never_populated);
	itest_add("/life/read-only-touched", test_read_only_touched);
	itest_add("/life/thp", test_thp);
	itest_add("/life/shared-file", test_shared_file);
	itest_add("/life/exit", test_exit);
}
