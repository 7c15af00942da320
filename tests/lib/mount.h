/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The mount harness of the real-mount tests: start `$SDFS_BIN -f -o
 * backend=B[,OPTS] MNT` in a fresh directory (as root or a test uid, in
 * our pid namespace or as pid 1 of a new one, with resource limits or
 * more environment), wait until it is mounted, name its files, read its
 * log, and stop it -- checked: the test fails if the daemon died during
 * it or exited badly. Every mount is registered with the safety net of
 * testlib.h.
 *
 * Two variables of the environment apply to every mount started here:
 * SDFS_MOUNT_OPTS (more -o options, e.g. nofreeze) and
 * SDFS_DAEMON_WRAPPER (a command line to run the daemon under, e.g.
 * valgrind; its non-zero exit fails the test that mounted).
 */
#pragma once

#include <glib.h>
#include <sys/resource.h>
#include <sys/types.h>

typedef struct {
	char *mnt;     /* the mount point, DIR/mnt (a real path) */
	char *log;     /* the daemon's stdout and stderr, DIR/daemon.log */
	char *dir;     /* the directory made for both */
	char *backend; /* the backend= option given */
	pid_t daemon;  /* the daemon, as our pid namespace sees it */
	pid_t helper;  /* pidns: our child that waits for it, else 0 */
	uid_t uid;     /* who runs the daemon */
	int slot;      /* safety net */
	int died;      /* wait status, when mount_alive saw it die */
	gboolean dead; /* mount_alive saw it die */
} Mount;

typedef struct {
	const char *backend;	/* NULL: tl_backend */
	const char *opts;	/* more -o options, "a,b" (NULL: none) */
	uid_t uid;		/* run the daemon as uid (0: as we are); the
				 * mount point is made its own */
	gboolean pidns;		/* the daemon is pid 1 of a new pid namespace */
	rlim_t nofile;		/* the daemon's RLIMIT_NOFILE (0: ours) */
	const char *const *env; /* more environment, "K=V", NULL-ended */
	const char *parent;	/* where DIR is made (NULL: the tmp dir) */
} MountOpts;

/* Start the daemon as o says (NULL: all defaults) and wait (30 s at
 * most) for the mount: 0, or -errno and *err (to g_free) with the log. */
int mount_try(Mount *m, const MountOpts *o, char **err);
/* mount_try, and g_error on failure. */
void mount_start(Mount *m, const MountOpts *o);

/*
 * Unmount, stop and reap the daemon, remove DIR (nothing happens on a
 * Mount already stopped). Returns the daemon's wait status (with pidns:
 * its helper's, which exits as the daemon did), 0 if it was gone already
 * (mount_kill9), or -1 if it had died before the stop: then *died (if
 * given) gets that status. *signalled (if given): it needed SIGTERM or
 * SIGKILL to exit after the unmount.
 */
int mount_stop_status(Mount *m, int *died, gboolean *signalled);
/* mount_stop_status, and fail the test (showing the log on stderr) if
 * the daemon had died or did not exit with status 0; the log is shown
 * too when the test has failed already. */
void mount_stop(Mount *m);

/* Is the daemon still running? (Reaps and remembers it if not.) */
gboolean mount_alive(Mount *m);
/* SIGKILL the daemon and reap it; the mount stays (ENOTCONN). */
void mount_kill9(Mount *m);
/* Detach a dead mount: umount2(MNT_DETACH), or `fusermount3 -u -z`:
 * 0, -errno of umount2, or fusermount3's non-zero exit code. */
int mount_detach(Mount *m, gboolean fusermount);
/* List the root (which makes the daemon drop the trackers of processes
 * gone): the number of entries, or -errno. */
int mount_list_root(const Mount *m);
/* The daemon's log so far (to g_free), or NULL. */
char *mount_log(const Mount *m);
/* The log on stderr, if there is one. */
void mount_dump_log(const Mount *m);

/* MNT/PID, or MNT/PID/rel. */
char *mnt_path(const Mount *m, pid_t pid, const char *rel);
/* Page file name: 16 hex digits. */
char *page_name(guint64 addr);
/* MNT/PID/DIR/ADDR of the page at addr (DIR: pages, last/pages). */
char *page_path(const Mount *m, pid_t pid, const char *dir, guint64 addr);
