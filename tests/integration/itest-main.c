/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_itest: integration tests on real sdfs mounts with real workloads.
 * This file: environment, backend probe, mounting, fixtures, safety net.
 *
 * Environment: SDFS_BIN (the daemon), SDFS_WORKLOAD (sdfs_workload),
 * SDFS_BACKEND (auto|soft-dirty|uffd, default auto), SDFS_CROSSCHECK=1
 * (adds /crosscheck/backends), SDFS_ITEST_OPTS (more -o options for the
 * daemon, e.g. nofreeze to see /race/writers fail), SDFS_ITEST_ROUNDS and
 * SDFS_ITEST_RSYNC_ROUNDS (rounds of the race and rsync tests).
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

size_t itest_ps;
const char *itest_bin;
const char *itest_workload_bin;
const char *itest_backend;

/* ---- probe ---- */

gboolean itest_backend_usable(const char *backend, char **reason)
{
	return tl_backend_usable(itest_bin, backend, reason);
}

const char *itest_backend_effective(const char *backend)
{
	return tl_backend_effective(itest_bin, backend);
}

/* ---- mounts ---- */

char *mount_fstype(const char *mnt)
{
	return tl_mount_fstype(mnt);
}

void mount_dump_log(const Mount *m)
{
	g_autofree char *log = NULL;
	if (m->log && g_file_get_contents(m->log, &log, NULL, NULL) && *log)
		g_test_message("sdfs daemon log (%s):\n%s", m->log, log);
}

void mount_start(Mount *m, const char *backend)
{
	g_autofree char *dir = g_dir_make_tmp("sdfs-mnt-XXXXXX", NULL);
	const char *extra = g_getenv("SDFS_ITEST_OPTS"); /* e.g. nofreeze */
	g_autofree char *opt =
		g_strdup_printf("backend=%s%s%s", backend,
				extra && *extra ? "," : "", extra ? extra : "");
	char real[PATH_MAX];
	int slot = -1;

	g_assert_nonnull(dir);
	g_assert_nonnull(realpath(dir, real));
	memset(m, 0, sizeof(*m));
	m->mnt = g_strdup(real);
	m->backend = g_strdup(backend);
	m->log = g_strdup_printf("%s.log", real);
	slot = tl_net_add_mount(m->mnt, m->log);
	g_assert_cmpint(slot, >=, 0);
	m->slot = slot;

	int logfd =
		open(m->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	g_assert_cmpint(logfd, >=, 0);
	pid_t parent = getpid();
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		int null = open("/dev/null", O_RDWR);
		dup2(null, STDIN_FILENO);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		/* SDFS_DAEMON_WRAPPER: a command line to run the daemon
		 * under, e.g. valgrind (scripts/test-all.sh) */
		const char *wrap = g_getenv("SDFS_DAEMON_WRAPPER");
		g_auto(GStrv) wargv = NULL;
		if (wrap && *wrap && g_shell_parse_argv(wrap, NULL, &wargv, NULL)) {
			GPtrArray *a = g_ptr_array_new();
			for (char **w = wargv; *w; w++)
				g_ptr_array_add(a, *w);
			const char *tail[] = {itest_bin, "-f", "-o", opt, m->mnt};
			for (size_t i = 0; i < G_N_ELEMENTS(tail); i++)
				g_ptr_array_add(a, (char *)tail[i]);
			g_ptr_array_add(a, NULL);
			execvp(a->pdata[0], (char **)a->pdata);
		} else {
			execl(itest_bin, itest_bin, "-f", "-o", opt, m->mnt,
			      (char *)NULL);
		}
		dprintf(STDERR_FILENO, "exec %s: %s\n", itest_bin,
			strerror(errno));
		_exit(127);
	}
	close(logfd);
	m->daemon = pid;
	tl_track_pid(pid);

	/* Wait (bounded) until the mount is live. */
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	for (;;) {
		g_autofree char *fstype = mount_fstype(m->mnt);
		if (fstype && g_str_has_prefix(fstype, "fuse"))
			break;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			tl_untrack_pid(pid);
			m->daemon = 0;
			mount_dump_log(m);
			g_error("sdfs exited before mounting (status 0x%x)",
				status);
		}
		if (g_get_monotonic_time() > deadline) {
			mount_dump_log(m);
			g_error("sdfs did not mount %s within 30 s", m->mnt);
		}
		g_usleep(2000);
	}
}

