/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Access with a root daemon and allow_other (sdfs(5) ACCESS and
 * decision 2): every request is checked with the caller's credentials.
 * On this host (no Yama) PTRACE_MODE_READ and PTRACE_MODE_ATTACH refuse
 * the same callers, so a process is either invisible (ENOENT) or fully
 * accessible at open; EACCES shows when the right is lost after an open.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sectest.h"

/* Every entry point of the process pid, as uid of agent a: ENOENT. */
static void assert_invisible(Agent *a, const Mount *m, pid_t pid,
			     guint64 addr)
{
	g_autofree char *pg = page_name(addr);
	g_autofree char *pgs = g_strdup_printf("pages/%s", pg);
	g_autofree char *lpgs = g_strdup_printf("last/pages/%s", pg);
	const char *rels[] = {"", "status", "dirty_ranges", "clear", "pages",
			      "last", "last/dirty_ranges", "last/pages", pgs,
			      lpgs, "last/dropped_ranges", "last/changes",
			      "last/maps", "last/image", "last/pack"};
	g_autoptr(GPtrArray) names = NULL;

	g_assert_cmpint(ag_list(a, m->mnt, &names), ==, 0);
	g_assert_false(names_have_pid(names, pid));
	for (guint i = 0; i < G_N_ELEMENTS(rels); i++) {
		g_autofree char *p = mnt_path(m, pid, rels[i]);
		g_test_message("uid %u: %s", (unsigned)a->uid, p);
		g_assert_cmpint(ag_stat(a, p), ==, -ENOENT);
	}
	const char *files[] = {"status",	  "dirty_ranges",
			       "clear",		  pgs,
			       "last/dirty_ranges", "last/dropped_ranges",
			       "last/changes",	  "last/maps",
			       "last/image",	  "last/pack"};
	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *p = mnt_path(m, pid, files[i]);
		g_assert_cmpint(ag_cat(a, p, NULL), ==, -ENOENT);
	}
	const char *dirs[] = {"", "pages", "last", "last/pages"};
	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autofree char *p = mnt_path(m, pid, dirs[i]);
		g_assert_cmpint(ag_list(a, p, NULL), ==, -ENOENT);
	}
	g_autofree char *clr = mnt_path(m, pid, "clear");
	g_assert_cmpint(ag_write(a, clr, O_WRONLY | O_TRUNC, "1\n", 2), ==,
			-ENOENT);
	g_assert_cmpint(ag_write(a, clr, O_WRONLY, "1", 1), ==, -ENOENT);
	g_assert_cmpint(ag_write(a, clr, O_RDWR, "4", 1), ==, -ENOENT);
}

static void test_root_process(void)
{
	Mount sm;
	sec_mount_start(&sm, 0, "allow_other", FALSE);
	Workload *r = wl_start();
	guint64 a = wl_addr(r, "map a 2");
	wl_do(r, "write a 0 3");
	Workload *wx = wl_spawn(tl_workload_bin, NULL, &(WlOpts){.uid = UID_X});
	Agent *x = agent_start(UID_X, FALSE);

	g_autoptr(GPtrArray) names = NULL;
	g_assert_cmpint(ag_list(x, sm.mnt, &names), ==, 0);
	g_assert_true(names_have_pid(names, wx->pid));
	g_assert_false(names_have_pid(names, 1));
	g_assert_false(names_have_pid(names, getpid()));
	g_assert_false(names_have_pid(names, sm.daemon));
	g_autoptr(GPtrArray) rootnames = list_dir(sm.mnt);
	g_assert_nonnull(rootnames);
	g_assert_true(names_have_pid(rootnames, r->pid));

	assert_invisible(x, &sm, r->pid, a);
	assert_invisible(x, &sm, 1, a);
	assert_invisible(x, &sm, sm.daemon, a);
	/* nothing was cleared by the refused writes */
	g_assert_cmpuint(read_epoch(&sm, r->pid), ==, 0);

	agent_stop(x);
	wl_kill(wx);
	wl_kill(r);
	sec_mount_stop(&sm);
}

