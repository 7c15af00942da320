/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_sectest: access control and hostile input against real sdfs mounts.
 * Needs root (it switches to test uids by itself) and the uffd backend.
 * Environment: SDFS_BIN, SDFS_WORKLOAD, SDFS_SECTARGET (copied to a
 * directory under /tmp that the test users can execute from).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sectest.h"

const char *sec_target_bin;

static char *run_dir; /* mounts of the subprocesses live under it */

/* After a subprocess: whatever a failing test left behind (a failed
 * assertion in a GLib test subprocess is _exit(1): no atexit, no signal
 * handler runs) is unmounted and removed here. Only our run_dir. */
static void sweep(void)
{
	g_autofree char *t = NULL;
	if (g_file_get_contents("/proc/self/mountinfo", &t, NULL, NULL)) {
		g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
		g_autofree char *pfx = g_strconcat(run_dir, "/", NULL);
		for (char **l = lines; *l; l++) {
			g_auto(GStrv) f = g_strsplit(*l, " ", 6);
			if (g_strv_length(f) >= 5 &&
			    g_str_has_prefix(f[4], pfx)) {
				g_test_message("left mounted: %s", f[4]);
				umount2(f[4], MNT_DETACH);
			}
		}
	}
	GDir *d = g_dir_open(run_dir, 0, NULL);
	const char *n;
	while (d && (n = g_dir_read_name(d))) {
		g_autofree char *base = g_build_filename(run_dir, n, NULL);
		g_autofree char *mnt = g_build_filename(base, "mnt", NULL);
		g_autofree char *log = g_build_filename(base, "daemon.log", NULL);
		rmdir(mnt);
		unlink(log);
		rmdir(base);
	}
	if (d)
		g_dir_close(d);
}

static void run_isolated(gconstpointer data)
{
	void (*fn)(void) = (void (*)(void))data;
	if (g_test_subprocess()) {
		fn();
		return;
	}
	g_autofree char *conf = NULL;
	gsize conf_len = 0;
	gboolean had_conf =
		g_file_get_contents("/etc/fuse.conf", &conf, &conf_len, NULL);
	/* the subprocess's own messages go to its captured stdout; its
	 * failures to the inherited stderr */
	g_test_trap_subprocess(NULL, 240 * G_USEC_PER_SEC,
			       G_TEST_SUBPROCESS_INHERIT_STDERR);
	sweep();
	g_autofree char *now = NULL;
	gsize now_len = 0;
	gboolean has_conf =
		g_file_get_contents("/etc/fuse.conf", &now, &now_len, NULL);
	if (had_conf && (!has_conf || now_len != conf_len ||
			 memcmp(now, conf, conf_len))) {
		g_test_message("restoring /etc/fuse.conf");
		g_file_set_contents("/etc/fuse.conf", conf, (gssize)conf_len,
				    NULL);
		chmod("/etc/fuse.conf", 0644);
	}
	g_test_trap_assert_passed();
}

void sec_add(const char *path, void (*fn)(void))
{
	g_test_add_data_func(path, (gconstpointer)fn, run_isolated);
}

/* Copy program *path into dir (mode 0755) and point *path and the
 * environment variable var (read again by the test subprocesses) at the
 * copy. */
static gboolean stage_one(const char *dir, const char *var, const char **path,
			  char **why)
{
	g_autofree char *data = NULL;
	gsize len = 0;
	g_autoptr(GError) e = NULL;
	g_autofree char *base = g_path_get_basename(*path);
	char *copy = g_build_filename(dir, base, NULL);

	if (!g_file_get_contents(*path, &data, &len, &e) ||
	    !g_file_set_contents(copy, data, (gssize)len, &e)) {
		*why = g_strdup_printf("copy of %s: %s", *path, e->message);
		g_free(copy);
		return FALSE;
	}
	chmod(copy, 0755);
	g_setenv(var, copy, TRUE);
	*path = copy; /* lives as long as the program */
	return TRUE;
}

/* Can uid execute path? Asked in a child that becomes uid. */
static gboolean exec_ok_as(uid_t uid, const char *path)
{
	pid_t c = fork();
	if (c == 0)
		_exit(setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
		      setresuid(uid, uid, uid) < 0 || access(path, X_OK) < 0);
	int st = 0;
	return c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

/*
 * The programs run as the test users (sdfs, the workload, the target) are
 * copied to RUN_DIR/bin, 0755 under /tmp: the build tree may be where
 * those users cannot go (a checkout under a 0700 home directory). False,
 * with the reason, if they cannot execute even the copies.
 */
static gboolean stage_programs(char **why)
{
	g_autofree char *bin = g_build_filename(run_dir, "bin", NULL);
	if (mkdir(bin, 0755) < 0 || chmod(bin, 0755) < 0) {
		*why = g_strdup_printf("mkdir %s: %s", bin, g_strerror(errno));
		return FALSE;
	}
	if (!stage_one(bin, "SDFS_BIN", &tl_bin, why) ||
	    !stage_one(bin, "SDFS_WORKLOAD", &tl_workload_bin, why) ||
	    !stage_one(bin, "SDFS_SECTARGET", &sec_target_bin, why))
		return FALSE;
	if (!exec_ok_as(UID_X, tl_bin)) {
		*why = g_strdup_printf("uid %u cannot execute %s (a noexec "
				       "/tmp?)",
				       (unsigned)UID_X, tl_bin);
		return FALSE;
	}
	return TRUE;
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	tl_env_init(FALSE);
	sec_target_bin = g_getenv("SDFS_SECTARGET");

	const char *skip = NULL;
	g_autofree char *why = NULL;
	if (!tl_bin || !tl_workload_bin || !sec_target_bin)
		skip = "SDFS_BIN, SDFS_WORKLOAD and SDFS_SECTARGET must be set";
	else if (geteuid() != 0)
		skip = "needs root (switches to test uids itself)";
	else if (!tl_backend_usable("uffd", &why))
		skip = why;
	if (skip) {
		printf("1..0 # SKIP %s\n", skip);
		return 0;
	}
	if (!g_test_subprocess()) {
		g_test_set_nonfatal_assertions();
		run_dir = g_strdup("/tmp/sdfs-sec-run-XXXXXX");
		if (!g_mkdtemp(run_dir)) {
			printf("Bail out! mkdtemp: %s\n", g_strerror(errno));
			return 1;
		}
		chmod(run_dir, 0755);
		tl_net_set_tmp(run_dir);
		g_setenv("SDFS_SEC_RUNDIR", run_dir, TRUE);
		g_autofree char *no = NULL;
		if (!stage_programs(&no)) {
			printf("1..0 # SKIP %s\n", no);
			return 0;
		}
	}
	sec_register_access();
	sec_register_unpriv();
	sec_register_hostile();
	int r = g_test_run();
	if (run_dir)
		sweep(); /* run_dir itself goes with the safety net at exit */
	return r;
}
