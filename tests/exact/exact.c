/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_exact: iterative snapshots of programs that free memory in every
 * way, checked for exactness (sdfs(5), "Iterative snapshots").
 *
 * Each test mounts sdfs, starts a target and runs the snapshot loop with
 * real rsync: a first round, then ROUNDS rounds while the target churns
 * (every rsync must exit 0 or 24, never 23), then the target is stopped
 * with SIGSTOP and a last round must exit 0. SNAP/, read with the last
 * round's last/maps (which must equal /proc/PID/maps of the stopped
 * process), is then compared with the process's memory: no stale file,
 * no leftover file, no missing own page (tests/lib/snapcheck.h). On the
 * host, gdb's gcore of the stopped process is a second reference. With
 * SDFS_APPLY, every round is also applied with `sdfs-apply -p last/pack`
 * onto one image on /dev/shm, which must end equal to SNAP/ (packcheck.c).
 *
 *   /exact/churn       sdfs_churn, driven step by step between rounds
 *   /exact/python3     a python3 script with threads (SKIP without python3)
 *   /exact/perl        a perl script, threads if it has them (SKIP
 *                      without perl)
 *   /exact/old-recipe  sdfs_churn with the old recipe (rsync of
 *                      last/pages/ alone): the check must find stale and
 *                      leftover files (it can fail) and no missing page
 *
 * Environment: SDFS_BIN, SDFS_CHURN (sdfs_churn), SDFS_EXACT_SCRIPTS (the
 * directory of churn.py and churn.pl), SDFS_BACKEND (default auto),
 * SDFS_APPLY (tools/sdfs-apply), SDFS_EXACT_ROUNDS (default 8),
 * SDFS_EXACT_INTERVAL_MS (pause between rounds of the free-running
 * interpreters, default 200), SDFS_CHURN_PAGES (passed on to sdfs_churn),
 * SDFS_EXACT_GCORE=require (fail rather than skip the gcore comparison without
 * gdb).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exact.h"
#include "harness.h"
#include "snapcheck.h"

static gboolean skip_unless_ready(void)
{
	g_autofree char *reason = NULL;
	if (!tl_bin) {
		g_test_skip("SDFS_BIN not set");
		return TRUE;
	}
	if (!tl_backend_usable(tl_backend, &reason)) {
		g_test_skip(reason);
		return TRUE;
	}
	return FALSE;
}

void exact_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_test_message("FAIL: %s", msg);
	g_test_fail_printf("%s", msg);
}

typedef enum { T_CHURN, T_PYTHON, T_PERL } Kind;

typedef struct {
	Kind kind;
	gboolean old_recipe;
} Case;

static int env_int(const char *name, int def)
{
	const char *e = g_getenv(name);
	return e && atoi(e) > 0 ? atoi(e) : def;
}

/* Remove dir and the files (and directories of files) in it. */
static void rm_tree(const char *dir, int depth)
{
	g_autoptr(GPtrArray) names = list_dir(dir);
	for (guint i = 0; names && i < names->len; i++) {
		g_autofree char *p =
			g_build_filename(dir, (char *)names->pdata[i], NULL);
		if (unlink(p) < 0 && errno == EISDIR && depth > 0)
			rm_tree(p, depth - 1);
	}
	rmdir(dir);
}

/* The program and argument that start the target; FALSE: skip. */
static gboolean target_argv(Kind k, const char *tmp, char **bin, char **arg)
{
	const char *scripts = g_getenv("SDFS_EXACT_SCRIPTS");
	const char *interp = k == T_PYTHON ? "python3" : "perl";
	if (k == T_CHURN) {
		const char *c = g_getenv("SDFS_CHURN");
		if (!c) {
			g_test_skip("SDFS_CHURN not set");
			return FALSE;
		}
		*bin = g_strdup(c);
		*arg = g_strdup(tmp);
		return TRUE;
	}
	*bin = g_find_program_in_path(interp);
	if (!*bin) {
		g_autofree char *m =
			g_strdup_printf("%s not found in PATH", interp);
		g_test_skip(m);
		return FALSE;
	}
	if (!scripts) {
		g_test_skip("SDFS_EXACT_SCRIPTS not set");
		return FALSE;
	}
	*arg = g_build_filename(scripts,
				k == T_PYTHON ? "churn.py" : "churn.pl", NULL);
	return TRUE;
}

