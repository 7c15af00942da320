/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_stress: the churning target. sdfs_churn (tests/exact) steps by
 * itself -- allocating and freeing, mapping and unmapping, madvise,
 * mremap, brk -- while a thread of the stress run takes snapshot rounds
 * of it with rsync (every round exits 0 or 24). At the end it is stopped,
 * a last round must exit 0, and the snapshot is checked byte for byte
 * against /proc/PID/mem (tests/lib/snapcheck.h): no stale, leftover or
 * missing page.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snapcheck.h"
#include "stress-churn.h"

static struct {
	const Mount *m;
	char *rsync, *tmp, *snap, *maps;
	pid_t pid;
	Workload *w;
	pthread_t th;
	_Atomic int stop;
	_Atomic uint64_t rounds, n24, errors;
	/* the watchdog's view (stress.c): what it does since when */
	_Atomic int64_t since_us; /* 0: idle */
	char what[128];
} sc;

static void sc_step(const char *what)
{
	g_strlcpy(sc.what, what, sizeof(sc.what));
	atomic_store(&sc.since_us, g_get_monotonic_time());
}

static void sc_idle(void)
{
	atomic_store(&sc.since_us, 0);
}

pid_t sc_stuck(double limit_s, char *what, size_t n)
{
	int64_t since = atomic_load(&sc.since_us);
	if (!since || g_get_monotonic_time() - since < (int64_t)(limit_s * 1e6))
		return 0;
	g_strlcpy(what, sc.what, n);
	return sc.pid;
}

/* What became of the target, for an error that looks like it is gone. */
static const char *sc_fate(char *buf, size_t n)
{
	int ws = 0;
	pid_t r = waitpid(sc.pid, &ws, WNOHANG);
	if (r == sc.pid) {
		/* reaped here: not to be killed or waited for again */
		sc.w->pid = 0;
		tl_untrack_pid(sc.pid);
		snprintf(buf, n, "sdfs_churn %d %s %d", (int)sc.pid,
			 WIFSIGNALED(ws) ? "died of signal" : "exited",
			 WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
	} else {
		snprintf(buf, n, "sdfs_churn %d alive, state %c", (int)sc.pid,
			 proc_state(sc.pid));
	}
	return buf;
}

static void sc_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void sc_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (atomic_fetch_add(&sc.errors, 1) < 20)
		g_printerr("stress: ERROR: churn: %s\n", s);
}

/* Clear, one rsync round, keep last/maps; rsync's exit code. */
static int sc_round(void)
{
	g_autofree char *clear = mnt_path(sc.m, sc.pid, "clear");
	g_autofree char *last = mnt_path(sc.m, sc.pid, "last");
	g_autofree char *mp = mnt_path(sc.m, sc.pid, "last/maps");
	g_autofree char *err = NULL;
	char fate[96];
	sc_step("clear");
	int r = tl_write_text(clear, "1\n", 2);
	if (r < 0) {
		sc_idle();
		sc_error("clear %s: %s (%s)", clear, g_strerror(-r),
			 sc_fate(fate, sizeof(fate)));
		return -1;
	}
	sc_step("rsync round");
	int code = tl_rsync_round(sc.rsync, last, sc.snap, FALSE, &err);
	if (code != 0 && code != 24)
		sc_error("rsync exit %d: %.400s", code, err ? err : "");
	g_free(sc.maps);
	sc.maps = NULL;
	sc_step("read last/maps");
	r = tl_read_text(mp, 16384, &sc.maps, NULL);
	sc_idle();
	if (r < 0)
		sc_error("%s: %s (%s)", mp, g_strerror(-r),
			 sc_fate(fate, sizeof(fate)));
	atomic_fetch_add(&sc.rounds, 1);
	atomic_fetch_add(&sc.n24, code == 24);
	return code;
}

static void *sc_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&sc.stop)) {
		sc_round();
		g_usleep(50000);
	}
	return NULL;
}

