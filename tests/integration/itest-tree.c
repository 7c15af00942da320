/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tree (sdfs(5)): listing, lookups, modes, page names. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "testlib.h"

#define PF_KTHREAD 0x00200000UL

static gboolean contains(GPtrArray *a, const char *s)
{
	for (guint i = 0; i < a->len; i++)
		if (!strcmp(a->pdata[i], s))
			return TRUE;
	return FALSE;
}

static gboolean contains_pid(GPtrArray *a, pid_t pid)
{
	g_autofree char *s = g_strdup_printf("%d", (int)pid);
	return contains(a, s);
}

static void assert_enoent(const char *path)
{
	struct stat st;
	int r = stat(path, &st);
	int e = errno;
	if (r == 0 || e != ENOENT)
		g_error("stat %s: want ENOENT, got %s", path,
			r == 0 ? "success" : g_strerror(e));
}

static gboolean is_kthread(const char *pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%s/stat", pid);
	g_autofree char *t = NULL;
	if (!g_file_get_contents(p, &t, NULL, NULL))
		return FALSE;
	char *rp = strrchr(t, ')');
	if (!rp)
		return FALSE;
	/* After ") ": state ppid pgrp session tty_nr tpgid flags */
	g_auto(GStrv) f = g_strsplit(rp + 2, " ", 8);
	if (g_strv_length(f) < 7)
		return FALSE;
	return (g_ascii_strtoull(f[6], NULL, 10) & PF_KTHREAD) != 0;
}

/* Root lists thread-group leaders with an address space, nothing else. */
static void test_root(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *tids = wl_cmd(w, "idle 2");
	g_autofree char *zs = wl_cmd(w, "zombie");
	pid_t zombie = atoi(zs);
	g_assert_cmpint(proc_state(zombie), ==, 'Z');

	g_autoptr(GPtrArray) root = list_dir(fx->m.mnt);
	g_assert_nonnull(root);
	g_assert_true(contains_pid(root, w->pid));
	g_assert_true(contains_pid(root, getpid()));
	g_assert_false(contains_pid(root, zombie));
	g_assert_false(contains_pid(root, 2)); /* kthreadd */
	g_auto(GStrv) tv = g_strsplit(tids, " ", -1);
	g_assert_cmpuint(g_strv_length(tv), ==, 2);
	for (char **t = tv; *t; t++) {
		g_assert_cmpint(atoi(*t), !=, w->pid);
		g_assert_false(contains(root, *t));
	}
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < root->len; i++) {
		const char *n = root->pdata[i];
		/* decimal, no sign, no leading zero */
		g_assert_true(*n >= '1' && *n <= '9');
		for (const char *c = n; *c; c++)
			g_assert_true(g_ascii_isdigit(*c));
		g_assert_false(g_hash_table_contains(seen, n));
		g_hash_table_add(seen, (gpointer)n);
		if (is_kthread(n))
			g_error("kernel thread %s listed", n);
	}
}

