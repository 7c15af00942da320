/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_itest: integration tests on real sdfs mounts with real workloads.
 * This file: the fixture (a mount, targets, a scratch directory) and main.
 * Mounts, targets and the helpers are tests/lib's (harness.h).
 *
 * Environment: SDFS_BIN (the daemon), SDFS_WORKLOAD (sdfs_workload),
 * SDFS_BACKEND (auto|soft-dirty|uffd, default auto), SDFS_CROSSCHECK=1
 * (adds /crosscheck/backends), SDFS_MOUNT_OPTS (more -o options for the
 * daemon, e.g. nofreeze to see /race/writers fail), SDFS_DAEMON_WRAPPER
 * (tests/lib/mount.h), SDFS_ITEST_ROUNDS and SDFS_ITEST_RSYNC_ROUNDS
 * (rounds of the race and rsync tests).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "testlib.h"

/* ---- fixture ---- */

typedef struct {
	FxFunc fn;
	gboolean mount;
} TestDef;

Workload *fx_workload(Fx *fx)
{
	Workload *w = wl_start();
	g_ptr_array_add(fx->workloads, w);
	return w;
}

void fx_kill_later(Fx *fx, pid_t pid)
{
	g_array_append_val(fx->pids, pid);
	tl_track_pid(pid);
}

static void fx_setup(Fx *fx, gconstpointer data)
{
	const TestDef *def = data;
	g_autofree char *reason = NULL;

	memset(fx, 0, sizeof(*fx));
	fx->workloads = g_ptr_array_new();
	fx->pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	if (!tl_bin || !tl_workload_bin) {
		g_test_skip("SDFS_BIN and SDFS_WORKLOAD must be set");
		return;
	}
	if (def->mount) {
		if (!tl_backend_usable(tl_backend, &reason)) {
			g_test_skip(reason);
			return;
		}
		mount_start(&fx->m, NULL);
	}
	fx->t0 = g_get_monotonic_time();
	fx->tmp = g_dir_make_tmp("sdfs-itest-XXXXXX", NULL);
	g_assert_nonnull(fx->tmp);
	tl_net_set_tmp(fx->tmp);
	fx->ok = TRUE;
}

static void rm_rf(const char *path)
{
	g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
	const char *n;
	while (d && (n = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(path, n, NULL);
		if (unlink(p) < 0 && errno == EISDIR)
			rm_rf(p);
		else if (g_file_test(p, G_FILE_TEST_IS_DIR))
			rm_rf(p);
	}
	rmdir(path);
}

static void fx_teardown(Fx *fx, gconstpointer data)
{
	(void)data;
	if (fx->ok)
		g_test_message("%.2f s",
			       (g_get_monotonic_time() - fx->t0) / 1e6);
	for (guint i = 0; i < fx->workloads->len; i++)
		wl_kill(fx->workloads->pdata[i]);
	for (guint i = 0; i < fx->pids->len; i++) {
		pid_t pid = g_array_index(fx->pids, pid_t, i);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0); /* ours, or an orphan we adopted */
		tl_untrack_pid(pid);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0) /* adopted orphans */
		;
	mount_stop(&fx->m);
	if (fx->tmp) {
		tl_net_set_tmp(NULL);
		rm_rf(fx->tmp);
		g_free(fx->tmp);
	}
	g_ptr_array_free(fx->workloads, TRUE);
	g_array_free(fx->pids, TRUE);
}

static void add_test(const char *path, FxFunc fn, gboolean mount)
{
	TestDef *def = g_new0(TestDef, 1); /* lives as long as the suite */
	def->fn = fn;
	def->mount = mount;
	g_test_add(path, Fx, def, fx_setup, (void (*)(Fx *, gconstpointer))fn,
		   fx_teardown);
}

void itest_add(const char *path, FxFunc fn)
{
	add_test(path, fn, TRUE);
}

void itest_add_nomount(const char *path, FxFunc fn)
{
	add_test(path, fn, FALSE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* orphans of our workloads (fork children) become ours to reap */
	tl_env_init(TRUE);

	itest_register_tree();
	itest_register_clear();
	itest_register_pages();
	itest_register_life();
	itest_register_race();
	itest_register_snapshot();
	itest_register_last();
	itest_register_image();
	itest_register_pack();
	return g_test_run();
}
