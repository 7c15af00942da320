/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared declarations of the sdfs security suite (sdfs_sectest). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "harness.h" /* Mount, Workload, read_text, rline, ...: tests/lib */

/* Unprivileged test identities (gid = uid); no /etc/passwd entries. */
#define UID_X 61001
#define UID_Y 61002

extern const char *sec_target_bin; /* $SDFS_SECTARGET */

/* ---- mounts (the suite's own choices for tests/lib's mount.h) ---- */

/*
 * mount_start with backend=uffd[,OPTS] as uid (0: root), the mount point
 * owned by uid under $SDFS_SEC_RUNDIR; with pidns, the daemon runs as pid
 * 1 of a new pid namespace.
 */
void sec_mount_start(Mount *m, uid_t uid, const char *opts, gboolean pidns);
/* Assert the daemon is alive and the mount serves (stat of the root from a
 * caller the mount lets in); then mount_stop. */
void sec_mount_stop(Mount *m);
/* The daemon is alive and a caller (uid) may stat the root. */
void sec_assert_serving(Mount *m, uid_t as_uid);

/* Targets run as a test uid: wl_spawn(bin, arg, &(WlOpts){.uid = uid}). */

/* ---- agents: forked processes that act as uid on request ---- */

typedef struct {
	pid_t pid; /* the agent (for pidns: the process inside the ns) */
	pid_t helper; /* pidns: the intermediate process, else 0 */
	int to, from;
	uid_t uid;
} Agent;

/* uid 0: root. pidns: the agent lives in a new pid namespace (it is its
 * pid 1), so it reaches the daemon through a nested namespace. */
Agent *agent_start(uid_t uid, gboolean pidns);
/* ns: NULL (ours), "new" (a new pid namespace) or the path of a pid
 * namespace to join (/proc/PID/ns/pid). */
Agent *agent_start_ns(uid_t uid, const char *ns);
void agent_stop(Agent *a);

/* 0 or -errno of stat(2). */
int ag_stat(Agent *a, const char *path);
/* open O_RDONLY + read to EOF: 0 (and *out) or -errno of the failing call. */
int ag_cat(Agent *a, const char *path, GByteArray **out);
/* Entries of a directory except . and ..: 0 or -errno. */
int ag_list(Agent *a, const char *path, GPtrArray **out);
/* open(flags) + write(data) + close: 0 or -errno of the failing call. */
int ag_write(Agent *a, const char *path, int flags, const void *data,
	     size_t len);
/* open: fd (in the agent) or -errno. */
int ag_open(Agent *a, const char *path, int flags);
/* pread: bytes read or -errno; data into buf (size len). */
ssize_t ag_pread(Agent *a, int fd, off_t off, void *buf, size_t len);
/* pwrite: bytes written or -errno. */
ssize_t ag_pwrite(Agent *a, int fd, off_t off, const void *data, size_t len);
int ag_close(Agent *a, int fd);

/* ---- small helpers ---- */

/* TRUE if names (a GPtrArray of char*) holds the decimal pid. */
gboolean names_have_pid(GPtrArray *names, pid_t pid);
/* Value of key in status text ("epoch"), g_free; NULL if absent. */
char *status_value(const char *text, const char *key);

/* The owner's full round on its own process w (sectest-access.c). */
void sec_own_process_checks(Agent *a, const Mount *m, Workload *w);
/* The epoch as read by agent a. */
guint64 sec_epoch_as(Agent *a, const Mount *m, pid_t pid);

/* Register a test that runs in its own subprocess (a failure there does
 * not stop the other tests; the parent reports it). */
void sec_add(const char *path, void (*fn)(void));

void sec_register_access(void);
void sec_register_unpriv(void);
void sec_register_hostile(void);