/* Clear, then one round of rsync (and, with base, of sdfs-apply -p onto
 * it: a failure fails the test); rsync's exit code. */
static int round_once(const Mount *m, pid_t pid, const char *rsync,
		      const char *snap, gboolean old, const char *base,
		      char **maps)
{
	g_autofree char *clear = mnt_path(m, pid, "clear");
	g_autofree char *last = mnt_path(m, pid, "last");
	g_autofree char *err = NULL;
	gint64 t0 = g_get_monotonic_time();
	int r = tl_write_text(clear, "1\n", 2);
	if (r < 0)
		g_error("clear %s: %s", clear, g_strerror(-r));
	gint64 t1 = g_get_monotonic_time();
	int code = tl_rsync_round(rsync, last, snap, old, &err);
	gint64 t2 = g_get_monotonic_time();
	if (base) {
		int pc = pack_apply(g_getenv("SDFS_APPLY"), last, base);
		if (pc != 0)
			exact_fail("sdfs-apply -p exited %d", pc);
		g_test_message("round: sdfs-apply -p %.3f s",
			       (g_get_monotonic_time() - t2) / 1e6);
	}
	g_autofree char *cp = g_build_filename(last, "changes", NULL);
	g_autofree char *changes = NULL;
	size_t len = 0;
	r = tl_read_text(cp, 65536, &changes, &len);
	g_test_message("round: clear %.3f s, rsync %.3f s, exit %d; "
		       "last/changes: %zu names",
		       (t1 - t0) / 1e6, (t2 - t1) / 1e6, code,
		       r < 0 ? 0 : len / 17);
	if (code != 0 && err && *err)
		g_test_message("rsync exit %d: %.600s", code, err);
	g_autofree char *mp = g_build_filename(last, "maps", NULL);
	g_free(*maps);
	*maps = NULL;
	g_autoptr(GError) e = NULL;
	if (!g_file_get_contents(mp, maps, NULL, &e))
		g_test_message("%s", e->message);
	return code;
}

/* last/maps of the stopped process against /proc/PID/maps. */
static void check_maps(pid_t pid, const char *last_maps)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/maps", (int)pid);
	g_autofree char *now = NULL;
	g_assert_true(g_file_get_contents(p, &now, NULL, NULL));
	if (!last_maps) {
		exact_fail("no last/maps to read the snapshot with");
		return;
	}
	if (!strcmp(now, last_maps))
		return;
	g_auto(GStrv) a = g_strsplit(last_maps, "\n", -1);
	g_auto(GStrv) b = g_strsplit(now, "\n", -1);
	guint i = 0;
	while (a[i] && b[i] && !strcmp(a[i], b[i]))
		i++;
	exact_fail("last/maps differs from /proc/%d/maps of the "
		   "stopped process at line %u: '%s' vs '%s'",
		   (int)pid, i + 1, a[i] ? a[i] : "(end)",
		   b[i] ? b[i] : "(end)");
}

static void in_child(void *ctx)
{
	(void)ctx;
	/* glibc's malloc_trim and arenas as a program gets them */
	g_unsetenv("MALLOC_ARENA_MAX");
}