/* In the child: sdfs_churn steps by itself (no commands) */
static void churn_env(void *ctx)
{
	(void)ctx;
	setenv("SDFS_CHURN_AUTO_MS", "20", 1);
	setenv("SDFS_CHURN_PAGES", "128", 1);
}

gboolean sc_start(const Mount *m)
{
	const char *churn = g_getenv("SDFS_CHURN");
	sc.rsync = g_find_program_in_path("rsync");
	if (!churn || !sc.rsync) {
		printf("# churning target skipped: %s\n",
		       churn ? "rsync not found in PATH"
			     : "SDFS_CHURN not set");
		return FALSE;
	}
	sc.m = m;
	sc.tmp = g_dir_make_tmp("sdfs-stress-churn-XXXXXX", NULL);
	if (!sc.tmp) {
		sc_error("mkdtemp: %s", g_strerror(errno));
		return FALSE;
	}
	sc.snap = g_build_filename(sc.tmp, "snap", NULL);
	if (mkdir(sc.snap, 0700) < 0) {
		sc_error("mkdir %s: %s", sc.snap, g_strerror(errno));
		return FALSE;
	}
	const char *argv[] = {churn, sc.tmp, NULL};
	WlOpts o = {.in_child = churn_env};
	g_autofree char *err = NULL;
	sc.w = wl_spawn_argv(argv, &o, &err);
	if (!sc.w) {
		sc_error("%s", err);
		return FALSE;
	}
	sc.pid = sc.w->pid;
	pthread_create(&sc.th, NULL, sc_main, NULL);
	return TRUE;
}

/* Wait (bounded) until every thread of pid is stopped. */
static gboolean all_stopped(pid_t pid)
{
	for (int i = 0; i < 2000; i++) {
		g_autofree char *st = thread_states(pid);
		if (st && !strchr(st, 'R') && !strchr(st, 'S') &&
		    !strchr(st, 'D'))
			return TRUE;
		g_usleep(5000);
	}
	return FALSE;
}

uint64_t sc_finish(void)
{
	if (!sc.pid)
		return atomic_load(&sc.errors);
	atomic_store(&sc.stop, 1);
	pthread_join(sc.th, NULL);
	sc_step("stopping the target");
	if (kill(sc.pid, SIGSTOP) < 0 || !all_stopped(sc.pid)) {
		sc_error("sdfs_churn %d did not stop (died?)", (int)sc.pid);
	} else {
		int code = sc_round();
		sc_step("checking the snapshot");
		if (code != 0)
			sc_error("the round of the stopped target exited %d",
				 code);
		TlSnapCheck r;
		int err = tl_snap_check(sc.pid, sc.snap, sc.maps, &r);
		g_autofree char *sum = tl_snap_check_summary(&r);
		printf("# churning target: %" G_GUINT64_FORMAT
		       " rounds (%" G_GUINT64_FORMAT " exited 24); %s\n",
		       atomic_load(&sc.rounds), atomic_load(&sc.n24), sum);
		if (err < 0)
			sc_error("check: %s", g_strerror(-err));
		else if (r.stale || r.leftover || r.missing || !r.files)
			sc_error("snapshot not exact: %s\n%s", sum,
				 r.detail->str);
		tl_snap_check_clear(&r);
	}
	sc_step("ending the target");
	wl_kill(sc.w);
	sc.w = NULL;
	sc_idle();
	g_autoptr(GDir) d = g_dir_open(sc.snap, 0, NULL);
	const char *n;
	while (d && (n = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(sc.snap, n, NULL);
		unlink(p);
	}
	rmdir(sc.snap);
	g_autofree char *f = g_build_filename(sc.tmp, "churn-file", NULL);
	unlink(f);
	rmdir(sc.tmp);
	g_free(sc.maps);
	g_free(sc.snap);
	g_free(sc.tmp);
	g_free(sc.rsync);
	return atomic_load(&sc.errors);
}