/* The PID directory: entries, types, modes, sizes. */
static void test_pid_dir(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 4");
	g_free(wl_cmd(w, "fill a 0 4 1"));
	struct stat st;
	g_autofree char *dir = mnt_path(&fx->m, w->pid, NULL);
	g_assert_no_errno(stat(dir, &st));
	g_assert_true(S_ISDIR(st.st_mode));

	g_autoptr(GPtrArray) e = list_dir(dir);
	g_assert_nonnull(e);
	GString *all = g_string_new(NULL);
	for (guint i = 0; i < e->len; i++)
		g_string_append_printf(all, "%s ", (char *)e->pdata[i]);
	g_autofree char *names = g_string_free(all, FALSE);
	const char *expect[] = {"clear", "dirty_ranges", "last", "pages",
				"status"};
	g_assert_cmpuint(e->len, ==, G_N_ELEMENTS(expect));
	for (gsize i = 0; i < G_N_ELEMENTS(expect); i++)
		if (!contains(e, expect[i]))
			g_error("%s missing from %s (has %s)", expect[i], dir,
				names);

	g_autofree char *clear = mnt_path(&fx->m, w->pid, "clear");
	g_assert_no_errno(stat(clear, &st));
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
	const char *texts[] = {"dirty_ranges", "status"};
	for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_autofree char *p = mnt_path(&fx->m, w->pid, texts[i]);
		g_assert_no_errno(stat(p, &st));
		g_assert_true(S_ISREG(st.st_mode));
		g_assert_cmpuint(st.st_mode & 0222, ==, 0);
	}
	const char *dirs[] = {"pages", "last"};
	for (gsize i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autofree char *p = mnt_path(&fx->m, w->pid, dirs[i]);
		g_assert_no_errno(stat(p, &st));
		g_assert_true(S_ISDIR(st.st_mode));
	}

	g_autofree char *pn = page_name(a + tl_ps);
	g_autofree char *rel = g_strdup_printf("pages/%s", pn);
	g_autofree char *page = mnt_path(&fx->m, w->pid, rel);
	g_assert_no_errno(stat(page, &st));
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0400);
	g_assert_cmpint(st.st_size, ==, (off_t)tl_ps);

	/* after a clear, last/ holds dirty_ranges, dropped_ranges,
	 * changes, maps, pages/, image and pack */
	do_clear(&fx->m, w->pid);
	g_autofree char *last = mnt_path(&fx->m, w->pid, "last");
	g_autoptr(GPtrArray) le = list_dir(last);
	g_assert_nonnull(le);
	g_assert_cmpuint(le->len, ==, 7);
	g_assert_true(contains(le, "dirty_ranges"));
	g_assert_true(contains(le, "dropped_ranges"));
	g_assert_true(contains(le, "changes"));
	g_assert_true(contains(le, "maps"));
	g_assert_true(contains(le, "pages"));
	static const char *const last_files[] = {"dirty_ranges",
						 "dropped_ranges", "changes",
						 "maps"};
	for (size_t i = 0; i < G_N_ELEMENTS(last_files); i++) {
		g_autofree char *lr = g_strdup_printf("last/%s", last_files[i]);
		g_autofree char *lp = mnt_path(&fx->m, w->pid, lr);
		g_assert_no_errno(stat(lp, &st));
		g_assert_true(S_ISREG(st.st_mode));
		g_assert_cmpuint(st.st_mode & 07777, ==, 0444);
	}
	g_assert_true(contains(le, "image"));
	g_assert_true(contains(le, "pack"));
	g_autofree char *lrel = g_strdup_printf("last/pages/%s", pn);
	g_autofree char *lpage = mnt_path(&fx->m, w->pid, lrel);
	g_assert_no_errno(stat(lpage, &st));
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0400);
	g_assert_cmpint(st.st_size, ==, (off_t)tl_ps);
	g_autofree char *lpages = mnt_path(&fx->m, w->pid, "last/pages");
	g_assert_no_errno(stat(lpages, &st));
	g_assert_true(S_ISDIR(st.st_mode));
}

/* Lookups of things that are not thread-group leaders give ENOENT. */
static void test_lookup_enoent(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	g_autofree char *tids = wl_cmd(w, "idle 1");
	g_autofree char *zs = wl_cmd(w, "zombie");
	const char *bad[] = {
		"abc",
		"12a",
		"a12",
		"-1",
		"+1",
		"0",
		"1.0",
		"0x10",
		" 1",
		"1 ",
		"99999999999999999999999",
		"18446744073709551617",
		"4294967297", /* 2^32 + 1: must not wrap to 1 */
		"2147483648",
		"4194304", /* above any pid_max */
		"2",	   /* kthreadd: no address space */
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *p = g_build_filename(fx->m.mnt, bad[i], NULL);
		assert_enoent(p);
	}
	g_autofree char *tp = g_build_filename(fx->m.mnt, tids, NULL);
	assert_enoent(tp); /* a thread, not a leader */
	g_autofree char *tpc = g_strdup_printf("%s/%s/clear", fx->m.mnt, tids);
	assert_enoent(tpc);
	g_autofree char *zp = g_build_filename(fx->m.mnt, zs, NULL);
	assert_enoent(zp); /* a zombie */
	/* the leader itself resolves */
	struct stat st;
	g_autofree char *lp = mnt_path(&fx->m, w->pid, NULL);
	g_assert_no_errno(stat(lp, &st));
}