static void test_other_user(void)
{
	Mount sm;
	sec_mount_start(&sm, 0, "allow_other", FALSE);
	Workload *wx = wl_spawn(tl_workload_bin, NULL, &(WlOpts){.uid = UID_X});
	Workload *wy = wl_spawn(tl_workload_bin, NULL, &(WlOpts){.uid = UID_Y});
	guint64 ax = wl_addr(wx, "map a 1");
	wl_do(wx, "write a 0 1");
	guint64 ay = wl_addr(wy, "map a 1");
	wl_do(wy, "write a 0 2");
	Agent *x = agent_start(UID_X, FALSE);
	Agent *y = agent_start(UID_Y, FALSE);

	assert_invisible(x, &sm, wy->pid, ay);
	assert_invisible(y, &sm, wx->pid, ax);
	/* and each still sees its own */
	g_autofree char *px = mnt_path(&sm, wx->pid, "status");
	g_autofree char *py = mnt_path(&sm, wy->pid, "status");
	g_assert_cmpint(ag_cat(x, px, NULL), ==, 0);
	g_assert_cmpint(ag_cat(y, py, NULL), ==, 0);
	g_assert_cmpuint(read_epoch(&sm, wx->pid), ==, 0);
	g_assert_cmpuint(read_epoch(&sm, wy->pid), ==, 0);

	agent_stop(x);
	agent_stop(y);
	wl_kill(wx);
	wl_kill(wy);
	sec_mount_stop(&sm);
}

static GByteArray *cat_ok(Agent *a, const Mount *m, pid_t pid,
			  const char *rel)
{
	g_autofree char *p = mnt_path(m, pid, rel);
	GByteArray *b = NULL;
	int r = ag_cat(a, p, &b);
	if (r)
		g_error("uid %u: cat %s: %s", (unsigned)a->uid, p,
			g_strerror(-r));
	return b;
}

static char *cat_str(Agent *a, const Mount *m, pid_t pid, const char *rel)
{
	GByteArray *b = cat_ok(a, m, pid, rel);
	g_byte_array_append(b, (const guint8 *)"", 1);
	return (char *)g_byte_array_free(b, FALSE);
}

/*
 * The owner of process w (agent a, same uid) can do everything: list,
 * clear, dirty_ranges exact, status, pages byte-exact, last/. Shared with
 * the unprivileged-mount test. Starts at epoch 0.
 */
