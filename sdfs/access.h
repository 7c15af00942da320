/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run a request with the caller's credentials (sdfs(8) SECURITY). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct sdfs_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const gid_t *groups; /* supplementary groups */
	int ngroups; /* < 0: unknown, keep none */
};

struct sdfs_cred_saved {
	bool switched;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
};

enum sdfs_access_mode {
	SDFS_ACCESS_READ, /* PTRACE_MODE_READ: dirty_ranges, status, listings */
	SDFS_ACCESS_ATTACH, /* PTRACE_MODE_ATTACH: pages/, clear */
};

/*
 * Switch the calling thread (only it) to the caller's credentials. When
 * the daemon is not root, only requests from its own uid are allowed
 * (-EACCES otherwise) and nothing is switched. Requests with pid 0 (from
 * outside our pid namespace) are refused with -EACCES.
 */
int sdfs_cred_enter(const struct sdfs_caller *c, struct sdfs_cred_saved *s);

/* The first half of sdfs_cred_enter, for requests that touch no process:
 * 0 if this caller may use the mount at all, else -EACCES. */
int sdfs_caller_allowed(const struct sdfs_caller *c);
void sdfs_cred_leave(struct sdfs_cred_saved *s);

/* With the thread's current credentials, may it access pid in mode?
 * 0, -EACCES, or -ENOENT/-ESRCH if the process is gone. */
int sdfs_access_check(pid_t pid, enum sdfs_access_mode mode);