/* pages/: names, order, agreement with dirty_ranges, unpadded lookup. */
static void test_page_names(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 8");
	g_free(wl_cmd(w, "fill a 0 8 5"));
	g_free(wl_cmd(w, "pid")); /* idle from here on */

	g_autofree char *dr = mnt_path(&fx->m, w->pid, "dirty_ranges");
	g_autofree char *text = read_text(dr, NULL);
	g_assert_nonnull(text);
	g_autoptr(GArray) ranges = ranges_parse(text);
	ranges_check_maps(ranges, w->pid);
	g_autoptr(GArray) want = ranges_pages(ranges);

	g_autofree char *pd = mnt_path(&fx->m, w->pid, "pages");
	g_autoptr(GPtrArray) names = list_dir(pd);
	g_assert_nonnull(names);
	g_assert_cmpuint(names->len, ==, want->len);
	for (guint i = 0; i < names->len; i++) {
		const char *n = names->pdata[i];
		g_assert_cmpuint(strlen(n), ==, 16);
		for (const char *c = n; *c; c++)
			g_assert_true(g_ascii_isdigit(*c) ||
				      (*c >= 'a' && *c <= 'f'));
		if (i > 0)
			g_assert_cmpstr(names->pdata[i - 1], <, n);
		g_autofree char *wn =
			page_name(g_array_index(want, guint64, i));
		g_assert_cmpstr(n, ==, wn);
	}

	/* every page of the region is there, and unpadded lookups work */
	for (guint64 i = 0; i < 8; i++) {
		guint64 pa = a + i * tl_ps;
		g_autofree char *n = page_name(pa);
		g_assert_true(g_ptr_array_find_with_equal_func(
			names, n, g_str_equal, NULL));
		g_autofree char *rel =
			g_strdup_printf("pages/%" G_GINT64_MODIFIER "x", pa);
		g_autofree char *p = mnt_path(&fx->m, w->pid, rel);
		guint8 buf[65536];
		g_assert_cmpuint(tl_ps, <=, sizeof(buf));
		g_assert_cmpint(read_page(p, buf), ==, 0);
		assert_pattern(buf, 5, i);
	}

	/* names that are not dirty pages */
	char *bad[] = {
		page_name(a + 1),	  /* not page aligned */
		page_name(a + 8 * tl_ps), /* guard page, never written */
		g_strdup("ffffffffffffffff"),
		g_strdup("1ffffffffffffffff"), /* 17 digits, overflows */
		g_strdup("xyz"),
		g_strdup(""),
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		if (*bad[i]) {
			g_autofree char *rel =
				g_strdup_printf("pages/%s", bad[i]);
			g_autofree char *p = mnt_path(&fx->m, w->pid, rel);
			assert_enoent(p);
		}
		g_free(bad[i]);
	}
}

/* The mount's type is fuse.sdfs (what fstab and mount -t name). */
static void test_fstype(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	g_autofree char *t = tl_mount_fstype(fx->m.mnt);
	g_assert_cmpstr(t, ==, "fuse.sdfs");
}

/* The sdfs process serving mnt: argv holds the mount point. */
static pid_t find_daemon(const char *mnt)
{
	g_autoptr(GDir) d = g_dir_open("/proc", 0, NULL);
	const char *e;
	while ((e = g_dir_read_name(d))) {
		pid_t pid = (pid_t)atoi(e);
		if (pid <= 0)
			continue;
		g_autofree char *cp = g_strdup_printf("/proc/%s/cmdline", e);
		g_autofree char *cl = NULL;
		gsize len = 0;
		if (!g_file_get_contents(cp, &cl, &len, NULL))
			continue;
		for (gsize i = 0; i < len; i += strlen(cl + i) + 1)
			if (!strcmp(cl + i, mnt) && strstr(cl, "sdfs"))
				return pid;
	}
	return 0;
}

