/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pieces shared by the test programs that drive real mounts
 * (tests/integration, tests/stress, tests/security).
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* ---- the environment (tl_env_init) ---- */

extern size_t tl_ps;			 /* the page size */
extern const char *tl_bin;		 /* $SDFS_BIN, the daemon */
extern const char *tl_backend;		 /* $SDFS_BACKEND, default "auto" */
extern const char *tl_workload_bin;	 /* $SDFS_WORKLOAD, sdfs_workload */
extern const char *tl_stress_target_bin; /* $SDFS_STRESS_TARGET */

/*
 * Read the environment above and install the safety net (below). With
 * subreaper, orphans of what the test starts (children of targets that
 * fork, injectors of a killed daemon) become ours to reap. Call first.
 */
void tl_env_init(gboolean subreaper);

/* Seconds on the monotonic clock. */
double tl_now(void);

/* In a child before exec: become uid (and gid uid) with no supplementary
 * groups; 0 leaves the credentials alone. Exits 125 if it cannot. */
void tl_child_become(uid_t uid);

/*
 * Whether backend ("auto", "soft-dirty", "uffd") works on this kernel,
 * as `$SDFS_BIN --probe` reports it (run once per process, thread-safe).
 * On FALSE, *reason (to g_free) says why, for a SKIP message.
 */
gboolean tl_backend_usable(const char *backend, char **reason);
/* The backend "auto" resolves to ("none" if none); others unchanged. */
const char *tl_backend_effective(const char *backend);

/* The fstype of the topmost mount on mnt in our mountinfo, or NULL. */
char *tl_mount_fstype(const char *mnt);

/* One line of dirty_ranges (sdfs(5), dirty_ranges). */
typedef struct {
	guint64 start, end, pages;
	char perms[5];
	char path[512]; /* "" for an unnamed anonymous mapping */
} TlRange;

/*
 * Parse a whole dirty_ranges text and check its form: every line
 * "START-END PAGES PERMS[ PATH]", page-aligned, PAGES = (END - START) /
 * page_size, ascending without overlap, the text ending with a newline.
 * An array of TlRange, or NULL and *err (to g_free) naming the line.
 */
GArray *tl_ranges_parse(const char *text, size_t page_size, char **err);

/* The whole content of path, read chunk bytes per read(2): 0 and *out
 * (to g_free; *lenp its length, if given), or -errno. */
int tl_read_text(const char *path, size_t chunk, char **out, size_t *lenp);
/* One write(2) of s (len bytes) to path, opened O_TRUNC: 0, -errno, or
 * -EIO for a short write. A failing close(2) counts. */
int tl_write_text(const char *path, const char *s, size_t len);
/* Write cmd and a newline to fd, all of it (EINTR retried): 0 or -errno
 * (-EPIPE for a closed pipe). */
int tl_write_line(int fd, const char *cmd);

/* Open file descriptors of pid, or -1. */
int tl_fd_count(pid_t pid);

/* Whether the n bytes at p are all zero. */
gboolean tl_all_zero(const void *p, size_t n);

/*
 * The safety net: whatever a test leaves behind when it ends -- even by
 * a crash, an assertion or a signal -- is cleaned up: tracked processes
 * are killed, registered mounts detached (their daemon logs shown when
 * it ends by a signal), the scratch directory removed. Install it once,
 * early in main(). Thread-safe; the cleanup is async-signal-safe.
 */
void tl_net_install(void);
void tl_track_pid(pid_t pid);
void tl_untrack_pid(pid_t pid);
/* Register a mount, its daemon's log file and the directory holding both
 * (removed after them); returns a slot, or -1 if all are taken.
 * tl_net_drop_mount(slot) when it is unmounted. */
int tl_net_add_mount(const char *mnt, const char *log, const char *dir);
void tl_net_drop_mount(int slot);
/* The scratch directory to remove (NULL: none). */
void tl_net_set_tmp(const char *dir);
/* Kill, detach and remove now; dump: show the daemon logs. */
void tl_net_cleanup(int dump);