void sec_own_process_checks(Agent *a, const Mount *m, Workload *w)
{
	pid_t pid = w->pid;
	guint64 base = wl_addr(w, "map own 4");
	g_autoptr(GPtrArray) names = NULL;

	g_assert_cmpint(ag_list(a, m->mnt, &names), ==, 0);
	g_assert_true(names_have_pid(names, pid));
	g_autofree char *dir = mnt_path(m, pid, NULL);
	g_assert_cmpint(ag_stat(a, dir), ==, 0);
	g_autoptr(GPtrArray) top = NULL;
	g_assert_cmpint(ag_list(a, dir, &top), ==, 0);
	g_assert_cmpuint(top->len, ==, 5);

	g_autofree char *e0 = cat_str(a, m, pid, "clear");
	g_assert_cmpstr(e0, ==, "0\n");
	g_autofree char *clr = mnt_path(m, pid, "clear");
	g_assert_cmpint(ag_write(a, clr, O_WRONLY | O_TRUNC, "1\n", 2), ==, 0);
	g_autofree char *e1 = cat_str(a, m, pid, "clear");
	g_assert_cmpstr(e1, ==, "1\n");

	wl_do(w, "write own 1 7");
	g_autofree char *dr = cat_str(a, m, pid, "dirty_ranges");
	g_autofree char *in = ranges_text_in(dr, base, base + 4 * tl_ps);
	g_autofree char *want = rline(base + tl_ps, 1, "rw-p", NULL);
	g_assert_cmpstr(in, ==, want);

	g_autofree char *st = cat_str(a, m, pid, "status");
	g_autofree char *spid = status_value(st, "pid");
	g_autofree char *wantpid = g_strdup_printf("%d", (int)pid);
	g_assert_cmpstr(spid, ==, wantpid);
	g_autofree char *sep = status_value(st, "epoch");
	g_assert_cmpstr(sep, ==, "1");
	g_autofree char *sbk = status_value(st, "backend");
	g_assert_cmpstr(sbk, ==, "uffd");

	g_autofree char *pg = page_name(base + tl_ps);
	g_autofree char *pgrel = g_strdup_printf("pages/%s", pg);
	g_autoptr(GPtrArray) pages = NULL;
	g_autofree char *pdir = mnt_path(m, pid, "pages");
	g_assert_cmpint(ag_list(a, pdir, &pages), ==, 0);
	gboolean found = FALSE;
	for (guint i = 0; i < pages->len; i++) {
		const char *n = g_ptr_array_index(pages, i);
		found |= !strcmp(n, pg);
		g_autofree char *n0 = page_name(base);
		g_autofree char *n2 = page_name(base + 2 * tl_ps);
		g_assert_cmpstr(n, !=, n0);
		g_assert_cmpstr(n, !=, n2);
	}
	g_assert_true(found);
	g_autoptr(GByteArray) content = cat_ok(a, m, pid, pgrel);
	g_assert_cmpuint(content->len, ==, tl_ps);
	assert_pattern(content->data, 7, 1);

	/* clear again: last/ holds the page */
	g_assert_cmpint(ag_write(a, clr, O_WRONLY, "4", 1), ==, 0);
	g_autofree char *e2 = cat_str(a, m, pid, "clear");
	g_assert_cmpstr(e2, ==, "2\n");
	g_autofree char *ldr = cat_str(a, m, pid, "last/dirty_ranges");
	g_autofree char *lin = ranges_text_in(ldr, base, base + 4 * tl_ps);
	g_assert_cmpstr(lin, ==, want);
	g_autofree char *lrel = g_strdup_printf("last/pages/%s", pg);
	g_autoptr(GByteArray) lcontent = cat_ok(a, m, pid, lrel);
	g_assert_cmpuint(lcontent->len, ==, tl_ps);
	assert_pattern(lcontent->data, 7, 1);
	g_autoptr(GPtrArray) lpages = NULL;
	g_autofree char *lpdir = mnt_path(m, pid, "last/pages");
	g_assert_cmpint(ag_list(a, lpdir, &lpages), ==, 0);
	g_assert_cmpuint(lpages->len, >=, 1);
	/* nothing written since: the region is clean now */
	g_autofree char *dr2 = cat_str(a, m, pid, "dirty_ranges");
	g_autofree char *in2 = ranges_text_in(dr2, base, base + 4 * tl_ps);
	g_assert_cmpstr(in2, ==, "");
	g_autofree char *st2 = cat_str(a, m, pid, "status");
	g_autofree char *sep2 = status_value(st2, "epoch");
	g_assert_cmpstr(sep2, ==, "2");
	g_assert_cmpuint(sec_epoch_as(a, m, pid), ==, 2);
}

guint64 sec_epoch_as(Agent *a, const Mount *m, pid_t pid)
{
	g_autofree char *t = cat_str(a, m, pid, "clear");
	return g_ascii_strtoull(t, NULL, 10);
}

static void test_own_process(void)
{
	Mount sm;
	sec_mount_start(&sm, 0, "allow_other", FALSE);
	Workload *wx = wl_spawn(tl_workload_bin, NULL, &(WlOpts){.uid = UID_X});
	Agent *x = agent_start(UID_X, FALSE);

	sec_own_process_checks(x, &sm, wx);
	/* root sees it owned by X (sdfs(5) decision 8) */
	g_autofree char *dir = mnt_path(&sm, wx->pid, NULL);
	struct stat st;
	g_assert_no_errno(stat(dir, &st));
	g_assert_cmpuint(st.st_uid, ==, UID_X);
	g_assert_cmpuint(st.st_gid, ==, UID_X);

	agent_stop(x);
	wl_kill(wx);
	sec_mount_stop(&sm);
}

