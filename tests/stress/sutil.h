/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by sdfs_faulttest and sdfs_stress: mounts with resource limits,
 * daemon inspection (/proc), stress targets, a safety net that kills and
 * unmounts everything on exit, failure or signal, and non-asserting file
 * helpers that are safe from many threads.
 */
#pragma once

#include <glib.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "testlib.h"

#include "spattern.h"

extern size_t su_ps;
extern const char *su_bin; /* $SDFS_BIN */
extern const char *su_target_bin; /* $SDFS_STRESS_TARGET */
extern const char *su_backend; /* $SDFS_BACKEND, default "auto" */

/* Read the environment, install the safety net. Call first. */
void su_init(void);

/* ---- safety net: tl_track_pid(), tl_untrack_pid(), tl_net_cleanup()
 * of tests/lib/testlib.h ---- */

/* ---- backend probe ---- */
/* TRUE if the backend is usable per `sdfs --probe`; else *reason. */
gboolean su_backend_usable(const char *backend, char **reason);
/* "auto" resolved by --probe. */
const char *su_backend_effective(const char *backend);

/* ---- mounts ---- */
typedef struct {
	char mnt[PATH_MAX];
	char log[PATH_MAX + 8];
	pid_t daemon;
	int slot;
} SMount;

/* Start `sdfs -f -o backend=B MNT`, with RLIMIT_NOFILE nofile (0: leave)
 * set in the child before exec; wait for the mount. FALSE + message. */
gboolean sm_start(SMount *m, const char *backend, rlim_t nofile, char **err);
/* The same with more environment variables ("K=V", NULL-terminated). */
gboolean sm_start_env(SMount *m, const char *backend, rlim_t nofile,
		      const char *const *env_add, char **err);
/* Unmount (lazy), stop and reap the daemon. Returns its wait status, or
 * -1 if it had died before (then *died_status). */
int sm_stop(SMount *m, int *died_status);
/* SIGKILL the daemon and reap it (the mount stays: ENOTCONN). */
void sm_kill9(SMount *m);
/* Detach a dead mount: umount2(MNT_DETACH) or `fusermount3 -u -z`. */
int sm_detach(SMount *m, gboolean use_fusermount);
gboolean sm_daemon_alive(SMount *m);
/* sm_stop, and fail the test (with the daemon's log) if the daemon had
 * died or did not exit cleanly. */
void sm_stop_checked(SMount *m);
/* fstype of the top mount at path, or NULL. */
char *su_mount_fstype(const char *path);
char *sm_log(const SMount *m);
char *sm_path(const SMount *m, pid_t pid, const char *rel);

/* ---- a process, seen through /proc ---- */
int su_fd_count(pid_t pid); /* entries of /proc/PID/fd, -1 if gone */
long su_status_kb(pid_t pid, const char *key); /* "VmRSS" -> kB, -1 */
char su_state(pid_t pid); /* /proc/PID/stat state, 0 if gone */
/* Letters of every thread's state ("S S R"); NULL if gone. */
char *su_thread_states(pid_t pid);
/* Every thread: tid, comm, state, wchan, kernel stack. */
char *su_dump_threads(pid_t pid);
/* su_dump_threads of every descendant of root (rsync and its own
 * children, targets), with its command line. */
char *su_dump_descendants(pid_t root);
/* The pipes among pid's descriptors: " FD=[INODE]...". */
char *su_pipe_fds(pid_t pid);
/* pids of processes named `comm` (exact) whose parent is ppid (0: any) */
GArray *su_find_comm(const char *comm);

/* ---- stress targets (stress-target.c) ---- */
typedef struct {
	pid_t pid;
	int to, from;
	char buf[1024];
	size_t len;
	uint32_t tag;
	uint64_t addr;
	size_t npages;
} STarget;

STarget *tgt_start(uint32_t tag, size_t npages, int threads,
		   unsigned pause_us);
/* Send a command, return the reply line (g_free) or NULL (timeout 10 s,
 * EOF). */
char *tgt_cmd(STarget *t, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
char *tgt_read_line(STarget *t, int timeout_ms);
/* Parse "ready PID ADDR PAGES" into t. */
gboolean tgt_parse_ready(STarget *t, const char *line);
/* SIGKILL (if still running), reap; *status gets the wait status of the
 * target if it had exited on its own before. Frees t. */
void tgt_kill(STarget *t);
/* Reap without killing (after "exit"); frees t. Returns wait status. */
int tgt_wait(STarget *t);

/* ---- files (no asserts; -errno) ---- */
int su_read_text(const char *path, char **out, size_t *len);
int su_write_text(const char *path, const char *s);
/* pread one page at offset 0 into buf (su_ps bytes): 0, -errno, -EIO
 * for a short read */
int su_read_page(const char *path, void *buf);
int su_read_page_fd(int fd, void *buf);

/* ---- dirty_ranges ---- */
typedef TlRange SRange;

/* tl_ranges_parse with this system's page size. */
GArray *su_ranges_parse(const char *text, char **err);
/* Mappings of /proc/PID/maps as SRange (pages unused); NULL if gone. */
GArray *su_maps(pid_t pid);
/* Is [s,e) inside one mapping of maps? */
gboolean su_in_maps(GArray *maps, uint64_t s, uint64_t e);

/* Time in seconds since an arbitrary point. */
double su_now(void);