static gboolean wait_exit(pid_t pid, int *status, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return TRUE;
		g_usleep(1000);
	}
	return FALSE;
}

void mount_stop(Mount *m)
{
	int status = 0;
	gboolean died = FALSE;

	if (!m->mnt)
		return;
	if (m->daemon && waitpid(m->daemon, &status, WNOHANG) == m->daemon) {
		died = TRUE;
		tl_untrack_pid(m->daemon);
		m->daemon = 0;
	}
	if (umount2(m->mnt, MNT_DETACH) < 0 && errno != EINVAL) {
		const char *argv[] = {"fusermount3", "-u", "-z", m->mnt, NULL};
		g_spawn_sync(NULL, (char **)argv, NULL,
			     G_SPAWN_SEARCH_PATH | G_SPAWN_CLOEXEC_PIPES, NULL,
			     NULL, NULL, NULL, NULL, NULL);
	}
	const char *wrap = g_getenv("SDFS_DAEMON_WRAPPER");
	gboolean wrapped = wrap && *wrap;
	if (m->daemon) {
		/* under valgrind the exit (leak check) takes a while */
		if (!wait_exit(m->daemon, &status, wrapped ? 60000 : 3000)) {
			kill(m->daemon, SIGTERM);
			if (!wait_exit(m->daemon, &status, 3000)) {
				kill(m->daemon, SIGKILL);
				waitpid(m->daemon, &status, 0);
			}
		}
		tl_untrack_pid(m->daemon);
		m->daemon = 0;
	}
	if (died) {
		mount_dump_log(m);
		g_test_fail_printf("sdfs daemon died during the test (%s %d)",
				   WIFSIGNALED(status) ? "signal" : "exit",
				   WIFSIGNALED(status) ? WTERMSIG(status)
						       : WEXITSTATUS(status));
	} else if (wrapped && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		/* valgrind --error-exitcode: memory errors or leaks */
		mount_dump_log(m);
		g_test_fail_printf("sdfs under '%s' exited with status %d",
				   wrap, WEXITSTATUS(status));
	} else if (g_test_failed()) {
		mount_dump_log(m);
	}
	rmdir(m->mnt);
	unlink(m->log);
	tl_net_drop_mount(m->slot);
	g_clear_pointer(&m->mnt, g_free);
	g_clear_pointer(&m->log, g_free);
	g_clear_pointer(&m->backend, g_free);
}

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
	if (!itest_bin || !itest_workload_bin) {
		g_test_skip("SDFS_BIN and SDFS_WORKLOAD must be set");
		return;
	}
	if (def->mount) {
		if (!itest_backend_usable(itest_backend, &reason)) {
			g_test_skip(reason);
			return;
		}
		mount_start(&fx->m, itest_backend);
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
	itest_ps = (size_t)sysconf(_SC_PAGESIZE);
	itest_bin = g_getenv("SDFS_BIN");
	itest_workload_bin = g_getenv("SDFS_WORKLOAD");
	itest_backend = g_getenv("SDFS_BACKEND");
	if (!itest_backend || !*itest_backend)
		itest_backend = "auto";
	tl_net_install();
	/* Orphans of our workloads (fork children) become ours to reap. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	itest_register_tree();
	itest_register_clear();
	itest_register_pages();
	itest_register_life();
	itest_register_race();
	itest_register_snapshot();
	itest_register_last();
	itest_register_image();
	return g_test_run();
}