/*
 * The way fstab and mount.fuse3 run it: "sdfs SOURCE MOUNTPOINT -o OPTS",
 * daemonized (fork). Whatever the engine runs in the background must
 * survive that fork: here, the trackers of an exited process are dropped
 * (its fds closed) without a listing of the root.
 */
static void test_daemonized(Fx *fx, gconstpointer d)
{
	if (!tl_bin || !tl_workload_bin) {
		g_test_skip("SDFS_BIN and SDFS_WORKLOAD must be set");
		return;
	}
	g_autofree char *mnt = g_build_filename(fx->tmp, "mnt", NULL);
	g_assert_no_errno(mkdir(mnt, 0755));
	g_autofree char *opt = g_strdup_printf("backend=%s", tl_backend);
	const char *argv[] = {tl_bin, "sdfs-bg", mnt, "-o", opt, NULL};
	int status;
	g_autoptr(GError) err = NULL;
	g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
				   G_SPAWN_CLOEXEC_PIPES, NULL, NULL, NULL,
				   NULL, &status, &err));
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_autofree char *t = tl_mount_fstype(mnt);
	g_assert_cmpstr(t, ==, "fuse.sdfs");
	pid_t daemon = find_daemon(mnt);
	g_assert_cmpint(daemon, >, 0);
	int base = tl_fd_count(daemon);

	Workload *w = wl_start();
	g_autofree char *clear = g_strdup_printf("%s/%d/clear", mnt, (int)w->pid);
	g_assert_cmpint(tl_write_text(clear, "1", 1), ==, 0);
	int tracking = tl_fd_count(daemon);
	wl_kill(w);
	int now = tl_fd_count(daemon);
	/* bounded only against a hang: an emulated arm64 guest on a loaded
	 * machine took more than 2 s here */
	for (int i = 0; i < 3000 && now > base; i++) {
		g_usleep(10000);
		now = tl_fd_count(daemon);
	}
	g_test_message("daemon fds: %d before, %d tracking, %d after the "
		       "exit",
		       base, tracking, now);

	/* unmounted, it exits (reaped here if the test is its subreaper) */
	g_assert_no_errno(umount(mnt));
	gboolean gone = FALSE;
	for (int i = 0; i < 3000 && !gone; i++) {
		gone = waitpid(daemon, NULL, WNOHANG) == daemon ||
		       kill(daemon, 0) < 0;
		if (!gone)
			g_usleep(10000);
	}
	rmdir(mnt);
	g_assert_true(gone);
	g_assert_cmpint(tracking, >, base);
	g_assert_cmpint(now, ==, base);
}

/* The file's content as sendfile(2) gives it (what busybox cat uses). */
static char *sendfile_text(const char *path, gsize *len)
{
	int in = open(path, O_RDONLY);
	g_assert_no_errno(in);
	int out = memfd_create("sdfs-itest", MFD_CLOEXEC);
	g_assert_no_errno(out);
	ssize_t n;
	gsize total = 0;
	while ((n = sendfile(out, in, NULL, 1 << 20)) > 0)
		total += n;
	if (n < 0)
		g_error("sendfile from %s: %s", path, g_strerror(errno));
	char *buf = g_malloc(total + 1);
	g_assert_cmpint(pread(out, buf, total, 0), ==, (ssize_t)total);
	buf[total] = 0;
	close(in);
	close(out);
	*len = total;
	return buf;
}

/*
 * cat(1) implementations copy with sendfile/splice, which some kernels
 * serve from the page cache up to st_size: the files must read the same
 * through it as through read(2).
 */