static void test_nondumpable(void)
{
	Mount sm;
	sec_mount_start(&sm, 0, "allow_other", FALSE);
	Workload *t =
		wl_spawn(sec_target_bin, "nodump", &(WlOpts){.uid = UID_X});
	g_autofree char *d = wl_cmd(t, "dumpable");
	g_assert_cmpstr(d, ==, "0");
	guint64 a = wl_addr(t, "page 5");
	Agent *x = agent_start(UID_X, FALSE);

	/* PTRACE_MODE_READ refused: invisible to its own user */
	assert_invisible(x, &sm, t->pid, a);
	/* root (CAP_SYS_PTRACE) still reads it */
	g_autofree char *pg = page_name(a);
	g_autofree char *rel = g_strdup_printf("pages/%s", pg);
	g_autofree char *p = mnt_path(&sm, t->pid, rel);
	guint8 *buf = g_malloc(tl_ps);
	g_assert_cmpint(read_page(p, buf), ==, 0);
	assert_pattern(buf, 5, 0);
	g_free(buf);

	agent_stop(x);
	wl_kill(t);
	sec_mount_stop(&sm);
}

static void test_recheck_after_open(void)
{
	Mount sm;
	sec_mount_start(&sm, 0, "allow_other", FALSE);
	Workload *t = wl_spawn(sec_target_bin, NULL, &(WlOpts){.uid = UID_X});
	guint64 a = wl_addr(t, "page 9");
	Agent *x = agent_start(UID_X, FALSE);
	g_autofree char *pg = page_name(a);
	g_autofree char *rel = g_strdup_printf("pages/%s", pg);
	g_autofree char *pp = mnt_path(&sm, t->pid, rel);
	g_autofree char *pc = mnt_path(&sm, t->pid, "clear");
	g_autofree char *ps = mnt_path(&sm, t->pid, "status");
	g_autofree char *pd = mnt_path(&sm, t->pid, "dirty_ranges");
	guint8 *buf = g_malloc(tl_ps);

	int fp = ag_open(x, pp, O_RDONLY);
	int fc = ag_open(x, pc, O_WRONLY);
	int fs = ag_open(x, ps, O_RDONLY);
	int fd = ag_open(x, pd, O_RDONLY);
	g_assert_cmpint(fp, >=, 0);
	g_assert_cmpint(fc, >=, 0);
	g_assert_cmpint(fs, >=, 0);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ag_pread(x, fp, 0, buf, tl_ps), ==, tl_ps);
	assert_pattern(buf, 9, 0);
	char stext[4096];
	ssize_t sn = ag_pread(x, fs, 0, stext, sizeof(stext) - 1);
	g_assert_cmpint(sn, >, 0);

	wl_do(t, "nodump");
	/* an open page file is checked again at every read */
	g_assert_cmpint(ag_pread(x, fp, 0, buf, tl_ps), ==, -EACCES);
	/* and clear at every write: nothing cleared */
	g_assert_cmpint(ag_pwrite(x, fc, 0, "1", 1), ==, -EACCES);
	g_assert_cmpuint(read_epoch(&sm, t->pid), ==, 0);
	/* text rendered at open may still be read (sdfs(5), dirty_ranges) */
	char stext2[4096];
	g_assert_cmpint(ag_pread(x, fs, 0, stext2, sizeof(stext2) - 1), ==,
			sn);
	g_assert_cmpmem(stext, sn, stext2, sn);
	g_assert_cmpint(ag_pread(x, fd, 0, stext2, sizeof(stext2) - 1), >=,
			0);
	/* new opens and lookups: the process is invisible now */
	g_assert_cmpint(ag_open(x, ps, O_RDONLY), ==, -ENOENT);
	g_assert_cmpint(ag_open(x, pp, O_RDONLY), ==, -ENOENT);
	g_autofree char *dir = mnt_path(&sm, t->pid, NULL);
	g_assert_cmpint(ag_stat(x, dir), ==, -ENOENT);

	/* dumpable again: the same open files work again */
	wl_do(t, "dump");
	g_assert_cmpint(ag_pread(x, fp, 0, buf, tl_ps), ==, tl_ps);
	assert_pattern(buf, 9, 0);
	g_assert_cmpint(ag_pwrite(x, fc, 0, "1", 1), ==, 1);
	g_assert_cmpuint(read_epoch(&sm, t->pid), ==, 1);

	for (int f = 0; f < 4; f++)
		ag_close(x, (int[]){fp, fc, fs, fd}[f]);
	g_free(buf);
	agent_stop(x);
	wl_kill(t);
	sec_mount_stop(&sm);
}