static void test_exact(gconstpointer data)
{
	const Case *c = data;
	if (skip_unless_ready())
		return;
	g_autofree char *rsync = g_find_program_in_path("rsync");
	if (!rsync) {
		g_test_skip("rsync not found in PATH");
		return;
	}
	g_autofree char *tmp = g_dir_make_tmp("sdfs-exact-XXXXXX", NULL);
	g_assert_nonnull(tmp);
	tl_net_set_tmp(tmp);
	g_autofree char *bin = NULL, *arg = NULL;
	if (!target_argv(c->kind, tmp, &bin, &arg)) {
		rm_tree(tmp, 1);
		return;
	}
	g_autofree char *why = NULL;
	if (!tl_rsync_recipe_works(rsync, tmp, &why)) {
		exact_fail("this rsync cannot run the snapshot recipe (rsync "
			   "3.4.3 and Debian bookworm's 3.2.7-1+deb12u5/u6 "
			   "reject the entries of --delete-missing-args; "
			   "3.4.4 and later work): %s",
			   why);
		rm_tree(tmp, 1);
		tl_net_set_tmp(NULL);
		return;
	}
	g_autofree char *snap = g_build_filename(tmp, "snap", NULL);
	g_assert_no_errno(mkdir(snap, 0700));
	/* the same loop kept as one image by sdfs-apply -p */
	g_autofree char *bdir = NULL, *base = NULL;
	if (!c->old_recipe && g_getenv("SDFS_APPLY")) {
		bdir = pack_base_dir();
		if (bdir)
			base = g_build_filename(bdir, "base", NULL);
		else
			g_test_message("/dev/shm is not a tmpfs: no "
				       "sdfs-apply -p image");
	}

	Mount m;
	mount_start(&m, NULL);
	Workload *w = wl_spawn(bin, arg, &(WlOpts){.in_child = in_child});
	pid_t pid = w->pid;
	int rounds = env_int("SDFS_EXACT_ROUNDS", 8);
	int pause_ms = env_int("SDFS_EXACT_INTERVAL_MS", 200);
	g_autofree char *maps = NULL;
	GString *codes = g_string_new(NULL);
	int bad = 0, n24 = 0;

	for (int i = 0; i <= rounds; i++) {
		if (i > 0 && c->kind == T_CHURN)
			wl_do(w, "step %d", i);
		else if (i > 0)
			g_usleep((gulong)pause_ms * 1000);
		int code = round_once(&m, pid, rsync, snap, c->old_recipe, base,
				      &maps);
		g_string_append_printf(codes, "%s%d", i ? " " : "", code);
		bad += code != 0 && code != 24;
		n24 += code == 24;
	}
	g_assert_no_errno(kill(pid, SIGSTOP));
	wait_all_threads_state(pid, 'T');
	int last = round_once(&m, pid, rsync, snap, c->old_recipe, base, &maps);
	g_test_message("rsync exit codes: running %s; stopped %d", codes->str,
		       last);
	g_string_free(codes, TRUE);
	if (bad)
		exact_fail("%d of %d rounds on the running process "
			   "exited neither 0 nor 24",
			   bad, rounds + 1);
	if (last != 0)
		exact_fail("the round of the stopped process exited "
			   "%d, not 0",
			   last);
	g_autofree char *states = thread_states(pid);
	if (!all_threads_state(pid, 'T'))
		exact_fail("the last clear left the process running: "
			   "%s",
			   states);
	check_maps(pid, maps);

	TlSnapCheck r;
	int err = tl_snap_check(pid, snap, maps, &r);
	g_assert_cmpint(err, ==, 0);
	g_autofree char *sum = tl_snap_check_summary(&r);
	g_test_message("%s recipe: %s; rounds exiting 24: %d",
		       c->old_recipe ? "old" : "new", sum, n24);
	if (r.detail->len)
		g_test_message("%s", r.detail->str);
	if (!c->old_recipe && (r.stale || r.leftover || r.missing))
		exact_fail("snapshot not exact: %s%s", sum,
			   bad ? " (after rsync rounds that failed: "
				 "their writes were never copied)"
			       : "");
	if (c->old_recipe && (!r.stale || !r.leftover || r.missing))
		exact_fail("old recipe: expected stale and leftover "
			   "files and nothing missing: %s",
			   sum);
	if (!r.files || !r.own)
		exact_fail("nothing was compared: %s", sum);
	tl_snap_check_clear(&r);
	if (base) {
		pack_check(base, snap);
		rm_tree(bdir, 0);
	}

	g_autofree char *gdb = g_find_program_in_path("gdb");
	if (!c->old_recipe && gdb)
		gcore_check(pid, snap, tmp, gdb);
	else if (!c->old_recipe &&
		 !g_strcmp0(g_getenv("SDFS_EXACT_GCORE"), "require"))
		exact_fail("gdb not found in PATH (apt-get install "
			   "gdb)");
	else if (!c->old_recipe)
		g_test_message("gcore comparison skipped: no gdb in PATH");

	wl_kill(w);
	mount_stop(&m);
	rm_tree(tmp, 1);
	tl_net_set_tmp(NULL);
}

int main(int argc, char **argv)
{
	static const Case churn = {T_CHURN, FALSE}, py = {T_PYTHON, FALSE},
			  pl = {T_PERL, FALSE}, old = {T_CHURN, TRUE};
	tl_env_init(TRUE);
	g_test_init(&argc, &argv, NULL);
	g_test_add_data_func("/exact/churn", &churn, test_exact);
	g_test_add_data_func("/exact/python3", &py, test_exact);
	g_test_add_data_func("/exact/perl", &pl, test_exact);
	g_test_add_data_func("/exact/old-recipe", &old, test_exact);
	return g_test_run();
}