static void test_sendfile(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 4");
	g_free(wl_cmd(w, "fill a 0 4 3"));
	do_clear(&fx->m, w->pid);
	g_free(wl_cmd(w, "write a 2 4"));
	g_free(wl_cmd(w, "pid"));
	g_autofree char *pn = page_name(a + 2 * tl_ps);
	g_autofree char *pg = g_strdup_printf("pages/%s", pn);
	g_autofree char *lpg = g_strdup_printf("last/pages/%s", pn);
	const char *files[] = {"clear",	 "dirty_ranges",
			       "status", "last/dirty_ranges",
			       pg,	 lpg};
	for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *p = mnt_path(&fx->m, w->pid, files[i]);
		gsize rlen = 0, slen = 0;
		g_autofree char *r = read_text(p, &rlen);
		g_assert_nonnull(r);
		g_autofree char *s = sendfile_text(p, &slen);
		if (slen != rlen || memcmp(r, s, rlen))
			g_error("%s: sendfile gives %zu bytes, read %zu",
				files[i], slen, rlen);
		g_assert_cmpuint(rlen, >, 0);
	}
	/* page content through sendfile is live too */
	g_free(wl_cmd(w, "write a 2 5"));
	g_autofree char *p = mnt_path(&fx->m, w->pid, pg);
	gsize len;
	g_autofree char *s = sendfile_text(p, &len);
	g_assert_cmpuint(len, ==, tl_ps);
	assert_pattern((const guint8 *)s, 5, 2);
}

/* -d: one line per request, with its operation, inode, the caller's pid,
 * the result and the time it took. */
static void test_debug_trace(Fx *fx, gconstpointer d)
{
	if (!tl_bin || !tl_workload_bin) {
		g_test_skip("SDFS_BIN and SDFS_WORKLOAD must be set");
		return;
	}
	mount_start(&fx->m, &(MountOpts){.opts = "debug"});

	Workload *w = wl_start();
	g_autofree char *status = mnt_path(&fx->m, w->pid, "status");
	g_autofree char *text = read_text(status, NULL);
	g_assert_nonnull(text);
	g_autofree char *none = mnt_path(&fx->m, w->pid, "no-such-file");
	struct stat st;
	g_assert_cmpint(stat(none, &st), ==, -1);
	wl_kill(w);

	/* a line is written once the reply is sent: wait for it */
	g_autofree char *open_ok = g_strdup_printf(" pid %d: ok (", (int)getpid());
	g_autofree char *enoent = g_strdup_printf(" pid %d: ENOENT (", (int)getpid());
	gboolean saw_open = FALSE, saw_read = FALSE, saw_enoent = FALSE;
	g_autofree char *log = NULL;
	for (int tries = 0; tries < 300 && !(saw_open && saw_read && saw_enoent);
	     tries++) {
		g_free(log);
		log = NULL;
		if (tries)
			g_usleep(10000);
		g_assert_true(g_file_get_contents(fx->m.log, &log, NULL, NULL));
		g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
		for (char **l = lines; *l; l++) {
			if (!g_str_has_prefix(*l, "sdfs: "))
				continue;
			const char *rest = *l + 6;
			if (g_str_has_prefix(rest, "open ino 0x") &&
			    strstr(rest, open_ok))
				saw_open = TRUE;
			if (g_str_has_prefix(rest, "read ino 0x") &&
			    strstr(rest, open_ok))
				saw_read = TRUE;
			if (g_str_has_prefix(rest, "lookup ino 0x") &&
			    strstr(rest, enoent))
				saw_enoent = TRUE;
		}
	}
	mount_stop(&fx->m);
	if (!saw_open || !saw_read || !saw_enoent)
		g_error("missing trace lines (open %d, read %d, ENOENT %d) in:\n%s",
			saw_open, saw_read, saw_enoent, log);
}

void itest_register_tree(void)
{
	itest_add("/tree/fstype", test_fstype);
	itest_add("/tree/root", test_root);
	itest_add("/tree/pid-dir", test_pid_dir);
	itest_add("/tree/lookup-enoent", test_lookup_enoent);
	itest_add("/tree/page-names", test_page_names);
	itest_add("/tree/sendfile", test_sendfile);
	itest_add_nomount("/tree/daemonized", test_daemonized);
	itest_add_nomount("/tree/debug-trace", test_debug_trace);
}