/*
 * A caller in a pid namespace nested in the daemon's: the kernel gives the
 * daemon the caller's pid as seen from the daemon's namespace (non-zero),
 * so the request is judged by credentials alone, like any other.
 */
static void test_pidns_nested_caller(void)
{
	Mount sm;
	sec_mount_start(&sm, 0, "allow_other", FALSE);
	Workload *r = wl_start();
	Workload *wx = wl_spawn(tl_workload_bin, NULL, &(WlOpts){.uid = UID_X});
	Agent *root_ns = agent_start(0, TRUE);
	Agent *x_ns = agent_start(UID_X, TRUE);

	g_autofree char *ps = mnt_path(&sm, r->pid, "status");
	g_autofree char *pc = mnt_path(&sm, r->pid, "clear");
	g_assert_cmpint(ag_stat(root_ns, sm.mnt), ==, 0);
	g_autoptr(GPtrArray) names = NULL;
	int lr = ag_list(root_ns, sm.mnt, &names);
	int sr = ag_cat(root_ns, ps, NULL);
	int wr = ag_write(root_ns, pc, O_WRONLY, "1", 1);
	g_test_message("root in a nested pid namespace: list %d, status %d, "
		       "clear %d",
		       lr, sr, wr);
	g_assert_cmpint(lr, ==, 0);
	g_assert_true(names_have_pid(names, r->pid));
	g_assert_cmpint(sr, ==, 0);
	g_assert_cmpint(wr, ==, 0);
	g_assert_cmpuint(read_epoch(&sm, r->pid), ==, 1);
	/* uid X there: still only its own processes */
	assert_invisible(x_ns, &sm, r->pid, 0x1000);
	g_autofree char *pxs = mnt_path(&sm, wx->pid, "status");
	g_assert_cmpint(ag_cat(x_ns, pxs, NULL), ==, 0);

	agent_stop(root_ns);
	agent_stop(x_ns);
	wl_kill(r);
	wl_kill(wx);
	sec_mount_stop(&sm);
}

/*
 * The daemon in its own pid namespace: callers outside it (the test, root)
 * reach it with pid 0 and are refused with EACCES (sdfs(8) SECURITY, sdfs(5)
 * ERRORS); a caller that joined the daemon's namespace is served.
 */
static void test_pidns_outside_caller(void)
{
	Mount sm;
	sec_mount_start(&sm, 0, "allow_other", TRUE);
	Workload *r = wl_start();
	guint64 a = wl_addr(r, "map a 1");
	wl_do(r, "write a 0 4");
	g_autofree char *dir = mnt_path(&sm, r->pid, NULL);
	g_autofree char *ps = mnt_path(&sm, r->pid, "status");
	g_autofree char *pc = mnt_path(&sm, r->pid, "clear");
	g_autofree char *pg = page_name(a);
	g_autofree char *rel = g_strdup_printf("pages/%s", pg);
	g_autofree char *pp = mnt_path(&sm, r->pid, rel);
	struct stat st;

	errno = 0;
	g_assert_null(list_dir(sm.mnt));
	g_assert_cmpint(errno, ==, EACCES);
	g_assert_cmpint(stat(dir, &st), ==, -1);
	g_assert_cmpint(errno, ==, EACCES);
	g_assert_cmpint(open(ps, O_RDONLY), ==, -1);
	g_assert_cmpint(errno, ==, EACCES);
	g_assert_cmpint(tl_write_text(pc, "1", 1), ==, -EACCES);
	g_assert_cmpint(open(pp, O_RDONLY), ==, -1);
	g_assert_cmpint(errno, ==, EACCES);

	/* from inside the daemon's namespace the pid-0 rule does not apply:
	 * root's listing is served (what it holds is another matter: the
	 * daemon names processes by the host's /proc but is not in its pid
	 * namespace; see the report) */
	g_autofree char *nsp =
		g_strdup_printf("/proc/%d/ns/pid", (int)sm.daemon);
	Agent *in = agent_start_ns(0, nsp);
	g_autoptr(GPtrArray) inside = NULL;
	g_assert_cmpint(ag_list(in, sm.mnt, &inside), ==, 0);
	int ir = ag_cat(in, ps, NULL);
	g_test_message("root inside the daemon's pid namespace: status of "
		       "host pid %d: %d; %u entries listed",
		       (int)r->pid, ir, inside->len);
	g_assert_cmpint(ir, !=, -EACCES);
	agent_stop(in);

	/* a caller sdfs cannot name is refused everything, even the root
	 * directory's attributes */
	g_assert_cmpint(stat(sm.mnt, &st), ==, -1);
	g_assert_cmpint(errno, ==, EACCES);
	(void)a;
	wl_kill(r);
	sec_mount_stop(&sm);
}

/*
 * The first clear a root daemon serves may come from an ordinary user: it
 * must work, and must not break clears for everyone else afterwards.
 */
static void test_first_clear_unprivileged(void)
{
	Mount sm;
	sec_mount_start(&sm, 0, "allow_other", FALSE);
	Workload *r = wl_start();
	Workload *wx = wl_spawn(tl_workload_bin, NULL, &(WlOpts){.uid = UID_X});
	Agent *x = agent_start(UID_X, FALSE);
	g_autofree char *pcx = mnt_path(&sm, wx->pid, "clear");
	g_autofree char *pcr = mnt_path(&sm, r->pid, "clear");

	int rx = ag_write(x, pcx, O_WRONLY, "1", 1);
	int rx2 = ag_write(x, pcx, O_WRONLY, "1", 1);
	int rr = tl_write_text(pcr, "1", 1);
	g_test_message("first clear by uid %u: %s; again: %s; then root: %s",
		       UID_X, g_strerror(-rx), g_strerror(-rx2),
		       g_strerror(-rr));
	g_assert_cmpint(rx, ==, 0);
	g_assert_cmpint(rx2, ==, 0);
	g_assert_cmpint(rr, ==, 0);
	g_assert_cmpuint(read_epoch(&sm, wx->pid), ==, 2);
	g_assert_cmpuint(read_epoch(&sm, r->pid), ==, 1);

	agent_stop(x);
	wl_kill(wx);
	wl_kill(r);
	sec_mount_stop(&sm);
}

void sec_register_access(void)
{
	sec_add("/security/access/first-clear-unprivileged",
		test_first_clear_unprivileged);
	sec_add("/security/access/root-process-invisible",
			test_root_process);
	sec_add("/security/access/other-user-invisible",
			test_other_user);
	sec_add("/security/access/own-process", test_own_process);
	sec_add("/security/access/nondumpable-invisible",
			test_nondumpable);
	sec_add("/security/access/recheck-after-open",
			test_recheck_after_open);
	sec_add("/security/access/pidns-nested-caller",
			test_pidns_nested_caller);
	sec_add("/security/access/pidns-outside-caller",
			test_pidns_outside_caller);
}
